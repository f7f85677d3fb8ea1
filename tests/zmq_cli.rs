//! The ZeroMQ commands' contract: clear one-line errors with exit 1 (runtime) or 2 (usage)
//! for a bad endpoint, an unreachable one, a REQ that sends twice, retries exhausted; Lazy
//! Pirate surviving a dead and restarted server; every wait bounded; --help with defaults.

mod common;
use common::*;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn assert_error(args: &[&str], code: i32, needle: &str) -> String {
    let out = run_netlab(args, b"", &[], T);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "netlab {args:?}: {err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "netlab {args:?}: {err}");
    assert!(
        last.contains(needle),
        "netlab {args:?}: {last:?} lacks {needle:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn nowhere() -> String {
    format!("tcp://127.0.0.1:{}", free_tcp_port())
}

#[test]
fn bad_endpoints_are_usage_errors() {
    for (flag, verb, bad) in [
        ("--connect", "req", "127.0.0.1:5555"),
        ("--connect", "req", "ipc:///tmp/x"),
        ("--bind", "rep", "tcp://eth0:5555"),
        ("--bind", "pub", "tcp://127.0.0.1"),
        ("--connect", "sub", "tcp://127.0.0.1:99999"),
        ("--frontend", "broker", "tcp://:1"),
    ] {
        let mut args = vec!["zmq", verb, flag, bad];
        if verb == "req" {
            args.push("a message");
        }
        let err = assert_error(&args, 2, "bad endpoint");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("expected tcp://HOST:PORT"), "{err}");
    }
    assert_error(&["zmq", "dance"], 2, "unknown verb 'dance'");
    assert_error(&["zmq"], 2, "needs a verb");
    assert_error(
        &["zmq", "req", "--timeout", "soon", "x"],
        2,
        "--timeout takes a number",
    );
    assert_error(&["zmq", "worker", "--name", "two words"], 2, "one word");
}

#[test]
fn unreachable_endpoint_fails_within_the_timeout() {
    let ep = nowhere();
    let err = assert_error(
        &[
            "zmq",
            "req",
            "--connect",
            &ep,
            "--timeout",
            "300",
            "anyone?",
        ],
        1,
        "cannot reach",
    );
    assert!(err.contains(&ep), "{err}");
    assert!(err.contains("is a server bound there?"), "{err}");
}

#[test]
fn retries_exhausted_reports_each_try_then_gives_up() {
    let ep = nowhere();
    let err = assert_error(
        &[
            "zmq",
            "req",
            "--connect",
            &ep,
            "--timeout",
            "200",
            "--retries",
            "2",
            "hello",
        ],
        1,
        "after 3 tries of 200 ms each: giving up",
    );
    assert!(err.contains("try 1 of 3: cannot reach"), "{err}");
    assert!(
        err.contains("closing the REQ socket, opening a new one and resending"),
        "{err}"
    );
    assert!(err.contains("try 3 of 3"), "{err}");
}

#[test]
fn req_that_sends_twice_is_refused() {
    let ep = nowhere();
    let err = assert_error(
        &[
            "zmq",
            "req",
            "--connect",
            &ep,
            "--timeout",
            "200",
            "--retries",
            "1",
            "--same-socket",
            "hello",
        ],
        1,
        "a REQ socket sent a second request before receiving the reply",
    );
    assert!(err.contains("resending on the same REQ socket"), "{err}");
}

#[test]
fn lazy_pirate_survives_a_dead_and_restarted_server() {
    let port = free_tcp_port();
    let ep = format!("tcp://127.0.0.1:{port}");
    // The first server answers one request, then exits: the second request finds it dead.
    let mut first = spawn_netlab(&["zmq", "rep", "--bind", &ep, "--count", "1"], &[]);
    first.listening();
    let client_ep = ep.clone();
    let client = thread::spawn(move || {
        run_netlab(
            &[
                "zmq",
                "req",
                "--connect",
                &client_ep,
                "--timeout",
                "400",
                "--retries",
                "20",
                "one",
                "two",
            ],
            b"",
            &[],
            T,
        )
    });
    assert!(
        first.wait_exit(T).is_some_and(|s| s.success()),
        "served one"
    );
    thread::sleep(Duration::from_millis(900));
    let mut second = spawn_netlab(&["zmq", "rep", "--bind", &ep], &[]);
    second.listening();
    let out = client.join().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(text(&out.stdout), "one\ntwo\n");
    assert!(err.contains("try 1 of 21: no reply from"), "{err}");
    assert!(err.contains("got the reply on try"), "{err}");
}

#[test]
fn servers_report_a_port_in_use() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", held.local_addr().unwrap());
    for verb in ["rep", "pub", "sink", "ventilator"] {
        let err = assert_error(&["zmq", verb, "--bind", &ep], 1, "address already in use");
        assert!(err.contains("netlab port"), "{err}");
    }
    let err = assert_error(
        &[
            "zmq",
            "broker",
            "--frontend",
            &ep,
            "--backend",
            "tcp://127.0.0.1:*",
        ],
        1,
        "address already in use",
    );
    assert!(err.contains(&ep), "{err}");
}

