// Drives Debian's chromium (headless, no browser download) with playwright-core against
// `netlab webrtc serve`. Prints one JSON line with what the page saw; exits 1 on failure.
//
//   node chromium.js echo  URL          a channel to the Rust echo peer: text, binary, 100 kB
//   node chromium.js rooms URL ROOM     two pages connect to each other through the relay
//   node chromium.js join URL ROOM      one page answers the offer `netlab webrtc connect
//                                       --room ROOM` put in the room: Chromium as answerer
//   node chromium.js channels URL       against tests/webrtc_channels.rs's peer: it closes
//                                       channel "a" when asked ("close"), channel "b" takes
//                                       the freed id, "big" gets the largest message and the
//                                       refusal of one byte more, netlab opens "n", closes
//                                       it and opens it again on the same id, then the page
//                                       closes "b"
//
// The URL's query may name netlab's STUN/TURN servers for the page's iceServers (?stun=,
// ?turn=, ?relay=1: see page.html); the JSON line then says which pair ICE selected.
//
// Run it inside a loopback-only network namespace (tests/webrtc/netns.rs).
"use strict";
const { chromium } = require("playwright-core");

const ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
];

async function waitFor(page, expr, ms) {
  await page.waitForFunction(expr, null, { timeout: ms, polling: 50 });
}

async function echo(browser, url) {
  const page = await browser.newPage();
  await page.goto(url);
  await page.click("#connect");
  await waitFor(page, "window.netlab.opened || window.netlab.errors.length > 0", 15000);
  const errors = await page.evaluate("window.netlab.errors");
  if (errors.length) return { ok: false, errors };
  await page.evaluate(() => {
    window.netlabSend.text("hello from chromium");
    window.netlabSend.binary(100000);
    window.netlabSend.text("é ✓");
  });
  await waitFor(page, "window.netlab.received.length >= 3", 15000);
  const received = await page.evaluate("window.netlab.received");
  // The sum of i % 251 over 100000 bytes, mod 65536, as the page computes it.
  let sum = 0;
  for (let i = 0; i < 100000; i++) sum = (sum + (i % 251)) % 65536;
  const ok = received[0].kind === "text" && received[0].text === "hello from chromium"
    && received[1].kind === "binary" && received[1].length === 100000 && received[1].sum === sum
    && received[2].kind === "text" && received[2].text === "é ✓";
  await waitFor(page, "document.getElementById('trace').textContent.includes('DATA_CHANNEL_ACK')", 5000);
  const pair = await page.evaluate("window.netlabPair()");
  return { ok, received, traced: true, pair };
}

async function rooms(browser, url, room) {
  const a = await browser.newPage();
  const b = await browser.newPage();
  await a.goto(url);
  await b.goto(url);
  for (const p of [a, b]) await p.fill("#room", room);
  // Started, not awaited: tab A's create() waits for the answer tab B's join() makes.
  await a.evaluate(() => { window.netlabRoomStart.create().catch((e) => window.netlabRoom.error = String(e)); });
  await b.evaluate(() => { window.netlabRoomStart.join().catch((e) => window.netlabRoom.error = String(e)); });
  await waitFor(a, "window.netlabRoom.opened", 15000);
  await waitFor(b, "window.netlabRoom.opened", 15000);
  await a.evaluate(() => window.netlabRoomStart.send("from tab A"));
  await b.evaluate(() => window.netlabRoomStart.send("from tab B"));
  await waitFor(a, "window.netlabRoom.received.length >= 1", 10000);
  await waitFor(b, "window.netlabRoom.received.length >= 1", 10000);
  const ra = await a.evaluate("window.netlabRoom.received");
  const rb = await b.evaluate("window.netlabRoom.received");
  return { ok: ra[0] === "from tab B" && rb[0] === "from tab A", a: ra, b: rb };
}

