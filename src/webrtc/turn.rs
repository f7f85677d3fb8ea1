//! A TURN server (RFC 8656, UDP transport): a relay for clients that cannot reach their peer
//! directly (a symmetric NAT on one side: RFC 8445 §5.1.1.2's relayed candidate). A client
//! *allocates* a relayed address on the server; its peer sends there; the server passes the
//! data on, in a Data indication or on a channel, and the other way round.
//!
//! The design: one thread, one `poll(2)` over the server's socket and every allocation's
//! relayed socket, everything non-blocking. A thread per allocation would need the
//! allocations behind a lock (a client's ChannelBind and its peer's datagram touch the same
//! state); one poll loop owns them all, so no lock, and expiry is just the poll's timeout.
//! Each turn of the loop:
//!
//! 1. `poll` the server's socket and every relayed socket, at most until the earliest
//!    expiry (an allocation, a permission, a channel);
//! 2. read what clients sent (`Server::read_clients`), sorted by the first byte (RFC 7983):
//!    2a. a STUN request: unknown comprehension-required attributes (420), the long-term
//!    credentials (401, 438: `turn/auth.rs`), then its method (Allocate, Refresh,
//!    CreatePermission, ChannelBind, Binding); a success or an error, signed with the user's
//!    key; 2b. a Send indication: its DATA to its XOR-PEER-ADDRESS, if permitted;
//!    2c. ChannelData: its data to the channel's peer, if the channel is bound;
//!    2d. anything else: dropped;
//! 3. read what peers sent to relayed sockets (`Server::read_peers`): from a permitted IP
//!    only, to the client as ChannelData if a channel is bound to the peer, else as a Data
//!    indication;
//! 4. expire permissions, channels and allocations (a freed allocation closes its socket: the
//!    port goes back to the kernel).
//!
//! A relay is what an attacker wants (RFC 8656 §21): every request is authenticated, peers
//! are limited to the `allow` list (loopback and RFC 5737's documentation ranges by default),
//! allocations are capped per user (486) and in total (508), and every refusal is traced with
//! its code.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use stun::agent::TransactionId;
use stun::attributes::{
    ATTR_CHANNEL_NUMBER, ATTR_DATA, ATTR_DONT_FRAGMENT, ATTR_LIFETIME, ATTR_NONCE, ATTR_REALM,
    ATTR_REQUESTED_TRANSPORT, ATTR_SOFTWARE, ATTR_XOR_PEER_ADDRESS, ATTR_XOR_RELAYED_ADDRESS,
    ATTR_XORMAPPED_ADDRESS, AttrType,
};
use stun::error_code::{ErrorCode, ErrorCodeAttribute};
use stun::integrity::MessageIntegrity;
use stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_INDICATION, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, METHOD_ALLOCATE,
    METHOD_BINDING, METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION, METHOD_DATA, METHOD_REFRESH,
    METHOD_SEND, Message, MessageType, Setter,
};
use stun::textattrs::TextAttribute;
use stun::uattrs::UnknownAttributes;

use super::stun_codec::{self, parse_xor_address, xor_address};
use super::stun_server::{self, unknown_required};
use crate::l4::background::{Background, Wake};
use crate::trace::{self, Layer};

mod alloc;
mod auth;
pub mod client;

use alloc::Allocation;
pub use alloc::{Cidr, DEFAULT_ALLOW};
use auth::{Auth, Verified};

/// The server's settings (the flags of `netlab turn serve`).
#[derive(Clone, Debug)]
pub struct Config {
    /// REALM (RFC 8489 §14.9): part of every user's key.
    pub realm: String,
    /// (username, password) pairs.
    pub users: Vec<(String, String)>,
    /// The peers relays may reach; anything else is refused (403).
    pub allow: Vec<Cidr>,
    /// Allocations one user may hold at once; beyond, 486.
    pub max_per_user: usize,
    /// Allocations at once, all users; beyond, 508.
    pub max_allocations: usize,
    /// An allocation's lifetime when the client asks for less (RFC 8656 §7.2: 600 s).
    pub default_lifetime: Duration,
    /// The longest lifetime granted (RFC 8656 §7.2: 3600 s).
    pub max_lifetime: Duration,
    /// A permission's lifetime (RFC 8656 §9: 300 s, not negotiable).
    pub permission_lifetime: Duration,
    /// A channel binding's lifetime (RFC 8656 §12: 600 s).
    pub channel_lifetime: Duration,
    /// How long a NONCE is accepted before 438 Stale Nonce.
    pub nonce_lifetime: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            realm: "netlab".into(),
            users: vec![("netlab".into(), "netlab".into())],
            allow: DEFAULT_ALLOW
                .iter()
                .filter_map(|c| Cidr::parse(c).ok())
                .collect(),
            max_per_user: 10,
            max_allocations: 100,
            default_lifetime: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
            permission_lifetime: Duration::from_secs(300),
            channel_lifetime: Duration::from_secs(600),
            nonce_lifetime: Duration::from_secs(600),
        }
    }
}

