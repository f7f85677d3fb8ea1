//! A WebRTC peer with data channels only (RFC 8831; the offer/answer of RFC 8829, JSEP,
//! reduced to one `m=application` section), assembled from the pieces of this folder, with
//! a blocking API that fits on one screen:
//!
//! ```no_run
//! use netlab::webrtc::dcep::ChannelType;
//! use netlab::webrtc::dtls::Identity;
//! use netlab::webrtc::peer::{Config, Event, Message, Peer};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let answer_from_the_other_side = String::new();
//! let offer = Peer::offer(&Identity::generate()?, Config::default())?;
//! // … send offer.sdp to the other side, get its answer back …
//! let mut peer = offer.accept(&answer_from_the_other_side)?;
//! let chat = peer.open("chat", ChannelType::RELIABLE);
//! peer.wait_open(std::time::Duration::from_secs(10))?;
//! peer.send(chat, Message::Text("hello".into()))?;
//! while let Some(Event::Message(_, m)) = peer.recv(std::time::Duration::from_secs(5)) {
//!     println!("{m:?}");
//! }
//! peer.close();
//! # Ok(()) }
//! ```
//!
//! Behind it, `Peer::start` runs two threads per peer, each a loop of its own:
//! - the socket loop ([`super::socket`]): one UDP socket, datagrams sorted by [`super::demux`];
//!   STUN handled there by the full ICE [`Agent`] (`--ice full`, candidates gathered before
//!   the SDP is written: `full_agent`; or, trickling, the servers' ones after it by the
//!   [`Trickler`]), or answered by the ICE-lite [`Responder`] (and, when
//!   this lite peer offered to a lite answerer, checks sent by the [`Checker`]); DTLS records
//!   passed on (through the TURN client on a relayed pair); consent kept (RFC 7675: the full
//!   agent's checks, or for the lite one no word from the peer for `consent_timeout`);
//! - the association loop (`AssociationLoop`), in stages: waits for ICE, runs the DTLS
//!   handshake ([`super::dtls`]), then SCTP and DCEP ([`super::sctp::run`]) until the end.
//!
//! The application talks to the association loop through two queues: commands in (a
//! [`WakeSender`], the DTLS facade's type, because [`Dtls::wait`] must watch it next to the
//! connection; tokio stays inside `dtls.rs`), [`Event`]s out (a std channel).

use super::channel::FreeIds;
use super::dcep::{self, ChannelType, Open};
use super::dtls::{
    self, Dtls, DtlsError, Handshake, Identity, RecordReceiver, WakeReceiver, WakeSender,
};
use super::ice::agent::{self, Agent};
use super::ice::priority::{CandidateKind, Policy, Rfc, Role};
use super::ice::trickle::{Trickled, Trickler};
use super::ice::{Checker, Credentials, Responder, gather};
use super::sctp::{self, Settings};
use super::sdp::{self, Description, Setup};
use super::socket::{FullIce, Ice, Locked, SocketLoop};
use super::turn::client::{self as turn_client, Client as TurnClient};
use crate::trace::{self, Layer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use super::session::{Channel, Event, IceFailure, Message, PeerError, SctpFailure};
pub(super) use super::session::{ChannelCmd, Cmd, random};

/// The steps of a session, in order (the values of `Peer::stage`).
const ICE: u8 = 0;
const DTLS: u8 = 1;
const SCTP: u8 = 2;

/// Our `a=max-message-size` (RFC 8841 §6): 256 KiB, what the browsers announce.
const MAX_MESSAGE_SIZE: u32 = 256 * 1024;

/// The Priority of the channels we open (RFC 8832 §5.1): 256, "normal" on RFC 8831 §6.4's
/// scale.
const NORMAL_PRIORITY: u16 = 256;

/// RFC 8839 §5.4 asks at least 4 characters of ice-ufrag and 22 of ice-pwd (24 bits and 128
/// bits of randomness); a little more of each.
const UFRAG_LEN: usize = 8;
const PWD_LEN: usize = 24;

/// Which ICE agent a peer runs (RFC 8445 §2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceMode {
    /// Full when the peer offers or has a STUN or TURN server, lite otherwise (an answerer
    /// on loopback needs no more).
    Auto,
    /// The full agent ([`super::ice::agent`]): gathers, checks, nominates.
    Full,
    /// ICE-lite: a host candidate, and only answers checks.
    Lite,
}

/// A TURN server and the long-term credentials to use it (RFC 8656 §9.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnServer {
    pub addr: SocketAddr,
    pub user: String,
    pub pass: String,
}

