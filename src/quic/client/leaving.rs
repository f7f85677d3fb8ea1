//! The socket a migrating client left (`--rebind-after`, step 4 of `src/quic/client.rs`).
//!
//! When the client moves, the server has packets in flight to the old address. Closing the
//! old socket at once loses them, and quiche 0.30 never declares a packet lost on a path
//! that no longer gets acknowledgments (its PTO sends again only the oldest one or two of
//! them): the stream keeps a hole until the idle timeout (cloudflare/quiche#2452). So the
//! old socket stays open, read without waiting every turn, until the new path is validated
//! and nothing has arrived on it for a few round trips; then it is closed.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::quic::{packet, udp};
use crate::trace::{self, Layer};

/// Silence on the old socket, in round trips, after which nothing more is on its way.
const QUIET_RTTS: u32 = 3;

/// The floor of that silence (loopback round trips are microseconds; a loaded machine
/// delays a turn by more).
const MIN_QUIET: Duration = Duration::from_millis(50);

pub(super) struct Leaving {
    socket: UdpSocket,
    local: SocketAddr,
    /// When a datagram last arrived on it (or when we left).
    last: Instant,
    drained: usize,
    /// Its closing was traced (by `drain`).
    closed: bool,
}

/// The connection ended while the old socket was still read (a download that finished
/// within a few round trips of the move): its closing is said all the same.
impl Drop for Leaving {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let (local, drained) = (self.local, self.drained);
        trace::event(Layer::L4, || {
            format!(
                "{local} (UDP) closed: the connection ended ({drained} datagrams read here after the move)"
            )
        });
    }
}

impl Leaving {
    pub(super) fn new(socket: UdpSocket, local: SocketAddr) -> Leaving {
        Leaving {
            socket,
            local,
            last: Instant::now(),
            drained: 0,
            closed: false,
        }
    }

    /// Feeds quiche what arrived on the old socket since the last turn; `true` when it is
    /// time to close it (the new path `now` is validated and the old one has gone quiet).
    pub(super) fn drain(
        &mut self,
        conn: &mut quiche::Connection,
        buf: &mut [u8],
        id: &str,
        now: SocketAddr,
    ) -> bool {
        while let Ok(Some(read)) = udp::queued(&self.socket, buf) {
            self.last = Instant::now();
            let (local, dcid_len, from) = (self.local, conn.source_id().len(), read.from);
            // The socket asked for GRO while it was the wire's: one read, maybe several.
            for datagram in read.datagrams(buf) {
                self.drained += 1;
                let n = datagram.len();
                trace::received(Layer::Quic, || {
                    format!(
                        "{id}: datagram {n} bytes from {from} on the old socket {local} (sent before the server saw us move): {}",
                        packet::describe_datagram(datagram, dcid_len)
                    )
                });
                let info = quiche::RecvInfo { from, to: local };
                let _ = conn.recv(datagram, info);
            }
        }
        let peer = conn
            .path_stats()
            .find(|p| p.active)
            .map(|p| (p.peer_addr, p.rtt));
        let Some((peer, rtt)) = peer else {
            return false;
        };
        let validated = conn.is_path_validated(now, peer).unwrap_or(false);
        let quiet = (rtt * QUIET_RTTS).max(MIN_QUIET);
        if !validated || self.last.elapsed() < quiet {
            return false;
        }
        let (local, drained) = (self.local, self.drained);
        self.closed = true;
        trace::event(Layer::L4, || {
            format!(
                "{local} (UDP) closed: the new path is validated and nothing came here for {} ms ({drained} datagrams read here after the move)",
                quiet.as_millis()
            )
        });
        true
    }
}
