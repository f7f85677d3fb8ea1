//! The chunked transfer coding (RFC 9112 §7.1), decoded incrementally and without I/O.
//!
//! ```text
//! chunked-body   = *chunk last-chunk trailer-section CRLF
//! chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size     = 1*HEXDIG
//! last-chunk     = 1*("0") [ chunk-ext ] CRLF
//! ```
//!
//! Feed the decoder whatever bytes arrived; it appends the data it could decode to the body,
//! says how many input bytes it used, and whether the body is complete. Chunk lines must end
//! in CRLF: the bare-LF leniency of RFC 9112 §2.2 covers only the start line and fields, and
//! parsers that disagree on it are a known request smuggling vector.

use super::parse::{Limits, ParseError, parse_fields};
use crate::http::message::Headers;
use std::fmt;

/// At most this many hex digits: 16 fill a u64.
const MAX_SIZE_DIGITS: usize = 16;
/// Chunk extensions are ignored, but not without bound.
const MAX_EXTENSION: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading chunk-size; `digits` read so far.
    Size {
        value: u64,
        digits: usize,
    },
    /// Optional whitespace (BWS) after chunk-size, before `;` or CR.
    SizeSpace {
        value: u64,
    },
    /// Inside chunk-ext, until CR.
    Extension {
        value: u64,
        len: usize,
    },
    /// After the CR that ends a size line.
    SizeLf {
        value: u64,
    },
    /// Inside chunk-data.
    Data {
        left: u64,
    },
    /// The CRLF after chunk-data.
    DataCr,
    DataLf,
    /// After last-chunk: collecting the trailer section through its empty line.
    Trailers,
    Done,
}

/// One variant per rule of the chunked grammar that the input broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// chunk-size = 1*HEXDIG
    Size,
    /// A chunk-size larger than 16 hex digits.
    SizeOverflow,
    /// chunk-ext with a control character, or longer than 4096 bytes.
    Extension,
    /// The CRLF after a chunk-size line or after chunk-data is missing.
    MissingCrlf,
    /// A malformed trailer field.
    Trailer(ParseError),
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::Size => {
                f.write_str("bad chunk-size: chunk-size = 1*HEXDIG (RFC 9112 §7.1)")
            }
            ChunkError::SizeOverflow => {
                f.write_str("chunk-size too large (RFC 9112 §7.1: guard against overflow)")
            }
            ChunkError::Extension => f.write_str("bad or oversized chunk-ext (RFC 9112 §7.1.1)"),
            ChunkError::MissingCrlf => {
                f.write_str("missing CRLF after chunk-size or chunk-data (RFC 9112 §7.1)")
            }
            ChunkError::Trailer(e) => write!(f, "bad trailer field: {e}"),
        }
    }
}

impl std::error::Error for ChunkError {}

/// The incremental decoder of one chunked body.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    trailer_bytes: Vec<u8>,
    /// Where the current trailer line starts in `trailer_bytes`.
    line_start: usize,
    trailers: Headers,
    limits: Limits,
    /// How many chunks were seen, the last-chunk included.
    pub chunks: u64,
    /// The sizes of the first [`SIZES_KEPT`] chunks, kept only when asked for (the trace
    /// shows them): with 1-byte chunks a body of 8 MiB would otherwise keep 8 M numbers.
    pub chunk_sizes: Vec<u64>,
    keep_sizes: bool,
}

/// At most this many chunk sizes are kept for the trace.
pub const SIZES_KEPT: usize = 32;

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new(Limits::default())
    }
}

