//! Fuzz target: ICE candidate lines (src/webrtc/ice/candidate.rs), as they come in an SDP
//! offer or trickled in an sdpfrag (`PATCH /webrtc/<n>`, RFC 8840).
//! - Any text never panics.
//! - A line that parses writes back (`to_sdp`) to a line that parses to the same candidate,
//!   bare or with `a=candidate:` in front as SDP carries it.
//! - A candidate netlab could gather (foundation of ice-chars, priority in 1..2^31, an
//!   address a packet can go to, any type, any related address), written, parses to itself.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::webrtc::ice::candidate::Candidate;
use netlab::webrtc::ice::priority::CandidateKind;
use std::net::{IpAddr, SocketAddr};

#[derive(Arbitrary, Debug)]
struct Input {
    foundation: Vec<u8>,
    priority: u32,
    ip: (bool, [u8; 16], u16),
    kind: u8,
    related: Option<(bool, [u8; 16], u16)>,
}

/// RFC 8839 §5.1: ice-char = ALPHA / DIGIT / "+" / "/".
const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn addr((v6, b, port): (bool, [u8; 16], u16)) -> SocketAddr {
    let ip = if v6 {
        IpAddr::from(b)
    } else {
        IpAddr::from([b[0], b[1], b[2], b[3]])
    };
    SocketAddr::new(ip, port)
}

fn round_trip(c: &Candidate) {
    let line = c.to_sdp();
    assert_eq!(Candidate::parse(&line).as_ref(), Ok(c), "{line}");
    let sdp = format!("a=candidate:{line}");
    assert_eq!(Candidate::parse(&sdp).as_ref(), Ok(c), "{sdp}");
    let _ = c.to_string();
}

// The raw bytes are a line (so captured lines seed it); the same bytes, read as an `Input`,
// choose a candidate to write.
fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Candidate::parse(&String::from_utf8_lossy(data)) {
        round_trip(&c);
    }
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let foundation: String = input
        .foundation
        .iter()
        .take(32)
        .map(|b| char::from(ICE_CHARS[usize::from(*b) % ICE_CHARS.len()]))
        .collect();
    let at = addr(input.ip);
    let usable = !at.ip().is_unspecified()
        && !at.ip().is_multicast()
        && at.ip() != IpAddr::from([255, 255, 255, 255])
        && at.port() != 0;
    if foundation.is_empty() || !(1..1 << 31).contains(&input.priority) || !usable {
        return;
    }
    let kind = match input.kind % 4 {
        0 => CandidateKind::Host,
        1 => CandidateKind::ServerReflexive,
        2 => CandidateKind::PeerReflexive,
        _ => CandidateKind::Relayed,
    };
    round_trip(&Candidate {
        foundation,
        priority: input.priority,
        addr: at,
        kind,
        related: input.related.map(addr),
    });
});
