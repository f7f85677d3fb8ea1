//! gRPC with grpcio (Python, stubs generated from proto/netlab.proto by grpcio-tools), in
//! both roles, over h2c and TLS: all four kinds of call, UNIMPLEMENTED, a malformed message
//! (INTERNAL), deadlines (DEADLINE_EXCEEDED on both sides), a non-OK status with a
//! percent-encoded message, metadata — and a server that keeps serving.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn stubs() -> (TempDir, String) {
    grpc_stubs()
}

fn script(name: &str) -> String {
    format!("{}/tests/grpc/{name}", env!("CARGO_MANIFEST_DIR"))
}

const CLIENT_SEES: &str = "Echo hello 7
Subscribe news #1 1
Subscribe news #2 2
Subscribe news #3 3
Collect 3 5
Chat one 1
Chat two 2
Chat three 3
Nope UNIMPLEMENTED
Malformed INTERNAL
Deadline DEADLINE_EXCEEDED
Metadata with metadata
Echo still here
";

#[test]
fn grpcio_calls_our_server_over_h2c() {
    let (stubs, python) = stubs();
    let mut server = spawn_netlab(
        &["grpc", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "grpc")],
    );
    let addr = server.listening();
    let out = run(
        &python,
        &[&script("client.py"), &stubs.path(""), &addr.to_string()],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), CLIENT_SEES);
    let wants = [
        "server [grpc] ← call /netlab.Exchange/Echo from 127.0.0.1:",
        "server [grpc] ← message 1: Note text=\"hello\" seq=7 (9 bytes)",
        "server [grpc] → status UNIMPLEMENTED (12): no method /netlab.Exchange/Nope",
        "server [grpc] → status INTERNAL (13): the request message does not parse",
        "server [grpc] → status DEADLINE_EXCEEDED (4): deadline exceeded",
        "server [grpc] ← message 1: Note text=\"still here\"",
    ];
    let trace = server.stderr_until(&wants, T);
    for want in wants {
        assert!(trace.contains(want), "{want:?} missing from:\n{trace}");
    }
}

#[test]
fn grpcio_calls_our_server_over_tls() {
    let (stubs, python) = stubs();
    let certs = TempDir::new("grpc-certs");
    let out = run_netlab(&["cert", "--dir", &certs.path("")], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut server = spawn_netlab(
        &[
            "grpc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls",
            "--cert",
            &certs.path("localhost.pem"),
            "--key",
            &certs.path("localhost-key.pem"),
        ],
        &[],
    );
    let addr = server.listening();
    let target = format!("localhost:{}", addr.port());
    let out = run(
        &python,
        &[
            &script("client.py"),
            &stubs.path(""),
            &target,
            &certs.path("ca.pem"),
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), CLIENT_SEES);
}

/// grpcio's server on a free port, h2c or TLS.
fn python_server(stubs: &TempDir, python: &str, tls: Option<(&str, &str)>) -> (Proc, SocketAddr) {
    let port = free_tcp_port().to_string();
    let mut args = vec![
        script("client.py").replace("client.py", "server.py"),
        stubs.path(""),
        port,
    ];
    if let Some((cert, key)) = tls {
        args.push(cert.to_string());
        args.push(key.to_string());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p = spawn(python, &argv);
    let addr = p.listening();
    (p, addr)
}

fn call(addr: &str, extra: &[&str], args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["grpc", "call", "--addr", addr];
    all.extend_from_slice(extra);
    all.extend_from_slice(args);
    let out = run_netlab(&all, b"", &[], T);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn calls_against(addr: &str, extra: &[&str]) {
    let ok = |args: &[&str], want: &str| {
        let (code, stdout, stderr) = call(addr, extra, args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(stdout, want, "{args:?}");
    };
    ok(&["Echo", "hello"], "seq=0 text=hello\n");
    ok(
        &["Subscribe", "news", "3"],
        "seq=1 text=news #1\nseq=2 text=news #2\nseq=3 text=news #3\n",
    );
    ok(&["Collect", "a", "bb", "ccc"], "count=3 bytes=6\n");
    ok(
        &["Chat", "x", "y", "z"],
        "seq=1 text=x\nseq=2 text=y\nseq=3 text=z\n",
    );
    // A non-OK status: by name, with the percent-decoded message, and exit 1.
    let (code, _, stderr) = call(addr, extra, &["Echo", "fail"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("error: the call ended with NOT_FOUND (5): no note 'fail' — 100% sure"),
        "{stderr}"
    );
    let (code, _, stderr) = call(addr, extra, &["Nope"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("UNIMPLEMENTED (12)"), "{stderr}");
    // The deadline, on the client's side: the server sleeps 2 s on "slow".
    let (code, _, stderr) = call(
        addr,
        &[extra, &["--deadline", "300"]].concat(),
        &["Echo", "slow"],
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("DEADLINE_EXCEEDED (4)"), "{stderr}");
}

#[test]
fn our_client_calls_grpcio_over_h2c() {
    let (stubs, python) = stubs();
    let (_server, addr) = python_server(&stubs, &python, None);
    calls_against(&addr.to_string(), &[]);
}

#[test]
fn our_client_calls_grpcio_over_tls() {
    let (stubs, python) = stubs();
    let certs = TempDir::new("grpc-certs-py");
    let out = run_netlab(&["cert", "--dir", &certs.path("")], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (cert, key) = (certs.path("localhost.pem"), certs.path("localhost-key.pem"));
    let (_server, addr) = python_server(&stubs, &python, Some((&cert, &key)));
    let target = format!("localhost:{}", addr.port());
    calls_against(&target, &["--tls", "--cacert", &certs.path("ca.pem")]);
}

#[test]
fn our_client_and_server_agree() {
    let mut server = spawn_netlab(&["grpc", "serve", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening().to_string();
    let (code, stdout, stderr) = call(&addr, &[], &["Chat", "a", "b"]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "seq=1 text=a\nseq=2 text=b\n"),
        "{stderr}"
    );
    let (code, _, stderr) = call(&addr, &[], &["Subscribe", "x", "200000"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("OUT_OF_RANGE (11): count may be at most 100000"),
        "{stderr}"
    );
    // HTTP/1.1 is not gRPC: the server closes such a connection without an answer.
    let answer = raw_exchange(
        addr.parse().unwrap(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(answer.is_empty(), "{}", text(&answer));
}
