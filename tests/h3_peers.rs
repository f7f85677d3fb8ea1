//! HTTP/3 with software we did not write, in both roles: aioquic's client against our server
//! and our client against aioquic's server (each with and without Retry), ngtcp2's
//! gtlsclient downloading from us, headless Chromium loading a page from `netlab h3 serve`,
//! and tshark decrypting a capture of our traffic with our key log.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(90);

fn script(name: &str) -> String {
    format!("{}/tests/h3/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

#[test]
fn aioquic_fetches_from_our_server_with_and_without_retry() {
    let python = python_with("aioquic");
    let dir = TempDir::new("h3-aioquic-client");
    let certs = make_certs(&dir);
    let page = b"<!doctype html><title>t</title>\n".repeat(100);
    std::fs::write(dir.path("page.html"), &page).unwrap();
    let root = dir.path("");
    for retry in [false, true] {
        let mut extra = vec!["--root", root.as_str()];
        if retry {
            extra.push("--retry");
        }
        let (_server, addr) = h3_serve(&certs, &extra, &[]);
        let ca = format!("{certs}/ca.pem");
        let out = run(
            &python,
            &[
                &script("client.py"),
                "--cacert",
                &ca,
                &url(addr, "/page.html"),
                &url(addr, "/status/201"),
                &url(addr, "/page.html"),
            ],
            b"",
            &[],
            T,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "retry={retry}: {}",
            text(&out.stderr)
        );
        let want_page = format!("200 {} {}", page.len(), sha256_hex(&page));
        let want_201 = format!("201 12 {}", sha256_hex(b"201 Created\n"));
        let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
        assert_eq!(
            lines,
            [
                want_page.as_str(),
                "text/html; charset=utf-8",
                want_201.as_str(),
                "text/plain; charset=utf-8",
                want_page.as_str(),
                "text/html; charset=utf-8"
            ],
            "retry={retry}"
        );
        let expect = if retry { "retry: yes" } else { "retry: no" };
        assert!(text(&out.stderr).contains(expect), "{}", text(&out.stderr));
        // A request body, from their client to our handler.
        let out = run(
            &python,
            &[
                &script("client.py"),
                "--cacert",
                &ca,
                "--method",
                "POST",
                "--data",
                "from aioquic",
                &url(addr, "/echo"),
            ],
            b"",
            &[],
            T,
        );
        let want = format!("200 12 {}", sha256_hex(b"from aioquic"));
        assert_eq!(
            text(&out.stdout).lines().next(),
            Some(want.as_str()),
            "{}",
            text(&out.stderr)
        );
    }
}

fn aioquic_server(python: &str, certs: &str, retry: bool) -> (Proc, SocketAddr) {
    let cert = format!("{certs}/localhost.pem");
    let key = format!("{certs}/localhost-key.pem");
    let server_py = script("server.py");
    let mut args = vec![server_py.as_str(), "--cert", &cert, "--key", &key];
    if retry {
        args.push("--retry");
    }
    let mut p = spawn(python, &args);
    let addr = p.listening();
    (p, addr)
}

#[test]
fn our_client_fetches_from_aioquic_with_and_without_retry() {
    let python = python_with("aioquic");
    let dir = TempDir::new("h3-aioquic-server");
    let certs = make_certs(&dir);
    let ca = format!("{certs}/ca.pem");
    for retry in [false, true] {
        let (_server, addr) = aioquic_server(&python, &certs, retry);
        // Two streams at once on one connection: 100 kB of the pattern, and an echo.
        let out = run_netlab(
            &[
                "h3",
                "get",
                "--cacert",
                &ca,
                "--stats",
                &url(addr, "/bytes/100000"),
                &url(addr, "/"),
            ],
            b"",
            &[],
            T,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "retry={retry}: {}",
            text(&out.stderr)
        );
        let body = out.stdout;
        let pattern: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(&body[..100_000], &pattern[..], "retry={retry}");
        assert!(
            text(&body[100_000..]).contains("netlab h3 peer"),
            "retry={retry}"
        );
        let stats = text(&out.stderr);
        assert_eq!(stats.contains("with a Retry"), retry, "{stats}");
        let out = run_netlab(
            &[
                "h3",
                "get",
                "--cacert",
                &ca,
                "-X",
                "POST",
                "-d",
                "to aioquic",
                "-H",
                "content-type: text/x-test",
                &url(addr, "/echo"),
            ],
            b"",
            &[],
            T,
        );
        assert_eq!(text(&out.stdout), "to aioquic", "{}", text(&out.stderr));
    }
}

#[test]
fn ngtcp2s_client_downloads_from_our_server() {
    require("gtlsclient");
    let dir = TempDir::new("h3-ngtcp2");
    let certs = make_certs(&dir);
    let data: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(40_503) >> 7) as u8)
        .collect();
    std::fs::write(dir.path("blob.bin"), &data).unwrap();
    let root = dir.path("");
    let downloads = dir.path("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    for retry in [false, true] {
        let mut extra = vec!["--root", root.as_str()];
        if retry {
            extra.push("--retry");
        }
        let (_server, addr) = h3_serve(&certs, &extra, &[]);
        let _ = std::fs::remove_file(format!("{downloads}/blob.bin"));
        let port = addr.port().to_string();
        let download = format!("--download={downloads}");
        // gtlsclient exits 0 even when it fails: the downloaded file is the evidence.
        let out = run(
            "gtlsclient",
            &[
                "-q",
                "--exit-on-all-streams-close",
                "--sni=localhost",
                &download,
                "127.0.0.1",
                &port,
                &url(addr, "/blob.bin"),
            ],
            b"",
            &[],
            T,
        );
        let got = std::fs::read(format!("{downloads}/blob.bin"))
            .unwrap_or_else(|e| panic!("retry={retry}: no download ({e}): {}", text(&out.stderr)));
        assert!(got == data, "retry={retry}: {} bytes, differing", got.len());
    }
}

