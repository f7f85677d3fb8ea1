//! Lab 11 check: runs a poll(2) loop over every echo connection from one thread — accept,
//! `poll`, forget closed connections — and calls your `interest` and `ready` for each
//! connection, then sends it real traffic on loopback. Run: `make check LAB=11`.

#[path = "../common.rs"]
mod common;
#[path = "conn.rs"]
mod conn;
#[path = "poll_loop.rs"]
mod poll_loop;
#[path = "solution.rs"]
mod solution;
#[path = "wrong/always_pollin.rs"]
mod wrong_always_pollin;
#[path = "wrong/reads_while_sending.rs"]
mod wrong_reads_while_sending;
#[path = "wrong/write_all.rs"]
mod wrong_write_all;

use common::{Check, Subject, read_for, show};
use conn::Conn;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(8);

/// The two functions under test.
#[derive(Clone, Copy)]
struct Steps {
    interest: fn(&Conn) -> PollFlags,
    ready: fn(&mut Conn, &mut [u8]),
}

fn steps(subject: &Subject) -> Steps {
    match subject {
        Subject::Student => Steps {
            interest: poll_loop::interest,
            ready: poll_loop::ready,
        },
        Subject::Solution => Steps {
            interest: solution::interest,
            ready: solution::ready,
        },
        Subject::Wrong(n) if n == "always_pollin" => Steps {
            interest: wrong_always_pollin::interest,
            ready: wrong_always_pollin::ready,
        },
        Subject::Wrong(n) if n == "write_all" => Steps {
            interest: wrong_write_all::interest,
            ready: wrong_write_all::ready,
        },
        Subject::Wrong(_) => Steps {
            interest: wrong_reads_while_sending::interest,
            ready: wrong_reads_while_sending::ready,
        },
    }
}

/// The loop, in its own thread until `stop`: one `poll` over the listener and every
/// connection (with your `interest`), then your `ready` for each one poll named. `peak`
/// keeps the largest `out` any connection held.
fn run(listener: TcpListener, s: Steps, stop: Arc<AtomicBool>, peak: Arc<AtomicUsize>) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::SeqCst) {
        let ready: Vec<PollFlags> = {
            let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
            for c in &conns {
                fds.push(PollFd::new(c.stream.as_fd(), (s.interest)(c)));
            }
            if poll(&mut fds, PollTimeout::from(50u16)).is_err() {
                continue;
            }
            fds.iter()
                .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                .collect()
        };
        for (c, flags) in conns.iter_mut().zip(&ready[1..]) {
            if !flags.is_empty() {
                (s.ready)(c, &mut buf);
                peak.fetch_max(c.out.len(), Ordering::SeqCst);
            }
        }
        conns.retain(|c| !c.closed);
        if !ready[0].is_empty() {
            while let Ok((stream, _)) = listener.accept() {
                small_buffers(&stream);
                if stream.set_nonblocking(true).is_ok() {
                    conns.push(Conn {
                        stream,
                        out: Vec::new(),
                        closed: false,
                    });
                }
            }
        }
    }
}

/// Small kernel buffers on both ends (32 KiB each way), so that a few megabytes cannot hide
/// in them: the loop meets a full socket, as it would with a slow client on a real network.
fn small_buffers(stream: &TcpStream) {
    use nix::sys::socket::{setsockopt, sockopt};
    let _ = setsockopt(stream, sockopt::SndBuf, &(32 * 1024));
    let _ = setsockopt(stream, sockopt::RcvBuf, &(32 * 1024));
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("cannot connect to the loop: {e}"))?;
    small_buffers(&s);
    Ok(s)
}

/// `n` bytes that are not all alike.
fn data(n: usize) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Sends `bytes` from a thread while this one reads them back, the reading held back
/// `read_after` first; `Ok` when every byte came back as sent.
fn big_echo(addr: SocketAddr, bytes: Vec<u8>, read_after: Duration) -> Result<(), String> {
    let mut s = connect(addr)?;
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let sent = bytes.clone();
    let writer = thread::spawn(move || w.write_all(&sent));
    thread::sleep(read_after);
    let got = read_for(&mut s, bytes.len(), WAIT);
    let _ = writer.join();
    if got.len() < bytes.len() {
        return Err(format!(
            "sent {} bytes, {} came back within {} s (the rest never did: is what the socket did not take still pending, and does anything wake the loop to send it?)",
            bytes.len(),
            got.len(),
            WAIT.as_secs()
        ));
    }
    if got != bytes {
        let at = got
            .iter()
            .zip(&bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!("the echo differs from byte {at} on"));
    }
    Ok(())
}

fn main() {
    let (mut check, subject) = Check::start(
        "11 (poll loop)",
        "labs/11-poll-loop/poll_loop.rs",
        &["always_pollin", "write_all", "reads_while_sending"],
        Duration::from_secs(90),
    );
    let bind = check.listen_addr("127.0.0.1:7011");
    let listener = match TcpListener::bind(&bind).and_then(|l| {
        l.set_nonblocking(true)?;
        Ok(l)
    }) {
        Ok(l) => l,
        Err(e) => {
            println!("cannot listen on {bind}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let (stop, peak) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let looping = {
        let (stop, peak, s) = (stop.clone(), peak.clone(), steps(&subject));
        thread::spawn(move || run(listener, s, stop, peak))
    };
    check.serve(
        &format!("tcp://{addr}"),
        &[
            &format!("netlab echo client --addr {addr} hello 'two words'"),
            &format!("nc {} {}", addr.ip(), addr.port()),
        ],
    );

    check.step("one client: its bytes come back", || {
        let mut s = connect(addr)?;
        s.write_all(b"hello\n").map_err(|e| e.to_string())?;
        let got = read_for(&mut s, 6, Duration::from_secs(5));
        if got != b"hello\n" {
            return Err(format!("sent \"hello\\n\", got {}", show(&got)));
        }
        Ok(())
    });
    check.step(
        "50 clients at once, each its own bytes back, from one thread",
        || {
            let mut clients = Vec::new();
            for i in 0..50 {
                let mut s = connect(addr)?;
                s.write_all(format!("client {i}\n").as_bytes())
                    .map_err(|e| e.to_string())?;
                clients.push(s);
            }
            for (i, s) in clients.iter_mut().enumerate() {
                let want = format!("client {i}\n");
                let got = read_for(s, want.len(), Duration::from_secs(5));
                if got != want.as_bytes() {
                    return Err(format!("client {i} got {}", show(&got)));
                }
            }
            Ok(())
        },
    );
    check.step(
        "8 MB sent while it is read: all 8 MB come back, intact",
        || big_echo(addr, data(8_000_000), Duration::ZERO),
    );
    check.step(
        "a client that reads late: the loop holds at most 256 KiB of its echo",
        || {
            peak.store(0, Ordering::SeqCst);
            big_echo(addr, data(4_000_000), Duration::from_millis(1000))?;
            let held = peak.load(Ordering::SeqCst);
            if held > 256 * 1024 {
                return Err(format!(
                    "one connection held {held} bytes of pending echo: with bytes pending, read nothing more (wait for POLLOUT only), or a client that does not read fills the server's memory"
                ));
            }
            Ok(())
        },
    );
    stop.store(true, Ordering::SeqCst);
    let _ = looping.join();
    check.finish();
}
