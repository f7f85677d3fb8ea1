// Chromium in one home of `netlab nat`'s topology (tests/nat.rs): Debian's chromium, headless,
// driven by playwright-core, offers a data channel through a room of the public signaling
// server and waits for whoever answers from the other home (aiortc, netlab), or answers
// the offer another peer left in the room and echoes what comes on the channel. Same output
// as aiortc_peer.py, one fact per line:
//
//   node chromium.js offer|answer SIGNAL ROOM ICE [WAIT]
//
//   candidates host srflx
//   open pair host 192.0.2.2:41000 -> srflx 203.0.113.20:52000 in 312 ms
//   echo nat-ping
// or
//   failed ice=checking after 10.0 s
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
async function peer({ role, room, iceServers, wait }) {
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
  // Ours, once gathering is complete, with the kinds of candidate it holds.
  async function postSdp(kind) {
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === "complete") resolve(); };
    });
    const sdp = pc.localDescription.sdp;
    const order = ["host", "srflx", "prflx", "relay"];
    const kinds = [...new Set(sdp.split("\r\n").filter((l) => l.startsWith("a=candidate:")).map((l) => l.split(" ")[7]))];
    lines.push("candidates " + kinds.sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(" "));
    const posted = await fetch(`/rooms/${room}/${kind}`, { method: "POST", headers: { "Content-Type": "application/sdp" }, body: sdp });
    if (posted.status !== 204) throw new Error(`${kind} refused: ${posted.status}`);
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
  } else {
    opened = new Promise((resolve) => {
      pc.ondatachannel = (e) => {
        e.channel.onmessage = (m) => e.channel.send(m.data);
        if (e.channel.readyState === "open") resolve();
        e.channel.onopen = resolve;
      };
    });
    await pc.setRemoteDescription({ type: "offer", sdp: await fetchSdp("offer") });
    await pc.setLocalDescription(await pc.createAnswer());
    await postSdp("answer");
    start = performance.now();
  }
  if (await Promise.race([opened, sleep(wait * 1000).then(() => "timeout")]) === "timeout") {
    lines.push(`failed ice=${pc.iceConnectionState} after ${wait.toFixed(1)} s`);
    pc.close();
    return lines;
  }
  const took = performance.now() - start;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
  let said = "none";
  if (pair) {
    const l = stats.get(pair.localCandidateId);
    const r = stats.get(pair.remoteCandidateId);
    said = `${l.candidateType} ${l.address}:${l.port} -> ${r.candidateType} ${r.address}:${r.port}`;
  }
  lines.push(`open pair ${said} in ${took.toFixed(0)} ms`);
  if (role === "offer") {
    channel.send("nat-ping");
    lines.push(`echo ${await Promise.race([echoed, sleep(5000).then(() => "(none in 5 s)")])}`);
  } else {
    // The offerer's ping comes and is echoed; stay until the offerer has it.
    await sleep(1500);
  }
  pc.close();
  return lines;
}

(async () => {
  const [role, signal, room, ice, wait] = process.argv.slice(2);
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
    const lines = await page.evaluate(peer, { role, room, iceServers: servers(ice), wait: Number(wait || 10) });
    for (const l of lines) console.log(l);
  } catch (e) {
    console.log(`error ${String(e).split("\n")[0]}`);
    code = 1;
  }
  await browser.close();
  process.exit(code);
})();
