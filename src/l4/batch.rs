//! Datagrams in runs: one system call for many UDP datagrams (udp(7)). A bulk transfer moves
//! tens of thousands of datagrams per second, and one system call per datagram was most of
//! what the QUIC loops cost in a profile; the QUIC loops (`quic::udp`) and the UDP relay
//! ([`super::udp_relay`]) read and send through these steps.
//! - **GSO** (generic segmentation offload, `UDP_SEGMENT`): [`send_run`] hands the kernel
//!   datagrams written side by side in one `sendmsg`, with the size of each in a control
//!   message; the kernel cuts the buffer into datagrams of that size (the last may be
//!   shorter). What goes on the wire is the same datagrams, one sent after another.
//! - **GRO** (generic receive offload, `UDP_GRO`, switched on per socket by [`gro`]): a
//!   socket that asks for it may be given several datagrams of one sender in one read, with
//!   their size in a control message; [`Got::datagrams`] cuts them apart again. A socket
//!   that did not ask for it gets one datagram per read, as always.
//! - A read that must not wait (the datagrams queued behind the first) is one `recvmsg` with
//!   `MSG_DONTWAIT`, not a switch of the socket to non-blocking and back.
//!
//! The only state here is whether this kernel refused GSO once (then every datagram goes
//! alone). With `$SSLKEYLOGFILE` set, sends are not batched either ([`gso`]).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage};

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
/// every call: a relay's threads wait this way, [`super::udp_relay`]).
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
pub fn gso() -> bool {
    static KEY_LOG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let key_log = *KEY_LOG.get_or_init(|| std::env::var_os("SSLKEYLOGFILE").is_some());
    !key_log && !GSO_REFUSED.load(Ordering::Relaxed)
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
            trace::event(Layer::L4, || {
                format!("UDP GSO refused ({e}): sending one datagram per system call from now on")
            });
            for datagram in bytes.chunks(segment) {
                send(socket, datagram, to);
            }
        }
        Err(e) => trace::event(Layer::L4, || format!("sendmsg {to} failed: {e}")),
    }
}

/// Sends one datagram; a failure is traced, not fatal (UDP promises no delivery, and the
/// protocols over it recover from a lost datagram).
pub fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to) {
        trace::event(Layer::L4, || format!("send_to {to} failed: {e}"));
    }
}
