//! An HTTP/2 connection decoded from its bytes, both directions: what `netlab tap --proto h2`
//! shows between two programs we did not write (curl and nghttpd over h2c), and what netlab's
//! own server and client print with `--trace` (they feed it the plaintext they read and
//! write). Sans-IO: bytes per side in, trace lines out.
//!
//! Each direction has its own frame buffer and its own HPACK decoder, since each side's
//! encoder fills the table the other side's decoder keeps (RFC 7541 §2.2). A header block
//! split over HEADERS and CONTINUATION frames is decoded once its END_HEADERS arrives.
//!
//! ```text
//! [h2] → HEADERS stream=1 flags=END_STREAM|END_HEADERS length=31
//! [hpack] → stream 1: 4 fields from 31 bytes (as HTTP/1.1 text: 75 bytes); dynamic table 2 entries, 97 bytes
//! [hpack] →   :method: GET (indexed 2, static)
//! ```

use super::frame::{self, ErrorCode, Frame, Header, PREFACE, PREFACE_LEN};
use super::hpack::{self, Decoder as Hpack};
use crate::l4::relay::Side;
use crate::tap::{Decoder, Line};
use crate::trace::{Dir, Layer, quoted};

/// What one direction has sent so far.
struct Direction {
    buf: Vec<u8>,
    /// The client's first bytes must be the connection preface (RFC 9113 §3.4).
    preface: bool,
    hpack: Hpack,
    /// A header block waiting for CONTINUATION: (stream, bytes so far).
    block: Option<(u32, Vec<u8>)>,
    /// After a decoding error this direction is relayed but no longer decoded.
    broken: bool,
    frames: u64,
}

impl Direction {
    fn new(preface: bool) -> Direction {
        Direction {
            buf: Vec::new(),
            preface,
            hpack: Hpack::default(),
            block: None,
            broken: false,
            frames: 0,
        }
    }
}

/// Both directions of one HTTP/2 connection.
pub struct Conversation {
    sides: [Direction; 2],
    /// Decode DATA payloads into a short preview on the frame's line.
    pub preview: usize,
}

impl Default for Conversation {
    fn default() -> Conversation {
        Conversation {
            sides: [Direction::new(true), Direction::new(false)],
            preview: 40,
        }
    }
}

/// The largest frame this decoder buffers: a peer may raise SETTINGS_MAX_FRAME_SIZE to 2^24−1.
const MAX_FRAME: usize = (1 << 24) + frame::HEADER_LEN;

fn line(dir: Dir, layer: Layer, text: String) -> Line {
    Line {
        dir,
        text,
        layer: Some(layer),
    }
}

impl Conversation {
    /// Bytes `from` sent, in order. Returns the lines they make.
    pub fn feed(&mut self, from: Side, bytes: &[u8]) -> Vec<Line> {
        let dir = from.dir();
        let preview = self.preview;
        let [client, server] = &mut self.sides;
        let (me, other) = match from {
            Side::Client => (client, server),
            Side::Server => (server, client),
        };
        let mut out = Vec::new();
        if me.broken {
            return out;
        }
        me.buf.extend_from_slice(bytes);
        // 1. The client's preface, once.
        if me.preface && !me.take_preface(dir, &mut out) {
            return out;
        }
        // 2. Whole frames: header, then payload.
        while let Some(header) = Header::parse(&me.buf) {
            let total = frame::HEADER_LEN + header.length as usize;
            if total > MAX_FRAME {
                me.broken = true;
                let text = format!(
                    "a frame of {} bytes: not HTTP/2; not decoded",
                    header.length
                );
                out.push(line(Dir::Event, Layer::H2, text));
                break;
            }
            if me.buf.len() < total {
                break;
            }
            let bytes: Vec<u8> = me.buf.drain(..total).collect();
            me.frames += 1;
            frame_lines(
                me,
                other,
                &header,
                &bytes[frame::HEADER_LEN..],
                dir,
                preview,
                &mut out,
            );
            if me.broken {
                break;
            }
        }
        out
    }
}

impl Direction {
    /// Step 1 of [`Conversation::feed`]: the preface taken off the buffer once it is whole
    /// (true), or not yet whole, or wrong: then this direction is not decoded (false).
    fn take_preface(&mut self, dir: Dir, out: &mut Vec<Line>) -> bool {
        let n = self.buf.len().min(PREFACE.len());
        if self.buf[..n] != PREFACE[..n] {
            self.broken = true;
            out.push(line(
                Dir::Event,
                Layer::H2,
                format!(
                    "{} the client did not open with the HTTP/2 preface (RFC 9113 §3.4): {}; not decoded",
                    dir_word(dir),
                    quoted(&self.buf[..self.buf.len().min(PREFACE_LEN)], PREFACE_LEN)
                ),
            ));
            return false;
        }
        if self.buf.len() < PREFACE.len() {
            return false;
        }
        self.buf.drain(..PREFACE.len());
        self.preface = false;
        out.push(line(
            dir,
            Layer::H2,
            "connection preface \"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n\" (24 bytes)".into(),
        ));
        true
    }
}

