//! A client whose address changes mid-connection: the UDP relay rebinds (a NAT that lost its
//! mapping: new port or new address, the old mapping's replies dropped), the TCP path resets
//! the connection it carried, and `netlab compare --rebind` shows TCP's connections reset and
//! started again while QUIC's follows the client to its new address.

mod common;
use common::*;
use netlab::compare::path::{TcpPath, Trigger};
use netlab::l4::udp_relay::{Losses, Relay};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// `what` from the client through the relay: where the server sees it come from.
fn seen_from(client: &UdpSocket, relay: &Relay, server: &UdpSocket, what: &[u8]) -> SocketAddr {
    client.send_to(what, relay.addr()).unwrap();
    let mut buf = [0u8; 32];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], what);
    from
}

#[test]
fn the_udp_relay_rebinds_to_a_new_port_and_a_new_address_and_forgets_the_old_mapping() {
    let (client, server) = (udp(), udp());
    let relay = Relay::start(server.local_addr().unwrap(), Losses::none()).unwrap();
    let before = seen_from(&client, &relay, &server, b"before");
    // rebind-port: the same address, another port.
    relay.rebind(None).unwrap();
    let port = seen_from(&client, &relay, &server, b"new port");
    assert_eq!(port.ip(), before.ip());
    assert_ne!(port.port(), before.port(), "the server must see a new port");
    // rebind-addr: another address of loopback's 127/8.
    let new_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    relay.rebind(Some(new_ip)).unwrap();
    let addr = seen_from(&client, &relay, &server, b"new address");
    assert_eq!(addr.ip(), new_ip);
    // The server answers all three: only the current mapping's answer reaches the client.
    for (to, what) in [
        (before, &b"old 1"[..]),
        (port, b"old 2"),
        (addr, b"current"),
    ] {
        server.send_to(what, to).unwrap();
    }
    let mut buf = [0u8; 32];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"current"[..], relay.addr()));
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(
        client.recv_from(&mut buf).is_err(),
        "an old mapping's answer got through"
    );
    assert_eq!(
        relay.stale(),
        2,
        "each old mapping's answer dropped, counted"
    );
}

#[test]
fn the_tcp_path_resets_the_connection_it_carried_and_lets_a_new_one_through() {
    // A server that sends 100 kB on each connection, then closes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let _ = conn.write_all(&vec![b'x'; 100_000]);
            });
        }
    });
    let trigger = Trigger::after_down(50_000);
    let path = TcpPath::rebinding(target, trigger.clone()).unwrap();
    let mut first = std::net::TcpStream::connect(path.addr()).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let e = first
        .read_to_end(&mut got)
        .expect_err("a reset, not an end of stream");
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    assert!(trigger.fired());
    assert!(got.len() < 100_000, "{} bytes arrived", got.len());
    // A new connection gets a new mapping, and everything.
    let mut second = std::net::TcpStream::connect(path.addr()).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut all = Vec::new();
    second.read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), 100_000);
    assert_eq!(path.counts.connections.load(Ordering::SeqCst), 2);
}

fn row<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["transport"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {v:#}"))
}

#[test]
fn compare_rebind_resets_tcp_and_quic_follows_the_client() {
    require("gtlsserver");
    let out = run_netlab(
        &["compare", "--rebind", "--json", "--size", "1000000"],
        b"",
        &[],
        Duration::from_secs(180),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["rebind_after_bytes_down"], 500_000, "{v:#}");
    assert!(v["reference_row_missing"].is_null(), "{v:#}");
    // Every run ended with the whole file (checked byte for byte, or the command fails).
    for r in v["rows"].as_array().unwrap() {
        assert_eq!(r["with_rebind"]["rebound"], true, "{r}");
        assert_eq!(r["without_rebind"]["connections"], 1, "{r}");
        assert!(
            r["with_rebind"]["bytes_down"].as_u64().unwrap() > 1_000_000,
            "{r}"
        );
    }
    // TCP: reset, nothing more on that connection, a second connection with its handshakes.
    for name in ["HTTPS (HTTP/1.1 + TLS)", "HTTP/2 + TLS"] {
        let r = row(&v, name);
        assert_eq!(r["connection"], "reset", "{r}");
        assert_eq!(r["with_rebind"]["connections"], 2, "{r}");
        assert_eq!(
            r["with_rebind"]["bytes_after_rebind_on_first_connection"],
            0
        );
        assert_eq!(r["handshake_round_trips_again"], 2, "{r}");
        // The whole file again: at least one and a half files came down.
        assert!(
            r["with_rebind"]["bytes_down"].as_u64().unwrap() >= 1_500_000,
            "{r}"
        );
    }
    // QUIC, as ngtcp2's server does it: one connection, no second handshake, and the file.
    let ngtcp2 = row(&v, "HTTP/3, ngtcp2's server");
    assert_eq!(ngtcp2["connection"], "survived", "{ngtcp2}");
    assert_eq!(ngtcp2["with_rebind"]["connections"], 1, "{ngtcp2}");
    assert_eq!(ngtcp2["handshake_round_trips_again"], 0, "{ngtcp2}");
    assert!(
        ngtcp2["with_rebind"]["stale_datagrams_dropped"]
            .as_u64()
            .unwrap()
            > 0
    );
    // netlab's server as well: it follows the client to its new address, and the PING of
    // the old path (step 7a of `quic::Server`) gets what was stranded there sent again, so
    // the file comes down on the one connection.
    let ours = row(&v, "HTTP/3, netlab's server");
    let after = ours["with_rebind"]["bytes_after_rebind_on_first_connection"]
        .as_u64()
        .unwrap();
    // More than path validation: a few windows of data went to the new address.
    assert!(after > 20_000, "the connection did not follow: {ours}");
    assert_eq!(ours["connection"], "survived", "{ours}");
    assert_eq!(ours["with_rebind"]["connections"], 1, "{ours}");
    assert_eq!(ours["handshake_round_trips_again"], 0, "{ours}");
}

#[test]
fn a_file_too_small_to_cut_is_a_usage_error() {
    let out = run_netlab(
        &["compare", "--rebind", "--size", "10"],
        b"",
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: --size 10: with --rebind at least 100000 bytes (the address changes after half the file)"
    );
}

#[test]
fn the_rebind_table_names_what_happened() {
    let out = run_netlab(
        &["compare", "--rebind", "--size", "400000"],
        b"",
        &[],
        Duration::from_secs(180),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for want in [
        "HTTPS (HTTP/1.1 + TLS)   reset",
        "HTTP/2 + TLS             reset",
        "HTTP/3, netlab's server",
        "after 200000 bytes had come down",
        "the first connection failed: ",
    ] {
        assert!(table.contains(want), "no {want:?} in\n{table}");
    }
}
