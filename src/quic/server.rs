//! An HTTP/3 server (RFC 9114) over QUIC (RFC 9000): quiche does the protocol, and this
//! file is the loop that drives it, with one blocking `std::net::UdpSocket` for every
//! connection. Each turn of the loop is one numbered step after another:
//!
//! 1. wait for a datagram, at most until the earliest timer of any connection or the
//!    session-ticket key's rotation (`server/tickets.rs`), and take those already queued
//!    behind it;
//! 2. find its connection by destination connection ID — any ID we issued to it, so a
//!    client whose address changed is still found (`paths.rs`) — or make one (Initial
//!    packets only: the admission steps 2a–2g of `server/admission.rs`, where Version
//!    Negotiation, Retry and address validation happen);
//! 3. feed the datagram to quiche;
//! 4. fire the timers that expired (loss detection, idle timeout);
//! 5. collect the answers of handlers that finished;
//! 6. poll HTTP/3 events: a request's fields, its body, its end → the handler (6a–6d in
//!    `Server::http3`; the per-stream work is in `streams.rs`). A request read from 0-RTT
//!    (early data, before the handshake completes) first goes through `Config::early_policy`
//!    (`early.rs`): answered, or `425 Too Early`;
//! 7. connection IDs and paths: spare IDs handed out, retired ones forgotten, path events
//!    (a new address, its validation, a migration) traced; after a migration, one PING of
//!    the path the peer left, sent to its new address (7a: without it, quiche 0.30 never
//!    declares lost what was in flight to an address that is gone, `paths.rs`); a new path
//!    whose PATH_CHALLENGE got no answer, challenged again (7b: quiche 0.30 waits for a
//!    probe timer that acknowledgements keep from firing); then every connection's packets
//!    sent until quiche has nothing left, each to the address quiche names (those for one
//!    address handed to the kernel in one call: GSO, `udp.rs`);
//! 8. forget closed connections (and their IDs), saying why they closed.
//!
//! Handlers are the same [`Handler`]s HTTP/1.1 and HTTP/2 call. Each runs in a thread of its
//! own, so a slow one holds back only its stream; when it finishes, it wakes the loop with
//! an empty datagram to the server's own socket (a datagram of zero bytes is no QUIC packet).

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use super::codes;
use super::config::{self, Identity, SetupError, Transport};
use super::early;
use super::h3;
use super::packet;
use super::paths::{self, Ids};
use super::streams::{Client, closed, events, open_http3, push_response, queue_with};
use super::token::Minter;
use super::udp;
use crate::catch;
use crate::http::handler::Handler;
use crate::http::message::{Request, Response};
use crate::trace::{self, Layer};

mod admission;
pub mod tickets;

/// The server's settings (the flags of `netlab h3 serve`).
#[derive(Clone, Debug)]
pub struct Config {
    /// Answer every first Initial with a Retry (RFC 9000 §8.1.2).
    pub retry: bool,
    pub transport: Transport,
    /// The largest request body accepted; a larger one gets 413.
    pub max_body: usize,
    /// Connections kept at once; Initials beyond are dropped.
    pub max_connections: usize,
    /// Accept 0-RTT from clients that resume (RFC 9001 §4.6); off: every returning client
    /// waits for the handshake (its early data is rejected, then sent again in 1-RTT).
    pub early_data: bool,
    /// What a request read from early data gets: answered, or 425 (`early::decide`; lab 12
    /// plugs a student's function in here).
    pub early_policy: early::Policy,
    /// The first session-ticket key (None: a random one). Two servers given the same key
    /// resume each other's clients.
    pub ticket_key: Option<[u8; tickets::KEY_LEN]>,
    /// A new random ticket key this often; tickets under the old key stop resuming.
    pub ticket_rotation: std::time::Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            retry: false,
            transport: Transport::default(),
            max_body: 64 * 1024 * 1024,
            max_connections: 1000,
            early_data: true,
            early_policy: early::decide,
            ticket_key: None,
            ticket_rotation: TICKET_ROTATION,
        }
    }
}

/// How long a ticket key is used: short enough that a stolen key opens little (forward
/// secrecy for resumed sessions), long enough that a student's second visit an hour later
/// still resumes.
pub const TICKET_ROTATION: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Our connection IDs are this long (RFC 9000 §5.1 lets the issuer choose up to 20).
const CID_LEN: usize = 16;

/// Handlers running at once, across connections; beyond, a request is answered 503 at once
/// (each handler has a thread of its own, and threads are not free).
const MAX_HANDLERS: usize = 256;

