//! Steps 1–3 and 9 of the client's turn (`src/quic/client.rs`), the ones that touch the
//! socket: the [`Wire`] trait, and netlab's own, [`Traced`] (not public: lab 09 asks for
//! these steps, so netlab does not offer them as one call). Lab 09 (`labs/09-quic-loop`)
//! plugs a student's `receive` and `send` in here instead.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

use crate::quic::keylog::Keys;
use crate::quic::{packet, udp};
use crate::trace::{self, Layer};

/// Steps 1–3 and 9 of a turn: the ones that touch the socket. netlab's own is `Traced`;
/// lab 09 brings the student's.
pub trait Wire {
    /// Steps 1–3: wait for a datagram, at most until `conn.timeout()`; feed it to
    /// `conn.recv()`; fire the timers that expired with `conn.on_timeout()`.
    fn receive(
        &mut self,
        conn: &mut quiche::Connection,
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<()>;

    /// Step 9: send every datagram quiche has ready (`conn.send()` until `Done`) to `peer`.
    fn send(
        &mut self,
        conn: &mut quiche::Connection,
        socket: &UdpSocket,
        peer: SocketAddr,
    ) -> io::Result<()>;

    /// Whether the server answered the first Initial with a Retry, if this wire looks.
    fn retried(&self) -> bool {
        false
    }

    /// The connection moves to a new socket bound to `local` (`--rebind-after`, connection
    /// migration): from now on `receive` is given that socket and must tell quiche that
    /// datagrams arrived at `local`. A wire that keeps the address it was made with says
    /// it cannot, and the fetch fails with that reason rather than feed quiche a wrong
    /// address (which it would drop as a packet of an unknown path).
    fn rebind(&mut self, local: SocketAddr) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("this Wire cannot move to a new local address ({local})"),
        ))
    }
}

/// netlab's own steps 1–3 and 9: every datagram traced through the header decoder, a Retry
/// noticed, the bytes received counted at the socket, no wait past the fetch's deadline.
pub(crate) struct Traced {
    id: String,
    local: SocketAddr,
    peer: SocketAddr,
    deadline: Instant,
    received: u64,
    retried: bool,
    /// The connection's key log: the key phase of 1-RTT packets in the trace.
    keys: Keys,
    /// GRO was asked for on the socket this wire reads (again after a rebind).
    gro_asked: bool,
}

impl Wire for Traced {
    fn receive(
        &mut self,
        conn: &mut quiche::Connection,
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<()> {
        // 1. Wait for a datagram, at most until the connection's next timer (and never past
        //    the deadline); then take the ones already queued behind it without waiting (one
        //    ACK for a batch, not one each).
        let left = self.deadline.saturating_duration_since(Instant::now());
        let timer = conn.timeout().map(|t| t.min(left)).or(Some(left));
        if !self.gro_asked {
            // This wire reads the socket only through `udp`, which cuts runs of datagrams
            // apart: the kernel may hand them over in one read (GRO). A student's wire reads
            // its own way, so the socket asks only once this wire reads it.
            udp::gro(socket);
            self.gro_asked = true;
        }
        let mut next = udp::recv(socket, buf, timer)?;
        let mut batch = 0;
        while let Some(read) = next.take() {
            // 2. Feed it to quiche, datagram by datagram.
            for datagram in read.datagrams(buf) {
                self.feed(conn, datagram, read.from);
            }
            batch += 1;
            if batch < udp::BATCH {
                next = udp::queued(socket, buf)?;
            }
        }
        // 3. Fire the timers that expired: loss detection and the idle timeout.
        conn.on_timeout();
        Ok(())
    }

    fn send(
        &mut self,
        conn: &mut quiche::Connection,
        socket: &UdpSocket,
        peer: SocketAddr,
    ) -> io::Result<()> {
        // The server's connection IDs may have any length; the decoder shows long headers
        // whole, and short headers only with the length we expect our peer's IDs to have.
        let dcid_len = conn.destination_id().len();
        udp::flush(socket, conn, peer, dcid_len, &self.id, &self.keys);
        Ok(())
    }

    fn retried(&self) -> bool {
        self.retried
    }

    fn rebind(&mut self, local: SocketAddr) -> io::Result<()> {
        self.local = local;
        self.gro_asked = false;
        Ok(())
    }
}

impl Traced {
    /// For the connection the trace calls `id`, from `local` to `peer`, waiting for nothing
    /// past `deadline`; `keys` is its key log.
    pub fn new(
        id: &str,
        local: SocketAddr,
        peer: SocketAddr,
        deadline: Instant,
        keys: Keys,
    ) -> Traced {
        Traced {
            keys,
            id: id.to_string(),
            local,
            peer,
            deadline,
            received: 0,
            retried: false,
            gro_asked: false,
        }
    }

    /// Bytes of UDP payload received from the server, counted at the socket.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Step 2 for one datagram: traced, then given to quiche (which checks a Retry's
    /// integrity tag, decrypts, and queues ACKs).
    fn feed(&mut self, conn: &mut quiche::Connection, datagram: &mut [u8], from: SocketAddr) {
        let (id, n) = (&self.id, datagram.len());
        if from != self.peer || n == 0 {
            trace::event(Layer::Quic, || {
                format!("{id}: ignored a datagram from {from}")
            });
            return;
        }
        self.received += n as u64;
        let dcid_len = conn.source_id().len();
        trace::received(Layer::Quic, || {
            format!(
                "{id}: datagram {n} bytes from {from}: {}{}",
                packet::describe_datagram(datagram, dcid_len),
                self.keys.note(datagram, dcid_len, false)
            )
        });
        // A Retry (or Version Negotiation) is no packet quiche counts as received.
        let mut counted = true;
        if let Ok(h) = packet::decode(datagram, dcid_len) {
            let retry = matches!(
                h.form,
                packet::Form::Long {
                    ty: packet::LongType::Retry,
                    ..
                }
            );
            self.retried |= retry;
            counted = !retry && !matches!(h.form, packet::Form::VersionNegotiation { .. });
        }
        let info = quiche::RecvInfo {
            from,
            to: self.local,
        };
        let packets_before = conn.stats().recv;
        match conn.recv(datagram, info) {
            Ok(_) if counted && conn.stats().recv == packets_before => {
                trace::event(Layer::Quic, || udp::unauthenticated(id))
            }
            Ok(_) => {}
            Err(e) => trace::event(Layer::Quic, || {
                format!("{id}: quiche refused the datagram: {e}")
            }),
        }
    }
}
