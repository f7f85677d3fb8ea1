//! Helpers shared by the integration tests: run netlab and real peers as child processes,
//! wait for their `listening on` line, and stop them by PID when a test ends.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub const NETLAB: &str = env!("CARGO_BIN_EXE_netlab");

/// A peer the test needs. Never skipped: a missing peer fails the test with what to do.
pub fn require(program: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "peer '{program}' is not installed: run `make deps` (or make test)"
    );
}

/// A running child process, killed (by PID) and reaped on drop.
pub struct Proc {
    pub child: Child,
    pub stdout: Option<BufReader<ChildStdout>>,
    stderr_rx: Option<mpsc::Receiver<String>>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads stdout lines until one starts with `listening on `, and returns its address.
    pub fn listening(&mut self) -> SocketAddr {
        let out = self.stdout.as_mut().expect("stdout piped");
        // A server that exits without the line fails the test; one that hangs is bounded by
        // the test's own timeout (cargo test's per-test limits in the Makefile).
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut line = String::new();
        loop {
            line.clear();
            let n = out.read_line(&mut line).expect("read stdout");
            assert!(n > 0, "server exited before printing its listening line");
            if let Some(rest) = line.trim().strip_prefix("listening on ") {
                let addr = rest.rsplit("://").next().unwrap().parse().unwrap();
                return addr;
            }
            assert!(Instant::now() < deadline, "no listening line");
        }
    }

    /// Reads stderr until every one of `wants` has appeared (or `limit` passed) and returns
    /// all of it: a trace line written a moment after the exchange ended is still found,
    /// however loaded the machine.
    pub fn stderr_until(&mut self, wants: &[&str], limit: Duration) -> String {
        let start = Instant::now();
        let mut s = String::new();
        let Some(rx) = &self.stderr_rx else { return s };
        while !wants.iter().all(|w| s.contains(w)) {
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(left) {
                Ok(line) => {
                    s.push_str(&line);
                    s.push('\n');
                }
                Err(_) => break,
            }
        }
        s
    }

    /// Everything the process wrote to stderr so far (waits until it is quiet for 300 ms).
    pub fn stderr_so_far(&mut self) -> String {
        let mut s = String::new();
        if let Some(rx) = &self.stderr_rx {
            while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
                s.push_str(&line);
                s.push('\n');
            }
        }
        s
    }

    /// Waits for the process to exit by itself, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if start.elapsed() > limit {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `netlab ARGS` with stdout piped and stderr collected line by line.
pub fn spawn_netlab(args: &[&str], env: &[(&str, &str)]) -> Proc {
    spawn_netlab_with(args, env, Stdio::null())
}

fn spawn_netlab_with(args: &[&str], env: &[(&str, &str)], stdin: Stdio) -> Proc {
    let mut cmd = Command::new(NETLAB);
    cmd.args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("NETLAB_TRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    watched(cmd.spawn().expect("start netlab"))
}

/// A child whose stdout is kept for `listening` and whose stderr lines a thread collects.
fn watched(mut child: Child) -> Proc {
    let stdout = child.stdout.take().map(BufReader::new);
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Proc {
        child,
        stdout,
        stderr_rx: Some(rx),
    }
}

/// Starts any program with stdin/stdout piped and stderr discarded.
pub fn spawn(program: &str, args: &[&str]) -> Proc {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let stdout = child.stdout.take().map(BufReader::new);
    Proc {
        child,
        stdout,
        stderr_rx: None,
    }
}

/// Starts any program with stdout and stderr piped (stderr read line by line, as netlab's).
pub fn spawn_watched(program: &str, args: &[&str]) -> Proc {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    watched(child)
}

/// Runs netlab to completion with `stdin` as input, bounded by `limit`.
pub fn run_netlab(args: &[&str], stdin: &[u8], env: &[(&str, &str)], limit: Duration) -> Output {
    run(NETLAB, args, stdin, env, limit)
}

/// Runs a program to completion, killing it if it takes longer than `limit`.
pub fn run(
    program: &str,
    args: &[&str],
    stdin: &[u8],
    env: &[(&str, &str)],
    limit: Duration,
) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("NETLAB_TRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            // What it had said before it was stopped: which step it was waiting in.
            let said = match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(out)) => format!(
                    "\nits stderr:\n{}\nits stdout:\n{}",
                    text(&out.stderr),
                    text(&out.stdout)
                ),
                _ => String::new(),
            };
            panic!("{program} {args:?} did not finish within {limit:?}{said}");
        }
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A TCP port that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_tcp(addr: SocketAddr) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nothing listens on {addr}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Reads exactly `n` bytes or fails the test after `limit`.
pub fn read_n(s: &mut TcpStream, n: usize, limit: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).expect("read the echo");
    buf
}