/// Why a request got an error response, or a datagram was dropped: one variant per way.
#[derive(Debug)]
pub enum Refusal {
    /// RFC 8489 §9.2.4: no MESSAGE-INTEGRITY: 401 with REALM and NONCE, the challenge.
    NoCredentials,
    /// MESSAGE-INTEGRITY without USERNAME, REALM or NONCE: 400.
    IncompleteCredentials,
    /// The NONCE is not ours, or too old: 438 with a new one.
    StaleNonce,
    /// No such user: 401.
    UnknownUser(String),
    /// MESSAGE-INTEGRITY does not verify with the user's key: 401.
    WrongIntegrity(String),
    /// RFC 8656 §5: a request on an allocation by another user: 441.
    WrongUser(String),
    /// Comprehension-required attributes we do not know: 420 (RFC 8489 §6.3.1.1).
    UnknownAttributes(Vec<AttrType>),
    /// A request method this server does not serve: 400.
    UnknownMethod(String),
    /// RFC 8656 §7.2: Allocate from a client that already has an allocation: 437.
    AllocationExists,
    /// Refresh, CreatePermission, ChannelBind without an allocation: 437.
    NoAllocation,
    /// Allocate without REQUESTED-TRANSPORT: 400.
    NoTransport,
    /// REQUESTED-TRANSPORT other than UDP (17): 442.
    UnsupportedTransport(u8),
    /// The user holds `max_per_user` allocations already: 486.
    QuotaReached(String, usize),
    /// `max_allocations` reached, or no relayed socket: 508.
    Capacity(String),
    /// No (valid) XOR-PEER-ADDRESS: 400.
    NoPeer,
    /// A peer outside the allow list: 403.
    Forbidden(IpAddr),
    /// The server's own address as a peer: 403.
    ServerItself(SocketAddr),
    /// A peer of the other address family than the relayed address: 443.
    FamilyMismatch(SocketAddr),
    /// CHANNEL-NUMBER missing or outside 0x4000–0x4FFF: 400.
    BadChannel(Option<u16>),
    /// The channel is bound to another peer: 400.
    ChannelTaken(u16, SocketAddr),
    /// The peer is bound to another channel: 400.
    PeerHasChannel(SocketAddr, u16),
}

