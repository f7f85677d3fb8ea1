//! The path between a client and a server, made visible: a relay that counts every byte
//! (TCP) or datagram (UDP) each way, and can hold each one back for a fixed delay so that a
//! round trip costs a known time on loopback (where it is otherwise tens of microseconds).
//! This kernel has no netem; a relay in user space is the portable way to add delay.
//!
//! What a relay cannot see: TCP's own three-way handshake. The client's `connect()` is
//! answered by the kernel at the relay's listening socket, before any byte passes; the
//! comparison adds that one round trip for every TCP transport, and says so.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};

use crate::l4::relay::{self, Mapping, Observer, Side};
use crate::l4::udp_relay::{self, DatagramObserver, Rebinder, Verdict};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes (and datagrams) that crossed the path, each way, and the client's flights: a flight
/// starts when the client sends after the server has sent (or for the first time).
#[derive(Default, Debug)]
pub struct Counts {
    pub up: AtomicU64,
    pub down: AtomicU64,
    pub datagrams_up: AtomicU64,
    pub datagrams_down: AtomicU64,
    /// The client has been given server bytes since its last chunk (so its next chunk starts
    /// a flight: it may have waited for them).
    server_last: AtomicBool,
    flights: Mutex<Vec<Instant>>,
    /// Connections the client opened: accepted TCP connections, or distinct source
    /// connection IDs in the client's QUIC long-header packets (one per handshake).
    pub connections: AtomicU64,
    /// On a rebinding path: server bytes passed on to the client after the rebinding.
    pub after_rebind: AtomicU64,
    /// Keep a copy of what the client sent (for decoding it afterwards).
    record: AtomicBool,
    recorded: Mutex<Vec<u8>>,
}

impl Counts {
    /// Everything the client sent, when the path was started with `record`.
    pub fn recorded(&self) -> Vec<u8> {
        self.recorded.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// A chunk from the client (`up`) or the server passed the relay now.
    fn saw(&self, up: bool, chunk: &[u8]) {
        let n = chunk.len();
        if up && self.record.load(Ordering::SeqCst) {
            if let Ok(mut r) = self.recorded.lock() {
                r.extend_from_slice(chunk);
            }
        }
        if up {
            self.up.fetch_add(n as u64, Ordering::SeqCst);
            let first = self.flights.lock().map(|f| f.is_empty()).unwrap_or(false);
            if self.server_last.swap(false, Ordering::SeqCst) || first {
                if let Ok(mut f) = self.flights.lock() {
                    f.push(Instant::now());
                }
            }
        } else {
            self.down.fetch_add(n as u64, Ordering::SeqCst);
        }
    }

    /// Server bytes were handed to the client now: what it sends next answers them.
    fn delivered(&self) {
        self.server_last.store(true, Ordering::SeqCst);
    }

    /// When each of the client's flights reached the relay.
    pub fn flights(&self) -> Vec<Instant> {
        self.flights.lock().map(|f| f.clone()).unwrap_or_default()
    }

    pub fn up(&self) -> u64 {
        self.up.load(Ordering::SeqCst)
    }
    pub fn down(&self) -> u64 {
        self.down.load(Ordering::SeqCst)
    }
}

/// When a rebinding path changes the client's address: once, when this many bytes have come
/// down from the server.
#[derive(Debug)]
pub struct Trigger {
    at: u64,
    fired: AtomicBool,
}

impl Trigger {
    /// Due once `at` bytes have come down (`u64::MAX`: never, the same path without a rebind).
    pub fn after_down(at: u64) -> Arc<Trigger> {
        Arc::new(Trigger {
            at,
            fired: AtomicBool::new(false),
        })
    }

    /// True once: the first time `down` has reached the mark.
    fn due(&self, down: u64) -> bool {
        down >= self.at && !self.fired.swap(true, Ordering::SeqCst)
    }

    /// Whether the rebinding happened.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// A TCP relay on a loopback port of its own, for any number of connections to `target`.
pub struct TcpPath {
    addr: SocketAddr,
    pub counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

impl TcpPath {
    pub fn start(target: SocketAddr, delay: Duration) -> io::Result<TcpPath> {
        TcpPath::start_with(target, delay, false, None)
    }

    /// A path that also keeps a copy of every byte the client sends.
    pub fn recording(target: SocketAddr) -> io::Result<TcpPath> {
        TcpPath::start_with(target, Duration::ZERO, true, None)
    }

    /// A path that plays a NAT which loses the client's mapping once `trigger` is due: the
    /// connection then carrying bytes is reset (see [`Mapping::forget`]); connections made
    /// after it pass as on any path.
    pub fn rebinding(target: SocketAddr, trigger: Arc<Trigger>) -> io::Result<TcpPath> {
        TcpPath::start_with(target, Duration::ZERO, false, Some(trigger))
    }