/// Settings of one peer.
#[derive(Clone)]
pub struct Config {
    /// The address the UDP socket binds (and the candidate the SDP names).
    pub ip: IpAddr,
    /// How long to wait for the first authenticated connectivity check.
    pub ice_timeout: Duration,
    /// How long the DTLS handshake may take.
    pub dtls_timeout: Duration,
    /// RFC 7675 §5.1: silence from the peer this long ends the session (30 s there).
    pub consent_timeout: Duration,
    /// Our `a=max-message-size` (RFC 8841 §6).
    pub max_message_size: u32,
    /// Lab 10: what answers a DATA_CHANNEL_OPEN (netlab's own decoder and ACK by default).
    pub on_open: dcep::OnOpen,
    /// The trace role of the peer's threads.
    pub role: &'static str,
    /// Full or lite ICE (`--ice`).
    pub ice: IceMode,
    /// Lab 13: the full agent's pair priorities and nomination ([`Rfc`] by default).
    pub policy: Arc<dyn Policy>,
    /// A STUN server for a server-reflexive candidate (`--stun`).
    pub stun: Option<SocketAddr>,
    /// A TURN server for a relayed candidate (`--turn`, `--turn-user`, `--turn-pass`).
    pub turn: Option<TurnServer>,
    /// Gather the relayed candidate only, like a browser's `iceTransportPolicy: "relay"`
    /// (`--relay-only`): every byte goes through the TURN server.
    pub relay_only: bool,
    /// Trickle ICE (RFC 8838, `--trickle on`): the SDP says `a=ice-options:trickle` and
    /// goes with the host candidates; the STUN and TURN servers' ones follow, through
    /// [`Offer::trickled`] or [`Peer::take_gathered`] (an answerer trickles only when the
    /// offer said it could take them). Off: every candidate is gathered before the SDP is
    /// written.
    pub trickle: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ice_timeout: Duration::from_secs(10),
            dtls_timeout: Duration::from_secs(10),
            consent_timeout: Duration::from_secs(30),
            max_message_size: MAX_MESSAGE_SIZE,
            on_open: dcep::answer_open,
            role: "peer",
            ice: IceMode::Auto,
            policy: Arc::new(Rfc),
            stun: None,
            turn: None,
            relay_only: false,
            trickle: false,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("ip", &self.ip)
            .field("ice_timeout", &self.ice_timeout)
            .field("dtls_timeout", &self.dtls_timeout)
            .field("consent_timeout", &self.consent_timeout)
            .field("max_message_size", &self.max_message_size)
            .field("role", &self.role)
            .field("ice", &self.ice)
            .field("stun", &self.stun)
            .field("turn", &self.turn)
            .field("relay_only", &self.relay_only)
            .field("trickle", &self.trickle)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Whether this peer runs the full agent: `--ice`, or by default when it offers (the
    /// offerer controls, RFC 8445 §6.1.1) or has a server to gather from.
    pub fn full_ice(&self, offering: bool) -> bool {
        match self.ice {
            IceMode::Full => true,
            IceMode::Lite => false,
            IceMode::Auto => offering || self.stun.is_some() || self.turn.is_some(),
        }
    }
}

/// RFC 8839 §5.4: ice-char is ALPHA / DIGIT / "+" / "/".
fn ice_string(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    random::<32>()
        .iter()
        .take(len)
        .map(|b| CHARS[(*b as usize) % 64] as char)
        .collect()
}

fn new_credentials() -> Credentials {
    Credentials {
        ufrag: ice_string(UFRAG_LEN),
        pwd: ice_string(PWD_LEN),
    }
}

fn bind(ip: IpAddr) -> Result<UdpSocket, PeerError> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).map_err(|e| PeerError::Io {
        doing: "bind UDP",
        why: format!("{ip}: {e}"),
    })?;
    let local = socket.local_addr().map_err(|e| PeerError::Io {
        doing: "local address",
        why: e.to_string(),
    })?;
    // SCTP sends a window's worth of packets in a burst (up to its peer's a_rwnd, 1 MiB
    // here); the kernel's default receive buffer (about 200 KiB) drops part of such a burst
    // on loopback, and each drop costs a retransmission timeout. The kernel caps the value
    // at net.core.rmem_max; a smaller buffer only means more drops, so failure is ignored.
    let _ =
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBuf, &RECEIVE_BUFFER);
    let got = nix::sys::socket::getsockopt(&socket, nix::sys::socket::sockopt::RcvBuf).unwrap_or(0);
    trace::event(Layer::L4, || {
        format!("bind UDP {local} (ICE host candidate), SO_RCVBUF {got} bytes")
    });
    Ok(socket)
}

