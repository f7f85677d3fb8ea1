// Chromium in one home of `netlab nat`'s topology (tests/nat.rs): Debian's chromium, headless,
// driven by playwright-core, offers a data channel through a room of the public signaling
// server and waits for whoever answers from the other home (aiortc, netlab), or answers
// the offer another peer left in the room and echoes what comes on the channel. Same output
// as aiortc_peer.py, one fact per line:
//
//   node chromium.js offer|answer SIGNAL ROOM ICE [WAIT [trickle]]
//
//   candidates host srflx
//   open pair host 192.0.2.2:41000 -> srflx 203.0.113.20:52000 in 312 ms
//   echo nat-ping
// or
//   failed ice=checking after 10.0 s
//
// With `trickle` the SDP goes as soon as it is made, each candidate Chromium finds is POSTed
// to /rooms/ROOM/candidates/ROLE, then a=end-of-candidates, and the other side's are
// fetched from /rooms/ROOM/candidates/OTHER?from=N every 50 ms until their end (netlab
// trickles so); a `trickled-in KINDS` line says which kinds came that way.
//
// ICE is host (no servers), stun (netlab's STUN server) or turn (STUN and TURN). The page is
// the signaling server's own, so /rooms is same-origin. Media permission (fake devices) lets
// Chromium gather on every interface: the home has no default route, and without it Chromium
// gathers only on the default route's interface.
"use strict";
const { chromium } = require("playwright-core");

const ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
];

function servers(ice) {
  const list = [];
  if (ice === "stun" || ice === "turn") list.push({ urls: "stun:203.0.113.1:3478" });
  if (ice === "turn") {
    list.push({ urls: "turn:203.0.113.1:3479?transport=udp", username: "netlab", credential: "netlab" });
  }
  return list;
}