async function join(browser, url, room) {
  const page = await browser.newPage();
  await page.goto(url);
  await page.fill("#room", room);
  await page.evaluate(() => { window.netlabRoomStart.join().catch((e) => window.netlabRoom.error = String(e)); });
  await waitFor(page, "window.netlabRoom.opened", 20000);
  await waitFor(page, "window.netlabRoom.received.length >= 1", 10000);
  const received = await page.evaluate("window.netlabRoom.received");
  const pair = await page.evaluate("window.netlabPair()");
  await page.evaluate(() => window.netlabRoomStart.send("hello rust"));
  // Give SCTP a moment to carry the reply before the page goes away.
  await new Promise((r) => setTimeout(r, 1000));
  return { ok: received[0] === "hello chromium", received, pair };
}

// In the page: every step of `channels`, each bounded by a timeout that names it.
async function channelsInPage() {
  const within = (what, p) => Promise.race([p, new Promise((_, no) => setTimeout(() => no(new Error("timeout: " + what)), 10000))]);
  const event = (ch, name) => new Promise((yes) => ch.addEventListener(name, yes, { once: true }));
  const pc = new RTCPeerConnection();
  const a = pc.createDataChannel("a");
  await pc.setLocalDescription(await pc.createOffer());
  const r = await fetch("/webrtc", { method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp });
  await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
  await within("a open", event(a, "open"));
  const out = { a: a.id, maxMessageSize: pc.sctp.maxMessageSize };
  // 1. netlab closes "a" (a stream reset): onclose fires here.
  const aClosed = event(a, "close");
  a.send("close");
  await within("a closed by netlab", aClosed);
  out.aState = a.readyState;
  // 2. A new channel: Chromium gives it the lowest free id, the one "a" had.
  const b = pc.createDataChannel("b");
  b.binaryType = "arraybuffer";
  await within("b open", event(b, "open"));
  out.b = b.id;
  const next = () => within("a message on b", event(b, "message")).then((e) => e.data);
  b.send("on b");
  out.echo = await next();
  // 3. The largest message netlab may send us; netlab reports the refusal of one byte more.
  b.send("big");
  out.bigLength = (await next()).byteLength;
  b.send("after big");
  out.afterBig = await next();
  // 5. netlab opens a channel ("open" asks it), closes it when asked, and opens another:
  // the second takes the id the first had.
  const fromNetlab = () => within("a channel from netlab", new Promise((yes) => { pc.ondatachannel = (e) => yes(e.channel); }));
  const ready = async (ch) => { if (ch.readyState !== "open") await within("n open", event(ch, "open")); return ch; };
  let n = fromNetlab();
  b.send("open");
  const n1 = await ready(await n);
  const n1Closed = event(n1, "close");
  n1.send("close");
  await within("n closed by netlab", n1Closed);
  await new Promise((r) => setTimeout(r, 300));
  n = fromNetlab();
  b.send("open");
  const n2 = await ready(await n);
  out.n1 = n1.id;
  out.n2 = n2.id;
  n2.send("on n");
  out.nEcho = await within("echo on n", event(n2, "message")).then((e) => e.data);
  // 4. The page closes "b": netlab sees the reset, and onclose fires once netlab's reciprocal
  // reset is back.
  const bClosed = event(b, "close");
  b.close();
  await within("b closed", bClosed);
  out.bState = b.readyState;
  out.pcState = pc.connectionState;
  await new Promise((r) => setTimeout(r, 300));
  pc.close();
  return out;
}

async function channels(browser, url) {
  const page = await browser.newPage();
  await page.goto(url);
  const out = await page.evaluate(channelsInPage);
  return { ok: out.aState === "closed" && out.bState === "closed", ...out };
}

(async () => {
  const [mode, url, room] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
  let result;
  try {
    if (mode === "rooms") result = await rooms(browser, url, room || "lab");
    else if (mode === "join") result = await join(browser, url, room || "lab");
    else if (mode === "channels") result = await channels(browser, url);
    else result = await echo(browser, url);
  } catch (e) {
    result = { ok: false, error: String(e) };
  }
  await browser.close();
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
})();