#[test]
fn every_wait_is_bounded() {
    let ep = nowhere();
    assert_error(
        &["zmq", "sub", "--connect", &ep, "--timeout", "300"],
        1,
        "no message from",
    );
    assert_error(
        &[
            "zmq",
            "ventilator",
            "--bind",
            "tcp://127.0.0.1:*",
            "--timeout",
            "300",
        ],
        1,
        "waiting for 1 peer(s)",
    );
    assert_error(
        &[
            "zmq",
            "sink",
            "--bind",
            "tcp://127.0.0.1:*",
            "--timeout",
            "300",
        ],
        1,
        "waiting for BATCH",
    );
    assert_error(
        &[
            "zmq",
            "pub",
            "--bind",
            "tcp://127.0.0.1:*",
            "--subscribers",
            "1",
            "--timeout",
            "300",
        ],
        1,
        "waiting for 1 subscription(s)",
    );
}

#[test]
fn trace_shows_options_connect_and_parts() {
    let mut rep = spawn_netlab(&["zmq", "rep", "--bind", "tcp://127.0.0.1:*"], &[]);
    let ep = endpoint_line(&mut rep);
    let out = run_netlab(
        &["--trace", "zmq", "req", "--connect", &ep, "traced"],
        b"",
        &[],
        T,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for want in [
        "[zmq] · socket(ZMQ_REQ)",
        "[zmq] · setsockopt(ZMQ_LINGER, 1000)",
        &format!("[zmq] · connect({ep})"),
        "[zmq] · HANDSHAKE_SUCCEEDED",
        "[zmq] → REQ part 1/1 6 bytes \"traced\"",
        "[zmq] ← REQ part 1/1 6 bytes \"traced\"",
    ] {
        assert!(err.contains(want), "{want:?} missing:\n{err}");
    }
    assert_eq!(text(&out.stdout), "traced\n", "the trace stays off stdout");
}

#[test]
fn every_zmq_command_has_help_with_defaults() {
    for (verb, want) in [
        ("rep", "(default: tcp://127.0.0.1:5555)"),
        ("req", "--retries N"),
        ("pub", "(default: tcp://127.0.0.1:5556)"),
        ("sub", "--topic PREFIX"),
        ("ventilator", "(default: tcp://127.0.0.1:5557)"),
        ("worker", "(default: tcp://127.0.0.1:5558)"),
        ("sink", "(default: 10000)"),
        ("broker", "(default: tcp://127.0.0.1:5560)"),
    ] {
        let out = run_netlab(&["zmq", verb, "--help"], b"", &[], T);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            text(&out.stdout).contains(want),
            "{verb}: {}",
            text(&out.stdout)
        );
    }
    let out = run_netlab(&["--help"], b"", &[], T);
    assert!(text(&out.stdout).contains("zmq broker"));
    assert!(text(&out.stdout).contains("tap"));
}

/// The slow joiner (README): a publisher that publishes as soon as it is bound loses what
/// it sent before the subscriber's SUBSCRIBE arrived; `--subscribers 1` waits for it.
#[test]
fn slow_joiner_loses_messages_unless_the_publisher_waits() {
    let port = free_tcp_port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let lines = b"weather: sunny\nweather: rain\n";
    for (wait, expect_all) in [(false, false), (true, true)] {
        let sub_ep = ep.clone();
        let sub = thread::spawn(move || {
            run_netlab(
                &[
                    "zmq",
                    "sub",
                    "--connect",
                    &sub_ep,
                    "--topic",
                    "weather",
                    "--count",
                    "2",
                    "--timeout",
                    "1500",
                ],
                b"",
                &[],
                T,
            )
        });
        // The subscriber is already connecting (and retrying) when the publisher binds.
        thread::sleep(Duration::from_millis(200));
        let mut args = vec!["zmq", "pub", "--bind", &ep];
        if wait {
            args.extend(["--subscribers", "1"]);
        }
        let out = run_netlab(&args, lines, &[], T);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let got = sub.join().unwrap();
        if expect_all {
            assert_eq!(got.status.code(), Some(0), "{}", text(&got.stderr));
            assert_eq!(text(&got.stdout), "weather: sunny\nweather: rain\n");
        } else {
            assert_eq!(got.status.code(), Some(1), "the messages were lost");
            assert!(
                text(&got.stderr).contains("no message from"),
                "{}",
                text(&got.stderr)
            );
        }
    }
}

/// Found by the soak: a REP server whose trace is off never read its socket monitor, the
/// monitor's queue filled after ~660 connections (three events each), libzmq's I/O thread
/// blocked on it, and the server stopped answering anyone. 1500 connections, one request
/// each, must all be answered.
#[test]
fn a_rep_server_answers_connection_after_connection() {
    let mut rep = spawn_netlab(&["zmq", "rep", "--bind", "tcp://127.0.0.1:*"], &[]);
    let ep = endpoint_line(&mut rep);
    let ctx = zmq::Context::new();
    for n in 0..1500 {
        let req = ctx.socket(zmq::REQ).unwrap();
        req.set_linger(0).unwrap();
        req.set_rcvtimeo(5000).unwrap();
        req.connect(&ep).unwrap();
        req.send(format!("request {n}").as_bytes(), 0).unwrap();
        let reply = req
            .recv_bytes(0)
            .unwrap_or_else(|e| panic!("connection {n}: no reply ({e})"));
        assert_eq!(reply, format!("request {n}").as_bytes());
    }
}
