#!/usr/bin/env python3
"""Decrypt a WebRTC data channel in a capture and give its SCTP packets a file of their own.

Usage: dtls-sctp.py CAPTURE KEYLOG OUT.pcap

tshark decrypts DTLS with the key log netlab writes (SSLKEYLOGFILE: one CLIENT_RANDOM line
per DTLS connection), but Debian 12's tshark (4.0) has no way to hand DTLS application data
on to its SCTP dissector (its "Decode As" table for DTLS offers only a few protocols). So this
script takes the decrypted records — each one is one SCTP packet (RFC 8261) — and writes them
into OUT.pcap behind a made-up IPv4 header with protocol 132 (SCTP), using text2pcap. Then

    tshark -r OUT.pcap                    shows INIT, COOKIE_ECHO, DATA, SACK, SHUTDOWN…
    tshark -r OUT.pcap -Y rtcdc           shows DCEP's DATA_CHANNEL_OPEN and ACK (PPID 50)

Which DTLS connection: the one whose ClientHello random is in KEYLOG (its UDP ports are then
decoded as DTLS carrying data). Prints how many SCTP packets it wrote; exits 1 if none.
"""

import subprocess
import sys
import tempfile


def tshark(*args):
    out = subprocess.run(["tshark", *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"tshark {' '.join(args)}: {out.stderr.strip()}")
    return [line for line in out.stdout.splitlines() if line.strip()]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    capture, keylog, out = sys.argv[1:]
    randoms = {line.split()[1] for line in open(keylog) if line.startswith("CLIENT_RANDOM ")}
    if not randoms:
        sys.exit(f"{keylog}: no CLIENT_RANDOM line")
    # 1. The UDP ports of the DTLS connections the key log is for (by ClientHello random).
    ports = set()
    for line in tshark("-r", capture, "-Y", "dtls.handshake.type == 1", "-T", "fields",
                       "-e", "dtls.handshake.random", "-e", "udp.srcport", "-e", "udp.dstport"):
        fields = line.split("\t")
        if len(fields) == 3 and fields[0].replace(":", "") in randoms:
            ports.update(fields[1:])
    if not ports:
        sys.exit(f"{capture}: no DTLS ClientHello with a random from {keylog}")
    # 2. Decrypt: each application-data record's plaintext is one SCTP packet.
    decode = [arg for p in sorted(ports) for arg in ("-d", f"dtls.port=={p},data")]
    packets = tshark("-r", capture, "-o", f"tls.keylog_file:{keylog}", *decode,
                     "-Y", "dtls.app_data && data", "-T", "fields", "-e", "data.data")
    # 3. One hex dump line per packet, behind a dummy IPv4 header with protocol 132.
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as dump:
        for hexed in packets:
            hexed = hexed.split(",")[0]
            dump.write("000000 " + " ".join(hexed[i:i + 2] for i in range(0, len(hexed), 2)))
            dump.write("\n")
        dump.flush()
        subprocess.run(["text2pcap", "-q", "-i", "132", "-4", "127.0.0.1,127.0.0.1",
                        dump.name, out], check=True)
    print(f"{len(packets)} SCTP packets from DTLS on UDP ports {', '.join(sorted(ports))}")
    sys.exit(0 if packets else 1)


if __name__ == "__main__":
    main()
