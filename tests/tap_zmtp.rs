//! `netlab tap --proto zmtp` between two unmodified pyzmq peers: their traffic passes
//! unchanged, and the decoded lines name what libzmq really sent (greeting, READY with
//! Socket-Type and Identity, short and long frames with MORE, SUBSCRIBE).

mod common;
use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Collects the tap's stderr until `want` all appear (or 10 s pass), and returns it.
fn tap_lines(tap: &mut Proc, want: &[&str]) -> String {
    let all = tap.stderr_until(want, Duration::from_secs(10));
    for w in want {
        assert!(
            all.contains(w),
            "{w:?} missing from the tap's trace:\n{all}"
        );
    }
    all
}

fn start_tap(target: &str) -> (Proc, String) {
    let to = target.trim_start_matches("tcp://").to_string();
    let mut tap = spawn_netlab(
        &[
            "tap",
            "--listen",
            "127.0.0.1:0",
            "--to",
            &to,
            "--proto",
            "zmtp",
        ],
        &[],
    );
    let addr = tap.listening();
    (tap, format!("tcp://{addr}"))
}

#[test]
fn req_rep_between_two_pyzmq_peers() {
    let py = python_with("zmq");
    let mut server = spawn_python(
        &py,
        r#"
import zmq
s = zmq.Context().socket(zmq.REP)
s.setsockopt(zmq.RCVTIMEO, 20000)
s.bind("tcp://127.0.0.1:*")
print("listening on " + s.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
for _ in range(2):
    s.send_multipart(s.recv_multipart())
"#,
        &[],
    );
    let rep = endpoint_line(&mut server);
    let (mut tap, via) = start_tap(&rep);
    let out = run(
        &py,
        &[
            "-c",
            r#"
import sys, zmq
s = zmq.Context().socket(zmq.REQ)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.setsockopt(zmq.IDENTITY, b"py-client")
s.connect(sys.argv[1])
for msg in [[b"hello", b"world"], [b"x" * 300]]:
    s.send_multipart(msg)
    assert s.recv_multipart() == msg
print("ok", flush=True)
"#,
            &via,
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(
        text(&out.stdout),
        "ok\n",
        "the tap passed the bytes unchanged: {}",
        text(&out.stderr)
    );
    let trace = tap_lines(
        &mut tap,
        &[
            "[zmtp] → #1 greeting signature=%xFF…%x7F version=3.1 mechanism=NULL as-server=0",
            "[zmtp] ← #1 greeting signature=%xFF…%x7F version=3.",
            "[zmtp] → #1 frame flags=0x04(COMMAND) size=",
            "READY Socket-Type=\"REQ\" Identity=\"py-client\"",
            "[zmtp] ← #1 frame flags=0x04(COMMAND) size=25: READY Socket-Type=\"REP\"",
            "[zmtp] → #1 frame flags=0x01(MORE) size=0: \"\" (empty delimiter",
            "[zmtp] → #1 frame flags=0x01(MORE) size=5: \"hello\" (part 2; more follow)",
            "[zmtp] → #1 frame flags=0x00 size=5: \"world\" (part 3, the last of the message)",
            "[zmtp] ← #1 frame flags=0x00 size=5: \"world\"",
            "[zmtp] → #1 frame flags=0x02(LONG) size=300: \"xxxxxxxx",
            "[zmtp] ← #1 frame flags=0x02(LONG) size=300",
        ],
    );
    assert!(!trace.contains("decode error"), "{trace}");
}

#[test]
fn pub_sub_between_two_pyzmq_peers_shows_the_subscription() {
    let py = python_with("zmq");
    let mut publisher = spawn_python(
        &py,
        r#"
import zmq
s = zmq.Context().socket(zmq.XPUB)
s.setsockopt(zmq.RCVTIMEO, 20000)
s.bind("tcp://127.0.0.1:*")
print("listening on " + s.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
assert s.recv() == b"\x01alerts"
for m in [b"noise", b"alerts: disk full"]:
    s.send(m)
"#,
        &[],
    );
    let pub_ep = endpoint_line(&mut publisher);
    let (mut tap, via) = start_tap(&pub_ep);
    let out = run(
        &py,
        &[
            "-c",
            r#"
import sys, zmq
s = zmq.Context().socket(zmq.SUB)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.setsockopt(zmq.SUBSCRIBE, b"alerts")
s.connect(sys.argv[1])
print(s.recv().decode(), flush=True)
"#,
            &via,
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(
        text(&out.stdout),
        "alerts: disk full\n",
        "{}",
        text(&out.stderr)
    );
    let trace = tap_lines(
        &mut tap,
        &[
            "READY Socket-Type=\"SUB\"",
            "READY Socket-Type=\"XPUB\"",
            "[zmtp] → #1 frame flags=0x04(COMMAND) size=16: SUBSCRIBE \"alerts\"",
            "[zmtp] ← #1 frame flags=0x00 size=17: \"alerts: disk full\"",
        ],
    );
    // The publisher filters: the message nobody subscribed to never crossed the tap.
    assert!(!trace.contains("\"noise\""), "{trace}");
}

#[test]
fn not_zmtp_is_reported_and_still_relayed() {
    // A plain TCP echo server behind the tap, and a client that speaks no ZMTP.
    let mut echo = spawn_netlab(&["echo", "server", "--addr", "127.0.0.1:0"], &[]);
    let addr = echo.listening();
    let (mut tap, via) = start_tap(&addr.to_string());
    let tap_addr = via.trim_start_matches("tcp://").to_string();
    let out = run_netlab(
        &["echo", "client", "--addr", &tap_addr, "GET / HTTP/1.1"],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "GET / HTTP/1.1\n", "relayed unchanged");
    tap_lines(
        &mut tap,
        &[
            "[zmtp] · #1 client decode error: not ZMTP: a greeting starts with signature octet %xFF, got 0x47",
            "relaying the rest of this direction undecoded",
        ],
    );
}

#[test]
fn tap_usage_errors() {
    for (args, want) in [
        (vec!["tap"], "needs --to HOST:PORT"),
        (
            vec!["tap", "--to", "127.0.0.1:1", "--proto", "smtp"],
            "--proto 'smtp': the tap decodes zmtp",
        ),
        (
            vec!["tap", "--to", "nowhere"],
            "--to: bad address 'nowhere'",
        ),
    ] {
        let out = run_netlab(&args, b"", &[], T);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains(want),
            "{args:?}: {err}"
        );
    }
}
