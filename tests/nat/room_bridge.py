"""Signaling for an answering `netlab webrtc serve` behind a NAT (tests/nat.rs).

    room_bridge.py SIGNAL ROOM LOCAL

A peer behind a NAT cannot be POSTed to from outside, so this program, in the same home,
does what a page would: it takes the offer from room ROOM of the public signaling server
SIGNAL (http://203.0.113.1:8090), POSTs it to the netlab peer at LOCAL (its /webrtc, WHIP
style), and puts the answer back in the room. Only SDP passes through here; ICE, DTLS and
SCTP go between the peers, through the NATs. Prints `bridged` (exit 0) or what failed (1).
"""

import sys
import time
import urllib.request


def main():
    signal, room, local = sys.argv[1:4]
    offer = None
    until = time.monotonic() + 30
    while offer is None and time.monotonic() < until:
        with urllib.request.urlopen(f"{signal}/rooms/{room}/offer", timeout=5) as r:
            if r.status == 200:
                offer = r.read()
            else:
                time.sleep(0.1)
    if offer is None:
        sys.exit(f"no offer in room {room} after 30 s")
    sdp = {"Content-Type": "application/sdp"}
    req = urllib.request.Request(f"{local}/webrtc", data=offer, method="POST", headers=sdp)
    with urllib.request.urlopen(req, timeout=20) as r:
        answer = r.read()
    req = urllib.request.Request(f"{signal}/rooms/{room}/answer", data=answer, method="POST", headers=sdp)
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 204, r.status
    print("bridged", flush=True)


if __name__ == "__main__":
    main()
