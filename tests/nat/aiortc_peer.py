"""An aiortc peer (a full ICE agent: aioice) in one home of `netlab nat`'s topology
(tests/nat.rs), signaling through a room of the `netlab webrtc serve` in the public
namespace.

    aiortc_peer.py offer|answer SIGNAL ROOM ICE [WAIT]

SIGNAL is the signaling server's origin (http://203.0.113.1:8090), ROOM the room's name.
ICE says which servers the agent may use, so which candidates it can gather:
    host   none: host candidates only
    stun   netlab's STUN server: host and server-reflexive
    turn   netlab's STUN and TURN servers (user netlab:netlab): host, srflx and relayed
WAIT (seconds, default 10) bounds the wait for the data channel.

Prints what it gathered and how it ended, one fact per line:
    candidates host srflx
    open pair host 192.0.2.2:41000 -> srflx 203.0.113.20:52000 in 312 ms
    echo nat-ping
or
    failed ice=checking after 10.0 s
and exits 0 either way (the test judges); 1 only when something else broke.
"""

import asyncio
import sys
import time
import urllib.request

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

STUN = "stun:203.0.113.1:3478"
TURN = "turn:203.0.113.1:3479?transport=udp"


def config(ice):
    servers = []
    if ice in ("stun", "turn"):
        servers.append(RTCIceServer(urls=STUN))
    if ice == "turn":
        servers.append(RTCIceServer(urls=TURN, username="netlab", credential="netlab"))
    return RTCConfiguration(iceServers=servers)


def post(url, sdp):
    req = urllib.request.Request(
        url, data=sdp.encode(), method="POST", headers={"Content-Type": "application/sdp"}
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 204, r.status


async def fetch(url, limit):
    """Polls the room until the other side's SDP is there (200; 204 while not yet)."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        with urllib.request.urlopen(url, timeout=5) as r:
            if r.status == 200:
                return r.read().decode()
        await asyncio.sleep(0.1)
    raise TimeoutError(f"nothing at {url} after {limit} s")


def candidate_types(sdp):
    kinds = [line.split()[7] for line in sdp.splitlines() if line.startswith("a=candidate:")]
    return " ".join(sorted(set(kinds), key=["host", "srflx", "prflx", "relay"].index))


def pair_of(pc):
    """The pair aioice nominated: local and remote candidate, type and address."""
    connection = pc.sctp.transport.transport._connection
    for pair in connection._nominated.values():
        local, remote = pair.local_candidate, pair.remote_candidate
        return f"{local.type} {local.host}:{local.port} -> {remote.type} {remote.host}:{remote.port}"
    return "none"


async def run(role, signal, room, ice, wait):
    pc = RTCPeerConnection(config(ice))
    opened = asyncio.Event()
    echoed = asyncio.Queue()
    start = time.monotonic()  # each side: from the moment it has the other's SDP

    def watch(channel):
        if channel.readyState == "open":
            opened.set()
        channel.on("open", opened.set)
        channel.on("message", lambda m: echoed.put_nowait(m))

    if role == "offer":
        channel = pc.createDataChannel("nat")
        watch(channel)
        await pc.setLocalDescription(await pc.createOffer())
        print(f"candidates {candidate_types(pc.localDescription.sdp)}", flush=True)
        post(f"{signal}/rooms/{room}/offer", pc.localDescription.sdp)
        answer = await fetch(f"{signal}/rooms/{room}/answer", 20)
        start = time.monotonic()
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    else:
        channels = []

        @pc.on("datachannel")
        def on_channel(ch):
            channels.append(ch)
            watch(ch)
            ch.on("message", lambda m: ch.send(m))

        offer = await fetch(f"{signal}/rooms/{room}/offer", 20)
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        print(f"candidates {candidate_types(pc.localDescription.sdp)}", flush=True)
        post(f"{signal}/rooms/{room}/answer", pc.localDescription.sdp)
        start = time.monotonic()
    try:
        await asyncio.wait_for(opened.wait(), wait)
    except asyncio.TimeoutError:
        print(f"failed ice={pc.iceConnectionState} after {wait:.1f} s", flush=True)
        await pc.close()
        return
    took = (time.monotonic() - start) * 1000
    print(f"open pair {pair_of(pc)} in {took:.0f} ms", flush=True)
    if role == "offer":
        channel.send("nat-ping")
        print(f"echo {await asyncio.wait_for(echoed.get(), 5)}", flush=True)
    else:
        # The offerer's ping comes and is echoed; stay until the offerer has it.
        await asyncio.sleep(1.5)
    await pc.close()


def main():
    role, signal, room, ice = sys.argv[1:5]
    wait = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
    assert role in ("offer", "answer") and ice in ("host", "stun", "turn"), sys.argv
    asyncio.run(run(role, signal, room, ice, wait))


if __name__ == "__main__":
    main()
