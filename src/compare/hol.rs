//! Head-of-line blocking, shown (`netlab compare --loss PERCENT`): several parallel
//! downloads over HTTP/1.1 (one TCP connection each), HTTP/2 (streams of one TCP connection)
//! and HTTP/3 (streams of one QUIC connection), on a path that drops packets, with the time
//! each piece of each stream arrived.
//!
//! TCP delivers one byte stream in order: a lost segment holds back every byte behind it
//! until it is retransmitted, whatever stream those bytes belong to, so every HTTP/2 stream
//! stalls at once (RFC 9113 §1 names this as what HTTP/2 could not fix). QUIC orders bytes per
//! stream (RFC 9000 §2.2): a lost packet stalls only the stream whose bytes it carried.
//!
//! The path: a network namespace made for the run (loopback only, MTU 1500, 40 Mbit/s with
//! `tbf`), where nftables drops every K-th packet the servers send (`numgen inc`, the same
//! pattern every run; this kernel has no netem). [`run_here`] assumes it is inside such a
//! namespace; `netlab compare --loss` makes one and runs itself in it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::exchange::CompareError;
use crate::http::handler::Handler;
use crate::http::progress::Progress;
use crate::http::services::{app, notes::Store};
use crate::http::uri::Url;

/// The ports inside the namespace (it is ours alone, so fixed ports are safe).
pub const HTTP1_PORT: u16 = 8081;
pub const HTTP2_PORT: u16 = 8082;
pub const HTTP3_PORT: u16 = 4433;

/// The run's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Percent of the servers' packets dropped (1 in round(100 / loss)).
    pub loss: f64,
    pub streams: usize,
    /// Bytes per stream.
    pub size: usize,
}

/// One stream's arrivals: (ms since the start, bytes so far), from (0, 0).
pub type Curve = Vec<(f64, u64)>;

/// When each piece of each stream arrived.
#[derive(Clone, Debug)]
pub struct Arrivals {
    pub version: &'static str,
    pub streams: Vec<Curve>,
}

/// A gap in one stream's arrivals while it was not finished.
#[derive(Clone, Copy, Debug)]
pub struct Stall {
    pub stream: usize,
    pub from_ms: f64,
    pub to_ms: f64,
}

/// The nftables and tc commands that make the path, for the namespace's loopback.
pub fn path_commands(loss: f64) -> Vec<String> {
    let every = (100.0 / loss).round().max(2.0) as u32;
    let mut cmds = vec![
        "ip link set lo mtu 1500".to_string(),
        "ip link set lo up".to_string(),
        "tc qdisc add dev lo root tbf rate 40mbit burst 16kb latency 40ms".to_string(),
        "nft add table inet lossy".to_string(),
        "nft add chain inet lossy in { type filter hook input priority 0 ; }".to_string(),
    ];
    for (proto, port) in [
        ("tcp", HTTP1_PORT),
        ("tcp", HTTP2_PORT),
        ("udp", HTTP3_PORT),
    ] {
        cmds.push(format!(
            "nft add rule inet lossy in {proto} sport {port} numgen inc mod {every} == {} drop",
            every - 1
        ));
    }
    cmds
}

