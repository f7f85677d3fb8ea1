//! The relay: two TCP connections joined so that each byte one side sends goes on to the
//! other, unchanged, until both have closed. The proxy's CONNECT tunnel and `netlab tap`
//! are both this relay; the tap also shows an [`Observer`] a copy of what passes.
//!
//! ```text
//!  client ──▶ pump (thread 2) ──▶ server       each direction is its own blocking loop:
//!  client ◀── pump (this thread) ◀── server    read, write on, tell the observer
//! ```
//!
//! A half-close is passed on (FIN after FIN: RFC 9293 §3.6), so a peer that has finished
//! sending can still receive. With an idle limit, a relay in which neither side has sent
//! anything for that long is closed both ways, so a forgotten tunnel does not hold its two
//! threads and its sockets for ever.
//!
//! A relay started with a [`Mapping`] plays a NAT for its connection: [`Mapping::forget`] is
//! the NAT losing that mapping. A TCP connection is its 4-tuple, so it does not survive: the
//! client's next segment (an ACK, during a download) reaches the server from a new port,
//! the server answers it with RST (RFC 9293 §3.10.7.1: no connection for that 4-tuple), and
//! the client's connection is reset. The relay models that end: it forwards nothing more,
//! and resets both of its connections (RST, not FIN), so the client must connect again.

use super::conn::is_timeout;
use crate::trace::Dir;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Which peer sent the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The peer that connected to the relay: its bytes are traced with `→`.
    Client,
    /// The peer the relay connected to: its bytes are traced with `←`.
    Server,
}

impl Side {
    /// The trace arrow for bytes this side sent.
    pub fn dir(self) -> Dir {
        match self {
            Side::Client => Dir::Sent,
            Side::Server => Dir::Received,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// Sees a copy of what the relay passes on, just before it goes on: so what the observer
/// prints about some bytes comes before anything their receiver prints about them, and an
/// answer is never seen before the request that caused it. Called from both directions'
/// threads; an observer must be quick (a decoder is), since the bytes wait for it.
pub trait Observer: Send + Sync {
    /// `from` sent these bytes (already forwarded).
    fn bytes(&self, from: Side, bytes: &[u8]);
    /// `from` closed its sending side.
    fn closed(&self, from: Side);
}

/// What passed through a relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Bytes from the client to the server.
    pub up: u64,
    /// Bytes from the server to the client.
    pub down: u64,
    /// The relay was closed because neither side sent anything for the idle limit.
    pub idled_out: bool,
}

/// The time of the last byte in either direction, shared by the two pumps.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    idled_out: AtomicBool,
}

impl Activity {
    fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A NAT's mapping for one relayed connection: the client's address as the server sees it
/// (the relay's upstream socket). Forgetting it ends the connection for good.
pub struct Mapping {
    forgotten: AtomicBool,
    /// Handles on the relay's two sockets, given up by `forget` so that the relay's own are
    /// the last: closing the last handle of a socket with a zero linger sends RST.
    sockets: Mutex<Option<(TcpStream, TcpStream)>>,
    /// (client, the client as the server saw it, server)
    addrs: (Option<SocketAddr>, Option<SocketAddr>, Option<SocketAddr>),
}

impl Mapping {
    /// The mapping of a relay between `client` and `server`.
    pub fn new(client: &TcpStream, server: &TcpStream) -> std::io::Result<Arc<Mapping>> {
        let addrs = (
            client.peer_addr().ok(),
            server.local_addr().ok(),
            server.peer_addr().ok(),
        );
        Ok(Arc::new(Mapping {
            forgotten: AtomicBool::new(false),
            sockets: Mutex::new(Some((client.try_clone()?, server.try_clone()?))),
            addrs,
        }))
    }

    /// Whether the mapping has been forgotten.
    pub fn is_forgotten(&self) -> bool {
        self.forgotten.load(Ordering::SeqCst)
    }

