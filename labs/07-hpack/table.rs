//! Lab 07 — the file you edit: two parts of an HPACK decoder (RFC 7541).
//!
//! 1. `decode_integer`: the prefix-coded integer of §5.1. Every index, string length and
//!    table size in a header block is one.
//! 2. `Table`: the dynamic table of §2.3.2, with the size rule of §4.1 and eviction of §4.3
//!    and §4.4.
//!
//! The rest of the decoder (the representations of §6, the static table, Huffman) is given
//! in `block.rs` and calls what you write here. Today the integer decoder reads only the
//! prefix and the table forgets everything it is given. See README.md; check with
//! `make check LAB=07`.

use crate::block::{Dynamic, Error};

/// Decodes an integer whose first `prefix_bits` bits (1–8) are the low bits of `input[*at]`;
/// advances `at` past the integer's last byte. Input that ends inside the integer is
/// `Err(Error::Truncated)`; a value too large for a `usize` (over 2^64) must be
/// `Err(Error::IntegerOverflow)`, never a wrapped number or a panic, and one over 2^32 may be
/// (no real header is that big).
pub fn decode_integer(input: &[u8], at: &mut usize, prefix_bits: u8) -> Result<usize, Error> {
    let first = *input.get(*at).ok_or(Error::Truncated)?;
    *at += 1;
    let max = (1usize << prefix_bits) - 1;
    // TODO: when the prefix is all ones, the value goes on in the bytes that follow (§5.1).
    Ok(usize::from(first) & max)
}

/// The dynamic table. `get(1)` is the entry inserted last (HPACK index 62).
pub struct Table {
    // TODO: the entries, their size in the RFC's measure, and the maximum.
}

impl Table {
    /// An empty table whose maximum size is `max_size` (SETTINGS_HEADER_TABLE_SIZE).
    pub fn new(max_size: usize) -> Table {
        let _ = max_size;
        Table {}
    }
}

impl Dynamic for Table {
    fn get(&self, index: usize) -> Option<(&[u8], &[u8])> {
        // TODO
        let _ = index;
        None
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        // TODO: an entry's size is name + value + 32 (§4.1); evict from the end (§4.4).
        let _ = (name, value);
    }

    fn set_max(&mut self, size: usize) {
        // TODO: evict until the table fits (§4.3).
        let _ = size;
    }

    fn size(&self) -> usize {
        0
    }

    fn len(&self) -> usize {
        0
    }
}
