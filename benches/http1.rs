//! `make bench`, HTTP/1.1 rows, each next to its reference in the same run:
//! - the head parser on a corpus of realistic requests, netlab vs httparse (requests/s);
//! - the server under wrk (keep-alive, small response), netlab vs nginx (requests/s).

#[path = "common/mod.rs"]
mod common;

use common::{Row, Server, free_port, machine, write_table};
use netlab::http1::parse::{Limits, Status, parse_request};
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

/// Runs wrk for 5 s with 32 kept-alive connections and returns its Requests/sec.
fn wrk(url: &str) -> f64 {
    let out = Command::new("wrk")
        .args(["-t", "2", "-c", "32", "-d", "5s", url])
        .output()
        .expect("wrk (run make deps)");
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"));
    assert!(errors.is_none(), "wrk saw errors: {text}");
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output: {text}"))
}

/// nginx answering every request with a fixed small body, from a throw-away prefix.
fn nginx(port: u16) -> (Server, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("netlab-bench-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = format!(
        "daemon off; worker_processes 2; pid {d}/nginx.pid; error_log {d}/error.log;\n\
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

fn main() {
    let ours = netlab_parser();
    let theirs = httparse_parser();
    let netlab = Server::netlab(&["http", "serve", "--addr", "127.0.0.1:0"]);
    let n_rps = wrk(&format!("http://{}/status/200", netlab.addr));
    drop(netlab);
    let (nginx, dir) = nginx(free_port());
    let x_rps = wrk(&format!("http://{}/status/200", nginx.addr));
    drop(nginx);
    let _ = std::fs::remove_dir_all(dir);
    let rows = vec![
        Row::higher_is_better(
            "head parser, 4 realistic requests (requests/s)",
            ours,
            theirs,
            "httparse",
        ),
        Row::higher_is_better(
            "server, wrk -c32 keep-alive, 7-byte body (requests/s)",
            n_rps,
            x_rps,
            "nginx, 2 workers",
        ),
    ];
    write_table("http1", &format!("HTTP/1.1 — {}", machine()), &rows);
}
