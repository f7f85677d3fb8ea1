#!/usr/bin/env python3
"""A real HTTP/3 client (aioquic) for netlab's interop tests.

Usage: client.py URL [URL...] [--cacert FILE] [--insecure] [--method POST --data STRING]
                 [--timeout SECONDS] [--session FILE]

Opens ONE QUIC connection (ALPN h3, SNI and name check "localhost") to the host of the first
URL and sends every URL on its own request stream, all at once. For each URL, in the order
given, it prints two lines to stdout:
  STATUS LENGTH SHA256HEX    of the response body
  CONTENT-TYPE               the response's content-type ("-" when there is none)
and exits 0. On stderr: "retry: yes|no" (did the server send a Retry?). Any failure prints
"error: ..." to stderr and exits 1; the whole run is limited to 20 seconds (--timeout: aioquic
moves only ~5-10 MB/s here, so a 100 MB benchmark download needs more).
--session FILE resumes the session ticket stored in FILE (pickled; a missing or unreadable file
means a full handshake) and sends the requests in 0-RTT, without waiting for the handshake;
the newest ticket the server sends is stored there. Then stderr also says
"resumed: yes|no" and "early data: accepted|rejected|not attempted".
The certificate is checked against --cacert; --insecure turns the check off.
--data is sent as the body of every request, with content-type text/plain.
"""

import argparse
import asyncio
import hashlib
import logging
import os
import pickle
import ssl
import sys
from urllib.parse import urlsplit

from aioquic.asyncio import QuicConnectionProtocol, connect
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated


class Response:
    """What we keep of one response: status, content-type, and a running length and hash,
    so that a 100 MB body is never held in memory."""

    def __init__(self, loop):
        self.status = None
        self.content_type = "-"
        self.length = 0
        self.sha256 = hashlib.sha256()
        self.done = loop.create_future()


class H3Client(QuicConnectionProtocol):
    closed_by = None  # the ConnectionTerminated event, kept to explain a failed handshake

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._h3 = H3Connection(self._quic)
        self._responses = {}  # stream id -> Response

    def quic_event_received(self, event):
        # A connection that ends fails every request still waiting for its answer.
        if isinstance(event, ConnectionTerminated):
            H3Client.closed_by = event
            for r in self._responses.values():
                if not r.done.done():
                    r.done.set_exception(ConnectionError())
        for h3_event in self._h3.handle_event(event):
            r = self._responses.get(h3_event.stream_id)
            if r is None:
                continue
            if isinstance(h3_event, HeadersReceived) and r.status is None:
                headers = dict(h3_event.headers)
                r.status = int(headers[b":status"])
                r.content_type = headers.get(b"content-type", b"-").decode()
            elif isinstance(h3_event, DataReceived):
                r.length += len(h3_event.data)
                r.sha256.update(h3_event.data)
            if h3_event.stream_ended and not r.done.done():
                r.done.set_result(r)

    async def request(self, method, url, data):
        """Send one request on a new bidirectional stream and wait for the whole response."""
        u = urlsplit(url)
        stream_id = self._quic.get_next_available_stream_id()
        r = self._responses[stream_id] = Response(asyncio.get_running_loop())
        headers = [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", u.netloc.encode()),
            (b":path", (u.path or "/").encode() + (b"?" + u.query.encode() if u.query else b"")),
            (b"user-agent", b"aioquic-peer"),
        ]
        if data is not None:
            headers.append((b"content-type", b"text/plain"))
        self._h3.send_headers(stream_id, headers, end_stream=data is None)
        if data is not None:
            self._h3.send_data(stream_id, data.encode(), end_stream=True)
        self.transmit()
        return await r.done


