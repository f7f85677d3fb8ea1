//! Hostile and broken input over the wire: every request smuggling case, oversized heads,
//! slow and silent clients, bodies that end early, garbage, a thousand idle connections.
//! Each gets the right status or a clean close — and the server keeps serving others — from
//! the server with a thread per connection and from the same server as poll loops.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

/// The server in both its shapes, one after the other: a thread per connection, and two
/// poll loops (`--loops 2`). Every case below must hold for each.
fn both_shapes(extra: &[&str]) -> impl Iterator<Item = (Proc, SocketAddr)> {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    [false, true].into_iter().map(move |loops| {
        let mut args: Vec<&str> = extra.iter().map(String::as_str).collect();
        if loops {
            args.extend(["--loops", "2"]);
        }
        http_server(&args)
    })
}

fn status_of(answer: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"))
}

/// The server still answers a normal request.
fn still_serving(addr: SocketAddr) {
    let answer = raw_exchange(
        addr,
        b"GET /status/200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        T,
    );
    assert_eq!(
        status_of(&answer),
        200,
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

fn expect(addr: SocketAddr, request: &[u8], status: u16) {
    let answer = raw_exchange(addr, request, T);
    assert_eq!(
        status_of(&answer),
        status,
        "{:?} → {}",
        String::from_utf8_lossy(request),
        String::from_utf8_lossy(&answer)
    );
    // A broken request leaves the connection in an unknown state: the server must close it.
    // (404 and 405 are answers about a resource, after which the connection is fine.)
    if status >= 400 && status != 404 && status != 405 {
        assert!(
            String::from_utf8_lossy(&answer).contains("Connection: close"),
            "{status}: an error closes the connection"
        );
    }
}

#[test]
fn request_smuggling_cases_are_refused() {
    for (_p, addr) in both_shapes(&[]) {
        let cases: &[(&[u8], u16)] = &[
            // CL.TE and TE.CL: both framings present.
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400),
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400),
            // Two different lengths.
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd", 400),
            // Obfuscated Transfer-Encoding.
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400),
            (b"POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
            // Bad chunk sizes and line endings inside the chunked body.
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", 400),
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400),
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n", 400),
            // Bad Content-Length values.
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
            (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n", 400),
            // Bare CR, obs-fold, whitespace before the colon.
            (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ];
        for (request, status) in cases {
            expect(addr, request, *status);
        }
        still_serving(addr);
    }
}

#[test]
fn every_rule_has_its_status() {
    for (_p, addr) in both_shapes(&["--max-body", "100"]) {
        expect(addr, b"GET / HTTP/1.1\r\n\r\n", 400); // no Host
        expect(addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
        expect(addr, b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501);
        expect(addr, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
        expect(addr, b"GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400);
        expect(
            addr,
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000)).as_bytes(),
            414,
        );
        expect(
            addr,
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
                "v".repeat(70_000)
            )
            .as_bytes(),
            431,
        );
        let many: String = (0..150).map(|i| format!("X-{i}: v\r\n")).collect();
        expect(
            addr,
            format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
            431,
        );
        expect(
            addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n",
            413,
        );
        expect(addr, format!("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n{}\r\n0\r\n\r\n", "x".repeat(101)).as_bytes(), 413);
        expect(
            addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 500\r\n\r\n",
            413,
        );
        expect(
            addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx",
            417,
        );
        expect(addr, b"CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n", 400);
        expect(addr, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400);
        expect(
            addr,
            b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            405,
        );
        still_serving(addr);
    }
}

#[test]
fn garbage_gets_400_and_binary_noise_a_clean_close() {
    for (_p, addr) in both_shapes(&[]) {
        expect(
            addr,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 this is TLS, not HTTP\r\n\r\n",
            400,
        );
        expect(addr, b"hello there\r\n\r\n", 400);
        let answer = raw_exchange(addr, &[0u8; 3000], T);
        assert!(answer.is_empty() || status_of(&answer) == 400);
        still_serving(addr);
    }
}

#[test]
fn slow_client_gets_408_and_does_not_block_others() {
    for (_p, addr) in both_shapes(&["--head-timeout", "400"]) {
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
        // Meanwhile others are served.
        still_serving(addr);
        let start = Instant::now();
        slow.set_read_timeout(Some(T)).unwrap();
        let mut answer = Vec::new();
        let _ = slow.read_to_end(&mut answer);
        assert_eq!(status_of(&answer), 408);
        assert!(start.elapsed() < Duration::from_secs(3));
    }
}

#[test]
fn a_body_that_never_comes_gets_408() {
    for (_p, addr) in both_shapes(&["--body-timeout", "300"]) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
            .unwrap();
        let start = Instant::now();
        s.set_read_timeout(Some(T)).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        assert_eq!(status_of(&answer), 408);
        assert!(start.elapsed() < Duration::from_secs(3));
        still_serving(addr);
    }
}

#[test]
fn a_body_that_ends_early_is_dropped_and_the_server_goes_on() {
    for (_p, addr) in both_shapes(&[]) {
        for _ in 0..10 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
                .unwrap();
            drop(s);
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(
                b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
            )
            .unwrap();
            drop(s);
        }
        still_serving(addr);
    }
}

#[test]
fn a_thousand_idle_connections_do_not_stop_the_server() {
    // All from 127.0.0.1, so that one source may hold them all (its share is 512 by default).
    for (_p, addr) in both_shapes(&["--per-source", "2048"]) {
        let idle: Vec<TcpStream> = (0..1000)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        still_serving(addr);
        let answer = raw_exchange(
            addr,
            b"GET /api/notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            T,
        );
        assert_eq!(status_of(&answer), 200);
        drop(idle);
    }
}

