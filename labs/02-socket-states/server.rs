//! Lab 02 — the file you edit: a small line server with a socket-state bug.
//!
//! The protocol: each line is answered with `got N bytes\n` (N without the line ending).
//!
//! Part 1 — the bug. When a client closes its side, `read_line` returns 0 (end of stream),
//! but this handler "waits for the client to come back" and never closes its socket. Run the
//! check and look at the table it prints: the server's end stays in CLOSE-WAIT for as long as
//! the process lives, one more for every client. Fix it: close when read returns 0.
//!
//! Part 2 — who closes first. Add a `QUIT` command: answer `BYE\n` and close the connection
//! first, so that TIME-WAIT lands on the *server's* end instead of the client's.
//!
//! Check your work with `make check LAB=02`. README.md explains every state you will see.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

pub fn handle(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 {
            // BUG (part 1): 0 bytes means the client sent FIN and will send nothing more.
            // Waiting here keeps our socket open: it sits in CLOSE-WAIT.
            thread::sleep(Duration::from_millis(100));
            continue;
        }
        // TODO (part 2): a QUIT line gets "BYE\n", then this side closes first.
        let text = line.trim_end_matches(['\r', '\n']);
        writer.write_all(format!("got {} bytes\n", text.len()).as_bytes())?;
    }
}
