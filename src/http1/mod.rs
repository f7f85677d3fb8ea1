//! \[L7\] HTTP/1.1 on the wire (RFC 9112): the text format, built from the bytes up. What a
//! request and a response mean, the handler API and the services are not here but in
//! [`crate::http`], shared with HTTP/2 and HTTP/3; this folder only carries them over TCP.
//!
//! Read in this order:
//! 1. [`parse`] — the head parser (sans-IO, incremental); [`head`] — the head as a value,
//!    and `emit`, the one writer of heads.
//! 2. [`framing`] — the body-length rules; [`chunked`] — the chunked transfer coding.
//! 3. [`reader`] — reading whole messages from a connection, with deadlines.
//! 4. [`server`] — the server loop; [`expect`] and [`persistence`] — its decisions after a
//!    head (100-continue) and after a response (keep the connection or close it).
//!    [`event_loop`] — the same server as a few poll(2) loops, each serving many
//!    connections from one thread (`--loops N`), the shape nginx has; read it after.
//! 5. [`client`] and [`proxy`] — the other two roles.
//! 6. [`tap`] — HTTP/1.1 decoded between two other programs (`netlab tap --proto http1`).
//! 7. [`tour`] — the HTTP section of `netlab tour`.

pub mod chunked;
pub mod client;
pub mod event_loop;
pub mod expect;
pub mod framing;
pub mod head;
pub mod parse;
pub mod persistence;
pub mod proxy;
pub mod reader;
pub mod server;
pub mod tap;
pub mod tour;
