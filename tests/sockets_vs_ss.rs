//! `netlab sockets` must agree with `ss -tuanp` (iproute2) on the same sockets: protocol,
//! addresses, state and owning PID.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// (netid, state, local, peer, pids) with ss's state names translated to RFC 9293's.
type Row = (String, String, String, String, BTreeSet<u32>);

fn ss_rows(ports: &[u16]) -> BTreeSet<Row> {
    let out = run("ss", &["-tuanp"], b"", &[], T);
    let mut rows = BTreeSet::new();
    for line in text(&out.stdout).lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let (local, peer) = (norm(f[4]), norm(f[5]));
        if !ports
            .iter()
            .any(|p| port_of(&local) == *p || port_of(&peer) == *p)
        {
            continue;
        }
        let state = match f[1] {
            "ESTAB" => "ESTABLISHED",
            "SYN-RECV" => "SYN-RECEIVED",
            "UNCONN" => "",
            s => s,
        };
        let pids = f.get(6).map(|p| pids_of(p)).unwrap_or_default();
        rows.insert((f[0].to_string(), state.to_string(), local, peer, pids));
    }
    rows
}

fn netlab_rows(ports: &[u16]) -> BTreeSet<Row> {
    let mut rows = BTreeSet::new();
    for port in ports {
        let out = run_netlab(&["sockets", "--port", &port.to_string()], b"", &[], T);
        assert_eq!(out.status.code(), Some(0));
        for line in text(&out.stdout).lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // An unconnected UDP socket has an empty State column.
            let (state, owner) = if f.len() == 7 {
                (f[5], f[6])
            } else {
                ("", f[5])
            };
            let pids = owner
                .split(',')
                .filter_map(|o| o.split('/').next()?.parse().ok())
                .collect();
            let netid = f[0].trim_end_matches('6').to_string();
            rows.insert((netid, state.to_string(), norm(f[3]), norm(f[4]), pids));
        }
    }
    rows
}

/// `127.0.0.1:80`, `[::1]:80`, `*:*`, `0.0.0.0:*` → one spelling.
fn norm(a: &str) -> String {
    a.replace("0.0.0.0:*", "*:*").replace("[::]:*", "*:*")
}

fn port_of(a: &str) -> u16 {
    a.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// `users:(("netlab",pid=123,fd=3),("x",pid=9,fd=4))` → {123, 9}
fn pids_of(field: &str) -> BTreeSet<u32> {
    field
        .split("pid=")
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect()
}

#[test]
fn netlab_sockets_agrees_with_ss() {
    require("ss");
    let mut tcp = spawn_netlab(&["echo", "server", "--addr", "127.0.0.1:0"], &[]);
    let tcp_addr = tcp.listening();
    let mut udp = spawn_netlab(&["echo", "server", "--udp", "--addr", "127.0.0.1:0"], &[]);
    let udp_addr = udp.listening();

    // One open connection (ESTABLISHED at both ends) and one the client closed first
    // (TIME-WAIT on the client's end once the server closed too).
    let mut open = TcpStream::connect(tcp_addr).unwrap();
    open.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    open.read_exact(&mut b).unwrap();
    let mut closed = TcpStream::connect(tcp_addr).unwrap();
    closed.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    closed.read_to_end(&mut rest).unwrap();
    drop(closed);
    // A connected UDP socket (ESTABLISHED for UDP).
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    u.connect(udp_addr).unwrap();

    let ports = [tcp_addr.port(), udp_addr.port()];
    // The kernel moves sockets between states asynchronously: compare once both views agree
    // on a stable picture, and fail with both tables if they never do.
    let mut last = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..20 {
        let ss = ss_rows(&ports);
        let ours = netlab_rows(&ports);
        if ss == ours && !ours.is_empty() {
            let states: Vec<&str> = ours.iter().map(|r| r.1.as_str()).collect();
            for want in ["LISTEN", "ESTABLISHED", "TIME-WAIT", ""] {
                assert!(
                    states.contains(&want),
                    "state {want:?} missing from {ours:#?}"
                );
            }
            let server_pid = tcp.pid();
            assert!(
                ours.iter()
                    .any(|r| r.1 == "LISTEN" && r.4.contains(&server_pid))
            );
            assert!(
                ours.iter()
                    .any(|r| r.0 == "udp" && r.4.contains(&udp.pid()))
            );
            return;
        }
        last = (ss, ours);
        thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "ss and netlab disagree:\nss:     {:#?}\nnetlab: {:#?}",
        last.0, last.1
    );
}

#[test]
fn ipv6_sockets_are_listed_with_brackets() {
    let Ok(l) = std::net::TcpListener::bind("[::1]:0") else {
        panic!("this machine has no IPv6 loopback (::1); netlab's IPv6 parsing cannot be checked");
    };
    let port = l.local_addr().unwrap().port();
    let out = run_netlab(
        &["sockets", "--listening", "--port", &port.to_string()],
        b"",
        &[],
        T,
    );
    let table = text(&out.stdout);
    let want = format!("[::1]:{port}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("tcp6") && l.contains(&want) && l.contains("LISTEN")),
        "{table}"
    );
    let _ = SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], port));
}
