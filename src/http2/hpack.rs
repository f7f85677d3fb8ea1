//! HPACK, header compression for HTTP/2 (RFC 7541), decoded by hand for the trace and the
//! tap: a static table of 61 common fields, a dynamic table both ends fill as they go,
//! prefix-coded integers, and string literals that may be Huffman-coded ([`super::huffman`]).
//! The `h2` crate encodes and decodes for real; this decoder shows what it did: which field
//! came from which table, and how few bytes a repeated request takes.
//!
//! ```text
//!   1xxxxxxx  indexed field            (§6.1)  the whole field from a table
//!   01xxxxxx  literal, incremental     (§6.2.1) and add it to the dynamic table
//!   001xxxxx  dynamic table size update (§6.3)
//!   0000xxxx  literal, not indexed     (§6.2.2)
//!   0001xxxx  literal, never indexed   (§6.2.3) and no intermediary may index it either
//! ```
//!
//! One decoder per direction of a connection: each side's encoder fills the table its
//! peer's decoder keeps. Sans-IO: a header block in, fields out.

use super::huffman::{self, HuffmanError};
use std::collections::VecDeque;
use std::fmt;

/// The static table (RFC 7541 Appendix A): index 1 to 61.
pub const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// "The size of an entry is the sum of its name's length in octets, its value's length in
/// octets, and 32" (§4.1): the 32 stands for the bookkeeping an implementation needs.
pub fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len() + value.len() + 32
}

/// How a field was represented in the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repr {
    /// Indexed (§6.1): name and value from entry `index` of the static or dynamic table.
    Indexed { index: usize },
    /// A literal (§6.2) whose name came from entry `name_index` (0: the name is literal too).
    Literal {
        name_index: usize,
        indexing: Indexing,
    },
}

/// What a literal asks the decoder to do with the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indexing {
    /// Add it to the dynamic table (§6.2.1).
    Incremental,
    /// Do not add it (§6.2.2).
    Without,
    /// Do not add it, and no intermediary may either (§6.2.3): for secrets.
    Never,
}

/// One decoded field, with how it came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
    pub repr: Repr,
    /// Whether a string of it was Huffman-coded.
    pub huffman: bool,
}

impl Field {
    /// `:method: GET (indexed 2, static)` — the field and where it came from, for the trace.
    pub fn describe(&self) -> String {
        let how = match self.repr {
            Repr::Indexed { index } if index <= STATIC.len() => format!("indexed {index}, static"),
            Repr::Indexed { index } => format!("indexed {index}, dynamic"),
            Repr::Literal {
                name_index,
                indexing,
            } => {
                let name = match name_index {
                    0 => "literal name".to_string(),
                    i if i <= STATIC.len() => format!("name indexed {i}, static"),
                    i => format!("name indexed {i}, dynamic"),
                };
                let what = match indexing {
                    Indexing::Incremental => "added to the dynamic table",
                    Indexing::Without => "not indexed",
                    Indexing::Never => "never indexed",
                };
                let huff = if self.huffman { ", Huffman" } else { "" };
                format!("literal, {name}{huff}, {what}")
            }
        };
        format!(
            "{}: {} ({how})",
            String::from_utf8_lossy(&self.name),
            String::from_utf8_lossy(&self.value)
        )
    }
}

