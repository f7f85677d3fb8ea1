#!/usr/bin/env python3
"""aioquic's HTTP/3 client as the QUIC interop runner drives it, for netlab's interop cases.

Usage: aioquic_client.py --download DIR [--cacert FILE] [options] URL [URL...]

Every URL is https:// on one host and port (127.0.0.1, localhost or [::1]). Each body is
written to DIR/<last path segment>. Options, one per interop case that needs one:
  --multiconnect  one connection per URL, one after the other (handshakeloss, ...corruption)
  --resume        the first URL on a first connection, the others on a second one that
                  resumes the first's TLS session (resumption)
  --zerortt       as --resume, and the second connection sends its requests in 0-RTT
  --chacha20      offer TLS_CHACHA20_POLY1305_SHA256 only (chacha20)
  --key-update    start a key update once the handshake is confirmed (keyupdate)
  --small-windows announce flow-control windows of 256 KiB per stream, 1 MiB in all (transfer)
On stderr, one line each: "cipher: NAME", "resumed: yes|no", "early data: accepted|rejected|
not sent", "key update: requested" (with --key-update), "retry: yes|no". Exit 0 when every
response was a 200 and written; otherwise "error: ..." and exit 1. The whole run is bounded
by --timeout (60 s).
"""

import argparse
import asyncio
import logging
import os
import socket
import ssl
import sys
from urllib.parse import urlsplit

from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated
from aioquic.tls import CipherSuite


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._h3 = H3Connection(self._quic)
        self._waiting = {}  # stream id -> (future, status list, file)

    def connection_made(self, transport):
        super().connection_made(transport)
        # A receive buffer as large as netlab's own client's: the default 208 KiB overflowed
        # under the server's bursts when this Python client was slow on a loaded machine,
        # and one of the datagrams lost was the server's PATH_CHALLENGE in rebind-addr.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:  # root may pass net.core.rmem_max (SO_RCVBUFFORCE, 33 on Linux)
                sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 4 << 20)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated):
            for fut, _, _ in self._waiting.values():
                if not fut.done():
                    fut.set_exception(
                        ConnectionError(f"closed: 0x{event.error_code:x} {event.reason_phrase}")
                    )
        for ev in self._h3.handle_event(event):
            w = self._waiting.get(ev.stream_id)
            if w is None:
                continue
            fut, status, out = w
            if isinstance(ev, HeadersReceived) and not status:
                status.append(int(dict(ev.headers)[b":status"]))
            elif isinstance(ev, DataReceived):
                out.write(ev.data)
            if ev.stream_ended and not fut.done():
                out.close()
                fut.set_result(status[0] if status else 0)

    async def get(self, url, download):
        u = urlsplit(url)
        sid = self._quic.get_next_available_stream_id()
        fut = asyncio.get_running_loop().create_future()
        name = os.path.basename(u.path) or "index.html"
        self._waiting[sid] = (fut, [], open(os.path.join(download, name), "wb"))
        self._h3.send_headers(
            sid,
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", u.netloc.encode()),
                (b":path", u.path.encode()),
                (b"user-agent", b"aioquic-interop"),
            ],
            end_stream=True,
        )
        self.transmit()
        status = await fut
        if status != 200:
            raise ConnectionError(f"{url}: status {status}")


def configuration(args, ticket=None):
    c = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    # Silence ends a connection only after the case's own bound: under 30 % loss or
    # corruption the timers back off for tens of seconds.
    c.idle_timeout = args.timeout
    if args.cacert:
        c.load_verify_locations(args.cacert)
    else:
        c.verify_mode = ssl.CERT_NONE
    if args.chacha20:
        c.cipher_suites = [CipherSuite.CHACHA20_POLY1305_SHA256]
    if args.small_windows:
        c.max_data = 1024 * 1024
        c.max_stream_data = 256 * 1024
    c.session_ticket = ticket
    if os.environ.get("SSLKEYLOGFILE"):
        c.secrets_log_file = open(os.environ["SSLKEYLOGFILE"], "a")
    return c


async def one_connection(args, host, port, urls, ticket=None, early=False):
    """One connection fetching `urls` at once; returns the session ticket it was given."""
    tickets = []
    async with connect(
        host,
        port,
        configuration=configuration(args, ticket),
        create_protocol=Client,
        session_ticket_handler=tickets.append,
        wait_connected=not early,
    ) as client:
        quic = client._quic
        if args.key_update:
            # Deferred by aioquic until the handshake is confirmed (RFC 9001 §6.1).
            quic.request_key_update()
            print("key update: requested", file=sys.stderr)
        await asyncio.gather(*(client.get(u, args.download) for u in urls))
        tls = quic.tls
        suite = tls.key_schedule.cipher_suite if tls.key_schedule else None
        print(f"cipher: {suite.name if suite else '-'}", file=sys.stderr)
        print(f"retry: {'yes' if quic._retry_count else 'no'}", file=sys.stderr)
        if ticket is not None:
            print(f"resumed: {'yes' if tls.session_resumed else 'no'}", file=sys.stderr)
            said = "accepted" if tls.early_data_accepted else "rejected"
            print(f"early data: {said if early else 'not sent'}", file=sys.stderr)
        # Give the server's NewSessionTicket (sent after the handshake) a moment to arrive.
        for _ in range(20):
            if tickets or ticket is not None or not (args.resume or args.zerortt):
                break
            await asyncio.sleep(0.05)
    return tickets[-1] if tickets else None


async def run(args):
    first = urlsplit(args.urls[0])
    host = "127.0.0.1" if first.hostname == "localhost" else first.hostname
    if host not in ("127.0.0.1", "::1"):
        raise ValueError(f"{host}: this peer talks to 127.0.0.1 or ::1 only")
    port = first.port or 443
    if args.multiconnect:
        for u in args.urls:
            await one_connection(args, host, port, [u])
    elif args.resume or args.zerortt:
        ticket = await one_connection(args, host, port, args.urls[:1])
        if ticket is None:
            raise ConnectionError("the server sent no session ticket")
        await one_connection(args, host, port, args.urls[1:], ticket, early=args.zerortt)
    else:
        await one_connection(args, host, port, args.urls)


def main():
    p = argparse.ArgumentParser(description="aioquic client for netlab's interop cases")
    p.add_argument("urls", nargs="+", metavar="URL")
    p.add_argument("--download", required=True, help="folder the bodies are written to")
    p.add_argument("--cacert", help="PEM file of the CA to trust (default: no check)")
    for flag in ("multiconnect", "resume", "zerortt", "chacha20", "key-update", "small-windows"):
        p.add_argument(f"--{flag}", action="store_true")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    logging.getLogger("quic").setLevel(logging.ERROR)
    try:
        asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except asyncio.TimeoutError:
        print(f"error: not done within {args.timeout:g} s", file=sys.stderr)
        sys.exit(1)
    except Exception as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
