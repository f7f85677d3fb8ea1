//! What the relay saw, as its senders sent it: each datagram's direction, size, and the
//! long headers netlab's own decoder (`netlab::quic::packet`) reads without any key —
//! Initial, 0-RTT, Handshake, Retry, their connection IDs and tokens. The interop runner
//! decrypts its pcap with the key log; the checks here need only what is visible in clear.

use netlab::l4::relay::Side;
use netlab::l4::udp_relay::{DatagramObserver, Rebinder, Verdict};
use netlab::quic::packet::{self, Form, LongType};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One packet of a datagram: its long-header type (None for a short header or an
/// undecodable one), connection IDs and token.
#[derive(Clone, Debug)]
pub struct Seen {
    pub from: Side,
    pub ty: Option<LongType>,
    pub scid: Vec<u8>,
    pub token: Vec<u8>,
    pub size: usize,
    /// The size of the whole datagram, on its first packet only (0 on the others).
    pub datagram: usize,
    /// When it reached the relay.
    pub at: Instant,
}

/// The log, shared between the relay's threads and the harness, and the NAT rebinding the
/// relay makes when the server has sent so many datagrams (rebind-port, rebind-addr).
#[derive(Clone, Default)]
pub struct Capture {
    log: Arc<Mutex<Vec<Seen>>>,
    mover: Arc<Mover>,
}

#[derive(Default)]
struct Mover {
    /// After this many server datagrams, from this address (None: a new port only).
    at: OnceLock<(u64, Option<IpAddr>)>,
    rebinder: OnceLock<Rebinder>,
    from_server: AtomicU64,
    /// What the rebinding gave: the new upstream address, or why it failed.
    moved: Mutex<Option<Result<SocketAddr, String>>>,
}

impl DatagramObserver for Capture {
    fn datagram(&self, from: Side, _n: u64, bytes: &[u8]) -> Verdict {
        let at = Instant::now();
        if from == Side::Server {
            self.maybe_move();
        }
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        // Short headers do not say their connection ID's length; 0 is enough to tell them.
        match packet::decode_datagram(bytes, 0) {
            Ok(headers) => {
                for (i, h) in headers.into_iter().enumerate() {
                    let (ty, token) = match h.form {
                        Form::Long { ty, token, .. } => (Some(ty), token),
                        _ => (None, Vec::new()),
                    };
                    log.push(Seen {
                        from,
                        ty,
                        scid: h.scid,
                        token,
                        size: h.size,
                        datagram: if i == 0 { bytes.len() } else { 0 },
                        at,
                    });
                }
            }
            Err(_) => log.push(Seen {
                from,
                ty: None,
                scid: Vec::new(),
                token: Vec::new(),
                size: bytes.len(),
                datagram: bytes.len(),
                at,
            }),
        }
        Verdict::Forward
    }
}

impl Capture {
    /// The relay rebinds (through `rebinder`) when the server has sent `after` datagrams:
    /// to a new port, or to the address `to`.
    pub fn rebind_after(&self, after: u64, to: Option<IpAddr>, rebinder: Rebinder) {
        let _ = self.mover.at.set((after, to));
        let _ = self.mover.rebinder.set(rebinder);
    }

    fn maybe_move(&self) {
        let m = &self.mover;
        let n = m.from_server.fetch_add(1, Ordering::SeqCst) + 1;
        let (Some((after, to)), Some(r)) = (m.at.get(), m.rebinder.get()) else {
            return;
        };
        if n == *after {
            let got = r.rebind(*to).map_err(|e| e.to_string());
            *m.moved.lock().unwrap_or_else(|p| p.into_inner()) = Some(got);
        }
    }

    /// The relay's new upstream address, if it rebound (an error if it could not).
    pub fn moved(&self) -> Option<Result<SocketAddr, String>> {
        self.mover
            .moved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn packets(&self) -> Vec<Seen> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn of(&self, from: Side, ty: LongType) -> Vec<Seen> {
        self.packets()
            .into_iter()
            .filter(|s| s.from == from && s.ty == Some(ty))
            .collect()
    }

    /// Handshakes, as the runner counts them: distinct Source Connection IDs of the
    /// server's Initial packets.
    pub fn handshakes(&self) -> usize {
        let ids: BTreeSet<Vec<u8>> = self
            .of(Side::Server, LongType::Initial)
            .into_iter()
            .map(|s| s.scid)
            .collect();
        ids.len()
    }

    /// A Retry was sent, and a later client Initial carries its token.
    pub fn retry_token_reused(&self) -> Result<(), String> {
        let packets = self.packets();
        let at = packets
            .iter()
            .position(|s| s.from == Side::Server && s.ty == Some(LongType::Retry))
            .ok_or("the server sent no Retry")?;
        let token = &packets[at].token;
        let reused = packets[at..].iter().any(|s| {
            s.from == Side::Client && s.ty == Some(LongType::Initial) && &s.token == token
        });
        if reused {
            Ok(())
        } else {
            Err("no client Initial after the Retry carries its token".into())
        }
    }

    /// Bytes of 0-RTT packets the client sent.
    pub fn zero_rtt_bytes(&self) -> usize {
        self.of(Side::Client, LongType::ZeroRtt)
            .iter()
            .map(|s| s.size)
            .sum()
    }

    /// Bytes of Handshake packets the server sent, per connection (its Initial's SCID is
    /// its Handshake's SCID too), in the order the connections began.
    pub fn server_handshake_bytes(&self) -> Vec<usize> {
        let mut order = Vec::new();
        let mut bytes = BTreeMap::<Vec<u8>, usize>::new();
        for s in self.of(Side::Server, LongType::Handshake) {
            if !bytes.contains_key(&s.scid) {
                order.push(s.scid.clone());
            }
            *bytes.entry(s.scid).or_default() += s.size;
        }
        order.iter().map(|id| bytes[id]).collect()
    }

    /// The anti-amplification limit (RFC 9000 §8.1): until the client's first Handshake
    /// packet validates its address, the server sends at most 3× the bytes it received.
    /// Returns (bytes in, bytes out) over that time.
    pub fn before_validation(&self) -> (usize, usize) {
        let (mut up, mut down) = (0, 0);
        for s in self.packets() {
            if s.from == Side::Client && s.ty == Some(LongType::Handshake) {
                break;
            }
            match s.from {
                Side::Client => up += s.datagram,
                Side::Server => down += s.datagram,
            }
        }
        (up, down)
    }

    /// Datagrams with an Initial the client sent before the server's first answer reached
    /// it (`delay` after the relay saw it): more than one means the client sent its first
    /// flight again (longrtt).
    pub fn client_initials_before_answer(&self, delay: Duration) -> usize {
        let packets = self.packets();
        let answered = packets
            .iter()
            .find(|s| s.from == Side::Server)
            .map(|s| s.at + delay);
        packets
            .iter()
            .filter(|s| s.from == Side::Client && s.ty == Some(LongType::Initial) && s.datagram > 0)
            .filter(|s| answered.is_none_or(|t| s.at < t))
            .count()
    }
}
