//! `make bench`, HTTP/1.1 rows, each next to its reference in the same run:
//! - the head parser on a corpus of realistic requests, netlab vs httparse (requests/s):
//!   borrowed fields (like for like with httparse) and the owned head a handler gets; run a
//!   second time by `make bench` with httparse's SIMD switched off
//!   (`--cfg httparse_disable_simd="1"`, `NETLAB_BENCH_PARSER_ONLY=1`: httparse's build
//!   script switches it off only when that cfg's value is "1"; a bare `--cfg
//!   httparse_disable_simd` leaves its AVX2 path on, and the bench checks which it got);
//! - the server under the same wrk command: netlab with a thread per connection vs nginx (as
//!   many workers as cores) and vs tiny_http (blocking, like it), and netlab as poll loops
//!   (`--loops`, as many as cores) vs nginx: requests/s and wrk's p50/p99 latency;
//! - resident memory with 1,000 idle keep-alive connections open;
//! - the trace switched off vs switched on for another layer: its cost when off.

#[path = "common/mod.rs"]
mod common;

use common::{Row, Server, free_port, machine, write_table};
use netlab::http1::parse::{EMPTY_FIELD, Limits, Status, parse_request, parse_request_borrowed};
use std::hint::black_box;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Instant;

const CORPUS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    b"GET /static/app.js?v=3 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nReferer: https://example.com/\r\nConnection: keep-alive\r\nSec-Fetch-Dest: script\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Site: same-origin\r\n\r\n",
    b"POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 27\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.abc\r\n\r\n",
    b"GET /api/notes/42 HTTP/1.1\r\nHost: api.example.com\r\nAccept: application/json\r\nCookie: session=9f86d081884c7d659a2feaa0c55ad015; theme=dark; lang=en\r\nIf-None-Match: \"5-65f1a2b3\"\r\nCache-Control: max-age=0\r\n\r\n",
];

const ROUNDS: usize = 300_000;

fn netlab_parser() -> f64 {
    let limits = Limits::default();
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for req in CORPUS {
            match parse_request(black_box(req), &limits) {
                Ok(Status::Complete(h)) => {
                    black_box(h);
                }
                other => panic!("corpus request not parsed: {other:?}"),
            }
        }
    }
    (ROUNDS * CORPUS.len()) as f64 / start.elapsed().as_secs_f64()
}

fn netlab_borrowed() -> f64 {
    let limits = Limits::default();
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for req in CORPUS {
            let mut fields = [EMPTY_FIELD; 32];
            match parse_request_borrowed(black_box(req), &limits, &mut fields) {
                Ok(Status::Complete((line, n, len))) => {
                    black_box((line, n, len, &fields));
                }
                other => panic!("corpus request not parsed: {other:?}"),
            }
        }
    }
    (ROUNDS * CORPUS.len()) as f64 / start.elapsed().as_secs_f64()
}

fn httparse_parser() -> f64 {
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for req in CORPUS {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut r = httparse::Request::new(&mut headers);
            match r.parse(black_box(req)) {
                Ok(httparse::Status::Complete(n)) => {
                    black_box((n, r.method, r.path));
                }
                other => panic!("corpus request not parsed: {other:?}"),
            }
        }
    }
    (ROUNDS * CORPUS.len()) as f64 / start.elapsed().as_secs_f64()
}

/// wrk's figures: requests/s, p50 and p99 latency in µs.
struct Wrk {
    rps: f64,
    p50: f64,
    p99: f64,
}

/// "1.23ms" / "456.78us" / "1.2s" → µs.
fn micros(v: &str) -> f64 {
    let (n, unit) = v
        .trim()
        .split_at(v.trim().find(|c: char| c.is_alphabetic()).unwrap_or(0));
    let n: f64 = n.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n,
        "ms" => n * 1e3,
        "s" => n * 1e6,
        _ => f64::NAN,
    }
}

/// Runs wrk for 5 s with 32 kept-alive connections.
fn wrk(url: &str) -> Wrk {
    let out = Command::new("wrk")
        .args(["-t", "2", "-c", "32", "-d", "5s", "--latency", url])
        .output()
        .expect("wrk (run make deps)");
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"));
    assert!(errors.is_none(), "wrk saw errors: {text}");
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output: {text}"));
    let pct = |p: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(p))
            .map(micros)
            .unwrap_or(f64::NAN)
    };
    Wrk {
        rps,
        p50: pct("50%"),
        p99: pct("99%"),
    }
}

