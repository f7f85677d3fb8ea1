//! Lab 01 check: drives the SHOUT handler over real TCP connections on loopback, with a
//! client that cuts its messages into odd-sized pieces. Run: `make check LAB=01`.

#[path = "../common.rs"]
mod common;
#[path = "handler.rs"]
mod handler;
#[path = "solution.rs"]
mod solution;

common::wrong_solutions! {
    fn handler_of(m) -> Handler { m::handle }
    student handler, solution solution;
    limit_1000 fails [7]: "refuses lines over 1000 bytes, not over 1024";
    limit_off_by_one fails [7]: "refuses a line of exactly 1024 bytes (only more is too long)";
    keeps_cr fails [4]: "ends a line at \\n but keeps the \\r of CRLF";
}

use common::{Check, closed_within, read_for, show};
use netlab::l4::echo::{self, Handler};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(2);

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    TcpStream::connect_timeout(&addr, WAIT)
        .map_err(|e| format!("cannot connect to the server: {e}"))
}

/// Sends `pieces` one write each, with a pause between them so that they arrive as separate
/// segments, then expects exactly `want` back.
fn exchange(addr: SocketAddr, pieces: &[&[u8]], want: &[u8]) -> Result<TcpStream, String> {
    let mut s = connect(addr)?;
    let _ = s.set_nodelay(true);
    for piece in pieces {
        s.write_all(piece)
            .map_err(|e| format!("write failed: {e}"))?;
        thread::sleep(Duration::from_millis(25));
    }
    let got = read_for(&mut s, want.len(), WAIT);
    if got != want {
        let all = pieces.concat();
        // Short input is shown piece by piece; long input as a whole, with its write count.
        let sent = if all.len() <= 80 {
            pieces.iter().map(show).collect::<Vec<_>>().join(" + ")
        } else {
            format!("{} in {} writes", show(&all), pieces.len())
        };
        return Err(format!(
            "sent {sent} → expected {}, got {}",
            show(want),
            show(&got)
        ));
    }
    Ok(s)
}

/// Cuts `text` into pieces of 1, 2, 3, 5, 7 … bytes, cycling.
fn odd_pieces(text: &[u8]) -> Vec<&[u8]> {
    let sizes = [1, 2, 3, 5, 7, 11];
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < text.len() {
        let end = (at + sizes[i % sizes.len()]).min(text.len());
        out.push(&text[at..end]);
        at = end;
        i += 1;
    }
    out
}

fn main() {
    let (mut check, subject) = Check::start(
        "01 (echo handler)",
        "labs/01-echo-handler/handler.rs",
        WRONG,
        Duration::from_secs(40),
    );
    let handler = handler_of(&subject);
    let bind: SocketAddr = match check.listen_addr("127.0.0.1:7007").parse() {
        Ok(a) => a,
        Err(_) => {
            println!("error: --serve takes HOST:PORT such as 127.0.0.1:7007");
            std::process::exit(2);
        }
    };
    let server = match echo::spawn_tcp(bind, handler) {
        Ok(s) => s,
        Err(e) => {
            println!("cannot start the server: {e}");
            std::process::exit(1);
        }
    };
    let addr = server.addr();
    check.serve(
        &format!("tcp://{addr}"),
        &[
            &format!("netlab echo client --addr {addr} hello 'two words'"),
            &format!("nc {} {}", addr.ip(), addr.port()),
        ],
    );

    check.step("one line in one write is answered in uppercase", || {
        exchange(addr, &[b"hello\n"], b"HELLO\n").map(drop)
    });
    check.step(
        "a line that arrives in three pieces gets one answer",
        || exchange(addr, &[b"wo", b"rl", b"d\n"], b"WORLD\n").map(drop),
    );
    check.step("two lines in one write get two answers, in order", || {
        exchange(addr, &[b"a\nbc\n"], b"A\nBC\n").map(drop)
    });
    check.step("CRLF line endings: the \\r is dropped", || {
        exchange(addr, &[b"crlf\r\n"], b"CRLF\n").map(drop)
    });
    check.step(
        "several lines cut into pieces of 1, 2, 3, 5, 7, 11 bytes",
        || {
            let text = b"the quick brown fox\njumps over\n\nthe lazy dog\n";
            exchange(
                addr,
                &odd_pieces(text),
                b"THE QUICK BROWN FOX\nJUMPS OVER\n\nTHE LAZY DOG\n",
            )
            .map(drop)
        },
    );
    check.step("QUIT is answered with BYE, then the server closes", || {
        let mut s = exchange(addr, &[b"one\n", b"qu", b"it\n"], b"ONE\nBYE\n")?;
        if closed_within(&mut s, WAIT) {
            Ok(())
        } else {
            Err(
                "after BYE the server kept the connection open (return from handle to close it)"
                    .into(),
            )
        }
    });
    check.step(
        "exactly 1024 bytes, then the newline: answered (the limit is 1024, not less)",
        || {
            let mut line = vec![b'x'; 1024];
            let mut pieces: Vec<&[u8]> = line.chunks(300).collect();
            pieces.push(b"\n");
            let mut want = vec![b'X'; 1024];
            want.push(b'\n');
            exchange(addr, &pieces, &want)?;
            // The same line in one write: one segment, one read or two, the same answer.
            line.push(b'\n');
            exchange(addr, &[&line], &want).map(drop)
        },
    );
    check.step(
        "1025 bytes without a newline: ERR line too long, then close",
        || {
            let long = vec![b'x'; 1025];
            let pieces: Vec<&[u8]> = long.chunks(300).collect();
            let mut s = exchange(addr, &pieces, b"ERR line too long\n")?;
            if closed_within(&mut s, WAIT) {
                Ok(())
            } else {
                Err("after the error the server kept the connection open".into())
            }
        },
    );
    check.step(
        "a client that vanishes mid-line does not disturb the next one",
        || {
            let mut s = connect(addr)?;
            s.write_all(b"half a li").map_err(|e| e.to_string())?;
            drop(s);
            thread::sleep(Duration::from_millis(50));
            exchange(addr, &[b"next\n"], b"NEXT\n").map(drop)
        },
    );
    check.step("20 clients at once each get their own answers", || {
        let workers: Vec<_> = (0..20)
            .map(|i| {
                thread::spawn(move || {
                    let line = format!("client {i}\n");
                    let want = line.to_uppercase();
                    exchange(addr, &[line.as_bytes()], want.as_bytes()).map(drop)
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| "a client thread panicked".to_string())??;
        }
        Ok(())
    });
    server.stop();
    check.finish();
}
