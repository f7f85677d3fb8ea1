//! [L7] HTTP/1.1, built from the bytes up (RFC 9110 semantics, RFC 9112 syntax).
//!
//! Read in this order:
//! 1. [`parse`] — the head parser (sans-IO, incremental).
//! 2. [`message`] — requests, responses, fields, and the body-length rules.
//! 3. [`chunked`] — the chunked transfer coding.
//! 4. [`media`] — media types.

pub mod chunked;
pub mod media;
pub mod message;
pub mod parse;