/// A handler's answer, sent from its thread back to the loop.
struct Done {
    cid: Vec<u8>,
    stream: u64,
    method: String,
    priority: (u8, bool),
    response: Response,
}

/// Everything the loop owns.
struct Server {
    socket: UdpSocket,
    local: SocketAddr,
    quic: quiche::Config,
    h3: quiche::h3::Config,
    config: Config,
    handler: Arc<dyn Handler>,
    minter: Minter,
    tickets: tickets::Tickets,
    /// Derives our connection ID from the client's first DCID, so that every Initial of
    /// one handshake (retransmissions included) finds the same connection.
    cid_key: ring::hmac::Key,
    clients: HashMap<Vec<u8>, Client>,
    /// Every connection ID we issued → the ID its client is filed under (the first one):
    /// how a packet sent to a spare ID, from a new address, finds its connection.
    routes: HashMap<Vec<u8>, Vec<u8>>,
    /// Makes the spare connection IDs and their stateless reset tokens.
    ids: Ids,
    done_tx: mpsc::Sender<Done>,
    done_rx: mpsc::Receiver<Done>,
    role: Option<&'static str>,
    /// Handlers running now.
    running: Arc<std::sync::atomic::AtomicUsize>,
}

/// Why the server could not run.
#[derive(Debug)]
pub enum ServeError {
    Setup(SetupError),
    Io(io::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Setup(e) => write!(f, "{e}"),
            ServeError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Serves HTTP/3 on `socket` until `stop` is set (and an empty datagram wakes the loop).
pub fn serve(
    socket: UdpSocket,
    identity: &Identity,
    handler: Arc<dyn Handler>,
    config: Config,
    stop: Arc<AtomicBool>,
) -> Result<(), ServeError> {
    let _role = trace::default_role("server");
    let mut quic = config::server(identity, &config.transport).map_err(ServeError::Setup)?;
    if config.early_data {
        quic.enable_early_data();
    }
    let tickets = tickets::Tickets::start(&mut quic, config.ticket_key, config.ticket_rotation)
        .map_err(|e| ServeError::Setup(SetupError::Quic(e)))?;
    let h3 = quiche::h3::Config::new().map_err(|e| ServeError::Setup(SetupError::Http3(e)))?;
    let rng = ring::rand::SystemRandom::new();
    let unspecified = |_| ServeError::Io(io::Error::other("no random numbers for keys"));
    let minter = Minter::new().map_err(unspecified)?;
    let cid_key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng).map_err(unspecified)?;
    let ids = Ids::new(CID_LEN).map_err(|e| ServeError::Io(io::Error::other(e)))?;
    let local = socket.local_addr().map_err(ServeError::Io)?;
    let granted = crate::l4::sockopt::receive_buffer(&socket, crate::l4::sockopt::RECEIVE_BUFFER);
    // Runs of datagrams in one read where the kernel can (only this loop reads the socket).
    udp::gro(&socket);
    trace::event(Layer::L4, || {
        format!("UDP {local}: SO_RCVBUF {granted} bytes")
    });
    let (done_tx, done_rx) = mpsc::channel();
    let mut server = Server {
        socket,
        local,
        quic,
        h3,
        config,
        handler,
        minter,
        tickets,
        cid_key,
        clients: HashMap::new(),
        routes: HashMap::new(),
        ids,
        done_tx,
        done_rx,
        role: trace::current_role(),
        running: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    };
    server.run(&stop);
    Ok(())
}

/// Serves HTTP/3 in a background thread of this process (the tour, lab checks, tests);
/// stopping it sets the flag and wakes the loop with an empty datagram.
pub fn spawn(
    socket: UdpSocket,
    identity: Identity,
    handler: Arc<dyn Handler>,
    config: Config,
) -> io::Result<crate::l4::background::Background> {
    let addr = udp::reachable(socket.local_addr()?);
    let role = trace::current_role();
    crate::l4::background::Background::start(
        format!("h3 server {addr}"),
        addr,
        crate::l4::background::Wake::Udp,
        move |stop| {
            let _role = role.map(trace::role);
            if let Err(e) = serve(socket, &identity, handler, config, stop) {
                trace::event(Layer::Quic, || format!("server stopped: {e}"));
            }
        },
    )
}

impl Server {
    fn run(&mut self, stop: &AtomicBool) {
        let mut buf = vec![0u8; 65535];
        loop {
            // 1. Wait for a datagram, at most until the earliest timer of any connection or
            //    the ticket key's rotation (done before any datagram is read, so that no
            //    ticket outlives its key's period); then take the ones already queued behind
            //    it, without waiting.
            let rotate = self
                .tickets
                .deadline()
                .saturating_duration_since(Instant::now());
            let timer = self.clients.values().filter_map(|c| c.conn.timeout()).min();
            let timer = Some(timer.map_or(rotate, |t| t.min(rotate)));
            let mut got = udp::recv(&self.socket, &mut buf, timer);
            if stop.load(Ordering::SeqCst) {
                break;
            }
            self.tickets.rotate_if_due(&mut self.quic);
            for _ in 0..udp::BATCH {
                match got {
                    // An empty datagram: a handler finished, or someone wants us to stop.
                    Ok(Some(read)) if read.len == 0 => {}
                    // 2. and 3. Its connection, then quiche.
                    Ok(Some(read)) => self.datagrams(read, &mut buf),
                    Ok(None) => break,
                    Err(e) => {
                        trace::event(Layer::Quic, || format!("recv_from failed: {e}"));
                        break;
                    }
                }
                got = udp::queued(&self.socket, &mut buf);
            }
            if stop.load(Ordering::SeqCst) {
                break;
            }
            // 4. Fire the timers that expired (a no-op for the others).
            for c in self.clients.values_mut() {
                c.conn.on_timeout();
            }
            // 5. Collect the answers of handlers that finished.
            while let Ok(done) = self.done_rx.try_recv() {
                self.respond(done);
            }
            // 6. HTTP/3 events, and responses that wait for flow-control credit.
            let cids: Vec<Vec<u8>> = self.clients.keys().cloned().collect();
            for cid in cids {
                self.http3(&cid);
            }
            // 7. Connection IDs and paths, then every connection's packets until quiche
            //    has nothing left.
            self.paths();
            let mut broken = Vec::new();
            for (key, c) in self.clients.iter_mut() {
                let socket = &self.socket;
                let sent = catch::call(|| {
                    udp::flush(socket, &mut c.conn, c.peer, CID_LEN, &c.id, &c.keys);
                });
                match sent {
                    Ok(()) => {
                        c.paths.unvalidated(&c.conn, &c.id);
                        c.paths.stranded(&c.conn, &c.id);
                    }
                    Err(p) => broken.push((key.clone(), p)),
                }
            }
            // 8. Forget closed connections and their IDs, saying why; and a connection
            //    whose quiche panicked (its state is unknown): dropped, the others served.
            for (key, p) in broken {
                if let Some(c) = self.clients.remove(&key) {
                    gave_up(&c.id, &p);
                }
                self.routes.retain(|_, to| *to != key);
            }
            let routes = &mut self.routes;
            self.clients.retain(|key, c| {
                if !c.conn.is_closed() {
                    return true;
                }
                trace::event(Layer::Quic, || closed(c));
                routes.retain(|_, to| to != key);
                false
            });
        }
        // Stopping: tell every client, so none waits for its idle timeout.
        for c in self.clients.values_mut() {
            let _ = c.conn.close(true, codes::H3_NO_ERROR, b"server stopping");
            udp::flush(&self.socket, &mut c.conn, c.peer, CID_LEN, &c.id, &c.keys);
        }
    }

