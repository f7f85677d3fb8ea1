//! The UDP relay, the datagram sibling of [`super::relay`]: between one client and one
//! server, on a loopback port of its own, in user space (no root, no network namespace).
//! An observer sees every datagram, numbered from 1 in each direction, and says whether it
//! goes on (or changes its bytes first); the relay can also hold every datagram back a fixed
//! delay. Three observers:
//! - [`Losses`]: drop chosen datagrams by their number, so a test or a lab sees the same
//!   losses on every run (lab 09; for random loss in the kernel, nftables in a network
//!   namespace: `tests/h3_loop.rs` and `src/compare/hol.rs`);
//! - [`super::impair::Impair`]: seeded random loss and corruption, and blackhole outages
//!   (the QUIC interop cases);
//! - the comparison's meter (`compare::path`): count datagrams and bytes, with a delay
//!   that gives each round trip a known cost.
//!
//! ```text
//! client ──▶ relay ──▶ server      observer.datagram(Client, n, bytes): Forward or Drop
//! client ◀── relay ◀── server      observer.datagram(Server, n, bytes); delivering() just
//!                                  before each server datagram goes to the client
//! ```
//!
//! The relay's server side plays a NAT: the server sees the client as the address of the
//! relay's upstream socket. [`Relay::rebind`] is a NAT that lost its mapping: the client's
//! next datagrams leave from a new socket (a new port, or a new address such as 127.0.0.2),
//! and what the server still sends to the old one is dropped. The client itself notices
//! nothing; the server sees a new address for the same connection (QUIC migration, RFC 9000
//! §9; the interop runner's rebind-port and rebind-addr cases).
//!
//! A bulk transfer passes tens of thousands of datagrams a second, so each direction reads
//! and sends them in runs, as the QUIC loops do ([`super::batch`]: GRO and GSO): one read takes
//! the datagrams of one sender queued together, the observer still sees each one alone (its
//! number, its verdict), and those that go on leave in one send, the kernel cutting them into
//! the same datagrams again. A drop is still one datagram, never a run.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::batch::{self, Got};
use super::relay::Side;
use crate::trace::{self, Layer};

/// What becomes of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Forward,
    Drop,
}

/// Sees every datagram that reaches the relay, before it is forwarded. An observer that
/// only looks implements `datagram`; one that changes bytes (corruption) implements `rewrite`.
pub trait DatagramObserver: Send + Sync {
    /// Datagram number `n` (from 1, counted per direction) came from `from`.
    fn datagram(&self, _from: Side, _n: u64, _bytes: &[u8]) -> Verdict {
        Verdict::Forward
    }
    /// The relay's call: as `datagram`, but the observer may change the bytes in place
    /// before they go on (the length stays: a flipped byte, not a truncated datagram).
    fn rewrite(&self, from: Side, n: u64, bytes: &mut [u8]) -> Verdict {
        self.datagram(from, n, bytes)
    }
    /// A server datagram is handed to the client now (after the delay): what the client
    /// sends next may answer it.
    fn delivering(&self) {}
}

/// Which datagrams to drop: `up` for the client's (numbered from 1), `down` for the server's.
#[derive(Clone, Copy)]
pub struct Losses {
    pub up: fn(u64) -> bool,
    pub down: fn(u64) -> bool,
}

impl Losses {
    /// A clean path.
    pub fn none() -> Losses {
        Losses {
            up: |_| false,
            down: |_| false,
        }
    }
}

impl DatagramObserver for Losses {
    fn datagram(&self, from: Side, n: u64, bytes: &[u8]) -> Verdict {
        let (lose, whose) = match from {
            Side::Client => ((self.up)(n), "client"),
            Side::Server => ((self.down)(n), "server"),
        };
        if !lose {
            return Verdict::Forward;
        }
        trace::event(Layer::L4, || {
            format!(
                "lossy path: dropped {whose} datagram #{n} ({} bytes)",
                bytes.len()
            )
        });
        Verdict::Drop
    }
}

