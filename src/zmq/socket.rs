//! A ZeroMQ socket whose every step shows up in the trace: options, bind and connect, each
//! message part, and the connection events libzmq keeps to itself (zmq_socket_monitor(3)).
//!
//! The zmq crate wraps libzmq; this wrapper adds three things a student needs to see:
//! 1. the trace (`[zmq] · bind(…)`, `[zmq] → REQ part 1/1 5 bytes "hello"`);
//! 2. bounded waits: `recv` takes a timeout, so no call in netlab blocks without a bound;
//! 3. errors that say what to do (`EFSM` becomes "a REQ socket sent twice …").
//!
//! libzmq connects in a background I/O thread: `connect` returns at once, even when nothing
//! listens, and retries forever (RFC 37/ZMTP "Socket Semantics": "establish connections
//! opportunistically"). The monitor socket reports those hidden steps, which is how netlab
//! tells "nobody is listening" apart from "the server is slow".

use super::endpoint::Endpoint;
use crate::trace::{self, Layer};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One ZeroMQ message: one or more parts (frames), delivered all or nothing.
pub type Message = Vec<Vec<u8>>;

/// How long `close` may wait for unsent messages (ZMQ_LINGER). libzmq's default is forever,
/// which would let a process hang at exit when its peer is gone.
pub const LINGER_MS: i32 = 1000;

/// How long a send may block (ZMQ_SNDTIMEO) when it cannot queue: a bound PUSH or DEALER
/// with no peer yet, or a full queue (the high-water mark).
pub const SEND_TIMEOUT_MS: i32 = 10_000;

/// How many bytes of each part the trace shows.
const PREVIEW: usize = 40;

/// Why a ZeroMQ step failed. `Display` says what to do about it.
#[derive(Debug)]
pub enum ZmqError {
    /// zmq_socket or a zmq_setsockopt failed (out of file descriptors, bad option value).
    Setup { what: String, source: zmq::Error },
    /// zmq_bind failed.
    Bind {
        endpoint: String,
        source: zmq::Error,
    },
    /// zmq_connect refused the endpoint (it never fails for an absent peer: see `Unreachable`).
    Connect {
        endpoint: String,
        source: zmq::Error,
    },
    /// No TCP connection to the peer was ever made while we waited.
    Unreachable {
        endpoint: String,
        ms: u128,
        retries: u32,
    },
    /// Connected, but no reply came in time.
    NoReply { endpoint: String, ms: u128 },
    /// Lazy Pirate gave up after every try.
    GaveUp {
        endpoint: String,
        tries: u32,
        ms: u128,
    },
    /// A REQ socket sent again before the reply came (EFSM; RFC 28/REQREP).
    SendTwice,
    /// A REP socket received again before it replied, or replied before it received (EFSM).
    OutOfTurn {
        kind: &'static str,
        op: &'static str,
    },
    /// Nothing arrived in time where something was expected (a subscriber, a sink).
    Timeout { what: String, ms: u128 },
    /// A server thread could not be started.
    Thread(std::io::Error),
    /// Any other failure of send or recv.
    Io {
        what: &'static str,
        source: zmq::Error,
    },
}

