//! UDP echo: one datagram in, the same datagram out; a client that gets no answer says so.

mod common;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

#[test]
fn datagrams_come_back_whole() {
    let mut server = spawn_netlab(&["echo", "server", "--udp", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let out = run_netlab(
        &[
            "echo",
            "client",
            "--udp",
            "--addr",
            &addr.to_string(),
            "ping",
            "pong",
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ping\npong\n");
    // Boundaries are kept: three sends are three datagrams, of three sizes.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    for size in [1usize, 1400, 60_000] {
        s.send_to(&vec![7u8; size], addr).unwrap();
        let mut buf = vec![0; 65_536];
        let (n, from) = s.recv_from(&mut buf).unwrap();
        assert_eq!((n, from), (size, addr));
    }
}

#[test]
fn silence_is_a_timeout_with_a_clear_error() {
    // A socket that is bound but never answers: no ICMP error, just silence.
    let mute = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = mute.local_addr().unwrap().to_string();
    let start = Instant::now();
    let out = run_netlab(
        &[
            "echo",
            "client",
            "--udp",
            "--timeout",
            "300",
            "--addr",
            &addr,
            "hello?",
        ],
        b"",
        &[],
        T,
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: no reply from"), "{err}");
    assert!(err.contains("300 ms"), "{err}");
}

#[test]
fn a_closed_port_is_reported_as_refused() {
    let port = free_udp_port();
    let out = run_netlab(
        &[
            "echo",
            "client",
            "--udp",
            "--timeout",
            "2000",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "x",
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("ICMP port unreachable"), "{err}");
}

#[test]
fn oversized_datagram_is_refused_before_sending() {
    let mut server = spawn_netlab(&["echo", "server", "--udp", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening().to_string();
    let big = "x".repeat(70_000);
    let out = run_netlab(
        &["echo", "client", "--udp", "--addr", &addr, &big],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("at most 65507 bytes"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_trace_shows_the_payload_of_the_reply_as_of_the_request() {
    let mut server = spawn_netlab(
        &["echo", "server", "--udp", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "l4")],
    );
    let addr = server.listening();
    let out = run_netlab(
        &[
            "echo",
            "client",
            "--udp",
            "--addr",
            &addr.to_string(),
            "ping",
        ],
        b"",
        &[("NETLAB_TRACE", "l4")],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let client = text(&out.stderr);
    assert!(
        client.contains(&format!("[l4] → datagram of 4 bytes to {addr}: \"ping\"")),
        "{client}"
    );
    assert!(
        client.contains(&format!("[l4] ← datagram of 4 bytes from {addr}: \"ping\"")),
        "{client}"
    );
    let srv = server.stderr_until(&["[l4] → datagram of 4 bytes to"], T);
    assert!(
        srv.contains("[l4] ← datagram of 4 bytes from 127.0.0.1:") && srv.contains(": \"ping\""),
        "{srv}"
    );
    let sent = srv
        .lines()
        .find(|l| l.starts_with("server [l4] → datagram"))
        .unwrap_or_default();
    assert!(sent.ends_with(": \"ping\""), "{srv}");
}
