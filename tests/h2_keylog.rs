//! SSLKEYLOGFILE on both sides of HTTP/2 over TLS: tshark (Wireshark's command line) reads a
//! capture of the exchange and, given either side's key log, decrypts it down to the HTTP/2
//! header fields; without a key log it sees only TLS records.

mod common;
use common::*;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// The HTTP/2 header fields tshark finds in `capture`, decrypted with `keys` (if any).
fn fields(capture: &str, keys: Option<&str>) -> String {
    let mut args = vec!["-r", capture];
    let opt;
    if let Some(k) = keys {
        opt = format!("tls.keylog_file:{k}");
        args.extend(["-o", &opt]);
    }
    args.extend([
        "-Y",
        "http2",
        "-T",
        "fields",
        "-e",
        "http2.header.name",
        "-e",
        "http2.header.value",
    ]);
    let out = run("tshark", &args, b"", &[], T);
    text(&out.stdout)
}

#[test]
fn tshark_decrypts_our_h2_traffic_with_either_sides_key_log() {
    require("tshark");
    let dir = TempDir::new("h2-keylog");
    let out = run_netlab(&["cert", "--dir", &dir.path("certs")], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (server_keys, client_keys) = (dir.path("server.keys"), dir.path("client.keys"));
    let mut server = spawn_netlab(
        &[
            "h2",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--cert",
            &dir.path("certs/localhost.pem"),
            "--key",
            &dir.path("certs/localhost-key.pem"),
        ],
        &[("SSLKEYLOGFILE", &server_keys)],
    );
    let addr = server.listening();
    // Capture this server's port on loopback; wait until tshark says it is capturing.
    let capture = dir.path("h2.pcapng");
    let mut tshark = spawn_watched(
        "tshark",
        &[
            "-i",
            "lo",
            "-f",
            &format!("tcp port {}", addr.port()),
            "-w",
            &capture,
        ],
    );
    let ready = tshark.stderr_until(&["Capturing on"], T);
    assert!(ready.contains("Capturing on"), "{ready}");
    // "Capturing on" comes a moment before packets are really taken: wait until a probe
    // connection to the server shows up in the file.
    let size = || std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(200));
    let header = size();
    let start = Instant::now();
    while size() <= header && start.elapsed() < T {
        let _ = std::net::TcpStream::connect(addr);
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run_netlab(
        &[
            "h2",
            "get",
            "--cacert",
            &dir.path("certs/ca.pem"),
            &format!("https://localhost:{}/status/200", addr.port()),
        ],
        b"",
        &[("SSLKEYLOGFILE", &client_keys)],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "200 OK\n");
    // Stop tshark with SIGINT so it closes the file, and wait for it.
    std::thread::sleep(Duration::from_millis(300));
    let _ = std::process::Command::new("kill")
        .args(["-INT", &tshark.pid().to_string()])
        .status();
    let start = Instant::now();
    while tshark.child.try_wait().ok().flatten().is_none() && start.elapsed() < T {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
    for keys in [&client_keys, &server_keys] {
        let log = std::fs::read_to_string(keys).unwrap();
        assert!(log.contains("CLIENT_TRAFFIC_SECRET_0 "), "{keys}: {log}");
        let seen = fields(&capture, Some(keys));
        assert!(
            seen.contains(":path") && seen.contains("/status/200") && seen.contains(":status"),
            "decrypted with {keys}:\n{seen}"
        );
    }
    let blind = fields(&capture, None);
    assert!(!blind.contains("/status/200"), "without keys:\n{blind}");
}
