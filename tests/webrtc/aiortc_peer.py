"""aiortc as netlab's WebRTC counterpart, in both roles, on loopback only.

    aiortc_peer.py answer            serve POST /webrtc (WHIP-style) and echo every message;
                                     PATCH /webrtc/N (the Location) takes trickled candidates
    aiortc_peer.py offer URL [N]     offer to URL, open a channel, send test messages, check
                                     the echoes; with N, a throughput run of N 16 KiB messages
    aiortc_peer.py lab URL           offer to URL, open lab 10's six channels at once, and
                                     print one line per channel: label, state, echo
    aiortc_peer.py channels URL      against tests/webrtc_channels.rs's peer: it closes
                                     channel "a" when asked ("close"), channel "b" takes the
                                     freed id, "big" gets the largest message, netlab opens
                                     "n", closes it and opens it again on the same id, then
                                     aiortc closes "b"; prints one JSON line of what it saw

Loopback only: aioice is told that 127.0.0.1 is this host's one address (it skips loopback
otherwise). No ICE servers unless given: --stun PORT, --turn PORT:USER:PASS (netlab's own
servers on 127.0.0.1) and --relay (iceTransportPolicy "relay"), anywhere on the command line.
Each mode prints the kinds of the pair ICE nominated ("pair relay -> host").
"""

import asyncio
import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"]


# Options anywhere on the command line, taken out before the mode's arguments are read:
# --stun PORT and --turn PORT:USER:PASS name netlab's servers on 127.0.0.1 in iceServers;
# --relay sets iceTransportPolicy "relay" (only the relayed candidate: every byte through TURN).
OPTIONS = {"stun": None, "turn": None, "relay": False}


def take_options(argv):
    rest = []
    it = iter(argv)
    for a in it:
        if a in ("--stun", "--turn"):
            OPTIONS[a[2:]] = next(it)
        elif a == "--relay":
            OPTIONS["relay"] = True
        else:
            rest.append(a)
    return rest


def config():
    from aiortc import RTCIceServer
    from aiortc.rtcconfiguration import RTCIceTransportPolicy

    servers = []
    if OPTIONS["stun"]:
        servers.append(RTCIceServer(urls=f"stun:127.0.0.1:{OPTIONS['stun']}"))
    if OPTIONS["turn"]:
        port, user, password = OPTIONS["turn"].split(":")
        servers.append(RTCIceServer(urls=f"turn:127.0.0.1:{port}", username=user, credential=password))
    if OPTIONS["relay"]:
        return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    return RTCConfiguration(iceServers=servers)


def nominated(pc):
    """The kinds of the pair ICE nominated, as "local -> remote"."""
    pairs = pc.sctp.transport.transport._connection._nominated
    return " ".join(f"{p.local_candidate.type} -> {p.remote_candidate.type}" for p in pairs.values())


def say(line):
    """Prints a line for whoever reads our stdout, if anyone still does: a bench reads only
    the listening line and closes the pipe, and a print must not end the echo then."""
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError):
        pass


def answer_mode():
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    peers = []

    async def answer(offer_sdp):
        pc = RTCPeerConnection(config())
        peers.append(pc)

        @pc.on("datachannel")
        def on_channel(channel):
            # The echo first: an exception in this handler would end the SCTP association's
            # receive task, and the offerer would then wait for acknowledgements forever.
            @channel.on("message")
            def on_message(m):
                channel.send(m)

            say(f"pair {nominated(pc)}")

        await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp, peers.index(pc)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            try:
                sdp, n = asyncio.run_coroutine_threadsafe(answer(body), loop).result(20)
            except Exception as e:  # a bad offer: the error, as our server would say it
                data = str(e).encode()
                self.send_response(400)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            data = sdp.encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/sdp")
            self.send_header("Location", f"/webrtc/{n}")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PATCH(self):
            # Trickle ICE (RFC 8840's sdpfrag): each a=candidate to the session's peer, and
            # a=end-of-candidates as addIceCandidate(None).
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            try:
                pc = peers[int(self.path.rsplit("/", 1)[1])]
            except (ValueError, IndexError):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            for line in body.splitlines():
                if line.startswith("a=candidate:"):
                    c = candidate_from_sdp(line[len("a=candidate:"):])
                    c.sdpMid = "0"
                    say(f"trickled: {c.type} {c.ip} {c.port}")
                    asyncio.run_coroutine_threadsafe(pc.addIceCandidate(c), loop).result(5)
                elif line == "a=end-of-candidates":
                    say("trickled: end-of-candidates")
                    asyncio.run_coroutine_threadsafe(pc.addIceCandidate(None), loop).result(5)
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