async def run(args):
    first = urlsplit(args.urls[0])
    for url in args.urls:
        u = urlsplit(url)
        if u.scheme != "https" or (u.hostname, u.port) != (first.hostname, first.port):
            raise ValueError(f"{url}: every URL must be https:// on the same host and port")
    # Loopback only: "localhost" goes to 127.0.0.1 (netlab's servers bind IPv4 by default;
    # resolving it could give ::1 first).
    host = "127.0.0.1" if first.hostname == "localhost" else first.hostname
    if host not in ("127.0.0.1", "::1"):
        raise ValueError(f"{host}: this test peer talks to 127.0.0.1 or ::1 only")

    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    # A server that never answers ends the connection after 10 s of silence, well inside the
    # 20 s budget, so that the error says why.
    config.idle_timeout = 10.0
    if args.insecure:
        config.verify_mode = ssl.CERT_NONE
    elif args.cacert:
        config.load_verify_locations(args.cacert)
    if os.environ.get("SSLKEYLOGFILE"):
        config.secrets_log_file = open(os.environ["SSLKEYLOGFILE"], "a")

    offered = load_session(args.session, config)
    tickets = []
    port = first.port or 443
    async with connect(
        host,
        port,
        configuration=config,
        create_protocol=H3Client,
        session_ticket_handler=tickets.append if args.session else None,
        # Resuming: the requests go in 0-RTT, before the handshake completes.
        wait_connected=not offered,
    ) as client:
        # All requests at once, each on its own stream; gather keeps the order of the URLs.
        requests = [client.request(args.method, url, args.data) for url in args.urls]
        responses = await asyncio.gather(*requests)
        # aioquic counts Retry packets in a private field (aioquic 1.7.2).
        print(f"retry: {'yes' if client._quic._retry_count else 'no'}", file=sys.stderr)
        if args.session:
            tls = client._quic.tls
            print(f"resumed: {'yes' if tls.session_resumed else 'no'}", file=sys.stderr)
            early = "not attempted"
            if offered:
                early = "accepted" if tls.early_data_accepted else "rejected"
            print(f"early data: {early}", file=sys.stderr)
    if args.session and tickets:
        with open(args.session, "wb") as f:
            pickle.dump(tickets[-1], f)
    for r in responses:
        print(f"{r.status} {r.length} {r.sha256.hexdigest()}")
        print(r.content_type)


def load_session(path, config):
    """The stored ticket into `config`; True when there is one to offer (0-RTT then)."""
    if not path or not os.path.exists(path):
        return False
    try:
        with open(path, "rb") as f:
            config.session_ticket = pickle.load(f)
        return True
    except Exception as e:  # a corrupt file: a full handshake
        print(f"session: {path} unusable ({e}): full handshake", file=sys.stderr)
        return False


def main():
    p = argparse.ArgumentParser(description="aioquic HTTP/3 client for netlab's tests")
    p.add_argument("urls", nargs="+", metavar="URL")
    p.add_argument("--cacert", help="PEM file of the CA (or certificate) to trust")
    p.add_argument("--insecure", action="store_true", help="do not verify the server")
    p.add_argument("--method", default="GET")
    p.add_argument("--data", help="request body (sent with content-type text/plain)")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds for the whole run (20)")
    p.add_argument("--session", help="resume the ticket stored in FILE, store the new one")
    args = p.parse_args()
    # aioquic logs a closed connection as a warning; our "error:" line says it once, shorter.
    logging.getLogger("quic").setLevel(logging.ERROR)
    try:
        asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except asyncio.TimeoutError:
        print(f"error: no complete answer within {args.timeout:g} s", file=sys.stderr)
        sys.exit(1)
    except ConnectionError:
        # The event says who closed and why: e.g. 0x12a = CRYPTO_ERROR + TLS alert 42
        # (bad_certificate) when the server's certificate does not verify.
        ev = H3Client.closed_by
        if ev is None:
            why = "(no reason given)"
        else:
            why = f"0x{ev.error_code:x} {ev.reason_phrase or '(no reason given)'}"
        print(f"error: connection closed: {why}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # handshake refused, bad certificate, connection closed, bad URL …
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
