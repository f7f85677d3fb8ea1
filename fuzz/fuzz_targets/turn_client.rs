//! Fuzz target: the TURN client's reading of what comes from the server
//! (src/webrtc/turn/client.rs): answers to its requests, Data indications, ChannelData.
//! The target plays the server: it answers the client's own requests (so their random
//! transaction ids are matched) with challenges, signed successes, errors, or any bytes, and
//! sends indications and ChannelData from permitted and unpermitted peers.
//! - Nothing from the server address panics the client.
//! - The client never hands up a payload from a peer it asked no permission for (RFC 8656
//!   §11.6: a Data indication from such a peer is discarded), nor ChannelData on a channel it
//!   never bound (§12).
//! - Every datagram the client sends is STUN with a valid FINGERPRINT.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::webrtc::stun_codec::{self, xor_address};
use netlab::webrtc::turn::client::{self, Client, Inbound};
use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use stun::agent::TransactionId;
use stun::attributes::{
    ATTR_DATA, ATTR_ERROR_CODE, ATTR_LIFETIME, ATTR_NONCE, ATTR_REALM, ATTR_XOR_PEER_ADDRESS,
    ATTR_XOR_RELAYED_ADDRESS, ATTR_XORMAPPED_ADDRESS,
};
use stun::integrity::MessageIntegrity;
use stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_INDICATION, CLASS_SUCCESS_RESPONSE, METHOD_DATA, MessageType,
};

const USER: &str = "student";
const PASS: &str = "secret";

#[derive(Arbitrary, Debug)]
enum Step {
    /// Answer the oldest request not answered yet.
    Answer(Answer),
    /// A Data indication from peer `n` (of four; 0 and 1 are never permitted).
    Data(u8, Vec<u8>),
    /// ChannelData on channel 0x4000 + n.
    Channel(u8, Vec<u8>),
    /// Any bytes, with the oldest request's transaction id written in when `tid`.
    Raw { tid: bool, bytes: Vec<u8> },
    /// The peer asks a permission for peer `n` (2 or 3), with a channel or not.
    Permit(u8, bool),
    /// Time passes (ms): retransmissions and refreshes.
    Tick(u16),
}

#[derive(Arbitrary, Debug)]
enum Answer {
    /// 401 or 438 with REALM and NONCE (or without, when `bare`).
    Challenge { stale: bool, bare: bool },
    /// A success, signed with the key when `signed`, with a relayed address and a lifetime.
    Success { signed: bool, lifetime: Option<u32> },
    /// Any error code and reason.
    Error(u16, Vec<u8>),
}

fn peer(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10 + n % 4], 5000 + u16::from(n % 4)))
}

/// The transaction id of a request the client sent.
fn tid_of(request: &[u8]) -> [u8; 12] {
    let mut tid = [0; 12];
    tid.copy_from_slice(&request[8..20]);
    tid
}

fn answer(request: &[u8], a: &Answer, realm_known: bool) -> Vec<u8> {
    let tid = tid_of(request);
    let Ok(m) = stun_codec::decode(request, true) else {
        return Vec::new();
    };
    let method = m.typ.method;
    let error = |code: u16, reason: &[u8]| {
        let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        v.extend_from_slice(reason);
        (ATTR_ERROR_CODE, v)
    };
    let (class, attrs, key) = match a {
        Answer::Challenge { stale, bare } => {
            let code = if *stale { 438 } else { 401 };
            let mut attrs = vec![error(code, b"Unauthorized")];
            if !bare {
                attrs.push((ATTR_REALM, b"netlab".to_vec()));
                attrs.push((ATTR_NONCE, b"0123456789abcdef".to_vec()));
            }
            (CLASS_ERROR_RESPONSE, attrs, None)
        }
        Answer::Success { signed, lifetime } => {
            let mut attrs = vec![
                (
                    ATTR_XOR_RELAYED_ADDRESS,
                    xor_address(SocketAddr::from(([198, 51, 100, 1], 50000)), &tid),
                ),
                (
                    ATTR_XORMAPPED_ADDRESS,
                    xor_address(SocketAddr::from(([203, 0, 113, 7], 40000)), &tid),
                ),
            ];
            if let Some(l) = lifetime {
                attrs.push((ATTR_LIFETIME, l.to_be_bytes().to_vec()));
            }
            let key = (*signed && realm_known).then(|| {
                MessageIntegrity::new_long_term_integrity(USER.into(), "netlab".into(), PASS.into())
            });
            (CLASS_SUCCESS_RESPONSE, attrs, key)
        }
        Answer::Error(code, reason) => {
            (CLASS_ERROR_RESPONSE, vec![error(*code % 700, reason)], None)
        }
    };
    let typ = MessageType::new(method, class);
    stun_codec::build(typ, TransactionId(tid), &attrs, &[], key.as_ref()).unwrap_or_default()
}

