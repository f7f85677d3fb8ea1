//! `netlab tour`: runs every exchange on loopback, narrated, and exits 0 only if all worked.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn l4_section_runs_every_exchange_with_the_trace() {
    require("python3");
    let out = run_netlab(&["tour", "l4"], b"", &[], Duration::from_secs(60));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "listening on tcp://127.0.0.1:",
        "ESTABLISHED",
        "TIME-WAIT",
        "LISTEN",
        "echoed: one datagram",
        "netlab's Rust echo: Received b'hello from Python\\n'",
        "python3 echo-server.py: sent and received \"hello from Rust\\n\"",
        "tour finished",
    ] {
        assert!(
            stdout.contains(want),
            "{want:?} missing from the narration:\n{stdout}"
        );
    }
    for want in [
        "[l4] · bind(",
        "[l4] · accept()",
        "[l4] → write",
        "[l4] ← read",
        "[l4] → datagram",
    ] {
        assert!(
            stderr.contains(want),
            "{want:?} missing from the trace:\n{stderr}"
        );
    }
}

#[test]
fn l4_section_without_python3_says_so_and_fails_only_under_ci() {
    // No python3 on this PATH: the L4 tour needs nothing else from it.
    let env = [("PATH", "/nonexistent"), ("CI", "false")];
    let out = run_netlab(&["tour", "l4"], b"", &env, Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("python3 not found: the Python echo pair is left out"),
        "{stdout}"
    );
    let env = [("PATH", "/nonexistent"), ("CI", "true")];
    let out = run_netlab(&["tour", "l4"], b"", &env, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Python echo pair: python3 is not installed (run make deps)"),
        "{stderr}"
    );
}

#[test]
fn quiet_tour_and_unknown_section() {
    let out = run_netlab(
        &["tour", "--quiet", "l4"],
        b"",
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out.stderr).contains("[l4]"));
    let out = run_netlab(&["tour", "nosuch"], b"", &[], Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no section 'nosuch': choose one of l4"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn http1_section_runs_get_rest_soap_https_and_proxy() {
    let out = run_netlab(&["tour", "http1"], b"", &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "POST /api/notes: 201 Created",
        "DELETE /api/notes/1: 204",
        "<n:CreateNoteResponse>",
        "GET https://localhost/status/200: 200 OK",
        "Via: 1.1 netlab",
        "http1: every exchange succeeded",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    for want in [
        "[tls] · handshake complete: TLS 1.3, cipher suite TLS13_",
        "[http1] · body framing:",
        "reusing the kept-alive connection",
        "proxy: forwarding TRACE",
    ] {
        assert!(stderr.contains(want), "{want:?} missing from the trace");
    }
}

#[test]
fn zmq_section_shows_zmtp_frames_topics_and_workers() {
    let out = run_netlab(&["tour", "zmq"], b"", &[], Duration::from_secs(60));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "reply: hello, ZeroMQ",
        "reply: two | parts",
        "refused: a REQ socket sent a second request",
        "received: weather: sunny",
        "\"sports: 2-1\" never reached the subscriber",
        "worker-a: 3 tasks",
        "worker-b: 3 tasks",
        "gave up: no reply from",
        "=== zmq: every exchange succeeded",
    ] {
        assert!(
            stdout.contains(want),
            "{want:?} missing from the narration:\n{stdout}"
        );
    }
    for want in [
        "[zmtp] → #1 greeting signature=%xFF…%x7F version=3.1 mechanism=NULL",
        "READY Socket-Type=\"REQ\"",
        "(empty delimiter: the envelope ends here)",
        "SUBSCRIBE \"weather\"",
        "[zmq] · HANDSHAKE_SUCCEEDED",
        "[zmq] · CONNECT_RETRIED",
        "[zmq] → PUSH part 1/1",
    ] {
        assert!(
            stderr.contains(want),
            "{want:?} missing from the trace:\n{stderr}"
        );
    }
}

#[test]
fn h2_section_compares_bytes_shows_hpack_multiplexing_and_push() {
    let out = run_netlab(&["tour", "h2"], b"", &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "HTTP/1.1: 88 bytes up",
        "each further request: HTTP/1.1 88 bytes up, HTTP/2 ",
        "/delay/600: 200 OK after ",
        "pushed with /push: /push/style.css, /push/app.js",
        "=== h2: every exchange succeeded",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    for want in [
        "client [h2] → connection preface",
        "server [h2] ← HEADERS stream=1",
        "(indexed 62, dynamic)",
        "server [h2] → PUSH_PROMISE stream=1",
    ] {
        assert!(stderr.contains(want), "{want:?} missing from the trace");
    }
}

#[test]
fn grpc_section_makes_all_four_calls_and_compares_with_rest() {
    let out = run_netlab(&["tour", "grpc"], b"", &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "Echo answered text=\"hello gRPC\" seq=1",
        "Subscribe sent news #1, news #2, news #3",
        "Collect counted 3 notes, 6 bytes",
        "Chat answered a, bb, ccc in turn",
        "UNIMPLEMENTED (12)",
        "29 bytes of JSON, 14 bytes of protobuf",
        "=== grpc: every exchange succeeded",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    for want in [
        "server [grpc] ← call /netlab.Exchange/Echo",
        "client [grpc] ← status OK (0)",
        "server [grpc] → status UNIMPLEMENTED (12)",
    ] {
        assert!(
            stderr.contains(want),
            "{want:?} missing from the trace:\n{stderr}"
        );
    }
}