/// The receive buffer a peer's socket asks for.
const RECEIVE_BUFFER: usize = 4 << 20;

/// Datagrams that may wait between the socket loop and DTLS (at most ~1.5 MB); more are
/// dropped, like datagrams beyond a full socket buffer.
const DTLS_QUEUE: usize = 1024;

fn describe(
    local: &Credentials,
    identity: &Identity,
    setup: Setup,
    mid: &str,
    socket: &UdpSocket,
    cfg: &Config,
    agent: Option<&Agent>,
) -> Result<Description, PeerError> {
    Ok(Description {
        ice_ufrag: local.ufrag.clone(),
        ice_pwd: local.pwd.clone(),
        ice_lite: agent.is_none(),
        fingerprint: identity.fingerprint,
        setup,
        mid: mid.to_string(),
        sctp_port: sctp::PORT,
        max_message_size: cfg.max_message_size,
        candidates: vec![socket.local_addr().map_err(|e| PeerError::Io {
            doing: "local address",
            why: e.to_string(),
        })?],
        candidate_lines: agent.map(Agent::candidate_lines).unwrap_or_default(),
        // Set by the caller when it trickles.
        trickle: false,
        end_of_candidates: true,
    })
}

/// A full agent for this peer, its candidates gathered (RFC 8445 §5.1.1): host ones from the
/// socket, a server-reflexive one from the STUN server. A server that does not answer costs
/// its candidate, not the session. A peer that trickles gathers only the host ones here: the
/// rest follow its SDP, through the receiver returned ([`start_trickle`]).
fn full_agent(
    socket: &UdpSocket,
    local: &Credentials,
    remote: Option<&Description>,
    role: Role,
    cfg: &Config,
) -> Result<(FullIce, Option<Receiver<Trickled>>), PeerError> {
    let mut agent = Agent::new(agent::Settings {
        role,
        tie_breaker: u64::from_be_bytes(random::<8>()),
        local: local.clone(),
        remote: remote.map_or_else(
            || Credentials {
                ufrag: String::new(),
                pwd: String::new(),
            },
            |r| Credentials {
                ufrag: r.ice_ufrag.clone(),
                pwd: r.ice_pwd.clone(),
            },
        ),
        policy: cfg.policy.clone(),
        consent_interval: CONSENT_INTERVAL,
        consent_timeout: cfg.consent_timeout,
    });
    let bound = socket.local_addr().map_err(|e| PeerError::Io {
        doing: "local address",
        why: e.to_string(),
    })?;
    let hosts = gather::host_addresses(bound);
    if cfg.relay_only {
        trace::event(Layer::Stun, || {
            "relay only: no host or server-reflexive candidate gathered".to_string()
        });
    }
    for h in hosts.iter().filter(|_| !cfg.relay_only) {
        agent.add_local(CandidateKind::Host, *h, *h, None);
    }
    if let Some(r) = remote {
        for line in &r.candidate_lines {
            // A refused candidate is traced by the agent; the others still serve.
            let _ = agent.add_remote(line);
        }
    }
    if trickles(cfg, remote) {
        let (full, rx) = start_trickle(agent, socket, hosts, bound, cfg)?;
        return Ok((full, Some(rx)));
    }
    if let Some(server) = cfg.stun.filter(|_| !cfg.relay_only) {
        match gather::server_reflexive(socket, server, GATHER_TIMEOUT) {
            Ok(mapped) if !hosts.contains(&mapped) => {
                // The base: the host candidate the request left from (for an unspecified
                // socket, the first one of the server's kind of address).
                let base = hosts
                    .iter()
                    .find(|h| h.ip().is_loopback() == server.ip().is_loopback())
                    .copied()
                    .unwrap_or(bound);
                agent.add_local(CandidateKind::ServerReflexive, mapped, base, Some(base));
            }
            Ok(mapped) => trace::event(Layer::Stun, || {
                format!(
                    "STUN server {server} sees us at {mapped}, a host candidate already: no NAT on this path"
                )
            }),
            Err(e) => trace::event(Layer::Stun, || {
                format!("no server-reflexive candidate from {server}: {e}")
            }),
        }
    }
    let turn = cfg
        .turn
        .as_ref()
        .and_then(|t| relayed(&mut agent, socket, t, &hosts));
    let full = FullIce {
        agent,
        turn: turn.map(|c| Arc::new(Mutex::new(c))),
        trickler: None,
    };
    Ok((full, None))
}

