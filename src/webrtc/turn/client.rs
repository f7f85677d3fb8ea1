//! A TURN client (RFC 8656, UDP), without I/O: it gives the peer a relayed candidate on a
//! TURN server, and wraps and unwraps what travels through it. The peer's socket loop feeds it
//! every datagram from the server and sends what [`Client::poll_transmit`] hands back, to the
//! server.
//!
//! 1. Allocate (§7.1): first without credentials; the server challenges with 401, REALM and
//!    NONCE; again with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY keyed with
//!    MD5(user:realm:pass) (RFC 8489 §9.2); a 438 (stale nonce) is answered with the new
//!    nonce. The answer names the relayed address (XOR-RELAYED-ADDRESS) and our address as the
//!    server saw it (XOR-MAPPED-ADDRESS, a server-reflexive candidate for free).
//! 2. Refresh (§8) before the allocation's lifetime ends.
//! 3. CreatePermission (§9) for each peer address we send to; refreshed every 4 minutes (a
//!    permission lives 5).
//! 4. Data both ways: a Send indication out (§10), a Data indication in (§11); once a channel
//!    is bound to a peer (ChannelBind, §12), ChannelData, 4 bytes of header instead of ~36.

use crate::trace::{self, Layer};
use crate::webrtc::stun_codec::{self, parse_xor_address, xor_address};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use stun::agent::TransactionId;
use stun::attributes::{
    ATTR_CHANNEL_NUMBER, ATTR_DATA, ATTR_LIFETIME, ATTR_NONCE, ATTR_REALM,
    ATTR_REQUESTED_TRANSPORT, ATTR_USERNAME, ATTR_XOR_PEER_ADDRESS, ATTR_XOR_RELAYED_ADDRESS,
    ATTR_XORMAPPED_ADDRESS,
};
use stun::error_code::ErrorCodeAttribute;
use stun::integrity::MessageIntegrity;
use stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_INDICATION, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, Getter,
    METHOD_ALLOCATE, METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION, METHOD_DATA, METHOD_REFRESH,
    METHOD_SEND, Message, MessageType, Setter,
};
use stun::textattrs::TextAttribute;

/// RFC 8489 §6.2.1: the first retransmission timeout, doubled each time, and Rc.
const FIRST_RTO: Duration = Duration::from_millis(250);
const MAX_SENDS: u32 = 7;
/// RFC 8656 §9: a permission lives 300 s; refreshed a minute early.
const PERMISSION_REFRESH: Duration = Duration::from_secs(240);
/// RFC 8656 §12: a channel lives 600 s; refreshed a minute early.
const CHANNEL_REFRESH: Duration = Duration::from_secs(540);
/// The first channel number (§12: 0x4000–0x4FFF).
const FIRST_CHANNEL: u16 = 0x4000;

