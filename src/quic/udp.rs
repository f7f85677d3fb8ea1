//! The UDP side of a QUIC loop (RFC 9000 §14: QUIC packets travel in UDP datagrams): wait
//! for a datagram no longer than the connection's next timer, and send every datagram quiche
//! has ready, each one traced through the hand-written header decoder. Both the server and
//! the client loop use these three steps; nothing here keeps state.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use super::config::MAX_DATAGRAM;
use super::keylog::Keys;
use super::packet;
use crate::trace::{self, Layer};

/// Waits for one datagram, or until `timer` expires (`None`: no timer, wait for a packet).
/// `Ok(None)` means the timer expired first.
pub fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    timer: Option<Duration>,
) -> io::Result<Option<(usize, SocketAddr)>> {
    // quiche may ask for a zero timeout ("fire now"), which std refuses: 1 ms is the floor.
    let wait = timer.map(|t| t.max(Duration::from_millis(1)));
    socket.set_read_timeout(wait)?;
    match socket.recv_from(buf) {
        Ok(got) => Ok(Some(got)),
        // A timed-out read is WouldBlock on Unix, TimedOut on Windows.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// How many datagrams a loop takes in one turn at most (one waited for, the rest queued).
pub const BATCH: usize = 64;

/// A datagram already queued on the socket, if any: a read that does not wait.
pub fn queued(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
    socket.set_nonblocking(true)?;
    let got = socket.recv_from(buf);
    socket.set_nonblocking(false)?;
    match got {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sends every datagram quiche has ready for this connection, until it says `Done` (a closing
/// connection: one); each to the address quiche names (after a migration, the new path's).
pub fn flush(
    socket: &UdpSocket,
    conn: &mut quiche::Connection,
    peer: SocketAddr,
    cid_len: usize,
    id: &str,
    keys: &Keys,
) {
    let mut out = [0u8; MAX_DATAGRAM];
    loop {
        let (n, info) = match conn.send(&mut out) {
            Ok(v) => v,
            Err(quiche::Error::Done) => return,
            Err(e) => {
                trace::event(Layer::Quic, || format!("{id}: send failed: {e}"));
                let _ = conn.close(false, super::codes::INTERNAL_ERROR, b"send failed");
                return;
            }
        };
        // `info.at` is quiche's pacing hint: a teaching loop sends at once.
        let to = if info.to.port() == 0 { peer } else { info.to };
        trace::sent(Layer::Quic, || {
            let dcid_len = conn.destination_id().len();
            format!(
                "{id}: datagram {n} bytes to {to}: {}{}",
                packet::describe_datagram(&out[..n], cid_len),
                keys.note(&out[..n], dcid_len, !conn.is_server())
            )
        });
        send(socket, &out[..n], to);
        // A closing connection has one thing to say. quiche 0.30 puts an application close
        // only in 1-RTT packets: before the handshake is confirmed it writes a Handshake
        // packet (an ACK, no close) on every call and never says Done.
        if conn.local_error().is_some() {
            return;
        }
    }
}

/// Sends one datagram; a failure is traced, not fatal (QUIC recovers from lost datagrams).
pub fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to) {
        trace::event(Layer::Quic, || format!("send_to {to} failed: {e}"));
    }
}

/// The trace's line for a datagram quiche took without error but none of whose packets it
/// accepted: they did not authenticate (RFC 9001 §5.3: an attacker's bytes, or corruption on
/// the path), repeated a packet number already received, or needed keys already discarded
/// (or not yet there: quiche keeps early 0-RTT packets until it has their keys). Such
/// packets are dropped and the connection goes on (RFC 9000 §12.2).
pub fn unauthenticated(id: &str) -> String {
    format!(
        "{id}: dropped by quiche: no packet in the datagram was accepted (corrupted, a duplicate, or no keys for it); the connection goes on"
    )
}

/// Where a socket bound to `0.0.0.0` or `::` can be reached from this host.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// What quiche measured on a connection: packets, losses, RTT, congestion window.
pub fn stats(conn: &quiche::Connection) -> String {
    let s = conn.stats();
    let mut line = format!(
        "{} packets sent, {} received, {} lost, {} retransmitted",
        s.sent, s.recv, s.lost, s.retrans
    );
    if let Some(p) = conn.path_stats().next() {
        line.push_str(&format!(
            "; rtt {:.2} ms (min {:.2}), cwnd {} bytes",
            p.rtt.as_secs_f64() * 1000.0,
            p.min_rtt.unwrap_or_default().as_secs_f64() * 1000.0,
            p.cwnd
        ));
    }
    line
}
