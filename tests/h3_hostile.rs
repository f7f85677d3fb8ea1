//! A flood of QUIC Initials from one address: it fills that address's share of the
//! handshakes in progress (a quarter of `--max-connections`), the rest of its Initials are
//! dropped and traced, and a client from another address is served meanwhile.

mod common;
use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// A client's first Initial, from quiche itself (a real one, padded to 1200 bytes), sent from
/// `socket`; the handshake is never continued.
fn first_initial(socket: &UdpSocket, to: SocketAddr, n: u8) {
    let mut config = quiche::Config::new(quiche::PROTOCOL_VERSION).unwrap();
    config.set_application_protos(&[b"h3"]).unwrap();
    config.verify_peer(false);
    let scid = [n; 16];
    let mut conn = quiche::connect(
        Some("localhost"),
        &quiche::ConnectionId::from_ref(&scid),
        socket.local_addr().unwrap(),
        to,
        &mut config,
    )
    .unwrap();
    let mut out = [0u8; 1500];
    let (len, _) = conn.send(&mut out).unwrap();
    socket.send_to(&out[..len], to).unwrap();
}

#[test]
fn an_initial_flood_from_one_address_fills_its_share_and_another_is_served() {
    let dir = TempDir::new("h3-flood");
    let d = dir.path("certs");
    let out = run_netlab(&["cert", "--dir", &d], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (cert, key, ca) = (
        format!("{d}/localhost.pem"),
        format!("{d}/localhost-key.pem"),
        format!("{d}/ca.pem"),
    );
    let args = [
        "h3",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--cert",
        &cert,
        "--key",
        &key,
        "--max-connections",
        "8",
    ];
    let mut server = spawn_netlab(&args, &[("NETLAB_TRACE", "quic")]);
    let addr = server.listening();
    // Five handshakes started from 127.0.0.2 (all of 127/8 is loopback): its share of 8
    // places is 2, so the last three Initials are dropped.
    let flood = UdpSocket::bind("127.0.0.2:0").unwrap();
    for n in 1..=5 {
        first_initial(&flood, addr, n);
    }
    let share = "source 127.0.0.2 holds 2 of 8 places in handshakes in progress";
    let trace = server.stderr_until(&[share], T);
    assert!(trace.contains(share), "{trace}");
    // A client from another address (127.0.0.1) completes its handshake and is served.
    let url = format!("https://localhost:{}/status/200", addr.port());
    let out = run_netlab(&["h3", "get", "--cacert", &ca, &url], b"", &[], T);
    assert_eq!(text(&out.stdout), "200 OK\n", "{}", text(&out.stderr));
    let trace = trace + &server.stderr_so_far();
    let dropped = trace.matches("dropped Initial from 127.0.0.2:").count();
    assert_eq!(dropped, 3, "{trace}");
}
