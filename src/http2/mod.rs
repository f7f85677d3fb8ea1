//! [L7] HTTP/2 (RFC 9113): the same requests and responses as HTTP/1.1, in binary frames,
//! many streams multiplexed on one TCP connection, and header fields compressed with HPACK
//! (RFC 7541). The protocol engine is the `h2` crate; what netlab writes by hand is what
//! the lecture is about: the frames and HPACK decoded for the trace.
//!
//! Read in this order:
//! 1. [`frame`] — the 9-byte frame header and every frame type.
//! 2. [`hpack`] and [`huffman`] — header compression: tables, integers, Huffman strings.

pub mod frame;
pub mod hpack;
pub mod huffman;