    fn start_with(
        target: SocketAddr,
        delay: Duration,
        record: bool,
        trigger: Option<Arc<Trigger>>,
    ) -> io::Result<TcpPath> {
        let listener = TcpListener::bind(crate::l4::background::loopback_for(&target))?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        counts.record.store(record, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (counts.clone(), stop.clone());
        thread::Builder::new()
            .name(format!("path {addr}"))
            .spawn(move || {
                for client in listener.incoming() {
                    if s.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(target) else {
                        continue;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    c.connections.fetch_add(1, Ordering::SeqCst);
                    let nat = trigger
                        .clone()
                        .and_then(|t| Some((Mapping::new(&client, &server).ok()?, t)));
                    let mapping = nat.as_ref().map(|(m, _)| m.clone());
                    // The project's one relay, with an observer that counts and delays.
                    let meter: Arc<dyn Observer> = Arc::new(Meter {
                        counts: c.clone(),
                        delay,
                        nat,
                    });
                    thread::spawn(move || {
                        relay::relay_mapped(client, server, None, Some(meter), mapping)
                    });
                }
            })?;
        Ok(TcpPath { addr, counts, stop })
    }

    /// Where clients connect instead of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TcpPath {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Counts what passes and holds each chunk back `delay` before the relay sends it on (the
/// relay calls it just before it forwards). A client's chunk is counted as it arrives, so its
/// flight starts then; server bytes count as delivered just before they are written on, so
/// a client that answers at once starts a new flight.
struct Meter {
    counts: Arc<Counts>,
    delay: Duration,
    /// On a rebinding path: this connection's mapping, forgotten when the trigger is due.
    nat: Option<(Arc<Mapping>, Arc<Trigger>)>,
}

impl Observer for Meter {
    fn bytes(&self, from: Side, bytes: &[u8]) {
        let up = from == Side::Client;
        self.counts.saw(up, bytes);
        if let Some((mapping, trigger)) = &self.nat {
            if !up && trigger.fired() && !mapping.is_forgotten() {
                let n = bytes.len() as u64;
                self.counts.after_rebind.fetch_add(n, Ordering::SeqCst);
            }
            if !up && trigger.due(self.counts.down()) {
                // These bytes are not forwarded: the relay checks the mapping after this.
                mapping.forget();
            }
        }
        if !self.delay.is_zero() {
            thread::sleep(self.delay);
        }
        if !up {
            self.counts.delivered();
        }
    }

    fn closed(&self, _from: Side) {}
}

/// The project's UDP relay between one client and `target`, with a meter that counts
/// datagrams and their bytes, and every datagram held back `delay`.
pub struct UdpPath {
    relay: udp_relay::Relay,
    pub counts: Arc<Counts>,
}

impl UdpPath {
    pub fn start(target: SocketAddr, delay: Duration) -> io::Result<UdpPath> {
        UdpPath::start_with(target, delay, None)
    }

    /// A path that plays a NAT which rebinds the client (a new source port) once `trigger`
    /// is due: see [`udp_relay::Relay::rebind`].
    pub fn rebinding(target: SocketAddr, trigger: Arc<Trigger>) -> io::Result<UdpPath> {
        UdpPath::start_with(target, Duration::ZERO, Some(trigger))
    }

    fn start_with(
        target: SocketAddr,
        delay: Duration,
        trigger: Option<Arc<Trigger>>,
    ) -> io::Result<UdpPath> {
        let counts = Arc::new(Counts::default());
        let meter = Arc::new(UdpMeter {
            counts: counts.clone(),
            scids: Mutex::new(HashSet::new()),
            trigger,
            rebinder: OnceLock::new(),
        });
        let relay = udp_relay::Relay::observed(target, meter.clone(), delay)?;
        // The meter is made before the relay it rebinds: it gets its handle now.
        let _ = meter.rebinder.set(relay.rebinder());
        Ok(UdpPath { relay, counts })
    }

    /// Server datagrams dropped because they went to the mapping a rebinding replaced.
    pub fn stale(&self) -> u64 {
        self.relay.stale()
    }

    pub fn addr(&self) -> SocketAddr {
        self.relay.addr()
    }
}

/// Counts each datagram as it arrives (its flight starts then) and marks server datagrams
/// delivered just before they go on, as [`Meter`] does for TCP.
struct UdpMeter {
    counts: Arc<Counts>,
    /// The source connection IDs of the client's long-header packets seen so far.
    scids: Mutex<HashSet<Vec<u8>>>,
    trigger: Option<Arc<Trigger>>,
    rebinder: OnceLock<Rebinder>,
}

impl UdpMeter {
    /// A client datagram that starts with a long header names its connection by its source
    /// connection ID: a new one is a new connection (a new handshake).
    fn count_connection(&self, bytes: &[u8]) {
        let long = bytes.first().is_some_and(|b| b & 0x80 != 0);
        if !long {
            return;
        }
        let Ok(header) = crate::quic::packet::decode(bytes, 0) else {
            return;
        };
        if let Ok(mut seen) = self.scids.lock() {
            if seen.insert(header.scid) {
                self.counts.connections.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

impl DatagramObserver for UdpMeter {
    fn datagram(&self, from: Side, _n: u64, bytes: &[u8]) -> Verdict {
        let up = from == Side::Client;
        self.counts.saw(up, bytes);
        let n = if up {
            self.count_connection(bytes);
            &self.counts.datagrams_up
        } else {
            &self.counts.datagrams_down
        };
        n.fetch_add(1, Ordering::SeqCst);
        if !up && self.trigger.as_ref().is_some_and(|t| t.fired()) {
            let n = bytes.len() as u64;
            self.counts.after_rebind.fetch_add(n, Ordering::SeqCst);
        }
        let due = !up
            && self
                .trigger
                .as_ref()
                .is_some_and(|t| t.due(self.counts.down()));
        if let (true, Some(r)) = (due, self.rebinder.get()) {
            // This datagram still goes on: it came through the mapping before it changed.
            if let Err(e) = r.rebind(None) {
                crate::trace::event(crate::trace::Layer::L4, || {
                    format!("path: rebinding failed: {e}")
                });
            }
        }
        Verdict::Forward
    }

    fn delivering(&self) {
        self.counts.delivered();
    }
}
