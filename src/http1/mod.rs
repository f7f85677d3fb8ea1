//! [L7] HTTP/1.1, built from the bytes up (RFC 9110 semantics, RFC 9112 syntax).
//!
//! Read in this order:
//! 1. [`parse`] — the head parser (sans-IO, incremental).
//! 2. [`message`] — requests, responses, fields; [`framing`] — the body-length rules.
//! 3. [`chunked`] — the chunked transfer coding.
//! 4. [`media`], [`uri`], [`date`] — media types, URLs, HTTP dates.
//! 5. [`reader`] — reading whole messages from a connection, with deadlines.
//! 6. [`server`] and [`router`] — the server loop and the handler API.
//! 7. [`services`] — the resources: REST, SOAP, static files, the monolith and the gateway.
//! 8. [`client`] and [`proxy`] — the other two roles.
//! 9. [`tap`] — HTTP/1.1 decoded between two other programs (`netlab tap --proto http1`).
//! 10. [`tour`] — the HTTP section of `netlab tour`.

pub mod chunked;
pub mod client;
pub mod date;
pub mod framing;
pub mod media;
pub mod message;
pub mod parse;
pub mod proxy;
pub mod reader;
pub mod router;
pub mod server;
pub mod services;
pub mod tap;
pub mod tour;
pub mod transport;
pub mod uri;
