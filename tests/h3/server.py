#!/usr/bin/env python3
"""A real HTTP/3 server (aioquic) for netlab's interop tests and benchmarks.

Usage: server.py --cert FILE --key FILE [--port 0] [--retry] [--root DIR] [--tickets]

Binds 127.0.0.1 (UDP; port 0 = any free port) and, when ready, prints one line to stdout:
`listening on https://127.0.0.1:PORT`. Routes:
  GET  /          a small HTML page (title "netlab h3 peer") whose <img> loads /bytes/1000,
                  so a browser makes a second request on the same connection
  GET  /bytes/N   N bytes, byte i = i % 251, application/octet-stream, sent in 64 KiB chunks
  GET  /file/NAME the file NAME from --root (no sub-directories)
  POST /echo      the request body back, with the request's content-type
  anything else   404
--retry makes the server answer each first Initial with a Retry (address validation, RFC 9000
section 8.1). --tickets issues session tickets (kept in memory, each good for one resumption, as
aioquic's own example does) and accepts 0-RTT from a client that resumes; each connection
prints "handshake: resumed=yes|no early_data=accepted|rejected" on stderr once the server has
read the ClientHello. SIGTERM or Ctrl-C stops it cleanly (exit 0). $SSLKEYLOGFILE gets the TLS keys.
"""

import argparse
import asyncio
import functools
import mimetypes
import os
import pathlib
import signal
import sys

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, ProtocolNegotiated

CHUNK = 64 * 1024
# At most this much of one response waits, unacknowledged, in aioquic's send buffer: aioquic
# queues whatever we hand it, so without this limit /bytes/100000000 would sit in memory whole.
HIGH_WATER = 1024 * 1024
# One chunk of the /bytes pattern, long enough to start at any offset modulo 251.
PATTERN = bytes(i % 251 for i in range(CHUNK + 251))

