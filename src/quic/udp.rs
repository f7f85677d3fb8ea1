//! The UDP side of a QUIC loop (RFC 9000 §14: QUIC packets travel in UDP datagrams): wait
//! for a datagram no longer than the connection's next timer, and send every datagram quiche
//! has ready, each one traced through the hand-written header decoder. Both the server and
//! the client loop use these steps.
//!
//! A bulk transfer moves tens of thousands of datagrams per second, and one system call per
//! datagram was most of what the loops cost in a profile. Linux
//! lets one call carry many (udp(7)):
//! - **GSO** (generic segmentation offload, `UDP_SEGMENT`): [`flush`] puts the packets quiche
//!   writes for one address side by side in one buffer and hands them to the kernel in one
//!   `sendmsg`, with the size of each datagram in a control message; the kernel cuts the
//!   buffer into datagrams of that size (the last may be shorter). What goes on the wire is
//!   the same datagrams as before, one sent after another.
//! - **GRO** (generic receive offload, `UDP_GRO`, switched on per socket by [`gro`]): a
//!   socket that asks for it may be given several datagrams of one sender in one read, with
//!   their size in a control message; [`Got::datagrams`] cuts them apart again. A socket
//!   that did not ask for it gets one datagram per read, as always.
//! - A read that must not wait (the datagrams queued behind the first) is one `recvmsg` with
//!   `MSG_DONTWAIT`, not a switch of the socket to non-blocking and back.
//!
//! The only state here is whether this kernel refused GSO once (then every datagram goes
//! alone, as before). With `$SSLKEYLOGFILE` set, sends are not batched either (`gso()`).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage};

use super::config::MAX_DATAGRAM;
use super::keylog::Keys;
use super::packet;
use crate::trace::{self, Layer};

/// What one read took from the socket: `len` bytes from `from`, one datagram, or with GRO
/// several of `segment` bytes each, side by side (the last may be shorter).
#[derive(Clone, Copy, Debug)]
pub struct Got {
    pub len: usize,
    pub from: SocketAddr,
    pub segment: usize,
}

impl Got {
    /// The datagrams of this read, each a slice of `buf` (none for an empty datagram).
    pub fn datagrams<'b>(&self, buf: &'b mut [u8]) -> std::slice::ChunksMut<'b, u8> {
        buf[..self.len].chunks_mut(self.segment.max(1))
    }
}

/// Waits for one datagram (or with GRO one run of them), or until `timer` expires (`None`:
/// no timer, wait for a packet). `Ok(None)` means the timer expired first.
pub fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    timer: Option<Duration>,
) -> io::Result<Option<Got>> {
    // quiche may ask for a zero timeout ("fire now"), which std refuses: 1 ms is the floor.
    let wait = timer.map(|t| t.max(Duration::from_millis(1)));
    socket.set_read_timeout(wait)?;
    // A timed-out read is EAGAIN (WouldBlock) on Unix.
    nothing_if_empty(read(socket, buf, MsgFlags::empty()))
}

/// As [`recv`], waiting no longer than the socket's own read timeout (set once, not on
/// every call: a relay's threads wait this way, `l4::udp_relay`).
pub fn wait(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Option<Got>> {
    nothing_if_empty(read(socket, buf, MsgFlags::empty()))
}

/// How many reads a loop takes in one turn at most (one waited for, the rest queued).
pub const BATCH: usize = 64;

/// A datagram already queued on the socket, if any: a read that does not wait.
pub fn queued(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Option<Got>> {
    nothing_if_empty(read(socket, buf, MsgFlags::MSG_DONTWAIT))
}

/// `Ok(None)` for "nothing there (yet)".
fn nothing_if_empty(got: io::Result<Got>) -> io::Result<Option<Got>> {
    match got {
        Ok(got) => Ok(Some(got)),
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

/// One `recvmsg`: the bytes, the sender, and with GRO the size of each datagram in them.
fn read(socket: &UdpSocket, buf: &mut [u8], flags: MsgFlags) -> io::Result<Got> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut control = nix::cmsg_space!(i32);
    let msg = loop {
        match nix::sys::socket::recvmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            flags,
        ) {
            // A signal (the CLI's Ctrl-C handler) interrupted the wait: wait again.
            Err(Errno::EINTR) => continue,
            other => break other.map_err(io::Error::from)?,
        }
    };
    let len = msg.bytes;
    let mut segment = len;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::UdpGroSegments(size) = c {
            segment = usize::try_from(size).unwrap_or(len);
        }
    }
    let from = msg
        .address
        .and_then(|a| std_addr(&a))
        .ok_or_else(|| io::Error::other("a datagram without a sender address"))?;
    Ok(Got { len, from, segment })
}

/// nix's socket address as std's.
fn std_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

/// Asks the kernel to hand this socket runs of datagrams in one read (UDP_GRO). Only for a
/// socket read through [`recv`] and [`queued`], which cut them apart: a plain `recv_from`
/// would take a run for one datagram. `false` when the kernel said no (reads stay one
/// datagram each).
pub fn gro(socket: &UdpSocket) -> bool {
    nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::UdpGroSegment, &true).is_ok()
}

