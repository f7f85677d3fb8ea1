//! Lab 09 check: drives your `receive` (steps 1–3) and `send` (step 7) against netlab's
//! HTTP/3 server in this process, doing steps 4–6 (HTTP/3) itself, first on a clean path and
//! then through a relay that drops datagrams. Run: `make check LAB=09`.

#[path = "../common.rs"]
mod common;
#[path = "event_loop.rs"]
mod event_loop;
#[path = "solution.rs"]
mod solution;
#[path = "wrong/blocking_read.rs"]
mod wrong_blocking_read;
#[path = "wrong/no_timers.rs"]
mod wrong_no_timers;
#[path = "wrong/one_datagram_per_turn.rs"]
mod wrong_one_datagram_per_turn;

use common::{Check, Subject};
use netlab::http::message::{Request, Response};
use netlab::l4::udp_relay::{Losses, Relay};
use netlab::quic::config::{self, Identity, Transport};
use netlab::quic::server::{self, Config};
use quiche::h3::NameValue;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
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

fn steps(subject: &Subject) -> Steps {
    match subject {
        Subject::Student => Steps {
            receive: event_loop::receive,
            send: event_loop::send,
        },
        Subject::Solution => Steps {
            receive: solution::receive,
            send: solution::send,
        },
        Subject::Wrong(n) if n == "no_timers" => Steps {
            receive: wrong_no_timers::receive,
            send: wrong_no_timers::send,
        },
        Subject::Wrong(n) if n == "blocking_read" => Steps {
            receive: wrong_blocking_read::receive,
            send: wrong_blocking_read::send,
        },
        Subject::Wrong(_) => Steps {
            receive: wrong_one_datagram_per_turn::receive,
            send: wrong_one_datagram_per_turn::send,
        },
    }
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

/// One request for the exchange.
struct Ask {
    method: &'static str,
    path: &'static str,
    body: Vec<u8>,
}

/// Where the exchange stood when it ended.
struct Seen {
    bodies: Vec<(u16, Vec<u8>)>,
    established: bool,
    sent: usize,
    received: usize,
    closed_after: Option<Duration>,
    /// Turns after which quiche still had a datagram ready (`send` stopped too early).
    left_behind: usize,
    /// Turns after which a timer was overdue (`receive` did not fire it).
    overdue: usize,
    /// Datagrams `send` itself sent.
    own_sends: usize,
}

/// Step 4's path goes dark once the responses are in: nothing reaches the client any more,
/// so only its own idle timer can end the connection.
static DARK: AtomicBool = AtomicBool::new(false);

/// One exchange to run: where, what, and for how long.
struct Plan {
    peer: SocketAddr,
    ca: PathBuf,
    asks: Vec<Ask>,
    /// The client's max_idle_timeout.
    idle: Duration,
    /// After the responses, turn on until the connection closes by itself.
    until_closed: bool,
    limit: Duration,
}

/// A request stream and what came back on it.
struct Stream {
    id: u64,
    status: u16,
    body: Vec<u8>,
    finished: bool,
    to_send: Vec<u8>,
}

/// Runs one connection with the steps under test: every `ask` as a stream, then (with
/// `until_closed`) turns on until the connection closes by itself.
fn exchange(s: Steps, plan: Plan, tx: mpsc::Sender<Result<Seen, String>>) {
    let Plan {
        peer,
        ca,
        asks,
        idle,
        until_closed,
        limit,
    } = plan;
    let result = (|| -> Result<Seen, String> {
        let t = Transport {
            idle_timeout: idle,
            qlog_dir: None,
        };
        let mut cfg = config::client(Some(&ca), false, &t).map_err(|e| e.to_string())?;
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let scid = [0x09u8; 16];
        let scid = quiche::ConnectionId::from_ref(&scid);
        let mut conn = quiche::connect(Some("localhost"), &scid, local, peer, &mut cfg)
            .map_err(|e| e.to_string())?;
        let h3cfg = quiche::h3::Config::new().map_err(|e| e.to_string())?;
        let mut h3: Option<quiche::h3::Connection> = None;
        let mut streams: Vec<Stream> = Vec::new();
        let mut buf = vec![0u8; 65535];
        let start = Instant::now();
        let (mut left_behind, mut overdue, mut own_sends) = (0, 0, 0);
        let seen = |conn: &quiche::Connection,
                    streams: &[Stream],
                    closed,
                    left_behind,
                    overdue,
                    own_sends| Seen {
            bodies: streams.iter().map(|s| (s.status, s.body.clone())).collect(),
            established: conn.is_established(),
            sent: conn.stats().sent,
            received: conn.stats().recv,
            closed_after: closed,
            left_behind,
            overdue,
            own_sends,
        };
        // Step 7, then a look at what it left: anything quiche still has ready is sent here
        // (so the exchange goes on) and counted against `send`.
        let step7 = |conn: &mut quiche::Connection,
                     left_behind: &mut usize,
                     own_sends: &mut usize|
         -> Result<(), String> {
            let before = conn.stats().sent;
            (s.send)(conn, &socket, peer).map_err(|e| format!("send(): {e}"))?;
            *own_sends += conn.stats().sent - before;
            let mut out = [0u8; 1350];
            let mut left = false;
            while let Ok((n, _)) = conn.send(&mut out) {
                left = true;
                let _ = socket.send_to(&out[..n], peer);
            }
            *left_behind += usize::from(left);
            Ok(())
        };
        step7(&mut conn, &mut left_behind, &mut own_sends)?;
        loop {
            if start.elapsed() > limit {
                return Ok(seen(&conn, &streams, None, left_behind, overdue, own_sends));
            }
            // Steps 1–3: yours. A timer still due afterwards was not fired.
            (s.receive)(&mut conn, &socket, &mut buf).map_err(|e| format!("receive(): {e}"))?;
            overdue += usize::from(conn.timeout() == Some(Duration::ZERO));
            if conn.is_closed() {
                return Ok(seen(
                    &conn,
                    &streams,
                    Some(start.elapsed()),
                    left_behind,
                    overdue,
                    own_sends,
                ));
            }
            // Step 4: HTTP/3 once the handshake is done, and the requests.
            if h3.is_none() && conn.is_established() {
                let mut h = quiche::h3::Connection::with_transport(&mut conn, &h3cfg)
                    .map_err(|e| e.to_string())?;
                for a in &asks {
                    let fields = [
                        quiche::h3::Header::new(b":method", a.method.as_bytes()),
                        quiche::h3::Header::new(b":scheme", b"https"),
                        quiche::h3::Header::new(b":authority", b"localhost"),
                        quiche::h3::Header::new(b":path", a.path.as_bytes()),
                    ];
                    let id = h
                        .send_request(&mut conn, &fields, a.body.is_empty())
                        .map_err(|e| e.to_string())?;
                    streams.push(Stream {
                        id,
                        status: 0,
                        body: Vec::new(),
                        finished: false,
                        to_send: a.body.clone(),
                    });
                }
                h3 = Some(h);
            }
            // Steps 5 and 6: response events, request bodies.
            if let Some(h) = h3.as_mut() {
                loop {
                    match h.poll(&mut conn) {
                        Ok((id, quiche::h3::Event::Headers { list, .. })) => {
                            let status = list
                                .iter()
                                .find(|f| f.name() == b":status")
                                .and_then(|f| std::str::from_utf8(f.value()).ok()?.parse().ok())
                                .unwrap_or(0);
                            if let Some(st) = streams.iter_mut().find(|st| st.id == id) {
                                st.status = status;
                            }
                        }
                        Ok((id, quiche::h3::Event::Data)) => {
                            while let Ok(n) = h.recv_body(&mut conn, id, &mut buf) {
                                if let Some(st) = streams.iter_mut().find(|st| st.id == id) {
                                    st.body.extend_from_slice(&buf[..n]);
                                }
                            }
                        }
                        Ok((id, quiche::h3::Event::Finished)) => {
                            if let Some(st) = streams.iter_mut().find(|st| st.id == id) {
                                st.finished = true;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                for st in streams.iter_mut() {
                    while !st.to_send.is_empty() {
                        match h.send_body(&mut conn, st.id, &st.to_send, true) {
                            Ok(n) => {
                                st.to_send.drain(..n);
                            }
                            Err(_) => break,
                        }
                    }
                }
                if !streams.is_empty() && streams.iter().all(|st| st.finished) {
                    if !until_closed {
                        return Ok(seen(&conn, &streams, None, left_behind, overdue, own_sends));
                    }
                    DARK.store(true, Ordering::SeqCst);
                }
            }
            // Step 7: yours.
            step7(&mut conn, &mut left_behind, &mut own_sends)?;
        }
    })();
    let _ = tx.send(result);
}

/// Runs an exchange in a thread of its own: a `receive` that never returns must fail the
/// step, not hang the check.
fn run(
    s: Steps,
    peer: SocketAddr,
    ca: &std::path::Path,
    asks: Vec<Ask>,
    idle: Duration,
    until_closed: bool,
    limit: Duration,
) -> Result<Seen, String> {
    let (tx, rx) = mpsc::channel();
    let plan = Plan {
        peer,
        ca: ca.to_path_buf(),
        asks,
        idle,
        until_closed,
        limit,
    };
    std::thread::spawn(move || exchange(s, plan, tx));
    match rx.recv_timeout(limit + Duration::from_secs(3)) {
        Ok(r) => r,
        Err(_) => Err(format!(
            "receive() did not return for {} s: step 1 must not wait longer than conn.timeout() says (a read with no timeout waits forever when nothing comes)",
            limit.as_secs() + 3
        )),
    }
}

/// What to say when responses are missing, from how far the connection got.
fn explain(seen: &Seen, what: &str) -> String {
    if seen.sent == 0 {
        return "quiche had an Initial ready but none left this client: step 7 must call conn.send() until Err(Done) and send each datagram to peer".into();
    }
    if seen.received == 0 {
        return "datagrams went out but quiche never got one back: step 1 must read the socket and step 2 hand each datagram to conn.recv()".into();
    }
    if !seen.established {
        return "the handshake did not complete in time".into();
    }
    format!(
        "{what} did not complete in time ({} packets sent, {} received)",
        seen.sent, seen.received
    )
}

fn main() {
    let (mut check, subject) = Check::start(
        "09 (the QUIC loop: waiting, timers, sending)",
        "labs/09-quic-loop/event_loop.rs",
        &["blocking_read", "no_timers", "one_datagram_per_turn"],
        Duration::from_secs(80),
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
    check.serve(
        &format!("https://{}", server.addr()),
        &[&format!(
            "netlab h3 get --cacert {} https://localhost:{}/",
            ca.display(),
            server.addr().port()
        )],
    );
    let clean = Relay::start(server.addr(), Losses::none()).unwrap_or_else(|e| {
        println!("cannot start the relay: {e}");
        std::process::exit(1)
    });
    let idle = Duration::from_secs(5);

    check.step(
        "the handshake completes and GET / is answered, on a clean path (steps 1, 2 and 7)",
        || {
            let asks = vec![Ask { method: "GET", path: "/", body: Vec::new() }];
            let seen = run(s, clean.addr(), &ca, asks, idle, false, Duration::from_secs(5))?;
            if seen.own_sends == 0 {
                return Err("send() sent no datagram at all (the check sent quiche's for it): step 7 takes each one from conn.send() and sends it to peer".into());
            }
            match seen.bodies.first() {
                Some((200, b)) if b == b"hello over HTTP/3\n" => Ok(()),
                Some((st, b)) if *st != 0 => Err(format!("GET / answered {st} {:?}", String::from_utf8_lossy(b))),
                _ => Err(explain(&seen, "GET /")),
            }
        },
    );
    check.step(
        "a 1 MB upload arrives whole (step 7 sends everything quiche has ready, not one datagram a turn)",
        || {
            let data = blob();
            let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
            let asks = vec![Ask { method: "POST", path: "/count", body: data }];
            let seen = run(s, clean.addr(), &ca, asks, idle, false, Duration::from_secs(8))?;
            let want = format!("1000000 bytes, sum {sum}\n");
            if seen.left_behind > 0 {
                return Err(format!(
                    "after {} of its calls, send() returned while quiche still had datagrams ready: step 7 loops on conn.send() until Err(quiche::Error::Done)",
                    seen.left_behind
                ));
            }
            match seen.bodies.first() {
                Some((200, b)) if *b == want.as_bytes() => Ok(()),
                Some((st, b)) if *st != 0 => Err(format!("the server counted {st} {:?}, expected {want:?}", String::from_utf8_lossy(b))),
                _ => Err(explain(&seen, "the upload")),
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
            let asks = vec![Ask { method: "GET", path: "/blob", body: Vec::new() }];
            let seen = run(s, lossy.addr(), &ca, asks, idle, false, Duration::from_secs(15))?;
            match seen.bodies.first() {
                Some((200, b)) if *b == blob() => Ok(()),
                Some((200, b)) if seen.bodies.len() == 1 && !b.is_empty() => Err(format!(
                    "{} of 1000000 bytes arrived, then the transfer stalled: lost packets are resent only when conn.on_timeout() runs (step 3, every turn)",
                    b.len()
                )),
                _ => Err(format!(
                    "{} ({} datagrams dropped by the path; a timer was overdue after {} turns of receive()): lost packets are resent only when conn.on_timeout() runs (step 3, every turn)",
                    explain(&seen, "the download"),
                    lossy.dropped(),
                    seen.overdue
                )),
            }
        },
    );
    check.step(
        "when the server falls silent, the connection closes on its idle timeout of 1 s (step 1 waits at most conn.timeout(), step 3 fires it)",
        || {
            let dark = Losses {
                up: |_| DARK.load(Ordering::SeqCst),
                down: |_| DARK.load(Ordering::SeqCst),
            };
            let relay = Relay::start(server.addr(), dark).map_err(|e| e.to_string())?;
            let asks = vec![Ask { method: "GET", path: "/", body: Vec::new() }];
            let seen = run(s, relay.addr(), &ca, asks, Duration::from_secs(1), true, Duration::from_secs(6))?;
            match seen.closed_after {
                Some(t) if t < Duration::from_secs(4) => Ok(()),
                Some(t) => Err(format!("closed only after {} ms", t.as_millis())),
                None => Err("still open after 6 s: the idle timer never fired (step 3 calls conn.on_timeout() every turn)".into()),
            }
        },
    );
    drop(clean);
    server.stop();
    let _ = std::fs::remove_file(&ca);
    check.finish();
}
