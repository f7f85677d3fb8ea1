#!/usr/bin/env python3
"""The course's TCP echo client: sends each message as a line and prints what comes back.

Usage: python3 echo-client.py [HOST] [PORT] [MESSAGE...]
       (defaults 127.0.0.1 65432 "Hello, world")

Try it against netlab's Rust echo: `netlab echo server --addr 127.0.0.1:65432`, then
`python3 echo-client.py`.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 65432
MESSAGES = sys.argv[3:] or ["Hello, world"]

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.connect((HOST, PORT))
    for message in MESSAGES:
        line = (message + "\n").encode()
        s.sendall(line)
        # TCP is a byte stream: one recv may return part of the echo, so read until all of
        # it came back.
        data = b""
        while len(data) < len(line):
            chunk = s.recv(1024)
            if not chunk:
                sys.exit(f"error: the server closed after {len(data)} of {len(line)} bytes")
            data += chunk
        print(f"Received {data!r}", flush=True)
