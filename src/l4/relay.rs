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

use super::conn::is_timeout;
use crate::trace::Dir;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Relays until both directions have ended (or the relay idled out). `idle: None` waits for
/// ever, as a tap between two programs should.
pub fn relay(
    client: TcpStream,
    server: TcpStream,
    idle: Option<Duration>,
    observer: Option<Arc<dyn Observer>>,
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
    let (act, obs) = (activity.clone(), observer.clone());
    let role = crate::trace::current_role();
    let up = thread::Builder::new()
        .name("relay →".into())
        .spawn(move || {
            let _role = role.map(crate::trace::role);
            pump(
                Side::Client,
                client_rd,
                server_wr,
                idle,
                &act,
                obs.as_deref(),
            )
        });
    let down = pump(
        Side::Server,
        server,
        client,
        idle,
        &activity,
        observer.as_deref(),
    );
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

/// Copies `from` → `to` until end of stream, then passes the FIN on. Returns the bytes copied.
fn pump(
    side: Side,
    mut from: TcpStream,
    mut to: TcpStream,
    idle: Option<Duration>,
    activity: &Activity,
    observer: Option<&dyn Observer>,
) -> u64 {
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
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        total += n as u64;
    }
    if let Some(o) = observer {
        o.closed(side);
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
}
