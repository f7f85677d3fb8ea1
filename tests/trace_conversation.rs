//! The trace reads like a conversation: each line names the role that printed it, bodies are
//! previewed on both sides, the server says which route answered and why it keeps or closes
//! the connection, the `[l4]` connect and close lines appear under HTTP, and a tap's lines
//! come before what the receiver prints about the same bytes.

mod common;
use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[test]
fn an_http_exchange_seen_from_both_sides() {
    let mut server = spawn_netlab(
        &["http", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "all")],
    );
    let addr = server.listening();
    let out = run_netlab(
        &[
            "http",
            "request",
            "-X",
            "POST",
            "-d",
            "hello",
            "-H",
            "Connection: close",
            &format!("http://{addr}/echo"),
        ],
        b"",
        &[("NETLAB_TRACE", "all")],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello");
    let client = text(&out.stderr);
    for want in [
        "client [l4] → connect(",
        "client [l4] · connected 127.0.0.1:",
        "client [http1] → request head, ",
        "client [http1] → body 5 bytes: \"hello\"",
        "client [http1] ← body 5 bytes (Content-Length): \"hello\"",
        "client [http1] · closing the connection (http://127.0.0.1:",
        "client [l4] → shutdown(SHUT_WR) → FIN to 127.0.0.1:",
    ] {
        assert!(client.contains(want), "{want:?} missing from:\n{client}");
    }
    let wants = [
        "server [l4] · accept() → new connection from 127.0.0.1:",
        "server [http1] ← request head, ",
        "server [http1] ← body 5 bytes (Content-Length): \"hello\"",
        "server [http] · route: POST /echo → POST /echo",
        "server [http1] → body 5 bytes: \"hello\"",
        "closing after 1 request(s): the client sent Connection: close",
        "server [l4] → shutdown(SHUT_WR) → FIN to 127.0.0.1:",
    ];
    let srv = server.stderr_until(&wants, T);
    for want in wants {
        assert!(srv.contains(want), "{want:?} missing from:\n{srv}");
    }
    for line in srv.lines() {
        assert!(
            line.starts_with("server "),
            "a line without its role: {line}"
        );
    }
    for line in client.lines() {
        assert!(
            line.starts_with("client "),
            "a line without its role: {line}"
        );
    }
    for (name, trace) in [("client", &client), ("server", &srv)] {
        assert!(
            !trace.contains("Some(") && !trace.contains("None") && !trace.contains("ms)"),
            "a Rust debug form in the {name}'s trace:\n{trace}"
        );
    }
}

#[test]
fn a_kept_connection_says_so_and_why() {
    let mut server = spawn_netlab(
        &["http", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "http1")],
    );
    let addr = server.listening();
    let out = run_netlab(
        &[
            "http",
            "request",
            &format!("http://{addr}/status/200"),
            &format!("http://{addr}/status/204"),
        ],
        b"",
        &[("NETLAB_TRACE", "http1")],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let client = text(&out.stderr);
    assert!(
        client.contains("client [http1] · keeping the connection (http://127.0.0.1:")
            && client.contains("client [http1] · reusing the kept-alive connection"),
        "{client}"
    );
    let want = "keep-alive, waiting for request 2: HTTP/1.1 connections are persistent unless one side says close";
    let srv = server.stderr_until(&[want], T);
    assert!(srv.contains(want), "{srv}");
}

#[test]
fn the_zmtp_tap_prints_a_frame_before_the_rep_prints_its_message() {
    let out = run_netlab(
        &["tour", "zmq"],
        b"",
        &[("NETLAB_TRACE", "all")],
        Duration::from_secs(60),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let frame = stderr
        .find("[zmtp] → #1 frame flags=0x00 size=13: \"hello, ZeroMQ\"")
        .unwrap_or_else(|| panic!("no tap line for the request:\n{stderr}"));
    let rep = stderr
        .find("server [zmq] ← REP part 1/1 13 bytes \"hello, ZeroMQ\"")
        .unwrap_or_else(|| panic!("no REP line for the request:\n{stderr}"));
    assert!(
        frame < rep,
        "the REP printed the message before the tap saw it:\n{stderr}"
    );
    assert!(
        stderr.contains("tap    [zmtp] → #1 greeting"),
        "the tap's lines carry its role:\n{stderr}"
    );
}

#[test]
fn the_poll_loops_trace_the_same_lines() {
    // The same exchange as above, served by `--loops 1`: the same trace vocabulary, from
    // the same functions, on the loop's thread (role "server").
    let mut server = spawn_netlab(
        &["http", "serve", "--addr", "127.0.0.1:0", "--loops", "1"],
        &[("NETLAB_TRACE", "http1,l4")],
    );
    let addr = server.listening();
    let out = run_netlab(
        &[
            "http",
            "request",
            &format!("http://{addr}/status/200"),
            &format!("http://{addr}/status/204"),
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let wants = [
        "server [l4] · accept() → new connection from 127.0.0.1:",
        "request 1 on a new connection",
        "request-line: method=GET target=/status/200 version=HTTP/1.1",
        "keep-alive, waiting for request 2: HTTP/1.1 connections are persistent unless one side says close",
        "request 2 reuses the connection (keep-alive)",
        "server [http1] · body framing: no body",
    ];
    let srv = server.stderr_until(&wants, T);
    for want in wants {
        assert!(srv.contains(want), "{want:?} not in {srv}");
    }
}

#[test]
fn a_kept_connection_is_closed_and_traced_at_exit() {
    // The last response leaves the connection kept for a next request; the client then exits,
    // and the trace ends the way it began, at [l4]: the FIN it sends is shown.
    let mut server = spawn_netlab(
        &["http", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "http1,l4")],
    );
    let addr = server.listening();
    let out = run_netlab(
        &["http", "request", &format!("http://{addr}/status/200")],
        b"",
        &[("NETLAB_TRACE", "http1,l4")],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let client = text(&out.stderr);
    let at = |want: &str| {
        client
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} missing from:\n{client}"))
    };
    let connect = at("client [l4] → connect(");
    let kept = at("client [http1] · keeping the connection (http://127.0.0.1:");
    let closing = at("client [http1] · closing the kept connection (http://127.0.0.1:");
    let fin = at("client [l4] → shutdown(SHUT_WR) → FIN to 127.0.0.1:");
    assert!(
        connect < kept && kept < closing && closing < fin,
        "connect, keep, close and FIN out of order:\n{client}"
    );
    assert!(
        client
            .trim_end()
            .ends_with("the socket closes when dropped"),
        "the FIN is not the last line:\n{client}"
    );
    let want = "keep-alive, waiting for request 2";
    let srv = server.stderr_until(&[want], T);
    assert!(srv.contains(want), "{srv}");
}
