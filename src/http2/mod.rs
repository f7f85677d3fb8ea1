//! \[L7\] HTTP/2 (RFC 9113): the same requests and responses as HTTP/1.1, in binary frames,
//! many streams multiplexed on one TCP connection, and header fields compressed with HPACK
//! (RFC 7541). The protocol engine is the `h2` crate; what netlab writes by hand is what
//! the lecture is about: the frames and HPACK decoded for the trace.
//!
//! Read in this order:
//! 1. [`frame`] — the 9-byte frame header and every frame type.
//! 2. [`hpack`] and [`huffman`] — header compression: tables, integers, Huffman strings.
//! 3. [`tap`] — a whole connection decoded, both directions (the tap and the trace).
//! 4. [`server`] — the HTTP/1.1 handlers served over HTTP/2, behind a blocking facade;
//!    [`stream`] — one stream of it, request to response and pushes; [`io`] — the traced
//!    byte stream and flow-controlled bodies it shares with the client; [`guard`] (and its
//!    sans-IO [`screen`]) — RFC 9113's own error codes, before `h2` sees the frames;
//!    [`pool`] — the threads that run the handlers, woken lazily.
//! 5. [`client`] — several requests as concurrent streams on one connection.
//! 6. [`tour`] — the HTTP/2 section of `netlab tour`.

pub mod client;
pub mod frame;
pub mod guard;
pub mod hpack;
pub mod huffman;
pub mod io;
pub mod pool;
pub mod screen;
pub mod server;
pub mod stream;
pub mod tap;
pub mod tour;