    /// Our connection ID for a client's first destination connection ID.
    fn derive_cid(&self, dcid: &[u8]) -> Vec<u8> {
        let tag = ring::hmac::sign(&self.cid_key, dcid);
        tag.as_ref()[..CID_LEN].to_vec()
    }

    /// Steps 2 and 3 for each datagram of one read (one read may hold several datagrams of
    /// one sender: GRO, `udp.rs`).
    fn datagrams(&mut self, read: udp::Got, buf: &mut [u8]) {
        for datagram in read.datagrams(buf) {
            self.datagram(datagram, read.from);
        }
    }

    /// Steps 2 and 3 for one datagram.
    fn datagram(&mut self, buf: &mut [u8], from: SocketAddr) {
        let len = buf.len();
        trace::received(Layer::Quic, || {
            // A 1-RTT packet's key phase, unmasked with its connection's key log.
            let note = packet::decode(buf, CID_LEN)
                .ok()
                .and_then(|h| self.routes.get(&h.dcid))
                .and_then(|key| self.clients.get(key))
                .map(|c| c.keys.note(buf, CID_LEN, true))
                .unwrap_or_default();
            format!(
                "datagram {len} bytes from {from}: {}{note}",
                packet::describe_datagram(buf, CID_LEN)
            )
        });
        let header = match packet::decode(buf, CID_LEN) {
            Ok(h) => h,
            Err(e) => {
                trace::event(Layer::Quic, || format!("dropped: {e}"));
                return;
            }
        };
        let key = if let Some(key) = self.routes.get(&header.dcid) {
            key.clone()
        } else {
            let derived = self.derive_cid(&header.dcid);
            if self.clients.contains_key(&derived) {
                derived
            } else {
                match self.new_connection(&header, buf.len(), from) {
                    Some(cid) => cid,
                    None => return,
                }
            }
        };
        let Some(client) = self.clients.get_mut(&key) else {
            return;
        };
        let info = quiche::RecvInfo {
            from,
            to: self.local,
        };
        let was_established = client.conn.is_established();
        let was_early = client.conn.is_in_early_data();
        let packets_before = client.conn.stats().recv;
        match client.conn.recv(buf, info) {
            // quiche drops what it cannot authenticate, silently: the trace says so.
            Ok(_) if client.conn.stats().recv == packets_before => {
                trace::event(Layer::Quic, || udp::unauthenticated(&client.id))
            }
            Ok(_) => {}
            // A protocol violation closes the connection with CONNECTION_CLOSE (step 7).
            Err(e) => trace::event(Layer::Quic, || {
                format!("{}: quiche refused the datagram: {e}", client.id)
            }),
        }
        if !was_early && !was_established && client.conn.is_in_early_data() {
            trace::event(Layer::Quic, || {
                format!(
                    "{}: resuming a session: 0-RTT accepted, requests read before the handshake completes go through the early-data policy",
                    client.id
                )
            });
        }
        if !was_established && client.conn.is_established() {
            trace::event(Layer::Quic, || handshake_line(client));
        }
        // 6, at once for a connection in 0-RTT: the requests this datagram carried are read
        // now, while the handshake is still incomplete, because the next datagram of the
        // batch may be the client's Finished, and a request read after that could no longer
        // be told from one sent after the handshake.
        if client.conn.is_in_early_data() {
            self.http3(&key);
        }
    }

