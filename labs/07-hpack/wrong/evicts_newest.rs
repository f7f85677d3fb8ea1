//! Lab 07 — a plausible wrong solution, kept so that the check is proved to catch it:
//! entries are stored newest first (right), but eviction pops from the same end it pushes,
//! so a full table drops the entry it added last instead of the oldest. §4.4: entries are
//! evicted "from the end of the dynamic table", the oldest, and the encoder counts on it.
//! `make check LAB=07 WRONG=evicts_newest` shows the failure.

use crate::block::{Dynamic, Error};
use std::collections::VecDeque;

/// Decodes an integer whose first `prefix_bits` bits are the low bits of `input[*at]`;
/// advances `at` past it.
///
/// ```text
/// decode I from the next N bits
/// if I < 2^N - 1, return I
/// else
///     M = 0
///     repeat
///         B = next octet
///         I = I + (B & 127) * 2^M
///         M = M + 7
///     while B & 128 == 128
///     return I
/// ```
pub fn decode_integer(input: &[u8], at: &mut usize, prefix_bits: u8) -> Result<usize, Error> {
    let first = *input.get(*at).ok_or(Error::Truncated)?;
    *at += 1;
    // usize, not u8: with an 8-bit prefix, 1 << 8 does not fit in a byte.
    let max = (1usize << prefix_bits) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok(value);
    }
    let mut shift = 0u32;
    loop {
        // Bytes must follow while the MSB says so: running out is an error, not the end.
        let b = *input.get(*at).ok_or(Error::Truncated)?;
        *at += 1;
        if shift > 28 {
            return Err(Error::IntegerOverflow);
        }
        value += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
}

/// "The size of an entry is the sum of its name's length in octets, its value's length in
/// octets, and 32" (§4.1).
fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len() + value.len() + 32
}

/// The dynamic table: newest entry first, so `get(1)` is `entries[0]`.
pub struct Table {
    entries: VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    max: usize,
}

impl Table {
    pub fn new(max_size: usize) -> Table {
        Table {
            entries: VecDeque::new(),
            size: 0,
            max: max_size,
        }
    }

    /// Evicts from the end (the oldest entries) until the table fits `limit` (§4.4).
    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            // WRONG: pop_front takes the newest entry; the oldest is at the back.
            match self.entries.pop_front() {
                Some((n, v)) => self.size -= entry_size(&n, &v),
                None => break,
            }
        }
    }
}

impl Dynamic for Table {
    fn get(&self, index: usize) -> Option<(&[u8], &[u8])> {
        let (n, v) = self.entries.get(index.checked_sub(1)?)?;
        Some((n, v))
    }

    /// "Before a new entry is added to the dynamic table, entries are evicted from the end of
    /// the dynamic table until the size of the dynamic table is less than or equal to
    /// (maximum size - new entry size) or until the table is empty. If the size of the new
    /// entry is less than or equal to the maximum size, that entry is added to the table."
    /// An entry larger than the maximum empties the table and is not added (§4.4).
    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let size = entry_size(&name, &value);
        if size > self.max {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max - size);
        self.size += size;
        self.entries.push_front((name, value));
    }

    /// "Whenever the maximum size for the dynamic table is reduced, entries are evicted from
    /// the end of the dynamic table until the size of the dynamic table is less than or equal
    /// to the maximum size" (§4.3).
    fn set_max(&mut self, size: usize) {
        self.max = size;
        self.evict_to(size);
    }

    fn size(&self) -> usize {
        self.size
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}
