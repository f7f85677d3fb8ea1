//! HTTP/2 with software we did not write, in both roles: curl (TLS with ALPN, and h2c prior
//! knowledge), nghttp (every frame shown), h2load, Python's httpx (on the `h2` package) as
//! clients of `netlab h2 serve`; nghttpd as the server for `netlab h2 get`. The same routes
//! answer over HTTP/1.1 and HTTP/2, streams are multiplexed, and tens of megabytes go up and
//! down through flow control.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Certificates from `netlab cert` in a fresh directory: (dir, ca, cert, key).
fn certs() -> (TempDir, String, String, String) {
    let dir = TempDir::new("h2-certs");
    let out = run_netlab(&["cert", "--dir", &dir.path("")], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (ca, cert, key) = (
        dir.path("ca.pem"),
        dir.path("localhost.pem"),
        dir.path("localhost-key.pem"),
    );
    (dir, ca, cert, key)
}

/// A document root with a small file in it.
fn site_root() -> TempDir {
    let root = TempDir::new("h2-root");
    std::fs::write(root.path("hello.txt"), "a static file\n").unwrap();
    root
}

fn h2_server(extra: &[&str], env: &[(&str, &str)]) -> (Proc, SocketAddr) {
    let mut args = vec!["h2", "serve", "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut p = spawn_netlab(&args, env);
    let addr = p.listening();
    (p, addr)
}

/// The WSDL names the address it was fetched from (Host): the same document otherwise.
fn without_address(body: &str) -> String {
    match body.split_once("soap:address location=\"") {
        Some((before, after)) => {
            let rest = after.split_once('"').map(|(_, r)| r).unwrap_or("");
            format!("{before}soap:address location=\"…\"{rest}")
        }
        None => body.to_string(),
    }
}

/// curl's answer: (HTTP version, status, body).
fn curl(args: &[&str]) -> (String, u16, String) {
    require("curl");
    let mut all = vec![
        "-sS",
        "--max-time",
        "20",
        "-w",
        "\n%{http_version} %{http_code}",
    ];
    all.extend_from_slice(args);
    let out = run("curl", &all, b"", &[], T);
    assert_eq!(
        out.status.code(),
        Some(0),
        "curl {args:?}: {}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let (body, tail) = stdout.rsplit_once('\n').unwrap();
    let (version, code) = tail.split_once(' ').unwrap();
    (
        version.to_string(),
        code.parse().unwrap(),
        without_address(body),
    )
}

#[test]
fn the_same_routes_answer_the_same_over_http1_and_http2() {
    let (_d, ca, cert, key) = certs();
    let root = site_root();
    let r = root.0.to_str().unwrap();
    let (_h1, a1) = http_server(&["--root", r]);
    let (_tls, a2) = h2_server(&["--root", r, "--cert", &cert, "--key", &key], &[]);
    let (_h2c, a3) = h2_server(&["--root", r, "--h2c"], &[]);
    let requests: &[&[&str]] = &[
        &["/status/200"],
        &["/hello.txt"],
        &[
            "/echo",
            "-X",
            "PUT",
            "-H",
            "content-type: text/plain",
            "--data-binary",
            "echo me",
        ],
        &[
            "/api/notes",
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"text":"over h2"}"#,
        ],
        &["/api/notes/1"],
        &["/api/notes/99"],
        &["/soap?wsdl"],
        &["/status/412"],
        &["/api/notes/1", "-X", "PATCH"],
    ];
    for req in requests {
        let (path, rest) = req.split_first().unwrap();
        let h1 = curl(&[&[&format!("http://{a1}{path}") as &str], rest].concat());
        let h2 = curl(
            &[
                &[
                    "--http2",
                    "--cacert",
                    &ca,
                    &format!("https://localhost:{}{path}", a2.port()),
                ] as &[&str],
                rest,
            ]
            .concat(),
        );
        let h2c = curl(
            &[
                &["--http2-prior-knowledge", &format!("http://{a3}{path}")] as &[&str],
                rest,
            ]
            .concat(),
        );
        assert_eq!(h1.0, "1.1", "{req:?}");
        assert_eq!((h2.0.as_str(), h2c.0.as_str()), ("2", "2"), "{req:?}");
        assert_eq!(
            (h1.1, h1.2.clone()),
            (h2.1, h2.2.clone()),
            "HTTP/1.1 vs HTTP/2 over TLS for {req:?}"
        );
        assert_eq!((h1.1, h1.2), (h2c.1, h2c.2), "HTTP/1.1 vs h2c for {req:?}");
    }
    // HEAD: the same fields a GET would carry, no body; HTTP/2 sends them lower-case.
    let h1 = curl(&["-I", &format!("http://{a1}/hello.txt")]);
    let h2 = curl(&[
        "-I",
        "--http2-prior-knowledge",
        &format!("http://{a3}/hello.txt"),
    ]);
    assert_eq!((h1.1, h2.1), (200, 200));
    for (field, h2_field) in [
        ("Content-Length: 14", "content-length: 14"),
        ("ETag: ", "etag: "),
        ("Date: ", "date: "),
    ] {
        assert!(h1.2.contains(field), "{}", h1.2);
        assert!(h2.2.contains(h2_field), "{}", h2.2);
    }
}

#[test]
fn alpn_decides_a_client_offering_only_http11_gets_http11_on_the_same_port() {
    let (_d, ca, cert, key) = certs();
    let (_s, addr) = h2_server(&["--cert", &cert, "--key", &key], &[]);
    let url = format!("https://localhost:{}/status/200", addr.port());
    assert_eq!(curl(&["--http1.1", "--cacert", &ca, &url]).0, "1.1");
    assert_eq!(curl(&["--http2", "--cacert", &ca, &url]).0, "2");
    // Without our CA the handshake fails, as it should.
    let out = run("curl", &["-sS", "--http2", &url], b"", &[], T);
    assert_eq!(out.status.code(), Some(60), "{}", text(&out.stderr));
    // Cleartext: no preface, no HTTP/2 — the h2c port answers HTTP/1.1.
    let (_c, plain) = h2_server(&["--h2c"], &[]);
    assert_eq!(curl(&[&format!("http://{plain}/status/200")]).0, "1.1");
}

#[test]
fn nghttp_shows_every_frame_of_our_server_over_tls_and_h2c() {
    require("nghttp");
    let (_d, _ca, cert, key) = certs();
    let (_s, tls) = h2_server(&["--cert", &cert, "--key", &key], &[]);
    let (_c, h2c) = h2_server(&["--h2c"], &[]);
    for url in [
        format!("https://localhost:{}/status/200", tls.port()),
        format!("http://{h2c}/status/200"),
    ] {
        let out = run("nghttp", &["-nv", &url], b"", &[], T);
        let log = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{log}{}", text(&out.stderr));
        for want in [
            "The negotiated protocol: h2",
            "recv SETTINGS frame <length=18, flags=0x00, stream_id=0>",
            "(niv=3)",
            "[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100]",
            // nghttp still sends RFC 7540 PRIORITY frames; the server ignores them.
            "send PRIORITY frame",
            ":status: 200",
            "recv DATA frame <length=7, flags=0x01, stream_id=",
        ] {
            if want.starts_with("The negotiated") && url.starts_with("http:") {
                continue; // ALPN is TLS's; h2c is prior knowledge
            }
            assert!(
                log.contains(want),
                "{want:?} missing from nghttp -nv {url}:\n{log}"
            );
        }
    }
}

#[test]
fn h2load_multiplexes_many_requests_on_few_connections() {
    require("h2load");
    let (_c, h2c) = h2_server(&["--h2c"], &[]);
    let out = run(
        "h2load",
        &[
            "-n",
            "400",
            "-c",
            "4",
            "-m",
            "10",
            &format!("http://{h2c}/status/200"),
        ],
        b"",
        &[],
        T,
    );
    let log = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("400 succeeded, 0 failed, 0 errored"), "{log}");
    assert!(log.contains("status codes: 400 2xx"), "{log}");
}

#[test]
fn python_httpx_speaks_http2_to_our_server() {
    let python = python_with("httpx");
    let (_d, ca, cert, key) = certs();
    let (_s, addr) = h2_server(&["--cert", &cert, "--key", &key], &[]);
    let script = r#"
import sys, httpx
base, ca = sys.argv[1], sys.argv[2]
with httpx.Client(http2=True, verify=ca) as c:
    r = c.get(base + "/status/200")
    print(r.http_version, r.status_code, r.text.strip())
    r = c.post(base + "/api/notes", json={"text": "from httpx"})
    print(r.http_version, r.status_code, r.json()["text"])
    r = c.get(base + "/api/notes")
    print(r.http_version, r.status_code, len(r.json()))
"#;
    let base = format!("https://localhost:{}", addr.port());
    let out = run(&python, &["-c", script, &base, &ca], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "HTTP/2 200 200 OK\nHTTP/2 201 from httpx\nHTTP/2 200 1\n"
    );
}

#[test]
fn our_client_gets_files_from_nghttpd_over_h2c_and_tls() {
    require("nghttpd");
    let (_d, ca, cert, key) = certs();
    let root = TempDir::new("nghttpd-root");
    std::fs::write(root.path("a.txt"), "file a\n").unwrap();
    std::fs::write(root.path("b.txt"), "file b\n").unwrap();
    let dir = root.0.to_str().unwrap().to_string();
    let (_plain, port) = spawn_on_free_port("nghttpd", |port| {
        vec![
            "--no-tls".into(),
            "-d".into(),
            dir.clone(),
            port.to_string(),
        ]
    });
    let out = run_netlab(
        &[
            "h2",
            "get",
            "--h2c",
            "-v",
            &format!("http://127.0.0.1:{port}/a.txt"),
            &format!("http://127.0.0.1:{port}/b.txt"),
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "file a\nfile b\n");
    let trace = text(&out.stderr);
    assert!(trace.contains("client [h2] ← SETTINGS stream=0"), "{trace}");
    assert!(
        trace.contains("client [h2] → HEADERS stream=3"),
        "two streams:\n{trace}"
    );
    let (_tls, tls_port) = spawn_on_free_port("nghttpd", |port| {
        vec![
            "-d".into(),
            dir.clone(),
            port.to_string(),
            key.clone(),
            cert.clone(),
        ]
    });
    let out = run_netlab(
        &[
            "h2",
            "get",
            "--cacert",
            &ca,
            &format!("https://localhost:{tls_port}/b.txt"),
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "file b\n");
}

#[test]
fn a_slow_stream_does_not_hold_back_the_fast_ones() {
    let (_c, h2c) = h2_server(&["--h2c"], &[]);
    let base = format!("http://{h2c}");
    let out = run_netlab(
        &[
            "h2",
            "get",
            "--h2c",
            "-v",
            &format!("{base}/delay/1500"),
            &format!("{base}/status/200"),
            &format!("{base}/status/201"),
            &format!("{base}/status/202"),
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Bodies come out in the order asked for...
    assert_eq!(
        text(&out.stdout),
        "answered after 1500 ms\n200 OK\n201 Created\n202 Accepted\n"
    );
    // ...but on the wire the fast streams (3, 5, 7) were answered while stream 1 waited.
    let trace = text(&out.stderr);
    let at = |needle: &str| {
        trace
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{trace}"))
    };
    let slow = at("client [h2] ← DATA stream=1 flags=END_STREAM");
    for fast in [3, 5, 7] {
        assert!(
            at(&format!(
                "client [h2] ← DATA stream={fast} flags=END_STREAM"
            )) < slow,
            "stream {fast} waited for stream 1:\n{trace}"
        );
    }
}

#[test]
fn tens_of_megabytes_go_up_and_down_through_flow_control() {
    let dir = TempDir::new("h2-big");
    // 24 MiB that do not compress: a simple generator, the same bytes every run.
    let mut big = Vec::with_capacity(24 << 20);
    let mut x = 0x2545_f491_u32;
    while big.len() < 24 << 20 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        big.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(dir.path("big.bin"), &big).unwrap();
    let (_c, h2c) = h2_server(&["--h2c"], &[]);
    // Our client: the upload is echoed back, so both directions carry 24 MiB.
    let out = run_netlab(
        &[
            "h2",
            "get",
            "--h2c",
            "-X",
            "PUT",
            "-d",
            &format!("@{}", dir.path("big.bin")),
            "-o",
            &dir.path("back.bin"),
            &format!("http://{h2c}/echo"),
        ],
        b"",
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::read(dir.path("back.bin")).unwrap() == big,
        "our client: the echo differs"
    );
    // curl, the same way.
    require("curl");
    let out = run(
        "curl",
        &[
            "-sS",
            "--http2-prior-knowledge",
            "-X",
            "PUT",
            "--data-binary",
            &format!("@{}", dir.path("big.bin")),
            "-o",
            &dir.path("curl.bin"),
            &format!("http://{h2c}/echo"),
        ],
        b"",
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::read(dir.path("curl.bin")).unwrap() == big,
        "curl: the echo differs"
    );
}

#[test]
fn the_trace_shows_hpack_making_a_repeated_request_smaller() {
    let (mut server, h2c) = h2_server(&["--h2c"], &[("NETLAB_TRACE", "h2,hpack")]);
    let url = format!("http://{h2c}/status/200");
    let out = run_netlab(&["h2", "get", "--h2c", &url, &url], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let wants = ["server [hpack] ← stream 1: ", "server [h2] → DATA stream=3"];
    let trace = server.stderr_until(&wants, T);
    let size = |stream: u32| -> usize {
        let line = trace
            .lines()
            .find(|l| l.contains(&format!("server [hpack] ← stream {stream}: ")))
            .unwrap_or_else(|| panic!("stream {stream} missing:\n{trace}"));
        line.split(" fields from ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    assert!(
        size(3) < size(1),
        "the second request's header block is smaller:\n{trace}"
    );
    assert!(trace.contains("(indexed 62, dynamic)"), "{trace}");
}

#[test]
fn push_nghttp_accepts_the_pushed_resources_and_curl_refuses_them() {
    require("nghttp");
    let (mut server, h2c) = h2_server(&["--h2c"], &[("NETLAB_TRACE", "h2")]);
    let out = run(
        "nghttp",
        &["-nv", &format!("http://{h2c}/push")],
        b"",
        &[],
        T,
    );
    let log = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{log}");
    for want in [
        ":path: /push/style.css",
        ":path: /push/app.js",
        "recv PUSH_PROMISE frame <length=",
        "promised_stream_id=2)",
        "promised_stream_id=4)",
        "recv DATA frame <length=20, flags=0x01, stream_id=2>",
        "recv DATA frame <length=37, flags=0x01, stream_id=4>",
    ] {
        assert!(
            log.contains(want),
            "{want:?} missing from nghttp -nv:\n{log}"
        );
    }
    // The promises go out before the page that references the resources (RFC 9113 §8.4).
    let promise = log.find("recv PUSH_PROMISE").unwrap();
    let page = log.find("recv DATA frame <length=").unwrap();
    assert!(promise < page, "{log}");
    // curl says SETTINGS_ENABLE_PUSH=0: the page comes alone.
    let (version, status, body) = curl(&["--http2-prior-knowledge", &format!("http://{h2c}/push")]);
    assert_eq!((version.as_str(), status), ("2", 200));
    assert!(body.contains("/push/style.css"), "{body}");
    let trace = server.stderr_until(&["the client refuses pushes"], T);
    assert!(trace.contains("not pushing /push/style.css"), "{trace}");
}
