//! The \[L7\] HTTP/3 section of `netlab tour`: a QUIC handshake with Retry, several resources
//! as parallel streams of one connection, and the same resources over HTTP/1.1 and HTTP/2
//! (both over TLS) for comparison. Every server runs in this process on a loopback port the
//! kernel picks, with one certificate made for the tour.

use super::client::{self, Options};
use super::config::Identity;
use super::server::{self, Config};
use crate::guide::{Guide, TempDir, TourError, untraced};
use crate::http::handler::Handler;
use crate::http::services::{app, notes::Store};
use crate::http::uri::Url;
use crate::http1::client::{Client, Options as H1Options, Outgoing as H1Outgoing};
use crate::http1::server as h1server;
use crate::http2::client as h2client;
use crate::http2::server::{self as h2server, Security};
use crate::l4::background::Background;
use crate::tls;
use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The steps of this section, in the order `run` takes them.
pub const STEPS: &[&str] = &[
    "an HTTP/3 server on UDP, with Retry: the client proves its address, then the handshake",
    "four resources as parallel streams of one QUIC connection, one of them slow",
    "the same four over HTTP/1.1 + TLS and HTTP/2 + TLS, for comparison",
];

/// The resources the last two steps fetch: one slow, three fast.
const PATHS: [&str; 4] = ["/delay/300", "/status/200", "/status/201", "/status/202"];

fn url(g: &Guide, s: &str) -> Result<Url, TourError> {
    Url::parse(s).map_err(|e| g.fail(s, e))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The \[L7\] HTTP/3 section: one function per step, in the order of `STEPS`.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    g.step(
        "an HTTP/3 server on UDP, with Retry: the client proves its address, then the handshake",
    );
    let site = Site::start(g)?;
    site.handshake(g)?;
    g.step("four resources as parallel streams of one QUIC connection, one of them slow");
    let (got, h3_all) = site.streams(g)?;
    g.step("the same four over HTTP/1.1 + TLS and HTTP/2 + TLS, for comparison");
    let h3_fast = got.responses[1..]
        .iter()
        .map(|r| r.done_after)
        .max()
        .unwrap_or_default();
    site.over_tcp(g, h3_fast, h3_all)?;
    site.h3.stop();
    Ok(())
}

/// The section's servers share one certificate (its files in a temp dir that goes with
/// the section) and one handler.
struct Site {
    files: TempDir,
    handler: Arc<dyn Handler>,
    h3: Background,
    port: u16,
    opts: Options,
}

