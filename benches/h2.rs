//! `make bench` for HTTP/2 and gRPC, netlab next to its reference in one run:
//! - h2load (-c 10 -m 10) requests/s against `netlab h2 serve`, a bare server on the `h2`
//!   crate (`benches/reference/h2_ref.rs`: netlab's runtime setup and nothing else) and
//!   nghttpd, h2c and TLS, medians of alternating rounds; and each server's CPU time per
//!   request over the same runs (from /proc: independent of the machine's load);
//! - gRPC unary Echo calls/s and p50/p99 latency, one client (grpcio, sequential calls on one
//!   channel) against netlab's server and grpcio's own;
//! - the same client's REST/JSON POST /echo over HTTP/1.1 next to its gRPC Echo.

mod common;
use common::*;
use std::net::SocketAddr;
use std::process::Command;

/// Requests per h2load run, and alternating rounds per row.
const REQUESTS: u32 = 100_000;
const ROUNDS: usize = 3;

fn h2load(url: &str) -> f64 {
    let out = Command::new("h2load")
        .args([
            "-n",
            &REQUESTS.to_string(),
            "-c",
            "10",
            "-m",
            "10",
            "-t",
            "1",
            url,
        ])
        .output()
        .expect("h2load (run make deps)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 0 failed"), "h2load against {url}: {text}");
    text.lines()
        .find_map(|l| l.strip_prefix("finished in "))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no req/s in h2load's output: {text}"))
}

/// CPU time (user + system, every thread, those ended included) a process has used, in
/// seconds, from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').expect("a stat line").1;
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    assert_eq!(f.len(), 2, "utime and stime in {stat}");
    (f[0] + f[1]) / 100.0
}

/// One h2load run against `server`: (requests/s, the server's CPU µs per request).
fn h2load_cpu(server: &Server, url: &str) -> (f64, f64) {
    let before = cpu_seconds(server.pid());
    let rps = h2load(url);
    let cpu = cpu_seconds(server.pid()) - before;
    (rps, cpu * 1e6 / f64::from(REQUESTS))
}

/// Medians over `ROUNDS` rounds, each running h2load against every server in turn (the
/// load of a shared machine moves within a minute; a round is measured in the same one):
/// (requests/s, CPU µs per request) per server, in their order.
fn rounds(servers: &[(&Server, String)]) -> Vec<(f64, f64)> {
    let mut runs: Vec<Vec<(f64, f64)>> = servers.iter().map(|_| Vec::new()).collect();
    for _ in 0..ROUNDS {
        for ((server, url), into) in servers.iter().zip(&mut runs) {
            into.push(h2load_cpu(server, url));
        }
    }
    runs.into_iter()
        .map(|r| {
            (
                median(r.iter().map(|x| x.0).collect()),
                median(r.iter().map(|x| x.1).collect()),
            )
        })
        .collect()
}

/// The bare `h2` reference binary (`cargo build --release --example h2_ref`).
fn h2_ref() -> String {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_string());
    let path = format!("{target}/release/examples/h2_ref");
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: make bench builds it (cargo build --release --example h2_ref)"
    );
    path
}

fn venv_python() -> String {
    format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR"))
}

fn stubs() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("netlab-bench-stubs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/proto");
    let ok = Command::new(venv_python())
        .args(["-m", "grpc_tools.protoc", "-I", proto])
        .arg(format!("--python_out={}", dir.display()))
        .arg(format!("--grpc_python_out={}", dir.display()))
        .arg("netlab.proto")
        .status()
        .expect("grpcio-tools (run make deps)");
    assert!(ok.success());
    dir
}

/// (calls/s, p50 µs, p99 µs) of the shared Python client.
fn calls(stubs: &std::path::Path, kind: &str, addr: SocketAddr) -> (f64, f64, f64) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/grpc/unary.py");
    let out = Command::new(venv_python())
        .arg(script)
        .arg(stubs)
        .args([kind, &addr.to_string(), "3000"])
        .output()
        .expect("python");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(v.len(), 3, "{text}{}", String::from_utf8_lossy(&out.stderr));
    (v[0], v[1], v[2])
}