/// One variant per rule of RFC 7541 a header block broke. Each is a COMPRESSION_ERROR
/// (RFC 9113 §4.3): the connection cannot go on, since both tables are now out of step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HpackError {
    /// The block ended in the middle of a representation.
    Truncated,
    /// An integer too large for this decoder (over 2^32).
    IntegerOverflow,
    /// Index 0, or past the end of both tables (§2.3.3: "MUST be treated as a decoding
    /// error").
    Index(usize),
    /// A string literal's Huffman code is wrong.
    Huffman(HuffmanError),
    /// A table size update above the limit the settings allow (§6.3).
    TableSize { asked: usize, limit: usize },
    /// A table size update after the first field of a block (§4.2).
    LateSizeUpdate,
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HpackError::Truncated => f.write_str("the header block ends inside a field (RFC 7541 §5)"),
            HpackError::IntegerOverflow => f.write_str("an integer too large (RFC 7541 §5.1)"),
            HpackError::Index(i) => write!(f, "index {i} is in neither table (RFC 7541 §2.3.3)"),
            HpackError::Huffman(HuffmanError::Eos) => {
                f.write_str("a Huffman string holds EOS (RFC 7541 §5.2)")
            }
            HpackError::Huffman(HuffmanError::Padding) => f.write_str(
                "a Huffman string ends in bad padding: at most 7 bits, all ones (RFC 7541 §5.2)",
            ),
            HpackError::TableSize { asked, limit } => write!(
                f,
                "a dynamic table size update to {asked} over the limit {limit} (RFC 7541 §6.3)"
            ),
            HpackError::LateSizeUpdate => f.write_str(
                "a dynamic table size update after a field (RFC 7541 §4.2: only at the start of a block)",
            ),
        }
    }
}

impl std::error::Error for HpackError {}

/// Decodes an integer with an N-bit prefix (§5.1), starting at `input[*at]` whose low `n`
/// bits begin it. Advances `at` past it.
///
/// ```text
/// if I < 2^N - 1, encode I on N bits
/// else: N bits of ones, then I - (2^N - 1) in 7-bit groups, low first, MSB = "more"
/// ```
pub(crate) fn decode_integer(input: &[u8], at: &mut usize, n: u8) -> Result<usize, HpackError> {
    let first = *input.get(*at).ok_or(HpackError::Truncated)?;
    *at += 1;
    let max = (1usize << n) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok(value);
    }
    let mut shift = 0u32;
    loop {
        let b = *input.get(*at).ok_or(HpackError::Truncated)?;
        *at += 1;
        if shift > 28 {
            return Err(HpackError::IntegerOverflow);
        }
        value += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
}

/// Encodes an integer with an N-bit prefix; `flags` fills the bits above the prefix.
pub fn encode_integer(value: usize, n: u8, flags: u8, out: &mut Vec<u8>) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// A string literal as it lies in the block (§5.2): its octets, Huffman-coded or not.
#[derive(Clone, Copy, Debug)]
struct Literal<'a> {
    raw: &'a [u8],
    huffman: bool,
}

impl Literal<'_> {
    /// The string's octets, decoded.
    fn decode(self) -> Result<Vec<u8>, HpackError> {
        if self.huffman {
            huffman::decode(self.raw).map_err(HpackError::Huffman)
        } else {
            Ok(self.raw.to_vec())
        }
    }

    /// How many octets it decodes to, checked as [`Literal::decode`] checks it.
    fn len(self) -> Result<usize, HpackError> {
        if self.huffman {
            huffman::decoded_len(self.raw).map_err(HpackError::Huffman)
        } else {
            Ok(self.raw.len())
        }
    }
}

/// A string literal (§5.2): H bit, 7-bit-prefix length, then the octets (Huffman if H).
fn read_string<'a>(input: &'a [u8], at: &mut usize) -> Result<Literal<'a>, HpackError> {
    let huffman = input.get(*at).ok_or(HpackError::Truncated)? & 0x80 != 0;
    let len = decode_integer(input, at, 7)?;
    let end = at.checked_add(len).ok_or(HpackError::IntegerOverflow)?;
    let raw = input.get(*at..end).ok_or(HpackError::Truncated)?;
    *at = end;
    Ok(Literal { raw, huffman })
}

/// One representation of a header block, read but not yet applied to a table.
enum Representation<'a> {
    /// §6.1: the whole field from entry `index`.
    Indexed(usize),
    /// §6.3: a new maximum size for the dynamic table.
    SizeUpdate(usize),
    /// §6.2: a literal value, with a name from entry `name_index` or (0) literal too.
    Literal {
        name_index: usize,
        name: Option<Literal<'a>>,
        value: Literal<'a>,
        indexing: Indexing,
    },
}