/// Step 2 of [`Conversation::feed`], for one whole frame: its line (or what is wrong with
/// it, and the receiver's answer), then what it means beyond ([`decode_more`]).
fn frame_lines(
    me: &mut Direction,
    other: &mut Direction,
    header: &Header,
    payload: &[u8],
    dir: Dir,
    preview: usize,
    out: &mut Vec<Line>,
) {
    let f = match frame::parse(header, payload) {
        Ok(f) => f,
        Err(e) => {
            // A frame of the wrong size on a stream is shown as a stream error (RFC 9113 §4.2
            // allows it where the frame does not change the connection's state); every other
            // rule broken here is a connection error (§5.4.1).
            let on_stream_only = header.stream != 0 && e.code() == ErrorCode::FRAME_SIZE_ERROR;
            let answer = if !on_stream_only {
                "GOAWAY"
            } else {
                "RST_STREAM"
            };
            let text = format!(
                "{} stream={} length={}: {e}; the receiver answers {answer} {}",
                frame::kind_name(header.kind),
                header.stream,
                header.length,
                e.code()
            );
            out.push(line(dir, Layer::H2, text));
            return;
        }
    };
    let mut text = frame::describe(header, &f);
    if let Frame::Data { data, .. } = &f {
        if !data.is_empty() && preview > 0 {
            text.push_str(&format!(" data={}", quoted(data, preview)));
        }
    }
    out.push(line(dir, Layer::H2, text));
    decode_more(me, other, header, &f, dir, out);
}

fn dir_word(dir: Dir) -> &'static str {
    match dir {
        Dir::Sent => "→",
        Dir::Received => "←",
        Dir::Event => "·",
    }
}

/// What a frame means beyond its own line: header blocks through HPACK, settings that
/// change the peer's decoder.
fn decode_more(
    me: &mut Direction,
    other: &mut Direction,
    header: &Header,
    f: &Frame,
    dir: Dir,
    out: &mut Vec<Line>,
) {
    let end_headers = header.flags & frame::flag::END_HEADERS != 0;
    let fragment = match f {
        Frame::Headers { block, .. } | Frame::PushPromise { block, .. } => {
            me.block = Some((header.stream, block.to_vec()));
            None
        }
        Frame::Continuation(block) => match &mut me.block {
            Some((stream, bytes)) if *stream == header.stream => {
                bytes.extend_from_slice(block);
                None
            }
            _ => Some(
                "CONTINUATION without a HEADERS before it on this stream (RFC 9113 §6.10: PROTOCOL_ERROR)",
            ),
        },
        Frame::Settings(params) => {
            // Our HEADER_TABLE_SIZE bounds the table the peer's encoder may use: the one
            // our decoder of its blocks keeps.
            for (id, value) in params {
                if *id == 0x1 {
                    other.hpack.set_limit(*value as usize);
                }
            }
            return;
        }
        _ => return,
    };
    if let Some(problem) = fragment {
        out.push(line(Dir::Event, Layer::H2, problem.into()));
        return;
    }
    if !end_headers {
        return;
    }
    let Some((stream, block)) = me.block.take() else {
        return;
    };
    match me.hpack.decode(&block) {
        Ok(fields) => {
            let (size, _) = me.hpack.size();
            out.push(line(
                dir,
                Layer::Hpack,
                format!(
                    "stream {stream}: {} fields from {} bytes (as HTTP/1.1 text: {} bytes); dynamic table {} entries, {size} bytes",
                    fields.len(),
                    block.len(),
                    hpack::text_size(&fields),
                    me.hpack.len()
                ),
            ));
            for field in &fields {
                out.push(line(dir, Layer::Hpack, format!("  {}", field.describe())));
            }
        }
        Err(e) => {
            me.broken = true;
            out.push(line(
                Dir::Event,
                Layer::Hpack,
                format!("stream {stream}: {e}: COMPRESSION_ERROR, the connection cannot go on; not decoded further"),
            ));
        }
    }
}

impl Decoder for Conversation {
    fn layer(&self) -> Layer {
        Layer::H2
    }

    fn feed(&mut self, from: Side, bytes: &[u8]) -> Vec<Line> {
        Conversation::feed(self, from, bytes)
    }

