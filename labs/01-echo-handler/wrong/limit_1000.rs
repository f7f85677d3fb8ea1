//! Lab 01 — a plausible wrong solution, kept so that the check is proved to catch it:
//! the line limit is a round 1000 bytes instead of the 1024 README.md asks for. Every short
//! line passes; the check's boundary step (exactly 1024 bytes, then `\n`) does not.
//! `make check LAB=01 WRONG=limit_1000` shows the failure.

use netlab::l4::conn::Conn;
use std::io::{self, Read, Write};

/// WRONG: README.md says 1024.
pub const MAX_LINE: usize = 1000;

pub fn handle(conn: &mut Conn) -> io::Result<()> {
    // Bytes received but not yet answered: the start of a line whose `\n` has not come.
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            // The client is gone; a half line in `pending` is dropped on purpose.
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        // One read may hold several lines: answer each complete one in order.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.eq_ignore_ascii_case(b"QUIT") {
                conn.write_all(b"BYE\n")?;
                return Ok(());
            }
            line.make_ascii_uppercase();
            line.push(b'\n');
            conn.write_all(&line)?;
        }
        if pending.len() > MAX_LINE {
            conn.write_all(b"ERR line too long\n")?;
            return Ok(());
        }
    }
}
