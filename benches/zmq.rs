//! `make bench`, ZeroMQ rows: small messages (64 B) over REQ/REP and through a PUSH/PULL
//! worker, netlab's server next to pyzmq's in the same run and driven by the same client
//! code (the zmq crate, no trace); plus raw TCP echo (the L4 part, next to socat) to show
//! what ZeroMQ's framing and queues cost over a bare byte stream. Prints a Markdown table and
//! writes it to bench-results/zmq.md.

#[path = "common/mod.rs"]
mod common;

use common::{Row, Server, machine, percentiles, tcp_echo_rtt, write_table};

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const ROUND_TRIPS: usize = 10_000;
const WARM_UP: usize = 1_000;
const PIPELINED: usize = 50_000;

/// A process that has no listening line (a worker), killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> String {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(py.exists(), "{} is missing: run make deps", py.display());
    py.to_string_lossy().into_owned()
}

fn spawn(program: &str, args: &[&str]) -> Guard {
    Guard(
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e} (run make deps)")),
    )
}

/// REQ/REP: 64-byte requests, one at a time: (median µs, p99 µs, round trips/s).
fn req_rep(ctx: &zmq::Context, endpoint: &str) -> (f64, f64, f64) {
    let req = ctx.socket(zmq::REQ).expect("socket");
    req.set_linger(0).expect("linger");
    req.set_rcvtimeo(10_000).expect("rcvtimeo");
    req.connect(endpoint).expect("connect");
    let msg = [b'x'; 64];
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    let mut total = Duration::ZERO;
    for i in 0..WARM_UP + ROUND_TRIPS {
        let t = Instant::now();
        req.send(&msg[..], 0).expect("send");
        let reply = req.recv_bytes(0).expect("a reply within 10 s");
        assert_eq!(reply.len(), 64);
        if i >= WARM_UP {
            let took = t.elapsed();
            total += took;
            samples.push(took.as_secs_f64() * 1e6);
        }
    }
    let (median, p99) = percentiles(samples);
    (median, p99, ROUND_TRIPS as f64 / total.as_secs_f64())
}

/// PUSH/PULL through one worker that the caller starts on `tasks` and `results`:
/// (round-trip median µs, one task at a time; msgs/s with PIPELINED tasks in flight).
fn pipeline(ctx: &zmq::Context, start_worker: impl FnOnce(&str, &str) -> Guard) -> (f64, f64) {
    let push = ctx.socket(zmq::PUSH).expect("socket");
    let pull = ctx.socket(zmq::PULL).expect("socket");
    for s in [&push, &pull] {
        s.set_linger(0).expect("linger");
        s.set_rcvtimeo(10_000).expect("rcvtimeo");
        s.set_sndtimeo(10_000).expect("sndtimeo");
        s.bind("tcp://127.0.0.1:*").expect("bind");
    }
    let last = |s: &zmq::Socket| s.get_last_endpoint().expect("endpoint").expect("utf-8");
    let _worker = start_worker(&last(&push), &last(&pull));
    // A 64-byte task that asks for no work: "<id> 0" padded with spaces.
    let task = |i: usize| format!("{:<64}", format!("{i} 0"));
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..WARM_UP + ROUND_TRIPS {
        let t = Instant::now();
        push.send(task(i).as_bytes(), 0).expect("send a task");
        pull.recv_bytes(0).expect("a result within 10 s");
        if i >= WARM_UP {
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let median = percentiles(samples).0;
    let tasks: Vec<String> = (0..PIPELINED).map(task).collect();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        for t in tasks {
            push.send(t.as_bytes(), 0).expect("send a task");
        }
        push
    });
    for _ in 0..PIPELINED {
        pull.recv_bytes(0).expect("a result within 10 s");
    }
    let rate = PIPELINED as f64 / start.elapsed().as_secs_f64();
    drop(sender.join().expect("sender"));
    (median, rate)
}

const PY_REP: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.REP)
s.bind("tcp://127.0.0.1:" + sys.argv[1])
while True:
    s.send(s.recv())
"#;

const PY_WORKER: &str = r#"
import sys, zmq
ctx = zmq.Context()
tasks, results = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
tasks.connect(sys.argv[1])
results.connect(sys.argv[2])
while True:
    ident, ms = tasks.recv().split(None, 1)
    results.send(ident + b" pyzmq")
"#;

fn main() {
    let py = python();
    let netlab = env!("CARGO_BIN_EXE_netlab");
    let ctx = zmq::Context::new();

    // Raw TCP echo, for scale: the L4 server next to socat.
    let echo = Server::netlab(&["echo", "server", "--addr", "127.0.0.1:0"]);
    let socat = Server::socat_echo();
    let tcp = (
        tcp_echo_rtt(echo.addr, WARM_UP, ROUND_TRIPS).0,
        tcp_echo_rtt(socat.addr, WARM_UP, ROUND_TRIPS).0,
    );
    drop((echo, socat));

    // REQ/REP: `netlab zmq rep` next to a pyzmq REP, the same REQ client for both.
    let ours = Server::netlab(&["zmq", "rep", "--bind", "tcp://127.0.0.1:*"]);
    let port = common::free_port();
    let theirs = Server::spawn(
        &py,
        &["-c", PY_REP, &port.to_string()],
        SocketAddr::from(([127, 0, 0, 1], port)),
    );
    let rr_ours = req_rep(&ctx, &format!("tcp://{}", ours.addr));
    let rr_theirs = req_rep(&ctx, &format!("tcp://{}", theirs.addr));
    drop((ours, theirs));

    // PUSH/PULL: `netlab zmq worker` next to a pyzmq worker, the same ventilator and sink.
    let pp_ours = pipeline(&ctx, |tasks, results| {
        spawn(
            netlab,
            &[
                "zmq",
                "worker",
                "--connect",
                tasks,
                "--sink",
                results,
                "--name",
                "netlab",
            ],
        )
    });
    let pp_theirs = pipeline(&ctx, |tasks, results| {
        spawn(&py, &["-c", PY_WORKER, tasks, results])
    });

    let rows = vec![
        Row::lower_is_better(
            "raw TCP echo RTT, 64 B, median (µs) — no ZeroMQ",
            tcp.0,
            tcp.1,
            "socat",
        ),
        Row::lower_is_better(
            "REQ/REP RTT, 64 B, median (µs)",
            rr_ours.0,
            rr_theirs.0,
            "pyzmq REP",
        ),
        Row::lower_is_better(
            "REQ/REP RTT, 64 B, p99 (µs)",
            rr_ours.1,
            rr_theirs.1,
            "pyzmq REP",
        ),
        Row::higher_is_better(
            "REQ/REP round trips/s, 64 B",
            rr_ours.2,
            rr_theirs.2,
            "pyzmq REP",
        ),
        Row::lower_is_better(
            "PUSH→worker→PULL RTT, 64 B, median (µs)",
            pp_ours.0,
            pp_theirs.0,
            "pyzmq worker",
        ),
        Row::higher_is_better(
            "PUSH→worker→PULL, 64 B, pipelined (msgs/s)",
            pp_ours.1,
            pp_theirs.1,
            "pyzmq worker",
        ),
    ];
    write_table("zmq", &format!("ZeroMQ — {}", machine()), &rows);
}