    /// The NAT forgets the mapping: 1. nothing more is forwarded (each pump checks before it
    /// writes); 2. both sockets get a zero linger, so their close is an RST; 3. both reads
    /// are woken (shutting down the read side sends nothing) and the pumps end without the
    /// half-close they would otherwise pass on. Once a second time: nothing.
    pub fn forget(&self) {
        if self.forgotten.swap(true, Ordering::SeqCst) {
            return;
        }
        let show = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "?".into());
        let (client, outside, server) = self.addrs;
        crate::trace::event(crate::trace::Layer::L4, || {
            format!(
                "path: the NAT forgot {} → {} (the client as {}): the client's next segment reaches the server from a new port and is answered with RST; the connection is reset on both sides",
                show(client),
                show(server),
                show(outside)
            )
        });
        let taken = self.sockets.lock().ok().and_then(|mut s| s.take());
        if let Some((client, server)) = taken {
            for s in [&client, &server] {
                let linger = nix::libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                let _ = nix::sys::socket::setsockopt(s, nix::sys::socket::sockopt::Linger, &linger);
                let _ = s.shutdown(Shutdown::Read);
            }
        }
    }
}

/// Relays until both directions have ended (or the relay idled out). `idle: None` waits for
/// ever, as a tap between two programs should.
pub fn relay(
    client: TcpStream,
    server: TcpStream,
    idle: Option<Duration>,
    observer: Option<Arc<dyn Observer>>,
) -> Totals {
    relay_mapped(client, server, idle, observer, None)
}

/// [`relay`], ended for good when `mapping` is forgotten (see [`Mapping::forget`]).
pub fn relay_mapped(
    client: TcpStream,
    server: TcpStream,
    idle: Option<Duration>,
    observer: Option<Arc<dyn Observer>>,
    mapping: Option<Arc<Mapping>>,
) -> Totals {
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
        idled_out: AtomicBool::new(false),
    });
    let (Ok(client_rd), Ok(server_wr)) = (client.try_clone(), server.try_clone()) else {
        return Totals {
            up: 0,
            down: 0,
            idled_out: false,
        };
    };
    // 1. client → server in a thread of its own; 2. server → client in this one.
    let (act, obs, map) = (activity.clone(), observer.clone(), mapping.clone());
    let role = crate::trace::current_role();
    let up = thread::Builder::new()
        .name("relay →".into())
        .spawn(move || {
            let _role = role.map(crate::trace::role);
            let ends = Ends {
                idle,
                activity: &act,
                observer: obs.as_deref(),
                mapping: map.as_deref(),
            };
            pump(Side::Client, client_rd, server_wr, &ends)
        });
    let ends = Ends {
        idle,
        activity: &activity,
        observer: observer.as_deref(),
        mapping: mapping.as_deref(),
    };
    let down = pump(Side::Server, server, client, &ends);
    // 3. Both directions done: the totals.
    let up = match up {
        Ok(handle) => handle.join().unwrap_or(0),
        Err(_) => 0,
    };
    Totals {
        up,
        down,
        idled_out: activity.idled_out.load(Ordering::Relaxed),
    }
}

/// What both pumps of one relay share.
struct Ends<'a> {
    idle: Option<Duration>,
    activity: &'a Activity,
    observer: Option<&'a dyn Observer>,
    mapping: Option<&'a Mapping>,
}

impl Ends<'_> {
    fn forgotten(&self) -> bool {
        self.mapping.is_some_and(Mapping::is_forgotten)
    }
}