/// Reads the representation starting at `block[*at]` (the first byte says which) and
/// advances `at` past it.
fn read_representation<'a>(
    block: &'a [u8],
    at: &mut usize,
) -> Result<Representation<'a>, HpackError> {
    let b = *block.get(*at).ok_or(HpackError::Truncated)?;
    if b & 0x80 != 0 {
        // §6.1 Indexed Header Field: 1, then the index on 7 bits.
        return Ok(Representation::Indexed(decode_integer(block, at, 7)?));
    }
    if b & 0xe0 == 0x20 {
        // §6.3 Dynamic Table Size Update: 001, then the new maximum on 5 bits.
        return Ok(Representation::SizeUpdate(decode_integer(block, at, 5)?));
    }
    // §6.2 literals: 01 + 6-bit index (incremental), 0000 or 0001 + 4-bit index.
    let (indexing, prefix) = match b & 0xf0 {
        _ if b & 0xc0 == 0x40 => (Indexing::Incremental, 6),
        0x10 => (Indexing::Never, 4),
        _ => (Indexing::Without, 4),
    };
    let name_index = decode_integer(block, at, prefix)?;
    let name = if name_index == 0 {
        Some(read_string(block, at)?)
    } else {
        None
    };
    let value = read_string(block, at)?;
    Ok(Representation::Literal {
        name_index,
        name,
        value,
        indexing,
    })
}

/// What the dynamic table keeps of an entry: the [`Decoder`] the field itself, the
/// [`Checker`] only the lengths of its name and value, which are all its size needs.
trait Entry {
    fn size(&self) -> usize;
}

impl Entry for (Vec<u8>, Vec<u8>) {
    fn size(&self) -> usize {
        entry_size(&self.0, &self.1)
    }
}

impl Entry for (usize, usize) {
    fn size(&self) -> usize {
        self.0 + self.1 + 32
    }
}

/// The dynamic table (§2.3.2, §4): entries newest first, its size in the RFC's measure, its
/// maximum, and the largest maximum the encoder may ask for.
#[derive(Clone, Debug)]
struct Table<E> {
    /// Newest first: dynamic index 62 is `entries[0]` (§2.3.3).
    entries: VecDeque<E>,
    size: usize,
    max_size: usize,
    /// The largest size the encoder may ask for (our SETTINGS_HEADER_TABLE_SIZE).
    limit: usize,
}

impl<E: Entry> Table<E> {
    fn new(limit: usize) -> Table<E> {
        Table {
            entries: VecDeque::new(),
            size: 0,
            max_size: limit,
            limit,
        }
    }

    /// Entry `index` (62 and up), or the error that names it.
    fn get(&self, index: usize) -> Result<&E, HpackError> {
        index
            .checked_sub(STATIC.len() + 1)
            .and_then(|i| self.entries.get(i))
            .ok_or(HpackError::Index(index))
    }

    /// Evicts the oldest entries until the table fits `max_size` (§4.3, §4.4).
    fn evict(&mut self) {
        while self.size > self.max_size {
            match self.entries.pop_back() {
                Some(e) => self.size -= e.size(),
                None => break,
            }
        }
    }

    /// "Before a new entry is added … entries are evicted from the end of the dynamic table
    /// until the size … is less than or equal to (maximum size - new entry size)"; an entry
    /// larger than the table empties it and is not added (§4.4).
    fn insert(&mut self, entry: E) {
        let size = entry.size();
        if size > self.max_size {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.size += size;
        self.entries.push_front(entry);
        self.evict();
    }

    /// A size update (§6.3), allowed only before the block's first field (§4.2) and up to
    /// the limit.
    fn resize(&mut self, asked: usize, fields_before: usize) -> Result<(), HpackError> {
        if fields_before > 0 {
            return Err(HpackError::LateSizeUpdate);
        }
        if asked > self.limit {
            return Err(HpackError::TableSize {
                asked,
                limit: self.limit,
            });
        }
        self.max_size = asked;
        self.evict();
        Ok(())
    }
}

/// The decoder of one direction: its dynamic table and the limit the settings set.
#[derive(Clone, Debug)]
pub struct Decoder {
    table: Table<(Vec<u8>, Vec<u8>)>,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(DEFAULT_TABLE_SIZE)
    }
}

