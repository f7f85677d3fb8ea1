// Chromium's TURN client against `netlab turn serve`: Debian's chromium (headless, driven by
// playwright-core) loads the page of `netlab webrtc serve` with every RTCPeerConnection forced
// to iceTransportPolicy "relay" and netlab's TURN server in iceServers, opens a data channel
// to the Rust echo peer (through the relay) and exchanges text. Prints one JSON line: what the
// page received, and the types of the nominated pair's candidates; exits 1 on failure.
//
//   node chromium_relay.js PAGE_URL TURN_PORT USER PASS
//
// Run it inside a loopback-only network namespace (tests/webrtc/netns.rs).
"use strict";
const { chromium } = require("playwright-core");

const ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
];

async function waitFor(page, expr, ms) {
  await page.waitForFunction(expr, null, { timeout: ms, polling: 50 });
}

async function relay(browser, url, port, username, credential) {
  const page = await browser.newPage();
  // Before the page's own script: its `new RTCPeerConnection({iceServers: []})` gets ours.
  await page.addInitScript(({ port, username, credential }) => {
    const Native = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = function (config) {
      const pc = new Native({
        ...(config || {}),
        iceServers: [{ urls: `turn:127.0.0.1:${port}?transport=udp`, username, credential }],
        iceTransportPolicy: "relay",
      });
      window.__pcs.push(pc);
      return pc;
    };
    window.RTCPeerConnection.prototype = Native.prototype;
  }, { port, username, credential });
  await page.goto(url);
  await page.click("#connect");
  await waitFor(page, "window.netlab.opened || window.netlab.errors.length > 0", 30000);
  const errors = await page.evaluate("window.netlab.errors");
  if (errors.length) return { ok: false, errors };
  await page.evaluate(() => window.netlabSend.text("hello through netlab's relay"));
  await waitFor(page, "window.netlab.received.length >= 1", 15000);
  const received = await page.evaluate("window.netlab.received");
  const pair = await page.evaluate(async () => {
    const stats = await window.__pcs[0].getStats();
    let chosen = null;
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) chosen = stats.get(s.selectedCandidatePairId);
    });
    if (!chosen) stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated) chosen = s; });
    if (!chosen) return null;
    const local = stats.get(chosen.localCandidateId);
    const remote = stats.get(chosen.remoteCandidateId);
    return { local: local.candidateType, remote: remote.candidateType, localAddress: `${local.address}:${local.port}` };
  });
  const ok = received[0].kind === "text" && received[0].text === "hello through netlab's relay"
    && pair !== null && pair.local === "relay";
  return { ok, received, pair };
}

(async () => {
  const [url, port, user, pass] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
  let result;
  try {
    result = await relay(browser, url, Number(port), user, pass);
  } catch (e) {
    result = { ok: false, error: String(e) };
  }
  await browser.close();
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
})();
