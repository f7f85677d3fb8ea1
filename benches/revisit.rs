//! `make bench` for the second visit: the time to the first answer when a client comes back
//! with a ticket, next to its first visit, over HTTPS (TLS 1.3 resumed) and HTTP/3 (0-RTT);
//! and netlab's HTTP/3 server next to ngtcp2's `gtlsserver` with the same client, ngtcp2's
//! `gtlsclient`, for both visits.
//!
//! - netlab's own clients run in this process (the library), against `netlab http serve
//!   --tls` and `netlab h3 serve`: a first visit on a fresh client (full handshake), then a
//!   second one by the same client (HTTPS: the same TLS configuration and its tickets; HTTP/3:
//!   the session file, 0-RTT). The time is from nothing (no connection) to the whole answer
//!   of `GET /status/200`; medians of 20 pairs, after one pair not counted.
//! - gtlsclient is a process per visit (`--session-file`, `--tp-file`): its run time, process
//!   start included, is what is compared; the same client on both servers, medians of 10.

mod common;
use common::*;
use netlab::http::uri::Url;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PAIRS: usize = 20;
const GTLS_PAIRS: usize = 10;

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// One HTTPS pair: a fresh client's first visit, then its second on a new connection (µs).
fn https_pair(port: u16, ca: &Path) -> (f64, f64) {
    use netlab::http1::client::{Client, Options, Outgoing};
    let url = Url::parse(&format!("https://localhost:{port}/status/200")).expect("url");
    let mut c = Client::new(Options {
        cacert: Some(ca.to_path_buf()),
        ..Options::default()
    });
    let visit = |c: &mut Client| {
        let t = Instant::now();
        let r = c.send(&Outgoing::new("GET", url.clone())).expect("HTTPS");
        let took = us(t.elapsed());
        assert_eq!(r.status, 200);
        c.close_idle();
        (took, c.last_handshake())
    };
    let (first, kind1) = visit(&mut c);
    let (second, kind2) = visit(&mut c);
    assert_eq!(kind1, Some(rustls::HandshakeKind::Full));
    assert_eq!(kind2, Some(rustls::HandshakeKind::Resumed));
    (first, second)
}

/// One HTTP/3 pair: a first visit that stores its session, then a second in 0-RTT (µs to
/// the last byte of the answer, from the first Initial).
fn h3_pair(port: u16, ca: &Path, session: &Path) -> (f64, f64) {
    use netlab::quic::client::{Options, fetch};
    let _ = std::fs::remove_file(session);
    let url = Url::parse(&format!("https://localhost:{port}/status/200")).expect("url");
    let opts = Options {
        cacert: Some(ca.to_path_buf()),
        session: Some(session.to_path_buf()),
        ..Options::default()
    };
    let first = fetch(std::slice::from_ref(&url), &opts).expect("first visit");
    let second = fetch(std::slice::from_ref(&url), &opts).expect("second visit");
    assert!(!first.resumed && second.resumed, "the second visit resumes");
    assert_eq!(second.early_data, Some(true), "0-RTT accepted");
    (
        us(first.responses[0].done_after),
        us(second.responses[0].done_after),
    )
}

/// Medians of `n` pairs, after one not counted.
fn medians(n: usize, mut pair: impl FnMut() -> (f64, f64)) -> (f64, f64) {
    pair();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (x, y) = pair();
        a.push(x);
        b.push(y);
    }
    (median(a), median(b))
}

/// One gtlsclient run (ms), which must exit 0 and leave `hello.txt` in `dl`; with `files`,
/// reading and writing the session there (a second visit when they exist).
fn gtls_visit(port: u16, dl: &Path, files: &(PathBuf, PathBuf)) -> Option<f64> {
    let _ = std::fs::remove_file(dl.join("hello.txt"));
    let t = Instant::now();
    let status = Command::new("gtlsclient")
        .arg("-q")
        .arg("--exit-on-all-streams-close")
        .arg(format!("--session-file={}", files.0.display()))
        .arg(format!("--tp-file={}", files.1.display()))
        .arg(format!("--download={}", dl.display()))
        .args(["--timeout=5s", "127.0.0.1", &port.to_string()])
        .arg(format!("https://localhost:{port}/hello.txt"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("gtlsclient (run make deps)");
    let took = t.elapsed().as_secs_f64() * 1000.0;
    (status.success() && dl.join("hello.txt").exists()).then_some(took)
}

/// gtlsclient's first and second visits to the server at `port`: medians (ms).
fn gtls_pairs(port: u16, dir: &Path) -> (f64, f64) {
    let files = (dir.join("gtls.session"), dir.join("gtls.tp"));
    let dl = dir.join("dl");
    std::fs::create_dir_all(&dl).expect("download dir");
    // The server is ready when a first visit succeeds (gtlsserver prints no listening line).
    let start = Instant::now();
    while gtls_visit(port, &dl, &files).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no QUIC server on {port}"
        );
    }
    medians(GTLS_PAIRS, || {
        let _ = std::fs::remove_file(&files.0);
        let _ = std::fs::remove_file(&files.1);
        let first = gtls_visit(port, &dl, &files).expect("gtlsclient first visit");
        let second = gtls_visit(port, &dl, &files).expect("gtlsclient second visit");
        (first, second)
    })
}