fn main() {
    // nghttpd serves a file with the same 7-byte body netlab's /status/200 answers.
    let root = std::env::temp_dir().join(format!("netlab-bench-h2-{}", std::process::id()));
    std::fs::create_dir_all(root.join("status")).expect("temp dir");
    std::fs::write(root.join("status/200"), "200 OK\n").expect("file");
    let certs = root.join("certs");
    let made = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["cert", "--dir"])
        .arg(&certs)
        .output()
        .expect("netlab cert");
    assert!(made.status.success());
    let (cert, key) = (certs.join("localhost.pem"), certs.join("localhost-key.pem"));
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));

    let [(n_h2c, n_h2c_cpu), (b_h2c, b_h2c_cpu), (x_h2c, x_h2c_cpu)] = h2c(&root);
    let [(n_tls, n_tls_cpu), (x_tls, x_tls_cpu)] = tls(&root, cert, key);
    let _ = std::fs::remove_dir_all(&root);

    let mut rows = vec![
        Row::higher_is_better(
            "h2load -c10 -m10, h2c, 7-byte body (requests/s)",
            n_h2c,
            x_h2c,
            "nghttpd",
        ),
        Row::higher_is_better(
            "h2load -c10 -m10, TLS, 7-byte body (requests/s)",
            n_tls,
            x_tls,
            "nghttpd",
        ),
        Row::lower_is_better(
            "h2load -c10 -m10, h2c, server CPU per request (µs)",
            n_h2c_cpu,
            x_h2c_cpu,
            "nghttpd",
        ),
        Row::lower_is_better(
            "h2load -c10 -m10, TLS, server CPU per request (µs)",
            n_tls_cpu,
            x_tls_cpu,
            "nghttpd",
        ),
        Row::higher_is_better(
            "h2c requests/s, netlab vs a bare h2-crate server: what netlab's design costs",
            n_h2c,
            b_h2c,
            "bare h2 0.4 + tokio",
        ),
        Row::lower_is_better(
            "h2c CPU per request (µs), netlab vs a bare h2-crate server",
            n_h2c_cpu,
            b_h2c_cpu,
            "bare h2 0.4 + tokio",
        ),
        Row::higher_is_better(
            "h2c requests/s, the bare h2-crate server (not netlab) vs nghttpd: what the crate costs",
            b_h2c,
            x_h2c,
            "nghttpd",
        ),
        Row::lower_is_better(
            "h2c CPU per request (µs), the bare h2-crate server (not netlab) vs nghttpd",
            b_h2c_cpu,
            x_h2c_cpu,
            "nghttpd",
        ),
    ];
    rows.extend(grpc_rows());
    write_table("h2", &format!("HTTP/2 and gRPC — {}", machine()), &rows);
}

/// h2load against netlab, the bare `h2` server and nghttpd over h2c, alternating:
/// (requests/s, CPU µs per request) of each.
fn h2c(root: &std::path::Path) -> [(f64, f64); 3] {
    let ours = Server::netlab(&["h2", "serve", "--h2c", "--addr", "127.0.0.1:0"]);
    let bare = Server::program(&h2_ref(), &[]);
    let port = free_port();
    let theirs = Server::spawn(
        "nghttpd",
        &[
            "--no-tls",
            "-d",
            root.to_str().expect("path"),
            &port.to_string(),
        ],
        SocketAddr::from(([127, 0, 0, 1], port)),
    );
    let url = |s: &Server| format!("http://{}/status/200", s.addr);
    let h2c = rounds(&[
        (&ours, url(&ours)),
        (&bare, url(&bare)),
        (&theirs, url(&theirs)),
    ]);
    drop((ours, bare, theirs));
    [h2c[0], h2c[1], h2c[2]]
}

/// h2load against netlab and nghttpd over TLS, alternating: (requests/s, CPU µs per request).
fn tls(root: &std::path::Path, cert: &str, key: &str) -> [(f64, f64); 2] {
    let ours = Server::netlab(&[
        "h2",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--cert",
        cert,
        "--key",
        key,
    ]);
    let port = free_port();
    let theirs = Server::spawn(
        "nghttpd",
        &[
            "-d",
            root.to_str().expect("path"),
            &port.to_string(),
            key,
            cert,
        ],
        SocketAddr::from(([127, 0, 0, 1], port)),
    );
    let url = |s: &Server| format!("https://127.0.0.1:{}/status/200", s.addr.port());
    let tls = rounds(&[(&ours, url(&ours)), (&theirs, url(&theirs))]);
    drop((ours, theirs));
    [tls[0], tls[1]]
}

/// The gRPC rows: one grpcio client against netlab's server and grpcio's, and the same
/// client's REST POST against netlab's HTTP/1.1 server.
fn grpc_rows() -> Vec<Row> {
    let stubs = stubs();
    let ours = Server::netlab(&["grpc", "serve", "--addr", "127.0.0.1:0"]);
    let g_ours = calls(&stubs, "grpc", ours.addr);
    drop(ours);
    let port = free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpc/server.py");
    let theirs = Server::spawn(
        &venv_python(),
        &[script, stubs.to_str().expect("path"), &port.to_string()],
        SocketAddr::from(([127, 0, 0, 1], port)),
    );
    let g_theirs = calls(&stubs, "grpc", theirs.addr);
    drop(theirs);
    let rest = Server::netlab(&["http", "serve", "--addr", "127.0.0.1:0"]);
    let r_ours = calls(&stubs, "rest", rest.addr);
    drop(rest);
    let grpc = Server::netlab(&["grpc", "serve", "--addr", "127.0.0.1:0"]);
    let g_again = calls(&stubs, "grpc", grpc.addr);
    drop(grpc);
    let _ = std::fs::remove_dir_all(&stubs);
    vec![
        Row::higher_is_better(
            "gRPC unary Echo, one grpcio client (calls/s)",
            g_ours.0,
            g_theirs.0,
            "grpcio server",
        ),
        Row::lower_is_better(
            "gRPC unary Echo, p50 (µs)",
            g_ours.1,
            g_theirs.1,
            "grpcio server",
        ),
        Row::lower_is_better(
            "gRPC unary Echo, p99 (µs)",
            g_ours.2,
            g_theirs.2,
            "grpcio server",
        ),
        Row::higher_is_better(
            "netlab gRPC Echo vs netlab REST POST /echo (HTTP/1.1), same Python client (calls/s)",
            g_again.0,
            r_ours.0,
            "netlab REST",
        ),
    ]
}
