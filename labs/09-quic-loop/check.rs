//! Lab 09 check: runs netlab's own HTTP/3 client (`src/quic/client.rs`, through
//! `client::fetch_with`) with your `receive` (steps 1–3) and `send` (step 9) as its socket
//! steps, against netlab's HTTP/3 server in this process: first on a clean path, then through
//! a relay that drops datagrams, then on a path that falls silent. Steps 4–8 of each turn are
//! the client's own. Run: `make check LAB=09`.

#[path = "../common.rs"]
mod common;
#[path = "event_loop.rs"]
mod event_loop;
#[path = "solution.rs"]
mod solution;

use common::Check;
use netlab::http::message::{Request, Response};
use netlab::http::uri::Url;
use netlab::l4::udp_relay::{Losses, Relay};
use netlab::quic::client::{self, Closure, FetchError, Options, Outcome, Wire};
use netlab::quic::config::{Identity, Transport};
use netlab::quic::server::{self, Config};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

type Receive = fn(&mut quiche::Connection, &UdpSocket, &mut [u8]) -> io::Result<()>;
type Send = fn(&mut quiche::Connection, &UdpSocket, SocketAddr) -> io::Result<()>;

/// The two functions under test.
#[derive(Clone, Copy)]
struct Steps {
    receive: Receive,
    send: Send,
}

common::wrong_solutions! {
    fn steps(m) -> Steps { Steps { receive: m::receive, send: m::send } }
    student event_loop, solution solution;
    no_timers fails [3, 4, 5]: "never fires quiche's timers, so nothing lost is resent and no idle close comes";
    blocking_read fails [4, 5]: "waits for a datagram with no timeout, so a due timer never fires";
    fixed_read_timeout fails [4]: "waits a fixed 2 s instead of conn.timeout(), so timers fire late";
    nonblocking_spin fails [5]: "reads without waiting, so the loop spins while nothing arrives";
    one_datagram_per_turn fails [2]: "sends one datagram per turn, not all quiche has ready";
}

