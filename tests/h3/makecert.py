#!/usr/bin/env python3
"""Make a throw-away local CA and a server certificate for the HTTP/3 peers.

Usage: makecert.py DIR

Writes DIR/ca.pem (the CA a client trusts: client.py --cacert, gtlsclient --cacert),
DIR/cert.pem and DIR/key.pem (the server's leaf, for localhost and 127.0.0.1 and ::1).
ECDSA P-256 keys, valid for 30 days: short-lived certificates are all a test needs, and
Chromium refuses leaves valid for more than 398 days.
"""

import datetime
import ipaddress
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def build(subject, issuer, public_key, signing_key, is_ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate clock skew
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if is_ca:
        # keyCertSign and cRLSign only.
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        b = b.add_extension(usage, critical=True)
    else:
        # A leaf needs its names in subjectAltName: nobody reads the CN any more.
        sans = [x509.DNSName("localhost")]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
        b = b.add_extension(eku, critical=False)
    return b.sign(signing_key, hashes.SHA256())


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def main():
    if len(sys.argv) != 2:
        print("usage: makecert.py DIR", file=sys.stderr)
        sys.exit(2)
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build(name("netlab test CA"), name("netlab test CA"), ca_key.public_key(), ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = build(name("localhost"), ca.subject, key.public_key(), ca_key, False)
    (out / "ca.pem").write_bytes(pem(ca))
    (out / "cert.pem").write_bytes(pem(leaf))
    (out / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


if __name__ == "__main__":
    main()