    fn end(&mut self, from: Side) -> Vec<Line> {
        let i = from.index();
        let d = &self.sides[i];
        let who = match from {
            Side::Client => "client",
            Side::Server => "server",
        };
        let text = if d.buf.is_empty() || d.broken {
            format!("the {who} closed after {} frame(s)", d.frames)
        } else {
            format!(
                "the {who} closed in the middle of a frame ({} bytes left)",
                d.buf.len()
            )
        };
        vec![line(Dir::Event, Layer::H2, text)]
    }
}

/// A fresh decoder for each relayed connection (the tap's protocol table).
pub fn new() -> Box<dyn Decoder> {
    Box::new(Conversation::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::frame::kind;
    use crate::http2::hpack::encode_integer;

    use crate::http2::frame::emit as frame;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.text.clone()).collect()
    }

    #[test]
    fn a_request_split_anywhere_decodes_the_same() {
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(kind::SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00\x64"));
        // HEADERS without END_HEADERS, then CONTINUATION: :method GET, :path /, then a
        // literal "x-a: 1" added to the dynamic table.
        bytes.extend(frame(kind::HEADERS, 0x1, 1, b"\x82\x84"));
        bytes.extend(frame(kind::CONTINUATION, 0x4, 1, b"\x40\x03x-a\x011"));
        let whole = texts(&Conversation::default().feed(Side::Client, &bytes));
        assert_eq!(
            whole,
            [
                "connection preface \"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n\" (24 bytes)",
                "SETTINGS stream=0 flags=- length=6 MAX_CONCURRENT_STREAMS=100",
                "HEADERS stream=1 flags=END_STREAM length=2",
                "CONTINUATION stream=1 flags=END_HEADERS length=7",
                "stream 1: 3 fields from 9 bytes (as HTTP/1.1 text: 32 bytes); dynamic table 1 entries, 36 bytes",
                "  :method: GET (indexed 2, static)",
                "  :path: / (indexed 4, static)",
                "  x-a: 1 (literal, literal name, added to the dynamic table)",
            ]
        );
        for cut in 1..bytes.len() {
            let mut c = Conversation::default();
            let mut got = texts(&c.feed(Side::Client, &bytes[..cut]));
            got.extend(texts(&c.feed(Side::Client, &bytes[cut..])));
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    #[test]
    fn a_repeated_request_takes_fewer_bytes_through_the_dynamic_table() {
        let mut c = Conversation::default();
        c.feed(Side::Client, PREFACE);
        let mut first = vec![0x82, 0x84];
        first.push(0x41); // :authority (static 1), incremental indexing
        encode_integer(9, 7, 0, &mut first);
        first.extend_from_slice(b"127.0.0.1");
        let lines = c.feed(Side::Client, &frame(kind::HEADERS, 0x5, 1, &first));
        assert!(texts(&lines)[1].starts_with("stream 1: 3 fields from 13 bytes"));
        // The second request names the same authority by its dynamic index, 62: one byte.
        let lines = c.feed(
            Side::Client,
            &frame(kind::HEADERS, 0x5, 3, &[0x82, 0x84, 0xbe]),
        );
        let t = texts(&lines);
        assert!(t[1].starts_with("stream 3: 3 fields from 3 bytes"), "{t:?}");
        assert_eq!(t[4], "  :authority: 127.0.0.1 (indexed 62, dynamic)");
    }

    #[test]
    fn garbage_and_broken_frames_are_reported_not_panicked_on() {
        let lines = Conversation::default().feed(Side::Client, b"GET / HTTP/1.1\r\n\r\n");
        assert!(texts(&lines)[0].contains("did not open with the HTTP/2 preface"));
        let mut c = Conversation::default();
        let lines = c.feed(Side::Server, &frame(kind::PING, 0, 0, b"short"));
        assert!(
            texts(&lines)[0].contains("FRAME_SIZE_ERROR"),
            "{:?}",
            texts(&lines)
        );
        let lines = c.feed(Side::Server, &frame(kind::HEADERS, 0x4, 1, &[0xbf]));
        assert!(
            texts(&lines)[1].contains("COMPRESSION_ERROR"),
            "{:?}",
            texts(&lines)
        );
        // Random bytes in random pieces never panic.
        let mut seed = 7u32;
        for _ in 0..200 {
            let mut c = Conversation::default();
            let mut data = PREFACE.to_vec();
            for _ in 0..300 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                data.push((seed >> 16) as u8);
            }
            for piece in data.chunks(1 + (seed as usize % 17)) {
                c.feed(Side::Client, piece);
                c.feed(Side::Server, piece);
            }
        }
    }
}
