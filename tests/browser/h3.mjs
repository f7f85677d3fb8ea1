#!/usr/bin/env node
// Loads one page over HTTP/3 in Debian's Chromium (headless) and reports how it came.
//
// Usage: node tests/browser/h3.mjs https://localhost:PORT/PATH --spki BASE64 [--port PORT]
//
// Prints one line of JSON to stdout and exits 0:
//   {"status":200,"protocol":"h3","title":"...","resources":[{"name":...,"nextHopProtocol":"h3",
//    "transferSize":...}, ...]}
// "protocol" is the navigation's nextHopProtocol: the caller checks that it is "h3" (this
// script only reports). On any failure: "error: ..." on stderr, exit 1. At most 30 s; Chromium
// is always closed and its fresh profile folder removed.
//
// Why these Chromium flags:
//   --origin-to-force-quic-on=localhost:PORT  speak QUIC to that origin at once (no Alt-Svc,
//       no TCP first: the test server has no TCP listener at all)
//   --ignore-certificate-errors-spki-list=PIN trust the server's key (tests/h3/spki.py CERT);
//       Chromium reads it only together with a --user-data-dir, which Playwright passes
//       (a fresh temporary profile for every launch)
//   --host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND
//       localhost is IPv4 loopback, and no other name resolves: the browser stays on loopback
// QUIC must stay enabled: never pass --disable-quic.

import { chromium } from "playwright-core";

const DEADLINE_MS = 30_000;

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

// 1. Arguments: the URL, the SPKI pin, and the port (taken from the URL unless given).
const argv = process.argv.slice(2);
let url, spki, port;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--spki") spki = argv[++i];
  else if (argv[i] === "--port") port = argv[++i];
  else if (!url && !argv[i].startsWith("--")) url = argv[i];
  else {
    console.error("usage: node h3.mjs https://localhost:PORT/PATH --spki BASE64 [--port PORT]");
    process.exit(2);
  }
}
if (!url || !spki) {
  console.error("usage: node h3.mjs https://localhost:PORT/PATH --spki BASE64 [--port PORT]");
  process.exit(2);
}
const u = new URL(url);
if (u.protocol !== "https:" || u.hostname !== "localhost") {
  fail(`${url}: use https://localhost:PORT/... (the flags below name localhost)`);
}
port = port || u.port || "443";

// 2. Chromium, always stopped: at the deadline we exit, and Playwright's exit handler then
// kills the whole browser process group and removes its profile folder.
let browser;
const deadline = setTimeout(() => fail(`no answer within ${DEADLINE_MS / 1000} s`), DEADLINE_MS);

try {
  // 3. Start Chromium. Playwright itself passes --user-data-dir=<a fresh folder in $TMPDIR>
  // (and refuses one in args), and removes that folder when the browser stops; a fresh profile
  // means no cache, no stored Alt-Svc and no earlier certificate decision. headless:false
  // because we pass --headless=new ourselves (Playwright would add a plain --headless);
  // Playwright adds --no-sandbox too, which Chromium needs when run as root.
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: false,
    timeout: DEADLINE_MS,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      `--origin-to-force-quic-on=localhost:${port}`,
      `--ignore-certificate-errors-spki-list=${spki}`,
      // No shell here, so no quotes around the rule list.
      "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND",
    ],
  });
  const page = await browser.newPage();

  // 4. Load the page and everything it references (the load event waits for images, CSS …).
  const response = await page.goto(url, { waitUntil: "load", timeout: DEADLINE_MS });
  if (!response) fail(`${url}: no response`);

  // 5. Ask the page itself which protocol carried each request (Resource Timing).
  const report = await page.evaluate(() => ({
    protocol: performance.getEntriesByType("navigation")[0]?.nextHopProtocol ?? null,
    title: document.title,
    resources: performance.getEntriesByType("resource").map((e) => ({
      name: e.name,
      nextHopProtocol: e.nextHopProtocol,
      transferSize: e.transferSize,
    })),
  }));
  console.log(JSON.stringify({ status: response.status(), ...report }));
  clearTimeout(deadline);
  await browser.close();
  process.exit(0);
} catch (e) {
  // e.g. net::ERR_QUIC_PROTOCOL_ERROR when the QUIC handshake or the certificate fails.
  // Exiting is enough: Playwright's exit handler kills Chromium and removes its profile.
  fail(String(e.message || e).split("\n")[0]);
}
