//! Lab 12 — a reference solution: the safe methods of RFC 9110 §9.2.1 are answered from
//! 0-RTT; everything else (unknown methods too) waits for the handshake with 425.

use netlab::http::fields::Headers;
use netlab::quic::early::Early;

/// GET, HEAD, OPTIONS and TRACE are safe: the client asks for no change of state, so a
/// replay can cost the server work but never change anything. Idempotent is not enough
/// (PUT, DELETE); the path and the fields prove nothing (a replayer copies them).
pub fn decide(method: &str, _target: &str, _fields: &Headers) -> Early {
    match method {
        "GET" | "HEAD" | "OPTIONS" | "TRACE" => Early::Answer,
        _ => Early::TooEarly,
    }
}
