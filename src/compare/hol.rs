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

/// The nftables table that holds the drop rule.
const NFT_TABLE: &str = "lossy";

/// The nftables and tc commands that make the path, for the namespace's loopback.
pub fn path_commands(loss: f64) -> Vec<String> {
    let every = (100.0 / loss).round().max(2.0) as u32;
    let mut cmds = vec![
        "ip link set lo mtu 1500".to_string(),
        "ip link set lo up".to_string(),
        "tc qdisc add dev lo root tbf rate 40mbit burst 16kb latency 40ms".to_string(),
        format!("nft add table inet {NFT_TABLE}"),
        format!("nft add chain inet {NFT_TABLE} in {{ type filter hook input priority 0 ; }}"),
    ];
    for (proto, port) in [
        ("tcp", HTTP1_PORT),
        ("tcp", HTTP2_PORT),
        ("udp", HTTP3_PORT),
    ] {
        cmds.push(format!(
            "nft add rule inet {NFT_TABLE} in {proto} sport {port} numgen inc mod {every} == {} drop",
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
        .map_err(|e| CompareError::PathCommand {
            command: line.to_string(),
            error: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(CompareError::PathCommand {
            command: line.to_string(),
            error: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
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
    // Each step says on stderr when it is done: the run takes seconds, and a step that never
    // ends is then named by the last line.
    let started = std::time::Instant::now();
    let done = |what: &str| {
        eprintln!(
            "compare --loss: {what} ({} ms)",
            started.elapsed().as_millis()
        )
    };
    // 1. The lossy path.
    for cmd in path_commands(setup.loss) {
        sh(&cmd)?;
    }
    // The drop rule counts packets as netfilter sees them: a QUIC loop's GSO batch would be
    // one (and lost whole), where the TCP servers' segments are cut to the MTU before it.
    crate::quic::udp::one_datagram_per_call();
    done("1. the lossy path is set");
    // 2. The file to download, and a server of each version serving it.
    let servers = LossyServers::start(setup.size)?;
    done("2. the three servers listen");
    // 3–5. The same files over each version, one after the other.
    let runs = download_each(setup.streams, &servers.ca, &done);
    // 6. The path made whole again before the servers are stopped: a stop wakes each accept
    // loop with a connection of its own, whose SYN-ACK the drop rule could take. Then stop,
    // whether the downloads succeeded or not.
    let _ = sh(&format!("nft delete table inet {NFT_TABLE}"));
    servers.stop();
    done("6. the servers stopped");
    runs
}

/// Steps 3–5 of [`run_here`].
fn download_each(
    streams: usize,
    ca: &std::path::Path,
    done: &dyn Fn(&str),
) -> Result<Vec<Arrivals>, CompareError> {
    // 3. HTTP/1.1: one connection per stream, all at once, each read as it comes.
    let a1 = download_http1(streams)?;
    done("3. HTTP/1.1 downloaded");
    // 4. HTTP/2: every stream on one connection.
    let a2 = download_http2(streams)?;
    done("4. HTTP/2 downloaded");
    // 5. HTTP/3: every stream on one QUIC connection.
    let a3 = download_http3(streams, ca)?;
    done("5. HTTP/3 downloaded");
    Ok(vec![a1, a2, a3])
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A failure setting up [`run_here`]: `map_err(setup_error("bind"))`.
fn setup_error<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> CompareError {
    move |x| CompareError::LossySetup {
        what,
        error: x.to_string(),
    }
}

/// A download's failure: `map_err(download_error("HTTP/2"))`.
fn download_error<E: std::fmt::Display>(version: &'static str) -> impl Fn(E) -> CompareError {
    move |x| CompareError::Download {
        version,
        error: x.to_string(),
    }
}

/// Step 2 of [`run_here`]: the servers of the three versions on their fixed ports, serving
/// `blob.bin` from a temp dir of their own, and the CA the HTTP/3 client trusts.
struct LossyServers {
    servers: [crate::l4::background::Background; 3],
    root: std::path::PathBuf,
    ca: std::path::PathBuf,
}

impl LossyServers {
    fn start(size: usize) -> Result<LossyServers, CompareError> {
        let root = std::env::temp_dir().join(format!("netlab-hol-{}", std::process::id()));
        std::fs::create_dir_all(&root).map_err(setup_error("temp dir"))?;
        let blob: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        std::fs::write(root.join("blob.bin"), &blob).map_err(setup_error("temp dir"))?;
        let handler: Arc<dyn Handler> = Arc::new(app::monolith(Store::new(), Some(root.clone())));
        let bind = |port| TcpListener::bind(local(port)).map_err(setup_error("bind"));
        let h1 = crate::http1::server::spawn(
            bind(HTTP1_PORT)?,
            handler.clone(),
            crate::http1::server::Config::default(),
            Arc::new(crate::http1::server::plain),
        )
        .map_err(setup_error("HTTP/1.1"))?;
        let h2 = crate::http2::server::spawn(
            bind(HTTP2_PORT)?,
            handler.clone(),
            crate::http2::server::Config::default(),
            crate::http2::server::Security::Cleartext,
        )
        .map_err(setup_error("HTTP/2"))?;
        let pki = crate::tls::certs::generate().map_err(setup_error("certificate"))?;
        let ca = root.join("ca.pem");
        std::fs::write(&ca, &pki.ca_pem).map_err(setup_error("temp dir"))?;
        let h3 = crate::quic::server::spawn(
            UdpSocket::bind(local(HTTP3_PORT)).map_err(setup_error("bind"))?,
            crate::quic::config::Identity::from_pki(&pki),
            handler,
            crate::quic::server::Config::default(),
        )
        .map_err(setup_error("HTTP/3"))?;
        Ok(LossyServers {
            servers: [h1, h2, h3],
            root,
            ca,
        })
    }

    fn stop(self) {
        for server in self.servers {
            server.stop();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Step 3 of [`run_here`]: one HTTP/1.1 connection per stream, each on a thread of its own.
fn download_http1(streams: usize) -> Result<Arrivals, CompareError> {
    let rec = Recorder::new(streams);
    let threads: Vec<_> = (0..streams)
        .map(|i| {
            let rec = rec.clone();
            std::thread::spawn(move || download_one_http1(i, &rec))
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| download_error("HTTP/1.1")("its thread panicked"))?
            .map_err(download_error("HTTP/1.1"))?;
    }
    Ok(rec.take("HTTP/1.1"))
}

/// One HTTP/1.1 download, its body's arrivals recorded as stream `i`.
fn download_one_http1(i: usize, rec: &Recorder) -> Result<(), std::io::Error> {
    let mut s = TcpStream::connect(local(HTTP1_PORT))?;
    // A download that stops for this long is a failure, not a hang.
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(b"GET /blob.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut buf = vec![0u8; 64 * 1024];
    // The head first (it may come in pieces), then body bytes as they arrive.
    let mut head = Vec::new();
    let mut in_head = true;
    loop {
        let n = s.read(&mut buf)?;
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
}

/// Step 4 of [`run_here`]: every stream on one HTTP/2 connection.
fn download_http2(streams: usize) -> Result<Arrivals, CompareError> {
    let rec = Recorder::new(streams);
    let r2 = rec.clone();
    let mut requests = Vec::new();
    for _ in 0..streams {
        let url = Url::parse(&format!("http://127.0.0.1:{HTTP2_PORT}/blob.bin"))
            .map_err(setup_error("URL"))?;
        requests.push(crate::http2::client::Outgoing::get(url));
    }
    let opts = crate::http2::client::Options {
        h2c: true,
        timeout: Duration::from_secs(60),
        progress: Some(Progress::new(move |i, n| r2.add(i, n))),
        ..Default::default()
    };
    let e = download_error("HTTP/2");
    for r in crate::http2::client::fetch(requests, &opts).map_err(&e)? {
        r.map_err(&e)?;
    }
    Ok(rec.take("HTTP/2"))
}

/// Step 5 of [`run_here`]: every stream on one QUIC connection.
fn download_http3(streams: usize, ca: &std::path::Path) -> Result<Arrivals, CompareError> {
    let rec = Recorder::new(streams);
    let r3 = rec.clone();
    let mut urls = Vec::new();
    for _ in 0..streams {
        urls.push(
            Url::parse(&format!("https://localhost:{HTTP3_PORT}/blob.bin"))
                .map_err(setup_error("URL"))?,
        );
    }
    let opts = crate::quic::client::Options {
        cacert: Some(ca.to_path_buf()),
        timeout: Duration::from_secs(60),
        // RFC 9218: incremental, so the server interleaves the streams as HTTP/2 does (the
        // default, non-incremental, sends one response after the other).
        headers: vec![("priority".into(), "u=3, i".into())],
        each: Some(Progress::new(move |i, n| r3.add(i, n))),
        ..Default::default()
    };
    crate::quic::client::fetch(&urls, &opts).map_err(download_error("HTTP/3"))?;
    Ok(rec.take("HTTP/3"))
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
    let (mut total, mut together) = (0.0, 0.0);
    for st in &all {
        // Sample the stall every millisecond.
        let mut t = st.from_ms + 0.5;
        while t < st.to_ms {
            total += 1.0;
            if every_other_stalled(a, &all, st.stream, t) {
                together += 1.0;
            }
            t += 1.0;
        }
    }
    if total == 0.0 { 0.0 } else { together / total }
}

/// At `t`, whether every stream other than `stream` that was under way (begun, not
/// finished) was in a stall too (and there was at least one).
fn every_other_stalled(a: &Arrivals, all: &[Stall], stream: usize, t: f64) -> bool {
    let end = |s: usize| a.streams[s].last().map(|l| l.0).unwrap_or(0.0);
    let begun = |o: usize| a.streams[o].get(1).is_some_and(|f| f.0 <= t);
    let stalled = |o: usize| {
        all.iter()
            .any(|x| x.stream == o && x.from_ms <= t && t <= x.to_ms)
    };
    let others_open: Vec<usize> = (0..a.streams.len())
        .filter(|&o| o != stream && begun(o) && end(o) > t)
        .collect();
    !others_open.is_empty() && others_open.iter().all(|&o| stalled(o))
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
