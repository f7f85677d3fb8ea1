//! The \[L4\] section of `netlab tour`: TCP echo with its socket states, who holds the port,
//! and UDP echo. Everything runs in this process on loopback ports the kernel picks.

use super::echo::{self, TcpClient, UdpClient};
use super::port;
use super::sockets::{self, Filter, Proto, TcpState};
use crate::guide::{Guide, TourError};
use crate::trace;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The course's own Python echo pair, next to the sources this binary was built from.
const PYTHON_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/python");

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Waits until the sockets on `port` satisfy `want`, or gives up after two seconds.
/// State changes after close happen in the kernel a moment later, not inside the call.
fn sockets_on(port: u16, want: impl Fn(&[sockets::Socket]) -> bool) -> Vec<sockets::Socket> {
    let filter = Filter {
        tcp: true,
        port: Some(port),
        ..Filter::default()
    };
    let start = Instant::now();
    loop {
        let list = sockets::list(&filter).unwrap_or_default();
        if want(&list) || start.elapsed() > Duration::from_secs(2) {
            return list;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn has_state(list: &[sockets::Socket], state: TcpState) -> bool {
    list.iter().any(|s| s.state == state)
}

/// The steps of this section, in the order `run` takes them (`netlab tour --list`; the
/// guide checks that each `g.step` says the same).
pub const STEPS: &[&str] = &[
    "TCP echo server: socket → bind → listen, on a port the kernel picks",
    "TCP echo client: connect (three-way handshake), write, read until all came back",
    "netlab sockets --port: the listener and both ends of the connection",
    "close: the client sends FIN first, so the client's end waits in TIME-WAIT",
    "netlab port: who holds the listening port",
    "the course's Python echo pair and netlab's Rust echo: the same bytes, both ways",
    "UDP echo: one datagram in, the same datagram out; no connection, no states",
];

/// The \[L4\] section of `netlab tour`.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    let timeout = Duration::from_secs(5);

    g.step("TCP echo server: socket → bind → listen, on a port the kernel picks");
    let server = echo::spawn_tcp(loopback(), echo::echo).map_err(|e| g.fail("bind", e))?;
    let addr = server.addr();
    g.say(&format!("listening on tcp://{addr}"));

    g.step("TCP echo client: connect (three-way handshake), write, read until all came back");
    let mut client = TcpClient::connect(addr, timeout).map_err(|e| g.fail("connect", e))?;
    for message in ["hello, netlab\n", "TCP is a byte stream\n"] {
        let reply = client
            .exchange(message.as_bytes())
            .map_err(|e| g.fail("echo over TCP", e))?;
        if reply != message.as_bytes() {
            return Err(g.fail(
                "echo over TCP",
                format!(
                    "sent {}, got {}",
                    trace::quoted(message.as_bytes(), 80),
                    trace::quoted(&reply, 80)
                ),
            ));
        }
        g.say(&format!("echoed: {}", message.trim_end()));
    }

    g.step("netlab sockets --port: the listener and both ends of the connection");
    let open = sockets_on(addr.port(), |l| {
        l.iter()
            .filter(|s| s.state == TcpState::Established)
            .count()
            >= 2
    });
    g.say(sockets::render(&open).trim_end());
    if !has_state(&open, TcpState::Listen) || !has_state(&open, TcpState::Established) {
        return Err(g.fail("socket states", "expected LISTEN and ESTABLISHED sockets"));
    }

    g.step("close: the client sends FIN first, so the client's end waits in TIME-WAIT");
    let client_port = client.local().port();
    client.close().map_err(|e| g.fail("close", e))?;
    let closed = sockets_on(addr.port(), |l| {
        l.iter()
            .any(|s| s.local.port() == client_port && s.state == TcpState::TimeWait)
    });
    g.say(sockets::render(&closed).trim_end());
    if !closed
        .iter()
        .any(|s| s.local.port() == client_port && s.state == TcpState::TimeWait)
    {
        return Err(g.fail("socket states", "expected the client's socket in TIME-WAIT"));
    }

    g.step("netlab port: who holds the listening port");
    let holders = port::find(addr.port(), Proto::Tcp).map_err(|e| g.fail("port", e))?;
    g.say(port::describe(&holders).trim_end());
    if !holders.owners().iter().any(|o| o.pid == std::process::id()) {
        return Err(g.fail("port", "this process should hold the port"));
    }

    g.step("the course's Python echo pair and netlab's Rust echo: the same bytes, both ways");
    python_pair(g, addr, timeout)?;
    server.stop();

    g.step("UDP echo: one datagram in, the same datagram out; no connection, no states");
    let udp = echo::spawn_udp(loopback()).map_err(|e| g.fail("bind UDP", e))?;
    g.say(&format!("listening on udp://{}", udp.addr()));
    let mut uc = UdpClient::connect(udp.addr(), timeout).map_err(|e| g.fail("UDP client", e))?;
    let reply = uc
        .exchange(b"one datagram")
        .map_err(|e| g.fail("echo over UDP", e))?;
    if reply != b"one datagram" {
        return Err(g.fail(
            "echo over UDP",
            format!("got {}", trace::quoted(&reply, 80)),
        ));
    }
    g.say("echoed: one datagram");
    udp.stop();
    Ok(())
}

/// A child process killed and reaped when the tour is done with it, whatever happened.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `python3 ARGS` to completion, at most `limit`; returns its stdout.
fn python_output(args: &[&str], limit: Duration) -> Result<String, String> {
    let child = Command::new("python3")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start python3: {e}"))?;
    let mut child = Stopped(child);
    let start = Instant::now();
    loop {
        match child.0.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                let mut err = String::new();
                use std::io::Read;
                if let Some(o) = child.0.stdout.as_mut() {
                    let _ = o.read_to_string(&mut out);
                }
                if let Some(e) = child.0.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                return if status.success() {
                    Ok(out)
                } else {
                    Err(format!("python3 {} failed: {}", args.join(" "), err.trim()))
                };
            }
            Ok(None) if start.elapsed() < limit => thread::sleep(Duration::from_millis(10)),
            Ok(None) => return Err(format!("python3 {} did not finish", args.join(" "))),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The course starts from `python echo-server.py` and `python echo-client.py`: run that pair
/// against netlab's Rust echo, each way, and show that the bytes are the same.
fn python_pair(g: &mut Guide, rust_echo: SocketAddr, timeout: Duration) -> Result<(), TourError> {
    let found = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        // A missing peer never passes silently in CI (DESIGN: real peers).
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            return Err(g.fail(
                "Python echo pair",
                "python3 is not installed (run make deps)",
            ));
        }
        g.say("python3 not found: the Python echo pair is left out (make deps installs it)");
        return Ok(());
    }

    // 1. The Python client against the Rust server.
    let client = format!("{PYTHON_DIR}/echo-client.py");
    let port = rust_echo.port().to_string();
    let out = python_output(&[&client, "127.0.0.1", &port, "hello from Python"], timeout)
        .map_err(|e| g.fail("python3 echo-client.py → netlab echo", e))?;
    if out != "Received b'hello from Python\\n'\n" {
        return Err(g.fail(
            "python3 echo-client.py → netlab echo",
            format!(
                "expected Received b'hello from Python\\n', got {}",
                out.trim_end()
            ),
        ));
    }
    g.say(&format!(
        "python3 echo-client.py 127.0.0.1 {port} → netlab's Rust echo: {}",
        out.trim_end()
    ));

    // 2. netlab's Rust client against the Python server, on a port the kernel picks.
    let server = format!("{PYTHON_DIR}/echo-server.py");
    let child = Command::new("python3")
        .args([server.as_str(), "127.0.0.1", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| g.fail("python3 echo-server.py", e))?;
    let mut child = Stopped(child);
    let stdout = child.0.stdout.take();
    // Wait for its `listening on` line, at most `timeout`, in a thread that reads the pipe
    // to its end: a closed pipe would kill the server at its next print.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        if let Some(out) = stdout {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx.recv_timeout(timeout).unwrap_or_default();
    let py_addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on tcp://")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| {
            g.fail(
                "python3 echo-server.py",
                format!("expected a listening line, got {:?}", line.trim()),
            )
        })?;
    g.say(&format!(
        "python3 echo-server.py 127.0.0.1 0 → listening on tcp://{py_addr}"
    ));
    let message = b"hello from Rust\n";
    let mut rc = TcpClient::connect(py_addr, timeout).map_err(|e| g.fail("connect", e))?;
    let reply = rc
        .exchange(message)
        .map_err(|e| g.fail("netlab echo client → python3 echo-server.py", e))?;
    rc.close().map_err(|e| g.fail("close", e))?;
    if reply != message {
        return Err(g.fail(
            "netlab echo client → python3 echo-server.py",
            format!(
                "sent \"hello from Rust\\n\", got {}",
                trace::quoted(&reply, 80)
            ),
        ));
    }
    g.say(&format!(
        "netlab's Rust client → python3 echo-server.py: sent and received {}",
        trace::quoted(&reply, 80)
    ));
    drop(child);
    Ok(())
}
