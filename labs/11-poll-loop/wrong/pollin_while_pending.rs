//! Wrong: with bytes pending it asks for POLLOUT *and* POLLIN ("in case the client sends
//! more"), though `ready` reads nothing while bytes are pending. The echo is right and the
//! loop holds little; but when a client does not read, its socket has no room (no POLLOUT)
//! while its next bytes wait unread (POLLIN, at once, every turn): `ready` does nothing and
//! poll returns again. The loop spins on a core for as long as the client is slow (step 7).

use crate::conn::Conn;
use nix::poll::PollFlags;
use std::io::{self, Read, Write};

/// Step 1: pending bytes first. Asking for POLLIN meanwhile would read more than the peer
/// takes back, and `out` would grow without bound (echo's backpressure is "stop reading").
pub fn interest(conn: &Conn) -> PollFlags {
    if conn.out.is_empty() {
        PollFlags::POLLIN
    } else {
        // WRONG: POLLIN is ready as long as unread bytes wait, and they wait until `out`
        // is sent: poll returns at once, every turn, while the socket is full.
        PollFlags::POLLOUT | PollFlags::POLLIN
    }
}

/// Step 2: send what the socket takes now; read only when nothing is pending.
pub fn ready(conn: &mut Conn, buf: &mut [u8]) {
    if conn.out.is_empty() {
        match conn.stream.read(buf) {
            Ok(0) => {
                conn.closed = true;
                return;
            }
            Ok(n) => conn.out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                conn.closed = true;
                return;
            }
        }
    }
    // Write until done or until the socket is full; keep the rest for POLLOUT.
    while !conn.out.is_empty() {
        match conn.stream.write(&conn.out) {
            Ok(0) => {
                conn.closed = true;
                return;
            }
            Ok(n) => {
                conn.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                conn.closed = true;
                return;
            }
        }
    }
}
