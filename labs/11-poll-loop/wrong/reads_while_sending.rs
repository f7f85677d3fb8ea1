//! Wrong: waits for POLLIN and POLLOUT at once and reads whenever it can, even with bytes
//! still pending. The echo arrives whole, but a peer that sends faster than it reads makes
//! `out` grow without bound: a server's memory is then the client's to fill (step 4).

use crate::conn::Conn;
use nix::poll::PollFlags;
use std::io::{self, Read, Write};

pub fn interest(conn: &Conn) -> PollFlags {
    if conn.out.is_empty() {
        PollFlags::POLLIN
    } else {
        PollFlags::POLLIN | PollFlags::POLLOUT
    }
}

pub fn ready(conn: &mut Conn, buf: &mut [u8]) {
    match conn.stream.read(buf) {
        Ok(0) if conn.out.is_empty() => {
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
