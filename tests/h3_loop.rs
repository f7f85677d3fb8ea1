//! HTTP/3 between netlab's own client and server: the site's routes over QUIC (static files,
//! /echo, the REST API), several URLs as parallel streams on one connection, Retry, qlog, a
//! lossy path made with nftables in a network namespace, bad datagrams, and 50 clients at
//! once — the server keeps serving through all of it.

mod common;
use common::*;
use netlab::http::uri::Url;
use netlab::quic::client::{self, Options};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn get(certs: &str, args: &[&str]) -> std::process::Output {
    let ca = format!("{certs}/ca.pem");
    let mut all = vec!["h3", "get", "--cacert", &ca];
    all.extend_from_slice(args);
    run_netlab(&all, b"", &[], T)
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

#[test]
fn the_sites_routes_answer_over_http3_as_parallel_streams() {
    let dir = TempDir::new("h3-routes");
    let certs = make_certs(&dir);
    std::fs::write(dir.path("page.txt"), "a static file\n").unwrap();
    let root = dir.path("");
    let (_server, addr) = h3_serve(&certs, &["--root", &root], &[]);
    // Three URLs, one connection: the bodies come out in the order asked.
    let out = get(
        &certs,
        &[
            &url(addr, "/page.txt"),
            &url(addr, "/status/201"),
            &url(addr, "/page.txt"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "a static file\n201 Created\na static file\n"
    );
    // A request body: POST /echo gives it back with its type.
    let out = get(
        &certs,
        &[
            "-X",
            "POST",
            "-d",
            "over QUIC",
            "-H",
            "content-type: text/plain",
            &url(addr, "/echo"),
        ],
    );
    assert_eq!(text(&out.stdout), "over QUIC");
    // The REST API: create a note, then read it back on another connection.
    let out = get(
        &certs,
        &[
            "-X",
            "POST",
            "-d",
            r#"{"text":"same handler over h3"}"#,
            "-H",
            "content-type: application/json",
            &url(addr, "/api/notes"),
        ],
    );
    let created = text(&out.stdout);
    assert!(created.contains("same handler over h3"), "{created}");
    let out = get(&certs, &[&url(addr, "/api/notes")]);
    assert!(
        text(&out.stdout).contains("same handler"),
        "{}",
        text(&out.stdout)
    );
    // A connection-specific field is not allowed in HTTP/3 (RFC 9114 §4.2): 400, with why.
    let out = get(
        &certs,
        &["-H", "connection: close", &url(addr, "/status/200")],
    );
    let body = text(&out.stdout);
    assert!(
        body.contains("malformed HTTP/3 request") && body.contains("connection-specific"),
        "{body}"
    );
    // -f: an error status is a failure.
    let out = get(&certs, &["-f", &url(addr, "/status/404")]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_file_goes_out_as_it_is_read_and_arrives_intact() {
    let dir = TempDir::new("h3-file");
    let certs = make_certs(&dir);
    // Not a multiple of the server's 64 KiB chunk, and bytes that differ from chunk to chunk
    // (a chunk sent twice or out of place would show).
    let size = 1_000_003;
    let body: Vec<u8> = (0..size as u64)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path("big.bin"), &body).unwrap();
    std::fs::write(dir.path("empty.txt"), b"").unwrap();
    let root = dir.path("");
    let (_server, addr) = h3_serve(&certs, &["--root", &root], &[]);
    let got = dir.path("got.bin");
    let out = get(&certs, &["-o", &got, &url(addr, "/big.bin")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::read(&got).unwrap() == body,
        "the file came back changed"
    );
    // HEAD: the length a GET gets, and no body; an empty file: a length of 0, no DATA.
    let out = get(&certs, &["-v", "-X", "HEAD", &url(addr, "/big.bin")]);
    let trace = text(&out.stderr);
    assert!(trace.contains(&format!("content-length={size}")), "{trace}");
    assert_eq!(out.stdout.len(), 0);
    let out = get(&certs, &["-v", &url(addr, "/empty.txt")]);
    let trace = text(&out.stderr);
    assert!(trace.contains("content-length=0"), "{trace}");
    assert_eq!(
        (out.status.code(), out.stdout.len()),
        (Some(0), 0),
        "{trace}"
    );
}

#[test]
fn the_client_verifies_the_server_unless_told_not_to() {
    let dir = TempDir::new("h3-verify");
    let certs = make_certs(&dir);
    let (_server, addr) = h3_serve(&certs, &[], &[]);
    // No --cacert: the local CA is unknown, the handshake fails with a TLS alert named.
    let out = run_netlab(&["h3", "get", &url(addr, "/status/200")], b"", &[], T);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: QUIC handshake failed"), "{err}");
    assert!(err.contains("CRYPTO_ERROR"), "{err}");
    let out = run_netlab(
        &["h3", "get", "--insecure", &url(addr, "/status/200")],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "200 OK\n", "{}", text(&out.stderr));
}

#[test]
fn retry_validates_the_address_before_the_handshake() {
    let dir = TempDir::new("h3-retry");
    let certs = make_certs(&dir);
    let (mut server, addr) = h3_serve(&certs, &["--retry"], &[("NETLAB_TRACE", "quic")]);
    let out = get(&certs, &["--stats", &url(addr, "/status/200")]);
    assert_eq!(text(&out.stdout), "200 OK\n", "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("with a Retry"),
        "{}",
        text(&out.stderr)
    );
    let trace = server.stderr_until(&["Retry token valid"], T);
    assert!(trace.contains("→ Retry to 127.0.0.1:"), "{trace}");
    assert!(trace.contains("address-validation token"), "{trace}");
    // Without --retry there is none.
    let (_plain, addr) = h3_serve(&certs, &[], &[]);
    let out = get(&certs, &["--stats", &url(addr, "/status/200")]);
    assert_eq!(text(&out.stdout), "200 OK\n", "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("handshake "),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("Retry"),
        "{}",
        text(&out.stderr)
    );
}

/// An Initial long header (version 1 unless told) padded to `size` bytes, with `token`.
fn initial(version: u32, token: &[u8], size: usize) -> Vec<u8> {
    let mut p = vec![0xc0];
    p.extend_from_slice(&version.to_be_bytes());
    p.push(8);
    p.extend_from_slice(&[0x11; 8]);
    p.push(8);
    p.extend_from_slice(&[0x22; 8]);
    p.push(token.len() as u8);
    p.extend_from_slice(token);
    let left = size - p.len() - 2;
    p.extend_from_slice(&[0x40 | (left >> 8) as u8, left as u8]);
    p.resize(size, 0x5a);
    p
}

#[test]
fn bad_datagrams_are_dropped_or_answered_and_the_server_serves_on() {
    let dir = TempDir::new("h3-bad");
    let certs = make_certs(&dir);
    let (mut server, addr) = h3_serve(&certs, &["--retry"], &[("NETLAB_TRACE", "quic")]);
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // A version nobody speaks, in a full-size Initial: Version Negotiation (RFC 9000 §6).
    probe
        .send_to(&initial(0x1a2a_3a4a, b"", 1200), addr)
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = probe
        .recv_from(&mut buf)
        .expect("a Version Negotiation packet");
    // From here on silence is the answer: wait less for it.
    probe
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let vn = &buf[..n];
    assert_eq!(vn[0] & 0x80, 0x80);
    assert_eq!(&vn[1..5], &[0, 0, 0, 0], "version 0 = Version Negotiation");
    // It echoes our connection IDs swapped, then lists version 1.
    assert_eq!(
        &vn[5..14],
        &[8, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22]
    );
    assert!(vn[23..].chunks(4).any(|v| v == [0, 0, 0, 1]), "{vn:02x?}");
    // Dropped, each for its own reason, with no answer at all.
    let drops: &[(&[u8], &str)] = &[
        (b"\x00\x01garbage", "Fixed Bit"),
        (&[0xc0, 0, 0], "ends inside the Version"),
        (&initial(1, b"", 400), "under the 1200"),
        (
            &initial(1, b"not-a-token-of-ours-at-all", 1200),
            "malformed address-validation token",
        ),
        (&initial(1, &[7u8; 48], 1200), "HMAC mismatch"),
        (&[0x40; 30], "no connection for dcid"),
    ];
    for (bytes, why) in drops {
        probe.send_to(bytes, addr).unwrap();
        assert!(
            probe.recv_from(&mut buf).is_err(),
            "an answer to a datagram dropped for {why}"
        );
        let trace = server.stderr_until(&[why], T);
        assert!(trace.contains(why), "no trace line with {why:?}:\n{trace}");
    }
    // And a real client is served as before.
    let out = get(&certs, &[&url(addr, "/status/200")]);
    assert_eq!(text(&out.stdout), "200 OK\n", "{}", text(&out.stderr));
}

#[test]
fn fifty_clients_at_once_all_complete() {
    let dir = TempDir::new("h3-fifty");
    let certs = make_certs(&dir);
    let (_server, addr) = h3_serve(&certs, &[], &[]);
    let ca = std::path::PathBuf::from(format!("{certs}/ca.pem"));
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let ca = ca.clone();
            let target = Url::parse(&url(addr, &format!("/status/{}", 200 + (i % 7)))).unwrap();
            std::thread::spawn(move || {
                let opts = Options {
                    cacert: Some(ca),
                    ..Options::default()
                };
                client::fetch(&[target], &opts).map(|o| o.responses[0].status)
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let status = t
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("client {i}: {e}"));
        assert_eq!(status, 200 + (i as u16 % 7));
    }
}

#[test]
fn qlog_files_are_json_seq_with_packet_and_http3_events() {
    let dir = TempDir::new("h3-qlog");
    let certs = make_certs(&dir);
    let server_dir = dir.path("server-qlog");
    let (mut server, addr) = h3_serve(
        &certs,
        &["--qlog", &server_dir],
        &[("NETLAB_TRACE", "quic")],
    );
    let client_dir = dir.path("client-qlog");
    let out = get(&certs, &["--qlog", &client_dir, &url(addr, "/status/200")]);
    assert_eq!(text(&out.stdout), "200 OK\n");
    // The server's file is complete once quiche has dropped the connection.
    let trace = server.stderr_until(&["closed by the client"], T);
    assert!(trace.contains("qlog → "), "{trace}");
    for (d, vantage) in [(client_dir, "client"), (server_dir, "server")] {
        let files: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "{d}");
        let bytes = std::fs::read(files[0].path()).unwrap();
        // JSON-SEQ (RFC 7464): every record starts with RS (0x1e).
        assert_eq!(bytes[0], 0x1e);
        let records: Vec<serde_json::Value> = bytes
            .split(|&b| b == 0x1e)
            .filter(|r| !r.iter().all(|b| b.is_ascii_whitespace()))
            .map(|r| serde_json::from_slice(r).expect("each record is JSON"))
            .collect();
        assert_eq!(records[0]["serialization_format"], "JSON-SEQ");
        assert_eq!(records[0]["trace"]["vantage_point"]["type"], vantage);
        let names: Vec<&str> = records[1..]
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        for want in [
            "quic:packet_sent",
            "quic:packet_received",
            "http3:frame_created",
            "http3:frame_parsed",
        ] {
            assert!(names.contains(&want), "{vantage}: no {want} in {names:?}");
        }
    }
}

/// Whether this machine lets us make a network namespace (root, unshare, nft).
fn namespaces_work() -> bool {
    let ok = std::process::Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && nft list tables"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no network namespace with nftables here (needs root, unshare, nft): under CI=true this is a failure"
        );
        eprintln!("skipped: cannot make a network namespace with nftables here (needs root)");
    }
    ok
}

#[test]
fn a_download_arrives_intact_over_a_path_that_drops_packets() {
    if !namespaces_work() {
        return;
    }
    let dir = TempDir::new("h3-lossy");
    let certs = make_certs(&dir);
    // 8 MB of data that is not all zeros.
    let data: Vec<u8> = (0..8_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path("big.bin"), &data).unwrap();
    // Everything runs inside a namespace of its own: loopback only, and nftables drops 5 %
    // of the UDP datagrams to and from the server's port, both ways.
    let script = format!(
        r#"set -e
ip link set lo up
nft add table inet lossy
nft add chain inet lossy in '{{ type filter hook input priority 0; }}'
nft add rule inet lossy in udp dport 4433 numgen random mod 100 '<' 5 counter drop
nft add rule inet lossy in udp sport 4433 numgen random mod 100 '<' 5 counter drop
"{n}" h3 serve --addr 127.0.0.1:4433 --root "{root}" --cert "{c}/localhost.pem" --key "{c}/localhost-key.pem" > "{root}/server.out" 2>&1 &
server=$!
trap 'kill $server' EXIT
# Up to 30 s for the server to start (the suite runs many tests at once on two cores).
for i in $(seq 300); do grep -q listening "{root}/server.out" && break; sleep 0.1; done
grep -q listening "{root}/server.out" || {{ echo "the server did not start:"; cat "{root}/server.out"; exit 1; }}
"{n}" h3 get --cacert "{c}/ca.pem" --stats --timeout 50000 -o "{root}/got.bin" https://localhost:4433/big.bin
nft list ruleset | grep drop
"#,
        n = NETLAB,
        root = dir.path(""),
        c = certs
    );
    let out = run("unshare", &["-n", "bash", "-c", &script], b"", &[], T);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let got = std::fs::read(dir.path("got.bin")).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the bytes differ");
    // The path really lost packets, and QUIC recovered them. The client's own "lost" counts
    // only what it sent (a few dozen ACKs since GRO batches what it receives), so the proof
    // is nftables' counters, one line per direction.
    let rules = text(&out.stdout);
    let drops: Vec<u64> = rules
        .lines()
        .filter_map(|l| l.split("counter packets ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(drops.len(), 2, "a counter per direction: {rules}");
    assert!(
        drops.iter().sum::<u64>() > 0,
        "nothing was dropped: {rules}\n{}",
        text(&out.stderr)
    );
    eprintln!("dropped (to the server, to the client): {drops:?}");
}

#[test]
fn tcp_servers_advertise_http3_with_alt_svc_and_serve_it_on_the_same_port() {
    let dir = TempDir::new("h3-altsvc");
    let certs = make_certs(&dir);
    let cert = format!("{certs}/localhost.pem");
    let key = format!("{certs}/localhost-key.pem");
    for cmd in [["http", "serve", "--tls"], ["h2", "serve", "--h3"]] {
        let mut args = vec![
            cmd[0],
            cmd[1],
            cmd[2],
            "--addr",
            "127.0.0.1:0",
            "--cert",
            &cert,
            "--key",
            &key,
        ];
        if cmd[2] == "--tls" {
            args.push("--h3");
        }
        let mut p = spawn_netlab(&args, &[]);
        let addr = p.listening();
        // Over TCP (curl: HTTP/1.1, or HTTP/2 by ALPN), the answer names the UDP port.
        let ca = format!("{certs}/ca.pem");
        let out = run(
            "curl",
            &[
                "-s",
                "-D-",
                "-o",
                "/dev/null",
                "--cacert",
                &ca,
                &url(addr, "/status/200"),
            ],
            b"",
            &[],
            T,
        );
        let head = text(&out.stdout).to_ascii_lowercase();
        assert!(
            head.contains(&format!("alt-svc: h3=\":{}\"; ma=86400", addr.port())),
            "{cmd:?}: {head}"
        );
        // And HTTP/3 answers there, without the field (the client is already there).
        let out = get(&certs, &["-v", &url(addr, "/status/200")]);
        assert_eq!(text(&out.stdout), "200 OK\n", "{}", text(&out.stderr));
        assert!(
            !text(&out.stderr).contains("alt-svc"),
            "{}",
            text(&out.stderr)
        );
    }
}

/// Step 8 closes as soon as every response is complete, which can be before the client's
/// handshake is confirmed (HANDSHAKE_DONE lost, its Finished due again). quiche 0.30 puts an
/// application CONNECTION_CLOSE only in 1-RTT packets, and until confirmation writes a
/// Handshake packet (an ACK, no close) on every `send`, never `Done`: step 9 sent 2.1
/// million of them in 120 s (handshakecorruption against gtlsserver) and never came back.
#[test]
fn a_close_before_the_handshake_is_confirmed_does_not_spin() {
    use netlab::quic::config::{self, Identity, Transport};
    let dir = TempDir::new("h3-close");
    let certs = make_certs(&dir);
    let identity = Identity::from_files(
        format!("{certs}/localhost.pem").as_ref(),
        format!("{certs}/localhost-key.pem").as_ref(),
    )
    .expect("the certificate");
    let t = Transport::default();
    let mut server_config = config::server(&identity, &t).expect("server config");
    let mut client_config = config::client(None, true, None, &t).expect("client config");
    let c_addr: SocketAddr = "127.0.0.1:1111".parse().unwrap();
    let s_addr: SocketAddr = "127.0.0.1:2222".parse().unwrap();
    let to_s = quiche::RecvInfo {
        from: c_addr,
        to: s_addr,
    };
    let to_c = quiche::RecvInfo {
        from: s_addr,
        to: c_addr,
    };
    let mut c = quiche::connect(
        Some("localhost"),
        &quiche::ConnectionId::from_ref(&[1u8; 16]),
        c_addr,
        s_addr,
        &mut client_config,
    )
    .unwrap();
    let mut s = quiche::accept(
        &quiche::ConnectionId::from_ref(&[2u8; 16]),
        None,
        s_addr,
        c_addr,
        &mut server_config,
    )
    .unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = c.send(&mut buf).unwrap();
    s.recv(&mut buf[..n], to_s).unwrap();
    while let Ok((n, _)) = s.send(&mut buf) {
        let _ = c.recv(&mut buf[..n], to_c);
    }
    assert!(c.is_established() && !s.is_established());
    let mut sent = 0;
    while sent < 100 && c.send(&mut buf).is_ok() {
        sent += 1;
    }
    std::thread::sleep(s.timeout().expect("the server's probe timer"));
    s.on_timeout();
    while let Ok((n, _)) = s.send(&mut buf) {
        let _ = c.recv(&mut buf[..n], to_c);
    }
    std::thread::sleep(c.timeout().expect("the client's probe timer"));
    c.on_timeout();
    c.close(true, 0x100, b"done").unwrap();
    // Step 9 of the closing client, on a real socket, in a thread: it must come back.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = sink.local_addr().unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let keys = netlab::quic::keylog::Keys::default();
        netlab::quic::udp::flush(&socket, &mut c, to, 16, "test", &keys);
        let _ = done.send(());
    });
    assert!(
        finished.recv_timeout(Duration::from_secs(10)).is_ok(),
        "step 9 of a closing connection never returned (quiche never said Done)"
    );
}
