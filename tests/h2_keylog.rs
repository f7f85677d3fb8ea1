//! SSLKEYLOGFILE on both sides of HTTP/2 over TLS: tshark (Wireshark's command line) reads a
//! capture of the exchange and, given either side's key log, decrypts it down to the HTTP/2
//! header fields; without a key log it sees only TLS records.

mod common;
use common::*;
use std::time::Duration;

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
    let capture_file = dir.path("h2.pcapng");
    let tshark = capture(&format!("tcp port {}", addr.port()), &capture_file, || {
        let _ = std::net::TcpStream::connect(addr);
    });
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
    std::thread::sleep(Duration::from_millis(300));
    stop_capture(tshark);
    drop(server);
    for keys in [&client_keys, &server_keys] {
        let log = std::fs::read_to_string(keys).unwrap();
        assert!(log.contains("CLIENT_TRAFFIC_SECRET_0 "), "{keys}: {log}");
        let seen = fields(&capture_file, Some(keys));
        assert!(
            seen.contains(":path") && seen.contains("/status/200") && seen.contains(":status"),
            "decrypted with {keys}:\n{seen}"
        );
    }
    let blind = fields(&capture_file, None);
    assert!(!blind.contains("/status/200"), "without keys:\n{blind}");
}