impl fmt::Display for ZmqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZmqError::Setup { what, source } => write!(f, "{what} failed: {source}"),
            ZmqError::Bind { endpoint, source } => match source {
                zmq::Error::EADDRINUSE => {
                    let port = endpoint.rsplit(':').next().unwrap_or("PORT");
                    write!(
                        f,
                        "cannot bind {endpoint}: address already in use (see who holds it: netlab port {port})"
                    )
                }
                zmq::Error::EADDRNOTAVAIL | zmq::Error::ENODEV => write!(
                    f,
                    "cannot bind {endpoint}: not an address of this machine (try tcp://127.0.0.1:PORT)"
                ),
                zmq::Error::EACCES => write!(
                    f,
                    "cannot bind {endpoint}: permission denied (ports below 1024 need root)"
                ),
                other => write!(f, "cannot bind {endpoint}: {other}"),
            },
            ZmqError::Connect { endpoint, source } => {
                write!(f, "cannot connect to {endpoint}: {source}")
            }
            ZmqError::Unreachable {
                endpoint,
                ms,
                retries,
            } => write!(
                f,
                "cannot reach {endpoint}: no ZMTP connection in {ms} ms (libzmq's TCP connect failed and was retried {retries} times: is a server bound there?)"
            ),
            ZmqError::NoReply { endpoint, ms } => write!(
                f,
                "no reply from {endpoint} within {ms} ms (the peer is connected but silent: raise --timeout, or add --retries N to resend)"
            ),
            ZmqError::GaveUp {
                endpoint,
                tries,
                ms,
            } => write!(
                f,
                "no reply from {endpoint} after {tries} tries of {ms} ms each: giving up (is the server running? raise --retries or --timeout)"
            ),
            ZmqError::SendTwice => write!(
                f,
                "a REQ socket sent a second request before receiving the reply: REQ must alternate send, recv (RFC 28/REQREP); to retry, close the socket and open a new one (Lazy Pirate), or use DEALER"
            ),
            ZmqError::OutOfTurn { kind, op } => write!(
                f,
                "a {kind} socket cannot {op} now: it must alternate recv, send (RFC 28/REQREP)"
            ),
            ZmqError::Timeout { what, ms } => write!(
                f,
                "{what}: nothing within {ms} ms (raise --timeout to wait longer)"
            ),
            ZmqError::Thread(e) => write!(f, "cannot start a thread: {e}"),
            ZmqError::Io { what, source } => write!(f, "{what} failed: {source}"),
        }
    }
}

impl std::error::Error for ZmqError {}

/// The socket type's name as ZMTP spells it in READY's Socket-Type (RFC 37 "The Socket-Type
/// Property").
pub fn kind_name(kind: zmq::SocketType) -> &'static str {
    match kind {
        zmq::PAIR => "PAIR",
        zmq::PUB => "PUB",
        zmq::SUB => "SUB",
        zmq::REQ => "REQ",
        zmq::REP => "REP",
        zmq::DEALER => "DEALER",
        zmq::ROUTER => "ROUTER",
        zmq::PULL => "PULL",
        zmq::PUSH => "PUSH",
        zmq::XPUB => "XPUB",
        zmq::XSUB => "XSUB",
        zmq::STREAM => "STREAM",
    }
}

/// What the monitor has told us about this socket's connections so far.
#[derive(Debug, Default, Clone)]
pub struct Peers {
    /// Connections whose ZMTP handshake completed and that are still up.
    pub live: usize,
    /// Has any handshake ever completed?
    pub ever: bool,
    /// How many times a TCP connect failed and libzmq scheduled another (CONNECT_RETRIED).
    pub retries: u32,
}

static MONITORS: AtomicUsize = AtomicUsize::new(0);

/// A traced ZeroMQ socket with its monitor.
pub struct Socket {
    // Field order matters: `sock` is closed before `monitor` (fields drop in order).
    sock: zmq::Socket,
    kind: zmq::SocketType,
    monitor: Monitor,
    peers: Peers,
    /// The endpoint given to the last bind or connect, for error messages.
    endpoint: String,
    /// The ZMQ_RCVTIMEO last set (libzmq's default: -1, no limit).
    rcvtimeo: i32,
    /// When `send` or `recv` last read the monitor (see [`Socket::drain_now_and_then`]).
    drained: Instant,
}

/// How often `send` and `recv` read the monitor, at most. A read costs libzmq a `poll` of
/// the monitor's mailbox: on every send and recv that was two system calls per message of a
/// pipelined worker, more than the rest of its work. Connection events come far more slowly
/// than the 1000 the monitor queue holds per 10 ms.
const DRAIN_EVERY: Duration = Duration::from_millis(10);

/// The receiving end of a socket's monitor.
///
/// libzmq sends monitor events with a *blocking* send, from its own I/O and reaper threads.
/// If this end were closed while the monitored socket still has events to report (its close
/// brings DISCONNECTED, CLOSED, MONITOR_STOPPED), that send would wait forever for a peer —
/// and with it every other socket of the context: connects would never happen. So this end
/// is dropped after the socket and first reads until libzmq says MONITOR_STOPPED (bounded by
/// the socket's linger time plus a margin).
struct Monitor(zmq::Socket);

impl Drop for Monitor {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_millis(LINGER_MS as u64 + 2000);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.0.poll(zmq::POLLIN, millis(left)) {
                Ok(n) if n > 0 => {}
                _ => return,
            }
            while let Ok(parts) = self.0.recv_multipart(zmq::DONTWAIT) {
                let event = parts
                    .first()
                    .filter(|h| h.len() >= 2)
                    .map(|h| u16::from_ne_bytes([h[0], h[1]]));
                if event == Some(zmq::SocketEvent::MONITOR_STOPPED.to_raw()) {
                    return;
                }
            }
        }
    }
}