/// Feeds one datagram and checks what the client makes of it.
fn feed(
    c: &mut Client,
    d: &[u8],
    now: Instant,
    permitted: &HashSet<IpAddr>,
    bound: &HashSet<SocketAddr>,
) {
    if let Ok(Inbound::Data { peer, .. }) = c.handle(d, now) {
        let channel = d.first().is_some_and(|b| (0x40..=0x4F).contains(b));
        if channel {
            assert!(bound.contains(&peer), "ChannelData for {peer}, never bound");
        } else {
            assert!(
                permitted.contains(&peer.ip()),
                "Data from {peer}, never permitted"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let server = SocketAddr::from(([127, 0, 0, 1], 3478));
    let now = Instant::now();
    // The raw bytes as the server's first datagram (so captured answers seed it).
    let mut c = Client::new(server, USER, PASS);
    c.allocate(now);
    let (none, nothing) = (HashSet::new(), HashSet::new());
    feed(&mut c, data, now, &none, &nothing);

    let mut u = Unstructured::new(data);
    let Ok(steps) = Vec::<Step>::arbitrary(&mut u) else {
        return;
    };
    let mut c = Client::new(server, USER, PASS);
    let mut now = now;
    c.allocate(now);
    let mut sent: VecDeque<Vec<u8>> = VecDeque::new();
    let mut permitted = HashSet::new();
    let mut bound = HashSet::new();
    let mut realm_known = false;
    for step in steps.iter().take(64) {
        while let Some(d) = c.poll_transmit() {
            assert!(
                stun_codec::decode(&d, true).is_ok(),
                "the client sent {d:?}"
            );
            sent.push_back(d);
        }
        match step {
            Step::Answer(a) => {
                let Some(request) = sent.pop_front() else {
                    continue;
                };
                if matches!(a, Answer::Challenge { bare: false, .. }) {
                    realm_known = true;
                }
                let d = answer(&request, a, realm_known);
                feed(&mut c, &d, now, &permitted, &bound);
            }
            Step::Data(n, payload) => {
                let tid = [*n; 12];
                let attrs = [
                    (ATTR_XOR_PEER_ADDRESS, xor_address(peer(*n), &tid)),
                    (ATTR_DATA, payload.clone()),
                ];
                let typ = MessageType::new(METHOD_DATA, CLASS_INDICATION);
                let d = stun_codec::build(typ, TransactionId(tid), &attrs, &[], None).unwrap();
                feed(&mut c, &d, now, &permitted, &bound);
            }
            Step::Channel(n, payload) => {
                let d = client::channel_data(0x4000 + u16::from(*n % 8), payload);
                feed(&mut c, &d, now, &permitted, &bound);
            }
            Step::Raw { tid, bytes } => {
                let mut d = bytes.clone();
                if let (true, Some(request), true) = (*tid, sent.front(), d.len() >= 20) {
                    d[8..20].copy_from_slice(&request[8..20]);
                }
                feed(&mut c, &d, now, &permitted, &bound);
            }
            Step::Permit(n, channel) => {
                let p = peer(2 + n % 2);
                if c.relayed().is_some() {
                    permitted.insert(p.ip());
                    if *channel {
                        bound.insert(p);
                    }
                }
                c.permit(p, *channel, now);
            }
            Step::Tick(ms) => {
                now += Duration::from_millis(u64::from(*ms) * 100);
                c.tick(now);
            }
        }
    }
});
