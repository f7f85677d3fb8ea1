//! A short soak (60 s) so the suite keeps `make soak`'s machinery working: every server at
//! once under real clients (http.client, curl, grpcio, aioquic, aiortc, pyzmq) and hostile
//! ones, sampled from /proc; it fails on a real client's error, a silent server, or threads
//! or descriptors that grow. Resident memory is judged by the long runs only (`make soak`,
//! 10 minutes or more: a minute ends in the servers' warm-up); their figures are in the
//! README.

mod common;

use std::process::Command;

#[test]
fn every_server_at_once_for_a_minute_without_growth_or_errors() {
    let python = common::python_with("aiortc, aioquic, grpc, grpc_tools, zmq, hpack");
    let out = common::TempDir::new("soak");
    let run = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/soak.py"))
        .args([
            "--secs",
            "60",
            "--netlab",
            env!("CARGO_BIN_EXE_netlab"),
            "--out",
        ])
        .arg(&out.0)
        .output()
        .expect("run scripts/soak.py");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the soak failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Every server was sampled and served real clients: one row each, with exchanges.
    let report = std::fs::read_to_string(out.0.join("soak.md")).unwrap();
    for server in [
        "http", "loops", "https", "proxy", "h2", "grpc", "h3", "webrtc", "zmq",
    ] {
        let row = report
            .lines()
            .find(|l| l.starts_with(&format!("| {server} |")))
            .unwrap_or_else(|| panic!("no row for {server} in:\n{report}"));
        let served: u64 = row.split('|').nth(6).unwrap().trim().parse().unwrap();
        assert!(served > 0, "{server} served no real client: {row}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.0.join("soak.json")).unwrap()).unwrap();
    assert!(json["samples"].as_array().unwrap().len() >= 20);
    assert!(
        std::fs::read_to_string(out.0.join("rss.svg"))
            .unwrap()
            .contains("<polyline")
    );
}
