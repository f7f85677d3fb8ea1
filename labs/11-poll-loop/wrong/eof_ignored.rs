//! Wrong: a read of 0 bytes is taken as "nothing this time" instead of the end of the
//! stream. The echo is right while clients talk; but a connection the client closed stays in
//! the loop, and a closed socket is always readable: poll returns at once, every turn, for
//! each connection ever closed, and their sockets are never released (steps 6 and 7).

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
            // WRONG: 0 is the end of the stream (the peer closed), not "nothing yet".
            Ok(0) => return,
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
