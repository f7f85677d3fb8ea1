//! Interop with software we did not write: nc (OpenBSD netcat) and socat, as clients of
//! netlab's echo servers and as servers for netlab's echo client, over TCP and UDP.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn netlab_server(udp: bool) -> (Proc, String) {
    let mut args = vec!["echo", "server", "--addr", "127.0.0.1:0"];
    if udp {
        args.push("--udp");
    }
    let mut p = spawn_netlab(&args, &[]);
    let addr = p.listening();
    (p, addr.port().to_string())
}

#[test]
fn nc_as_tcp_client() {
    require("nc.openbsd");
    let (_server, port) = netlab_server(false);
    // -N: send FIN when stdin ends; nc then waits for our server to close as well.
    let out = run(
        "nc.openbsd",
        &["-N", "127.0.0.1", &port],
        b"hello from nc\nsecond line\n",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "hello from nc\nsecond line\n");
}

#[test]
fn socat_as_tcp_client() {
    require("socat");
    let (_server, port) = netlab_server(false);
    let out = run(
        "socat",
        &["-t", "2", "-", &format!("TCP:127.0.0.1:{port}")],
        b"hello from socat\n",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "hello from socat\n");
}

#[test]
fn nc_as_udp_client() {
    require("nc.openbsd");
    let (_server, port) = netlab_server(true);
    let out = run(
        "nc.openbsd",
        &["-u", "-w", "1", "127.0.0.1", &port],
        b"datagram from nc\n",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "datagram from nc\n");
}

#[test]
fn socat_as_udp_client() {
    require("socat");
    let (_server, port) = netlab_server(true);
    let out = run(
        "socat",
        &["-t", "1", "-", &format!("UDP:127.0.0.1:{port}")],
        b"datagram from socat\n",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "datagram from socat\n");
}

#[test]
fn socat_as_tcp_server() {
    require("socat");
    let port = free_tcp_port();
    let _socat = spawn(
        "socat",
        &[
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
            "PIPE",
        ],
    );
    wait_tcp(SocketAddr::from(([127, 0, 0, 1], port)));
    let addr = format!("127.0.0.1:{port}");
    let out = run_netlab(
        &["echo", "client", "--addr", &addr, "to socat", "and back"],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "to socat\nand back\n");
}

#[test]
fn socat_as_udp_server() {
    require("socat");
    let port = free_udp_port();
    let _socat = spawn(
        "socat",
        &[&format!("UDP-RECVFROM:{port},bind=127.0.0.1,fork"), "PIPE"],
    );
    thread::sleep(Duration::from_millis(300));
    let addr = format!("127.0.0.1:{port}");
    let out = run_netlab(
        &[
            "echo",
            "client",
            "--udp",
            "--addr",
            &addr,
            "to socat over udp",
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "to socat over udp\n");
}

/// nc does not echo: the test plays the server's part through nc's stdin and stdout, so
/// every byte our client receives really crossed nc's socket.
#[test]
fn nc_as_tcp_server() {
    require("nc.openbsd");
    let port = free_tcp_port();
    let mut nc = spawn("nc.openbsd", &["-l", "127.0.0.1", &port.to_string()]);
    wait_for_listener(port);
    let addr = format!("127.0.0.1:{port}");
    let client = thread::spawn(move || {
        run_netlab(&["echo", "client", "--addr", &addr, "via nc"], b"", &[], T)
    });
    let mut got = [0u8; 7];
    nc.stdout.as_mut().unwrap().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"via nc\n");
    let mut stdin = nc.child.stdin.take().unwrap();
    stdin.write_all(&got).unwrap();
    // Our client sends FIN after the echo; nc sees the end of stream and exits, closing.
    drop(stdin);
    let out = client.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "via nc\n");
}

#[test]
fn nc_as_udp_server() {
    require("nc.openbsd");
    let port = free_udp_port();
    let mut nc = spawn("nc.openbsd", &["-u", "-l", "127.0.0.1", &port.to_string()]);
    thread::sleep(Duration::from_millis(300));
    let addr = format!("127.0.0.1:{port}");
    let client = thread::spawn(move || {
        run_netlab(
            &["echo", "client", "--udp", "--addr", &addr, "udp via nc"],
            b"",
            &[],
            T,
        )
    });
    let mut got = [0u8; 10];
    nc.stdout.as_mut().unwrap().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"udp via nc");
    let stdin = nc.child.stdin.as_mut().unwrap();
    stdin.write_all(&got).unwrap();
    stdin.flush().unwrap();
    let out = client.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "udp via nc\n");
}

/// Waits for a LISTEN socket on the port without connecting to it (nc -l serves only the
/// first connection, so a probe connection would use it up).
fn wait_for_listener(port: u16) {
    for _ in 0..250 {
        let out = run_netlab(
            &[
                "sockets",
                "--tcp",
                "--listening",
                "--port",
                &port.to_string(),
            ],
            b"",
            &[],
            T,
        );
        if text(&out.stdout).contains("LISTEN") {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on port {port}");
}
