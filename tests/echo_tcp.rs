//! TCP echo over loopback: the server process against many clients, partial reads and
//! writes, clients that vanish mid-message, and the CLI client.

mod common;
use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[test]
fn fifty_clients_at_once() {
    let mut server = spawn_netlab(&["echo", "server", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let clients: Vec<_> = (0..50)
        .map(|i| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for round in 0..20 {
                    let msg = format!("client {i} round {round}\n");
                    s.write_all(msg.as_bytes()).unwrap();
                    assert_eq!(read_n(&mut s, msg.len(), T), msg.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn bytes_written_one_at_a_time_come_back_whole() {
    let mut server = spawn_netlab(&["echo", "server", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let msg = b"a message sent one byte per write";
    for b in msg {
        s.write_all(&[*b]).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(read_n(&mut s, msg.len(), T), msg);
    // A large write is cut into many segments and reads: all of it comes back in order.
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = s.try_clone().unwrap();
    let sent = big.clone();
    let writer = thread::spawn(move || w.write_all(&sent).unwrap());
    assert_eq!(read_n(&mut s, big.len(), T), big);
    writer.join().unwrap();
}

#[test]
fn a_client_that_vanishes_mid_message_does_not_stop_the_server() {
    let mut server = spawn_netlab(
        &["echo", "server", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "l4")],
    );
    let addr = server.listening();
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&[b'z'; 100_000]).unwrap();
        // Drop without reading: unread data makes close(2) send RST to the server.
        drop(s);
    }
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"still there?\n").unwrap();
    assert_eq!(read_n(&mut s, 13, T), b"still there?\n");
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server must keep running"
    );
    let trace = server.stderr_so_far();
    assert!(!trace.contains("panicked"), "{trace}");
}

#[test]
fn cli_client_with_arguments_and_stdin() {
    let mut server = spawn_netlab(&["echo", "server", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening().to_string();
    let out = run_netlab(
        &["echo", "client", "--addr", &addr, "hello", "two words"],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\ntwo words\n");
    let out = run_netlab(
        &["echo", "client", "--addr", &addr],
        b"line one\nline two\n",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "line one\nline two\n");
}

#[test]
fn trace_shows_the_socket_calls_in_order() {
    let mut server = spawn_netlab(&["--trace", "echo", "server", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening().to_string();
    let out = run_netlab(
        &["echo", "client", "--addr", &addr, "hi"],
        b"",
        &[("NETLAB_TRACE", "l4")],
        T,
    );
    assert_eq!(out.status.code(), Some(0));
    let client = text(&out.stderr);
    let order = [
        "socket(AF_INET, SOCK_STREAM)",
        "connect(",
        "connected",
        "write 3 bytes",
        "read 3 bytes",
        "shutdown(SHUT_WR)",
        "read 0 bytes",
        "close ",
    ];
    assert_in_order(&client, &order);
    let order = [
        "socket(AF_INET, SOCK_STREAM)",
        "setsockopt(SO_REUSEADDR",
        "bind(",
        "listen(",
        "accept()",
        "read 3 bytes",
        "write 3 bytes",
        "read 0 bytes",
        "close ",
    ];
    let srv = server.stderr_until(&order, Duration::from_secs(20));
    assert_in_order(&srv, &order);
    for line in srv.lines() {
        assert!(
            line.starts_with("server [l4] "),
            "every trace line names its role and layer: {line}"
        );
    }
    for line in client.lines() {
        assert!(
            line.starts_with("client [l4] "),
            "every trace line names its role and layer: {line}"
        );
    }
}

fn assert_in_order(text: &str, steps: &[&str]) {
    let mut at = 0;
    for step in steps {
        match text[at..].find(step) {
            Some(i) => at += i + step.len(),
            None => panic!("step {step:?} missing or out of order in:\n{text}"),
        }
    }
}

#[test]
fn trace_is_off_by_default_and_filtered_by_layer() {
    let mut server = spawn_netlab(&["echo", "server", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening().to_string();
    let quiet = run_netlab(&["echo", "client", "--addr", &addr, "x"], b"", &[], T);
    assert_eq!(text(&quiet.stderr), "", "no trace unless asked");
    let other = run_netlab(
        &["echo", "client", "--addr", &addr, "x"],
        b"",
        &[("NETLAB_TRACE", "http1,h2")],
        T,
    );
    assert_eq!(text(&other.stderr), "", "only the named layers are traced");
    let on = run_netlab(
        &["echo", "client", "--addr", &addr, "x"],
        b"",
        &[("NETLAB_TRACE", "l4")],
        T,
    );
    assert!(
        text(&on.stderr).contains("[l4] → write 2 bytes"),
        "{}",
        text(&on.stderr)
    );
    assert_eq!(text(&on.stdout), "x\n", "the trace never mixes into stdout");
}
