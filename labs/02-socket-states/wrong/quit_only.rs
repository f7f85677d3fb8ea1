//! Lab 02 — a plausible wrong solution, kept so that the check is proved to catch it:
//! part 2 done (QUIT answers BYE and closes first), part 1 left as it was: on end of stream
//! the handler still waits for the client to come back, so every connection the client
//! closes stays in CLOSE-WAIT. `make check LAB=02 WRONG=quit_only` shows the failure.

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
            // WRONG (part 1 left undone): 0 bytes means the client sent FIN and will send nothing more.
            // Waiting here keeps our socket open: it sits in CLOSE-WAIT.
            thread::sleep(Duration::from_millis(100));
            continue;
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text.eq_ignore_ascii_case("QUIT") {
            writer.write_all(b"BYE\n")?;
            return Ok(());
        }
        writer.write_all(format!("got {} bytes\n", text.len()).as_bytes())?;
    }
}