/// Whether this peer trickles its own candidates: with `trickle` set and a server to gather
/// from (host candidates alone are all in the SDP at once); an answerer only when the offer
/// said `a=ice-options:trickle` (RFC 8838: both sides must support it).
fn trickles(cfg: &Config, remote: Option<&Description>) -> bool {
    cfg.trickle && (cfg.stun.is_some() || cfg.turn.is_some()) && remote.is_none_or(|r| r.trickle)
}

/// Trickle ICE (RFC 8838): the Binding Request to the STUN server and the TURN Allocate
/// leave now, before our SDP; their answers wait in the socket's buffer for the socket
/// loop, which turns them into candidates after it.
fn start_trickle(
    agent: Agent,
    socket: &UdpSocket,
    hosts: Vec<SocketAddr>,
    bound: SocketAddr,
    cfg: &Config,
) -> Result<(FullIce, Receiver<Trickled>), PeerError> {
    let now = Instant::now();
    let stun = cfg.stun.filter(|_| !cfg.relay_only);
    let mut turn = cfg.turn.as_ref().map(|t| {
        let mut c = TurnClient::new(t.addr, &t.user, &t.pass);
        c.allocate(now);
        c
    });
    // Relay only: no host address is a candidate, nor the base of a server-reflexive one.
    let hosts = if cfg.relay_only { Vec::new() } else { hosts };
    let server = turn.as_ref().map(|c| c.server);
    let (mut trickler, rx) = Trickler::new(stun, server, hosts, bound, GATHER_TIMEOUT, now)
        .map_err(|e| PeerError::Io {
            doing: "build a STUN request",
            why: e.to_string(),
        })?;
    // A send that fails costs that server's candidate (its retransmissions may still get
    // through; else gathering gives up on it), not the session.
    let send = |d: &[u8], to: SocketAddr| {
        if let Err(e) = socket.send_to(d, to) {
            trace::event(Layer::L4, || format!("UDP send to {to} failed: {e}"));
        }
    };
    while let Some((d, to)) = trickler.poll_transmit(now) {
        send(&d, to);
    }
    if let Some(c) = turn.as_mut() {
        while let Some(d) = c.poll_transmit() {
            send(&d, c.server);
        }
    }
    let full = FullIce {
        agent,
        turn: turn.map(|c| Arc::new(Mutex::new(c))),
        trickler: Some(trickler),
    };
    Ok((full, rx))
}

/// RFC 8445 §5.1.1.2: a relayed candidate from the TURN server (and the server-reflexive one
/// its answer names, when there is a NAT on the way). A refusal costs the candidate only.
fn relayed(
    agent: &mut Agent,
    socket: &UdpSocket,
    server: &TurnServer,
    hosts: &[SocketAddr],
) -> Option<TurnClient> {
    let mut client = TurnClient::new(server.addr, &server.user, &server.pass);
    match turn_client::allocate_blocking(socket, &mut client, GATHER_TIMEOUT) {
        Ok(relayed) => {
            let mapped = client.mapped();
            // (No hosts: relay only, no server-reflexive candidate either.)
            let reflexive = mapped.filter(|m| !hosts.contains(m) && !agent.has_local(*m));
            if let (Some(m), Some(&base)) = (reflexive, hosts.first()) {
                agent.add_local(CandidateKind::ServerReflexive, m, base, Some(base));
            }
            agent.add_local(CandidateKind::Relayed, relayed, relayed, mapped);
            Some(client)
        }
        Err(e) => {
            trace::event(Layer::Stun, || {
                format!("no relayed candidate from TURN server {}: {e}", server.addr)
            });
            None
        }
    }
}

/// RFC 7675 §5.1: a consent check about every 5 s.
const CONSENT_INTERVAL: Duration = Duration::from_secs(5);

/// How long a STUN or TURN server may take to answer while gathering.
const GATHER_TIMEOUT: Duration = Duration::from_secs(2);

/// An offer made, waiting for its answer.
pub struct Offer {
    /// The SDP to send to the other side.
    pub sdp: String,
    socket: UdpSocket,
    local: Credentials,
    identity: Identity,
    config: Config,
    /// The full agent, its candidates gathered (`None`: ICE-lite).
    agent: Option<FullIce>,
    /// Trickle ICE: each candidate gathered after the offer, as the value of its
    /// `a=candidate:` line, then `None` for the end (`None` here: the offer has them all).
    /// The candidates are found once the answer is accepted (the socket loop reads the
    /// servers' answers); take this before, and send each to the other side.
    pub trickled: Option<Receiver<Trickled>>,
}

