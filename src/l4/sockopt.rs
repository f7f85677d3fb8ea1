//! Socket options std does not set: the receive buffer of a UDP socket (SO_RCVBUF, socket(7)).
//!
//! A UDP socket whose buffer is full drops what arrives (`RcvbufErrors` in /proc/net/snmp).
//! A sender that bursts a window's worth of datagrams (QUIC, SCTP, a relay passing them on)
//! overruns the kernel's default of about 200 KiB on loopback; every drop then costs a loss
//! recovery. The kernel caps the value at net.core.rmem_max.

use std::net::UdpSocket;

/// What the QUIC loops, the relays and the WebRTC peers ask for.
pub const RECEIVE_BUFFER: usize = 4 << 20;

/// Asks for a receive buffer of `bytes`; returns what the kernel granted (it doubles the
/// request for its own bookkeeping, and caps it), or 0 when it cannot tell.
pub fn receive_buffer(socket: &UdpSocket, bytes: usize) -> usize {
    let _ = nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::RcvBuf, &bytes);
    nix::sys::socket::getsockopt(socket, nix::sys::socket::sockopt::RcvBuf).unwrap_or(0)
}