/// Runs one command line (split on spaces; braces and `;` stay words for nft).
fn sh(line: &str) -> Result<(), CompareError> {
    let words: Vec<&str> = line.split(' ').collect();
    let out = Command::new(words[0])
        .args(&words[1..])
        .output()
        .map_err(|e| CompareError(format!("{line}: {e}")))?;
    if !out.status.success() {
        return Err(CompareError(format!(
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Records arrivals from any thread.
#[derive(Clone)]
struct Recorder {
    start: Instant,
    seen: Arc<Mutex<Vec<Curve>>>,
}

impl Recorder {
    fn new(streams: usize) -> Recorder {
        Recorder {
            start: Instant::now(),
            seen: Arc::new(Mutex::new(vec![vec![(0.0, 0)]; streams])),
        }
    }

    fn add(&self, stream: usize, n: usize) {
        let t = self.start.elapsed().as_secs_f64() * 1000.0;
        if let Ok(mut s) = self.seen.lock() {
            if let Some(v) = s.get_mut(stream) {
                let total = v.last().map(|l| l.1).unwrap_or(0) + n as u64;
                v.push((t, total));
            }
        }
    }

    fn take(&self, version: &'static str) -> Arrivals {
        let streams = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        Arrivals { version, streams }
    }
}

/// In a namespace already set up with [`path_commands`]: the three downloads, one after the
/// other, each of `streams` × `size` bytes of the same file.
pub fn run_here(setup: Setup) -> Result<Vec<Arrivals>, CompareError> {
    for cmd in path_commands(setup.loss) {
        sh(&cmd)?;
    }
    let e = |what: &str, x: &dyn std::fmt::Display| CompareError(format!("{what}: {x}"));
    let root = std::env::temp_dir().join(format!("netlab-hol-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|x| e("temp dir", &x))?;
    let blob: Vec<u8> = (0..setup.size).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("blob.bin"), &blob).map_err(|x| e("temp dir", &x))?;
    let handler: Arc<dyn Handler> = Arc::new(app::monolith(Store::new(), Some(root.clone())));
    let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let h1 = crate::http1::server::spawn(
        TcpListener::bind(local(HTTP1_PORT)).map_err(|x| e("bind", &x))?,
        handler.clone(),
        crate::http1::server::Config::default(),
        Arc::new(crate::http1::server::plain),
    )
    .map_err(|x| e("HTTP/1.1", &x))?;
    let h2 = crate::http2::server::spawn(
        TcpListener::bind(local(HTTP2_PORT)).map_err(|x| e("bind", &x))?,
        handler.clone(),
        crate::http2::server::Config::default(),
        crate::http2::server::Security::Cleartext,
    )
    .map_err(|x| e("HTTP/2", &x))?;
    let pki = crate::tls::certs::generate().map_err(|x| e("certificate", &x))?;
    let ca = root.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).map_err(|x| e("temp dir", &x))?;
    let h3 = crate::quic::server::spawn(
        UdpSocket::bind(local(HTTP3_PORT)).map_err(|x| e("bind", &x))?,
        crate::quic::config::Identity::from_pki(&pki),
        handler,
        crate::quic::server::Config::default(),
    )
    .map_err(|x| e("HTTP/3", &x))?;

    // HTTP/1.1: one connection per stream, all at once, each read as it comes.
    let rec = Recorder::new(setup.streams);
    let threads: Vec<_> = (0..setup.streams)
        .map(|i| {
            let rec = rec.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let mut s = TcpStream::connect(local(HTTP1_PORT)).map_err(|e| e.to_string())?;
                // A download that stops for this long is a failure, not a hang.
                s.set_read_timeout(Some(Duration::from_secs(60)))
                    .map_err(|e| e.to_string())?;
                s.write_all(
                    b"GET /blob.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                )
                .map_err(|e| e.to_string())?;
                let mut buf = vec![0u8; 64 * 1024];
                // The head first (it may come in pieces), then body bytes as they arrive.
                let mut head = Vec::new();
                let mut in_head = true;
                loop {
                    let n = s.read(&mut buf).map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Ok(());
                    }
                    if !in_head {
                        rec.add(i, n);
                        continue;
                    }
                    head.extend_from_slice(&buf[..n]);
                    if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        in_head = false;
                        let body = head.len() - (p + 4);
                        if body > 0 {
                            rec.add(i, body);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| CompareError("HTTP/1.1 download thread".into()))?
            .map_err(|x| e("HTTP/1.1 download", &x))?;
    }
    let a1 = rec.take("HTTP/1.1");

    // HTTP/2: every stream on one connection.
    let rec = Recorder::new(setup.streams);
    let r2 = rec.clone();
    let mut requests = Vec::new();
    for _ in 0..setup.streams {
        let url = Url::parse(&format!("http://127.0.0.1:{HTTP2_PORT}/blob.bin"))
            .map_err(|x| e("URL", &x))?;
        requests.push(crate::http2::client::Outgoing::get(url));
    }
    let opts = crate::http2::client::Options {
        h2c: true,
        timeout: Duration::from_secs(60),
        progress: Some(Progress::new(move |i, n| r2.add(i, n))),
        ..Default::default()
    };
    for r in crate::http2::client::fetch(requests, &opts).map_err(|x| e("HTTP/2", &x))? {
        r.map_err(|x| e("HTTP/2 stream", &x))?;
    }
    let a2 = rec.take("HTTP/2");

    // HTTP/3: every stream on one QUIC connection.
    let rec = Recorder::new(setup.streams);
    let r3 = rec.clone();
    let mut urls = Vec::new();
    for _ in 0..setup.streams {
        urls.push(
            Url::parse(&format!("https://localhost:{HTTP3_PORT}/blob.bin"))
                .map_err(|x| e("URL", &x))?,
        );
    }
    let opts = crate::quic::client::Options {
        cacert: Some(ca),
        timeout: Duration::from_secs(60),
        // RFC 9218: incremental, so the server interleaves the streams as HTTP/2 does (the
        // default, non-incremental, sends one response after the other).
        headers: vec![("priority".into(), "u=3, i".into())],
        each: Some(Progress::new(move |i, n| r3.add(i, n))),
        ..Default::default()
    };
    crate::quic::client::fetch(&urls, &opts).map_err(|x| e("HTTP/3", &x))?;
    let a3 = rec.take("HTTP/3");

    h1.stop();
    h2.stop();
    h3.stop();
    let _ = std::fs::remove_dir_all(&root);
    Ok(vec![a1, a2, a3])
}

/// The gaps in each stream: no byte for at least `min_ms` between its first byte and its
/// last (waiting for the first byte is the stream's turn, not a stall).
pub fn stalls(a: &Arrivals, min_ms: f64) -> Vec<Stall> {
    let mut out = Vec::new();
    for (i, s) in a.streams.iter().enumerate() {
        // s[0] is the (0, 0) start mark: the gaps that count begin at the first byte.
        for w in s.get(1..).unwrap_or(&[]).windows(2) {
            if w[1].0 - w[0].0 >= min_ms {
                out.push(Stall {
                    stream: i,
                    from_ms: w[0].0,
                    to_ms: w[1].0,
                });
            }
        }
    }
    out
}

/// Of all the stall time, the share during which every other stream under way (begun, not
/// finished) was stalled too: near 1 when streams stall together (one byte stream under
/// them), near 0 when each stalls alone.
pub fn shared(a: &Arrivals, min_ms: f64) -> f64 {
    let all = stalls(a, min_ms);
    let end = |s: usize| a.streams[s].last().map(|l| l.0).unwrap_or(0.0);
    let (mut total, mut together) = (0.0, 0.0);
    for st in &all {
        // Sample the stall every millisecond.
        let mut t = st.from_ms + 0.5;
        while t < st.to_ms {
            total += 1.0;
            let begun = |o: usize| a.streams[o].get(1).is_some_and(|f| f.0 <= t);
            let others_open: Vec<usize> = (0..a.streams.len())
                .filter(|&o| o != st.stream && begun(o) && end(o) > t)
                .collect();
            let all_stalled = !others_open.is_empty()
                && others_open.iter().all(|&o| {
                    all.iter()
                        .any(|x| x.stream == o && x.from_ms <= t && t <= x.to_ms)
                });
            if all_stalled {
                together += 1.0;
            }
            t += 1.0;
        }
    }
    if total == 0.0 { 0.0 } else { together / total }
}

/// When the last byte of the last stream arrived (ms).
pub fn finish_ms(a: &Arrivals) -> f64 {
    a.streams
        .iter()
        .filter_map(|s| s.last().map(|l| l.0))
        .fold(0.0, f64::max)
}

/// One line per version: how long, how many stalls, and how many of them were shared.
pub fn summary(runs: &[Arrivals], min_ms: f64) -> String {
    let mut out = String::new();
    for a in runs {
        let st = stalls(a, min_ms);
        out.push_str(&format!(
            "{:<9} all {} streams done after {:>7.1} ms; {:>3} stalls of ≥ {min_ms} ms; {:>5.1} % of stalled time with every other stream stalled too\n",
            a.version,
            a.streams.len(),
            finish_ms(a),
            st.len(),
            100.0 * shared(a, min_ms)
        ));
    }
    out
}
