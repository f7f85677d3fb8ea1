//! Lab 11 — the file you edit: one connection's part of a poll(2) loop, the shape of
//! `src/http1/event_loop.rs` (and of nginx), on the simplest protocol there is: echo.
//!
//! The check runs the loop itself — accept, `poll` over every connection, forget closed
//! ones — and calls your two functions for each connection, turn after turn:
//!
//! ```text
//! interest(conn)      1. what poll should wait for on this connection: POLLIN or POLLOUT
//! ready(conn, buf)    2. poll said it is ready: send what is pending, or read and echo;
//!                        never block, the loop's other connections are waiting
//! ```
//!
//! A connection is a `Conn` (conn.rs): its nonblocking stream (a read or write that cannot
//! go on at once returns `ErrorKind::WouldBlock`), the bytes read and not yet echoed, and a
//! closed flag. See README.md. Check: `make check LAB=11`.

use super::conn::Conn;
use nix::poll::PollFlags;
use std::io::{self, Read, Write};

/// Step 1: what to wait for. TODO: while echo bytes are still pending, wait until the
/// socket can take more — and read nothing more meanwhile.
pub fn interest(conn: &Conn) -> PollFlags {
    let _ = conn;
    PollFlags::POLLIN
}

/// Step 2: the socket is ready. TODO: send pending bytes first (as many as the socket
/// takes, keeping the rest); read only when nothing is pending; handle WouldBlock.
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
