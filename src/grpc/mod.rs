//! \[L7\] gRPC, assembled by hand on HTTP/2 (the `h2` crate) and Protocol Buffers (`prost`):
//! a call is an HTTP/2 stream, its messages are length-prefixed protobuf in DATA frames,
//! and its outcome is a status in the trailers (grpc/doc/PROTOCOL-HTTP2.md).
//!
//! Read in this order:
//! 1. `proto/netlab.proto` — the service, in the language every gRPC peer reads.
//! 2. [`exchange`] — its messages as Rust structs and its four methods as plain functions;
//!    [`notes`] — the REST API's notes as a gRPC service, and reached through one.
//! 3. [`wire`] — the 5-byte message framing and `grpc-timeout`; [`status`] — the codes.
//! 4. [`call`] — a call as a handler sees it (`recv`, `send`).
//! 5. [`server`] and [`client`] — both ends, on the HTTP/2 server and client of
//!    [`crate::http2`].
//! 6. [`tour`] — the gRPC section of `netlab tour`, with REST next to it.

pub mod call;
pub mod client;
pub mod exchange;
pub mod notes;
pub mod server;
pub mod status;
pub mod tour;
pub mod wire;
