#!/usr/bin/env python3
"""aioquic's HTTP/3 server as the QUIC interop runner drives it, for netlab's interop cases:
the routes of tests/h3/server.py (files of --root under /file/NAME), plus what some cases
need from a server.

Usage: aioquic_server.py --cert FILE --key FILE --root DIR [--host 127.0.0.1|::1] [--retry]
                         [--chacha20]

It keeps the session tickets it issues (in memory), so a returning client resumes and may send
0-RTT (resumption, zerortt). --retry sends a Retry before each handshake (retry); --chacha20
accepts TLS_CHACHA20_POLY1305_SHA256 only (chacha20). When ready it prints
`listening on https://HOST:PORT`; SIGTERM stops it. $SSLKEYLOGFILE gets the TLS keys.
"""

import argparse
import asyncio
import functools
import os
import pathlib
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "h3"))
from server import H3Server  # noqa: E402  (tests/h3/server.py: the routes and the responses)

from aioquic.asyncio import serve  # noqa: E402
from aioquic.h3.connection import H3_ALPN  # noqa: E402
from aioquic.quic.configuration import QuicConfiguration  # noqa: E402
from aioquic.tls import CipherSuite  # noqa: E402


async def main():
    p = argparse.ArgumentParser(description="aioquic server for netlab's interop cases")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--root", type=pathlib.Path, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--retry", action="store_true")
    p.add_argument("--chacha20", action="store_true")
    args = p.parse_args()

    config = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    config.load_cert_chain(args.cert, args.key)
    if args.chacha20:
        config.cipher_suites = [CipherSuite.CHACHA20_POLY1305_SHA256]
    if os.environ.get("SSLKEYLOGFILE"):
        config.secrets_log_file = open(os.environ["SSLKEYLOGFILE"], "a")
    tickets = {}

    server = await serve(
        args.host,
        0,
        configuration=config,
        create_protocol=functools.partial(H3Server, root=args.root),
        retry=args.retry,
        session_ticket_fetcher=lambda t: tickets.pop(t, None),
        session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t),
    )
    port = server._transport.get_extra_info("sockname")[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"listening on https://{shown}:{port}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