/// Why the client failed, one variant per way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The server refused a request with a STUN error (code, reason, which request).
    Refused {
        request: &'static str,
        code: u16,
        reason: String,
    },
    /// No answer after Rc sends.
    NoAnswer { request: &'static str },
    /// A 401 without REALM and NONCE, or a second 401 with our credentials: wrong user or
    /// password.
    Credentials(String),
    /// An answer we cannot use (no relayed address, a wrong MESSAGE-INTEGRITY …).
    Response(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Refused {
                request,
                code,
                reason,
            } => write!(f, "{request} refused: {code} {reason}"),
            ClientError::NoAnswer { request } => {
                write!(f, "{request}: no answer from the TURN server")
            }
            ClientError::Credentials(why) => write!(f, "credentials refused: {why}"),
            ClientError::Response(why) => write!(f, "unusable answer: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// What a datagram from the server was.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// The answer to one of our requests, or nothing for the peer.
    Control,
    /// Data a peer sent to our relayed address (Data indication or ChannelData).
    Data { peer: SocketAddr, data: Vec<u8> },
}

/// Which request a transaction is.
#[derive(Clone, Debug)]
enum Request {
    Allocate,
    Refresh,
    Permission(IpAddr),
    ChannelBind(u16, SocketAddr),
}

impl Request {
    fn name(&self) -> &'static str {
        match self {
            Request::Allocate => "Allocate",
            Request::Refresh => "Refresh",
            Request::Permission(_) => "CreatePermission",
            Request::ChannelBind(..) => "ChannelBind",
        }
    }
}

#[derive(Clone, Debug)]
struct Pending {
    request: Request,
    bytes: Vec<u8>,
    sends: u32,
    next: Instant,
    rto: Duration,
    /// Sent with credentials already: another 401 means they are wrong.
    authenticated: bool,
}

/// The client of one allocation.
pub struct Client {
    pub server: SocketAddr,
    user: String,
    pass: String,
    realm: Option<String>,
    nonce: Option<String>,
    relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    refresh_at: Option<Instant>,
    lifetime: Duration,
    pending: HashMap<[u8; 12], Pending>,
    /// Peer IP → when to refresh its permission (`None`: requested, not granted yet).
    permissions: HashMap<IpAddr, Option<Instant>>,
    /// Peer → (channel, when to refresh it; `None` while the bind is pending).
    channels: HashMap<SocketAddr, (u16, Option<Instant>)>,
    next_channel: u16,
    out: VecDeque<Vec<u8>>,
    failed: Option<ClientError>,
}

impl Client {
    pub fn new(server: SocketAddr, user: &str, pass: &str) -> Client {
        Client {
            server,
            user: user.to_string(),
            pass: pass.to_string(),
            realm: None,
            nonce: None,
            relayed: None,
            mapped: None,
            refresh_at: None,
            lifetime: Duration::from_secs(600),
            pending: HashMap::new(),
            permissions: HashMap::new(),
            channels: HashMap::new(),
            next_channel: FIRST_CHANNEL,
            out: VecDeque::new(),
            failed: None,
        }
    }

    /// The relayed address, once allocated.
    pub fn relayed(&self) -> Option<SocketAddr> {
        self.relayed
    }

    /// Our address as the server saw it (XOR-MAPPED-ADDRESS of the Allocate answer).
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// Why the allocation failed, if it did.
    pub fn failed(&self) -> Option<&ClientError> {
        self.failed.as_ref()
    }

    /// The next datagram for the server.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Step 1: Allocate a relayed UDP address (first without credentials: the challenge).
    pub fn allocate(&mut self, now: Instant) {
        self.request(Request::Allocate, now);
    }

    /// Step 3: a permission for `peer`'s IP (and, with `channel`, a channel bound to it), unless
    /// already asked for.
    pub fn permit(&mut self, peer: SocketAddr, channel: bool, now: Instant) {
        if self.relayed.is_none() {
            return;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.permissions.entry(peer.ip()) {
            e.insert(None);
            self.request(Request::Permission(peer.ip()), now);
        }
        if channel && !self.channels.contains_key(&peer) && self.next_channel <= 0x4FFF {
            let n = self.next_channel;
            self.next_channel += 1;
            self.channels.insert(peer, (n, None));
            self.request(Request::ChannelBind(n, peer), now);
        }
    }

    /// Step 4: `data` for `peer`, wrapped for the server: ChannelData on a bound channel,
    /// else a Send indication.
    pub fn wrap(&self, peer: SocketAddr, data: &[u8]) -> Vec<u8> {
        if let Some((n, Some(_))) = self.channels.get(&peer) {
            return channel_data(*n, data);
        }
        let tid = crate::webrtc::session::random::<12>();
        let attrs = [
            (ATTR_XOR_PEER_ADDRESS, xor_address(peer, &tid)),
            (ATTR_DATA, data.to_vec()),
        ];
        let typ = MessageType::new(METHOD_SEND, CLASS_INDICATION);
        // An indication carries no credentials (§10.1); building one cannot fail.
        stun_codec::build(typ, TransactionId(tid), &attrs, &[], None).unwrap_or_default()
    }

    /// Retransmissions and refreshes due by `now`.
    pub fn tick(&mut self, now: Instant) {
        let due: Vec<[u8; 12]> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.next)
            .map(|(t, _)| *t)
            .collect();
        for tid in due {
            self.retransmit(tid, now);
        }
        if self.refresh_at.is_some_and(|t| now >= t) {
            self.refresh_at = None;
            self.request(Request::Refresh, now);
        }
        let permissions: Vec<IpAddr> = self
            .permissions
            .iter()
            .filter(|(_, t)| t.is_some_and(|t| now >= t))
            .map(|(ip, _)| *ip)
            .collect();
        for ip in permissions {
            self.permissions.insert(ip, None);
            self.request(Request::Permission(ip), now);
        }
        let channels: Vec<(SocketAddr, u16)> = self
            .channels
            .iter()
            .filter(|(_, (_, t))| t.is_some_and(|t| now >= t))
            .map(|(p, (n, _))| (*p, *n))
            .collect();
        for (peer, n) in channels {
            self.request(Request::ChannelBind(n, peer), now);
        }
    }

    fn retransmit(&mut self, tid: [u8; 12], now: Instant) {
        let Some(p) = self.pending.get_mut(&tid) else {
            return;
        };
        if p.sends >= MAX_SENDS {
            let request = p.request.name();
            self.pending.remove(&tid);
            self.fail(ClientError::NoAnswer { request });
            return;
        }
        p.sends += 1;
        p.rto *= 2;
        p.next = now + p.rto;
        self.out.push_back(p.bytes.clone());
    }

    fn fail(&mut self, e: ClientError) {
        trace::event(Layer::Stun, || format!("TURN client: {e}"));
        if self.relayed.is_none() {
            self.failed = Some(e);
        }
    }

    /// The long-term key, once the server named its realm.
    fn key(&self) -> Option<MessageIntegrity> {
        let realm = self.realm.clone()?;
        Some(MessageIntegrity::new_long_term_integrity(
            self.user.clone(),
            realm,
            self.pass.clone(),
        ))
    }

    /// Builds and queues a request, with credentials once we have a nonce.
    fn request(&mut self, request: Request, now: Instant) {
        let tid = crate::webrtc::session::random::<12>();
        let method = match request {
            Request::Allocate => METHOD_ALLOCATE,
            Request::Refresh => METHOD_REFRESH,
            Request::Permission(_) => METHOD_CREATE_PERMISSION,
            Request::ChannelBind(..) => METHOD_CHANNEL_BIND,
        };
        let mut attrs = Vec::new();
        match &request {
            // REQUESTED-TRANSPORT: 17, UDP (§18.7).
            Request::Allocate => attrs.push((ATTR_REQUESTED_TRANSPORT, vec![17, 0, 0, 0])),
            Request::Refresh => attrs.push((
                ATTR_LIFETIME,
                (self.lifetime.as_secs() as u32).to_be_bytes().to_vec(),
            )),
            // The port of XOR-PEER-ADDRESS is ignored in a permission (§9.1).
            Request::Permission(ip) => attrs.push((
                ATTR_XOR_PEER_ADDRESS,
                xor_address(SocketAddr::new(*ip, 0), &tid),
            )),
            Request::ChannelBind(n, peer) => {
                let [a, b] = n.to_be_bytes();
                attrs.push((ATTR_CHANNEL_NUMBER, vec![a, b, 0, 0]));
                attrs.push((ATTR_XOR_PEER_ADDRESS, xor_address(*peer, &tid)));
            }
        }
        let key = self.key();
        let authenticated = key.is_some() && self.nonce.is_some();
        let texts: Vec<TextAttribute> = match (&self.realm, &self.nonce) {
            (Some(realm), Some(nonce)) => vec![
                TextAttribute::new(ATTR_USERNAME, self.user.clone()),
                TextAttribute::new(ATTR_REALM, realm.clone()),
                TextAttribute::new(ATTR_NONCE, nonce.clone()),
            ],
            _ => Vec::new(),
        };
        let setters: Vec<&dyn Setter> = texts.iter().map(|t| t as &dyn Setter).collect();
        let key = key.filter(|_| authenticated);
        let typ = MessageType::new(method, CLASS_REQUEST);
        let Ok(bytes) = stun_codec::build(typ, TransactionId(tid), &attrs, &setters, key.as_ref())
        else {
            return;
        };
        trace::sent(Layer::Stun, || {
            format!(
                "TURN {} to {}{}",
                describe(&request),
                self.server,
                if authenticated {
                    format!(" USERNAME={} REALM NONCE MESSAGE-INTEGRITY", self.user)
                } else {
                    " (no credentials yet)".into()
                }
            )
        });
        self.out.push_back(bytes.clone());
        self.pending.insert(
            tid,
            Pending {
                request,
                bytes,
                sends: 1,
                next: now + FIRST_RTO,
                rto: FIRST_RTO,
                authenticated,
            },
        );
    }

    /// One datagram from the server: an answer, a Data indication or ChannelData.
    pub fn handle(&mut self, d: &[u8], now: Instant) -> Result<Inbound, ClientError> {
        if let Some(&b) = d.first() {
            // RFC 7983: 64–79 is ChannelData.
            if (0x40..=0x4F).contains(&b) {
                return self.channel_in(d);
            }
        }
        let m = stun_codec::decode(d, false).map_err(|e| ClientError::Response(e.to_string()))?;
        if m.typ == MessageType::new(METHOD_DATA, CLASS_INDICATION) {
            let tid = m.transaction_id.0;
            let peer = m
                .get(ATTR_XOR_PEER_ADDRESS)
                .ok()
                .and_then(|v| parse_xor_address(&v, &tid))
                .ok_or_else(|| ClientError::Response("Data without XOR-PEER-ADDRESS".into()))?;
            // RFC 8656 §11.6: only from a peer we asked a permission for. The server relays
            // no other, so such an indication is forged or stale: the peer must not see it.
            if !self.permissions.contains_key(&peer.ip()) {
                return Err(ClientError::Response(format!(
                    "Data from {peer}, which has no permission of ours"
                )));
            }
            let data = m
                .get(ATTR_DATA)
                .map_err(|_| ClientError::Response("Data without DATA".into()))?;
            return Ok(Inbound::Data { peer, data });
        }
        let Some(p) = self.pending.remove(&m.transaction_id.0) else {
            return Err(ClientError::Response(format!(
                "{} for no request of ours",
                m.typ
            )));
        };
        self.answer(p, m, now)?;
        Ok(Inbound::Control)
    }

    /// ChannelData (§12.4): channel number, length, data.
    fn channel_in(&self, d: &[u8]) -> Result<Inbound, ClientError> {
        if d.len() < 4 {
            return Err(ClientError::Response(
                "ChannelData shorter than its header".into(),
            ));
        }
        let n = u16::from_be_bytes([d[0], d[1]]);
        let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
        let data = d
            .get(4..4 + len)
            .ok_or_else(|| ClientError::Response("ChannelData longer than the datagram".into()))?;
        let peer = self
            .channels
            .iter()
            .find(|(_, (c, _))| *c == n)
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                ClientError::Response(format!("ChannelData on unbound channel 0x{n:04X}"))
            })?;
        Ok(Inbound::Data {
            peer,
            data: data.to_vec(),
        })
    }

    /// The answer to request `p`.
    fn answer(&mut self, p: Pending, mut m: Message, now: Instant) -> Result<(), ClientError> {
        let name = p.request.name();
        if m.typ.class == CLASS_ERROR_RESPONSE {
            return self.error(p, &m, now);
        }
        if m.typ.class != CLASS_SUCCESS_RESPONSE {
            return Err(ClientError::Response(format!("{} to {name}", m.typ)));
        }
        // RFC 8489 §9.2.5: a success is signed with the same key.
        if let Some(key) = self.key() {
            key.check(&mut m).map_err(|_| {
                ClientError::Response(format!("{name} answer: MESSAGE-INTEGRITY wrong"))
            })?;
        }
        let tid = m.transaction_id.0;
        match p.request {
            Request::Allocate => self.allocated(&m, &tid, now)?,
            Request::Refresh => {
                self.refresh_at = Some(now + self.lifetime.saturating_sub(Duration::from_secs(60)));
                trace::received(Layer::Stun, || {
                    format!("TURN Refresh success from {}", self.server)
                });
            }
            Request::Permission(ip) => {
                self.permissions.insert(ip, Some(now + PERMISSION_REFRESH));
                trace::received(Layer::Stun, || {
                    format!("TURN CreatePermission success: {ip} may send to our relayed address")
                });
            }
            Request::ChannelBind(n, peer) => {
                self.channels.insert(peer, (n, Some(now + CHANNEL_REFRESH)));
                trace::received(Layer::Stun, || {
                    format!(
                        "TURN ChannelBind success: channel 0x{n:04X} ↔ {peer}, ChannelData from now on"
                    )
                });
            }
        }
        Ok(())
    }

    /// An Allocate success: the relayed and mapped addresses, the lifetime.
    fn allocated(&mut self, m: &Message, tid: &[u8; 12], now: Instant) -> Result<(), ClientError> {
        let addr = |attr| m.get(attr).ok().and_then(|v| parse_xor_address(&v, tid));
        let relayed = addr(ATTR_XOR_RELAYED_ADDRESS).ok_or_else(|| {
            ClientError::Response("Allocate answer without XOR-RELAYED-ADDRESS".into())
        })?;
        self.relayed = Some(relayed);
        self.mapped = addr(ATTR_XORMAPPED_ADDRESS);
        if let Some(l) = m
            .get(ATTR_LIFETIME)
            .ok()
            .and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok())
        {
            self.lifetime = Duration::from_secs(u64::from(u32::from_be_bytes(l)));
        }
        self.refresh_at = Some(
            now + self
                .lifetime
                .saturating_sub(Duration::from_secs(60))
                .max(Duration::from_secs(1)),
        );
        trace::received(Layer::Stun, || {
            format!(
                "TURN Allocate success from {}: XOR-RELAYED-ADDRESS={relayed} XOR-MAPPED-ADDRESS={:?} LIFETIME={} s",
                self.server,
                self.mapped,
                self.lifetime.as_secs()
            )
        });
        Ok(())
    }

    /// An error answer: 401 and 438 are the credential dance (the request again, with the
    /// realm and nonce the server gave); any other ends that request.
    fn error(&mut self, p: Pending, m: &Message, now: Instant) -> Result<(), ClientError> {
        let mut e = ErrorCodeAttribute::default();
        let _ = e.get_from(m);
        let code = e.code.0;
        let reason = String::from_utf8_lossy(&e.reason).to_string();
        trace::received(Layer::Stun, || {
            format!(
                "TURN {} error from {}: {code} {reason}",
                p.request.name(),
                self.server
            )
        });
        let text = |t| TextAttribute::get_from_as(m, t).map(|a| a.text).ok();
        let challenge = matches!(code, 401 | 438) && !(code == 401 && p.authenticated);
        if challenge {
            let (Some(nonce), realm) = (text(ATTR_NONCE), text(ATTR_REALM)) else {
                let e = ClientError::Credentials(format!("{code} without NONCE"));
                self.fail(e.clone());
                return Err(e);
            };
            self.nonce = Some(nonce);
            if let Some(realm) = realm {
                self.realm = Some(realm);
            }
            if self.realm.is_none() {
                let e = ClientError::Credentials("401 without REALM".into());
                self.fail(e.clone());
                return Err(e);
            }
            self.request(p.request, now);
            return Ok(());
        }
        let e = if code == 401 {
            ClientError::Credentials(format!("401 {reason} to our USERNAME={}", self.user))
        } else {
            ClientError::Refused {
                request: p.request.name(),
                code,
                reason,
            }
        };
        match p.request {
            Request::Permission(ip) => {
                self.permissions.remove(&ip);
            }
            Request::ChannelBind(_, peer) => {
                self.channels.remove(&peer);
            }
            _ => {}
        }
        self.fail(e.clone());
        Err(e)
    }
}