impl ChunkedDecoder {
    pub fn new(limits: Limits) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            trailer_bytes: Vec::new(),
            line_start: 0,
            trailers: Headers::new(),
            limits,
            chunks: 0,
            chunk_sizes: Vec::new(),
            keep_sizes: false,
        }
    }

    /// Also keep the sizes of the first chunks, for a trace line that shows them.
    pub fn keeping_sizes(mut self) -> ChunkedDecoder {
        self.keep_sizes = true;
        self
    }

    /// The chunk sizes as the trace shows them: `[4, 6, 0]`, or the first ones and a count.
    pub fn describe_sizes(&self) -> String {
        let list: Vec<String> = self.chunk_sizes.iter().map(u64::to_string).collect();
        let more = self.chunks.saturating_sub(self.chunk_sizes.len() as u64);
        if more == 0 {
            format!("[{}]", list.join(", "))
        } else {
            format!("[{}, … and {more} more]", list.join(", "))
        }
    }

    /// Is the body complete (last chunk and trailer section read)?
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The trailer fields, once done.
    pub fn trailers(&self) -> &Headers {
        &self.trailers
    }

    /// Decodes as much of `input` as possible, appending chunk-data to `body`. Returns how
    /// many bytes of `input` were used; bytes after the end of the body are left unused
    /// (they belong to the next message on a kept-alive connection).
    ///
    /// One byte at a time through the grammar: 1. the size line (size, whitespace,
    /// extension, CRLF), 2. the data, copied a whole run at once, 3. the CRLF after it,
    /// 4. after the last chunk, the trailer section through its empty line.
    pub fn decode(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            self.state = match self.state {
                // 1. chunk-size [ chunk-ext ] CRLF
                State::Size { value, digits } => size(value, digits, b)?,
                State::SizeSpace { value } => size_space(value, b)?,
                State::Extension { value, len } => extension(value, len, b)?,
                State::SizeLf { value } => self.size_line_end(value, b)?,
                // 2. chunk-data: not byte by byte.
                State::Data { left } => {
                    i += self.data(left, &input[i..], body);
                    continue;
                }
                // 3. The CRLF after chunk-data.
                State::DataCr if b == b'\r' => State::DataLf,
                State::DataLf if b == b'\n' => State::Size {
                    value: 0,
                    digits: 0,
                },
                State::DataCr | State::DataLf => return Err(ChunkError::MissingCrlf),
                // 4. trailer-section CRLF
                State::Trailers => self.trailer(b)?,
                State::Done => return Ok(i),
            };
            i += 1;
        }
        Ok(i)
    }

    /// The LF that ends a size line: a chunk is counted, and its data (or the trailer
    /// section, after last-chunk) comes next.
    #[inline]
    fn size_line_end(&mut self, value: u64, b: u8) -> Result<State, ChunkError> {
        if b != b'\n' {
            return Err(ChunkError::MissingCrlf);
        }
        self.chunks += 1;
        if self.keep_sizes && self.chunk_sizes.len() < SIZES_KEPT {
            self.chunk_sizes.push(value);
        }
        Ok(if value == 0 {
            State::Trailers
        } else {
            State::Data { left: value }
        })
    }

    /// Copies the run of chunk-data at the start of `input` (at most `left` bytes) into
    /// `body`; returns how many bytes it took.
    #[inline]
    fn data(&mut self, left: u64, input: &[u8], body: &mut Vec<u8>) -> usize {
        let take = (left.min(input.len() as u64)) as usize;
        body.extend_from_slice(&input[..take]);
        let left = left - take as u64;
        self.state = if left == 0 {
            State::DataCr
        } else {
            State::Data { left }
        };
        take
    }

    /// One byte of the trailer section.
    fn trailer(&mut self, b: u8) -> Result<State, ChunkError> {
        self.trailer_bytes.push(b);
        if self.trailer_bytes.len() > self.limits.max_head {
            return Err(ChunkError::Trailer(ParseError::HeadTooLarge));
        }
        // Parse once, when the empty line that ends the section arrives: re-parsing on
        // every byte would cost quadratic time.
        if b != b'\n' {
            return Ok(State::Trailers);
        }
        let line = &self.trailer_bytes[self.line_start..self.trailer_bytes.len() - 1];
        if !line.is_empty() && line != b"\r" {
            self.line_start = self.trailer_bytes.len();
            return Ok(State::Trailers);
        }
        match parse_fields(&self.trailer_bytes, 0, &self.limits) {
            Ok(Some((fields, _))) => {
                self.trailers = fields;
                Ok(State::Done)
            }
            Ok(None) => Ok(State::Trailers),
            Err(e) => Err(ChunkError::Trailer(e)),
        }
    }
}

/// One byte of chunk-size = 1*HEXDIG, or the byte after it.
#[inline]
fn size(value: u64, digits: usize, b: u8) -> Result<State, ChunkError> {
    match hex(b) {
        Some(_) if digits == MAX_SIZE_DIGITS => Err(ChunkError::SizeOverflow),
        Some(d) => Ok(State::Size {
            value: value << 4 | u64::from(d),
            digits: digits + 1,
        }),
        None if digits == 0 => Err(ChunkError::Size),
        None => match b {
            b'\r' => Ok(State::SizeLf { value }),
            b';' => Ok(State::Extension { value, len: 0 }),
            b' ' | b'\t' => Ok(State::SizeSpace { value }),
            _ => Err(ChunkError::Size),
        },
    }
}

/// Whitespace (BWS) after chunk-size: only more of it or an extension may follow.
#[inline]
fn size_space(value: u64, b: u8) -> Result<State, ChunkError> {
    match b {
        b' ' | b'\t' => Ok(State::SizeSpace { value }),
        b';' => Ok(State::Extension { value, len: 0 }),
        _ => Err(ChunkError::Size),
    }
}

