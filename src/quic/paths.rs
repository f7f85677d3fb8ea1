//! Connection migration (RFC 9000 §9): what lets a QUIC connection survive a new address.
//!
//! A TCP connection *is* its 4-tuple; a QUIC connection is named by connection IDs, so a
//! packet from a new address still finds its connection. Each side hands the other spare
//! IDs (NEW_CONNECTION_ID frames, each with a stateless reset token, RFC 9000 §5.1.1), so a
//! client that moves on purpose can use a fresh one that an observer cannot link to the old
//! path. A new address is not trusted until it answers a PATH_CHALLENGE (RFC 9000 §8.2):
//! until then a server sends it at most three times the bytes it received from it (§8,
//! §9.3), so a spoofed source address cannot turn the server into an amplifier.
//!
//! quiche does the protocol (path validation, the 3× limit, switching paths); this module
//! is what a loop adds: connection IDs made and handed out ([`Ids`]), retired ones
//! forgotten, every path event and unvalidated path traced ([`Watch`]), and, after a
//! migration, one packet of the path left behind, so that quiche 0.30 can declare lost what
//! was in flight on it ([`Watch::settle`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};

use super::packet;
use crate::trace::{self, Layer};

/// Makes connection IDs and their stateless reset tokens.
pub struct Ids {
    rng: SystemRandom,
    /// The reset token of a CID is an HMAC of it: the same CID always has the same token,
    /// and nobody without the key can compute one (RFC 9000 §10.3.2).
    reset_key: ring::hmac::Key,
    len: usize,
}

/// No random numbers from the system.
#[derive(Debug)]
pub struct NoRandom;

impl std::fmt::Display for NoRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no random numbers for connection IDs")
    }
}

impl std::error::Error for NoRandom {}

impl Ids {
    /// Connection IDs of `len` bytes.
    pub fn new(len: usize) -> Result<Ids, NoRandom> {
        let rng = SystemRandom::new();
        let reset_key =
            ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng).map_err(|_| NoRandom)?;
        Ok(Ids {
            rng,
            reset_key,
            len,
        })
    }

    /// The stateless reset token of `cid`.
    fn reset_token(&self, cid: &[u8]) -> u128 {
        let tag = ring::hmac::sign(&self.reset_key, cid);
        let mut token = [0u8; 16];
        token.copy_from_slice(&tag.as_ref()[..16]);
        u128::from_be_bytes(token)
    }

    /// Hands the peer spare connection IDs, as many as its limit allows (none before the
    /// handshake: the limit is in the peer's transport parameters). Returns the new IDs, so
    /// that the server can route packets sent to them.
    pub fn issue(&self, conn: &mut quiche::Connection, id: &str) -> Vec<Vec<u8>> {
        let mut issued = Vec::new();
        if !conn.is_established() || conn.is_closed() {
            return issued;
        }
        while conn.scids_left() > 0 {
            let mut cid = vec![0u8; self.len];
            if self.rng.fill(&mut cid).is_err() {
                break;
            }
            let token = self.reset_token(&cid);
            let scid = quiche::ConnectionId::from_ref(&cid);
            let Ok(seq) = conn.new_scid(&scid, token, false) else {
                break;
            };
            trace::sent(Layer::Quic, || {
                format!(
                    "{id}: NEW_CONNECTION_ID seq={seq} cid={} (a spare for a new path), reset token {:08x}…",
                    packet::cid(&cid),
                    (token >> 96) as u32
                )
            });
            issued.push(cid);
        }
        issued
    }
}

/// Our connection IDs the peer retired (RETIRE_CONNECTION_ID): no longer routed.
pub fn retired(conn: &mut quiche::Connection, id: &str) -> Vec<Vec<u8>> {
    let mut gone = Vec::new();
    while let Some(cid) = conn.retired_scid_next() {
        trace::received(Layer::Quic, || {
            format!(
                "{id}: RETIRE_CONNECTION_ID: cid={} no longer used",
                packet::cid(&cid)
            )
        });
        gone.push(cid.to_vec());
    }
    gone
}