/// Resident memory (KiB) of `pid` and its children (nginx's workers), from /proc.
fn rss_kib(pid: u32) -> f64 {
    let one = |p: u32| -> f64 {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0.0)
    };
    one(pid) + common::children_of(pid).into_iter().map(one).sum::<f64>()
}

/// Opens 1,000 keep-alive connections, one request answered on each, and returns the
/// server's resident memory while they are all open (and idle).
fn idle_rss(addr: SocketAddr, pid: u32) -> f64 {
    use std::io::{Read, Write};
    let mut conns = Vec::new();
    for _ in 0..1000 {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.write_all(b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf).expect("read");
        conns.push(s);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let kib = rss_kib(pid);
    drop(conns);
    kib
}

/// nginx answering every request with a fixed small body, from a throw-away prefix.
fn nginx(port: u16, workers: usize) -> (Server, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("netlab-bench-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = format!(
        "daemon off; worker_processes {workers}; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
         server {{ listen 127.0.0.1:{port}; location / {{ default_type text/plain; return 200 \"200 OK\\n\"; }} }} }}\n",
        d = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("nginx.conf");
    let server = Server::spawn(
        "nginx",
        &[
            "-c",
            path.to_str().expect("utf-8 path"),
            "-p",
            dir.to_str().expect("utf-8 path"),
        ],
        SocketAddr::from(([127, 0, 0, 1], port)),
    );
    (server, dir)
}

/// Whether httparse's AVX2 functions are in this binary (their names are in its symbol
/// table). A row labelled "SIMD off" must not have them: the cfg is easy to get wrong.
fn httparse_has_avx2() -> bool {
    let exe = std::fs::read("/proc/self/exe").expect("read /proc/self/exe");
    exe.windows(19).any(|w| w == b"8httparse4simd4avx2")
}

fn main() {
    let simd = if cfg!(httparse_disable_simd = "1") {
        assert!(
            !httparse_has_avx2(),
            "built with httparse_disable_simd=\"1\" but httparse's AVX2 path is still in the binary"
        );
        "SIMD off"
    } else {
        "SIMD"
    };
    // Five runs of each, taken in turn, and the median of each: one run is a tenth of a
    // second, and a two-core machine's other work moves a single run by ±10 %.
    let (mut borrowed, mut owned, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        borrowed.push(netlab_borrowed());
        owned.push(netlab_parser());
        theirs.push(httparse_parser());
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (borrowed, owned, theirs) = (median(borrowed), median(owned), median(theirs));
    let mut rows = vec![
        Row::higher_is_better(
            "head parser, borrowed fields, 4 realistic requests (requests/s)",
            borrowed,
            theirs,
            &format!("httparse, {simd}"),
        ),
        Row::higher_is_better(
            "head parser, owned head (Strings for a handler) (requests/s)",
            owned,
            theirs,
            &format!("httparse, {simd}"),
        ),
    ];
    if std::env::var_os("NETLAB_BENCH_PARSER_ONLY").is_some() {
        let name = if cfg!(httparse_disable_simd = "1") {
            "http1-parser-nosimd"
        } else {
            "http1-parser"
        };
        write_table(
            name,
            &format!("HTTP/1.1 parser, httparse {simd} — {}", machine()),
            &rows,
        );
        return;
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    // The trace's cost when off: three runs each way, alternating, medians compared, so the
    // row shows the difference beyond the run-to-run noise of a loaded two-core machine.
    let mut off = Vec::new();
    let mut other = Vec::new();
    for _ in 0..3 {
        for (env, into) in [(None, &mut off), (Some("zmq"), &mut other)] {
            let env: Vec<(&str, &str)> = env.map(|v| vec![("NETLAB_TRACE", v)]).unwrap_or_default();
            let s = Server::netlab_env(&["http", "serve", "--addr", "127.0.0.1:0"], &env);
            into.push(wrk(&format!("http://{}/status/200", s.addr)).rps);
        }
    }
    let (t_off, t_other) = (median(off), median(other));
    // The four servers side by side, all started first (an idle one costs nothing), then
    // wrk against each in turn, three rounds: each figure is the median of its three runs,
    // so a moment of load on the shared two cores moves one run, not the ratio.
    let loops_flag = cores.to_string();
    // The 1,000 idle connections all come from 127.0.0.1: one source may hold them all here.
    let netlab = Server::netlab(&[
        "http",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--per-source",
        "2048",
    ]);
    let looped = Server::netlab(&[
        "http",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--per-source",
        "2048",
        "--loops",
        &loops_flag,
    ]);
    let (nginx, dir) = nginx(free_port(), cores);
    let tiny = Server::program(&tiny_http_ref(), &[]);
    let servers = [&netlab, &looped, &nginx, &tiny];
    let mut runs: Vec<Vec<Wrk>> = servers.iter().map(|_| Vec::new()).collect();
    for _ in 0..3 {
        for (s, into) in servers.iter().zip(&mut runs) {
            into.push(wrk(&format!("http://{}/status/200", s.addr)));
        }
    }
    let medians: Vec<Wrk> = runs
        .into_iter()
        .map(|r| Wrk {
            rps: median(r.iter().map(|w| w.rps).collect()),
            p50: median(r.iter().map(|w| w.p50).collect()),
            p99: median(r.iter().map(|w| w.p99).collect()),
        })
        .collect();
    let [n, l, x, t] = [&medians[0], &medians[1], &medians[2], &medians[3]];
    let rss: Vec<f64> = servers.iter().map(|s| idle_rss(s.addr, s.pid())).collect();
    let (n_rss, l_rss, x_rss, t_rss) = (rss[0], rss[1], rss[2], rss[3]);
    drop((netlab, looped, nginx, tiny));
    let _ = std::fs::remove_dir_all(dir);
    let workers = format!("nginx, {cores} workers");
    let loops = format!("--loops {cores}");
    rows.extend([
        Row::higher_is_better("server, thread per connection, wrk -t2 -c32 keep-alive, 7-byte body, median of 3 (requests/s)", n.rps, x.rps, &workers),
        Row::lower_is_better("server, thread per connection, same wrk, p50 latency (µs)", n.p50, x.p50, &workers),
        Row::lower_is_better("server, thread per connection, same wrk, p99 latency (µs)", n.p99, x.p99, &workers),
        Row::higher_is_better("server, thread per connection, same wrk (requests/s)", n.rps, t.rps, "tiny_http"),
        Row::lower_is_better("server, thread per connection, same wrk, p50 latency (µs)", n.p50, t.p50, "tiny_http"),
        Row::lower_is_better("server, thread per connection, same wrk, p99 latency (µs)", n.p99, t.p99, "tiny_http"),
        Row::higher_is_better(&format!("server, {loops} (poll loops), same wrk (requests/s)"), l.rps, x.rps, &workers),
        Row::lower_is_better(&format!("server, {loops}, same wrk, p50 latency (µs)"), l.p50, x.p50, &workers),
        Row::lower_is_better(&format!("server, {loops}, same wrk, p99 latency (µs)"), l.p99, x.p99, &workers),
        Row::lower_is_better("resident memory with 1,000 idle keep-alive connections, thread per connection (KiB)", n_rss, x_rss, &workers),
        Row::lower_is_better("resident memory with 1,000 idle keep-alive connections, thread per connection (KiB)", n_rss, t_rss, "tiny_http"),
        Row::lower_is_better(&format!("resident memory with 1,000 idle keep-alive connections, {loops} (KiB)"), l_rss, x_rss, &workers),
        Row::higher_is_better(
            "the trace when off: NETLAB_TRACE unset vs =zmq (another layer), median of 3 (requests/s)",
            t_off,
            t_other,
            "netlab, NETLAB_TRACE=zmq",
        ),
    ]);
    write_table("http1", &format!("HTTP/1.1 — {}", machine()), &rows);
}

/// The tiny_http reference binary (`cargo build --release --example tiny_http_ref`).
fn tiny_http_ref() -> String {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_string());
    let path = format!("{target}/release/examples/tiny_http_ref");
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: make bench builds it (cargo build --release --example tiny_http_ref)"
    );
    path
}