/// One byte of chunk-ext, ignored but bounded and free of control characters.
#[inline]
fn extension(value: u64, len: usize, b: u8) -> Result<State, ChunkError> {
    match b {
        b'\r' => Ok(State::SizeLf { value }),
        b'\n' | 0x00..=0x08 | 0x0a..=0x1f | 0x7f => Err(ChunkError::Extension),
        _ if len >= MAX_EXTENSION => Err(ChunkError::Extension),
        _ => Ok(State::Extension {
            value,
            len: len + 1,
        }),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends one chunk (`size CRLF data CRLF`); an empty `data` writes nothing, since a
/// zero-size chunk would end the body.
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk, the trailer fields and the final CRLF.
pub fn encode_last(trailers: &Headers, out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n");
    super::head::emit_fields(trailers, out);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize, ChunkedDecoder), ChunkError> {
        let mut d = ChunkedDecoder::default().keeping_sizes();
        let mut body = Vec::new();
        let used = d.decode(input, &mut body)?;
        Ok((body, used, d))
    }

    #[test]
    fn sizes_are_kept_only_when_asked_and_only_the_first_ones() {
        let mut many = Vec::new();
        for _ in 0..1000 {
            many.extend_from_slice(b"1\r\nx\r\n");
        }
        many.extend_from_slice(b"0\r\n\r\n");
        let mut quiet = ChunkedDecoder::default();
        let mut body = Vec::new();
        quiet.decode(&many, &mut body).unwrap();
        assert!(quiet.is_done());
        assert_eq!((quiet.chunks, quiet.chunk_sizes.len()), (1001, 0));
        let mut traced = ChunkedDecoder::default().keeping_sizes();
        traced.decode(&many, &mut Vec::new()).unwrap();
        assert_eq!(
            (traced.chunks, traced.chunk_sizes.len()),
            (1001, SIZES_KEPT)
        );
        assert!(traced.describe_sizes().ends_with(", … and 969 more]"));
    }

    const WIKI: &[u8] = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\nNEXT";

    #[test]
    fn decodes_data_extensions_and_trailers() {
        let (body, used, d) = decode_all(WIKI).unwrap();
        assert_eq!(body, b"Wikipedia in \r\n\r\nchunks.");
        assert!(d.is_done());
        assert_eq!(
            &WIKI[used..],
            b"NEXT",
            "bytes after the body are left for the next message"
        );
        assert_eq!(d.trailers().get("expires"), Some("never"));
        assert_eq!(d.chunk_sizes, [4, 6, 14, 0]);
    }

    #[test]
    fn any_split_gives_the_same_body() {
        let end = WIKI.len() - 4;
        for cut in 0..=end {
            for cut2 in cut..=end {
                let mut d = ChunkedDecoder::default();
                let mut body = Vec::new();
                let mut used = 0;
                for part in [&WIKI[..cut], &WIKI[cut..cut2], &WIKI[cut2..end]] {
                    used += d.decode(part, &mut body).unwrap();
                }
                assert!(d.is_done(), "split {cut}/{cut2}");
                assert_eq!(used, end);
                assert_eq!(body, b"Wikipedia in \r\n\r\nchunks.");
            }
        }
    }

    #[test]
    fn one_error_per_rule() {
        let cases: &[(&[u8], ChunkError)] = &[
            (b"\r\n", ChunkError::Size),
            (b"g\r\n", ChunkError::Size),
            (b"-1\r\n", ChunkError::Size),
            (b"0x5\r\n", ChunkError::Size),
            (b"1 2\r\n", ChunkError::Size),
            (b"11111111111111111\r\n", ChunkError::SizeOverflow),
            (b"5\nhello\r\n", ChunkError::Size),
            (b"5\r\rhello", ChunkError::MissingCrlf),
            (b"5\r\nhelloX\r\n", ChunkError::MissingCrlf),
            (b"5\r\nhello\rX", ChunkError::MissingCrlf),
            (b"5;a\nb\r\n", ChunkError::Extension),
            (b"5;\x01\r\n", ChunkError::Extension),
            (
                b"0\r\nBad Field: x\r\n\r\n",
                ChunkError::Trailer(ParseError::HeaderName),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                decode_all(input).err().as_ref(),
                Some(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let long_ext = format!("1;{}\r\n", "x".repeat(5000));
        assert_eq!(
            decode_all(long_ext.as_bytes()).err(),
            Some(ChunkError::Extension)
        );
    }

    #[test]
    fn bws_before_extension_and_leading_zeros() {
        let (body, _, d) = decode_all(b"003 ;x\r\nabc\r\n000\r\n\r\n").unwrap();
        assert_eq!(body, b"abc");
        assert!(d.is_done());
    }

    #[test]
    fn encoder_round_trip() {
        let mut wire = Vec::new();
        for part in [&b"hello "[..], b"", b"chunked world"] {
            encode_chunk(part, &mut wire);
        }
        let mut t = Headers::new();
        t.append("X-Checksum", "42");
        encode_last(&t, &mut wire);
        assert_eq!(
            wire,
            b"6\r\nhello \r\nd\r\nchunked world\r\n0\r\nX-Checksum: 42\r\n\r\n"
        );
        let (body, used, d) = decode_all(&wire).unwrap();
        assert_eq!(
            (body.as_slice(), used),
            (&b"hello chunked world"[..], wire.len())
        );
        assert_eq!(d.trailers().get("x-checksum"), Some("42"));
    }
}
