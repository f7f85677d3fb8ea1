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

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

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

/// The relay, running in two threads (one per direction) until dropped.
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
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
        let back = UdpSocket::bind(super::background::loopback_for(&server))?;
        back.connect(server)?;
        // Short read timeouts only so that each thread notices the stop flag.
        front.set_read_timeout(Some(Duration::from_millis(50)))?;
        back.set_read_timeout(Some(Duration::from_millis(50)))?;
        // A relay that dropped bursts in its own socket buffers would add losses nobody chose.
        for s in [&front, &back] {
            super::sockopt::receive_buffer(s, super::sockopt::RECEIVE_BUFFER);
        }
        let addr = front.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        // The client's address, learnt from its datagrams.
        let client = Arc::new(Mutex::new(None::<SocketAddr>));
        let (front2, back2) = (front.try_clone()?, back.try_clone()?);
        let up = {
            let (stop, dropped, client, observer) = (
                stop.clone(),
                dropped.clone(),
                client.clone(),
                observer.clone(),
            );
            let forward = later(delay, move |d: Vec<u8>| {
                let _ = back.send(&d);
            });
            // The client's datagrams, remembering where they come from.
            let receive = move |buf: &mut [u8]| {
                let (n, from) = front.recv_from(buf).ok()?;
                if let Ok(mut c) = client.lock() {
                    *c = Some(from);
                }
                Some(n)
            };
            thread::Builder::new()
                .name(format!("udp relay {addr} up"))
                .spawn(move || pump(Side::Client, receive, &*observer, forward, &stop, &dropped))?
        };
        let down = {
            let (stop, dropped) = (stop.clone(), dropped.clone());
            let to = observer.clone();
            let forward = later(delay, move |d: Vec<u8>| {
                if let Some(c) = client.lock().ok().and_then(|c| *c) {
                    // Before the send: the client may answer before this thread runs again.
                    to.delivering();
                    let _ = front2.send_to(&d, c);
                }
            });
            let receive = move |buf: &mut [u8]| back2.recv(buf).ok();
            thread::Builder::new()
                .name(format!("udp relay {addr} down"))
                .spawn(move || pump(Side::Server, receive, &*observer, forward, &stop, &dropped))?
        };
        Ok(Relay {
            addr,
            stop,
            dropped,
            threads: vec![up, down],
        })
    }

    /// Where the client sends instead of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Datagrams dropped so far, both ways.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One direction until `stop`: receive a datagram, number it, let the observer look (and
/// maybe change it), and forward it or count it dropped. (`receive` gives None on its read timeout.)
fn pump(
    side: Side,
    mut receive: impl FnMut(&mut [u8]) -> Option<usize>,
    observer: &dyn DatagramObserver,
    mut forward: Box<dyn FnMut(Vec<u8>) + Send>,
    stop: &AtomicBool,
    dropped: &AtomicU64,
) {
    let mut buf = vec![0u8; 65535];
    let mut count = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let Some(n) = receive(&mut buf) else {
            continue;
        };
        count += 1;
        match observer.rewrite(side, count, &mut buf[..n]) {
            Verdict::Forward => forward(buf[..n].to_vec()),
            Verdict::Drop => {
                dropped.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// `deliver`, called at once when there is no delay; otherwise from a thread of its own,
/// each datagram `delay` after it arrived, in order. Once the returned closure is dropped
/// (with the receiving thread that owns it), the thread delivers what is still queued —
/// at most `delay` more — and ends.
fn later(
    delay: Duration,
    mut deliver: impl FnMut(Vec<u8>) + Send + 'static,
) -> Box<dyn FnMut(Vec<u8>) + Send> {
    if delay.is_zero() {
        return Box::new(deliver);
    }
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        while let Ok((at, d)) = rx.recv() {
            let due = at + delay;
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            deliver(d);
        }
    });
    Box::new(move |d| {
        let _ = tx.send((Instant::now(), d));
    })
}