/// 1 MB that is not all zeros, the same on both sides.
fn blob() -> Vec<u8> {
    (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

/// The server's handler: `/` says hello, `/blob` is the megabyte, POST `/count` says how
/// many bytes came and their sum.
fn handler(req: &Request) -> Response {
    match (req.method.as_str(), req.path()) {
        ("GET", "/") => Response::text(200, "hello over HTTP/3"),
        ("GET", "/blob") => Response::with_body(200, "application/octet-stream", blob()),
        ("POST", "/count") => {
            let sum: u64 = req.body.iter().map(|&b| u64::from(b)).sum();
            Response::text(200, &format!("{} bytes, sum {sum}", req.body.len()))
        }
        _ => Response::text(404, "no such thing"),
    }
}

/// Steps 4 and 5 use a path that falls silent once the handshake completes: the relay drops
/// everything while this is set, so only the client's own idle timer can end the connection.
static DARK: AtomicBool = AtomicBool::new(false);

/// The idle timeout of steps 4 and 5.
const IDLE: Duration = Duration::from_secs(1);

/// How late after the idle timeout the connection may close in step 4: a loop that wakes for
/// `conn.timeout()` closes within milliseconds of it (the rest is room for a loaded machine);
/// one that sleeps a fixed 2 s cannot close before 2 s, however fast the machine.
const IDLE_SLACK: Duration = Duration::from_millis(800);

/// Turns of `receive()` allowed while the path is silent (step 5): the timers that fall due
/// in that second (probes, backed off, and the idle timer) are about ten; a loop that never
/// sleeps turns thousands of times, one whose timer stays due (never fired) hundreds.
const SILENT_TURNS: usize = 100;

/// Your two functions as the client's socket steps, watched: what they sent and left behind,
/// the timers they left overdue, and when the connection closed.
struct Watched {
    steps: Steps,
    /// Go dark (see [`DARK`]) as soon as the handshake completes.
    dark_after_handshake: bool,
    /// Turns after which quiche still had a datagram ready (`send` stopped too early).
    left_behind: usize,
    /// Turns after which a timer was overdue (`receive` did not fire it).
    overdue: usize,
    /// Datagrams `send` itself sent.
    own_sends: usize,
    /// quiche's packet counters, and whether the handshake completed, at the last look.
    sent: usize,
    received: usize,
    established: bool,
    /// When the path fell silent, the turns of `receive()` since, and when it closed after.
    dark_since: Option<Instant>,
    turns_dark: usize,
    closed_after_dark: Option<Duration>,
}

impl Watched {
    fn new(steps: Steps, dark_after_handshake: bool) -> Watched {
        Watched {
            steps,
            dark_after_handshake,
            left_behind: 0,
            overdue: 0,
            own_sends: 0,
            sent: 0,
            received: 0,
            established: false,
            dark_since: None,
            turns_dark: 0,
            closed_after_dark: None,
        }
    }

    /// After each of your calls: where the connection stands.
    fn look(&mut self, conn: &quiche::Connection) {
        self.sent = conn.stats().sent;
        self.received = conn.stats().recv;
        self.established |= conn.is_established();
        if self.dark_after_handshake && self.established && self.dark_since.is_none() {
            DARK.store(true, Ordering::SeqCst);
            self.dark_since = Some(Instant::now());
        }
        if conn.is_closed() && self.closed_after_dark.is_none() {
            self.closed_after_dark = self.dark_since.map(|t| t.elapsed());
        }
    }
}

impl Wire for Watched {
    fn receive(
        &mut self,
        conn: &mut quiche::Connection,
        socket: &UdpSocket,
        buf: &mut [u8],
    ) -> io::Result<()> {
        if self.dark_since.is_some() && !conn.is_closed() {
            self.turns_dark += 1;
        }
        (self.steps.receive)(conn, socket, buf)?;
        // A timer still due after steps 1–3 was not fired.
        self.overdue += usize::from(conn.timeout() == Some(Duration::ZERO));
        self.look(conn);
        Ok(())
    }

    fn send(
        &mut self,
        conn: &mut quiche::Connection,
        socket: &UdpSocket,
        peer: SocketAddr,
    ) -> io::Result<()> {
        let before = conn.stats().sent;
        (self.steps.send)(conn, socket, peer)?;
        self.own_sends += conn.stats().sent - before;
        // Anything quiche still has ready is sent here (so the exchange goes on) and counted
        // against `send`.
        let mut out = [0u8; 1350];
        let mut left = false;
        while let Ok((n, _)) = conn.send(&mut out) {
            left = true;
            let _ = socket.send_to(&out[..n], peer);
        }
        self.left_behind += usize::from(left);
        self.look(conn);
        Ok(())
    }
}

/// One exchange: where, what, and for how long.
struct Plan {
    peer: SocketAddr,
    ca: PathBuf,
    method: &'static str,
    path: &'static str,
    body: Option<Vec<u8>>,
    idle: Duration,
    dark_after_handshake: bool,
    limit: Duration,
}

/// What one exchange gave: the client's result, and what the watch saw.
struct Seen {
    result: Result<Outcome, FetchError>,
    watch: Watched,
}

/// Runs netlab's client with your steps in a thread of its own: a `receive` that never
/// returns must fail the step, not hang the check.
fn run(s: Steps, plan: Plan) -> Result<Seen, String> {
    let url = Url::parse(&format!(
        "https://localhost:{}{}",
        plan.peer.port(),
        plan.path
    ))
    .map_err(|e| e.to_string())?;
    let opts = Options {
        cacert: Some(plan.ca.clone()),
        transport: Transport {
            idle_timeout: plan.idle,
            qlog_dir: None,
        },
        timeout: plan.limit,
        method: plan.method.to_string(),
        body: plan.body,
        ..Options::default()
    };
    let (tx, rx) = mpsc::channel();
    let dark = plan.dark_after_handshake;
    std::thread::spawn(move || {
        let mut watch = Watched::new(s, dark);
        let result = client::fetch_with(&[url], &opts, &mut watch);
        let _ = tx.send(Seen { result, watch });
    });
    let waited = plan.limit + Duration::from_secs(3);
    rx.recv_timeout(waited).map_err(|_| {
        format!(
            "receive() did not return for {} s: step 1 must not wait longer than conn.timeout() says (a read with no timeout waits forever when nothing comes)",
            waited.as_secs()
        )
    })
}

/// What to say when the client failed, from the error and how far the connection got.
fn explain(seen: &Seen, what: &str) -> String {
    let w = &seen.watch;
    match &seen.result {
        Ok(_) => format!("{what}: the responses came, but not as expected"),
        Err(FetchError::Receive(e)) if e.to_string().contains("0 duration") => format!(
            "receive() failed: {e}: conn.timeout() can be zero (a timer already due), and std refuses a zero read timeout: wait at least 1 ms (Duration::max), or skip the read"
        ),
        Err(FetchError::Receive(e)) => format!("receive() failed: {e}"),
        Err(FetchError::Send(e)) => format!("send() failed: {e}"),
        Err(_) if w.sent == 0 => "quiche had an Initial ready but none left this client: step 9 must call conn.send() until Err(Done) and send each datagram to peer".into(),
        Err(_) if w.received == 0 => "datagrams went out but quiche never got one back: step 1 must read the socket and step 2 hand each datagram to conn.recv()".into(),
        Err(e) if !w.established => format!("the handshake did not complete: {e}"),
        Err(e) => format!(
            "{what} did not complete: {e} ({} packets sent, {} received)",
            w.sent, w.received
        ),
    }
}

/// The one response of an exchange, or why there is none.
fn response(seen: &Seen, what: &str) -> Result<(u16, Vec<u8>), String> {
    match &seen.result {
        Ok(o) => match o.responses.first() {
            Some(r) => Ok((r.status, r.body.clone())),
            None => Err(explain(seen, what)),
        },
        Err(_) => Err(explain(seen, what)),
    }
}

/// The request never arrives on the silent path: the only way out is the idle timer.
fn silent(s: Steps, server: SocketAddr, ca: &Path) -> Result<Seen, String> {
    DARK.store(false, Ordering::SeqCst);
    let dark = Losses {
        up: |_| DARK.load(Ordering::SeqCst),
        down: |_| DARK.load(Ordering::SeqCst),
    };
    let relay = Relay::start(server, dark).map_err(|e| e.to_string())?;
    let plan = Plan {
        peer: relay.addr(),
        ca: ca.to_path_buf(),
        method: "GET",
        path: "/",
        body: None,
        idle: IDLE,
        dark_after_handshake: true,
        limit: Duration::from_secs(6),
    };
    let seen = run(s, plan);
    DARK.store(false, Ordering::SeqCst);
    seen
}

fn main() {
    let (mut check, subject) = Check::start(
        "09 (the QUIC loop: waiting, timers, sending)",
        "labs/09-quic-loop/event_loop.rs",
        WRONG,
        Duration::from_secs(80),
    );
    // The student's functions run inside a client, so there is no handler to serve.
    check.nothing_to_serve(
        "a client's receive and send, run by netlab's HTTP/3 client inside the check",
        &[
            "make check LAB=09   (your receive and send inside src/quic/client.rs, against netlab's server; NETLAB_NO_WATCHDOG=1 lifts the time limit)",
            "netlab's own loop at work: NETLAB_TRACE=quic,h3 netlab h3 serve --addr 127.0.0.1:4433",
            "  then: netlab --trace h3 get --insecure https://localhost:4433/",
        ],
    );
    let s = steps(&subject);
    let pki = netlab::tls::certs::generate().unwrap_or_else(|e| {
        println!("error: cannot make a certificate: {e}");
        std::process::exit(1)
    });
    let ca = std::env::temp_dir().join(format!("netlab-lab09-{}.pem", std::process::id()));
    if let Err(e) = std::fs::write(&ca, &pki.ca_pem) {
        println!("error: {}: {e}", ca.display());
        std::process::exit(1)
    }
    let socket = UdpSocket::bind(check.listen_addr("127.0.0.1:4433")).unwrap_or_else(|e| {
        println!("cannot bind: {e}");
        std::process::exit(1)
    });
    let server = server::spawn(
        socket,
        Identity::from_pki(&pki),
        Arc::new(handler),
        Config::default(),
    )
    .unwrap_or_else(|e| {
        println!("cannot start the HTTP/3 server: {e}");
        std::process::exit(1)
    });
    let clean = Relay::start(server.addr(), Losses::none()).unwrap_or_else(|e| {
        println!("cannot start the relay: {e}");
        std::process::exit(1)
    });
    let idle = Duration::from_secs(5);
    let plan = |peer: SocketAddr, method, path, body, limit| Plan {
        peer,
        ca: ca.clone(),
        method,
        path,
        body,
        idle,
        dark_after_handshake: false,
        limit: Duration::from_secs(limit),
    };

    check.step(
        "the handshake completes and GET / is answered, on a clean path (steps 1, 2 and 9)",
        || {
            let seen = run(s, plan(clean.addr(), "GET", "/", None, 5))?;
            if seen.watch.own_sends == 0 {
                return Err("send() sent no datagram at all (the check sent quiche's for it): step 9 takes each one from conn.send() and sends it to peer".into());
            }
            let want = b"hello over HTTP/3\n";
            match response(&seen, "GET /")? {
                (200, b) if b == want => Ok(()),
                (st, b) => Err(format!(
                    "expected 200 {:?}, came {st} {:?}",
                    String::from_utf8_lossy(want),
                    String::from_utf8_lossy(&b)
                )),
            }
        },
    );
    check.step(
        "a 1 MB upload arrives whole (step 9 sends everything quiche has ready, not one datagram a turn)",
        || {
            let data = blob();
            let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
            let seen = run(s, plan(clean.addr(), "POST", "/count", Some(data), 8))?;
            let want = format!("1000000 bytes, sum {sum}\n");
            if seen.watch.left_behind > 0 {
                return Err(format!(
                    "after {} of its calls, send() returned while quiche still had datagrams ready: step 9 loops on conn.send() until Err(quiche::Error::Done)",
                    seen.watch.left_behind
                ));
            }
            match response(&seen, "the upload")? {
                (200, b) if b == want.as_bytes() => Ok(()),
                (st, b) => Err(format!(
                    "expected the server to count 200 {want:?}, it counted {st} {:?}",
                    String::from_utf8_lossy(&b)
                )),
            }
        },
    );
    check.step(
        "a 1 MB download arrives intact over a path that drops datagrams (step 3 fires the timers that resend what was lost)",
        || {
            // The client's 2nd and 3rd datagrams (its handshake's end and its request) and
            // then every 9th; every 11th of the server's.
            let losses = Losses {
                up: |n| n == 2 || n == 3 || n % 9 == 0,
                down: |n| n % 11 == 0,
            };
            let lossy = Relay::start(server.addr(), losses).map_err(|e| e.to_string())?;
            let seen = run(s, plan(lossy.addr(), "GET", "/blob", None, 15))?;
            let cause = format!(
                "{} datagrams dropped by the path; a timer was overdue after {} turns of receive(): lost packets are resent only when conn.on_timeout() runs (step 3, every turn)",
                lossy.dropped(),
                seen.watch.overdue
            );
            match response(&seen, "the download") {
                Ok((200, b)) if b == blob() => Ok(()),
                Ok((st, b)) => Err(format!(
                    "expected 200 and the 1000000 bytes, came {st} and {} bytes ({cause})",
                    b.len()
                )),
                // receive() or send() failed: their own message says why.
                Err(why) if matches!(seen.result, Err(FetchError::Receive(_) | FetchError::Send(_))) => Err(why),
                Err(why) => Err(format!("{why} ({cause})")),
            }
        },
    );
    check.step(
        "when the path falls silent, the connection closes on its idle timeout of 1 s, within 1.8 s (step 1 waits at most conn.timeout(), step 3 fires it)",
        || {
            let seen = silent(s, server.addr(), &ca)?;
            let bound = IDLE + IDLE_SLACK;
            let closed = matches!(seen.result, Err(FetchError::Closed(Closure::IdleTimeout)));
            match seen.watch.closed_after_dark {
                Some(t) if closed && t <= bound => Ok(()),
                Some(t) if closed => Err(format!(
                    "expected the idle close within {} ms of the path falling silent (idle timeout {} ms), it came after {} ms: the read waited past conn.timeout() (a fixed read timeout?), so step 3 fired the idle timer late",
                    bound.as_millis(),
                    IDLE.as_millis(),
                    t.as_millis()
                )),
                Some(t) => Err(format!(
                    "expected an idle close, the connection closed after {} ms another way: {}",
                    t.as_millis(),
                    explain(&seen, "the exchange")
                )),
                None if !seen.watch.established => Err(explain(&seen, "the handshake")),
                None => Err(format!(
                    "expected the idle close within {} ms of the path falling silent, still open after 6 s: the idle timer never fired (step 3 calls conn.on_timeout() every turn)",
                    bound.as_millis()
                )),
            }
        },
    );
    check.step(
        "waiting costs nothing: while the path is silent, receive() sleeps until the next timer (at most 100 turns before the idle close)",
        || {
            let seen = silent(s, server.addr(), &ca)?;
            let turns = seen.watch.turns_dark;
            if turns <= SILENT_TURNS {
                return Ok(());
            }
            let over = seen.watch.overdue;
            Err(format!(
                "expected at most {SILENT_TURNS} turns of receive() while nothing came, counted {turns} ({over} of them with a timer left overdue): step 1 must block in recv_from until conn.timeout() (a non-blocking read, or a timer that never fires and so is always due, spins the CPU)"
            ))
        },
    );
    drop(clean);
    server.stop();
    let _ = std::fs::remove_file(&ca);
    check.finish();
}
