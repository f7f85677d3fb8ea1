//! \[L7\] HTTP semantics (RFC 9110), shared by every version: what a request and a response
//! are, the handler API, routing, media types, URIs, dates, and the services `netlab http
//! serve` offers. Nothing here knows how a message travels: HTTP/1.1's text lines live in
//! [`crate::http1`]; HTTP/2 ([`crate::http2`]) and HTTP/3 ([`crate::quic`]) serve the very same handlers.
//!
//! Read in this order:
//! 1. [`message`] — the version, requests and responses; [`fields`] — header fields and the
//!    hop-by-hop ones; [`status`] — status codes, reason phrases, and which
//!    responses carry no content.
//! 2. [`handler`] and [`router`] — the handler API, and which handler answers what.
//! 3. [`media`], [`uri`], [`date`] — media types, URLs, HTTP dates; [`link`] — preloads
//!    named by `Link`; [`response_fields`] — a response's fields as HTTP/2 and HTTP/3 send
//!    them.
//! 4. [`services`] — the resources: REST, SOAP, static files, the monolith and the gateway.

pub mod alt_svc;
pub mod date;
pub mod fields;
pub mod handler;
pub mod link;
pub mod media;
pub mod message;
pub mod progress;
pub mod response_fields;
pub mod router;
pub mod services;
pub mod status;
pub mod uri;
