//! Interop with pyzmq (libzmq 4.3.5 inside, software we did not write) as the other side of
//! every pattern, in both roles: REQ/REP, PUB/SUB, PUSH/PULL, and the ROUTER/DEALER broker
//! with pyzmq clients and workers. Every Python script bounds its waits (RCVTIMEO) and is
//! stopped by PID when the test ends.

mod common;
use common::*;
use std::io::Write;
use std::thread;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Shared start of every script: a context, bounded waits, and a way to print endpoints.
const PRELUDE: &str = r#"
import atexit, sys, zmq
ctx = zmq.Context()
# Close every socket (each lingering to deliver what it queued) and end the context before
# the interpreter exits: without it, pyzmq may skip the linger and drop unsent messages.
atexit.register(lambda: ctx.destroy(linger=5000))
def sock(kind):
    s = ctx.socket(kind)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.setsockopt(zmq.SNDTIMEO, 10000)
    # Long enough for a sender that exits at once to still deliver on a loaded machine
    # (connect and handshake happen in the background); bounded by the test's own limit.
    s.setsockopt(zmq.LINGER, 5000)
    return s
def listening(s):
    s.bind("tcp://127.0.0.1:*")
    print("listening on " + s.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
"#;

fn script(body: &str) -> String {
    format!("{PRELUDE}\n{body}")
}

#[test]
fn our_rep_with_pyzmq_req() {
    let py = python_with("zmq");
    let mut rep = spawn_netlab(&["zmq", "rep", "--bind", "tcp://127.0.0.1:*"], &[]);
    let ep = endpoint_line(&mut rep);
    let out = run(
        &py,
        &[
            "-c",
            &script(
                r#"
s = sock(zmq.REQ)
s.connect(sys.argv[1])
for msg in [[b"hello"], [b"two", b"parts"], [b""], [bytes(range(256))]]:
    s.send_multipart(msg)
    reply = s.recv_multipart()
    print("ok" if reply == msg else "MISMATCH %r %r" % (msg, reply), flush=True)
"#,
            ),
            &ep,
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(
        text(&out.stdout),
        "ok\nok\nok\nok\n",
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn our_req_with_pyzmq_rep() {
    let py = python_with("zmq");
    let mut rep = spawn_python(
        &py,
        &script(
            r#"
s = sock(zmq.REP)
listening(s)
for _ in range(2):
    s.send(s.recv().upper())
"#,
        ),
        &[],
    );
    let ep = endpoint_line(&mut rep);
    let out = run_netlab(
        &["zmq", "req", "--connect", &ep, "hello", "pyzmq"],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "HELLO\nPYZMQ\n");
}

#[test]
fn our_pub_with_pyzmq_sub() {
    let py = python_with("zmq");
    let mut publisher = spawn_netlab_stdin(&[
        "zmq",
        "pub",
        "--bind",
        "tcp://127.0.0.1:*",
        "--subscribers",
        "1",
    ]);
    let ep = endpoint_line(&mut publisher);
    let sub = thread::spawn(move || {
        run(
            &py,
            &[
                "-c",
                &script(
                    r#"
s = sock(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, b"weather")
s.connect(sys.argv[1])
for _ in range(2):
    print(s.recv().decode(), flush=True)
"#,
                ),
                &ep,
            ],
            b"",
            &[],
            T,
        )
    });
    // The publisher waits for the subscription (XPUB) before it reads stdin.
    let mut stdin = publisher.child.stdin.take().unwrap();
    stdin
        .write_all(b"sports: 2-1\nweather: sunny\nnews: none\nweather: rain\n")
        .unwrap();
    drop(stdin);
    let out = sub.join().unwrap();
    assert_eq!(
        text(&out.stdout),
        "weather: sunny\nweather: rain\n",
        "{}",
        text(&out.stderr)
    );
    assert!(publisher.wait_exit(T).is_some_and(|s| s.success()));
}

#[test]
fn pyzmq_pub_with_our_sub() {
    let py = python_with("zmq");
    // XPUB: a PUB that also sees the subscription, so it publishes only once we listen.
    let mut publisher = spawn_python(
        &py,
        &script(
            r#"
s = sock(zmq.XPUB)
listening(s)
assert s.recv() == b"\x01news"
for m in [b"news: one", b"sports: two", b"news: three"]:
    s.send(m)
"#,
        ),
        &[],
    );
    let ep = endpoint_line(&mut publisher);
    let out = run_netlab(
        &[
            "zmq",
            "sub",
            "--connect",
            &ep,
            "--topic",
            "news",
            "--count",
            "2",
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "news: one\nnews: three\n");
}

#[test]
fn pyzmq_push_to_our_sink() {
    let py = python_with("zmq");
    let mut sink = spawn_netlab(
        &["zmq", "sink", "--bind", "tcp://127.0.0.1:*", "--tasks", "3"],
        &[],
    );
    let ep = endpoint_line(&mut sink);
    let out = run(
        &py,
        &[
            "-c",
            &script(
                r#"
s = sock(zmq.PUSH)
s.connect(sys.argv[1])
for m in [b"1 py-a", b"2 py-b", b"3 py-a"]:
    s.send(m)
"#,
            ),
            &ep,
        ],
        b"",
        &[],
        T,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status = sink.wait_exit(T);
    assert!(
        status.is_some_and(|s| s.success()),
        "sink: {status:?}\n{}",
        sink.stderr_so_far()
    );
    let mut report = String::new();
    std::io::Read::read_to_string(sink.stdout.as_mut().unwrap(), &mut report).unwrap();
    assert!(report.contains("task 1 done by py-a"), "{report}");
    assert!(
        report.contains("3 results in") && report.contains("(py-a: 2, py-b: 1)"),
        "{report}"
    );
}

#[test]
fn our_ventilator_to_pyzmq_pull() {
    let py = python_with("zmq");
    let port = free_tcp_port().to_string();
    // pyzmq plays sink (PULL, bound) and worker (PULL, connected to our ventilator).
    let mut pulls = spawn_python(
        &py,
        &script(
            r#"
sink = sock(zmq.PULL)
listening(sink)
work = sock(zmq.PULL)
work.connect("tcp://127.0.0.1:" + sys.argv[1])
print(sink.recv().decode(), flush=True)
for _ in range(4):
    print(work.recv().decode(), flush=True)
"#,
        ),
        &[&port],
    );
    let sink_ep = endpoint_line(&mut pulls);
    let bind = format!("tcp://127.0.0.1:{port}");
    let out = run_netlab(
        &[
            "zmq",
            "ventilator",
            "--bind",
            &bind,
            "--sink",
            &sink_ep,
            "--tasks",
            "4",
            "--work",
            "7",
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sent 4 tasks"));
    assert!(pulls.wait_exit(T).is_some_and(|s| s.success()));
    let mut got = String::new();
    std::io::Read::read_to_string(pulls.stdout.as_mut().unwrap(), &mut got).unwrap();
    assert_eq!(got, "BATCH 4\n1 7\n2 7\n3 7\n4 7\n");
}

#[test]
fn our_worker_between_pyzmq_ventilator_and_sink() {
    let py = python_with("zmq");
    let mut ends = spawn_python(
        &py,
        &script(
            r#"
vent = sock(zmq.PUSH)
listening(vent)
sink = sock(zmq.PULL)
listening(sink)
for i in range(1, 4):
    vent.send(b"%d 5" % i)
for _ in range(3):
    print(sink.recv().decode(), flush=True)
"#,
        ),
        &[],
    );
    let vent = endpoint_line(&mut ends);
    let sink = endpoint_line(&mut ends);
    let out = run_netlab(
        &[
            "zmq",
            "worker",
            "--connect",
            &vent,
            "--sink",
            &sink,
            "--name",
            "rusty",
            "--count",
            "3",
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "rusty: task 1 (5 ms)\nrusty: task 2 (5 ms)\nrusty: task 3 (5 ms)\n"
    );
    assert!(ends.wait_exit(T).is_some_and(|s| s.success()));
    let mut got = String::new();
    std::io::Read::read_to_string(ends.stdout.as_mut().unwrap(), &mut got).unwrap();
    assert_eq!(got, "1 rusty\n2 rusty\n3 rusty\n");
}

#[test]
fn broker_with_pyzmq_clients_and_workers() {
    let py = python_with("zmq");
    let mut broker = spawn_netlab(
        &[
            "zmq",
            "broker",
            "--frontend",
            "tcp://127.0.0.1:*",
            "--backend",
            "tcp://127.0.0.1:*",
        ],
        &[],
    );
    let frontend = endpoint_line(&mut broker);
    let backend = endpoint_line(&mut broker);
    // Workers: one pyzmq REP and one `netlab zmq rep --connect`, both behind the DEALER.
    let _py_worker = spawn_python(
        &py,
        &script(
            r#"
s = sock(zmq.REP)
s.setsockopt(zmq.RCVTIMEO, 30000)
s.connect(sys.argv[1])
while True:
    s.send(b"py:" + s.recv())
"#,
        ),
        &[&backend],
    );
    let _our_worker = spawn_netlab(&["zmq", "rep", "--connect", &backend], &[]);
    // Clients: two pyzmq REQ sockets, asking until both workers answered (round robin).
    let out = run(
        &py,
        &[
            "-c",
            &script(
                r#"
import time
clients = [sock(zmq.REQ) for _ in range(2)]
for c in clients:
    c.connect(sys.argv[1])
seen = set()
for i in range(40):
    c = clients[i % 2]
    c.send(b"job%d" % i)
    reply = c.recv()
    assert reply in (b"job%d" % i, b"py:job%d" % i), reply
    seen.add("py" if reply.startswith(b"py:") else "netlab")
    if len(seen) == 2:
        break
    time.sleep(0.05)
print(",".join(sorted(seen)), flush=True)
"#,
            ),
            &frontend,
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "netlab,py\n", "{}", text(&out.stderr));
    // And our own REQ through the broker.
    let out = run_netlab(
        &["zmq", "req", "--connect", &frontend, "via the broker"],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let reply = text(&out.stdout);
    assert!(
        reply == "via the broker\n" || reply == "py:via the broker\n",
        "{reply}"
    );
}