async def offer_to(url, labels, ordered=True, wait_open=True, options=None):
    pc = RTCPeerConnection(config())
    options = options or [{} for _ in labels]
    channels = [pc.createDataChannel(label, **{"ordered": ordered, **o}) for label, o in zip(labels, options)]
    t0 = time.monotonic()
    await pc.setLocalDescription(await pc.createOffer())
    req = urllib.request.Request(url, data=pc.localDescription.sdp.encode(), method="POST",
                                 headers={"Content-Type": "application/sdp"})
    answer = await asyncio.get_running_loop().run_in_executor(
        None, lambda: urllib.request.urlopen(req, timeout=10).read().decode())
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    if not wait_open:
        return pc, channels, 0
    opened = []
    for ch in channels:
        ev = asyncio.Event()
        if ch.readyState == "open":
            ev.set()
        ch.on("open", ev.set)
        opened.append(ev)
    await asyncio.wait_for(asyncio.gather(*[e.wait() for e in opened]), 15)
    return pc, channels, time.monotonic() - t0


async def exchange(ch, messages, timeout=20):
    got = asyncio.Queue()
    ch.on("message", lambda m: got.put_nowait(m))
    for m in messages:
        ch.send(m)
    out = []
    for _ in messages:
        out.append(await asyncio.wait_for(got.get(), timeout))
    return out


async def offer_mode(url, count):
    pc, [ch], open_time = await offer_to(url, ["chat"])
    print(f"open {open_time * 1000:.1f} ms", flush=True)
    print(f"pair {nominated(pc)}", flush=True)
    if count:
        msg = bytes(16384)
        got = asyncio.Queue()
        ch.on("message", lambda m: got.put_nowait(len(m)))
        t0 = time.monotonic()
        received = 0
        for i in range(count):
            ch.send(msg)
            # Keep SCTP's send buffer bounded, as a browser's bufferedAmount would; if the
            # peer stops acknowledging, fail within a minute rather than wait forever.
            deadline = time.monotonic() + 60
            while ch.bufferedAmount > 1 << 20:
                if time.monotonic() > deadline:
                    print(f"stalled: {i} of {count} sent, {ch.bufferedAmount} bytes unacknowledged", flush=True)
                    sys.exit(1)
                await asyncio.sleep(0.001)
        for _ in range(count):
            received += await asyncio.wait_for(got.get(), 60)
        dt = time.monotonic() - t0
        print(f"throughput {received / dt / 1e6:.2f} MB/s echoed ({count} x 16 KiB in {dt:.2f} s)", flush=True)
    else:
        large = bytes(i % 251 for i in range(100000))
        sent = ["hello", b"\x00\x01\x02\xff", "", "é ünïcode ✓", large]
        back = await exchange(ch, sent)
        for s, b in zip(sent, back):
            if s != b or type(s) is not type(b):
                print(f"mismatch: sent {s[:20]!r} ({len(s)}), got {b[:20]!r} ({len(b)})", flush=True)
                sys.exit(1)
        print("echoed: text, binary, empty, unicode, 100000-byte binary", flush=True)
    await pc.close()