fn describe(r: &Request) -> String {
    match r {
        Request::Allocate => "Allocate REQUESTED-TRANSPORT=UDP".into(),
        Request::Refresh => "Refresh".into(),
        Request::Permission(ip) => format!("CreatePermission XOR-PEER-ADDRESS={ip}"),
        Request::ChannelBind(n, peer) => {
            format!("ChannelBind CHANNEL-NUMBER=0x{n:04X} XOR-PEER-ADDRESS={peer}")
        }
    }
}

/// RFC 8656 §12.4: channel number, length, the data (UDP needs no padding).
pub fn channel_data(n: u16, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + data.len());
    v.extend_from_slice(&n.to_be_bytes());
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// Allocates on the server from `socket`, blocking until allocated or `timeout`: the
/// gathering of a relayed candidate, before the peer's loop starts.
pub fn allocate_blocking(
    socket: &std::net::UdpSocket,
    client: &mut Client,
    timeout: Duration,
) -> Result<SocketAddr, ClientError> {
    let until = Instant::now() + timeout;
    client.allocate(Instant::now());
    let mut buf = vec![0u8; 2048];
    loop {
        while let Some(d) = client.poll_transmit() {
            let _ = socket.send_to(&d, client.server);
        }
        if let Some(r) = client.relayed() {
            return Ok(r);
        }
        if let Some(e) = client.failed() {
            return Err(e.clone());
        }
        let now = Instant::now();
        if now >= until {
            return Err(ClientError::NoAnswer {
                request: "Allocate",
            });
        }
        let wait = (until - now).min(Duration::from_millis(50));
        let _ = socket.set_read_timeout(Some(wait));
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            if from == client.server {
                // An error is traced and kept in `failed` when it ends the allocation.
                let _ = client.handle(&buf[..n], Instant::now());
            }
        }
        client.tick(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webrtc::turn::{self, Config};
    use std::net::UdpSocket;

    fn server() -> (crate::l4::background::Background, SocketAddr) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = s.local_addr().unwrap();
        (turn::spawn(s, Config::default()).unwrap(), addr)
    }

    #[test]
    fn allocate_with_the_401_dance_then_relay_both_ways() {
        let (_bg, addr) = server();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut c = Client::new(addr, "netlab", "netlab");
        let relayed = allocate_blocking(&socket, &mut c, Duration::from_secs(3)).unwrap();
        assert_eq!(relayed.ip(), addr.ip());
        assert_eq!(c.mapped(), Some(socket.local_addr().unwrap()));
        // A peer: permitted, it reaches us through the relay, and we reach it.
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let paddr = peer.local_addr().unwrap();
        c.permit(paddr, true, Instant::now());
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 2048];
        for _ in 0..2 {
            while let Some(d) = c.poll_transmit() {
                socket.send_to(&d, addr).unwrap();
            }
            let (n, _) = socket.recv_from(&mut buf).unwrap();
            assert_eq!(c.handle(&buf[..n], Instant::now()), Ok(Inbound::Control));
        }
        socket.send_to(&c.wrap(paddr, b"out"), addr).unwrap();
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"out"[..], relayed));
        peer.send_to(b"in", relayed).unwrap();
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(buf[0] & 0xF0, 0x40, "ChannelData, the channel is bound");
        assert_eq!(
            c.handle(&buf[..n], Instant::now()),
            Ok(Inbound::Data {
                peer: paddr,
                data: b"in".to_vec()
            })
        );
    }

    #[test]
    fn a_wrong_password_is_a_clear_error() {
        let (_bg, addr) = server();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut c = Client::new(addr, "netlab", "wrong");
        let e = allocate_blocking(&socket, &mut c, Duration::from_secs(3)).unwrap_err();
        assert!(matches!(e, ClientError::Credentials(_)), "{e}");
    }

    #[test]
    fn channel_data_is_four_bytes_of_header() {
        assert_eq!(channel_data(0x4001, b"ab"), [0x40, 0x01, 0, 2, b'a', b'b']);
        let c = Client::new("127.0.0.1:9".parse().unwrap(), "u", "p");
        assert!(c.channel_in(&[0x40, 0x01, 0, 9, 1]).is_err());
        assert!(
            c.channel_in(&channel_data(0x4001, b"x")).is_err(),
            "unbound"
        );
    }
}
