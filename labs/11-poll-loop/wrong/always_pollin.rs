//! Wrong: waits only for POLLIN. Pending bytes are written when the peer sends more, so once
//! the peer has sent everything and waits for the rest of its echo, nothing wakes the loop
//! for this connection again: the echo stalls (step 3).

use crate::conn::Conn;
use nix::poll::PollFlags;
use std::io::{self, Read, Write};

pub fn interest(conn: &Conn) -> PollFlags {
    let _ = conn;
    PollFlags::POLLIN
}

pub fn ready(conn: &mut Conn, buf: &mut [u8]) {
    match conn.stream.read(buf) {
        Ok(0) => {
            conn.closed = true;
            return;
        }
        Ok(n) => conn.out.extend_from_slice(&buf[..n]),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(_) => {
            conn.closed = true;
            return;
        }
    }
    while !conn.out.is_empty() {
        match conn.stream.write(&conn.out) {
            Ok(n) if n > 0 => {
                conn.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            _ => {
                conn.closed = true;
                return;
            }
        }
    }
}
