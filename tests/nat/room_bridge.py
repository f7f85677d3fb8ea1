"""Signaling for an answering `netlab webrtc serve` behind a NAT (tests/nat.rs).

    room_bridge.py SIGNAL ROOM LOCAL [WAIT]

A peer behind a NAT cannot be POSTed to from outside, so this program, in the same home,
does what a page would: it takes the offer from room ROOM of the public signaling server
SIGNAL (http://203.0.113.1:8090), POSTs it to the netlab peer at LOCAL (its /webrtc, WHIP
style), and puts the answer back in the room. Only SDP passes through here; ICE, DTLS and
SCTP go between the peers, through the NATs.

Trickle ICE (RFC 8838), when the offer says a=ice-options:trickle: the offerer's candidates
are fetched from the room (GET /rooms/ROOM/candidates/offer?from=N) and PATCHed to the
session (its Location, RFC 9725 §4.3); the peer's own, handed back in the PATCH responses,
are POSTed to the room (/rooms/ROOM/candidates/answer), every 50 ms until both sides' ends
(or WAIT seconds, 10 by default). Prints `trickled-in KINDS` (the kinds of candidate the
offerer trickled to the peer) and `bridged` (exit 0), or what failed (1).
"""

import re
import sys
import time
import urllib.error
import urllib.request

FRAG = {"Content-Type": "application/trickle-ice-sdpfrag"}


def http(url, data=None, method="GET", headers=None):
    """(status, body, headers) of one request; an HTTP error status is an answer too."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def lines_of(frag):
    return [l.strip() for l in frag.splitlines()
            if l.startswith("a=candidate:") or l.strip() == "a=end-of-candidates"]


def trickle(signal, room, session, offer, answer, wait):
    """Relays candidates both ways until both ends; returns the kinds the offerer sent."""
    theirs_done = "a=ice-options:trickle" not in offer
    ours_done = "a=ice-options:trickle" not in answer or "a=end-of-candidates" in answer
    had, kinds = 0, []
    until = time.monotonic() + wait
    while not (theirs_done and ours_done) and time.monotonic() < until:
        news = []
        if not theirs_done:
            status, body, _ = http(f"{signal}/rooms/{room}/candidates/offer?from={had}")
            if status == 200:
                news = lines_of(body)
                had += len(news)
            elif status == 404:
                theirs_done = True
        for l in news:
            m = re.search(r" typ (\w+)", l)
            if m and m.group(1) not in kinds:
                kinds.append(m.group(1))
            theirs_done |= l == "a=end-of-candidates"
        body = "".join(f"{l}\r\n" for l in news).encode()
        status, ours, _ = http(session, data=body, method="PATCH", headers=FRAG)
        if status == 404:
            break
        if status == 200 and lines_of(ours):
            http(f"{signal}/rooms/{room}/candidates/answer", data=ours.encode(), method="POST",
                 headers=FRAG)
            ours_done |= "a=end-of-candidates" in lines_of(ours)
        time.sleep(0.05)
    return kinds


def main():
    signal, room, local = sys.argv[1:4]
    wait = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    offer = None
    until = time.monotonic() + 30
    while offer is None and time.monotonic() < until:
        status, body, _ = http(f"{signal}/rooms/{room}/offer")
        if status == 200:
            offer = body
        else:
            time.sleep(0.1)
    if offer is None:
        sys.exit(f"no offer in room {room} after 30 s")
    sdp = {"Content-Type": "application/sdp"}
    req = urllib.request.Request(f"{local}/webrtc", data=offer.encode(), method="POST",
                                 headers=sdp)
    with urllib.request.urlopen(req, timeout=20) as r:
        answer = r.read().decode()
        location = r.headers.get("Location", "")
    status, _, _ = http(f"{signal}/rooms/{room}/answer", data=answer.encode(), method="POST",
                        headers=sdp)
    assert status == 204, status
    kinds = trickle(signal, room, f"{local}{location}", offer, answer, wait) if location else []
    print("trickled-in " + " ".join(kinds), flush=True)
    print("bridged", flush=True)


if __name__ == "__main__":
    main()