impl Refusal {
    /// The STUN error code (RFC 8489 §14.8, RFC 8656 §19) and its reason phrase.
    pub fn code(&self) -> (u16, &'static str) {
        match self {
            Refusal::NoCredentials | Refusal::UnknownUser(_) | Refusal::WrongIntegrity(_) => {
                (401, "Unauthorized")
            }
            Refusal::StaleNonce => (438, "Stale Nonce"),
            Refusal::WrongUser(_) => (441, "Wrong Credentials"),
            Refusal::UnknownAttributes(_) => (420, "Unknown Attribute"),
            Refusal::AllocationExists | Refusal::NoAllocation => (437, "Allocation Mismatch"),
            Refusal::UnsupportedTransport(_) => (442, "Unsupported Transport Protocol"),
            Refusal::QuotaReached(..) => (486, "Allocation Quota Reached"),
            Refusal::Capacity(_) => (508, "Insufficient Capacity"),
            Refusal::Forbidden(_) | Refusal::ServerItself(_) => (403, "Forbidden"),
            Refusal::FamilyMismatch(_) => (443, "Peer Address Family Mismatch"),
            Refusal::IncompleteCredentials
            | Refusal::UnknownMethod(_)
            | Refusal::NoTransport
            | Refusal::NoPeer
            | Refusal::BadChannel(_)
            | Refusal::ChannelTaken(..)
            | Refusal::PeerHasChannel(..) => (400, "Bad Request"),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoCredentials => {
                write!(f, "no MESSAGE-INTEGRITY: challenge with REALM and NONCE")
            }
            Refusal::IncompleteCredentials => {
                write!(f, "MESSAGE-INTEGRITY without USERNAME, REALM or NONCE")
            }
            Refusal::StaleNonce => write!(f, "NONCE stale or not ours: a new one"),
            Refusal::UnknownUser(u) => write!(f, "no user {u:?}"),
            Refusal::WrongIntegrity(u) => {
                write!(f, "MESSAGE-INTEGRITY does not verify with {u:?}'s key")
            }
            Refusal::WrongUser(u) => write!(f, "the allocation belongs to {u:?}"),
            Refusal::UnknownAttributes(a) => {
                write!(f, "unknown comprehension-required attributes {a:?}")
            }
            Refusal::UnknownMethod(m) => write!(f, "method {m} not served"),
            Refusal::AllocationExists => write!(f, "this client already has an allocation"),
            Refusal::NoAllocation => write!(f, "no allocation for this client"),
            Refusal::NoTransport => write!(f, "no REQUESTED-TRANSPORT"),
            Refusal::UnsupportedTransport(p) => write!(f, "REQUESTED-TRANSPORT {p}: only UDP (17)"),
            Refusal::QuotaReached(u, n) => write!(f, "{u:?} holds {n} allocations already"),
            Refusal::Capacity(why) => write!(f, "{why}"),
            Refusal::NoPeer => write!(f, "no valid XOR-PEER-ADDRESS"),
            Refusal::Forbidden(ip) => write!(f, "peer {ip} is outside the allowed addresses"),
            Refusal::ServerItself(p) => {
                write!(f, "peer {p} is this server's own address: a loop")
            }
            Refusal::FamilyMismatch(p) => {
                write!(f, "peer {p} is not of the relayed address's family")
            }
            Refusal::BadChannel(Some(n)) => write!(f, "channel 0x{n:04X} outside 0x4000–0x4FFF"),
            Refusal::BadChannel(None) => write!(f, "no CHANNEL-NUMBER"),
            Refusal::ChannelTaken(n, p) => write!(f, "channel 0x{n:04X} is bound to {p}"),
            Refusal::PeerHasChannel(p, n) => write!(f, "peer {p} is bound to channel 0x{n:04X}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// Why the server could not start.
#[derive(Debug)]
pub enum ServeError {
    Io(io::Error),
    /// No random numbers for the nonce key.
    Random,
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Io(e) => write!(f, "{e}"),
            ServeError::Random => write!(f, "no random numbers for the nonce key"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Comprehension-required attributes a TURN request may carry that this server understands.
/// DONT-FRAGMENT is understood and ignored: on loopback nothing fragments.
const KNOWN: [AttrType; 13] = [
    stun::attributes::ATTR_USERNAME,
    stun::attributes::ATTR_MESSAGE_INTEGRITY,
    stun::attributes::ATTR_MESSAGE_INTEGRITY_SHA256,
    ATTR_REALM,
    ATTR_NONCE,
    ATTR_LIFETIME,
    ATTR_REQUESTED_TRANSPORT,
    ATTR_XOR_PEER_ADDRESS,
    ATTR_CHANNEL_NUMBER,
    ATTR_DATA,
    ATTR_DONT_FRAGMENT,
    stun::attributes::ATTR_PRIORITY,
    stun::attributes::ATTR_USE_CANDIDATE,
];

/// RFC 8656 §12: channel numbers a client may bind.
const CHANNELS: std::ops::RangeInclusive<u16> = 0x4000..=0x4FFF;

/// Datagrams read from one socket per turn, so one busy sender cannot starve the others.
const BATCH: usize = 64;

/// A success: the attributes to send, and how the trace says it.
struct Success {
    attrs: Vec<(AttrType, Vec<u8>)>,
    summary: String,
}

/// Everything the loop owns.
struct Server {
    socket: UdpSocket,
    local: SocketAddr,
    config: Config,
    auth: Auth,
    allocations: HashMap<SocketAddr, Allocation>,
    rng: ring::rand::SystemRandom,
    buf: Vec<u8>,
}

/// Serves TURN on `socket` until `stop` is set (and an empty datagram wakes the loop).
pub fn serve(socket: UdpSocket, config: Config, stop: Arc<AtomicBool>) -> Result<(), ServeError> {
    let local = crate::quic::udp::reachable(socket.local_addr().map_err(ServeError::Io)?);
    socket.set_nonblocking(true).map_err(ServeError::Io)?;
    let auth = Auth::new(&config.realm, &config.users, config.nonce_lifetime)
        .map_err(|_| ServeError::Random)?;
    trace::event(Layer::Stun, || {
        let allow: Vec<String> = config.allow.iter().map(|c| c.to_string()).collect();
        format!(
            "TURN server on UDP {local}, realm {:?}, {} users, peers allowed: {}",
            config.realm,
            config.users.len(),
            allow.join(" ")
        )
    });
    let mut server = Server {
        socket,
        local,
        config,
        auth,
        allocations: HashMap::new(),
        rng: ring::rand::SystemRandom::new(),
        buf: vec![0u8; 65535],
    };
    server.run(&stop);
    Ok(())
}

/// Serves TURN in a background thread of this process (tests, the NAT tour); stopping it sets
/// the flag and wakes the loop with an empty datagram.
pub fn spawn(socket: UdpSocket, config: Config) -> io::Result<Background> {
    let addr = crate::quic::udp::reachable(socket.local_addr()?);
    let role = trace::current_role();
    Background::start(
        format!("turn server {addr}"),
        addr,
        Wake::Udp,
        move |stop| {
            let _role = role.map(trace::role);
            if let Err(e) = serve(socket, config, stop) {
                trace::event(Layer::Stun, || format!("TURN server stopped: {e}"));
            }
        },
    )
}

impl Server {
    fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            // 1. Wait for the server's socket or a relayed one, at most until an expiry.
            let Some((clients, peers)) = self.wait() else {
                continue;
            };
            if stop.load(Ordering::SeqCst) {
                break;
            }
            // 2. What clients sent.
            if clients {
                self.read_clients();
            }
            // 3. What peers sent to relayed addresses.
            for client in peers {
                self.read_peers(client);
            }
            // 4. Expiry.
            self.expire(Instant::now());
        }
    }

    /// Step 1: poll; whether the server's socket is readable, and which allocations' relayed
    /// sockets are. `None` when poll was interrupted or failed.
    fn wait(&self) -> Option<(bool, Vec<SocketAddr>)> {
        let now = Instant::now();
        let next = self
            .allocations
            .values()
            .map(Allocation::next_deadline)
            .min();
        let wait = next.map_or(Duration::from_secs(60), |d| {
            d.saturating_duration_since(now)
        });
        // Rounded up: a deadline 0.3 ms away must not become poll(0) and a busy wait.
        let ms = u16::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
        let clients: Vec<SocketAddr> = self.allocations.keys().copied().collect();
        let mut fds = vec![PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
        for c in &clients {
            fds.push(PollFd::new(
                self.allocations[c].relay.as_fd(),
                PollFlags::POLLIN,
            ));
        }
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return None,
            Err(e) => {
                trace::event(Layer::Stun, || format!("poll() failed: {e}; still serving"));
                std::thread::sleep(Duration::from_millis(10));
                return None;
            }
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        let peers = clients
            .into_iter()
            .zip(&fds[1..])
            .filter(|(_, f)| ready(f))
            .map(|(c, _)| c)
            .collect();
        Some((ready(&fds[0]), peers))
    }

    /// Step 2: every datagram queued on the server's socket (a batch at most).
    fn read_clients(&mut self) {
        for _ in 0..BATCH {
            let (n, from) = match self.socket.recv_from(&mut self.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    trace::event(Layer::Stun, || format!("recv_from failed: {e}"));
                    return;
                }
            };
            let datagram = self.buf[..n].to_vec();
            match datagram.first() {
                // An empty datagram: the stop flag's wake-up (or noise).
                None => {}
                // RFC 7983: 0–3 is STUN, 64–79 is ChannelData (0x4000–0x4FFF).
                Some(0..=3) => self.stun(&datagram, from),
                Some(64..=79) => self.channel_data(&datagram, from),
                Some(b) => trace::received(Layer::Stun, || {
                    format!(
                        "{n} bytes from {from} dropped: first byte {b} is neither STUN nor ChannelData"
                    )
                }),
            }
        }
    }

    /// Step 2a–2b: a STUN message from a client.
    fn stun(&mut self, datagram: &[u8], from: SocketAddr) {
        let m = match stun_codec::decode(datagram, false) {
            Ok(m) => m,
            Err(e) => {
                trace::received(Layer::Stun, || {
                    format!("{} bytes from {from} dropped: {e}", datagram.len())
                });
                return;
            }
        };
        match (m.typ.class, m.typ.method) {
            (CLASS_REQUEST, METHOD_BINDING) => stun_server::reply(&self.socket, datagram, from),
            (CLASS_REQUEST, _) => self.request(&m, from),
            (CLASS_INDICATION, METHOD_SEND) => self.send_indication(&m, from),
            _ => trace::received(Layer::Stun, || {
                format!(
                    "{} from {from} dropped: not a request nor a Send indication",
                    m.typ
                )
            }),
        }
    }

    /// Step 2a: a request: attributes, credentials, method; the answer, traced and sent.
    fn request(&mut self, m: &Message, from: SocketAddr) {
        let now = Instant::now();
        let user = TextAttribute::get_from_as(m, stun::attributes::ATTR_USERNAME)
            .map(|u| format!(" USERNAME={:?}", u.text))
            .unwrap_or_default();
        trace::received(Layer::Stun, || {
            format!("{} Request from {from}{user}", name(m))
        });
        let unknown = unknown_required(m, &KNOWN);
        let verified = if unknown.is_empty() {
            self.auth.verify(m, now)
        } else {
            Err(Refusal::UnknownAttributes(unknown))
        };
        let (outcome, key) = match verified {
            Ok(v) => (self.method(m, from, &v, now), Some(v.key)),
            Err(refusal) => (Err(refusal), None),
        };
        let response = match outcome {
            Ok(ok) => {
                trace::sent(Layer::Stun, || {
                    format!("{} Success {}", name(m), ok.summary)
                });
                self.success(m, ok.attrs, key.as_ref())
            }
            Err(refusal) => {
                let (code, reason) = refusal.code();
                trace::sent(Layer::Stun, || {
                    format!("{} Error {code} {reason} to {from}: {refusal}", name(m))
                });
                self.error(m, &refusal, key.as_ref(), now)
            }
        };
        match response {
            Ok(bytes) => self.send(&bytes, from),
            Err(e) => trace::event(Layer::Stun, || format!("no response built: {e}")),
        }
    }

    /// Step 2a, once the credentials verified: the method itself.
    fn method(
        &mut self,
        m: &Message,
        from: SocketAddr,
        v: &Verified,
        now: Instant,
    ) -> Result<Success, Refusal> {
        if m.typ.method != METHOD_ALLOCATE {
            match self.allocations.get(&from) {
                None => return Err(Refusal::NoAllocation),
                Some(a) if a.user != v.user => return Err(Refusal::WrongUser(a.user.clone())),
                Some(_) => {}
            }
        }
        match m.typ.method {
            METHOD_ALLOCATE => self.allocate(m, from, &v.user, now),
            METHOD_REFRESH => self.refresh(m, from, now),
            METHOD_CREATE_PERMISSION => self.create_permission(m, from, now),
            METHOD_CHANNEL_BIND => self.channel_bind(m, from, now),
            other => Err(Refusal::UnknownMethod(other.to_string())),
        }
    }

    /// Allocate (RFC 8656 §7.2): a relayed socket for this client, if it has none, asks for
    /// UDP, and its user and the server have room.
    fn allocate(
        &mut self,
        m: &Message,
        from: SocketAddr,
        user: &str,
        now: Instant,
    ) -> Result<Success, Refusal> {
        if let Some(a) = self.allocations.get(&from) {
            // §7.2: a retransmission of the Allocate that made it (its answer was lost) gets
            // the same success again; any other Allocate on this 5-tuple is a mismatch.
            if a.transaction == m.transaction_id.0 {
                let left = a.expires.saturating_duration_since(now);
                return Ok(allocated(m, from, a.relayed, left));
            }
            return Err(Refusal::AllocationExists);
        }
        let transport = m
            .get(ATTR_REQUESTED_TRANSPORT)
            .map_err(|_| Refusal::NoTransport)?;
        match transport.first() {
            Some(17) => {}
            Some(&p) => return Err(Refusal::UnsupportedTransport(p)),
            None => return Err(Refusal::NoTransport),
        }
        let held = self.allocations.values().filter(|a| a.user == user).count();
        if held >= self.config.max_per_user {
            return Err(Refusal::QuotaReached(user.to_string(), held));
        }
        if self.allocations.len() >= self.config.max_allocations {
            let n = self.allocations.len();
            return Err(Refusal::Capacity(format!(
                "{n} allocations: the server's maximum"
            )));
        }
        let relay = UdpSocket::bind(SocketAddr::new(self.local.ip(), 0))
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|e| Refusal::Capacity(format!("no relayed socket: {e}")))?;
        let relayed = relay
            .local_addr()
            .map_err(|e| Refusal::Capacity(format!("no relayed address: {e}")))?;
        let lifetime = self.lifetime(m);
        let mut alloc = Allocation::new(from, user.to_string(), relay, relayed, now + lifetime);
        alloc.transaction = m.transaction_id.0;
        self.allocations.insert(from, alloc);
        trace::event(Layer::Stun, || {
            let secs = lifetime.as_secs();
            format!("allocation {from} ↔ {relayed} for {user:?}, {secs} s")
        });
        Ok(allocated(m, from, relayed, lifetime))
    }

    /// RFC 8656 §7.2: the lifetime asked for, at least the default and at most the maximum.
    fn lifetime(&self, m: &Message) -> Duration {
        let asked = requested_lifetime(m).unwrap_or(self.config.default_lifetime);
        asked
            .min(self.config.max_lifetime)
            .max(self.config.default_lifetime)
    }

    /// Refresh (RFC 8656 §7.3): a new lifetime; 0 deletes the allocation.
    fn refresh(&mut self, m: &Message, from: SocketAddr, now: Instant) -> Result<Success, Refusal> {
        if requested_lifetime(m) == Some(Duration::ZERO) {
            if let Some(a) = self.allocations.remove(&from) {
                trace::event(Layer::Stun, || {
                    format!(
                        "allocation {from} ↔ {} deleted: relayed port freed",
                        a.relayed
                    )
                });
            }
            return Ok(Success {
                attrs: vec![(ATTR_LIFETIME, 0u32.to_be_bytes().to_vec())],
                summary: "LIFETIME=0 (deleted)".into(),
            });
        }
        let lifetime = self.lifetime(m);
        let alloc = self
            .allocations
            .get_mut(&from)
            .ok_or(Refusal::NoAllocation)?;
        alloc.expires = now + lifetime;
        let secs = lifetime.as_secs() as u32;
        Ok(Success {
            attrs: vec![(ATTR_LIFETIME, secs.to_be_bytes().to_vec())],
            summary: format!("LIFETIME={secs}"),
        })
    }

    /// The peer of XOR-PEER-ADDRESS `value`, if the allow list and the relay's family admit it.
    fn admit(&self, value: &[u8], m: &Message, from: SocketAddr) -> Result<SocketAddr, Refusal> {
        let peer = parse_xor_address(value, &m.transaction_id.0).ok_or(Refusal::NoPeer)?;
        if !self.config.allow.iter().any(|c| c.contains(peer.ip())) {
            return Err(Refusal::Forbidden(peer.ip()));
        }
        // Relaying to the server's own socket would feed the relay's output back in as
        // requests from the relayed address: a loop, refused like any forbidden peer.
        if peer == self.local {
            return Err(Refusal::ServerItself(peer));
        }
        let relayed = self.allocations.get(&from).map(|a| a.relayed);
        if relayed.is_some_and(|r| r.is_ipv4() != peer.is_ipv4()) {
            return Err(Refusal::FamilyMismatch(peer));
        }
        Ok(peer)
    }

    /// CreatePermission (RFC 8656 §9.2): every XOR-PEER-ADDRESS admitted, or none installed.
    fn create_permission(
        &mut self,
        m: &Message,
        from: SocketAddr,
        now: Instant,
    ) -> Result<Success, Refusal> {
        let mut peers = Vec::new();
        for a in m
            .attributes
            .0
            .iter()
            .filter(|a| a.typ == ATTR_XOR_PEER_ADDRESS)
        {
            peers.push(self.admit(&a.value, m, from)?);
        }
        if peers.is_empty() {
            return Err(Refusal::NoPeer);
        }
        let until = now + self.config.permission_lifetime;
        let alloc = self
            .allocations
            .get_mut(&from)
            .ok_or(Refusal::NoAllocation)?;
        for p in &peers {
            alloc.permit(p.ip(), until);
        }
        let ips: Vec<String> = peers.iter().map(|p| p.ip().to_string()).collect();
        let secs = self.config.permission_lifetime.as_secs();
        Ok(Success {
            attrs: Vec::new(),
            summary: format!("permission for {} ({secs} s)", ips.join(", ")),
        })
    }

    /// ChannelBind (RFC 8656 §11.2): a channel number for one peer, and its permission.
    fn channel_bind(
        &mut self,
        m: &Message,
        from: SocketAddr,
        now: Instant,
    ) -> Result<Success, Refusal> {
        let number = m
            .get(ATTR_CHANNEL_NUMBER)
            .ok()
            .filter(|v| v.len() >= 2)
            .map(|v| u16::from_be_bytes([v[0], v[1]]));
        let number = match number {
            Some(n) if CHANNELS.contains(&n) => n,
            other => return Err(Refusal::BadChannel(other)),
        };
        let value = m.get(ATTR_XOR_PEER_ADDRESS).map_err(|_| Refusal::NoPeer)?;
        let peer = self.admit(&value, m, from)?;
        let (channel_lifetime, permission_lifetime) = (
            self.config.channel_lifetime,
            self.config.permission_lifetime,
        );
        let alloc = self
            .allocations
            .get_mut(&from)
            .ok_or(Refusal::NoAllocation)?;
        alloc.bind(number, peer, now + channel_lifetime)?;
        alloc.permit(peer.ip(), now + permission_lifetime);
        Ok(Success {
            attrs: Vec::new(),
            summary: format!(
                "channel 0x{number:04X} → {peer} ({} s)",
                channel_lifetime.as_secs()
            ),
        })
    }

    /// A success response: `attrs`, SOFTWARE, MESSAGE-INTEGRITY with the user's key.
    fn success(
        &self,
        m: &Message,
        attrs: Vec<(AttrType, Vec<u8>)>,
        key: Option<&MessageIntegrity>,
    ) -> Result<Vec<u8>, stun_codec::CodecError> {
        let typ = MessageType::new(m.typ.method, CLASS_SUCCESS_RESPONSE);
        let software = TextAttribute::new(ATTR_SOFTWARE, stun_server::SOFTWARE.into());
        stun_codec::build(typ, m.transaction_id, &attrs, &[&software], key)
    }

    /// An error response: ERROR-CODE; UNKNOWN-ATTRIBUTES for 420; REALM and a new NONCE for
    /// 401 and 438 (the challenge: unsigned, RFC 8489 §9.2.4); signed with the user's key when
    /// the credentials verified.
    fn error(
        &self,
        m: &Message,
        refusal: &Refusal,
        key: Option<&MessageIntegrity>,
        now: Instant,
    ) -> Result<Vec<u8>, stun_codec::CodecError> {
        let typ = MessageType::new(m.typ.method, CLASS_ERROR_RESPONSE);
        let (code, reason) = refusal.code();
        let err = ErrorCodeAttribute {
            code: ErrorCode(code),
            reason: reason.as_bytes().to_vec(),
        };
        let unknown = match refusal {
            Refusal::UnknownAttributes(a) => UnknownAttributes(a.clone()),
            _ => UnknownAttributes(Vec::new()),
        };
        let realm = TextAttribute::new(ATTR_REALM, self.auth.realm.clone());
        let nonce = TextAttribute::new(ATTR_NONCE, self.auth.nonce(now));
        let software = TextAttribute::new(ATTR_SOFTWARE, stun_server::SOFTWARE.into());
        let mut setters: Vec<&dyn Setter> = vec![&err];
        if !unknown.0.is_empty() {
            setters.push(&unknown);
        }
        if matches!(code, 401 | 438) {
            setters.push(&realm);
            setters.push(&nonce);
        }
        setters.push(&software);
        stun_codec::build(typ, m.transaction_id, &[], &setters, key)
    }

    /// Step 2b: a Send indication (RFC 8656 §10.2): DATA to XOR-PEER-ADDRESS, if permitted.
    /// Indications cannot be authenticated; the permission is the check.
    fn send_indication(&mut self, m: &Message, from: SocketAddr) {
        let now = Instant::now();
        let peer = m
            .get(ATTR_XOR_PEER_ADDRESS)
            .ok()
            .and_then(|v| parse_xor_address(&v, &m.transaction_id.0));
        let (Some(peer), Ok(data)) = (peer, m.get(ATTR_DATA)) else {
            trace::received(Layer::Stun, || {
                format!("Send indication from {from} dropped: no XOR-PEER-ADDRESS or DATA")
            });
            return;
        };
        let Some(alloc) = self.allocations.get(&from) else {
            trace::received(Layer::Stun, || {
                format!("Send indication from {from} dropped: no allocation")
            });
            return;
        };
        if !alloc.permitted(peer.ip(), now) {
            trace::received(Layer::Stun, || {
                format!(
                    "Send indication from {from} to {peer} dropped: no permission for {}",
                    peer.ip()
                )
            });
            return;
        }
        trace::received(Layer::Stun, || {
            format!(
                "Send indication from {from}: {} bytes to {peer}",
                data.len()
            )
        });
        relay_to_peer(alloc, &data, peer);
    }

    /// Step 2c: ChannelData from a client (RFC 8656 §12.4): its data to the bound peer.
    fn channel_data(&mut self, datagram: &[u8], from: SocketAddr) {
        let now = Instant::now();
        let number = u16::from_be_bytes([datagram[0], datagram.get(1).copied().unwrap_or(0)]);
        let len = datagram
            .get(2..4)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
        // Over UDP the padding to 4 bytes may be missing (§12.5): only the length must fit.
        let Some(data) = len.and_then(|l| datagram.get(4..4 + l)) else {
            trace::received(Layer::Stun, || {
                format!(
                    "ChannelData from {from} dropped: its length field exceeds the {} bytes",
                    datagram.len()
                )
            });
            return;
        };
        let Some(alloc) = self.allocations.get(&from) else {
            trace::received(Layer::Stun, || {
                format!("ChannelData 0x{number:04X} from {from} dropped: no allocation")
            });
            return;
        };
        let Some(peer) = alloc.channel_peer(number, now) else {
            trace::received(Layer::Stun, || {
                format!("ChannelData 0x{number:04X} from {from} dropped: channel not bound")
            });
            return;
        };
        if !alloc.permitted(peer.ip(), now) {
            trace::received(Layer::Stun, || {
                format!(
                    "ChannelData 0x{number:04X} from {from} dropped: permission for {} expired",
                    peer.ip()
                )
            });
            return;
        }
        trace::received(Layer::Stun, || {
            format!(
                "ChannelData 0x{number:04X} from {from}: {} bytes to {peer}",
                data.len()
            )
        });
        relay_to_peer(alloc, data, peer);
    }

    /// Step 3: datagrams peers sent to `client`'s relayed address.
    fn read_peers(&mut self, client: SocketAddr) {
        let now = Instant::now();
        for _ in 0..BATCH {
            let Some(alloc) = self.allocations.get(&client) else {
                return;
            };
            let (n, peer) = match alloc.relay.recv_from(&mut self.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    trace::event(Layer::Stun, || {
                        format!("relay {} recv_from failed: {e}", alloc.relayed)
                    });
                    return;
                }
            };
            if !alloc.permitted(peer.ip(), now) {
                trace::received(Layer::Stun, || {
                    format!(
                        "{n} bytes from {peer} to relay {} dropped: no permission for {}",
                        alloc.relayed,
                        peer.ip()
                    )
                });
                continue;
            }
            let data = &self.buf[..n];
            let out = match alloc.channel_of(peer, now) {
                Some(number) => {
                    trace::sent(Layer::Stun, || {
                        format!("ChannelData 0x{number:04X} to {client}: {n} bytes from {peer}")
                    });
                    // Over UDP no padding (§12.5): the length field says where the data ends.
                    let mut out = number.to_be_bytes().to_vec();
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                    out.extend_from_slice(data);
                    Ok(out)
                }
                None => {
                    trace::sent(Layer::Stun, || {
                        format!("Data indication to {client}: {n} bytes from {peer}")
                    });
                    data_indication(&self.rng, peer, data)
                }
            };
            match out {
                Ok(bytes) => self.send(&bytes, client),
                Err(e) => trace::event(Layer::Stun, || format!("no Data indication built: {e}")),
            }
        }
    }

    /// Step 4: what expired goes; an allocation's socket closes with it.
    fn expire(&mut self, now: Instant) {
        for a in self.allocations.values_mut() {
            for gone in a.expire(now) {
                trace::event(Layer::Stun, || format!("allocation {}: {gone}", a.client));
            }
        }
        self.allocations.retain(|client, a| {
            let keep = now < a.expires;
            if !keep {
                trace::event(Layer::Stun, || {
                    format!(
                        "allocation {client} ↔ {} expired: relayed port freed",
                        a.relayed
                    )
                });
            }
            keep
        });
    }

    fn send(&self, bytes: &[u8], to: SocketAddr) {
        if let Err(e) = self.socket.send_to(bytes, to) {
            trace::event(Layer::Stun, || format!("send_to {to} failed: {e}"));
        }
    }
}

/// The name of a message's method, for the trace.
fn name(m: &Message) -> String {
    match m.typ.method {
        METHOD_ALLOCATE => "Allocate".into(),
        METHOD_REFRESH => "Refresh".into(),
        METHOD_CREATE_PERMISSION => "CreatePermission".into(),
        METHOD_CHANNEL_BIND => "ChannelBind".into(),
        METHOD_BINDING => "Binding".into(),
        other => other.to_string(),
    }
}

/// An Allocate success: XOR-RELAYED-ADDRESS, LIFETIME, XOR-MAPPED-ADDRESS (RFC 8656 §7.2).
fn allocated(m: &Message, from: SocketAddr, relayed: SocketAddr, lifetime: Duration) -> Success {
    let tid = &m.transaction_id.0;
    let secs = lifetime.as_secs() as u32;
    Success {
        attrs: vec![
            (ATTR_XOR_RELAYED_ADDRESS, xor_address(relayed, tid)),
            (ATTR_LIFETIME, secs.to_be_bytes().to_vec()),
            (ATTR_XORMAPPED_ADDRESS, xor_address(from, tid)),
        ],
        summary: format!("XOR-RELAYED-ADDRESS={relayed} XOR-MAPPED-ADDRESS={from} LIFETIME={secs}"),
    }
}

/// LIFETIME (RFC 8656 §18.2), in seconds.
fn requested_lifetime(m: &Message) -> Option<Duration> {
    let v = m.get(ATTR_LIFETIME).ok()?;
    let secs = u32::from_be_bytes(v.get(..4)?.try_into().ok()?);
    Some(Duration::from_secs(u64::from(secs)))
}

/// Sends `data` from the relayed socket to `peer`.
fn relay_to_peer(alloc: &Allocation, data: &[u8], peer: SocketAddr) {
    trace::sent(Layer::Stun, || {
        format!("relay {} → {peer}: {} bytes", alloc.relayed, data.len())
    });
    if let Err(e) = alloc.relay.send_to(data, peer) {
        trace::event(Layer::Stun, || format!("relay send_to {peer} failed: {e}"));
    }
}

/// A Data indication (RFC 8656 §11.4): XOR-PEER-ADDRESS and DATA, a fresh transaction id.
fn data_indication(
    rng: &ring::rand::SystemRandom,
    peer: SocketAddr,
    data: &[u8],
) -> Result<Vec<u8>, stun_codec::CodecError> {
    let mut tid = [0u8; 12];
    ring::rand::SecureRandom::fill(rng, &mut tid)
        .map_err(|_| stun_codec::CodecError::Malformed("no random transaction id".into()))?;
    let typ = MessageType::new(METHOD_DATA, CLASS_INDICATION);
    stun_codec::build(
        typ,
        TransactionId(tid),
        &[
            (ATTR_XOR_PEER_ADDRESS, xor_address(peer, &tid)),
            (ATTR_DATA, data.to_vec()),
        ],
        &[],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_code_and_one_line() {
        let peer: SocketAddr = "8.8.8.8:53".parse().unwrap();
        let table: Vec<(Refusal, u16, &str)> = vec![
            (
                Refusal::NoCredentials,
                401,
                "no MESSAGE-INTEGRITY: challenge with REALM and NONCE",
            ),
            (
                Refusal::IncompleteCredentials,
                400,
                "MESSAGE-INTEGRITY without USERNAME, REALM or NONCE",
            ),
            (
                Refusal::StaleNonce,
                438,
                "NONCE stale or not ours: a new one",
            ),
            (Refusal::UnknownUser("eve".into()), 401, "no user \"eve\""),
            (
                Refusal::WrongIntegrity("ana".into()),
                401,
                "MESSAGE-INTEGRITY does not verify with \"ana\"'s key",
            ),
            (
                Refusal::WrongUser("ana".into()),
                441,
                "the allocation belongs to \"ana\"",
            ),
            (
                Refusal::UnknownAttributes(vec![AttrType(0x31)]),
                420,
                "unknown comprehension-required attributes",
            ),
            (
                Refusal::UnknownMethod("0x5".into()),
                400,
                "method 0x5 not served",
            ),
            (
                Refusal::AllocationExists,
                437,
                "this client already has an allocation",
            ),
            (Refusal::NoAllocation, 437, "no allocation for this client"),
            (Refusal::NoTransport, 400, "no REQUESTED-TRANSPORT"),
            (
                Refusal::UnsupportedTransport(6),
                442,
                "REQUESTED-TRANSPORT 6: only UDP (17)",
            ),
            (
                Refusal::QuotaReached("bo".into(), 2),
                486,
                "\"bo\" holds 2 allocations already",
            ),
            (
                Refusal::Capacity("100 allocations: the server's maximum".into()),
                508,
                "100 allocations: the server's maximum",
            ),
            (Refusal::NoPeer, 400, "no valid XOR-PEER-ADDRESS"),
            (
                Refusal::Forbidden(peer.ip()),
                403,
                "peer 8.8.8.8 is outside the allowed addresses",
            ),
            (
                Refusal::ServerItself(peer),
                403,
                "peer 8.8.8.8:53 is this server's own address: a loop",
            ),
            (
                Refusal::FamilyMismatch(peer),
                443,
                "peer 8.8.8.8:53 is not of the relayed address's family",
            ),
            (
                Refusal::BadChannel(Some(0x3000)),
                400,
                "channel 0x3000 outside 0x4000–0x4FFF",
            ),
            (Refusal::BadChannel(None), 400, "no CHANNEL-NUMBER"),
            (
                Refusal::ChannelTaken(0x4001, peer),
                400,
                "channel 0x4001 is bound to 8.8.8.8:53",
            ),
            (
                Refusal::PeerHasChannel(peer, 0x4001),
                400,
                "peer 8.8.8.8:53 is bound to channel 0x4001",
            ),
        ];
        for (refusal, code, line) in table {
            assert_eq!(refusal.code().0, code, "{refusal}");
            let shown = refusal.to_string();
            assert!(shown.starts_with(line), "{shown:?} vs {line:?}");
            assert!(!shown.contains('\n'));
        }
    }

    #[test]
    fn nonces_verify_until_they_are_stale() {
        let auth = Auth::new("r", &[("u".into(), "p".into())], Duration::from_secs(10)).unwrap();
        let now = Instant::now();
        let nonce = auth.nonce(now);
        let m = |nonce: &str, pass: &str| {
            let key =
                MessageIntegrity::new_long_term_integrity("u".into(), "r".into(), pass.into());
            let user = TextAttribute::new(stun::attributes::ATTR_USERNAME, "u".into());
            let realm = TextAttribute::new(ATTR_REALM, "r".into());
            let nonce = TextAttribute::new(ATTR_NONCE, nonce.into());
            let typ = MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST);
            let bytes = stun_codec::build(
                typ,
                TransactionId([7; 12]),
                &[],
                &[&user, &realm, &nonce],
                Some(&key),
            )
            .unwrap();
            stun_codec::decode(&bytes, true).unwrap()
        };
        assert!(auth.verify(&m(&nonce, "p"), now).is_ok());
        assert!(matches!(
            auth.verify(&m(&nonce, "x"), now),
            Err(Refusal::WrongIntegrity(_))
        ));
        let later = now + Duration::from_secs(11);
        assert!(matches!(
            auth.verify(&m(&nonce, "p"), later),
            Err(Refusal::StaleNonce)
        ));
        // A nonce with its birth changed no longer matches its tag.
        let (_, tag) = nonce.split_once('-').unwrap();
        let forged = format!("ffffff-{tag}");
        assert!(matches!(
            auth.verify(&m(&forged, "p"), now),
            Err(Refusal::StaleNonce)
        ));
    }
}