impl Site {
    /// Step 1, first half: a certificate, and the HTTP/3 server with Retry on.
    fn start(g: &mut Guide) -> Result<Site, TourError> {
        let pki = tls::certs::generate().map_err(|e| g.fail("certificate", e))?;
        let files = TempDir::new("h3").map_err(|e| g.fail("temp dir", e))?;
        for (name, pem) in [
            ("ca.pem", &pki.ca_pem),
            ("cert.pem", &pki.leaf_pem),
            ("key.pem", &pki.leaf_key_pem),
        ] {
            std::fs::write(files.join(name), pem).map_err(|e| g.fail("temp dir", e))?;
        }
        let handler: Arc<dyn Handler> = Arc::new(app::monolith(Store::new(), None));
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| g.fail("bind", e))?;
        let config = Config {
            retry: true,
            ..Config::default()
        };
        let h3 = server::spawn(socket, Identity::from_pki(&pki), handler.clone(), config)
            .map_err(|e| g.fail("start HTTP/3", e))?;
        let port = h3.addr().port();
        g.say(&format!(
            "HTTP/3 on udp 127.0.0.1:{port} (one socket for every connection)"
        ));
        let opts = Options {
            cacert: Some(files.join("ca.pem")),
            ..Options::default()
        };
        Ok(Site {
            files,
            handler,
            h3,
            port,
            opts,
        })
    }

    /// Step 1, second half: one GET, whose handshake starts with a Retry.
    fn handshake(&self, g: &mut Guide) -> Result<(), TourError> {
        let url = url(g, &format!("https://localhost:{}/status/200", self.port))?;
        let first = client::fetch(&[url], &self.opts).map_err(|e| g.fail("HTTP/3 GET", e))?;
        g.say(&format!(
            "Initial → Retry (a token, HMAC over our address) → Initial with the token → the server's \
             Initial + Handshake → our Handshake: {} handshake{}; {}",
            ms(first.handshake),
            if first.retried { " with a Retry" } else { "" },
            first.stats
        ));
        if !first.retried {
            return Err(g.fail(
                "Retry",
                "the server was started with Retry, but the client saw none",
            ));
        }
        g.say("TLS 1.3 ran inside QUIC's CRYPTO frames: one round trip for transport and encryption together, where TCP + TLS take two (plus the Retry's, asked for here).");
        Ok(())
    }

    /// Step 2: the four resources as streams of one connection; the slow one holds back none.
    fn streams(&self, g: &mut Guide) -> Result<(client::Outcome, Duration), TourError> {
        let mut urls = Vec::new();
        for p in PATHS {
            urls.push(url(g, &format!("https://localhost:{}{p}", self.port))?);
        }
        let started = Instant::now();
        let got = client::fetch(&urls, &self.opts).map_err(|e| g.fail("HTTP/3 GETs", e))?;
        let h3_all = started.elapsed();
        for (p, r) in PATHS.iter().zip(&got.responses) {
            g.say(&format!("{p}: {} after {}", r.status, ms(r.done_after)));
        }
        if got.responses.len() != 4
            || got.responses[1..]
                .iter()
                .any(|r| r.done_after >= got.responses[0].done_after)
        {
            return Err(g.fail("streams", "a fast stream waited for the slow one"));
        }
        g.say("each request had a QUIC stream of its own: the fast ones finished while /delay/300 was still being worked on, and a packet lost on one stream would hold back only that stream.");
        Ok((got, h3_all))
    }

    /// Step 3: the same four over HTTP/1.1 and HTTP/2 on TLS, with the same certificate.
    fn over_tcp(
        &self,
        g: &mut Guide,
        h3_fast: Duration,
        h3_all: Duration,
    ) -> Result<(), TourError> {
        // HTTP/1.1 + TLS was traced in its own section: here it is only timed.
        let (h1_fast, h1_all) = untraced(|| self.over_http1(g))?;
        g.say("HTTP/1.1 + TLS: the four GETs one after another on one connection (not traced: the http1 section shows them); then HTTP/2 + TLS, four streams:");
        let (h2_fast, h2_all) = self.over_http2(g)?;
        g.say(&format!(
            "the three fast ones were all in after: HTTP/1.1 {} (behind the slow one, in turn on one connection), HTTP/2 {} (streams of one TCP connection), HTTP/3 {} (streams of one QUIC connection)",
            ms(h1_fast),
            ms(h2_fast),
            ms(h3_fast)
        ));
        g.say(&format!(
            "all four, connection set-up included: HTTP/1.1 {}, HTTP/2 {}, HTTP/3 {}",
            ms(h1_all),
            ms(h2_all),
            ms(h3_all)
        ));
        if h1_all < Duration::from_millis(300) {
            return Err(g.fail("HTTP/1.1", "the slow resource was not slow"));
        }
        g.say("on loopback nothing is lost, so HTTP/2 and HTTP/3 look alike here; on a lossy path they part: one lost TCP segment stalls every HTTP/2 stream behind it, while QUIC holds back only the stream whose packet was lost.");
        Ok(())
    }

    /// HTTP/1.1 + TLS: one connection, one request at a time (the slow one first holds up
    /// the rest). The time the fast ones were in, and the whole.
    fn over_http1(&self, g: &mut Guide) -> Result<(Duration, Duration), TourError> {
        let (cert, key) = (self.files.join("cert.pem"), self.files.join("key.pem"));
        let (tls1, _) = tls::server_config(Some((&cert, &key)), &[b"http/1.1"])
            .map_err(|e| g.fail("TLS", e))?;
        let l1 = TcpListener::bind("127.0.0.1:0").map_err(|e| g.fail("bind", e))?;
        let limit = Duration::from_secs(10);
        let accept = move |tcp| tls::accept(tls1.clone(), tcp, limit).ok();
        let h1 = h1server::spawn(
            l1,
            self.handler.clone(),
            h1server::Config::default(),
            Arc::new(accept),
        )
        .map_err(|e| g.fail("start HTTP/1.1", e))?;
        let started = Instant::now();
        let mut c = Client::new(H1Options {
            cacert: Some(self.files.join("ca.pem")),
            ..H1Options::default()
        });
        let mut h1_fast = Duration::ZERO;
        for p in PATHS {
            let u = url(g, &format!("https://localhost:{}{p}", h1.addr().port()))?;
            let r = c
                .send(&H1Outgoing::new("GET", u))
                .map_err(|e| g.fail("HTTP/1.1 GET", e))?;
            if r.status >= 300 {
                return Err(g.fail("HTTP/1.1 GET", format!("{p}: {}", r.status)));
            }
            h1_fast = started.elapsed();
        }
        let h1_all = started.elapsed();
        drop(c);
        h1.stop();
        Ok((h1_fast, h1_all))
    }

    /// HTTP/2 + TLS: one TCP connection, four streams. The time the fast ones were in, and
    /// the whole.
    fn over_http2(&self, g: &mut Guide) -> Result<(Duration, Duration), TourError> {
        let (cert, key) = (self.files.join("cert.pem"), self.files.join("key.pem"));
        let (tls2, _) = tls::server_config(Some((&cert, &key)), h2server::ALPN)
            .map_err(|e| g.fail("TLS", e))?;
        let l2 = TcpListener::bind("127.0.0.1:0").map_err(|e| g.fail("bind", e))?;
        let h2 = h2server::spawn(
            l2,
            self.handler.clone(),
            h2server::Config::default(),
            Security::Tls(tls2),
        )
        .map_err(|e| g.fail("start HTTP/2", e))?;
        let mut requests = Vec::new();
        for p in PATHS {
            let u = url(g, &format!("https://localhost:{}{p}", h2.addr().port()))?;
            requests.push(h2client::Outgoing::get(u));
        }
        let started = Instant::now();
        let h2opts = h2client::Options {
            cacert: Some(self.files.join("ca.pem")),
            ..h2client::Options::default()
        };
        let mut h2_fast = Duration::ZERO;
        let fetched =
            h2client::fetch_timed(requests, &h2opts).map_err(|e| g.fail("HTTP/2 GETs", e))?;
        for (i, r) in fetched.into_iter().enumerate() {
            let f = r.map_err(|e| g.fail("HTTP/2 stream", e))?;
            if i > 0 {
                h2_fast = h2_fast.max(f.done_after);
            }
        }
        let h2_all = started.elapsed();
        h2.stop();
        Ok((h2_fast, h2_all))
    }
}