impl Socket {
    /// `zmq_socket(TYPE)`, `ZMQ_LINGER`, and a monitor on an inproc PAIR socket.
    pub fn new(ctx: &zmq::Context, kind: zmq::SocketType) -> Result<Socket, ZmqError> {
        let name = kind_name(kind);
        let setup = |what: String| move |source| ZmqError::Setup { what, source };
        let sock = ctx
            .socket(kind)
            .map_err(setup(format!("zmq_socket(ZMQ_{name})")))?;
        trace::event(Layer::Zmq, || format!("socket(ZMQ_{name})"));
        sock.set_linger(LINGER_MS)
            .map_err(setup("setsockopt(ZMQ_LINGER)".into()))?;
        trace::event(Layer::Zmq, || {
            format!(
                "setsockopt(ZMQ_LINGER, {LINGER_MS}): close waits at most {LINGER_MS} ms for unsent messages (libzmq's default: forever)"
            )
        });
        sock.set_sndtimeo(SEND_TIMEOUT_MS)
            .map_err(setup("setsockopt(ZMQ_SNDTIMEO)".into()))?;
        trace::event(Layer::Zmq, || {
            format!(
                "setsockopt(ZMQ_SNDTIMEO, {SEND_TIMEOUT_MS}): a send that cannot queue (no peer yet, queue full) fails after {SEND_TIMEOUT_MS} ms instead of blocking forever"
            )
        });
        // The monitor is a pair of inproc sockets: libzmq pushes one two-part message per
        // connection event, which `drain_events` reads and traces.
        let n = MONITORS.fetch_add(1, Ordering::Relaxed);
        let address = format!("inproc://netlab-monitor-{}-{n}", std::process::id());
        sock.monitor(&address, zmq::SocketEvent::ALL as i32)
            .map_err(setup("zmq_socket_monitor".into()))?;
        let monitor = ctx
            .socket(zmq::PAIR)
            .map_err(setup("the monitor's socket".into()))?;
        monitor
            .set_linger(0)
            .map_err(setup("the monitor's ZMQ_LINGER".into()))?;
        monitor
            .connect(&address)
            .map_err(setup("connecting the monitor".into()))?;
        Ok(Socket {
            sock,
            kind,
            monitor: Monitor(monitor),
            peers: Peers::default(),
            endpoint: String::new(),
            rcvtimeo: -1,
            drained: Instant::now(),
        })
    }

    /// The libzmq socket, for options this wrapper does not cover and for `zmq::poll`.
    pub fn raw(&self) -> &zmq::Socket {
        &self.sock
    }