/// What the relay's threads share: the sockets, the client's address, and the mapping a
/// rebinding replaces.
struct Shared {
    addr: SocketAddr,
    server: SocketAddr,
    /// The client's side: where it sends, and where its answers leave from.
    front: UdpSocket,
    /// The client's address, learnt from its datagrams.
    client: Mutex<Option<SocketAddr>>,
    /// The socket the client's datagrams leave from: the address the server sees, as a NAT's
    /// mapping is. A rebinding puts a new socket here.
    back: Mutex<Arc<UdpSocket>>,
    /// Bumped by each rebinding: a receiving thread whose socket is older than this drops
    /// what the server still sends there.
    generation: AtomicU64,
    observer: Arc<dyn DatagramObserver>,
    delay: Duration,
    stop: AtomicBool,
    dropped: AtomicU64,
    /// Server datagrams that reached a mapping after it was replaced.
    stale: AtomicU64,
    /// The server's datagrams are numbered across every mapping (one receiving thread each).
    down_count: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// The relay, running in two threads (one per direction, and one more per rebinding) until
/// dropped.
pub struct Relay {
    shared: Arc<Shared>,
}

/// Rebinds a relay from elsewhere (an observer, a timer thread): it does not keep the relay
/// alive, and once the relay is dropped it fails with `NotConnected`.
#[derive(Clone)]
pub struct Rebinder(Weak<Shared>);

impl Rebinder {
    /// As [`Relay::rebind`].
    pub fn rebind(&self, new_source: Option<IpAddr>) -> io::Result<SocketAddr> {
        match self.0.upgrade() {
            Some(shared) => rebind(&shared, new_source),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the relay is gone",
            )),
        }
    }
}

/// A socket on `ip` (or the loopback of `server`'s family), connected to `server`, with a
/// read timeout short enough that its thread notices the stop flag.
fn upstream_socket(server: SocketAddr, ip: Option<IpAddr>) -> io::Result<UdpSocket> {
    let local = match ip {
        Some(ip) => SocketAddr::new(ip, 0),
        None => super::background::loopback_for(&server),
    };
    let back = UdpSocket::bind(local)?;
    back.connect(server)?;
    back.set_read_timeout(Some(Duration::from_millis(50)))?;
    // A relay that dropped bursts in its own socket buffers would add losses nobody chose.
    super::sockopt::receive_buffer(&back, super::sockopt::RECEIVE_BUFFER);
    // Runs of the server's datagrams in one read (`pump` cuts them apart).
    batch::gro(&back);
    Ok(back)
}

impl Relay {
    /// A relay to `server` that drops the datagrams `losses` names.
    pub fn start(server: SocketAddr, losses: Losses) -> io::Result<Relay> {
        Relay::observed(server, Arc::new(losses), Duration::ZERO)
    }

    /// A relay to `server` whose `observer` sees (and may drop) every datagram, each held
    /// back `delay` before it goes on.
    pub fn observed(
        server: SocketAddr,
        observer: Arc<dyn DatagramObserver>,
        delay: Duration,
    ) -> io::Result<Relay> {
        let front = UdpSocket::bind(super::background::loopback_for(&server))?;
        // Short read timeouts only so that each thread notices the stop flag.
        front.set_read_timeout(Some(Duration::from_millis(50)))?;
        super::sockopt::receive_buffer(&front, super::sockopt::RECEIVE_BUFFER);
        batch::gro(&front);
        let back = upstream_socket(server, None)?;
        let shared = Arc::new(Shared {
            addr: front.local_addr()?,
            server,
            front,
            client: Mutex::new(None),
            back: Mutex::new(Arc::new(back)),
            generation: AtomicU64::new(0),
            observer,
            delay,
            stop: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            down_count: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
        });
        let up = spawn_up(&shared)?;
        let down = spawn_down(&shared, current(&shared), 0)?;
        if let Ok(mut t) = shared.threads.lock() {
            t.extend([up, down]);
        }
        Ok(Relay { shared })
    }

    /// Where the client sends instead of the server.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Where the server sees the client's datagrams come from (changed by [`Relay::rebind`]).
    pub fn upstream(&self) -> io::Result<SocketAddr> {
        current(&self.shared).local_addr()
    }

    /// Datagrams dropped so far, both ways, by the observer's verdict.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Server datagrams dropped because they went to a mapping a rebinding had replaced.
    pub fn stale(&self) -> u64 {
        self.shared.stale.load(Ordering::SeqCst)
    }

    /// A NAT rebinding: from now on the client's datagrams leave from a new socket — a new
    /// port, on `new_source` if given (any address of 127/8 is loopback's: 127.0.0.2 for a
    /// new address), otherwise on the address used so far — and the server's answers to it
    /// go back to the client. What the server still sends to the old address is dropped
    /// (traced): that mapping is gone. Returns the new address.
    pub fn rebind(&self, new_source: Option<IpAddr>) -> io::Result<SocketAddr> {
        rebind(&self.shared, new_source)
    }

    /// A handle that can call [`Relay::rebind`] from an observer or another thread.
    pub fn rebinder(&self) -> Rebinder {
        Rebinder(Arc::downgrade(&self.shared))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let threads = match self.shared.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => Vec::new(),
        };
        for t in threads {
            let _ = t.join();
        }
    }
}