#[test]
fn chromium_loads_a_page_from_our_server_over_http3() {
    require("node");
    require("chromium");
    assert!(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/node_modules/playwright-core"
        ))
        .is_dir(),
        "playwright-core is not installed: run `make deps` (or make test)"
    );
    let dir = TempDir::new("h3-chromium");
    let certs = make_certs(&dir);
    std::fs::write(
        dir.path("page.html"),
        "<!doctype html><html><head><title>over h3</title><link rel=stylesheet href=/style.css></head><body><img src=/dot.svg></body></html>",
    )
    .unwrap();
    std::fs::write(dir.path("style.css"), "body { color: teal }\n").unwrap();
    std::fs::write(
        dir.path("dot.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg' width='4' height='4'><circle r='2' cx='2' cy='2'/></svg>",
    )
    .unwrap();
    let root = dir.path("");
    let (mut server, addr) = h3_serve(
        &certs,
        &["--root", &root, "--retry"],
        &[("NETLAB_TRACE", "h3")],
    );
    let python = venv_python();
    let spki = run(
        &python,
        &[&script("spki.py"), &format!("{certs}/localhost.pem")],
        b"",
        &[],
        T,
    );
    let pin = text(&spki.stdout).trim().to_string();
    assert!(!pin.is_empty(), "{}", text(&spki.stderr));
    let driver = format!("{}/tests/browser/h3.mjs", env!("CARGO_MANIFEST_DIR"));
    let out = run(
        "node",
        &[&driver, &url(addr, "/page.html"), "--spki", &pin],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the driver's JSON");
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["protocol"], "h3", "{report}");
    assert_eq!(report["title"], "over h3", "{report}");
    let resources = report["resources"].as_array().unwrap();
    for want in ["/style.css", "/dot.svg"] {
        let r = resources
            .iter()
            .find(|r| r["name"].as_str().unwrap_or("").ends_with(want))
            .unwrap_or_else(|| panic!("no {want} in {report}"));
        assert_eq!(r["nextHopProtocol"], "h3", "{want}: {report}");
    }
    // Our server saw Chromium's requests as HTTP/3 HEADERS frames.
    let trace = server.stderr_until(&[":path=/page.html", ":path=/dot.svg"], T);
    assert!(trace.contains("user-agent=Mozilla"), "{trace}");
}

#[test]
fn tshark_decrypts_our_quic_with_either_sides_key_log() {
    require("tshark");
    let dir = TempDir::new("h3-keylog");
    let certs = make_certs(&dir);
    let keys = dir.path("client.keys");
    let server_keys = dir.path("server.keys");
    let (_server, addr) = h3_serve(&certs, &[], &[("SSLKEYLOGFILE", &server_keys)]);
    let capture_file = dir.path("h3.pcapng");
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tshark = capture(&format!("udp port {}", addr.port()), &capture_file, || {
        let _ = probe.send_to(b"\x00probe", addr);
    });
    let ca = format!("{certs}/ca.pem");
    let out = run_netlab(
        &["h3", "get", "--cacert", &ca, &url(addr, "/status/202")],
        b"",
        &[("SSLKEYLOGFILE", &keys)],
        T,
    );
    assert_eq!(text(&out.stdout), "202 Accepted\n", "{}", text(&out.stderr));
    std::thread::sleep(Duration::from_millis(500));
    stop_capture(tshark);
    let log = std::fs::read_to_string(&keys).unwrap();
    assert!(log.contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET"), "{log}");
    // With the key log: the STREAM frames inside the 1-RTT packets, and HTTP/3 in them.
    let fields = |keys: Option<&str>| {
        let mut args = vec!["-r".to_string(), capture_file.clone()];
        if let Some(k) = keys {
            args.extend(["-o".into(), format!("tls.keylog_file:{k}")]);
        }
        args.extend(["-Y", "quic", "-T", "fields", "-e", "quic.frame_type"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        text(&run("tshark", &args, b"", &[], T).stdout)
    };
    // Frame types as numbers (RFC 9000 §19): STREAM is 0x08–0x0f, HANDSHAKE_DONE 0x1e.
    let types = |s: &str| -> Vec<u64> {
        s.split([',', '\n'])
            .filter_map(|f| f.trim().parse().ok())
            .collect()
    };
    let decrypted = types(&fields(Some(&keys)));
    assert!(
        decrypted.iter().any(|t| (8..=15).contains(t)),
        "no STREAM frame decrypted: {decrypted:?}"
    );
    assert!(
        decrypted.contains(&0x1e),
        "no HANDSHAKE_DONE: {decrypted:?}"
    );
    // Without it: only the Initial packets (their keys derive from public values) decode.
    let opaque = types(&fields(None));
    assert!(
        !opaque.iter().any(|t| (8..=15).contains(t)),
        "STREAM frames without keys: {opaque:?}"
    );
    assert!(
        decrypted.len() > opaque.len() + 5,
        "with keys {decrypted:?}, without {opaque:?}"
    );
}