#[test]
fn over_the_connection_cap_answers_503() {
    for (_p, addr) in both_shapes(&["--max-conns", "5", "--per-source", "5"]) {
        let held: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
        thread::sleep(Duration::from_millis(200));
        let answer = raw_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", T);
        assert_eq!(status_of(&answer), 503);
        drop(held);
        thread::sleep(Duration::from_millis(300));
        still_serving(addr);
    }
}

#[test]
fn a_flood_from_one_address_fills_its_share_and_another_address_is_served() {
    for (mut p, addr) in both_shapes(&["--max-conns", "8", "--per-source", "4", "--trace=l4,http1"])
    {
        // 127.0.0.2 holds its four places, idle (all of 127/8 is this host's loopback).
        let held: Vec<TcpStream> = (0..4).map(|_| connect_from("127.0.0.2", addr)).collect();
        thread::sleep(Duration::from_millis(200));
        // Its fifth connection is refused with the protocol's own answer and the reason.
        let answer = exchange_from("127.0.0.2", addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let text = String::from_utf8_lossy(&answer).into_owned();
        assert_eq!(status_of(&answer), 503, "{text}");
        assert!(text.contains("\r\nRetry-After: 1\r\n"), "{text}");
        assert!(
            text.contains("source 127.0.0.2 holds 4 of 8 places"),
            "{text}"
        );
        // Another address is served meanwhile, twice over.
        for _ in 0..2 {
            let answer = exchange_from(
                "127.0.0.3",
                addr,
                b"GET /status/200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            );
            assert_eq!(
                status_of(&answer),
                200,
                "{}",
                String::from_utf8_lossy(&answer)
            );
        }
        // The refusal is traced with its reason.
        let log = p.stderr_until(&["source 127.0.0.2 holds 4 of 8 places"], T);
        assert!(log.contains("refusing this one"), "{log}");
        // Its places come back when it lets go.
        drop(held);
        thread::sleep(Duration::from_millis(300));
        let answer = exchange_from(
            "127.0.0.2",
            addr,
            b"GET /status/200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status_of(&answer), 200);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    for (_p, addr) in both_shapes(&[]) {
        let pipeline = b"GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /status/202 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let answer = String::from_utf8(raw_exchange(addr, pipeline, T)).unwrap();
        let statuses: Vec<&str> = answer
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &answer[i + 9..i + 12])
            .collect();
        assert_eq!(statuses, ["201", "200", "202"], "{answer}");
        assert!(answer.contains("\r\n\r\nhello"), "{answer}");
    }
}

#[test]
fn expect_100_continue_then_the_body() {
    for (_p, addr) in both_shapes(&[]) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").unwrap();
        let mut interim = [0u8; 25];
        s.set_read_timeout(Some(T)).unwrap();
        s.read_exact(&mut interim).unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        s.write_all(b"body").unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        let rest = String::from_utf8(rest).unwrap();
        assert!(
            rest.starts_with("HTTP/1.1 200 OK") && rest.ends_with("\r\n\r\nbody"),
            "{rest}"
        );
    }
}

#[test]
fn http10_closes_unless_keep_alive_and_head_has_no_body() {
    for (_p, addr) in both_shapes(&[]) {
        let answer =
            String::from_utf8(raw_exchange(addr, b"GET /status/200 HTTP/1.0\r\n\r\n", T)).unwrap();
        assert!(answer.contains("Connection: close"), "{answer}");
        let get = String::from_utf8(raw_exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            T,
        ))
        .unwrap();
        let body_len = get.split("\r\n\r\n").nth(1).unwrap().len();
        let answer = String::from_utf8(raw_exchange(
            addr,
            b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            T,
        ))
        .unwrap();
        assert!(
            answer.contains(&format!("Content-Length: {body_len}\r\n")),
            "HEAD announces GET's length: {answer}"
        );
        assert!(
            answer.ends_with("\r\n\r\n"),
            "HEAD: no body follows the head: {answer:?}"
        );
    }
}

#[test]
fn a_stalled_tls_handshake_is_dropped_and_others_are_served() {
    require("curl");
    let mut p = spawn_netlab(
        &[
            "http",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls",
            "--head-timeout",
            "300",
        ],
        &[],
    );
    let addr = p.listening();
    // Connect and say nothing: no ClientHello ever comes.
    let mut silent = TcpStream::connect(addr).unwrap();
    silent.set_read_timeout(Some(T)).unwrap();
    let out = run(
        "curl",
        &[
            "-sSk",
            "--max-time",
            "10",
            &format!("https://{addr}/status/200"),
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "200 OK\n", "{}", text(&out.stderr));
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(
        n, 0,
        "the server closes a connection that never starts its handshake"
    );
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_request_split_at_any_byte_gets_the_same_answer() {
    // Head and body in two writes, cut at every offset: the threaded server waits in a
    // read, the poll loop keeps what came and waits for the rest; both answer the same.
    let request = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    for (_p, addr) in both_shapes(&[]) {
        for cut in 1..request.len() {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            s.write_all(&request[..cut]).unwrap();
            thread::sleep(Duration::from_millis(3));
            s.write_all(&request[cut..]).unwrap();
            s.set_read_timeout(Some(T)).unwrap();
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer);
            let answer = String::from_utf8_lossy(&answer);
            assert!(
                answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("\r\n\r\nhello world"),
                "cut at {cut}: {answer}"
            );
        }
    }
}