/// The directory of the examples (the lab checks) next to this test binary.
pub fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples")
}

/// The project's Python (the virtual environment `make deps` fills), for peers from PyPI.
pub fn venv_python() -> String {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    assert!(
        std::path::Path::new(p).exists(),
        "{p} is missing: run `make deps` (or make test)"
    );
    p.to_string()
}

/// Sends raw bytes to a server and returns everything it answers until it closes the
/// connection or `limit` passes.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], limit: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(bytes).expect("write");
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 8192];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    got
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("netlab-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts Python's `http.server` on loopback serving `dir`, on a port the kernel picks (a
/// port chosen here could be taken by a parallel test before Python binds it); returns it
/// once it accepts.
pub fn python_http_server(dir: &TempDir) -> (Proc, SocketAddr) {
    let mut p = spawn(
        "python3",
        &[
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
            dir.0.to_str().unwrap(),
            "0",
        ],
    );
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let mut line = String::new();
    p.stdout
        .as_mut()
        .expect("stdout piped")
        .read_line(&mut line)
        .expect("http.server's first line");
    let port: u16 = line
        .split(" port ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_tcp(addr);
    (p, addr)
}

/// Starts `netlab http serve` with extra flags; returns the process and its address.
pub fn http_server(extra: &[&str]) -> (Proc, SocketAddr) {
    let mut args = vec!["http", "serve", "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut p = spawn_netlab(&args, &[]);
    let addr = p.listening();
    (p, addr)
}

/// The project's Python (.venv, made by `make deps`), checked to import `module`. Never
/// skipped: a missing peer fails the test with what to run.
pub fn python_with(module: &str) -> String {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "peer '{module}' is not installed in .venv: run `make deps` (or make test)"
    );
    py.to_string_lossy().into_owned()
}

/// Starts a Python script (`-c SCRIPT ARGS…`) with stdout piped, like `spawn`.
pub fn spawn_python(python: &str, script: &str, args: &[&str]) -> Proc {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    spawn(python, &all)
}

/// Reads the next `listening on …` line of a process and returns the endpoint as printed
/// (`tcp://127.0.0.1:PORT`).
pub fn endpoint_line(p: &mut Proc) -> String {
    let addr = p.listening();
    format!("tcp://{addr}")
}

/// Starts `netlab ARGS` with stdin piped (for commands that read lines), stdout piped.
pub fn spawn_netlab_stdin(args: &[&str]) -> Proc {
    spawn_netlab_with(args, &[], Stdio::piped())
}

/// Python stubs for proto/netlab.proto, generated by grpcio-tools the way a Python team would,
/// and the .venv's Python that can import them with grpcio. Never skipped: a missing peer
/// fails with what to run.
pub fn grpc_stubs() -> (TempDir, String) {
    let python = python_with("grpc_tools");
    let dir = TempDir::new("grpc-stubs");
    let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/proto");
    let out = run(
        &python,
        &[
            "-m",
            "grpc_tools.protoc",
            "-I",
            proto,
            &format!("--python_out={}", dir.path("")),
            &format!("--grpc_python_out={}", dir.path("")),
            "netlab.proto",
        ],
        b"",
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (dir, python)
}

/// A TCP connection to `addr` from the loopback address `source` (127.0.0.2, 127.0.0.3…:
/// all of 127/8 is this host), so that a test can be two users at once.
pub fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket};
    use std::os::fd::AsRawFd;
    let local: std::net::SocketAddrV4 = format!("{source}:0").parse().expect("an IPv4 source");
    let SocketAddr::V4(remote) = addr else {
        panic!("connect_from speaks IPv4: {addr}")
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    bind(fd.as_raw_fd(), &SockaddrIn::from(local)).expect("bind to the source address");
    connect(fd.as_raw_fd(), &SockaddrIn::from(remote)).expect("connect");
    TcpStream::from(fd)
}

/// [`raw_exchange`] from the loopback address `source`, for 5 s at most.
pub fn exchange_from(source: &str, addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = connect_from(source, addr);
    s.write_all(bytes).expect("write");
    let limit = Duration::from_secs(5);
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 8192];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// `netlab cert --dir DIR/certs`: a local CA and a certificate for localhost, 127.0.0.1 and
/// ::1; returns the directory (ca.pem, localhost.pem, localhost-key.pem).
pub fn make_certs(dir: &TempDir) -> String {
    let d = dir.path("certs");
    let out = run_netlab(&["cert", "--dir", &d], b"", &[], Duration::from_secs(90));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    d
}

/// `netlab h3 serve` on a loopback port with the certificate of [`make_certs`], `extra`
/// flags after it and `env` (the trace layers, for one) in its environment.
pub fn h3_serve(certs: &str, extra: &[&str], env: &[(&str, &str)]) -> (Proc, SocketAddr) {
    let cert = format!("{certs}/localhost.pem");
    let key = format!("{certs}/localhost-key.pem");
    let mut args = vec![
        "h3",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--cert",
        &cert,
        "--key",
        &key,
    ];
    args.extend_from_slice(extra);
    let mut p = spawn_netlab(&args, env);
    let addr = p.listening();
    (p, addr)
}

/// Starts a peer that listens on a TCP port it is told (nghttpd, say) on a free one, and
/// waits until it accepts connections. `free_tcp_port` only finds a port free a moment ago:
/// another test may take it first, and the peer then exits at once. So a peer that exits
/// before it listens is started again on another port (up to 5 times).
pub fn spawn_on_free_port(program: &str, args: impl Fn(u16) -> Vec<String>) -> (Proc, u16) {
    for _ in 0..5 {
        let port = free_tcp_port();
        let owned = args(port);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let mut p = spawn(program, &refs);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return (p, port);
            }
            if p.child.try_wait().ok().flatten().is_some() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("{program} never listened on a free port (5 tries)");
}

/// tshark capturing `filter` on loopback into `file`, returned once it really takes packets:
/// "Capturing on" comes a moment before, so `probe` (which sends something the filter
/// matches) runs until the file grows.
pub fn capture(filter: &str, file: &str, probe: impl Fn()) -> Proc {
    let limit = Duration::from_secs(30);
    let mut tshark = spawn_watched("tshark", &["-i", "lo", "-f", filter, "-w", file]);
    let ready = tshark.stderr_until(&["Capturing on"], limit);
    assert!(ready.contains("Capturing on"), "{ready}");
    let size = || std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    thread::sleep(Duration::from_millis(200));
    let (header, start) = (size(), Instant::now());
    while size() <= header && start.elapsed() < limit {
        probe();
        thread::sleep(Duration::from_millis(100));
    }
    tshark
}

/// Stops a capture with SIGINT, so tshark closes its file, and waits for it.
pub fn stop_capture(mut tshark: Proc) {
    let _ = Command::new("kill")
        .args(["-INT", &tshark.pid().to_string()])
        .status();
    let _ = tshark.wait_exit(Duration::from_secs(30));
}