    /// `REQ`, `REP`, … as ZMTP spells it.
    pub fn name(&self) -> &'static str {
        kind_name(self.kind)
    }

    /// What the monitor has reported so far.
    pub fn peers(&mut self) -> Peers {
        self.drain_events();
        self.peers.clone()
    }

    /// Sets an option through `set`, tracing `setsockopt(NAME, shown)` with the reason `why`.
    pub fn option(
        &self,
        name: &str,
        shown: &str,
        why: &str,
        set: impl FnOnce(&zmq::Socket) -> zmq::Result<()>,
    ) -> Result<(), ZmqError> {
        set(&self.sock).map_err(|source| ZmqError::Setup {
            what: format!("setsockopt({name}, {shown})"),
            source,
        })?;
        trace::event(Layer::Zmq, || format!("setsockopt({name}, {shown}): {why}"));
        Ok(())
    }

    /// `zmq_bind`, then `ZMQ_LAST_ENDPOINT` to learn the real port. Returns `tcp://HOST:PORT`.
    pub fn bind(&mut self, endpoint: &Endpoint) -> Result<String, ZmqError> {
        self.allow_ipv6(endpoint)?;
        let asked = endpoint.to_string();
        self.endpoint = asked.clone();
        self.sock.bind(&asked).map_err(|source| ZmqError::Bind {
            endpoint: asked.clone(),
            source,
        })?;
        let real = match self.sock.get_last_endpoint() {
            Ok(Ok(s)) => s,
            _ => asked.clone(),
        };
        trace::event(Layer::Zmq, || {
            format!("bind({asked}) → {real} (ZMQ_LAST_ENDPOINT): libzmq now accepts connections")
        });
        self.endpoint = real.clone();
        Ok(real)
    }

    /// `zmq_connect`: returns at once; the I/O thread connects (and reconnects) by itself.
    pub fn connect(&mut self, endpoint: &Endpoint) -> Result<(), ZmqError> {
        self.allow_ipv6(endpoint)?;
        let text = endpoint.to_string();
        self.sock
            .connect(&text)
            .map_err(|source| ZmqError::Connect {
                endpoint: text.clone(),
                source,
            })?;
        trace::event(Layer::Zmq, || {
            format!(
                "connect({text}): returns at once; libzmq's I/O thread connects in the background and retries"
            )
        });
        self.endpoint = text;
        Ok(())
    }

    /// libzmq speaks IPv4 only unless ZMQ_IPV6 is set, which `[::1]` needs.
    fn allow_ipv6(&self, endpoint: &Endpoint) -> Result<(), ZmqError> {
        if endpoint.host.contains(':') {
            self.option(
                "ZMQ_IPV6",
                "1",
                "IPv6 endpoints too (libzmq's default: IPv4 only)",
                |s| s.set_ipv6(true),
            )?;
        }
        Ok(())
    }

    /// The endpoint of the last bind or connect.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one message: every part but the last with ZMQ_SNDMORE.
    pub fn send<P: AsRef<[u8]>>(&mut self, parts: &[P]) -> Result<(), ZmqError> {
        // Keep the monitor's queue from filling (see `recv`): it never blocks.
        self.drain_now_and_then();
        let total = parts.len();
        for (i, part) in parts.iter().enumerate() {
            let bytes = part.as_ref();
            let more = i + 1 < total;
            let flags = if more { zmq::SNDMORE } else { 0 };
            // Traced before libzmq takes the part: its I/O thread sends at once, and a tap
            // or the peer would print the bytes first. A refusal is an event after it.
            trace::sent(Layer::Zmq, || {
                describe_part(self.name(), i, total, more, bytes)
            });
            if let Err(e) = self.sock.send(bytes, flags) {
                trace::event(Layer::Zmq, || {
                    format!(
                        "{} part {}/{total}: not sent, libzmq refused it ({e})",
                        self.name(),
                        i + 1
                    )
                });
                return Err(self.turn_error(e, "send"));
            }
        }
        Ok(())
    }

    /// Receives one whole message, waiting at most `timeout` (`None`: no limit). Returns
    /// `Ok(None)` when the time ran out. Connection events met while waiting are traced.
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Message>, ZmqError> {
        // 1. The first part. With the trace on, wait on the socket and its monitor together,
        //    so that connection events print in the order they happen; otherwise let libzmq
        //    block by itself (ZMQ_RCVTIMEO), its fastest path.
        let first = if trace::is_on(Layer::Zmq) {
            if !self.wait_readable(timeout)? {
                return Ok(None);
            }
            self.sock.recv_bytes(zmq::DONTWAIT)
        } else {
            // The monitor is read here too: libzmq's I/O thread blocks on a full monitor
            // queue (1000 events each way), and with it every connection of the context.
            // A server that never traced stopped answering after ~660 connections.
            self.drain_now_and_then();
            self.set_recv_timeout(timeout)?;
            loop {
                match self.sock.recv_bytes(0) {
                    // A signal that did not end the process: wait again.
                    Err(zmq::Error::EINTR) => continue,
                    other => break other,
                }
            }
        };
        let mut parts = match first {
            Ok(part) => vec![part],
            Err(zmq::Error::EAGAIN) => return Ok(None),
            Err(e) => return Err(self.turn_error(e, "recv")),
        };
        // 2. The other parts are already here: libzmq delivers a message all or nothing.
        while self.more()? {
            let part = self
                .sock
                .recv_bytes(zmq::DONTWAIT)
                .map_err(|e| self.turn_error(e, "recv"))?;
            parts.push(part);
        }
        let total = parts.len();
        for (i, part) in parts.iter().enumerate() {
            trace::received(Layer::Zmq, || {
                describe_part(self.name(), i, total, i + 1 < total, part)
            });
        }
        Ok(Some(parts))
    }

    fn more(&self) -> Result<bool, ZmqError> {
        self.sock.get_rcvmore().map_err(|source| ZmqError::Io {
            what: "zmq_getsockopt(ZMQ_RCVMORE)",
            source,
        })
    }

    /// ZMQ_RCVTIMEO for the next blocking recv, set only when it changes.
    fn set_recv_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ZmqError> {
        let ms = match timeout {
            None => -1,
            Some(t) => i32::try_from(millis(t)).unwrap_or(i32::MAX),
        };
        if ms != self.rcvtimeo {
            self.sock
                .set_rcvtimeo(ms)
                .map_err(|source| ZmqError::Setup {
                    what: format!("setsockopt(ZMQ_RCVTIMEO, {ms})"),
                    source,
                })?;
            self.rcvtimeo = ms;
        }
        Ok(())
    }

    /// Waits until a message can be read, reading monitor events meanwhile. A zero
    /// timeout looks once without waiting.
    fn wait_readable(&mut self, timeout: Option<Duration>) -> Result<bool, ZmqError> {
        let start = Instant::now();
        loop {
            let left_ms = match timeout {
                None => -1,
                Some(t) => millis(t.saturating_sub(start.elapsed())),
            };
            let mut items = [
                self.sock.as_poll_item(zmq::POLLIN),
                self.monitor.0.as_poll_item(zmq::POLLIN),
            ];
            match zmq::poll(&mut items, left_ms) {
                Ok(_) => {}
                // Interrupted by a signal that did not end the process: poll again.
                Err(zmq::Error::EINTR) => continue,
                Err(source) => {
                    return Err(ZmqError::Io {
                        what: "zmq_poll",
                        source,
                    });
                }
            }
            let (data, events) = (items[0].is_readable(), items[1].is_readable());
            if events {
                self.drain_events();
            }
            if data {
                return Ok(true);
            }
            if left_ms == 0 {
                return Ok(false);
            }
        }
    }

    /// Waits until at least `n` peers completed their handshake, at most `timeout`.
    /// Returns how many there are.
    pub fn wait_for_peers(&mut self, n: usize, timeout: Duration) -> Result<usize, ZmqError> {
        let start = Instant::now();
        while self.peers.live < n {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(ZmqError::Timeout {
                    what: format!(
                        "waiting for {n} peer(s) on {}: {} connected",
                        self.endpoint, self.peers.live
                    ),
                    ms: timeout.as_millis(),
                });
            }
            match self.monitor.0.poll(zmq::POLLIN, millis(left)) {
                Ok(_) | Err(zmq::Error::EINTR) => self.drain_events(),
                Err(source) => {
                    return Err(ZmqError::Io {
                        what: "zmq_poll",
                        source,
                    });
                }
            }
        }
        Ok(self.peers.live)
    }

    /// [`Socket::drain_events`] when the last was [`DRAIN_EVERY`] ago or more; every time
    /// when the trace is on, so that connection events print where they happen.
    fn drain_now_and_then(&mut self) {
        if trace::is_on(Layer::Zmq) || self.drained.elapsed() >= DRAIN_EVERY {
            self.drain_events();
            self.drained = Instant::now();
        }
    }

    /// Reads every pending monitor event, traces it and counts peers. Never blocks.
    fn drain_events(&mut self) {
        while let Ok(parts) = self.monitor.0.recv_multipart(zmq::DONTWAIT) {
            // Part 1: the event (16 bits) and its value (32 bits), in host byte order;
            // part 2: the endpoint it concerns.
            let (Some(head), Some(endpoint)) = (parts.first(), parts.get(1)) else {
                continue;
            };
            if head.len() < 6 {
                continue;
            }
            let event = u16::from_ne_bytes([head[0], head[1]]);
            let value = u32::from_ne_bytes([head[2], head[3], head[4], head[5]]);
            let endpoint = String::from_utf8_lossy(endpoint).into_owned();
            self.count(event);
            if let Some(text) = describe_event(event, value, &endpoint) {
                trace::event(Layer::Zmq, || text);
            }
        }
    }

    fn count(&mut self, event: u16) {
        use zmq::SocketEvent as E;
        let p = &mut self.peers;
        if event == E::HANDSHAKE_SUCCEEDED.to_raw() {
            p.live += 1;
            p.ever = true;
        } else if event == E::DISCONNECTED.to_raw() {
            p.live = p.live.saturating_sub(1);
        } else if event == E::CONNECT_RETRIED.to_raw() {
            p.retries += 1;
        }
    }

    /// Maps libzmq's EFSM (the socket's state machine refused the call) to the rule broken.
    fn turn_error(&self, e: zmq::Error, op: &'static str) -> ZmqError {
        match (e, self.kind, op) {
            (zmq::Error::EFSM, zmq::REQ, "send") => ZmqError::SendTwice,
            (zmq::Error::EFSM, zmq::REQ, _) => ZmqError::OutOfTurn {
                kind: "REQ",
                op: "recv before it sent a request",
            },
            (zmq::Error::EFSM, zmq::REP, "send") => ZmqError::OutOfTurn {
                kind: "REP",
                op: "send before it received a request",
            },
            (zmq::Error::EFSM, _, _) => ZmqError::OutOfTurn {
                kind: self.name(),
                op: "recv twice without replying",
            },
            (zmq::Error::EAGAIN, _, "send") => ZmqError::Timeout {
                what: format!(
                    "sending on a {} socket ({}): no peer took the message",
                    self.name(),
                    self.endpoint
                ),
                ms: SEND_TIMEOUT_MS as u128,
            },
            (source, _, "send") => ZmqError::Io {
                what: "zmq_send",
                source,
            },
            (source, _, _) => ZmqError::Io {
                what: "zmq_recv",
                source,
            },
        }
    }
}