INDEX = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>netlab h3 peer</title></head>
<body><h1>Hello over HTTP/3</h1><img src="/bytes/1000" alt="1000 bytes"></body></html>
"""


def pattern_chunks(n):
    """The body of /bytes/N, one chunk at a time: byte i is i % 251."""
    offset = 0
    while offset < n:
        size = min(CHUNK, n - offset)
        start = offset % 251
        yield PATTERN[start : start + size]
        offset += size


def route(method, path, body, content_type, root):
    """Pick the answer to one request: (status, content-type, list or generator of chunks)."""
    if method == "GET" and path == "/":
        return 200, "text/html; charset=utf-8", [INDEX]
    if method == "GET" and path.startswith("/bytes/") and path[7:].isdigit():
        return 200, "application/octet-stream", pattern_chunks(int(path[7:]))
    if method == "GET" and path.startswith("/file/") and root is not None:
        name = path[6:]
        # Only plain names inside --root: no "..", no sub-directories, no hidden files.
        if name and "/" not in name and not name.startswith("."):
            file = root / name
            if file.is_file():
                ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return 200, ctype, [file.read_bytes()]
    if method == "POST" and path == "/echo":
        return 200, content_type or "application/octet-stream", [bytes(body)]
    return 404, "text/plain; charset=utf-8", [b"not found\n"]


class H3Server(QuicConnectionProtocol):
    """One QUIC connection: QUIC events in, HTTP/3 events out, one task per response."""

    def __init__(self, *args, root=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._h3 = None  # created once TLS has agreed on ALPN "h3"
        self._root = root
        self._requests = {}  # stream id -> (headers dict, body so far)
        self._acked = asyncio.Event()  # set whenever a datagram (maybe an ACK) arrived
        self._gone = False

    def quic_event_received(self, event):
        # 1. QUIC event: the handshake picked a protocol, or the connection ended.
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._h3 = H3Connection(self._quic)
            # Said now, when the ClientHello has been read: HandshakeCompleted may never be
            # seen if the client's Finished comes with its CONNECTION_CLOSE.
            tls = self._quic.tls
            resumed = "yes" if tls.session_resumed else "no"
            early = "accepted" if tls.early_data_accepted else "rejected"
            print(f"handshake: resumed={resumed} early_data={early}", file=sys.stderr, flush=True)
        elif isinstance(event, ConnectionTerminated):
            self._gone = True
            self._acked.set()
        # 2. HTTP/3 events decoded from it: request headers and body pieces.
        if self._h3 is None:
            return
        for h3_event in self._h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                sid = h3_event.stream_id
                if sid not in self._requests:  # the second HEADERS of a stream are trailers
                    self._requests[sid] = (dict(h3_event.headers), bytearray())
            elif isinstance(h3_event, DataReceived) and h3_event.stream_id in self._requests:
                self._requests[h3_event.stream_id][1].extend(h3_event.data)
            else:
                continue
            # 3. A request is complete when its stream ends: answer it in its own task, so
            # that a long response does not hold up the others on this connection.
            if h3_event.stream_ended and h3_event.stream_id in self._requests:
                headers, body = self._requests.pop(h3_event.stream_id)
                asyncio.ensure_future(self._respond(h3_event.stream_id, headers, body))

    def datagram_received(self, data, addr):
        super().datagram_received(data, addr)
        self._acked.set()  # wake the responses waiting for room in the send buffer

    def _unacked(self, stream_id):
        # aioquic has no public send-buffer size; its stream object keeps unacknowledged bytes
        # in sender._buffer (private, checked against aioquic 1.7.2).
        stream = self._quic._streams.get(stream_id)
        return len(stream.sender._buffer) if stream is not None else 0

    async def _respond(self, stream_id, headers, body):
        method = headers.get(b":method", b"").decode()
        path = headers.get(b":path", b"").decode().split("?")[0]
        ctype = headers.get(b"content-type", b"").decode()
        status, out_type, chunks = route(method, path, body, ctype, self._root)
        print(f"{method} {path} -> {status}", file=sys.stderr, flush=True)
        try:
            self._h3.send_headers(
                stream_id,
                [
                    (b":status", str(status).encode()),
                    (b"server", b"aioquic-peer"),
                    (b"content-type", out_type.encode()),
                ],
            )
            for chunk in chunks:
                # Flow control for the sender: wait until the peer has acknowledged enough.
                while self._unacked(stream_id) > HIGH_WATER and not self._gone:
                    self._acked.clear()
                    await self._acked.wait()
                if self._gone:
                    return
                self._h3.send_data(stream_id, chunk, end_stream=False)
                self.transmit()
            self._h3.send_data(stream_id, b"", end_stream=True)
            self.transmit()
        except Exception as e:  # the client reset the stream, or the connection closed
            print(f"stream {stream_id}: response abandoned: {e!r}", file=sys.stderr, flush=True)


async def main():
    p = argparse.ArgumentParser(description="aioquic HTTP/3 server for netlab's tests")
    p.add_argument("--cert", required=True, help="PEM certificate chain")
    p.add_argument("--key", required=True, help="PEM private key")
    p.add_argument("--port", type=int, default=0, help="UDP port (default 0 = any)")
    p.add_argument("--retry", action="store_true", help="send a Retry before each handshake")
    p.add_argument("--root", type=pathlib.Path, help="folder served under /file/")
    p.add_argument("--tickets", action="store_true", help="session tickets and 0-RTT")
    args = p.parse_args()

    config = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    try:
        config.load_cert_chain(args.cert, args.key)
    except (OSError, ValueError) as e:
        print(f"error: cannot load --cert/--key: {e}", file=sys.stderr)
        sys.exit(1)
    if os.environ.get("SSLKEYLOGFILE"):
        config.secrets_log_file = open(os.environ["SSLKEYLOGFILE"], "a")

    tickets = {}  # ticket bytes -> SessionTicket
    server = await serve(
        "127.0.0.1",
        args.port,
        configuration=config,
        create_protocol=functools.partial(H3Server, root=args.root),
        retry=args.retry,
        # The fetcher pops: a ticket resumes once (aioquic's own anti-replay, as in its example).
        session_ticket_fetcher=(lambda t: tickets.pop(t, None)) if args.tickets else None,
        session_ticket_handler=(lambda t: tickets.__setitem__(t.ticket, t)) if args.tickets else None,
    )
    # serve() does not return the bound address; its transport (private) knows it.
    port = server._transport.get_extra_info("sockname")[1]
    print(f"listening on https://127.0.0.1:{port}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()  # sends CONNECTION_CLOSE on every open connection


if __name__ == "__main__":
    asyncio.run(main())
