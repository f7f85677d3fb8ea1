#!/usr/bin/env python3
"""Print the SPKI pin of a certificate, for Chromium's --ignore-certificate-errors-spki-list.

Usage: spki.py CERTFILE      (PEM; the first certificate in the file is the one pinned)

The pin is base64(SHA-256(DER of the SubjectPublicKeyInfo)): it names the server's public key,
not the certificate, so it survives re-signing the same key. The same value by hand:
  openssl x509 -in CERT -pubkey -noout | openssl pkey -pubin -outform der \
    | openssl dgst -sha256 -binary | base64
"""

import base64
import hashlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization

if len(sys.argv) != 2:
    print("usage: spki.py CERTFILE", file=sys.stderr)
    sys.exit(2)
try:
    with open(sys.argv[1], "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
except (OSError, ValueError) as e:
    print(f"error: cannot read a PEM certificate from {sys.argv[1]}: {e}", file=sys.stderr)
    sys.exit(1)
spki = cert.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
print(base64.b64encode(hashlib.sha256(spki).digest()).decode())