impl Decoder {
    pub fn new(limit: usize) -> Decoder {
        Decoder {
            table: Table::new(limit),
        }
    }

    /// The dynamic table's size in the RFC's measure (§4.1), and its maximum.
    pub fn size(&self) -> (usize, usize) {
        (self.table.size, self.table.max_size)
    }

    /// Entries in the dynamic table, newest first.
    pub fn len(&self) -> usize {
        self.table.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.entries.is_empty()
    }

    /// A new SETTINGS_HEADER_TABLE_SIZE from our side: the most the encoder may use.
    pub fn set_limit(&mut self, limit: usize) {
        self.table.limit = limit;
    }

    /// Entry `index` of the static table (1–61) or the dynamic one (62–).
    fn entry(&self, index: usize) -> Result<(Vec<u8>, Vec<u8>), HpackError> {
        match index {
            0 => Err(HpackError::Index(0)),
            i if i <= STATIC.len() => {
                let (n, v) = STATIC[i - 1];
                Ok((n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            }
            i => self.table.get(i).cloned(),
        }
    }

    /// Decodes one complete header block (HEADERS + CONTINUATION fragments joined).
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, HpackError> {
        let mut fields = Vec::new();
        let mut at = 0;
        while at < block.len() {
            let field = match read_representation(block, &mut at)? {
                Representation::Indexed(index) => self.indexed(index)?,
                Representation::SizeUpdate(asked) => {
                    self.table.resize(asked, fields.len())?;
                    continue;
                }
                Representation::Literal {
                    name_index,
                    name,
                    value,
                    indexing,
                } => self.literal(name_index, name, value, indexing)?,
            };
            fields.push(field);
        }
        Ok(fields)
    }

    /// An indexed field (§6.1): name and value from the tables.
    fn indexed(&self, index: usize) -> Result<Field, HpackError> {
        let (name, value) = self.entry(index)?;
        Ok(Field {
            name,
            value,
            repr: Repr::Indexed { index },
            huffman: false,
        })
    }

    /// A literal field (§6.2), added to the dynamic table when it asks for it.
    fn literal(
        &mut self,
        name_index: usize,
        name: Option<Literal>,
        value: Literal,
        indexing: Indexing,
    ) -> Result<Field, HpackError> {
        let name_bytes = match name {
            Some(literal) => literal.decode()?,
            None => self.entry(name_index)?.0,
        };
        let value_bytes = value.decode()?;
        if indexing == Indexing::Incremental {
            self.table.insert((name_bytes.clone(), value_bytes.clone()));
        }
        Ok(Field {
            name: name_bytes,
            value: value_bytes,
            repr: Repr::Literal {
                name_index,
                indexing,
            },
            huffman: name.is_some_and(|n| n.huffman) || value.huffman,
        })
    }
}

/// The [`Decoder`]'s rules without its fields: the server's guard checks every header
/// block the client sends (to answer a bad one with COMPRESSION_ERROR before `h2` says
/// PROTOCOL_ERROR) and needs no field, only the verdict and a table in step with `h2`'s.
/// So it builds no string and allocates nothing per block: its table holds the lengths of
/// each entry's name and value, enough to know its size (§4.1) and which indices exist; a
/// Huffman string is walked for its errors and its length. A profile of the server showed
/// the full decode at a tenth of its time per request.
#[derive(Clone, Debug)]
pub struct Checker {
    table: Table<(usize, usize)>,
}

impl Default for Checker {
    fn default() -> Checker {
        Checker::new(DEFAULT_TABLE_SIZE)
    }
}

impl Checker {
    pub fn new(limit: usize) -> Checker {
        Checker {
            table: Table::new(limit),
        }
    }

    /// The dynamic table's size in the RFC's measure (§4.1), and its maximum.
    pub fn size(&self) -> (usize, usize) {
        (self.table.size, self.table.max_size)
    }

    /// Entries in the dynamic table.
    pub fn len(&self) -> usize {
        self.table.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.entries.is_empty()
    }

    /// The length of entry `index`'s name (static 1–61, dynamic 62–), or the error.
    fn name_len(&self, index: usize) -> Result<usize, HpackError> {
        match index {
            0 => Err(HpackError::Index(0)),
            i if i <= STATIC.len() => Ok(STATIC[i - 1].0.len()),
            i => self.table.get(i).map(|e| e.0),
        }
    }

    /// Checks one complete header block as [`Decoder::decode`] would decode it, updating the
    /// table the same way: the number of fields, or the same error.
    pub fn check(&mut self, block: &[u8]) -> Result<usize, HpackError> {
        let mut fields = 0;
        let mut at = 0;
        while at < block.len() {
            match read_representation(block, &mut at)? {
                Representation::Indexed(index) => {
                    self.name_len(index)?;
                    fields += 1;
                }
                Representation::SizeUpdate(asked) => self.table.resize(asked, fields)?,
                Representation::Literal {
                    name_index,
                    name,
                    value,
                    indexing,
                } => {
                    let name_len = match name {
                        Some(literal) => literal.len()?,
                        None => self.name_len(name_index)?,
                    };
                    let value_len = value.len()?;
                    if indexing == Indexing::Incremental {
                        self.table.insert((name_len, value_len));
                    }
                    fields += 1;
                }
            }
        }
        Ok(fields)
    }
}

/// The size of a field list as HTTP/1.1 text would carry it (`name: value\r\n`), to show
/// what HPACK saved.
pub fn text_size(fields: &[Field]) -> usize {
    fields
        .iter()
        .map(|f| f.name.len() + 2 + f.value.len() + 2)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn pairs(fields: &[Field]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|f| {
                (
                    String::from_utf8(f.name.clone()).unwrap(),
                    String::from_utf8(f.value.clone()).unwrap(),
                )
            })
            .collect()
    }

    fn list(l: &[(&str, &str)]) -> Vec<(String, String)> {
        l.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn c_1_integers() {
        // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with a 5-bit prefix; C.1.3: 42 on 8 bits.
        for (value, n, bytes) in [
            (10, 5, vec![0x0a]),
            (1337, 5, vec![0x1f, 0x9a, 0x0a]),
            (42, 8, vec![0x2a]),
        ] {
            let mut out = Vec::new();
            encode_integer(value, n, 0, &mut out);
            assert_eq!(out, bytes);
            let mut at = 0;
            assert_eq!(decode_integer(&bytes, &mut at, n), Ok(value));
            assert_eq!(at, bytes.len());
        }
        let mut at = 0;
        assert_eq!(
            decode_integer(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], &mut at, 5),
            Err(HpackError::IntegerOverflow)
        );
        let mut at = 0;
        assert_eq!(
            decode_integer(&[0x1f, 0x9a], &mut at, 5),
            Err(HpackError::Truncated)
        );
    }

    #[test]
    fn c_2_field_representations() {
        // C.2.1 literal with indexing
        let mut d = Decoder::default();
        let f = d
            .decode(&hex(
                "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            ))
            .unwrap();
        assert_eq!(pairs(&f), list(&[("custom-key", "custom-header")]));
        assert_eq!((d.size().0, d.len()), (55, 1));
        // C.2.2 literal without indexing
        let mut d = Decoder::default();
        let f = d
            .decode(&hex("040c 2f73 616d 706c 652f 7061 7468"))
            .unwrap();
        assert_eq!(pairs(&f), list(&[(":path", "/sample/path")]));
        assert!(d.is_empty());
        // C.2.3 literal never indexed
        let f = d
            .decode(&hex("1008 7061 7373 776f 7264 0673 6563 7265 74"))
            .unwrap();
        assert_eq!(pairs(&f), list(&[("password", "secret")]));
        assert_eq!(
            f[0].repr,
            Repr::Literal {
                name_index: 0,
                indexing: Indexing::Never
            }
        );
        assert!(d.is_empty());
        // C.2.4 indexed
        let f = d.decode(&hex("82")).unwrap();
        assert_eq!(pairs(&f), list(&[(":method", "GET")]));
        assert_eq!(f[0].describe(), ":method: GET (indexed 2, static)");
    }

    /// Three requests (C.3 / C.4) or responses (C.5 / C.6) on one connection, each with the
    /// fields it decodes to and the dynamic table's size after it.
    /// (the block in hex, the fields it decodes to, the table size after it)
    type Block<'a> = (&'a str, &'a [(&'a str, &'a str)], usize);

    fn sequence(limit: usize, blocks: &[Block]) {
        let mut d = Decoder::new(limit);
        let mut c = Checker::new(limit);
        for (bytes, fields, size) in blocks {
            let got = d.decode(&hex(bytes)).unwrap();
            assert_eq!(pairs(&got), list(fields), "{bytes}");
            assert_eq!(d.size().0, *size, "table size after {bytes}");
            // The checker, with lengths only, keeps the same table and counts the same fields.
            assert_eq!(c.check(&hex(bytes)), Ok(fields.len()), "{bytes}");
            assert_eq!((c.size(), c.len()), (d.size(), d.len()), "{bytes}");
        }
    }

    const REQ1: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    const REQ2: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    const REQ3: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];

    #[test]
    fn c_3_requests_without_huffman() {
        sequence(
            4096,
            &[
                (
                    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                    REQ1,
                    57,
                ),
                ("8286 84be 5808 6e6f 2d63 6163 6865", REQ2, 110),
                (
                    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                    REQ3,
                    164,
                ),
            ],
        );
    }

    #[test]
    fn c_4_requests_with_huffman() {
        sequence(
            4096,
            &[
                ("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", REQ1, 57),
                ("8286 84be 5886 a8eb 1064 9cbf", REQ2, 110),
                (
                    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
                    REQ3,
                    164,
                ),
            ],
        );
    }

    const RESP1: &[(&str, &str)] = &[
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const RESP2: &[(&str, &str)] = &[
        (":status", "307"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const RESP3: &[(&str, &str)] = &[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ];

    #[test]
    fn c_5_responses_without_huffman_evicting_from_a_256_byte_table() {
        let mut d = Decoder::new(256);
        let first = hex(
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
             6c65 2e63 6f6d",
        );
        assert_eq!(pairs(&d.decode(&first).unwrap()), list(RESP1));
        assert_eq!((d.size().0, d.len()), (222, 4));
        assert_eq!(
            pairs(&d.decode(&hex("4803 3330 37c1 c0bf")).unwrap()),
            list(RESP2)
        );
        // ":status: 302" was the oldest entry: evicted to make room for ":status: 307".
        assert_eq!((d.size().0, d.len()), (222, 4));
        let third = hex(
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
             54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
             5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
             3d31",
        );
        assert_eq!(pairs(&d.decode(&third).unwrap()), list(RESP3));
        assert_eq!((d.size().0, d.len()), (215, 3));
    }

    #[test]
    fn c_6_responses_with_huffman() {
        sequence(
            256,
            &[
                (
                    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 \
                     82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                    RESP1,
                    222,
                ),
                ("4883 640e ffc1 c0bf", RESP2, 222),
                (
                    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b \
                     d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 \
                     0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                    RESP3,
                    215,
                ),
            ],
        );
    }

    #[test]
    fn errors_name_the_rule() {
        let mut d = Decoder::default();
        assert_eq!(d.decode(&[0x80]), Err(HpackError::Index(0)));
        assert_eq!(d.decode(&[0xbe]), Err(HpackError::Index(62)));
        assert_eq!(d.decode(&[0x40, 0x05, b'a']), Err(HpackError::Truncated));
        // 001 11111, then 4097 - 31 = 4066 in 7-bit groups: 0xe2 0x1f.
        assert_eq!(
            d.decode(&hex("3fe2 1f")),
            Err(HpackError::TableSize {
                asked: 4097,
                limit: 4096
            })
        );
        assert_eq!(
            d.decode(&hex("3fe1 1f")),
            Ok(vec![]),
            "4096 itself is allowed"
        );
        assert_eq!(d.decode(&hex("82 20")), Err(HpackError::LateSizeUpdate));
        assert_eq!(
            d.decode(&[0x40, 0x81, 0x00, 0x00]),
            Err(HpackError::Huffman(HuffmanError::Padding))
        );
        // A size update to 0 at the start of a block empties the table.
        let mut d = Decoder::default();
        d.decode(&hex(
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
        ))
        .unwrap();
        assert_eq!(d.len(), 1);
        d.decode(&[0x20, 0x82]).unwrap();
        assert_eq!((d.len(), d.size()), (0, (0, 0)));
    }

    #[test]
    fn the_checker_names_the_same_errors_as_the_decoder() {
        let blocks = [
            vec![0x80],
            vec![0xbe],
            vec![0x40, 0x05, b'a'],
            hex("3fe2 1f"),
            hex("3fe1 1f"),
            hex("82 20"),
            vec![0x40, 0x81, 0x00, 0x00],
            vec![0x40, 0x01, b'a', 0x84, 0xff, 0xff, 0xff, 0xfc],
            vec![0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            // A name from an entry the block itself added, then a size update emptying it.
            hex("4001 6101 62 7e 0163"),
            hex("20 be"),
        ];
        let (mut d, mut c) = (Decoder::default(), Checker::default());
        for block in blocks {
            let decoded = d.decode(&block).map(|f| f.len());
            assert_eq!(c.check(&block), decoded, "{block:02x?}");
            assert_eq!((c.size(), c.len()), (d.size(), d.len()), "{block:02x?}");
        }
    }

    #[test]
    fn the_checker_and_the_decoder_agree_on_arbitrary_blocks() {
        // Pseudo-random blocks (a fixed xorshift, so a failure repeats) built from random
        // representations, now and then broken, through one decoder and one checker with a
        // small table (so entries are evicted).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let (mut d, mut c) = (Decoder::new(256), Checker::new(256));
        let (mut good, mut with_table) = (0, 0);
        for _ in 0..20_000 {
            let mut block = Vec::new();
            for _ in 0..next(5) {
                let bytes: Vec<u8> = (0..next(40)).map(|_| next(256) as u8).collect();
                match next(6) {
                    0 => encode_integer(1 + next(70) as usize, 7, 0x80, &mut block),
                    1 => encode_integer(next(300) as usize, 5, 0x20, &mut block),
                    2 => block.push(next(256) as u8),
                    3 => {
                        block.push(0x40);
                        encode_integer(bytes.len(), 7, 0, &mut block);
                        block.extend_from_slice(&bytes);
                        let coded = huffman::encode(&bytes[..bytes.len() / 2]);
                        encode_integer(coded.len(), 7, 0x80, &mut block);
                        block.extend_from_slice(&coded);
                    }
                    _ => {
                        let prefix = [0x40u8, 0x00, 0x10][next(3) as usize];
                        let bits = if prefix == 0x40 { 6 } else { 4 };
                        encode_integer(1 + next(66) as usize, bits, prefix, &mut block);
                        let huff = next(2) as u8 * 0x80;
                        encode_integer(bytes.len(), 7, huff, &mut block);
                        block.extend_from_slice(&bytes);
                    }
                }
            }
            let decoded = d.decode(&block).map(|f| f.len());
            assert_eq!(c.check(&block), decoded, "{block:02x?}");
            assert_eq!((c.size(), c.len()), (d.size(), d.len()), "{block:02x?}");
            good += usize::from(decoded.is_ok_and(|n| n > 0));
            with_table += usize::from(!d.is_empty());
        }
        // Not only errors: blocks that decode, and a dynamic table in use.
        assert!(good > 1000 && with_table > 1000, "{good} {with_table}");
    }
}
