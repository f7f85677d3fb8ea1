//! Wrong: when the socket is full, switches it back to blocking and writes everything, as a
//! thread-per-connection server would. Every byte arrives, and the loop holds nothing — but
//! while one client does not read, the whole loop waits in that write, and every other
//! client waits with it (step 5).

use crate::conn::Conn;
use nix::poll::PollFlags;
use std::io::{self, Read, Write};

pub fn interest(conn: &Conn) -> PollFlags {
    let _ = conn;
    PollFlags::POLLIN
}

pub fn ready(conn: &mut Conn, buf: &mut [u8]) {
    match conn.stream.read(buf) {
        Ok(0) => conn.closed = true,
        Ok(n) => {
            let blocked = conn.stream.set_nonblocking(false).is_err()
                || conn.stream.write_all(&buf[..n]).is_err()
                || conn.stream.set_nonblocking(true).is_err();
            if blocked {
                conn.closed = true;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(_) => conn.closed = true,
    }
}