    /// Step 7, before sending: spare connection IDs for every connection (routed from now
    /// on), retired ones forgotten, and the path events of this turn traced.
    fn paths(&mut self) {
        for (key, c) in self.clients.iter_mut() {
            for cid in self.ids.issue(&mut c.conn, &c.id) {
                self.routes.insert(cid, key.clone());
            }
            for cid in paths::retired(&mut c.conn, &c.id) {
                // The first ID stays: it names the connection in the loop's tables.
                if &cid != key {
                    self.routes.remove(&cid);
                }
            }
            if let Some(peer) = c.paths.events(&mut c.conn, &c.id) {
                let left = std::mem::replace(&mut c.peer, peer);
                c.paths.leaving(left, peer);
            }
            // 7a. The path it left: one packet of it, sent to where the peer is now, so that
            //     quiche can declare lost what never arrived there (`paths.rs`); while that
            //     path's window is full, tried again every turn.
            if let Some(ping) = c
                .paths
                .settle(&mut c.conn, self.local, c.peer, CID_LEN, &c.id)
            {
                udp::send(&self.socket, &ping, c.peer);
            }
            // 7b. A new path whose PATH_CHALLENGE went unanswered: challenged again.
            c.paths.rechallenge(&mut c.conn, Instant::now(), &c.id);
        }
    }

    /// Step 6 for one connection: HTTP/3 opened once QUIC is up, its events, responses
    /// waiting for credit, then the handlers of requests that are complete.
    fn http3(&mut self, cid: &[u8]) {
        let Some(c) = self.clients.get_mut(cid) else {
            return;
        };
        // 6a. HTTP/3's control stream and QPACK streams once QUIC is up (RFC 9114 §6.2).
        if !open_http3(c, &self.h3) {
            return;
        }
        let Some(mut http3) = c.http3.take() else {
            return;
        };
        // 6b. Every event quiche has: requests' fields, bodies, ends, resets.
        let ready = events(
            c,
            &mut http3,
            self.config.max_body,
            self.config.early_policy,
        );
        // 6c. Responses that could not go out completely: continue where they stopped (a
        //     file body: its next 64 KiB read once quiche has taken the last, `streams.rs`).
        let waiting: Vec<u64> = c.outgoing.keys().copied().collect();
        for stream in waiting {
            push_response(c, &mut http3, stream);
        }
        c.http3 = Some(http3);
        // 6d. Complete requests to their handlers.
        for (stream, request) in ready {
            self.dispatch(cid.to_vec(), stream, request);
        }
    }

