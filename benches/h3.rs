//! `make bench` for HTTP/3, netlab next to its references in one run:
//! - a 100 MB download with `netlab h3 get` from `netlab h3 serve` and from an aioquic server
//!   (tests/h3/server.py), and the same file from netlab over HTTP/1.1 + TLS and HTTP/2 + TLS
//!   with netlab's own clients (the transports side by side);
//! - the same file with ngtcp2's `gtlsclient` from `netlab h3 serve` and from ngtcp2's
//!   `gtlsserver` (Debian `ngtcp2-client`/`ngtcp2-server`, the version is read from dpkg):
//!   the rate, and each server's CPU time for the 100 MB (from /proc/PID/stat);
//! - the handshake time `netlab h3 get --stats` reports, median of 20 connections, against
//!   netlab's server and aioquic's, without and with Retry;
//! - `netlab compare`'s bulk row (4 MB up and back through its relay), HTTP/3 against HTTPS,
//!   both from each of `PAIRS` whole runs of the command.
//!
//! Every row is measured in alternating runs, netlab then the reference, `PAIRS` times
//! (`SLOW_PAIRS` against aioquic, whose download takes seconds), and compares the medians:
//! on a shared machine the load moves within a minute, and a pair is measured in the same
//! minute. Every server runs for the whole bench, so a pair does not wait for a start.
//!
//! quiche's own example server (quiche-server) lives in quiche's repository, not on
//! crates.io, the only registry reachable here: it is not in the table.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Pairs of runs per row; the aioquic rows take fewer, as one aioquic download is ~5 s.
const PAIRS: usize = 5;
const SLOW_PAIRS: usize = 3;
/// gtlsclient's windows, raised so that flow control does not set the pace (docs: peers).
const GTLS_WINDOWS: [&str; 2] = ["--max-data=200M", "--max-stream-data-bidi-local=100M"];
const NETLAB: &str = env!("CARGO_BIN_EXE_netlab");
const SIZE: usize = 100_000_000;

fn venv_python() -> String {
    format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR"))
}

/// MB/s of one download: the command must exit 0 and leave `SIZE` bytes in `out` (written
/// by the command with -o, or its stdout when `stdout` is set: `netlab http request`).
fn download(args: &[&str], out: &std::path::Path, stdout: bool) -> f64 {
    let _ = std::fs::remove_file(out);
    let mut cmd = Command::new(NETLAB);
    cmd.args(args);
    if stdout {
        cmd.stdout(std::fs::File::create(out).expect("output file"));
    }
    let start = Instant::now();
    let status = cmd.status().expect("netlab");
    let secs = start.elapsed().as_secs_f64();
    assert!(status.success(), "{args:?}");
    let got = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    assert_eq!(got as usize, SIZE, "{args:?}: {got} bytes");
    SIZE as f64 / 1e6 / secs
}