# Lab 10's channels: (label, createDataChannel options).
LAB = [
    ("chat", {}),
    # Longer than 255 bytes: its Label Length needs both bytes. (Not a non-ASCII label:
    # aiortc 1.16 writes Label Length as len(str), characters, where RFC 8832 §5.1 says bytes.)
    ("long-" + "x" * 295, {}),
    ("with-protocol", {"protocol": "json-v1"}),
    ("unordered", {"ordered": False}),
    ("rexmit", {"maxRetransmits": 3}),
    ("timed", {"maxPacketLifeTime": 500}),
]


async def lab_mode(url):
    labels = [label for label, _ in LAB]
    pc, channels, _ = await offer_to(url, labels, wait_open=False, options=[o for _, o in LAB])
    opened = {}
    for ch in channels:
        ev = asyncio.Event()
        ch.on("open", ev.set)
        opened[ch.label] = ev
    try:
        await asyncio.wait_for(asyncio.gather(*[e.wait() for e in opened.values()]), 8)
    except asyncio.TimeoutError:
        pass
    for ch in channels:
        if ch.readyState != "open":
            print(f"{ch.label}\tnot open ({ch.readyState})", flush=True)
            continue
        try:
            [back] = await exchange(ch, [f"on {ch.label}"], timeout=5)
            print(f"{ch.label}\topen\t{back}", flush=True)
        except asyncio.TimeoutError:
            print(f"{ch.label}\topen\tno echo", flush=True)
    await pc.close()


async def channels_mode(url):
    def event(ch, name):
        fut = asyncio.get_running_loop().create_future()
        ch.once(name, lambda *a: fut.done() or fut.set_result(a[0] if a else None))
        return fut

    async def within(what, fut):
        try:
            return await asyncio.wait_for(fut, 10)
        except asyncio.TimeoutError:
            print(json.dumps({"ok": False, "timeout": what}), flush=True)
            sys.exit(1)

    pc, [a], _ = await offer_to(url, ["a"])
    out = {"a": a.id, "maxMessageSize": pc.sctp.getCapabilities().maxMessageSize}
    # 1. netlab closes "a" (a stream reset): aiortc's channel closes.
    closed = event(a, "close")
    a.send("close")
    await within("a closed by netlab", closed)
    out["aState"] = a.readyState
    # 2. A new channel: aiortc gives it the lowest free id, the one "a" had.
    b = pc.createDataChannel("b")
    await within("b open", event(b, "open"))
    out["b"] = b.id
    b.send("on b")
    out["echo"] = await within("echo on b", event(b, "message"))
    # 3. The largest message netlab may send us; it reports the refusal of one byte more.
    b.send("big")
    out["bigLength"] = len(await within("big on b", event(b, "message")))
    b.send("after big")
    out["afterBig"] = await within("after big on b", event(b, "message"))
    # 5. netlab opens a channel ("open" asks it), closes it when asked, and opens another:
    # the second takes the id the first had.
    async def from_netlab():
        fut = asyncio.get_running_loop().create_future()
        pc.once("datachannel", lambda ch: fut.done() or fut.set_result(ch))
        b.send("open")
        ch = await within("a channel from netlab", fut)
        if ch.readyState != "open":
            await within("n open", event(ch, "open"))
        return ch

    n1 = await from_netlab()
    closed = event(n1, "close")
    n1.send("close")
    await within("n closed by netlab", closed)
    await asyncio.sleep(0.3)
    n2 = await from_netlab()
    out["n1"], out["n2"] = n1.id, n2.id
    n2.send("on n")
    out["nEcho"] = await within("echo on n", event(n2, "message"))
    # 4. aiortc closes "b": netlab sees the reset.
    closed = event(b, "close")
    b.close()
    await within("b closed", closed)
    out["bState"] = b.readyState
    await asyncio.sleep(0.3)
    await pc.close()
    out["ok"] = out["aState"] == "closed" and out["bState"] == "closed"
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.argv = take_options(sys.argv)
    mode = sys.argv[1]
    if mode == "answer":
        answer_mode()
    elif mode == "offer":
        asyncio.run(offer_mode(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
    elif mode == "channels":
        asyncio.run(channels_mode(sys.argv[2]))
    elif mode == "lab":
        asyncio.run(lab_mode(sys.argv[2]))
