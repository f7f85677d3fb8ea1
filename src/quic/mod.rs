//! HTTP/3 over QUIC (RFC 9114, RFC 9000, RFC 9001): "binary over multiplexed QUIC".
//!
//! QUIC gives over UDP what TCP + TLS gave over IP — reliable, ordered, encrypted bytes —
//! but as many independent streams, so a lost packet stalls only the stream it carried.
//! quiche is the protocol engine (sans-I/O: datagrams and time in, datagrams and events out);
//! what is left for netlab is the lesson: the loop that drives it ([`server`], [`client`]),
//! the UDP steps ([`udp`]), and decoders that make every packet visible ([`packet`]).
//!
//! - [`packet`]: the QUIC packet header, decoded by hand (wire).
//! - [`token`]: the Retry token that validates a client's address (wire + a key).
//! - [`codes`]: transport, HTTP/3 and QPACK error codes by name.
//! - [`config`]: TLS (BoringSSL with rcgen certificates) and transport parameters.
//! - [`early`]: what may be answered from 0-RTT (the early-data policy, RFC 8470).
//! - [`keylog`]: the key log kept in memory, to unmask 1-RTT packets' key phase for the trace.
//! - [`h3`]: HTTP/3 fields ↔ the version-neutral `Request` / `Response`.
//! - [`paths`]: connection migration: spare connection IDs, path events, the
//!   anti-amplification limit on a new path, traced.
//! - [`handshakes`]: each source address's share of the handshakes in progress.
//! - [`udp`]: wait for a datagram until the next timer; send what quiche has ready.
//! - [`server`], [`client`]: the loops, in numbered steps; `server/admission.rs` decides who
//!   may start a connection, `server/tickets.rs` keeps and rotates the session-ticket key,
//!   `streams` holds the server's per-stream work (HTTP/3 events, the early-data policy
//!   applied, request bodies in, responses out); `client/wire.rs` holds the client's socket
//!   steps (the ones lab 09 replaces), `client/error.rs` the ways a fetch fails,
//!   `client/session.rs` the session stored between visits (`--session`).

pub mod client;
pub mod codes;
pub mod config;
pub mod early;
pub mod h3;
pub mod handshakes;
pub mod keylog;
pub mod packet;
pub mod paths;
pub mod server;
mod streams;
pub mod token;
pub mod tour;
pub mod udp;