/// Copies `from` → `to` until end of stream, then passes the FIN on (unless the mapping was
/// forgotten: then the connection is reset, not closed). Returns the bytes copied.
fn pump(side: Side, mut from: TcpStream, mut to: TcpStream, ends: &Ends) -> u64 {
    let (idle, activity, observer) = (ends.idle, ends.activity, ends.observer);
    // A read that waits this long checks whether the whole relay has been silent. A zero
    // duration would mean "no timeout" to the OS: at least one millisecond.
    let wait = idle.map(|d| d.max(Duration::from_millis(1)));
    let _ = from.set_read_timeout(wait);
    let _ = to.set_write_timeout(wait);
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => match idle {
                Some(limit) if activity.silent_for() >= limit => {
                    // Neither side spoke for the limit: close both ways, which also ends
                    // the other direction's blocking read.
                    activity.idled_out.store(true, Ordering::Relaxed);
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    break;
                }
                _ => continue,
            },
            Err(_) => break,
        };
        activity.touch();
        // Observe first, forward second: the trace of these bytes comes before whatever the
        // receiver prints about them (a ZMTP frame before the REP that reads its message).
        if let Some(o) = observer {
            o.bytes(side, &buf[..n]);
        }
        // The observer may have had the mapping forgotten: then these bytes are lost too.
        if ends.forgotten() || to.write_all(&buf[..n]).is_err() {
            break;
        }
        total += n as u64;
    }
    if let Some(o) = observer {
        o.closed(side);
    }
    if ends.forgotten() {
        // No FIN: both connections end with the RST of their last close.
        return total;
    }
    // Half-close: the other peer reads end of stream, and may still answer.
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Mutex;

    /// Two connected sockets: (the end a peer holds, the end the relay holds).
    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    #[derive(Default)]
    struct Seen(Mutex<Vec<(Side, Vec<u8>)>>);

    impl Observer for Seen {
        fn bytes(&self, from: Side, bytes: &[u8]) {
            self.0.lock().unwrap().push((from, bytes.to_vec()));
        }
        fn closed(&self, from: Side) {
            self.0.lock().unwrap().push((from, b"<closed>".to_vec()));
        }
    }

    #[test]
    fn bytes_go_both_ways_and_half_closes_pass_on() {
        let (mut client, client_end) = pair();
        let (mut server, server_end) = pair();
        let seen = Arc::new(Seen::default());
        let obs: Arc<dyn Observer> = seen.clone();
        let t = thread::spawn(move || relay(client_end, server_end, None, Some(obs)));
        client.write_all(b"ping").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"ping", "the server reads the bytes, then the FIN");
        server.write_all(b"pong!").unwrap();
        drop(server);
        let mut back = Vec::new();
        client.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"pong!");
        let totals = t.join().unwrap();
        assert_eq!((totals.up, totals.down, totals.idled_out), (4, 5, false));
        let seen = seen.0.lock().unwrap();
        assert!(seen.contains(&(Side::Client, b"ping".to_vec())));
        assert!(seen.contains(&(Side::Server, b"pong!".to_vec())));
        assert!(seen.contains(&(Side::Client, b"<closed>".to_vec())));
    }

    #[test]
    fn a_silent_relay_is_closed_after_the_idle_limit() {
        let (mut client, client_end) = pair();
        let (mut server, server_end) = pair();
        let t = thread::spawn(move || {
            relay(
                client_end,
                server_end,
                Some(Duration::from_millis(200)),
                None,
            )
        });
        // Traffic keeps it open past the limit...
        for _ in 0..4 {
            client.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            server.read_exact(&mut b).unwrap();
            thread::sleep(Duration::from_millis(100));
        }
        // ...then silence closes it, and both peers read end of stream.
        let started = Instant::now();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
        assert_eq!(server.read_to_end(&mut rest).unwrap(), 0);
        let totals = t.join().unwrap();
        assert!(totals.idled_out);
        assert_eq!(totals.up, 4);
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_forgotten_mapping_resets_both_connections() {
        let (mut client, client_end) = pair();
        let (mut server, server_end) = pair();
        let mapping = Mapping::new(&client_end, &server_end).unwrap();
        let m = mapping.clone();
        let t = thread::spawn(move || relay_mapped(client_end, server_end, None, None, Some(m)));
        server.write_all(b"first half").unwrap();
        let mut got = [0u8; 10];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"first half");
        mapping.forget();
        let totals = t.join().unwrap();
        assert_eq!(totals.down, 10);
        // Not an end of stream (a FIN would look like a complete answer): a reset.
        for (who, s) in [("client", &mut client), ("server", &mut server)] {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut rest = Vec::new();
            let e = s.read_to_end(&mut rest).expect_err(who);
            assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{who}: {e}");
        }
        mapping.forget(); // a second time: nothing
        assert!(mapping.is_forgotten());
    }
}
