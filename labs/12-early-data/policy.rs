//! Lab 12 — the file you edit: what a server may answer from 0-RTT (early data).
//!
//! A returning HTTP/3 client sends its first requests in 0-RTT packets, before the handshake
//! completes. Anyone who recorded those packets can send them again, as often as they like,
//! and the server (quiche and BoringSSL keep no list of tickets already seen) reads the same
//! requests again each time. The server calls `decide` for every request it reads before the
//! handshake completes (`Config::early_policy` in `src/quic/server.rs`, called from
//! `src/quic/streams.rs`): `Early::Answer` hands it to the handler now; `Early::TooEarly`
//! answers `425 Too Early` (RFC 8470 §5.2) and the client sends it again after the handshake,
//! when it can no longer be a replay. See README.md. Check: `make check LAB=12`.

use netlab::http::fields::Headers;
use netlab::quic::early::Early;

/// The early-data policy: may this request, read from 0-RTT, be answered now?
pub fn decide(method: &str, target: &str, fields: &Headers) -> Early {
    // TODO: answer what is safe to do twice (and any number of times); everything else waits.
    let _ = (method, target, fields);
    Early::TooEarly
}