    /// Runs the handler in a thread of its own; its answer comes back in step 5.
    fn dispatch(&self, cid: Vec<u8>, stream: u64, request: Request) {
        if self.running.load(Ordering::SeqCst) >= MAX_HANDLERS {
            trace::event(Layer::H3, || {
                format!("stream {stream}: {MAX_HANDLERS} handlers already running: 503")
            });
            let _ = self.done_tx.send(Done {
                cid,
                stream,
                method: request.method.clone(),
                priority: h3::DEFAULT_PRIORITY,
                response: Response::text(503, "too many requests in progress; try again"),
            });
            wake(self.local);
            return;
        }
        let (cid_again, method_again) = (cid.clone(), request.method.clone());
        let handler = self.handler.clone();
        let tx = self.done_tx.clone();
        let role = self.role;
        let wake_to = udp::reachable(self.local);
        let running = self.running.clone();
        running.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name(format!("h3 stream {stream}"))
            .spawn(move || {
                let _role = role.map(trace::role);
                let method = request.method.clone();
                let priority = h3::priority(request.headers.get("priority").unwrap_or(""));
                let what = format!("{} {} (HTTP/3)", request.method, request.target);
                let response = match crate::catch::call(|| handler.handle(&request)) {
                    Ok(r) => r,
                    Err(p) => {
                        crate::catch::report(Layer::H3, &what, &p, "answered 500, serving on");
                        Response::text(500, "the handler panicked")
                    }
                };
                running.fetch_sub(1, Ordering::SeqCst);
                let _ = tx.send(Done {
                    cid,
                    stream,
                    method,
                    priority,
                    response,
                });
                // Wake the loop: an empty datagram to its socket.
                if let Ok(s) = UdpSocket::bind(crate::l4::background::loopback_for(&wake_to)) {
                    let _ = s.send_to(&[], wake_to);
                }
            });
        if let Err(e) = spawned {
            self.running.fetch_sub(1, Ordering::SeqCst);
            trace::event(Layer::H3, || {
                format!("no thread for stream {stream}: {e}: 503")
            });
            let _ = self.done_tx.send(Done {
                cid: cid_again,
                stream,
                method: method_again,
                priority: h3::DEFAULT_PRIORITY,
                response: Response::text(503, "the server cannot take this request now"),
            });
            wake(self.local);
        }
    }

    /// Step 5 for one answer: queue it on its stream (if the connection is still there).
    fn respond(&mut self, done: Done) {
        let Some(c) = self.clients.get_mut(&done.cid) else {
            return;
        };
        let Some(mut http3) = c.http3.take() else {
            return;
        };
        let (urgency, incremental) = done.priority;
        if (urgency, incremental) != h3::DEFAULT_PRIORITY {
            trace::event(Layer::H3, || {
                format!(
                    "{}: stream {}: priority u={urgency}{} (RFC 9218){}",
                    c.id,
                    done.stream,
                    if incremental { ", i" } else { "" },
                    if incremental {
                        ": sent in turn with the other incremental streams of its urgency"
                    } else {
                        ""
                    }
                )
            });
        }
        let priority = quiche::h3::Priority::new(urgency, incremental);
        queue_with(
            c,
            &mut http3,
            done.stream,
            &done.method,
            done.response,
            priority,
        );
        c.http3 = Some(http3);
    }
}

/// The handshake's end: how long it took, and whether the client resumed and sent 0-RTT.
fn handshake_line(c: &Client) -> String {
    let resumed = if c.conn.is_resumed() {
        "resumed"
    } else {
        "not resumed (full handshake)"
    };
    format!(
        "{}: handshake complete after {:.1} ms, ALPN {}, {resumed}, {}",
        c.id,
        c.started.elapsed().as_secs_f64() * 1000.0,
        String::from_utf8_lossy(c.conn.application_proto()),
        early::reason(c.conn.early_data_reason(), true)
    )
}

/// A handler that answers every request with the same words: for the tour and tests.
pub fn hello(_req: &Request) -> Response {
    Response::text(200, "hello over HTTP/3")
}

/// The stop signal's partner: an empty datagram wakes a loop blocked in `recv_from`.
pub fn wake(addr: SocketAddr) {
    let to = udp::reachable(addr);
    if let Ok(s) = UdpSocket::bind(crate::l4::background::loopback_for(&to)) {
        let _ = s.send_to(&[], to);
    }
}

/// A connection whose quiche panicked while sending: said in one line, as a handler's panic
/// is (a debug build of quiche 0.30 overflowed a sum over two active paths after a path
/// failed validation and came back, README "Connection migration"; a release build wraps).
fn gave_up(id: &str, p: &catch::Panic) {
    catch::say(
        Layer::Quic,
        format!(
            "{id}: quiche {p} while sending; the connection is dropped without a CONNECTION_CLOSE (its state is unknown), the other connections are served"
        ),
    );
}
