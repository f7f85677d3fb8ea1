//! Wrong: echoes with `write_all`, as a blocking server would. On a nonblocking socket a
//! full send buffer is an error (WouldBlock) in the middle of the bytes, and the connection
//! is given up: a large echo is cut short (step 3).

use crate::conn::Conn;
use nix::poll::PollFlags;
use std::io::{self, Read, Write};

pub fn interest(conn: &Conn) -> PollFlags {
    if conn.out.is_empty() {
        PollFlags::POLLIN
    } else {
        PollFlags::POLLOUT
    }
}

pub fn ready(conn: &mut Conn, buf: &mut [u8]) {
    match conn.stream.read(buf) {
        Ok(0) => conn.closed = true,
        Ok(n) => {
            if conn.stream.write_all(&buf[..n]).is_err() {
                conn.closed = true;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(_) => conn.closed = true,
    }
}