impl Offer {
    /// Applies the other side's answer and starts the session.
    pub fn accept(self, answer: &str) -> Result<Peer, PeerError> {
        let _role = trace::default_role(self.config.role);
        trace::received(Layer::Sdp, || format!("answer, {} bytes", answer.len()));
        let remote = sdp::parse(answer, sdp::Kind::Answer)?;
        trace_description(&remote, "answer");
        let client = sdp::we_are_dtls_client(remote.setup, true);
        if let Some(mut full) = self.agent {
            let agent = &mut full.agent;
            agent.set_remote(Credentials {
                ufrag: remote.ice_ufrag.clone(),
                pwd: remote.ice_pwd.clone(),
            });
            for line in &remote.candidate_lines {
                let _ = agent.add_remote(line);
            }
            let ice = Ice::Full(Box::new(full));
            return Peer::start(
                self.socket,
                self.local,
                &self.identity,
                &remote,
                client,
                ice,
                self.config,
            );
        }
        // RFC 8445 §6.1.1: against a lite answerer we are the controlling full agent and
        // must check; against a full one (aiortc) it checks us, and we answer.
        let checker = match (remote.ice_lite, remote.candidates.first()) {
            (true, Some(addr)) => Some((
                Checker::new(
                    self.local.clone(),
                    Credentials {
                        ufrag: remote.ice_ufrag.clone(),
                        pwd: remote.ice_pwd.clone(),
                    },
                    u64::from_be_bytes(random::<8>()),
                ),
                *addr,
            )),
            (true, None) => {
                return Err(PeerError::Ice(IceFailure::NoCandidate));
            }
            (false, _) => None,
        };
        Peer::start(
            self.socket,
            self.local,
            &self.identity,
            &remote,
            client,
            Ice::Lite(checker),
            self.config,
        )
    }
}

/// Our offer or answer, as sent.
fn trace_sent(d: &Description, what: &str, len: usize) {
    trace::sent(Layer::Sdp, || {
        if d.ice_lite {
            format!(
                "{what}, {len} bytes: setup:{} ice-lite candidate {:?}",
                d.setup.as_str(),
                d.candidates
            )
        } else {
            format!(
                "{what}, {len} bytes: setup:{} full ICE, {} candidate(s): {}{}",
                d.setup.as_str(),
                d.candidate_lines.len(),
                d.candidate_lines.join("; "),
                if d.end_of_candidates {
                    ""
                } else {
                    " (a=ice-options:trickle: more follow)"
                }
            )
        }
    });
}

fn trace_description(d: &Description, what: &str) {
    trace::event(Layer::Sdp, || {
        format!(
            "{what}: ice-ufrag={} {}setup:{} mid={} sctp-port={} max-message-size={} candidates={:?} fingerprint sha-256 {}…{}{}",
            d.ice_ufrag,
            if d.ice_lite { "ice-lite " } else { "" },
            d.setup.as_str(),
            d.mid,
            d.sctp_port,
            d.max_message_size,
            d.candidates,
            &sdp::fingerprint_hex(&d.fingerprint)[..11],
            if d.trickle {
                " ice-options:trickle"
            } else {
                ""
            },
            if d.end_of_candidates {
                " end-of-candidates"
            } else {
                ""
            }
        )
    });
}

fn spawn_error(doing: &'static str) -> impl Fn(std::io::Error) -> PeerError {
    move |e| PeerError::Io {
        doing,
        why: e.to_string(),
    }
}

/// One of the peer's two threads, named, tracing as `role`.
fn spawn(
    name: &str,
    role: &'static str,
    body: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, PeerError> {
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _r = trace::role(role);
            body()
        })
        .map_err(spawn_error("start a thread"))
}

/// What the DTLS handshake needs, handed over once ICE has found the peer.
struct HandshakeInputs {
    identity: Identity,
    remote_fingerprint: [u8; 32],
    /// A clone of the peer's one UDP socket: DTLS sends on it.
    socket: UdpSocket,
    /// What the socket loop passes on.
    inbound: RecordReceiver,
    timeout: Duration,
}

/// The association thread: a session's stages, in order, each a method:
///
/// 1. `AssociationLoop::wait_for_ice`: the socket loop locks the peer's address;
/// 2. `AssociationLoop::handshake`: DTLS with that address;
/// 3. `AssociationLoop::associate`: SCTP and DCEP ([`sctp::run`]) until the end;
/// 4. close_notify, and [`Event::Ended`] to the application.
struct AssociationLoop {
    ice: Receiver<Locked>,
    ice_timeout: Duration,
    /// Taken by stage 2.
    handshake: Option<HandshakeInputs>,
    settings: Settings,
    cmds: WakeReceiver<Cmd>,
    events: Sender<Event>,
    /// Which stage the thread is in, for a timeout's error in [`Peer::wait_open`].
    stage: Arc<AtomicU8>,
    /// Tells the socket loop to end when this thread does.
    stop: Arc<AtomicBool>,
}

