//! Lab 01 — the file you edit: the per-connection handler of the TCP server.
//!
//! Today it is the plain echo: whatever `read` returns goes straight back. Turn it into the
//! SHOUT line protocol described in README.md:
//!
//! - a line ends with `\n` (a `\r` before it is dropped); answer it in UPPERCASE plus `\n`;
//! - `QUIT` (any case) is answered with `BYE\n`, then the connection is closed;
//! - more than 1024 bytes without a newline: answer `ERR line too long\n` and close;
//! - a client that leaves with half a line: forget the half line, just return.
//!
//! Remember that TCP is a byte stream: one `read` may hold half a line, or three lines.
//! Check your work with `make check LAB=01`.

use netlab::l4::conn::Conn;
use std::io::{self, Read, Write};

pub fn handle(conn: &mut Conn) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            // End of stream: the client sent FIN. Returning closes our side.
            return Ok(());
        }
        // TODO: keep the bytes until a whole line is there, then answer per the protocol.
        conn.write_all(&buf[..n])?;
    }
}
