//! `netlab port`: name the process that holds a port, and end it on request.

mod common;
use common::*;
use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[test]
fn names_the_holder_then_ends_it_with_sigterm() {
    let mut server = spawn_netlab(&["echo", "server", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let port = addr.port().to_string();
    let pid = server.pid();

    let out = run_netlab(&["port", &port], b"", &[], T);
    assert_eq!(out.status.code(), Some(0));
    let said = text(&out.stdout);
    assert!(said.contains(&format!("LISTEN 127.0.0.1:{port}")), "{said}");
    assert!(said.contains(&format!("PID {pid} (netlab)")), "{said}");

    let out = run_netlab(&["port", &port, "--kill"], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("sent SIGTERM to PID {pid} (netlab): it exited")),
        "{said}"
    );
    let status = server.wait_exit(T).expect("the server should be gone");
    assert!(!status.success(), "ended by a signal");
    TcpListener::bind(addr).expect("the port is free again");
}

#[test]
fn a_holder_that_ignores_sigterm_gets_sigkill() {
    require("python3");
    let script = "import signal,socket,sys,time\n\
        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
        s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
        print(s.getsockname()[1], flush=True)\n\
        time.sleep(60)\n";
    let mut py = spawn("python3", &["-c", script]);
    let mut line = String::new();
    py.stdout.as_mut().unwrap().read_line(&mut line).unwrap();
    let port = line.trim().to_string();
    let out = run_netlab(&["port", &port, "--kill", "--grace", "300"], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("ignored SIGTERM for 300 ms: sent SIGKILL"),
        "{said}"
    );
    assert!(py.wait_exit(T).is_some());
}

#[test]
fn udp_ports_too() {
    let mut server = spawn_netlab(&["echo", "server", "--udp", "--addr", "127.0.0.1:0"], &[]);
    let port = server.listening().port().to_string();
    let out = run_netlab(&["port", &port, "--udp"], b"", &[], T);
    assert_eq!(out.status.code(), Some(0));
    let said = text(&out.stdout);
    assert!(
        said.contains("bound (UDP)") && said.contains(&format!("PID {}", server.pid())),
        "{said}"
    );
    // A TCP lookup of the same number must not report the UDP socket. (Another test's TCP
    // connection may happen to use that number as its ephemeral port: that one may show.)
    let out = run_netlab(&["port", &port], b"", &[], T);
    let said = text(&out.stdout);
    assert!(
        !said.contains("bound (UDP)") && !said.contains(&format!("PID {}", server.pid())),
        "{said}"
    );
}

#[test]
fn time_wait_belongs_to_no_process() {
    // The server closes first (active close), so TIME-WAIT lands on the server's port.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    drop(server_side);
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    client.flush().unwrap();
    drop(client);
    drop(listener);
    let port = addr.port().to_string();
    let out = run_netlab(&["port", &port], b"", &[], T);
    let said = text(&out.stdout);
    assert!(
        said.contains("TIME-WAIT") && said.contains("no process: the kernel holds it"),
        "{said}"
    );
    let out = run_netlab(&["port", &port, "--kill"], b"", &[], T);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no process to end"),
        "{}",
        text(&out.stderr)
    );
    // std sets SO_REUSEADDR, so a new listener binds despite the TIME-WAIT socket.
    TcpListener::bind(addr).expect("SO_REUSEADDR lets us bind over TIME-WAIT");
}