impl AssociationLoop {
    fn run(mut self) {
        let result = self.session();
        self.stop.store(true, Ordering::Relaxed);
        if let Err(e) = &result {
            trace::event(Layer::Sctp, || format!("session ended: {e}"));
        }
        let _ = self.events.send(Event::Ended(result.err()));
    }

    fn session(&mut self) -> Result<(), PeerError> {
        // 1. ICE.
        let path = self.wait_for_ice()?;
        // 2. DTLS.
        self.stage.store(DTLS, Ordering::Relaxed);
        let dtls = self.handshake(path)?;
        // 3. SCTP and DCEP.
        self.stage.store(SCTP, Ordering::Relaxed);
        let _ = self.events.send(Event::Connected);
        let result = self.associate(&dtls);
        // 4. close_notify, whatever SCTP's end.
        dtls.close();
        result
    }

    /// Stage 1: the first authenticated check (or answer to ours) locks the peer's address.
    fn wait_for_ice(&self) -> Result<Locked, PeerError> {
        self.ice.recv_timeout(self.ice_timeout).map_err(|_| {
            PeerError::Ice(IceFailure::NoCheck {
                ms: self.ice_timeout.as_millis(),
            })
        })
    }

    /// Stage 2: the DTLS handshake with the locked address.
    fn handshake(&mut self, path: Locked) -> Result<Dtls, PeerError> {
        let h = self.handshake.take().ok_or(PeerError::Gone)?;
        Ok(Dtls::handshake(Handshake {
            identity: &h.identity,
            remote_fingerprint: h.remote_fingerprint,
            client: self.settings.dtls_client,
            socket: h.socket,
            remote: path.remote,
            inbound: h.inbound,
            timeout: h.timeout,
            relay: path.relay,
        })?)
    }

    /// Stage 3: the SCTP loop. A panic inside sctp-proto on what a peer sent ends this
    /// session with one line, not a backtrace, and the server's other sessions go on.
    fn associate(&mut self, dtls: &Dtls) -> Result<(), PeerError> {
        let (settings, cmds, events) = (&self.settings, &mut self.cmds, &self.events);
        crate::catch::call(|| sctp::run(dtls, settings, cmds, events)).unwrap_or_else(|p| {
            Err(PeerError::Sctp(SctpFailure::Panicked {
                what: p.to_string(),
            }))
        })
    }
}

/// A running peer: its two threads, and the channels to talk to them.
pub struct Peer {
    cmds: WakeSender<Cmd>,
    events: Receiver<Event>,
    next_stream: u16,
    /// Our ids free again after a stream reset, filled by the association loop.
    free_ids: FreeIds,
    stop: Arc<AtomicBool>,
    /// How far the session got: ICE, DTLS or SCTP (for a timeout's error).
    stage: Arc<AtomicU8>,
    threads: Vec<JoinHandle<()>>,
    /// The UDP address of this peer (its ICE candidate).
    pub local_addr: SocketAddr,
    /// RFC 8842: this side is the DTLS client.
    pub dtls_client: bool,
    /// The peer's `a=max-message-size` (RFC 8841 §6): [`Peer::send`] refuses more.
    pub max_send: u32,
    /// The trace role of the peer's threads, also used for what the application's thread
    /// traces through this peer.
    role: &'static str,
    ended: bool,
    trickle: Sender<Option<String>>,
    /// An answerer that trickles: its candidates found after the answer.
    gathered: Option<Receiver<Trickled>>,
}

/// A handle that passes trickled remote candidates to a running peer's ICE agent.
#[derive(Clone)]
pub struct Trickle(Sender<Option<String>>);

impl Trickle {
    /// A handle on a channel of the caller's (the signaling's tests).
    pub fn from_sender(tx: Sender<Option<String>>) -> Trickle {
        Trickle(tx)
    }

    /// One candidate (the value of an `a=candidate:` line), or `None` for the end of them;
    /// `false` once the session is gone.
    pub fn send(&self, candidate: Option<String>) -> bool {
        self.0.send(candidate).is_ok()
    }
}