// Runs in the page, as the offerer or the answerer: the SDP through the room (every
// candidate in it, not trickled), then the channel open, and what the pair was.
async function peer({ role, room, iceServers, wait, trickle }) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  stream.getTracks().forEach((t) => t.stop());
  const lines = [];
  const pc = new RTCPeerConnection({ iceServers });
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
  // The other side's SDP: 200 once it is in the room, 204 before.
  async function fetchSdp(kind) {
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`/rooms/${room}/${kind}`, { cache: "no-store" });
      if (r.status === 200) return await r.text();
      await sleep(100);
    }
    throw new Error(`no ${kind} in the room after 20 s`);
  }
  const order = ["host", "srflx", "prflx", "relay"];
  const sorted = (kinds) => [...new Set(kinds)].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(" ");
  // Trickling: each candidate found, POSTed in order once our SDP is in the room.
  const found = [];
  let posting = null;
  const early = [];
  const postFrag = (frag) => (posting = posting.then(() => fetch(`/rooms/${room}/candidates/${role}`,
    { method: "POST", headers: { "Content-Type": "application/trickle-ice-sdpfrag" }, body: frag })));
  const gatheredAll = new Promise((resolve) => {
    pc.onicecandidate = (e) => {
      if (e.candidate && !e.candidate.candidate) return;
      if (e.candidate) found.push(e.candidate.candidate.split(" ")[7]);
      else resolve();
      const frag = e.candidate ? `a=${e.candidate.candidate}\r\n` : "a=end-of-candidates\r\n";
      if (!trickle) return;
      if (posting) postFrag(frag); else early.push(frag);
    };
  });
  // Ours: once gathering is complete, or at once when trickling; the kinds of candidate
  // gathered are said when gathering is complete.
  async function postSdp(kind) {
    if (!trickle) await gatheredAll;
    const sdp = pc.localDescription.sdp;
    gatheredAll.then(() => lines.push("candidates " + sorted(found)));
    const posted = await fetch(`/rooms/${room}/${kind}`, { method: "POST", headers: { "Content-Type": "application/sdp" }, body: sdp });
    if (posted.status !== 204) throw new Error(`${kind} refused: ${posted.status}`);
    if (trickle) {
      posting = Promise.resolve();
      for (const f of early.splice(0)) postFrag(f);
    }
  }
  // Theirs, when their SDP says more follow: fetched from the room until their end.
  const trickledIn = [];
  async function fetchTrickled(other, sdp) {
    if (!/a=ice-options:trickle/.test(sdp) || /a=end-of-candidates/.test(sdp)) return;
    let had = 0;
    for (let i = 0; i < wait * 20; i++) {
      const r = await fetch(`/rooms/${room}/candidates/${other}?from=${had}`, { cache: "no-store" });
      if (r.status === 404) return;
      if (r.status === 200) {
        for (const line of (await r.text()).split(/\r?\n/)) {
          if (line === "a=end-of-candidates") return;
          if (!line.startsWith("a=candidate:")) continue;
          had++;
          trickledIn.push(line.split(" ")[7]);
          await pc.addIceCandidate({ candidate: line.slice(2), sdpMid: "0" });
        }
      }
      await sleep(50);
    }
  }
  let channel = null;
  let start = 0;
  let opened;
  let echoed = null;
  if (role === "offer") {
    channel = pc.createDataChannel("nat");
    opened = new Promise((resolve) => { channel.onopen = resolve; });
    echoed = new Promise((resolve) => { channel.onmessage = (e) => resolve(e.data); });
    await pc.setLocalDescription(await pc.createOffer());
    await postSdp("offer");
    const answer = await fetchSdp("answer");
    start = performance.now();
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    if (trickle) fetchTrickled("answer", answer);
  } else {
    opened = new Promise((resolve) => {
      pc.ondatachannel = (e) => {
        e.channel.onmessage = (m) => e.channel.send(m.data);
        if (e.channel.readyState === "open") resolve();
        e.channel.onopen = resolve;
      };
    });
    const offer = await fetchSdp("offer");
    await pc.setRemoteDescription({ type: "offer", sdp: offer });
    await pc.setLocalDescription(await pc.createAnswer());
    await postSdp("answer");
    start = performance.now();
    if (trickle) fetchTrickled("offer", offer);
  }
  const said = (l) => { if (trickle) l.push("trickled-in " + sorted(trickledIn)); return l; };
  if (await Promise.race([opened, sleep(wait * 1000).then(() => "timeout")]) === "timeout") {
    lines.push(`failed ice=${pc.iceConnectionState} after ${wait.toFixed(1)} s`);
    pc.close();
    return said(lines);
  }
  const took = performance.now() - start;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
  let chosen = "none";
  if (pair) {
    const l = stats.get(pair.localCandidateId);
    const r = stats.get(pair.remoteCandidateId);
    chosen = `${l.candidateType} ${l.address}:${l.port} -> ${r.candidateType} ${r.address}:${r.port}`;
  }
  lines.push(`open pair ${chosen} in ${took.toFixed(0)} ms`);
  if (role === "offer") {
    channel.send("nat-ping");
    lines.push(`echo ${await Promise.race([echoed, sleep(5000).then(() => "(none in 5 s)")])}`);
  } else {
    // The offerer's ping comes and is echoed; stay until the offerer has it.
    await sleep(1500);
  }
  pc.close();
  return said(lines);
}

(async () => {
  const [role, signal, room, ice, wait, trickle] = process.argv.slice(2);
  if (role !== "offer" && role !== "answer") {
    console.log(`error the role is offer or answer, not ${role}`);
    process.exit(1);
  }
  // getUserMedia exists only in a secure context: the signaling page is plain http on a
  // documentation address, so that origin is declared secure.
  const args = [...ARGS, `--unsafely-treat-insecure-origin-as-secure=${signal}`];
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args });
  let code = 0;
  try {
    const page = await browser.newPage();
    await page.goto(`${signal}/`);
    const lines = await page.evaluate(peer, { role, room, iceServers: servers(ice), wait: Number(wait || 10), trickle: trickle === "trickle" });
    for (const l of lines) console.log(l);
  } catch (e) {
    console.log(`error ${String(e).split("\n")[0]}`);
    code = 1;
  }
  await browser.close();
  process.exit(code);
})();
