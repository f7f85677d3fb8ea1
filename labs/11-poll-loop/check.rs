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

common::wrong_solutions! {
    fn steps(m) -> Steps {
        Steps {
            interest: m::interest,
            ready: m::ready,
        }
    }
    student poll_loop, solution solution;
    always_pollin fails [3, 4]: "asks only POLLIN, so pending bytes wait for the peer to send more";
    write_all fails [3, 4]: "echoes with write_all, which gives up at the first WouldBlock";
    reads_while_sending fails [4]: "reads while bytes are pending, so out grows without bound";
    blocking_write fails [5]: "blocks in write when the socket is full, stalling every client";
    pollout_always fails [6, 7]: "asks POLLOUT even with nothing pending: the loop spins when idle";
    pollin_while_pending fails [7]: "asks POLLIN with bytes pending: spins while a client does not read";
    eof_ignored fails [6, 7]: "takes a read of 0 for nothing yet: closed sockets stay, readable for ever";
    partial_write_dropped fails [3, 4]: "empties out after one write, losing what the socket did not take";
}

use common::{Check, read_for, show};
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

/// The loop, in its own thread until `stop`: one `poll` over the listener and every
/// connection (with your `interest`), then your `ready` for each one poll named. `peak`
/// keeps the largest `out` any connection held; `turns` counts the loop's turns.
fn run(
    listener: TcpListener,
    s: Steps,
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicUsize>,
    turns: Arc<AtomicUsize>,
) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::SeqCst) {
        turns.fetch_add(1, Ordering::SeqCst);
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

/// Small kernel buffers on both ends (32 KiB asked each way; Linux doubles what it is asked),
/// so that a few megabytes cannot hide in them: the loop meets a full socket, as it would with a slow client on a real network.
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

/// Sends `bytes` from a thread while this one reads them back: the reading starts after
/// `read_after`, and pauses 300 ms after the first megabyte (so that the loop meets a full
/// socket whatever the machine's speed); `Ok` when every byte came back as sent.
fn big_echo(addr: SocketAddr, bytes: Vec<u8>, read_after: Duration) -> Result<(), String> {
    let mut s = connect(addr)?;
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let sent = bytes.clone();
    let writer = thread::spawn(move || w.write_all(&sent));
    thread::sleep(read_after);
    let mut got = read_for(&mut s, 1_000_000.min(bytes.len()), WAIT);
    thread::sleep(Duration::from_millis(300));
    got.extend(read_for(&mut s, bytes.len() - got.len(), WAIT));
    // A loop that stopped reading would leave the writer blocked forever: end it.
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    if got != bytes[..got.len()] {
        let at = got
            .iter()
            .zip(&bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!(
            "sent {} bytes; {} came back, the same as sent up to byte {at} and different from there\n      likely: bytes a write did not take were dropped (write returns how many it took: keep the rest in out)",
            bytes.len(),
            got.len()
        ));
    }
    if got.len() < bytes.len() {
        return Err(format!(
            "sent {} bytes, {} came back within {} s, the rest never did\n      likely: what the socket did not take is pending and nothing wakes the loop to send it (ask for POLLOUT while out is not empty), or the connection was given up at WouldBlock (write_all), or the bytes a write did not take were dropped",
            bytes.len(),
            got.len(),
            WAIT.as_secs()
        ));
    }
    Ok(())
}

/// Step 7: a client sends 4 MB and reads nothing, so its echo fills the sockets both ways
/// and bytes stay pending; the loop's turns are counted for half a second meanwhile. With POLLOUT
/// only, poll sleeps until the socket has room; asking POLLIN too is answered at once, every
/// turn, by the bytes waiting unread (`make check LAB=11 WRONG=pollin_while_pending`).
fn stalled_costs_nothing(addr: SocketAddr, turns: &AtomicUsize) -> Result<(), String> {
    let stuck = connect(addr)?;
    let mut w = stuck.try_clone().map_err(|e| e.to_string())?;
    let writer = thread::spawn(move || w.write_all(&data(4_000_000)));
    // Time for the sockets to fill: the writer blocks, the loop holds pending bytes.
    thread::sleep(Duration::from_millis(500));
    let before = turns.load(Ordering::SeqCst);
    thread::sleep(Duration::from_millis(500));
    let n = turns.load(Ordering::SeqCst) - before;
    // Whether the echo then arrives whole is step 3's business: end the client here.
    let _ = stuck.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    if n > 100 {
        return Err(format!(
            "expected about 10 turns of the loop in 500 ms while one client's echo waited for room (poll sleeps 50 ms), counted {n}: poll returns at once\n      likely: POLLIN asked for while bytes are pending: the client's next bytes wait unread, so POLLIN is ready every turn and ready() does nothing with it (with bytes pending, ask POLLOUT only); or a closed connection kept (its socket stays readable for ever)"
        ));
    }
    Ok(())
}

fn main() {
    let (mut check, subject) = Check::start(
        "11 (poll loop)",
        "labs/11-poll-loop/poll_loop.rs",
        WRONG,
        Duration::from_secs(80),
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
    let turns = Arc::new(AtomicUsize::new(0));
    let (stop, peak) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let looping = {
        let (stop, peak, turns, s) = (stop.clone(), peak.clone(), turns.clone(), steps(&subject));
        thread::spawn(move || run(listener, s, stop, peak, turns))
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
    check.step(
        "while one client does not read, another is answered at once",
        || {
            // 16 MB toward a client that reads nothing for 2 s: its echo fills the sockets.
            // Its receive buffer is made small (no autotuning), and 16 MB is more than the
            // server's send buffer grows to (tcp_wmem's 4 MB): on loopback 4 MB could fit in
            // the two buffers, and a blocking write would then never block.
            let mut stuck = connect(addr)?;
            let _ = nix::sys::socket::setsockopt(&stuck, nix::sys::socket::sockopt::RcvBuf, &65536);
            let mut w = stuck.try_clone().map_err(|e| e.to_string())?;
            let writer = thread::spawn(move || w.write_all(&data(16_000_000)));
            thread::sleep(Duration::from_millis(300));
            let mut other = connect(addr)?;
            let asked = std::time::Instant::now();
            other.write_all(b"hello\n").map_err(|e| e.to_string())?;
            let got = read_for(&mut other, 6, Duration::from_millis(1500));
            let waited = asked.elapsed();
            thread::sleep(Duration::from_millis(1700));
            let _ = read_for(&mut stuck, 16_000_000, WAIT);
            let _ = stuck.shutdown(std::net::Shutdown::Both);
            let _ = writer.join();
            if got != b"hello\n" || waited > Duration::from_millis(1000) {
                return Err(format!(
                    "the other client got {} after {} ms: the loop waited on the stuck client (a blocking write, or a loop around WouldBlock?)",
                    show(&got),
                    waited.as_millis()
                ));
            }
            Ok(())
        },
    );
    check.step("an idle connection costs nothing: the loop sleeps in poll", || {
        let _idle = connect(addr)?;
        thread::sleep(Duration::from_millis(200));
        let before = turns.load(Ordering::SeqCst);
        thread::sleep(Duration::from_millis(500));
        let n = turns.load(Ordering::SeqCst) - before;
        // poll's timeout is 50 ms: about ten turns in half a second.
        if n > 100 {
            return Err(format!(
                "expected about 10 turns of the loop in 500 ms with one idle connection (poll sleeps 50 ms), counted {n}: poll returns at once\n      likely: POLLOUT asked for with nothing to send (a socket with room is always writable), or a closed connection kept (a read of 0 is the end: set closed, or its socket stays readable for ever)"
            ));
        }
        Ok(())
    });
    check.step(
        "a client that does not read costs nothing either: with its socket full, the loop sleeps",
        || stalled_costs_nothing(addr, &turns),
    );
    stop.store(true, Ordering::SeqCst);
    let _ = looping.join();
    check.finish();
}