/// Datagrams in one GSO send at most (the kernel's UDP_MAX_SEGMENTS is 64 or more).
const GSO_SEGMENTS: usize = 64;

/// Bytes in one GSO send at most: whole datagrams, under the 65,507 bytes one UDP send may
/// carry over IPv4.
const GSO_BYTES: usize = 48 * MAX_DATAGRAM;

/// Set the first time the kernel refuses a GSO send (an old kernel, or a device that cannot
/// segment), or by [`one_datagram_per_call`]: from then on each datagram goes in a call of
/// its own.
static GSO_REFUSED: AtomicBool = AtomicBool::new(false);

/// No more GSO batches in this process. For a path made on loopback that drops packets
/// (nftables in a namespace, `compare::hol`): netfilter and the qdisc see a batch before it
/// is cut into datagrams, so a drop rule would take a whole batch (about 38 datagrams) where
/// a real network loses datagrams one by one.
pub fn one_datagram_per_call() {
    GSO_REFUSED.store(true, Ordering::Relaxed);
}

/// Whether sends are batched. Not while `$SSLKEYLOGFILE` is set: a key log is written to
/// decrypt a capture, and a capture on loopback sees what the kernel was handed, before it
/// cuts a batch into datagrams: one UDP datagram of up to 64 KB that Wireshark reads as a
/// single QUIC datagram (and fails to decrypt past its first packet). Without batching,
/// every datagram shows as it goes on the wire.
fn gso() -> bool {
    static KEY_LOG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let key_log = *KEY_LOG.get_or_init(|| std::env::var_os("SSLKEYLOGFILE").is_some());
    !key_log && !GSO_REFUSED.load(Ordering::Relaxed)
}

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

/// Sends datagrams of `segment` bytes written side by side (the last may be shorter) to
/// `to`: in one call with GSO, else one call each.
pub fn send_run(socket: &UdpSocket, bytes: &[u8], segment: usize, to: SocketAddr) {
    if bytes.len() > segment && gso() {
        gso_send(socket, bytes, segment, to);
    } else {
        for datagram in bytes.chunks(segment.max(1)) {
            send(socket, datagram, to);
        }
    }
}

/// One `sendmsg` of several datagrams of `segment` bytes (the last may be shorter) to `to`.
fn gso_send(socket: &UdpSocket, bytes: &[u8], segment: usize, to: SocketAddr) {
    let size = segment as u16;
    let cmsg = [ControlMessage::UdpGsoSegments(&size)];
    let addr = SockaddrStorage::from(to);
    let iov = [IoSlice::new(bytes)];
    let fd = socket.as_raw_fd();
    let sent = loop {
        match nix::sys::socket::sendmsg(fd, &iov, &cmsg, MsgFlags::empty(), Some(&addr)) {
            Err(Errno::EINTR) => continue,
            other => break other,
        }
    };
    match sent {
        Ok(_) => {}
        // The kernel or the device cannot segment: never again, and these go one by one.
        Err(e @ (Errno::EIO | Errno::EINVAL | Errno::EOPNOTSUPP | Errno::ENOPROTOOPT)) => {
            GSO_REFUSED.store(true, Ordering::Relaxed);
            trace::event(Layer::Quic, || {
                format!("UDP GSO refused ({e}): sending one datagram per system call from now on")
            });
            for datagram in bytes.chunks(segment) {
                send(socket, datagram, to);
            }
        }
        Err(e) => trace::event(Layer::Quic, || format!("sendmsg {to} failed: {e}")),
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
