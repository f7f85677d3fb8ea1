//! Lab 07 — given, not edited: the rest of an HPACK decoder (RFC 7541), around the two parts
//! you write in `table.rs`. It reads the representations of §6 (indexed, literal, size
//! update), looks names and values up in the static table (Appendix A, from netlab) or in
//! your dynamic table, and decodes string literals (§5.2, Huffman from netlab). Every
//! integer in a block — an index, a string's length, a new table size — goes through your
//! `decode_integer`, and every dynamic entry through your `Table`.
//!
//! ```text
//!   1xxxxxxx  indexed field             (§6.1)   index on 7 bits
//!   01xxxxxx  literal, incremental      (§6.2.1) name index on 6 bits; added to the table
//!   001xxxxx  dynamic table size update (§6.3)   new maximum on 5 bits
//!   0000xxxx  literal, not indexed      (§6.2.2) name index on 4 bits
//!   0001xxxx  literal, never indexed    (§6.2.3) name index on 4 bits
//! ```

use netlab::http2::hpack::STATIC;
use netlab::http2::huffman;
use std::fmt;

/// What can go wrong in a header block: one variant per rule of RFC 7541.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The block ended in the middle of an integer or a string (§5).
    Truncated,
    /// An integer larger than this decoder takes: one over 2^64 always, one over 2^32 if
    /// the decoder likes (no real header is that big).
    IntegerOverflow,
    /// Index 0, or past the end of both tables (§2.3.3: "MUST be treated as a decoding
    /// error").
    Index(usize),
    /// A Huffman-coded string that does not decode (§5.2).
    Huffman,
    /// A size update above SETTINGS_HEADER_TABLE_SIZE (§6.3).
    TableSize { asked: usize, limit: usize },
    /// A size update after the first field of a block (§4.2).
    LateSizeUpdate,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("the block ends inside an integer or a string (§5)"),
            Error::IntegerOverflow => f.write_str("an integer too large (§5.1)"),
            Error::Index(i) => write!(f, "index {i} is in neither table (§2.3.3)"),
            Error::Huffman => f.write_str("a Huffman string that does not decode (§5.2)"),
            Error::TableSize { asked, limit } => {
                write!(
                    f,
                    "a table size update to {asked} over the limit {limit} (§6.3)"
                )
            }
            Error::LateSizeUpdate => f.write_str("a table size update after a field (§4.2)"),
        }
    }
}

/// The dynamic table (§2.3.2), as the decoder uses it. Your `Table` implements it.
pub trait Dynamic {
    /// Entry `index` of the dynamic table: 1 is the entry inserted last (it is HPACK index
    /// 62), 2 the one before it, and so on; `None` past the end (and for 0).
    fn get(&self, index: usize) -> Option<(&[u8], &[u8])>;
    /// Adds an entry at the front, evicting from the end as §4.4 says.
    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>);
    /// A new maximum size (§4.3, §6.3): evicts from the end until the table fits.
    fn set_max(&mut self, size: usize);
    /// The size in the RFC's measure: the sum of every entry's size (§4.1).
    fn size(&self) -> usize;
    /// How many entries it holds.
    fn len(&self) -> usize;
}

/// The integer decoder's signature (§5.1): your `decode_integer`.
pub type DecodeInteger = fn(&[u8], &mut usize, u8) -> Result<usize, Error>;

/// Where a field came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// §6.1, the whole field from the static table (1–61) or the dynamic table (62–).
    Indexed(usize),
    /// §6.2, a literal value; the name from this index (0: a literal name too). `added`:
    /// with incremental indexing, so it went into the dynamic table.
    Literal { name_index: usize, added: bool },
}

/// One decoded field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
    pub how: How,
}

/// One direction's decoder: your table and your integer decoder, and the rest.
pub struct Decoder {
    pub table: Box<dyn Dynamic>,
    integer: DecodeInteger,
    /// SETTINGS_HEADER_TABLE_SIZE: the largest size update the encoder may send (§6.3).
    limit: usize,
}

impl Decoder {
    pub fn new(table: Box<dyn Dynamic>, integer: DecodeInteger, limit: usize) -> Decoder {
        Decoder {
            table,
            integer,
            limit,
        }
    }

    /// Static entries 1–61, then the dynamic table (§2.3.3).
    fn entry(&self, index: usize) -> Result<(Vec<u8>, Vec<u8>), Error> {
        if index == 0 {
            return Err(Error::Index(0));
        }
        if index <= STATIC.len() {
            let (n, v) = STATIC[index - 1];
            return Ok((n.as_bytes().to_vec(), v.as_bytes().to_vec()));
        }
        self.table
            .get(index - STATIC.len())
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .ok_or(Error::Index(index))
    }

    /// A string literal (§5.2): the H bit, the length on a 7-bit prefix, the octets.
    fn string(&self, block: &[u8], at: &mut usize) -> Result<Vec<u8>, Error> {
        let huffman = block.get(*at).ok_or(Error::Truncated)? & 0x80 != 0;
        let len = (self.integer)(block, at, 7)?;
        let end = at.checked_add(len).ok_or(Error::IntegerOverflow)?;
        let raw = block.get(*at..end).ok_or(Error::Truncated)?;
        *at = end;
        if huffman {
            huffman::decode(raw).map_err(|_| Error::Huffman)
        } else {
            Ok(raw.to_vec())
        }
    }

    /// Decodes one whole header block (HEADERS and its CONTINUATIONs joined).
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, Error> {
        let mut fields = Vec::new();
        let mut at = 0;
        while at < block.len() {
            let first = block[at];
            let before = at;
            if first & 0x80 != 0 {
                // §6.1: the index on 7 bits.
                let index = (self.integer)(block, &mut at, 7)?;
                let (name, value) = self.entry(index)?;
                fields.push(Field {
                    name,
                    value,
                    how: How::Indexed(index),
                });
            } else if first & 0xe0 == 0x20 {
                // §6.3, and §4.2: "MUST occur at the beginning of the first header block
                // following the change to the dynamic table size".
                if !fields.is_empty() {
                    return Err(Error::LateSizeUpdate);
                }
                let asked = (self.integer)(block, &mut at, 5)?;
                if asked > self.limit {
                    return Err(Error::TableSize {
                        asked,
                        limit: self.limit,
                    });
                }
                self.table.set_max(asked);
            } else {
                // §6.2: 01 + 6 bits (incremental), 0000 / 0001 + 4 bits (not / never indexed).
                let added = first & 0xc0 == 0x40;
                let prefix = if added { 6 } else { 4 };
                let name_index = (self.integer)(block, &mut at, prefix)?;
                let name = if name_index == 0 {
                    self.string(block, &mut at)?
                } else {
                    self.entry(name_index)?.0
                };
                let value = self.string(block, &mut at)?;
                if added {
                    self.table.insert(name.clone(), value.clone());
                }
                fields.push(Field {
                    name,
                    value,
                    how: How::Literal { name_index, added },
                });
            }
            // A decode_integer that does not move `at` would loop for ever here.
            if at <= before {
                return Err(Error::Truncated);
            }
        }
        Ok(fields)
    }
}