/// The paths of one connection as the trace last showed them.
#[derive(Default)]
pub struct Watch {
    /// Unvalidated paths: (bytes received, bytes sent) when last traced.
    shown: HashMap<(SocketAddr, SocketAddr), (u64, u64)>,
    /// The connection has used more than one path.
    pub moved: bool,
    /// The path the peer left (step 7a) and its packets declared lost when last traced.
    left: Option<((SocketAddr, SocketAddr), usize)>,
    /// A path the peer left whose PING quiche had no room for yet (step 7a, tried again
    /// every turn), and whether that was traced.
    unsettled: Option<(SocketAddr, bool)>,
    /// Paths waiting for a PATH_RESPONSE: since when, and how many challenges were sent
    /// again (step 7b).
    challenged: HashMap<(SocketAddr, SocketAddr), (Instant, u32)>,
}

/// The shortest wait before a PATH_CHALLENGE is sent again (step 7b).
const RECHALLENGE_FLOOR: Duration = Duration::from_millis(50);

/// The bytes an unvalidated path must still be allowed before step 7b challenges it again:
/// a short header, the 9-byte frame and the AEAD tag fit. quiche spends a path's budget as
/// soon as it grows, so there is room only in the turn a packet came from that path (a
/// 42-byte acknowledgement: 126 bytes).
const CHALLENGE_ROOM: u64 = 100;

impl Watch {
    /// Every path event quiche has, traced in the order it happened; returns the address
    /// the peer migrated to, if it did.
    pub fn events(&mut self, conn: &mut quiche::Connection, id: &str) -> Option<SocketAddr> {
        let mut migrated = None;
        while let Some(event) = conn.path_event_next() {
            if let quiche::PathEvent::PeerMigrated(_, peer) = event {
                migrated = Some(peer);
            }
            if let quiche::PathEvent::New(..) | quiche::PathEvent::PeerMigrated(..) = event {
                self.moved = true;
            }
            let line = describe(&event);
            trace::event(Layer::Quic, || format!("{id}: {line}"));
        }
        migrated
    }

    /// Step 7b: a PATH_CHALLENGE that got no answer within about a probe timeout is sent
    /// again, with new data (RFC 9000 §8.2.1 allows several, against loss). quiche 0.30
    /// sends another only when the path's probe timer fires, and that timer never fires
    /// while the peer's other packets keep being acknowledged: a lost challenge (seen: the
    /// datagram dropped in a client's full receive buffer) left the new path unvalidated, the
    /// server held to 3× what it received, and the download crawled until the client gave
    /// up. The wait is 3 RTTs plus the peer's largest ACK delay (25 ms), at least 50 ms,
    /// doubling with each new challenge, as an Initial's would (§8.2.1: no more often).
    ///
    /// A challenge lost stays in quiche's list until the path's next probe timeout, which
    /// then fails the path even if another challenge validated it (a server stops counting
    /// its budget for a validated address, and `on_loss_detection_timeout` in quiche's
    /// `path.rs` reads it as too small for another challenge): the connection goes back to
    /// the old address, and comes back when the peer's next packet arrives (README).
    pub fn rechallenge(&mut self, conn: &mut quiche::Connection, now: Instant, id: &str) {
        // A connection that never saw a second path has nothing to challenge (and the loop's
        // turn stays as cheap as before for it).
        if !self.moved {
            return;
        }
        let stats: Vec<quiche::PathStats> = conn.path_stats().collect();
        let rtt = stats.iter().map(|p| p.rtt).min().unwrap_or_default();
        // Only with room under the 3× limit for a packet: quiche 0.30's `send` picks a path
        // whose challenge is due first, and if it may send that path nothing, it sends no
        // other path anything either (a spoofed address that never answers stalled the real
        // client until its idle timeout).
        let waiting: Vec<(SocketAddr, SocketAddr)> = stats
            .iter()
            .filter(|p| state(p) == "Validating")
            .filter(|p| (3 * p.recv_bytes).saturating_sub(p.sent_bytes) >= CHALLENGE_ROOM)
            .map(|p| (p.local_addr, p.peer_addr))
            .collect();
        self.challenged.retain(|key, _| waiting.contains(key));
        for key in waiting {
            let (since, again) = *self.challenged.entry(key).or_insert((now, 0));
            let wait =
                (rtt * 3 + Duration::from_millis(25)).max(RECHALLENGE_FLOOR) * (1 << again.min(6));
            if now.duration_since(since) < wait || conn.probe_path(key.0, key.1).is_err() {
                continue;
            }
            self.challenged.insert(key, (now, again + 1));
            trace::event(Layer::Quic, || {
                format!(
                    "{id}: path to {}: no PATH_RESPONSE after {} ms: PATH_CHALLENGE sent again, with new data (RFC 9000 §8.2.1; the first may have been lost)",
                    key.1,
                    now.duration_since(since).as_millis()
                )
            });
        }
    }