/// A UDP port that was free a moment ago (gtlsserver cannot pick its own and print it).
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free UDP port")
}

/// A reference server over UDP (no `listening on` line, no TCP port to wait for), killed
/// by PID and reaped when dropped.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let root = std::env::temp_dir().join(format!("netlab-bench-revisit-{}", std::process::id()));
    let site = root.join("site");
    std::fs::create_dir_all(&site).expect("temp dir");
    std::fs::write(site.join("hello.txt"), "hello\n").expect("file");
    let certs = root.join("certs");
    let made = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["cert", "--dir"])
        .arg(&certs)
        .output()
        .expect("netlab cert");
    assert!(made.status.success());
    let (cert, key, ca) = (
        certs.join("localhost.pem"),
        certs.join("localhost-key.pem"),
        certs.join("ca.pem"),
    );
    let (certp, keyp) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    let tls = [
        "--cert",
        certp,
        "--key",
        keyp,
        "--root",
        site.to_str().expect("path"),
        "--addr",
        "127.0.0.1:0",
    ];

    let https = Server::netlab(&[&["http", "serve", "--tls"][..], &tls].concat());
    let (https_first, https_second) = medians(PAIRS, || https_pair(https.addr.port(), &ca));
    drop(https);
    let h3 = Server::netlab(&[&["h3", "serve"][..], &tls].concat());
    let session = root.join("h3.session");
    let (h3_first, h3_second) = medians(PAIRS, || h3_pair(h3.addr.port(), &ca, &session));
    let (ours_first, ours_second) = gtls_pairs(h3.addr.port(), &root);
    drop(h3);
    let port = free_udp_port();
    let gtls = Stopped(
        Command::new("gtlsserver")
            .args(["-q", "-d", site.to_str().expect("path"), "127.0.0.1"])
            .arg(port.to_string())
            .args([keyp, certp])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gtlsserver (run make deps)"),
    );
    let (theirs_first, theirs_second) = gtls_pairs(port, &root);
    drop(gtls);
    let _ = std::fs::remove_dir_all(&root);

    let rows = vec![
        Row::lower_is_better(
            "HTTPS, time to the first answer: second visit (TLS 1.3 resumed) vs first (µs, median of 20)",
            https_second,
            https_first,
            "first visit, full handshake",
        ),
        Row::lower_is_better(
            "HTTP/3, time to the first answer: second visit (0-RTT) vs first (µs, median of 20)",
            h3_second,
            h3_first,
            "first visit, full handshake",
        ),
        Row::lower_is_better(
            "first visit, time to the first answer: HTTP/3 vs HTTPS (µs)",
            h3_first,
            https_first,
            "HTTPS",
        ),
        Row::lower_is_better(
            "second visit, time to the first answer: HTTP/3 0-RTT vs HTTPS resumed (µs)",
            h3_second,
            https_second,
            "HTTPS resumed",
        ),
        Row::lower_is_better(
            "gtlsclient, first visit, run time: netlab h3 serve (ms, median of 10)",
            ours_first,
            theirs_first,
            "gtlsserver",
        ),
        Row::lower_is_better(
            "gtlsclient, second visit (0-RTT), run time: netlab h3 serve (ms, median of 10)",
            ours_second,
            theirs_second,
            "gtlsserver",
        ),
    ];
    write_table(
        "revisit",
        &format!("Second visit (resumption, 0-RTT) — {}", machine()),
        &rows,
    );
}
