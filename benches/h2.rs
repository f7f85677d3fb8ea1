//! `make bench` for HTTP/2 and gRPC, netlab next to its reference in one run:
//! - h2load (-c 10 -m 10) requests/s against `netlab h2 serve` and nghttpd, h2c and TLS;
//! - gRPC unary Echo calls/s and p50/p99 latency, one client (grpcio, sequential calls on one
//!   channel) against netlab's server and grpcio's own;
//! - the same client's REST/JSON POST /echo over HTTP/1.1 next to its gRPC Echo.

mod common;
use common::*;
use std::net::SocketAddr;
use std::process::Command;

fn h2load(url: &str) -> f64 {
    let out = Command::new("h2load")
        .args(["-n", "40000", "-c", "10", "-m", "10", "-t", "1", url])
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

    let ours = Server::netlab(&["h2", "serve", "--h2c", "--addr", "127.0.0.1:0"]);
    let n_h2c = h2load(&format!("http://{}/status/200", ours.addr));
    drop(ours);
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
    let n_tls = h2load(&format!(
        "https://127.0.0.1:{}/status/200",
        ours.addr.port()
    ));
    drop(ours);
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
    let x_h2c = h2load(&format!("http://{}/status/200", theirs.addr));
    drop(theirs);
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
    let x_tls = h2load(&format!(
        "https://127.0.0.1:{}/status/200",
        theirs.addr.port()
    ));
    drop(theirs);

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
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&stubs);

    let rows = vec![
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
    ];
    write_table("h2", &format!("HTTP/2 and gRPC — {}", machine()), &rows);
}