    /// The anti-amplification limit at work: for every path not validated yet, the bytes
    /// received from it and sent to it, traced when they change (after step 7's sends).
    pub fn unvalidated(&mut self, conn: &quiche::Connection, id: &str) {
        for p in conn.path_stats() {
            let key = (p.local_addr, p.peer_addr);
            let state = state(&p);
            let validated = state.starts_with("Validat") && state != "Validating";
            // The first path of a server connection is validated by the handshake (quiche
            // says Unknown for it): only later paths are shown.
            if validated || !self.moved || p.recv_bytes == 0 {
                self.shown.remove(&key);
                continue;
            }
            let now = (p.recv_bytes, p.sent_bytes);
            if self.shown.get(&key) == Some(&now) {
                continue;
            }
            self.shown.insert(key, now);
            let state = match state.as_str() {
                "Failed" => "failed validation",
                "Validating" => "PATH_CHALLENGE sent, no PATH_RESPONSE yet",
                _ => "not validated",
            };
            trace::event(Layer::Quic, || {
                format!(
                    "{id}: path to {} {state}: received {} bytes, sent {} (anti-amplification: at most 3 × {} = {}){}",
                    p.peer_addr,
                    now.0,
                    now.1,
                    now.0,
                    3 * now.0,
                    if p.active { ", the active path" } else { "" }
                )
            });
        }
    }

    /// The peer left `left` for `now`: step 7a's PING is owed to that path (and replaces
    /// one still owed to an earlier path).
    pub fn leaving(&mut self, left: SocketAddr, now: SocketAddr) {
        if left != now {
            self.unsettled = Some((left, false));
        }
    }

    /// Step 7a, every turn while it is owed: the PING of the path the peer left (from the
    /// free function `settle`), to send to `now`. quiche has no room for it while that
    /// path's window is full (seen when a lost PATH_CHALLENGE made the new path fail
    /// validation, the connection went back to the old path and sent a window there, and
    /// then moved again): it is tried again each turn, and goes out at the latest when the
    /// old path's probe timer opens the window.
    pub fn settle(
        &mut self,
        conn: &mut quiche::Connection,
        local: SocketAddr,
        now: SocketAddr,
        cid_len: usize,
        id: &str,
    ) -> Option<Vec<u8>> {
        let (left, traced) = self.unsettled?;
        match settle(conn, local, left, now, cid_len, id, traced) {
            Settle::Sent(ping) => {
                self.unsettled = None;
                self.left(conn, local, left);
                Some(ping)
            }
            Settle::NoRoom => {
                self.unsettled = Some((left, true));
                None
            }
            Settle::NoPath => {
                self.unsettled = None;
                None
            }
        }
    }

    /// Remembers the path the peer left, to show what quiche declares lost on it.
    fn left(&mut self, conn: &quiche::Connection, local: SocketAddr, peer: SocketAddr) {
        let lost = conn
            .path_stats()
            .find(|p| (p.local_addr, p.peer_addr) == (local, peer))
            .map_or(0, |p| p.lost);
        self.left = Some(((local, peer), lost));
    }

    /// The packets of the path the peer left that quiche has declared lost since the last
    /// turn (after step 7a's PING was acknowledged): their data goes again on the new path.
    pub fn stranded(&mut self, conn: &quiche::Connection, id: &str) {
        let Some((key, shown)) = self.left else {
            return;
        };
        let Some(p) = conn
            .path_stats()
            .find(|p| (p.local_addr, p.peer_addr) == key)
        else {
            self.left = None;
            return;
        };
        if p.lost > shown {
            self.left = Some((key, p.lost));
            trace::event(Layer::Quic, || {
                format!(
                    "{id}: path to {}: {} more of its packets declared lost ({} in all), their data queued again for the active path",
                    key.1,
                    p.lost - shown,
                    p.lost
                )
            });
        }
    }
}

