#!/usr/bin/env python3
"""aioquic peers that move mid-transfer, for netlab's migration and key-update tests.

Usage:
  moves.py client URL --cacert FILE [--key-update-after BYTES] [--rebind-after BYTES]
  moves.py server --cert FILE --key FILE [--key-update-after SECONDS]

client: one GET on one connection (client.py's H3Client). Once BYTES of the body have
arrived, --key-update-after asks aioquic for a key update (RFC 9001 section 6: the key-phase
bit flips on our packets) and --rebind-after moves the connection to a new UDP socket (a new
source port, the old socket closed) and to a fresh connection ID of the server's (RFC 9000
section 9). Prints "STATUS LENGTH SHA256HEX" of the body to stdout, and on stderr one line per
move made ("key update requested", "rebound to port PORT"). Exits 1 with "error: ..."
otherwise, within 30 s.

server: server.py's server and routes (listening line included), except that SECONDS after
each response starts, the server asks aioquic for a key update.
"""

import asyncio
import logging
import os
import sys
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client as peer_client  # noqa: E402  (tests/h3/client.py)
import server as peer_server  # noqa: E402  (tests/h3/server.py)
from aioquic.asyncio import connect  # noqa: E402
from aioquic.h3.connection import H3_ALPN  # noqa: E402
from aioquic.quic.configuration import QuicConfiguration  # noqa: E402


class Mover(peer_client.H3Client):
    """client.py's client, plus the two moves, each made once when its byte count is reached."""

    key_update_after = None
    rebind_after = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._received = 0
        self._updated = False
        self._rebound = False

    def quic_event_received(self, event):
        super().quic_event_received(event)
        self._received = sum(r.length for r in self._responses.values())
        after = Mover.key_update_after
        if after is not None and not self._updated and self._received >= after:
            self._updated = True
            self.request_key_update()
            print("key update requested", file=sys.stderr, flush=True)
        after = Mover.rebind_after
        if after is not None and not self._rebound and self._received >= after:
            self._rebound = True
            asyncio.ensure_future(self._rebind())

    async def _rebind(self):
        old = self._transport
        loop = asyncio.get_running_loop()
        # The same protocol on a new socket: connection_made() swaps the transport it sends on.
        # aioquic's connect() binds a dual-stack IPv6 socket (addresses as 4-tuples): so does
        # this one.
        await loop.create_datagram_endpoint(lambda: self, local_addr=("::", 0))
        old.close()
        # A fresh connection ID for the new path, so the two paths cannot be linked.
        self.change_connection_id()
        print(f"rebound to port {self._transport.get_extra_info('sockname')[1]}",
              file=sys.stderr, flush=True)


async def fetch(url, cacert):
    u = urlsplit(url)
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    config.idle_timeout = 10.0
    config.load_verify_locations(cacert)
    if os.environ.get("SSLKEYLOGFILE"):
        config.secrets_log_file = open(os.environ["SSLKEYLOGFILE"], "a")
    async with connect("127.0.0.1", u.port, configuration=config, create_protocol=Mover) as c:
        r = await c.request("GET", url, None)
    print(f"{r.status} {r.length} {r.sha256.hexdigest()}")


class UpdatingServer(peer_server.H3Server):
    key_update_after = 0.05

    async def _respond(self, stream_id, headers, body):
        asyncio.get_running_loop().call_later(UpdatingServer.key_update_after, self._update)
        await super()._respond(stream_id, headers, body)

    def _update(self):
        if not self._gone:
            self.request_key_update()
            print("key update requested", file=sys.stderr, flush=True)


def main():
    logging.getLogger("quic").setLevel(logging.ERROR)
    args = sys.argv[1:]
    if not args or args[0] not in ("client", "server"):
        print("error: moves.py client|server ...", file=sys.stderr)
        sys.exit(2)
    role, rest = args[0], args[1:]

    def take(flag, default=None):
        if flag in rest:
            i = rest.index(flag)
            value = rest[i + 1]
            del rest[i : i + 2]
            return value
        return default

    if role == "server":
        UpdatingServer.key_update_after = float(take("--key-update-after", "0.05"))
        peer_server.H3Server = UpdatingServer
        sys.argv = [sys.argv[0]] + rest
        asyncio.run(peer_server.main())
        return
    cacert = take("--cacert")
    after = take("--key-update-after")
    Mover.key_update_after = int(after) if after else None
    after = take("--rebind-after")
    Mover.rebind_after = int(after) if after else None
    if len(rest) != 1 or cacert is None:
        print("error: moves.py client URL --cacert FILE [...]", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(asyncio.wait_for(fetch(rest[0], cacert), 30))
    except Exception as e:  # timeout, connection closed, bad certificate …
        ev = peer_client.H3Client.closed_by
        why = f" (0x{ev.error_code:x} {ev.reason_phrase})" if ev is not None else ""
        print(f"error: {type(e).__name__}: {e}{why}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
