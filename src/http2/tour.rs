//! The \[L7\] HTTP/2 section of `netlab tour`: the same GET over HTTP/1.1 and HTTP/2 with the
//! bytes each puts on the wire, HPACK shrinking repeated requests, a slow stream that does
//! not hold back fast ones, and a push. Every server runs in this process on a loopback
//! port the kernel picks; the bytes are counted by a relay in front of each.

use super::client::{self, Fetched, Options, Outgoing};
use super::server::{self as h2server, Config, Security};
use crate::guide::{Guide, TourError, untraced};
use crate::http::services::{app, notes::Store};
use crate::http::uri::Url;
use crate::http1::client::{Client, Options as H1Options, Outgoing as H1Outgoing};
use crate::http1::server as h1server;
use crate::l4::relay::{self, Totals};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A relay in front of `target` for one connection, counting the bytes each way (at the
/// socket: everything, headers, frames and all). The totals come when the connection ends.
pub fn counted(target: SocketAddr) -> std::io::Result<(SocketAddr, JoinHandle<Totals>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let handle = thread::Builder::new()
        .name("byte counter".into())
        .spawn(move || {
            let (Ok((client, _)), Ok(server)) = (listener.accept(), TcpStream::connect(target))
            else {
                return Totals {
                    up: 0,
                    down: 0,
                    idled_out: false,
                };
            };
            relay::relay(client, server, Some(Duration::from_secs(30)), None)
        })?;
    Ok((addr, handle))
}

fn url(g: &Guide, s: &str) -> Result<Url, TourError> {
    Url::parse(s).map_err(|e| g.fail(s, e))
}

/// `n` GETs of `path` over HTTP/1.1 on one kept-alive connection: the bytes each way.
fn http1_gets(g: &Guide, site: SocketAddr, path: &str, n: usize) -> Result<Totals, TourError> {
    let (front, counter) = counted(site).map_err(|e| g.fail("relay", e))?;
    {
        let mut client = Client::new(H1Options::default());
        for _ in 0..n {
            let r = client
                .send(&H1Outgoing::new(
                    "GET",
                    url(g, &format!("http://{front}{path}"))?,
                ))
                .map_err(|e| g.fail("HTTP/1.1 GET", e))?;
            if r.status != 200 {
                return Err(g.fail("HTTP/1.1 GET", format!("status {}", r.status)));
            }
        }
    } // the client, and its connection, end here
    counter
        .join()
        .map_err(|_| g.fail("relay", "the counter failed"))
}

/// `n` GETs of `path` over HTTP/2 as streams of one connection: the bytes each way.
fn http2_gets(
    g: &Guide,
    site: SocketAddr,
    paths: &[&str],
    opts: &Options,
) -> Result<(Totals, Vec<Fetched>), TourError> {
    let (front, counter) = counted(site).map_err(|e| g.fail("relay", e))?;
    let mut requests = Vec::new();
    for p in paths {
        requests.push(Outgoing::get(url(g, &format!("http://{front}{p}"))?));
    }
    let mut out = Vec::new();
    for r in client::fetch_timed(requests, opts).map_err(|e| g.fail("HTTP/2 GET", e))? {
        out.push(r.map_err(|e| g.fail("HTTP/2 stream", e))?);
    }
    let totals = counter
        .join()
        .map_err(|_| g.fail("relay", "the counter failed"))?;
    Ok((totals, out))
}

/// The steps of this section, in the order `run` takes them (`netlab tour --list`; the
/// guide checks that each `g.step` says the same).
pub const STEPS: &[&str] = &[
    "one site, two versions: the monolith over HTTP/1.1 and over HTTP/2 (h2c)",
    "the same GET: text lines over TCP, then binary frames over TCP",
    "ten identical GETs on one connection: HPACK's dynamic table at work",
    "multiplexing: one slow response (/delay/600) and three fast ones, on one connection",
    "server push: /push names its style and script; a client that allows push gets them unasked",
];

/// The \[L7\] HTTP/2 section.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    g.step("one site, two versions: the monolith over HTTP/1.1 and over HTTP/2 (h2c)");
    let handler = Arc::new(app::monolith(Store::new(), None));
    let l1 = TcpListener::bind("127.0.0.1:0").map_err(|e| g.fail("bind", e))?;
    let h1 = h1server::spawn(
        l1,
        handler.clone(),
        h1server::Config::default(),
        Arc::new(h1server::plain),
    )
    .map_err(|e| g.fail("start HTTP/1.1", e))?;
    let l2 = TcpListener::bind("127.0.0.1:0").map_err(|e| g.fail("bind", e))?;
    let h2 = h2server::spawn(l2, handler, Config::default(), Security::Cleartext)
        .map_err(|e| g.fail("start HTTP/2", e))?;
    g.say(&format!(
        "HTTP/1.1 on http://{}, HTTP/2 (prior knowledge) on http://{} — the same router",
        h1.addr(),
        h2.addr()
    ));
    let opts = Options {
        h2c: true,
        ..Options::default()
    };

    g.step("the same GET: text lines over TCP, then binary frames over TCP");
    let one1 = http1_gets(g, h1.addr(), "/status/200", 1)?;
    let (one2, _) = http2_gets(g, h2.addr(), &["/status/200"], &opts)?;
    g.say(&format!(
        "HTTP/1.1: {} bytes up, {} down. HTTP/2: {} up, {} down — the preface, SETTINGS and \
         WINDOW_UPDATE frames cost more than one small request saves.",
        one1.up, one1.down, one2.up, one2.down
    ));

    g.step("ten identical GETs on one connection: HPACK's dynamic table at work");
    // The HTTP/1.1 GETs are step 2's, ten times over: counted, not traced.
    let ten1 = untraced(|| http1_gets(g, h1.addr(), "/status/200", 10))?;
    g.say("ten GETs over HTTP/1.1 on one kept-alive connection (not traced: each is step 2's again); then ten over HTTP/2:");
    let paths = ["/status/200"; 10];
    let (ten2, _) = http2_gets(g, h2.addr(), &paths, &opts)?;
    let per = |t: Totals, one: Totals| (t.up.saturating_sub(one.up)) / 9;
    g.say(&format!(
        "each further request: HTTP/1.1 {} bytes up, HTTP/2 {} bytes up (fields named by their \
         index in the dynamic table). Ten: {} vs {} bytes up.",
        per(ten1, one1),
        per(ten2, one2),
        ten1.up,
        ten2.up
    ));
    if per(ten2, one2) >= per(ten1, one1) {
        return Err(g.fail(
            "HPACK",
            "a repeated HTTP/2 request was not smaller than an HTTP/1.1 one",
        ));
    }

    g.step("multiplexing: one slow response (/delay/600) and three fast ones, on one connection");
    let (_, fetched) = http2_gets(
        g,
        h2.addr(),
        &["/delay/600", "/status/200", "/status/201", "/status/202"],
        &opts,
    )?;
    for (p, f) in ["/delay/600", "/status/200", "/status/201", "/status/202"]
        .iter()
        .zip(&fetched)
    {
        g.say(&format!(
            "{p}: {} {} after {} ms",
            f.response.status,
            f.response.reason,
            f.done_after.as_millis()
        ));
    }
    if fetched[1..]
        .iter()
        .any(|f| f.done_after >= fetched[0].done_after)
    {
        return Err(g.fail("multiplexing", "a fast stream waited for the slow one"));
    }
    g.say("the fast streams were answered while the slow one was still being worked on: no head-of-line blocking between streams (TCP's own still applies: one lost segment stalls them all).");

    g.step("server push: /push names its style and script; a client that allows push gets them unasked");
    let push_opts = Options {
        accept_push: true,
        ..opts.clone()
    };
    let (_, fetched) = http2_gets(g, h2.addr(), &["/push"], &push_opts)?;
    let pushed: Vec<&str> = fetched[0].pushed.iter().map(|(p, _)| p.as_str()).collect();
    g.say(&format!("pushed with /push: {}", pushed.join(", ")));
    if pushed != ["/push/style.css", "/push/app.js"] {
        return Err(g.fail(
            "push",
            format!("expected the style and the script, got {pushed:?}"),
        ));
    }
    g.say("browsers have dropped push (it sent what caches already held); 103 Early Hints with the same Link fields took its place.");
    h2.stop();
    h1.stop();
    Ok(())
}