impl Peer {
    /// Makes an offer (`a=setup:actpass`, `a=ice-lite`: aiortc, a full agent, then checks us).
    pub fn offer(identity: &Identity, config: Config) -> Result<Offer, PeerError> {
        let _role = trace::default_role(config.role);
        let socket = bind(config.ip)?;
        let local = new_credentials();
        // RFC 8445 §6.1.1: a full offerer takes the controlling role.
        let (agent, trickled) = match config.full_ice(true) {
            true => {
                let (full, rx) = full_agent(&socket, &local, None, Role::Controlling, &config)?;
                (Some(full), rx)
            }
            false => (None, None),
        };
        let mut d = describe(
            &local,
            identity,
            Setup::Actpass,
            "0",
            &socket,
            &config,
            agent.as_ref().map(|f| &f.agent),
        )?;
        d.trickle = config.trickle;
        d.end_of_candidates = trickled.is_none();
        let text = sdp::write(&d, u64::from_be_bytes(random::<8>()) >> 1);
        trace_sent(&d, "offer", text.len());
        Ok(Offer {
            sdp: text,
            socket,
            local,
            identity: identity.clone(),
            config,
            agent,
            trickled,
        })
    }

    /// Answers an offer: returns the running peer and the answer SDP to send back.
    pub fn answer(
        offer: &str,
        identity: &Identity,
        config: Config,
    ) -> Result<(Peer, String), PeerError> {
        let _role = trace::default_role(config.role);
        trace::received(Layer::Sdp, || format!("offer, {} bytes", offer.len()));
        let remote = sdp::parse(offer, sdp::Kind::Offer)?;
        trace_description(&remote, "offer");
        let socket = bind(config.ip)?;
        let local = new_credentials();
        let setup = sdp::answer_setup(remote.setup);
        // RFC 8445 §6.1.1: a full answerer is controlled, unless the offerer is lite.
        let role = match remote.ice_lite {
            true => Role::Controlling,
            false => Role::Controlled,
        };
        let (agent, gathered) = match config.full_ice(false) {
            true => {
                let (full, rx) = full_agent(&socket, &local, Some(&remote), role, &config)?;
                (Some(full), rx)
            }
            false => (None, None),
        };
        let mut d = describe(
            &local,
            identity,
            setup,
            &remote.mid,
            &socket,
            &config,
            agent.as_ref().map(|f| &f.agent),
        )?;
        d.trickle = gathered.is_some();
        d.end_of_candidates = gathered.is_none();
        let text = sdp::write(&d, u64::from_be_bytes(random::<8>()) >> 1);
        trace_sent(&d, "answer", text.len());
        let client = sdp::we_are_dtls_client(remote.setup, false);
        let ice = match agent {
            Some(a) => Ice::Full(Box::new(a)),
            None => Ice::Lite(None),
        };
        let mut peer = Peer::start(socket, local, identity, &remote, client, ice, config)?;
        peer.gathered = gathered;
        Ok((peer, text))
    }

