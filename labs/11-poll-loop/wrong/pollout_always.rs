//! Wrong: asks for POLLIN and POLLOUT all the time. The echo is right, but a socket with
//! room in its send buffer is always writable, so poll returns at once, every turn, even
//! when nothing is pending: the loop spins and burns a core for idle clients (step 6), and
//! for a client that does not read, whose unread bytes keep POLLIN ready (step 7).

use crate::conn::Conn;
use nix::poll::PollFlags;
use std::io::{self, Read, Write};

pub fn interest(conn: &Conn) -> PollFlags {
    let _ = conn;
    PollFlags::POLLIN | PollFlags::POLLOUT
}

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
