"""netlab's own peer (its full ICE agent) in one home of `netlab nat`'s topology
(tests/nat.rs), printing the same lines as aiortc_peer.py and chromium.js:

    netlab_peer.py offer|answer SIGNAL ROOM ICE [WAIT]

  offer   `netlab webrtc connect --room ROOM SIGNAL nat-ping`: offers into the room, and
          prints the echo of nat-ping
  answer  `netlab webrtc serve` on this home's address, and room_bridge.py to hand it the
          room's offer (a peer behind a NAT cannot be POSTed to from outside); it echoes

ICE is host, stun or turn, as for the others (netlab's --stun and --turn). The chosen pair
comes from netlab's trace: `[stun] · ICE state completed: selected srflx A ↔ srflx B …`.
The netlab binary is $NETLAB. Processes are stopped by pid.

Trickle ICE is $NETLAB_TRICKLE (`on` or `off`, the default): on only when the peer on the
other side is netlab too, the one peer here that trickles through the room (its
/rooms/R/candidates endpoints). With it on, `trickled-in KINDS` says which kinds of candidate
came by trickle from the other side (after the SDP, which carried only host candidates).
`since start N ms` is the time from this peer's start to its selected pair.
"""

import os
import re
import subprocess
import sys
import threading
import time

NETLAB = os.environ.get("NETLAB", "netlab")
HERE = os.path.dirname(os.path.abspath(__file__))
# Every interface of the home, so its address (not only loopback) is a host candidate.
BIND = ["--ip", "0.0.0.0"]
SELECTED = re.compile(r"ICE state completed: selected (\w+) (\S+) ↔ (\w+) (\S+)")
TRICKLE = os.environ.get("NETLAB_TRICKLE", "off")


def ice_flags(ice):
    flags = ["--ice", "full"] + BIND
    if ice in ("stun", "turn"):
        flags += ["--stun", "203.0.113.1:3478"]
    if ice == "turn":
        flags += ["--turn", "turn:203.0.113.1:3479", "--turn-user", "netlab", "--turn-pass", "netlab"]
    return flags


class Watch:
    """Reads a netlab's stderr (its trace) in a thread, noting the candidates it gathered
    and the pair it selected."""

    def __init__(self, stream):
        self.kinds, self.selected, self.start, self.opened = [], None, None, None
        self.lines, self.trickled, self.began = [], [], time.monotonic()
        threading.Thread(target=self.read, args=(stream,), daemon=True).start()

    def read(self, stream):
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            m = re.search(r"local candidate gathered: (\w+) ", line)
            if m and m.group(1) not in self.kinds:
                self.kinds.append(m.group(1))
            # The offerer's trace of the answerer's candidates, fetched from the room.
            m = re.search(r"a=candidate:.* typ (\w+).*trickled through the room", line)
            if m and m.group(1) not in self.trickled:
                self.trickled.append(m.group(1))
            if "remote candidate:" in line and self.start is None:
                self.start = time.monotonic()
            m = SELECTED.search(line)
            if m and self.selected is None:
                self.selected = f"{m.group(1)} {m.group(2)} -> {m.group(3)} {m.group(4)}"
                self.opened = time.monotonic()

    def report(self, wait):
        order = ["host", "srflx", "prflx", "relay"]
        print("candidates " + " ".join(sorted(self.kinds, key=order.index)), flush=True)
        if self.selected:
            took = (self.opened - (self.start or self.opened)) * 1000
            print(f"open pair {self.selected} in {took:.0f} ms", flush=True)
            print(f"since start {(self.opened - self.began) * 1000:.0f} ms", flush=True)
        else:
            print(f"failed no pair selected in {wait:.1f} s", flush=True)


def offer(signal, room, ice, wait):
    cmd = [NETLAB, "--trace=stun,sdp", "webrtc", "connect", "--trickle", TRICKLE, *ice_flags(ice),
           "--timeout", str(int(wait * 1000)), "--room", room, signal, "nat-ping"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watch = Watch(p.stderr)
    timer = threading.Timer(wait + 30, p.kill)
    timer.start()
    out = p.stdout.read()
    p.wait()
    timer.cancel()
    time.sleep(0.2)
    watch.report(wait)
    if TRICKLE == "on":
        print("trickled-in " + " ".join(watch.trickled), flush=True)
    for line in out.decode(errors="replace").splitlines():
        if line.strip() == "nat-ping":
            print("echo nat-ping", flush=True)


def answer(signal, room, ice, wait):
    addr = sys.argv[6] if len(sys.argv) > 6 else "198.51.100.2:8090"
    # Off unless the offerer is netlab: Chromium's and aiortc's offers say
    # a=ice-options:trickle, but neither fetches candidates from the room, so the answer must
    # carry every one.
    cmd = [NETLAB, "--trace=stun,sdp", "webrtc", "serve", "--addr", addr, "--trickle", TRICKLE,
           *ice_flags(ice)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if not p.stdout.readline().decode().startswith("listening on"):
            print("failed netlab webrtc serve did not start", flush=True)
            return
        watch = Watch(p.stderr)
        bridge = subprocess.run(
            [sys.executable, os.path.join(HERE, "room_bridge.py"), signal, room, f"http://{addr}",
             str(wait)],
            capture_output=True, timeout=60,
        )
        if bridge.returncode != 0:
            print(f"failed bridge: {bridge.stderr.decode().strip()[-200:]}", flush=True)
            return
        trickled = [l for l in bridge.stdout.decode().splitlines() if l.startswith("trickled-in")]
        until = time.monotonic() + wait
        while watch.selected is None and time.monotonic() < until:
            time.sleep(0.1)
        # The offerer's ping comes and is echoed; stay until it has it.
        time.sleep(1.5)
        watch.report(wait)
        if TRICKLE == "on":
            print(trickled[0] if trickled else "trickled-in", flush=True)
    finally:
        if os.environ.get("NETLAB_PEER_LOG"):
            with open(os.environ["NETLAB_PEER_LOG"], "w") as f:
                f.write("\n".join(watch.lines))
        p.kill()
        p.wait()


def main():
    role, signal, room, ice = sys.argv[1:5]
    wait = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
    assert role in ("offer", "answer") and ice in ("host", "stun", "turn"), sys.argv
    (offer if role == "offer" else answer)(signal, room, ice, wait)


if __name__ == "__main__":
    main()