/// A duration as zmq_poll's milliseconds, rounded up so that a short wait is not 0 (no wait).
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(i64::MAX)
}

/// `REQ part 1/2 (MORE) 3 bytes "PUT"`.
pub fn describe_part(kind: &str, i: usize, total: usize, more: bool, bytes: &[u8]) -> String {
    format!(
        "{kind} part {}/{total}{} {} bytes \"{}\"",
        i + 1,
        if more { " (MORE)" } else { "" },
        bytes.len(),
        trace::preview(bytes, PREVIEW)
    )
}

/// One line per monitor event, in libzmq's names (zmq_socket_monitor(3)).
fn describe_event(event: u16, value: u32, endpoint: &str) -> Option<String> {
    use zmq::SocketEvent as E;
    let text = match event {
        e if e == E::CONNECTED.to_raw() => {
            format!("CONNECTED {endpoint}: TCP handshake done; the ZMTP greeting goes next")
        }
        e if e == E::CONNECT_DELAYED.to_raw() => {
            format!("CONNECT_DELAYED {endpoint}: non-blocking connect(2) in progress")
        }
        e if e == E::CONNECT_RETRIED.to_raw() => format!(
            "CONNECT_RETRIED {endpoint}: the TCP connect failed; libzmq tries again in {value} ms"
        ),
        e if e == E::LISTENING.to_raw() => format!("LISTENING {endpoint}"),
        e if e == E::BIND_FAILED.to_raw() => format!("BIND_FAILED {endpoint}"),
        e if e == E::ACCEPTED.to_raw() => format!(
            "ACCEPTED {endpoint}: a TCP connection (fd {value}); the ZMTP greeting goes next"
        ),
        e if e == E::ACCEPT_FAILED.to_raw() => format!("ACCEPT_FAILED {endpoint}"),
        e if e == E::CLOSED.to_raw() => format!("CLOSED {endpoint} (fd {value})"),
        e if e == E::DISCONNECTED.to_raw() => format!(
            "DISCONNECTED {endpoint}: the peer went away (a connecting socket reconnects by itself)"
        ),
        e if e == E::HANDSHAKE_SUCCEEDED.to_raw() => format!(
            "HANDSHAKE_SUCCEEDED {endpoint}: greetings and READY exchanged; messages can flow"
        ),
        e if e == E::HANDSHAKE_FAILED_PROTOCOL.to_raw() => {
            format!("HANDSHAKE_FAILED_PROTOCOL {endpoint}: the peer broke ZMTP (code {value:#x})")
        }
        e if e == E::HANDSHAKE_FAILED_NO_DETAIL.to_raw() => {
            format!("HANDSHAKE_FAILED_NO_DETAIL {endpoint}")
        }
        e if e == E::HANDSHAKE_FAILED_AUTH.to_raw() => {
            format!("HANDSHAKE_FAILED_AUTH {endpoint} (status {value})")
        }
        // MONITOR_STOPPED and anything newer: nothing a reader needs.
        _ => return None,
    };
    Some(text)
}
