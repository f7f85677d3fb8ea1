// Drives Debian's chromium (headless, no browser download) with playwright-core against
// `netlab webrtc serve`. Prints one JSON line with what the page saw; exits 1 on failure.
//
//   node chromium.js echo  URL          a channel to the Rust echo peer: text, binary, 100 kB
//   node chromium.js rooms URL ROOM     two pages connect to each other through the relay
//   node chromium.js join URL ROOM      one page answers the offer `netlab webrtc connect
//                                       --room ROOM` put in the room: Chromium as answerer
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

(async () => {
  const [mode, url, room] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
  let result;
  try {
    if (mode === "rooms") result = await rooms(browser, url, room || "lab");
    else if (mode === "join") result = await join(browser, url, room || "lab");
    else result = await echo(browser, url);
  } catch (e) {
    result = { ok: false, error: String(e) };
  }
  await browser.close();
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
})();