/// A path's validation state by name: quiche 0.30 does not export its `PathState`, so the
/// name is read from Debug.
fn state(p: &quiche::PathStats) -> String {
    format!("{:?}", p.validation_state)
}

/// One path event as a line of the trace.
fn describe(event: &quiche::PathEvent) -> String {
    use quiche::PathEvent as E;
    match event {
        E::New(_, peer) => format!(
            "new path seen: a packet from {peer} for one of our connection IDs; quiche challenges it (PATH_CHALLENGE, RFC 9000 §8.2) and sends it at most 3× the bytes it sent us until it answers"
        ),
        E::Validated(_, peer) => {
            format!("path to {peer} validated: PATH_RESPONSE echoed our challenge")
        }
        E::FailedValidation(_, peer) => format!(
            "path to {peer} failed validation: no PATH_RESPONSE; it is not used (the connection stays on its validated path)"
        ),
        E::Closed(_, peer) => format!("path to {peer} closed"),
        E::ReusedSourceConnectionId(seq, (_, old), (_, new)) => format!(
            "connection ID seq={seq} used from {old} is now reused from {new} (a NAT rebinding: same ID, new address)"
        ),
        E::PeerMigrated(_, peer) => format!(
            "peer migrated to {peer}: non-probing packets from a validated address; replies go there now"
        ),
        other => format!("{other:?}"),
    }
}

/// After the peer migrated from `left` to `now`: one ack-eliciting packet (a PING) built for
/// the path it left, traced and returned, for the loop to send to `now` (step 7a).
///
/// Why: quiche 0.30 keeps loss recovery per path, and an ACK moves a path's recovery on only
/// if it acknowledges one of that path's own packets (`on_ack_received` and
/// `detect_lost_packets` in quiche's `src/recovery/congestion/recovery.rs`: only packets
/// below the path's largest acknowledged one can be declared lost). After a NAT rebinding the
/// packets in flight to the old address never arrive, no ACK ever names a later packet of
/// that path, so they are never declared lost, and the old path's probe timer resends only
/// its oldest one or two (`on_loss_detection_timeout`): the stream keeps a hole
/// (cloudflare/quiche#2452). Switching paths does not help: `on_path_change` only runs the
/// same detection. A packet of the old path that does arrive is acknowledged like any other
/// (same keys, same connection ID: the client cannot tell it apart); its ACK lifts the old
/// path's largest acknowledged packet above the stranded ones, and quiche's own loss
/// detection (packet and time thresholds, RFC 9002 §6.1) declares them lost and sends their
/// data again on the new path.
fn settle(
    conn: &mut quiche::Connection,
    local: SocketAddr,
    left: SocketAddr,
    now: SocketAddr,
    cid_len: usize,
    id: &str,
    traced: bool,
) -> Settle {
    // No such path (quiche forgot it): nothing can be stranded on it.
    if conn.send_ack_eliciting_on_path(local, left).is_err() {
        return Settle::NoPath;
    }
    let mut out = vec![0u8; super::config::MAX_DATAGRAM];
    match conn.send_on_path(&mut out, Some(local), Some(left)) {
        Ok((n, _)) => {
            out.truncate(n);
            trace::sent(Layer::Quic, || {
                format!(
                    "{id}: datagram {n} bytes to {now}: {}: a PING of the path to {left}, sent where the peer is now; its ACK lets quiche declare lost what went to {left} and never arrived",
                    packet::describe_datagram(&out, cid_len)
                )
            });
            Settle::Sent(out)
        }
        Err(quiche::Error::Done) => {
            if !traced {
                trace::event(Layer::Quic, || {
                    format!(
                        "{id}: no room yet for a packet of the path to {left} (its window is full): tried again every turn"
                    )
                });
            }
            Settle::NoRoom
        }
        Err(e) => {
            trace::event(Layer::Quic, || {
                format!("{id}: no packet of the path to {left} to send: {e}")
            });
            Settle::NoPath
        }
    }
}

/// What [`settle`] could do.
enum Settle {
    /// The PING, to send where the peer is now.
    Sent(Vec<u8>),
    /// Not now: the path's window is full.
    NoRoom,
    /// The path is gone, or quiche refused: nothing more to do.
    NoPath,
}
