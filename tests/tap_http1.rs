//! `netlab tap --proto http1` between two programs we did not write (curl and Python's
//! http.server), and between curl and netlab's server: the decoded lines name every message,
//! its framing, and the end of the connection.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn tap_to(target: SocketAddr) -> (Proc, SocketAddr) {
    let mut tap = spawn_netlab(
        &["tap", "--proto", "http1", "--to", &target.to_string()],
        &[],
    );
    let addr = tap.listening();
    (tap, addr)
}

#[test]
fn curl_to_python_through_the_tap() {
    require("curl");
    let dir = TempDir::new("tap-http");
    std::fs::write(dir.path("a.txt"), "first file\n").unwrap();
    let (_py, origin) = python_http_server(&dir);
    let (mut tap, taddr) = tap_to(origin);
    for extra in [None, Some("-I")] {
        let url = format!("http://{taddr}/a.txt");
        let mut args = vec!["-sS", "--max-time", "10", url.as_str()];
        args.extend(extra);
        let out = run("curl", &args, b"", &[], T);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let wants = [
        "[http1] → #1 request 1: GET /a.txt HTTP/1.1 (3 fields, Host: 127.0.0.1:",
        "[http1] ← #1 response 1 to GET: HTTP/1.0 200 OK",
        "body: Content-Length 11",
        "body complete: 11 bytes: \"first file\\n\"",
        "[http1] → #2 request 1: HEAD /a.txt HTTP/1.1",
        "[http1] ← #2 response 1 to HEAD: HTTP/1.0 200 OK",
        "; no body",
        "[http1] · #1 the server closed after 1 message(s)",
    ];
    let trace = tap.stderr_until(&wants, T);
    for want in wants {
        assert!(trace.contains(want), "{want:?} missing:\n{trace}");
    }
}

#[test]
fn curl_to_netlab_keep_alive_and_chunked_through_the_tap() {
    require("curl");
    let (_server, origin) = http_server(&[]);
    let (mut tap, taddr) = tap_to(origin);
    let out = run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            &format!("http://{taddr}/status/200"),
            &format!("http://{taddr}/chunked"),
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let wants = [
        "#1 request 1: GET /status/200 HTTP/1.1",
        "#1 request 2: GET /chunked HTTP/1.1",
        "#1 response 2 to GET: HTTP/1.1 200 OK (3 fields); body: chunked",
        "chunked body complete: chunk sizes [4096, 1996, 0], 0 trailer field(s)",
    ];
    let trace = tap.stderr_until(&wants, T);
    for want in wants {
        assert!(trace.contains(want), "{want:?} missing:\n{trace}");
    }
    assert!(
        !trace.contains("#2 "),
        "curl reused one connection for both requests:\n{trace}"
    );
}
