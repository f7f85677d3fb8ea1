//! Key updates (RFC 9001 §6) seen in netlab's trace, which removes header protection with
//! the connection's key log to read each 1-RTT packet's key phase: a peer that updates its
//! keys mid-download (ngtcp2's gtlsclient and aioquic's client against `netlab h3 serve`,
//! aioquic's server against `netlab h3 get`) shows as the phase flipping 0 → 1 on its
//! packets, then on ours (quiche answers an update; it cannot start one), and the file
//! arrives intact.

mod common;
use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(90);

fn blob(dir: &TempDir, len: u32) -> Vec<u8> {
    let data: Vec<u8> = (0..len)
        .map(|i| (i.wrapping_mul(40_503) >> 7) as u8)
        .collect();
    std::fs::write(dir.path("blob.bin"), &data).unwrap();
    data
}

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn script(name: &str) -> String {
    format!("{}/tests/h3/{name}", env!("CARGO_MANIFEST_DIR"))
}

const FLIP: &str = "KEY UPDATE: key phase 0 → 1";

/// The trace shows the peer's packets flipping first (`theirs`: "←" lines), then ours.
fn assert_flips(trace: &str, theirs: &str, ours: &str) {
    let line = |dir: &str| {
        trace
            .lines()
            .position(|l| l.contains(dir) && l.contains(FLIP))
            .unwrap_or_else(|| panic!("no '{dir}' line with '{FLIP}' in:\n{trace}"))
    };
    let (received, sent) = (line(theirs), line(ours));
    assert!(received < sent, "we flipped before the peer did:\n{trace}");
    // Before the update every 1-RTT packet was phase 0, after it phase 1.
    assert!(trace.contains("key phase 0"));
    assert!(trace.contains("key phase 1"));
}

#[test]
fn gtlsclient_updating_its_keys_is_seen_as_the_key_phase_flipping_with_each_cipher_suite() {
    require("gtlsclient");
    let dir = TempDir::new("h3-keyupdate-ngtcp2");
    let certs = make_certs(&dir);
    let data = blob(&dir, 2_000_000);
    let downloads = dir.path("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    // The three TLS 1.3 suites QUIC uses: the trace tells them apart by the key log's secret
    // length and by which one opens the first packet.
    for cipher in ["AES-128-GCM", "CHACHA20-POLY1305", "AES-256-GCM"] {
        let (mut srv, addr) = h3_serve(
            &certs,
            &["--root", &dir.path("")],
            &[("NETLAB_TRACE", "quic")],
        );
        let _ = std::fs::remove_file(format!("{downloads}/blob.bin"));
        let port = addr.port().to_string();
        let out = run(
            "gtlsclient",
            &[
                "-q",
                "--exit-on-all-streams-close",
                "--sni=localhost",
                // The update 20 ms after the handshake, the request 50 ms after it: the
                // 2 MB once came in under 20 ms and gtlsclient left before its update (all
                // packets phase 0). The request's own packets and the whole download are
                // then phase 1 (aioquic's test below updates mid-download).
                "--key-update=20ms",
                "--delay-stream=50ms",
                &format!("--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+{cipher}"),
                &format!("--download={downloads}"),
                "127.0.0.1",
                &port,
                &format!("https://localhost:{port}/blob.bin"),
            ],
            b"",
            &[],
            T,
        );
        let got = std::fs::read(format!("{downloads}/blob.bin"))
            .unwrap_or_else(|e| panic!("{cipher}: no download ({e}): {}", text(&out.stderr)));
        assert!(got == data, "{cipher}: {} bytes, differing", got.len());
        let trace = srv.stderr_until(&["closed by the client"], T);
        assert_flips(&trace, "server [quic] ←", "server [quic] →");
    }
}

#[test]
fn aioquic_client_updating_its_keys_is_seen_as_the_key_phase_flipping() {
    let python = python_with("aioquic");
    let dir = TempDir::new("h3-keyupdate-aioquic-client");
    let certs = make_certs(&dir);
    let data = blob(&dir, 3_000_000);
    let (mut srv, addr) = h3_serve(
        &certs,
        &["--root", &dir.path("")],
        &[("NETLAB_TRACE", "quic")],
    );
    let out = run(
        &python,
        &[
            &script("moves.py"),
            "client",
            &format!("https://localhost:{}/blob.bin", addr.port()),
            "--cacert",
            &format!("{certs}/ca.pem"),
            "--key-update-after",
            "500000",
        ],
        b"",
        &[],
        T,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("key update requested"), "{err}");
    let want = format!("200 {} {}\n", data.len(), sha256_hex(&data));
    assert_eq!(text(&out.stdout), want);
    let trace = srv.stderr_until(&["closed by the client"], T);
    assert_flips(&trace, "server [quic] ←", "server [quic] →");
}

#[test]
fn aioquic_server_updating_its_keys_is_seen_by_netlab_get() {
    let python = python_with("aioquic");
    let dir = TempDir::new("h3-keyupdate-aioquic-server");
    let certs = make_certs(&dir);
    let cert = format!("{certs}/localhost.pem");
    let key = format!("{certs}/localhost-key.pem");
    let moves = script("moves.py");
    let mut srv = spawn(
        &python,
        &[
            &moves,
            "server",
            "--cert",
            &cert,
            "--key",
            &key,
            "--key-update-after",
            "0.02",
        ],
    );
    let addr = srv.listening();
    let out = run_netlab(
        &[
            "h3",
            "get",
            "--cacert",
            &format!("{certs}/ca.pem"),
            &format!("https://localhost:{}/bytes/3000000", addr.port()),
        ],
        b"",
        &[("NETLAB_TRACE", "quic")],
        T,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(out.stdout.len(), 3_000_000);
    assert!(
        out.stdout
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8)
    );
    assert_flips(&err, "client [quic] ←", "client [quic] →");
}
