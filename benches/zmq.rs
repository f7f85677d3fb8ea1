//! `make bench`, ZeroMQ rows: small messages (64 B) over REQ/REP and through a PUSH/PULL
//! worker, netlab's server next to pyzmq's in the same run and driven by the same client
//! code (the zmq crate, no trace); plus raw TCP echo (the L4 part, next to socat) to show
//! what ZeroMQ's framing and queues cost over a bare byte stream. Prints a Markdown table and
//! writes it to bench-results/zmq.md.

#[path = "common/mod.rs"]
mod common;

use common::{Row, Server, alternating, machine, percentiles, tcp_echo_rtt, write_table};

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const ROUND_TRIPS: usize = 10_000;
const WARM_UP: usize = 1_000;
const PIPELINED: usize = 100_000;
/// Alternating pairs of the PUSH/PULL rows: a pipelined run takes 0.1–0.3 s, short enough for
/// another process to take a core for much of it, so one run alone moved the ratio from 0.7×
/// to 1.6×.
const PAIRS: usize = 5;

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

/// PUSH/PULL through one worker: the ventilator (PUSH) and the sink (PULL) bound here, the
/// worker started by the caller and connected to both. Two of them run side by side, netlab's
/// worker and pyzmq's, and the rows take turns between them (alternating pairs).
struct Pipeline {
    /// `None` while a pipelined run's sending thread holds it.
    push: Option<zmq::Socket>,
    pull: zmq::Socket,
    worker: Guard,
    /// Task ids go on rising, so no two tasks of one worker look alike.
    next_id: usize,
}

impl Pipeline {
    fn start(ctx: &zmq::Context, start_worker: impl FnOnce(&str, &str) -> Guard) -> Pipeline {
        let push = ctx.socket(zmq::PUSH).expect("socket");
        let pull = ctx.socket(zmq::PULL).expect("socket");
        for s in [&push, &pull] {
            s.set_linger(0).expect("linger");
            s.set_rcvtimeo(10_000).expect("rcvtimeo");
            s.set_sndtimeo(10_000).expect("sndtimeo");
            s.bind("tcp://127.0.0.1:*").expect("bind");
        }
        let last = |s: &zmq::Socket| s.get_last_endpoint().expect("endpoint").expect("utf-8");
        let worker = start_worker(&last(&push), &last(&pull));
        let mut p = Pipeline {
            push: Some(push),
            pull,
            worker,
            next_id: 0,
        };
        // The first task waits for the worker's connections; then a warm-up.
        p.round_trips(WARM_UP);
        p
    }

    /// A 64-byte task that asks for no work: "<id> 0" padded with spaces.
    fn task(&mut self) -> String {
        self.next_id += 1;
        format!("{:<64}", format!("{} 0", self.next_id))
    }

    /// One task at a time, `n` times: each round trip in µs.
    fn round_trips(&mut self, n: usize) -> Vec<f64> {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let task = self.task();
            let push = self.push.as_ref().expect("push");
            let t = Instant::now();
            push.send(task.as_bytes(), 0).expect("send a task");
            self.pull.recv_bytes(0).expect("a result within 10 s");
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
        samples
    }

    /// The median round trip of ROUND_TRIPS tasks, one at a time (µs).
    fn rtt(&mut self) -> f64 {
        percentiles(self.round_trips(ROUND_TRIPS)).0
    }

    /// PIPELINED tasks in flight, sent from a thread of their own while this one collects
    /// the results: msgs/s.
    fn pipelined(&mut self) -> f64 {
        let tasks: Vec<String> = (0..PIPELINED).map(|_| self.task()).collect();
        let push = self.push.take().expect("push");
        let start = Instant::now();
        let sender = thread::spawn(move || {
            for t in tasks {
                push.send(t.as_bytes(), 0).expect("send a task");
            }
            push
        });
        for _ in 0..PIPELINED {
            self.pull.recv_bytes(0).expect("a result within 10 s");
        }
        let rate = PIPELINED as f64 / start.elapsed().as_secs_f64();
        self.push = Some(sender.join().expect("sender"));
        rate
    }

    /// CPU time the worker process has used so far, every thread (its libzmq I/O thread
    /// too), in µs: /proc/PID/task/*/schedstat, first field, in ns.
    fn worker_cpu_us(&self) -> f64 {
        let dir = format!("/proc/{}/task", self.worker.0.id());
        let Ok(tasks) = std::fs::read_dir(dir) else {
            return f64::NAN;
        };
        let ns: u64 = tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        ns as f64 / 1000.0
    }
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

    // PUSH/PULL: `netlab zmq worker` next to a pyzmq worker, the same ventilator and sink,
    // both workers up at once and measured in turn.
    let mut pp_ours = Pipeline::start(&ctx, |tasks, results| {
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
    let mut pp_theirs = Pipeline::start(&ctx, |tasks, results| {
        spawn(&py, &["-c", PY_WORKER, tasks, results])
    });
    let pp_rtt = alternating(PAIRS, || pp_ours.rtt(), || pp_theirs.rtt());
    let cpu_before = (pp_ours.worker_cpu_us(), pp_theirs.worker_cpu_us());
    let pp_rate = alternating(PAIRS, || pp_ours.pipelined(), || pp_theirs.pipelined());
    // Each worker's CPU per message in the pipelined runs: what the README's profile quotes.
    let per_message = |now: f64, before: f64| (now - before) / (PAIRS * PIPELINED) as f64;
    eprintln!(
        "bench: pipelined, worker CPU per message: netlab {:.2} µs, pyzmq {:.2} µs",
        per_message(pp_ours.worker_cpu_us(), cpu_before.0),
        per_message(pp_theirs.worker_cpu_us(), cpu_before.1),
    );
    drop((pp_ours, pp_theirs));

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
            &format!(
                "PUSH→worker→PULL RTT, 64 B, median (µs, median of {PAIRS} alternating pairs)"
            ),
            pp_rtt.0,
            pp_rtt.1,
            "pyzmq worker",
        ),
        Row::higher_is_better(
            &format!(
                "PUSH→worker→PULL, 64 B, {PIPELINED} pipelined (msgs/s, median of {PAIRS} alternating pairs)"
            ),
            pp_rate.0,
            pp_rate.1,
            "pyzmq worker",
        ),
    ];
    write_table("zmq", &format!("ZeroMQ — {}", machine()), &rows);
}
