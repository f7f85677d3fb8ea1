//! Lab 02 — reference solution: close on end of stream, and close first on QUIT.

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
        let text = line.trim_end_matches(['\r', '\n']);
        if text.eq_ignore_ascii_case("QUIT") {
            // We close first (active close): our end goes FIN-WAIT-1 → FIN-WAIT-2 →
            // TIME-WAIT once the client closes too.
            writer.write_all(b"BYE\n")?;
            return Ok(());
        }
        writer.write_all(format!("got {} bytes\n", text.len()).as_bytes())?;
    }
}