/// Median handshake time (ms) of 20 connections, as `netlab h3 get --stats` reports it.
fn handshake(url: &str, ca: &str) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..20 {
        let out = Command::new(NETLAB)
            .args(["h3", "get", "--stats", "--cacert", ca, url])
            .output()
            .expect("netlab");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        let ms: f64 = err
            .strip_prefix("handshake ")
            .and_then(|r| r.split(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no handshake time in {err}"));
        samples.push(ms);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

/// tests/h3/server.py prints a `listening on` line like netlab's servers.
fn aioquic(cert: &str, key: &str, retry: bool) -> Server {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h3/server.py");
    let mut args = vec![script, "--cert", cert, "--key", key];
    if retry {
        args.push("--retry");
    }
    Server::program(&venv_python(), &args)
}

/// A process's CPU time so far (user + system, ms), from /proc/PID/stat fields 14 and 15.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = stat.rsplit_once(')').expect("stat format").1;
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().expect("stat field"))
        .collect();
    // Clock ticks per second (USER_HZ): 100 on Linux unless `getconf` says otherwise.
    let tick = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    (f[0] + f[1]) as f64 * 1000.0 / tick
}

/// One gtlsclient download of `path` into `dl` from the server at `port` (process `pid`):
/// (MB/s, the server's CPU ms for it). `None` when it fails or the file is short.
fn gtls_download(port: u16, pid: u32, path: &str, dl: &Path, size: usize) -> Option<(f64, f64)> {
    let file = dl.join(path.trim_start_matches('/'));
    let _ = std::fs::remove_file(&file);
    let cpu = cpu_ms(pid);
    let t = Instant::now();
    let status = Command::new("gtlsclient")
        .arg("-q")
        .args(GTLS_WINDOWS)
        .arg("--exit-on-all-streams-close")
        .arg(format!("--download={}", dl.display()))
        .args(["--timeout=30s", "127.0.0.1", &port.to_string()])
        .arg(format!("https://localhost:{port}{path}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("gtlsclient (run make deps)");
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_ms(pid) - cpu;
    let got = std::fs::metadata(&file).map(|m| m.len() as usize).ok();
    (status.success() && got == Some(size)).then_some((size as f64 / 1e6 / secs, cpu))
}

/// Waits until a small download from the server at `port` succeeds (gtlsserver prints no
/// listening line, and its port is UDP).
fn gtls_ready(port: u16, pid: u32, dl: &Path) {
    let start = Instant::now();
    while gtls_download(port, pid, "/ready.txt", dl, 6).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no QUIC server on {port}"
        );
    }
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

/// "ngtcp2-server 0.12.1+dfsg-1+deb12u1", from dpkg (the table names the reference's version).
fn package_version(package: &str) -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| format!("{package} {}", String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_else(|| package.to_string())
}

/// One `netlab compare --json`: the bulk rates (MB/s) of HTTP/3 and of HTTPS (HTTP/1.1 + TLS),
/// both through the compare's own relay, measured in the same minute.
fn compare_bulk() -> (f64, f64) {
    let out = Command::new(NETLAB)
        .args(["compare", "--json"])
        .output()
        .expect("netlab compare");
    assert!(out.status.success(), "netlab compare failed");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("compare's JSON");
    let rate = |name: &str| {
        json["rows"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["transport"] == name))
            .and_then(|r| r["bulk_mb_per_s"].as_f64())
            .unwrap_or(f64::NAN)
    };
    (rate("HTTP/3 (QUIC)"), rate("HTTPS (HTTP/1.1 + TLS)"))
}

fn main() {
    let root = std::env::temp_dir().join(format!("netlab-bench-h3-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("temp dir");
    // The same bytes aioquic's /bytes/N sends: byte i = i % 251.
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("big.bin"), &data).expect("file");
    std::fs::write(root.join("ready.txt"), "ready\n").expect("file");
    drop(data);
    let certs = root.join("certs");
    let made = Command::new(NETLAB)
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
    let (cert, key, ca) = (
        cert.to_str().expect("path"),
        key.to_str().expect("path"),
        ca.to_str().expect("path"),
    );
    let rootp = root.to_str().expect("path");
    let out = root.join("out.bin");
    let outp = out.to_str().expect("path");
    let dl = root.join("dl");
    std::fs::create_dir_all(&dl).expect("download dir");

    let tls = [
        "--cert",
        cert,
        "--key",
        key,
        "--root",
        rootp,
        "--addr",
        "127.0.0.1:0",
    ];
    let url = |port: u16, path: &str| format!("https://localhost:{port}{path}");
    let h3_get = |url: &str| {
        download(
            &[
                "h3",
                "get",
                "--cacert",
                ca,
                "--timeout",
                "300000",
                "-o",
                outp,
                url,
            ],
            &out,
            false,
        )
    };

    // Every server up front, each for the whole bench.
    let h3 = Server::netlab(&[&["h3", "serve"][..], &tls].concat());
    let h3r = Server::netlab(&[&["h3", "serve", "--retry"][..], &tls].concat());
    let aio = aioquic(cert, key, false);
    let aior = aioquic(cert, key, true);
    let h1 = Server::netlab(&[&["http", "serve", "--tls"][..], &tls].concat());
    let h2 = Server::netlab(&[&["h2", "serve"][..], &tls].concat());
    let gtls_port = free_udp_port();
    let gtls = Stopped(
        Command::new("gtlsserver")
            .args(["-q", "-d", rootp, "127.0.0.1"])
            .arg(gtls_port.to_string())
            .args([key, cert])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gtlsserver (run make deps)"),
    );
    let ours_big = url(h3.addr.port(), "/big.bin");

    let (n_h3_aio, x_h3) = alternating(
        SLOW_PAIRS,
        || h3_get(&ours_big),
        || h3_get(&url(aio.addr.port(), &format!("/bytes/{SIZE}"))),
    );
    let h1_big = url(h1.addr.port(), "/big.bin");
    let (n_h3_h1, n_h1) = alternating(
        PAIRS,
        || h3_get(&ours_big),
        || download(&["http", "request", "--cacert", ca, &h1_big], &out, true),
    );
    let h2_big = url(h2.addr.port(), "/big.bin");
    let (n_h3_h2, n_h2) = alternating(
        PAIRS,
        || h3_get(&ours_big),
        || {
            download(
                &[
                    "h2",
                    "get",
                    "--cacert",
                    ca,
                    "--timeout",
                    "300000",
                    "-o",
                    outp,
                    &h2_big,
                ],
                &out,
                false,
            )
        },
    );
    drop((h1, h2));

    let (h3_pid, gtls_pid) = (h3.pid(), gtls.0.id());
    gtls_ready(h3.addr.port(), h3_pid, &dl);
    gtls_ready(gtls_port, gtls_pid, &dl);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..PAIRS {
        let big = |port, pid| {
            gtls_download(port, pid, "/big.bin", &dl, SIZE)
                .unwrap_or_else(|| panic!("gtlsclient: 100 MB from port {port}"))
        };
        ours.push(big(h3.addr.port(), h3_pid));
        theirs.push(big(gtls_port, gtls_pid));
    }
    let split = |v: &[(f64, f64)]| {
        (
            median(v.iter().map(|p| p.0).collect()),
            median(v.iter().map(|p| p.1).collect()),
        )
    };
    let ((g_rate, g_cpu), (x_rate, x_cpu)) = (split(&ours), split(&theirs));
    drop(gtls);

    let (hs_ours, hs_theirs) = alternating(
        PAIRS,
        || handshake(&url(h3.addr.port(), "/status/200"), ca),
        || handshake(&url(aio.addr.port(), "/"), ca),
    );
    let (hs_ours_retry, hs_theirs_retry) = alternating(
        PAIRS,
        || handshake(&url(h3r.addr.port(), "/status/200"), ca),
        || handshake(&url(aior.addr.port(), "/"), ca),
    );
    drop((h3, h3r, aio, aior));
    let _ = std::fs::remove_dir_all(&root);

    let gtls_name = format!(
        "{} -q; client {} {}",
        package_version("ngtcp2-server"),
        package_version("ngtcp2-client"),
        GTLS_WINDOWS.join(" ")
    );
    let mut rows = vec![
        Row::higher_is_better(
            &format!(
                "100 MB download over HTTP/3, netlab h3 get (MB/s, median of {SLOW_PAIRS} alternating pairs)"
            ),
            n_h3_aio,
            x_h3,
            "aioquic server",
        ),
        Row::higher_is_better(
            &format!(
                "100 MB download, netlab HTTP/3 vs netlab HTTP/1.1 + TLS (MB/s, median of {PAIRS} alternating pairs)"
            ),
            n_h3_h1,
            n_h1,
            "netlab HTTP/1.1 + TLS",
        ),
        Row::higher_is_better(
            &format!(
                "100 MB download, netlab HTTP/3 vs netlab HTTP/2 + TLS (MB/s, median of {PAIRS} alternating pairs)"
            ),
            n_h3_h2,
            n_h2,
            "netlab HTTP/2 + TLS",
        ),
        Row::higher_is_better(
            &format!(
                "100 MB download, gtlsclient → netlab h3 serve vs gtlsclient → gtlsserver (MB/s, median of {PAIRS} alternating pairs)"
            ),
            g_rate,
            x_rate,
            &gtls_name,
        ),
        Row::lower_is_better(
            "the same downloads: the server's CPU time per 100 MB (ms, user + system, median)",
            g_cpu,
            x_cpu,
            "gtlsserver",
        ),
        Row::lower_is_better(
            &format!(
                "QUIC handshake, median of 20, netlab h3 get (ms; median of {PAIRS} alternating sets)"
            ),
            hs_ours,
            hs_theirs,
            "aioquic server",
        ),
        Row::lower_is_better(
            &format!(
                "QUIC handshake with Retry, median of 20 (ms; median of {PAIRS} alternating sets)"
            ),
            hs_ours_retry,
            hs_theirs_retry,
            "aioquic server",
        ),
    ];
    let (compared_h3, compared_https): (Vec<f64>, Vec<f64>) =
        (0..PAIRS).map(|_| compare_bulk()).unzip();
    rows.push(Row::higher_is_better(
        &format!(
            "netlab compare's bulk row, 4 MB there and back through its relay: HTTP/3 vs HTTPS (MB/s, median of {PAIRS} runs)"
        ),
        median(compared_h3),
        median(compared_https),
        "netlab HTTPS (HTTP/1.1 + TLS)",
    ));
    write_table("h3", &format!("HTTP/3 — {}", machine()), &rows);
}
