//! Lab 02 — a plausible wrong solution, kept so that the check is proved to catch it:
//! part 1 done (it returns on end of stream, so no CLOSE-WAIT stays), part 2 forgotten: a
//! `QUIT` line is answered like any other, and the server never closes first.
//! `make check LAB=02 WRONG=no_quit` shows the failure.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;

pub fn handle(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            // The client sent FIN (we are in CLOSE-WAIT): returning drops both handles,
            // which closes the socket, sends our FIN and moves on to LAST-ACK → CLOSED.
            return Ok(());
        }
        // WRONG: no QUIT, so the server never closes first.
        let text = line.trim_end_matches(['\r', '\n']);
        writer.write_all(format!("got {} bytes\n", text.len()).as_bytes())?;
    }
}
