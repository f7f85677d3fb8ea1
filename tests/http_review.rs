//! Defects a review found, each held by a test over the wire: reason phrases for every
//! registered status code, an idle limit on CONNECT tunnels, and a handler's panic reported
//! as one line instead of Rust's panic message.

mod common;
use common::*;
use netlab::http::message::{Request, Response};
use netlab::http1::server::{self, Config};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

#[test]
fn every_registered_status_code_goes_out_with_its_reason_phrase() {
    let (_server, addr) = http_server(&[]);
    for &code in netlab::http::status::RFC_9110 {
        if code < 200 {
            continue; // /status answers 200–599: a 1xx is interim, not a final answer
        }
        let request =
            format!("GET /status/{code} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = text(&raw_exchange(addr, request.as_bytes(), T));
        let line = answer.lines().next().unwrap_or_default();
        let want = format!("HTTP/1.1 {code} {}", netlab::http::status::reason(code));
        assert_eq!(line, want, "{answer}");
        assert!(!line.ends_with(' '), "an empty reason phrase for {code}");
    }
    let answer = text(&raw_exchange(
        addr,
        b"GET /status/412 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        T,
    ));
    assert!(
        answer.starts_with("HTTP/1.1 412 Precondition Failed\r\n"),
        "{answer}"
    );
}

/// CONNECT to `origin` through the proxy; returns the client's tunnel and the origin's end.
fn open_tunnel(proxy: std::net::SocketAddr, origin: &TcpListener) -> (TcpStream, TcpStream) {
    let target = origin.local_addr().unwrap();
    let mut client = TcpStream::connect(proxy).unwrap();
    client.set_read_timeout(Some(T)).unwrap();
    write!(
        client,
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"
    )
    .unwrap();
    let established = read_n(&mut client, 39, T);
    assert_eq!(
        text(&established),
        "HTTP/1.1 200 Connection Established\r\n\r\n"
    );
    let (far, _) = origin.accept().unwrap();
    far.set_read_timeout(Some(T)).unwrap();
    (client, far)
}

#[test]
fn a_connect_tunnel_closes_after_its_idle_limit_and_the_proxy_serves_on() {
    let mut proxy = spawn_netlab(
        &[
            "http",
            "proxy",
            "--addr",
            "127.0.0.1:0",
            "--tunnel-idle",
            "300",
        ],
        &[("NETLAB_TRACE", "http1")],
    );
    let proxy_addr = proxy.listening();
    let origin = TcpListener::bind("127.0.0.1:0").unwrap();
    let (mut client, mut far) = open_tunnel(proxy_addr, &origin);
    // Bytes flow both ways while someone talks...
    client.write_all(b"hello").unwrap();
    assert_eq!(read_n(&mut far, 5, T), b"hello");
    far.write_all(b"back").unwrap();
    assert_eq!(read_n(&mut client, 4, T), b"back");
    // ...then silence: both ends read end of stream soon after the limit.
    let silent = Instant::now();
    let mut rest = Vec::new();
    assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
    assert_eq!(far.read_to_end(&mut rest).unwrap(), 0);
    let waited = silent.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(4),
        "closed after {waited:?}"
    );
    let trace = proxy.stderr_until(&["idle for"], T);
    assert!(
        trace.contains("(5 bytes up, 4 bytes down; idle for"),
        "{trace}"
    );
    // The proxy still opens tunnels.
    let (mut client, mut far) = open_tunnel(proxy_addr, &origin);
    client.write_all(b"again").unwrap();
    assert_eq!(read_n(&mut far, 5, T), b"again");
}

fn panics(_: &Request) -> Response {
    panic!("the lab's handler gave up")
}

/// The child half of the test below: a server whose handler panics, answering one request.
/// It runs only when the parent starts this test binary again with `--ignored`.
#[test]
#[ignore = "run by a_panicking_handler_is_one_line_on_stderr_not_a_panic_message"]
fn child_serves_a_panicking_handler() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let bg = server::spawn(
        listener,
        Arc::new(panics),
        Config::default(),
        Arc::new(server::plain),
    )
    .unwrap();
    let answer = text(&raw_exchange(
        bg.addr(),
        b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        T,
    ));
    assert!(
        answer.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{answer}"
    );
    // The server goes on after the panic.
    let answer = text(&raw_exchange(
        bg.addr(),
        b"GET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        T,
    ));
    assert!(answer.starts_with("HTTP/1.1 500 "), "{answer}");
    bg.stop();
}

#[test]
fn a_panicking_handler_is_one_line_on_stderr_not_a_panic_message() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_serves_a_panicking_handler",
            "--nocapture",
        ])
        .env_remove("NETLAB_TRACE")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{}", text(&out.stdout));
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("the handler panicked at"))
        .collect();
    assert_eq!(lines.len(), 2, "one line per panicking request:\n{stderr}");
    assert!(
        lines[0].starts_with("error: 127.0.0.1:")
            && lines[0].contains("GET /x: the handler panicked at tests/http_review.rs:")
            && lines[0].ends_with(": the lab's handler gave up; answered 500, serving on"),
        "{}",
        lines[0]
    );
    assert!(
        !stderr.contains("thread '"),
        "Rust's own panic message:\n{stderr}"
    );
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
}
