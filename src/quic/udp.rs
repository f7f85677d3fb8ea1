//! The UDP side of a QUIC loop (RFC 9000 §14: QUIC packets travel in UDP datagrams): wait
//! for a datagram no longer than the connection's next timer, and send every datagram quiche
//! has ready, each one traced through the hand-written header decoder. Both the server and
//! the client loop use these steps.
//!
//! Datagrams for one address go to the kernel together: [`flush`] writes quiche's packets
//! side by side and sends them as one run (GSO), and reads take runs (GRO), through
//! [`crate::l4::batch`], which the UDP relay uses too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use super::config::MAX_DATAGRAM;
use super::keylog::Keys;
use super::packet;
use crate::l4::batch::gso;
pub use crate::l4::batch::{BATCH, Got, gro, one_datagram_per_call, queued, recv, send, send_run};
use crate::trace::{self, Layer};

/// Datagrams in one GSO send at most (the kernel's UDP_MAX_SEGMENTS is 64 or more).
const GSO_SEGMENTS: usize = 64;

/// Bytes in one GSO send at most: whole datagrams, under the 65,507 bytes one UDP send may
/// carry over IPv4.
const GSO_BYTES: usize = 48 * MAX_DATAGRAM;

/// Datagrams written side by side for one address, sent in one call.
struct Batch<'a> {
    buf: &'a mut [u8],
    filled: usize,
    /// The size of each datagram in the batch (the last may be shorter).
    segment: usize,
    to: SocketAddr,
}

impl<'a> Batch<'a> {
    /// A batch in `space`: all of it with GSO, one datagram's worth without.
    fn new(space: &'a mut [u8], to: SocketAddr) -> Batch<'a> {
        let room = if gso() { space.len() } else { MAX_DATAGRAM };
        Batch {
            buf: &mut space[..room],
            filled: 0,
            segment: 0,
            to,
        }
    }

    /// Where quiche writes the next datagram: room for a whole one after those written.
    fn room(&mut self) -> &mut [u8] {
        &mut self.buf[self.filled..self.filled + MAX_DATAGRAM]
    }

    /// Whether the datagram just written (`n` bytes to `to`) belongs in this batch: the same
    /// address, and no larger than those before it (only the last may be shorter).
    fn fits(&self, n: usize, to: SocketAddr) -> bool {
        self.filled == 0 || (to == self.to && n <= self.segment)
    }

    /// Takes the datagram just written (`n` bytes); `true` when the batch must go now: it
    /// was shorter than those before (it has to be the last), or there is no room for more.
    fn add(&mut self, n: usize, to: SocketAddr) -> bool {
        if self.filled == 0 {
            self.segment = n;
            self.to = to;
        }
        self.filled += n;
        n < self.segment
            || self.filled + MAX_DATAGRAM > self.buf.len()
            || self.filled / self.segment.max(1) >= GSO_SEGMENTS
    }

    /// Starts the (just sent, now empty) batch again with the datagram of `n` bytes written
    /// at `at`, after the end of what was sent: it did not fit with those.
    fn restart_with(&mut self, at: usize, n: usize, to: SocketAddr) -> bool {
        self.buf.copy_within(at..at + n, 0);
        self.filled = 0;
        self.add(n, to)
    }

    /// Sends what the batch holds (one `sendmsg`, the kernel cuts it into datagrams) and
    /// empties it.
    fn send(&mut self, socket: &UdpSocket) {
        send_run(socket, &self.buf[..self.filled], self.segment, self.to);
        self.filled = 0;
    }
}

/// Sends every datagram quiche has ready for this connection, until it says `Done` (a closing
/// connection: one); each to the address quiche names (after a migration, the new path's).
/// Datagrams for the same address go to the kernel together (GSO, above); each is traced
/// as it is written, in the order it goes on the wire.
pub fn flush(
    socket: &UdpSocket,
    conn: &mut quiche::Connection,
    peer: SocketAddr,
    cid_len: usize,
    id: &str,
    keys: &Keys,
) {
    // One buffer per thread, kept between calls: a fresh 64 KB on every call had to be
    // zeroed each time, 2 % of the server's time with a client that acknowledges often
    // (each ACK is a turn of the loop, and every turn calls this).
    thread_local! {
        static SPACE: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; GSO_BYTES]);
    }
    SPACE.with_borrow_mut(|space| flush_into(space, socket, conn, peer, cid_len, id, keys));
}

/// [`flush`], with the batch written in `space`.
fn flush_into(
    space: &mut [u8],
    socket: &UdpSocket,
    conn: &mut quiche::Connection,
    peer: SocketAddr,
    cid_len: usize,
    id: &str,
    keys: &Keys,
) {
    let mut batch = Batch::new(space, peer);
    loop {
        let (n, info) = match conn.send(batch.room()) {
            Ok(v) => v,
            Err(quiche::Error::Done) => break,
            Err(e) => {
                trace::event(Layer::Quic, || format!("{id}: send failed: {e}"));
                let _ = conn.close(false, super::codes::INTERNAL_ERROR, b"send failed");
                break;
            }
        };
        // `info.at` is quiche's pacing hint: a teaching loop sends at once.
        let to = if info.to.port() == 0 { peer } else { info.to };
        let start = batch.filled;
        trace::sent(Layer::Quic, || {
            let datagram = &batch.buf[start..start + n];
            let dcid_len = conn.destination_id().len();
            format!(
                "{id}: datagram {n} bytes to {to}: {}{}",
                packet::describe_datagram(datagram, cid_len),
                keys.note(datagram, dcid_len, !conn.is_server())
            )
        });
        let full = if batch.fits(n, to) {
            batch.add(n, to)
        } else {
            // Another address, or larger than the batch's datagrams: those first.
            batch.send(socket);
            batch.restart_with(start, n, to)
        };
        // A closing connection has one thing to say. quiche 0.30 puts an application close
        // only in 1-RTT packets: before the handshake is confirmed it writes a Handshake
        // packet (an ACK, no close) on every call and never says Done.
        if full || conn.local_error().is_some() {
            batch.send(socket);
        }
        if conn.local_error().is_some() {
            return;
        }
    }
    batch.send(socket);
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
