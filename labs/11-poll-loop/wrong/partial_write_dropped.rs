//! Wrong: writes once and empties `out`, as if `write` always took everything. On loopback
//! a short echo is taken whole, so small exchanges pass; but a nonblocking write takes only
//! what fits in the socket's buffer, and the rest is lost: a large echo comes back with
//! holes (steps 3 and 4).

use crate::conn::Conn;
use nix::poll::PollFlags;
use std::io::{self, Read, Write};

/// Step 1: pending bytes first. Asking for POLLIN meanwhile would read more than the peer
/// takes back, and `out` would grow without bound (echo's backpressure is "stop reading").
pub fn interest(conn: &Conn) -> PollFlags {
    if conn.out.is_empty() {
        PollFlags::POLLIN
    } else {
        PollFlags::POLLOUT
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
    // WRONG: `write` returns how many bytes it took, and the rest is thrown away here.
    match conn.stream.write(&conn.out) {
        Ok(_) => conn.out.clear(),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(_) => conn.closed = true,
    }
}