    /// Starts the session: the socket loop and the association loop, each on its thread.
    fn start(
        socket: UdpSocket,
        local: Credentials,
        identity: &Identity,
        remote: &Description,
        client: bool,
        ice: Ice,
        config: Config,
    ) -> Result<Peer, PeerError> {
        let local_addr = socket.local_addr().map_err(|e| PeerError::Io {
            doing: "local address",
            why: e.to_string(),
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let stage = Arc::new(AtomicU8::new(ICE));
        let (cmd_tx, cmd_rx) = dtls::wake();
        let (event_tx, event_rx) = mpsc::channel();
        // Bounded: datagrams wait here for DTLS; beyond this many, the socket loop drops them.
        let (records_tx, records_rx) = dtls::records(DTLS_QUEUE);
        let (connected_tx, connected_rx) = mpsc::channel();
        let free_ids = FreeIds::default();
        let association = AssociationLoop {
            ice: connected_rx,
            ice_timeout: config.ice_timeout,
            handshake: Some(HandshakeInputs {
                identity: identity.clone(),
                remote_fingerprint: remote.fingerprint,
                socket: socket
                    .try_clone()
                    .map_err(spawn_error("clone the socket"))?,
                inbound: records_rx,
                timeout: config.dtls_timeout,
            }),
            settings: Settings {
                dtls_client: client,
                local_port: sctp::PORT,
                remote_port: remote.sctp_port,
                max_receive: config.max_message_size,
                max_send: remote.max_message_size,
                on_open: config.on_open,
                free_ids: free_ids.clone(),
            },
            cmds: cmd_rx,
            events: event_tx,
            stage: stage.clone(),
            stop: stop.clone(),
        };
        let (trickle_tx, trickle_rx) = mpsc::channel();
        let socket_loop = SocketLoop {
            trickled: trickle_rx,
            socket,
            responder: Responder {
                local,
                remote_ufrag: Some(remote.ice_ufrag.clone()),
            },
            ice,
            to_dtls: records_tx,
            connected: connected_tx,
            wake: cmd_tx.clone(),
            stop: stop.clone(),
            consent_timeout: config.consent_timeout,
        };
        let role = config.role;
        let threads = vec![
            spawn("webrtc-socket", role, move || socket_loop.run())?,
            spawn("webrtc-association", role, move || association.run())?,
        ];
        Ok(Peer {
            cmds: cmd_tx,
            events: event_rx,
            next_stream: dcep::first_stream(client),
            free_ids,
            stop,
            stage,
            threads,
            local_addr,
            dtls_client: client,
            max_send: remote.max_message_size,
            role,
            ended: false,
            trickle: trickle_tx,
            gathered: None,
        })
    }

    /// Where candidates the other side trickles after its SDP go (RFC 8838): the signaling
    /// hands each `a=candidate:` value, and `None` for `a=end-of-candidates`.
    pub fn trickle(&self) -> Trickle {
        Trickle(self.trickle.clone())
    }

    /// An answerer that trickles (its answer said `a=ice-options:trickle` and no
    /// `a=end-of-candidates`): each candidate it finds after the answer, as the value of its
    /// `a=candidate:` line, then `None`, for the signaling to pass to the offerer.
    pub fn take_gathered(&mut self) -> Option<Receiver<Trickled>> {
        self.gathered.take()
    }

    /// Opens a channel (DATA_CHANNEL_OPEN on the next stream of our parity, RFC 8832 §6);
    /// returns its id. [`Event::Open`] follows when the ACK arrives.
    pub fn open(&mut self, label: &str, channel_type: ChannelType) -> u16 {
        let id = self.next_id();
        let open = Open {
            channel_type,
            priority: NORMAL_PRIORITY,
            label: label.to_string(),
            protocol: String::new(),
        };
        let _ = self.cmds.send(Cmd::Channel(ChannelCmd::Open { id, open }));
        id
    }

    /// The lowest of our ids whose reset completed (as Chromium and aiortc pick), else the
    /// next one never used.
    fn next_id(&mut self) -> u16 {
        let freed = self.free_ids.lock().ok().and_then(|mut f| f.pop_first());
        freed.unwrap_or_else(|| {
            let id = self.next_stream;
            self.next_stream = self.next_stream.wrapping_add(2);
            id
        })
    }

    /// Sends a message on channel `id`. A message over the peer's `a=max-message-size` is
    /// refused here, whole (RFC 8841 §6: the sender must not send it), and the channel and
    /// the association go on.
    pub fn send(&self, id: u16, message: Message) -> Result<(), PeerError> {
        let size = message.wire_len();
        if size > self.max_send as usize {
            let _role = trace::default_role(self.role);
            trace::event(Layer::Sctp, || {
                format!(
                    "stream {id}: message of {size} bytes refused: over the peer's a=max-message-size:{}",
                    self.max_send
                )
            });
            return Err(PeerError::TooLarge {
                size,
                max: self.max_send,
            });
        }
        self.cmds
            .send(Cmd::Channel(ChannelCmd::Send { id, message }))
            .map_err(|_| PeerError::Gone)
    }

    /// Closes one channel (resets its stream).
    pub fn close_channel(&self, id: u16) {
        let _ = self.cmds.send(Cmd::Channel(ChannelCmd::Close(id)));
    }

    /// The next event, or `None` after `timeout` (or once the session has ended and been reported).
    pub fn recv(&mut self, timeout: Duration) -> Option<Event> {
        if self.ended {
            return None;
        }
        match self.events.recv_timeout(timeout) {
            Ok(e) => {
                if matches!(e, Event::Ended(_)) {
                    self.ended = true;
                }
                Some(e)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Some(Event::Ended(Some(PeerError::Gone)))
            }
        }
    }

    /// Waits for the next channel to open; an error names the step that failed.
    pub fn wait_open(&mut self, timeout: Duration) -> Result<Channel, PeerError> {
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Some(Event::Open(c)) => return Ok(c),
                Some(Event::Ended(e)) => return Err(e.unwrap_or(PeerError::Gone)),
                Some(_) => {}
                None => {
                    let ms = timeout.as_millis();
                    return Err(match self.stage.load(Ordering::Relaxed) {
                        ICE => PeerError::Ice(IceFailure::NoCheck { ms }),
                        DTLS => PeerError::Dtls(DtlsError::Timeout(timeout)),
                        _ => PeerError::Sctp(SctpFailure::NoChannel { ms }),
                    });
                }
            }
        }
    }

    /// Ends the session: SCTP SHUTDOWN, DTLS close_notify, threads joined.
    pub fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        let _ = self.cmds.send(Cmd::Shutdown);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.shut();
    }
}
