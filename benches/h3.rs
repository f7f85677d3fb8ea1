//! `make bench` for HTTP/3, netlab next to its references in one run:
//! - a 100 MB download with `netlab h3 get` from `netlab h3 serve` and from an aioquic server
//!   (tests/h3/server.py), and the same file from netlab over HTTP/1.1 + TLS and HTTP/2 + TLS
//!   with netlab's own clients (the transports side by side);
//! - the handshake time `netlab h3 get --stats` reports, median of 20 connections, against
//!   netlab's server and aioquic's, without and with Retry.
//!
//! quiche's own example server (quiche-server) lives in quiche's repository, not on
//! crates.io, the only registry reachable here: it is not in the table.

mod common;
use common::*;
use std::process::Command;
use std::time::Instant;

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

fn main() {
    let root = std::env::temp_dir().join(format!("netlab-bench-h3-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("temp dir");
    // The same bytes aioquic's /bytes/N sends: byte i = i % 251.
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("big.bin"), &data).expect("file");
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
    let h3 = Server::netlab(&[&["h3", "serve"][..], &tls].concat());
    let url = |port: u16, path: &str| format!("https://localhost:{port}{path}");
    let n_h3 = download(
        &[
            "h3",
            "get",
            "--cacert",
            ca,
            "--timeout",
            "300000",
            "-o",
            outp,
            &url(h3.addr.port(), "/big.bin"),
        ],
        &out,
        false,
    );
    let hs_ours = handshake(&url(h3.addr.port(), "/status/200"), ca);
    drop(h3);
    let h3r = Server::netlab(&[&["h3", "serve", "--retry"][..], &tls].concat());
    let hs_ours_retry = handshake(&url(h3r.addr.port(), "/status/200"), ca);
    drop(h3r);

    let theirs = aioquic(cert, key, false);
    let x_h3 = download(
        &[
            "h3",
            "get",
            "--cacert",
            ca,
            "--timeout",
            "300000",
            "-o",
            outp,
            &url(theirs.addr.port(), &format!("/bytes/{SIZE}")),
        ],
        &out,
        false,
    );
    let hs_theirs = handshake(&url(theirs.addr.port(), "/"), ca);
    drop(theirs);
    let theirs = aioquic(cert, key, true);
    let hs_theirs_retry = handshake(&url(theirs.addr.port(), "/"), ca);
    drop(theirs);

    let h1 = Server::netlab(&[&["http", "serve", "--tls"][..], &tls].concat());
    let n_h1 = download(
        &[
            "http",
            "request",
            "--cacert",
            ca,
            &url(h1.addr.port(), "/big.bin"),
        ],
        &out,
        true,
    );
    drop(h1);
    let h2 = Server::netlab(&[&["h2", "serve"][..], &tls].concat());
    let n_h2 = download(
        &[
            "h2",
            "get",
            "--cacert",
            ca,
            "--timeout",
            "300000",
            "-o",
            outp,
            &url(h2.addr.port(), "/big.bin"),
        ],
        &out,
        false,
    );
    drop(h2);
    let _ = std::fs::remove_dir_all(&root);

    let rows = vec![
        Row::higher_is_better(
            "100 MB download over HTTP/3, netlab h3 get (MB/s)",
            n_h3,
            x_h3,
            "aioquic server",
        ),
        Row::higher_is_better(
            "100 MB download, netlab HTTP/3 vs netlab HTTP/1.1 + TLS (MB/s)",
            n_h3,
            n_h1,
            "netlab HTTP/1.1 + TLS",
        ),
        Row::higher_is_better(
            "100 MB download, netlab HTTP/3 vs netlab HTTP/2 + TLS (MB/s)",
            n_h3,
            n_h2,
            "netlab HTTP/2 + TLS",
        ),
        Row::lower_is_better(
            "QUIC handshake, median of 20, netlab h3 get (ms)",
            hs_ours,
            hs_theirs,
            "aioquic server",
        ),
        Row::lower_is_better(
            "QUIC handshake with Retry, median of 20 (ms)",
            hs_ours_retry,
            hs_theirs_retry,
            "aioquic server",
        ),
    ];
    write_table("h3", &format!("HTTP/3 — {}", machine()), &rows);
}
