#!/usr/bin/env python3
"""The course's TCP echo server: whatever a client sends comes back unchanged.

Usage: python3 echo-server.py [HOST] [PORT]    (defaults 127.0.0.1 65432; port 0 = any)

It serves one client at a time, until Ctrl-C. netlab's Rust echo does the same job with one
thread per connection: `netlab echo client --addr HOST:PORT hello` talks to this server, and
`python3 echo-client.py` talks to `netlab echo server`.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 65432

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    # A restarted server may bind while the old connections sit in TIME-WAIT.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, PORT))
    s.listen()
    host, port = s.getsockname()
    # The line netlab's servers print too: scripts wait for it instead of sleeping.
    print(f"listening on tcp://{host}:{port}", flush=True)
    try:
        while True:
            conn, addr = s.accept()
            with conn:
                print(f"Connected by {addr}", flush=True)
                while True:
                    data = conn.recv(1024)
                    if not data:
                        # recv returned b"": the client closed its side (FIN).
                        break
                    conn.sendall(data)
    except KeyboardInterrupt:
        pass