/// The socket of the current mapping.
fn current(shared: &Shared) -> Arc<UdpSocket> {
    match shared.back.lock() {
        Ok(b) => b.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// The steps of a rebinding: 1. a new socket; 2. it becomes the mapping (the old socket's
/// thread sees the new generation and drops from now on); 3. a thread for its answers.
fn rebind(shared: &Arc<Shared>, new_source: Option<IpAddr>) -> io::Result<SocketAddr> {
    if shared.stop.load(Ordering::SeqCst) {
        return Err(io::Error::new(
            io::ErrorKind::NotConnected,
            "the relay is stopping",
        ));
    }
    let old = current(shared).local_addr()?;
    let ip = new_source.or(Some(old.ip()));
    let socket = Arc::new(upstream_socket(shared.server, ip)?);
    let new = socket.local_addr()?;
    let generation = {
        let mut back = shared
            .back
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        *back = socket.clone();
        shared.generation.fetch_add(1, Ordering::SeqCst) + 1
    };
    trace::event(Layer::L4, || {
        format!("path: client now appears as {new} (was {old})")
    });
    let down = spawn_down(shared, socket, generation)?;
    if let Ok(mut t) = shared.threads.lock() {
        t.push(down);
    }
    Ok(new)
}

/// The client → server thread: datagrams from the client, remembering where they come
/// from, sent on from the current mapping's socket.
fn spawn_up(shared: &Arc<Shared>) -> io::Result<JoinHandle<()>> {
    let s = shared.clone();
    let to_server = shared.clone();
    let forward = later(shared.delay, move |run: &[u8], segment: usize| {
        send_run(&current(&to_server), run, segment, to_server.server);
    });
    let counter = AtomicU64::new(0);
    thread::Builder::new()
        .name(format!("udp relay {} up", shared.addr))
        .spawn(move || {
            let receive = |buf: &mut [u8]| {
                let got = batch::wait(&s.front, buf).ok()??;
                if let Ok(mut c) = s.client.lock() {
                    *c = Some(got.from);
                }
                Some(got)
            };
            pump(Side::Client, receive, &s, forward, &counter)
        })
}

/// A server → client thread for the mapping of `generation`: forwards while it is the
/// current one; afterwards drops (and traces) what still arrives on it.
fn spawn_down(
    shared: &Arc<Shared>,
    socket: Arc<UdpSocket>,
    generation: u64,
) -> io::Result<JoinHandle<()>> {
    let s = shared.clone();
    let to_client = shared.clone();
    let forward = later(shared.delay, move |run: &[u8], segment: usize| {
        if let Some(c) = to_client.client.lock().ok().and_then(|c| *c) {
            // Before the send: the client may answer before this thread runs again.
            to_client.observer.delivering();
            send_run(&to_client.front, run, segment, c);
        }
    });
    thread::Builder::new()
        .name(format!("udp relay {} down", shared.addr))
        .spawn(move || {
            let receive = |buf: &mut [u8]| from_server(&s, &socket, generation, buf);
            pump(Side::Server, receive, &s, forward, &s.down_count)
        })
}

/// Datagrams from the server on the mapping of `generation` (one read: one or a run) while
/// that mapping is current; once replaced, None (each dropped and traced: the NAT forgot it).
fn from_server(
    shared: &Shared,
    socket: &UdpSocket,
    generation: u64,
    buf: &mut [u8],
) -> Option<Got> {
    let got = batch::wait(socket, buf).ok()??;
    if shared.generation.load(Ordering::SeqCst) == generation {
        return Some(got);
    }
    for datagram in got.datagrams(buf) {
        let n = datagram.len();
        shared.stale.fetch_add(1, Ordering::SeqCst);
        trace::event(Layer::L4, || {
            let at = socket
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            format!("path: dropped a server datagram ({n} bytes) to {at}: that mapping is gone")
        });
    }
    None
}

/// Sends a run of datagrams side by side (`segment` bytes each, the last may be shorter):
/// one call where the kernel batches ([`batch::send_run`]). An empty run is one empty
/// datagram, passed on as any other.
fn send_run(socket: &UdpSocket, run: &[u8], segment: usize, to: SocketAddr) {
    if run.is_empty() {
        let _ = socket.send_to(run, to);
    } else {
        batch::send_run(socket, run, segment, to);
    }
}

/// One direction until `stop`: receive a datagram (or a run of them), and for each in turn:
/// number it, let the observer look (and maybe change it), and keep it to forward or count
/// it dropped; then forward those kept, in one send. (`receive` gives None on its read
/// timeout, or for datagrams it dealt with itself.)
fn pump(
    side: Side,
    mut receive: impl FnMut(&mut [u8]) -> Option<Got>,
    shared: &Shared,
    mut forward: Forward,
    count: &AtomicU64,
) {
    let mut buf = vec![0u8; 65535];
    let mut handle = |got: Got, buf: &mut [u8]| {
        let segment = got.segment.max(1);
        // Those kept move to the front of `buf`, side by side: still a run of equal
        // datagrams (the last may be shorter), as the kernel's GSO wants it.
        let (mut kept, mut forwarded, mut at) = (0, 0, 0);
        loop {
            let end = (at + segment).min(got.len);
            let number = count.fetch_add(1, Ordering::SeqCst) + 1;
            match shared.observer.rewrite(side, number, &mut buf[at..end]) {
                Verdict::Forward => {
                    buf.copy_within(at..end, kept);
                    kept += end - at;
                    forwarded += 1;
                }
                Verdict::Drop => {
                    shared.dropped.fetch_add(1, Ordering::SeqCst);
                }
            }
            at = end;
            if at >= got.len {
                break;
            }
        }
        if forwarded > 0 {
            forward(&buf[..kept], segment);
        }
    };
    while !shared.stop.load(Ordering::SeqCst) {
        if let Some(got) = receive(&mut buf) {
            handle(got, &mut buf);
        }
    }
    // Dropped, the relay still forwards what had reached it (a client's last datagram, its
    // CONNECTION_CLOSE, sent just before): up to DRAIN more reads, each waiting at most the
    // socket's short timeout.
    for _ in 0..DRAIN {
        let Some(got) = receive(&mut buf) else {
            break;
        };
        handle(got, &mut buf);
    }
}

/// How many reads (datagrams, or runs of them) a stopping direction still forwards from its
/// socket buffer.
const DRAIN: usize = 64;

/// Where one direction's forwarded datagrams go: a run of them side by side, and the size of
/// each (the last may be shorter).
type Forward = Box<dyn FnMut(&[u8], usize) + Send>;

/// `deliver`, called at once when there is no delay; otherwise from a thread of its own,
/// each run (of `segment`-byte datagrams) `delay` after it arrived, in order. Once the
/// returned closure is dropped (with the receiving thread that owns it), the thread
/// delivers what is still queued — at most `delay` more — and ends.
fn later(delay: Duration, mut deliver: impl FnMut(&[u8], usize) + Send + 'static) -> Forward {
    if delay.is_zero() {
        return Box::new(deliver);
    }
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>, usize)>();
    thread::spawn(move || {
        while let Ok((at, run, segment)) = rx.recv() {
            let due = at + delay;
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            deliver(&run, segment);
        }
    });
    Box::new(move |run, segment| {
        let _ = tx.send((Instant::now(), run.to_vec(), segment));
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn socket() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s
    }

    /// The client sends `what` through the relay; the server receives it from the address
    /// it returns.
    fn up(client: &UdpSocket, relay: &Relay, server: &UdpSocket, what: &[u8]) -> SocketAddr {
        client.send_to(what, relay.addr()).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], what);
        from
    }

    #[test]
    fn a_rebinding_moves_the_client_and_forgets_the_old_mapping() {
        let (client, server) = (socket(), socket());
        let relay = Relay::start(server.local_addr().unwrap(), Losses::none()).unwrap();
        let first = up(&client, &relay, &server, b"one");
        assert_eq!(first, relay.upstream().unwrap());
        // 1. A new port on the same address: the server sees the client move.
        let second = relay.rebind(None).unwrap();
        assert_eq!(up(&client, &relay, &server, b"two"), second);
        assert_eq!(second.ip(), first.ip());
        assert_ne!(second.port(), first.port());
        // 2. Answers to the new address reach the client, from the relay's address as before.
        let mut buf = [0u8; 64];
        server.send_to(b"to the new one", second).unwrap();
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"to the new one"[..], relay.addr()));
        // 3. Answers to the old address are dropped: the mapping is gone.
        server.send_to(b"to the old one", first).unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(
            client.recv_from(&mut buf).is_err(),
            "the old mapping still forwards"
        );
        assert_eq!(relay.stale(), 1);
        assert_eq!(relay.dropped(), 0, "the observer dropped nothing");
        // 4. A new address (loopback owns 127/8), through a handle as an observer holds it.
        let third = relay
            .rebinder()
            .rebind(Some(Ipv4Addr::new(127, 0, 0, 2).into()))
            .unwrap();
        assert_eq!(third.ip(), IpAddr::from(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(up(&client, &relay, &server, b"three"), third);
    }

    #[test]
    fn a_handle_outliving_its_relay_fails_cleanly() {
        let server = socket();
        let relay = Relay::start(server.local_addr().unwrap(), Losses::none()).unwrap();
        let handle = relay.rebinder();
        drop(relay);
        let e = handle.rebind(None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotConnected);
    }
}
