//! The sans-IO half of the HTTP/2 server's guard ([`super::guard`]): the bytes the client
//! sends go in, frame by frame; out come the bytes `h2` may read and the answers netlab
//! writes itself, each with the code RFC 9113 names where `h2` would name another:
//!
//! ```text
//! frame header ──▶ a length rule broken (frame::size_rule)? ──▶ FRAME_SIZE_ERROR
//!              ├─▶ SETTINGS: its values, once whole ──▶ INITIAL_WINDOW_SIZE > 2^31−1: FLOW_CONTROL_ERROR
//!              ├─▶ HEADERS (+ CONTINUATION): the block, at END_HEADERS, through HPACK ──▶ COMPRESSION_ERROR
//!              └─▶ anything else: passes to h2 as it came
//! ```
//!
//! A connection error is the last answer: nothing after it passes. A stream error (a
//! PRIORITY not of 5 bytes) is answered with RST_STREAM, and `h2` reads that stream reset
//! in place of the frame when it knows the stream, so that it sends nothing more on it.

use super::frame::{self, ErrorCode, HEADER_LEN, Header, PREFACE_LEN, Scope, kind};
use super::hpack::Checker;

/// A frame the guard answered: the rule it broke, and the frame the server sends for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub header: Header,
    pub scope: Scope,
    pub code: ErrorCode,
    pub rule: String,
    /// The GOAWAY or RST_STREAM, whole (header and payload).
    pub bytes: Vec<u8>,
}

/// What the guard says of a frame it withholds: its scope, code and rule.
type Verdict = (Scope, ErrorCode, String);

/// A frame being kept from `h2` until it is whole. Either already judged by its header (its
/// payload is then read and dropped), or judged once whole — a SETTINGS frame by its
/// values, a HEADERS or CONTINUATION frame with its header block: then it passes, or is
/// answered.
struct Withheld {
    header: Header,
    verdict: Option<Verdict>,
    left: usize,
}

/// The client's side of the connection, frame by frame: which bytes `h2` may read.
pub struct Screen {
    /// Bytes of the client preface still to pass (`h2` checks it).
    preface_left: usize,
    /// A frame header not yet whole.
    head: Vec<u8>,
    /// Payload bytes of a frame that passed, still to come.
    pass_left: usize,
    withheld: Option<Withheld>,
    /// The withheld frame so far, header included, while it is not judged: one buffer for
    /// the connection, not one per frame (every request's HEADERS is held).
    held: Vec<u8>,
    /// The highest stream the client opened with HEADERS: a stream error on a stream at or
    /// below it concerns a stream `h2` knows.
    last_opened: u32,
    /// After a connection error nothing more passes.
    closed: bool,
    /// The client's header blocks checked as `h2` decodes them (a table of its own, in step
    /// with `h2`'s), to answer a block that cannot be decoded; `None` once the guard gave
    /// up on that (a block too large to hold, or frames `h2` must answer itself).
    hpack: Option<Checker>,
    /// The header block being assembled: its stream, its frames as they came, its fragments.
    block: Option<Block>,
}

/// A header block of several frames held back until its END_HEADERS (RFC 9113 §4.3); a
/// block in one frame (the usual case) is checked in place.
struct Block {
    stream: u32,
    frames: Vec<u8>,
    fragment: Vec<u8>,
}

/// The most a held header block may take: a larger one (a CONTINUATION flood, an oversized
/// header list) is passed to `h2`, whose limits answer it, and HPACK is no longer screened.
const MAX_BLOCK: usize = 64 * 1024;

impl Screen {
    /// A screen for a stream that starts with the client preface (`preface`) or right after it.
    pub fn new(preface: bool) -> Screen {
        Screen {
            preface_left: if preface { PREFACE_LEN } else { 0 },
            head: Vec::with_capacity(HEADER_LEN),
            pass_left: 0,
            withheld: None,
            held: Vec::new(),
            last_opened: 0,
            closed: false,
            hpack: Some(Checker::default()),
            block: None,
        }
    }

    /// True once a connection error was answered: the connection is to be closed.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Bytes the client sent, in order. Appends to `out` what `h2` may read and returns the
    /// answers now due (a connection error's is the last: what follows it is dropped).
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Vec<Answer> {
        let mut answers = Vec::new();
        while !input.is_empty() && !self.closed {
            // 1. Bytes that pass as they are: the preface, a good frame's payload.
            let free = self.preface_left.max(self.pass_left);
            if free > 0 {
                let n = free.min(input.len());
                out.extend_from_slice(&input[..n]);
                input = &input[n..];
                if self.preface_left > 0 {
                    self.preface_left -= n;
                } else {
                    self.pass_left -= n;
                }
                continue;
            }
            // 2. A withheld frame's payload: kept while it is to be judged, else dropped.
            if let Some(w) = self.withheld.as_mut() {
                let n = w.left.min(input.len());
                if w.verdict.is_none() {
                    self.held.extend_from_slice(&input[..n]);
                }
                input = &input[n..];
                w.left -= n;
                self.settle(out, &mut answers);
                continue;
            }
            // 3. A frame header, whole, then judged.
            let n = (HEADER_LEN - self.head.len()).min(input.len());
            self.head.extend_from_slice(&input[..n]);
            input = &input[n..];
            if let Some(header) = Header::parse(&self.head) {
                self.judge(header, out);
                self.settle(out, &mut answers);
            }
        }
        answers
    }

    /// Step 3 of [`Screen::feed`]: a header that breaks no length rule passes (with its
    /// payload); one that does is withheld, and so is a SETTINGS frame until its values
    /// are seen.
    fn judge(&mut self, header: Header, out: &mut Vec<u8>) {
        let too_large = header.length > frame::DEFAULT_MAX_FRAME_SIZE;
        let rule = frame::size_rule(&header).filter(|_| !too_large);
        // Only a CONTINUATION of its stream may follow a block's start (§6.10): anything
        // else is `h2`'s to answer, with the block as it came.
        let continues = header.kind == kind::CONTINUATION
            && self
                .block
                .as_ref()
                .is_some_and(|b| b.stream == header.stream);
        if self.block.is_some() && !continues {
            self.give_up_hpack(out);
        }
        let values = header.kind == kind::SETTINGS
            && header.stream == 0
            && header.flags & frame::flag::ACK == 0
            && header.length > 0;
        let block = self.hpack.is_some() && header.stream != 0 && !too_large && continues
            || self.hpack.is_some() && header.kind == kind::HEADERS && header.stream != 0;
        if rule.is_some() || (values || block) && !too_large {
            self.withheld = Some(Withheld {
                header,
                verdict: rule
                    .map(|(scope, rule)| (scope, ErrorCode::FRAME_SIZE_ERROR, rule.to_string())),
                left: header.length as usize,
            });
            self.held.clear();
            self.held.extend_from_slice(&self.head);
        } else {
            if header.kind == kind::HEADERS {
                self.last_opened = self.last_opened.max(header.stream);
            }
            out.extend_from_slice(&self.head);
            self.pass_left = header.length as usize;
        }
        self.head.clear();
    }

    /// A withheld frame, once whole: answered, or (a SETTINGS frame within the rules)
    /// passed on to `h2` as it came.
    fn settle(&mut self, out: &mut Vec<u8>, answers: &mut Vec<Answer>) {
        let Some(mut w) = self.withheld.take_if(|w| w.left == 0) else {
            return;
        };
        // Taken for the time of the verdict, and given back with its capacity.
        let held = std::mem::take(&mut self.held);
        if w.verdict.is_none() && w.header.kind == kind::SETTINGS {
            w.verdict = settings_rule(&w.header, &held[HEADER_LEN..]);
            if w.verdict.is_none() {
                out.extend_from_slice(&held);
            }
        } else if w.verdict.is_none() {
            // A header block's frames pass on (or are held) by `header_block` itself.
            w.verdict = self.header_block(w.header, &held, out);
        }
        self.held = held;
        self.held.clear();
        if let Some(verdict) = w.verdict.take() {
            answers.push(self.answer(w.header, verdict, out));
        }
    }

    /// A HEADERS or CONTINUATION frame, whole, added to the block it starts or continues;
    /// at END_HEADERS the block is checked: it passes to `h2` with its frames, or its
    /// decoding error is a connection error of type COMPRESSION_ERROR (RFC 9113 §4.3), where
    /// `h2` says PROTOCOL_ERROR.
    fn header_block(&mut self, header: Header, bytes: &[u8], out: &mut Vec<u8>) -> Option<Verdict> {
        let fragment = match frame::parse(&header, &bytes[HEADER_LEN..]) {
            Ok(frame::Frame::Headers { block, .. }) | Ok(frame::Frame::Continuation(block)) => {
                block
            }
            // A frame `h2` must answer itself (bad padding …): it gets it as it came.
            _ => {
                self.give_up_hpack(out);
                out.extend_from_slice(bytes);
                return None;
            }
        };
        let end = header.flags & frame::flag::END_HEADERS != 0;
        if self.block.is_none() && end {
            // The whole block in this one frame: checked where it lies.
            return self.check_block(header.stream, fragment, bytes, out);
        }
        let block = self.block.get_or_insert_with(|| Block {
            stream: header.stream,
            frames: Vec::new(),
            fragment: Vec::new(),
        });
        block.frames.extend_from_slice(bytes);
        block.fragment.extend_from_slice(fragment);
        if block.frames.len() > MAX_BLOCK {
            self.give_up_hpack(out);
            return None;
        }
        if !end {
            return None;
        }
        // Never None: the block was extended just above.
        let block = self.block.take()?;
        self.check_block(block.stream, &block.fragment, &block.frames, out)
    }

    /// A whole header block through the HPACK check: its frames pass to `h2`, or the
    /// COMPRESSION_ERROR that answers it.
    fn check_block(
        &mut self,
        stream: u32,
        fragment: &[u8],
        frames: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<Verdict> {
        match self.hpack.as_mut().map(|c| c.check(fragment)) {
            Some(Err(e)) => Some((
                Scope::Connection,
                ErrorCode::COMPRESSION_ERROR,
                format!("the header block on stream {stream}: {e}"),
            )),
            _ => {
                self.last_opened = self.last_opened.max(stream);
                out.extend_from_slice(frames);
                None
            }
        }
    }

    /// Stops screening header blocks: a held block goes to `h2` as it came, and from here
    /// on `h2`'s own HPACK answers (the two tables are no longer known to be in step).
    fn give_up_hpack(&mut self, out: &mut Vec<u8>) {
        if let Some(block) = self.block.take() {
            self.last_opened = self.last_opened.max(block.stream);
            out.extend_from_slice(&block.frames);
        }
        self.hpack = None;
    }

    /// The answer to the withheld frame, now whole. A stream error on a stream `h2` knows
    /// reaches `h2` as the client's RST_STREAM, so that `h2` sends nothing more on it.
    fn answer(&mut self, header: Header, verdict: Verdict, out: &mut Vec<u8>) -> Answer {
        let (scope, code, rule) = verdict;
        let bytes = match scope {
            Scope::Connection => {
                self.closed = true;
                let mut payload = self.last_opened.to_be_bytes().to_vec();
                payload.extend_from_slice(&code.0.to_be_bytes());
                // Debug data is opaque bytes (§6.8): the rule, in ASCII.
                payload.extend_from_slice(rule.replace('§', "section ").as_bytes());
                frame::emit(kind::GOAWAY, 0, 0, &payload)
            }
            Scope::Stream(id) => {
                let reset = frame::emit(kind::RST_STREAM, 0, id, &code.0.to_be_bytes());
                if id <= self.last_opened {
                    out.extend_from_slice(&reset);
                }
                reset
            }
        };
        Answer {
            header,
            scope,
            code,
            rule,
            bytes,
        }
    }
}

/// "Values above the maximum flow-control window size of 2^31−1 MUST be treated as a
/// connection error of type FLOW_CONTROL_ERROR" (§6.5.2, SETTINGS_INITIAL_WINDOW_SIZE), where
/// `h2` says PROTOCOL_ERROR. The other values out of range `h2` answers as the RFC does.
fn settings_rule(header: &Header, payload: &[u8]) -> Option<Verdict> {
    match frame::parse(header, payload) {
        Err(e) if e.code() == ErrorCode::FLOW_CONTROL_ERROR => Some((
            Scope::Connection,
            ErrorCode::FLOW_CONTROL_ERROR,
            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (§6.5.2)".to_string(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::frame::{PREFACE, emit};

    fn screen(bytes: &[u8]) -> (Vec<u8>, Vec<Answer>, Screen) {
        let mut s = Screen::new(true);
        let mut out = Vec::new();
        let mut answers = Vec::new();
        // One byte at a time: a frame split anywhere is judged the same.
        for b in bytes {
            answers.extend(s.feed(std::slice::from_ref(b), &mut out));
        }
        (out, answers, s)
    }

    fn client(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut b = PREFACE.to_vec();
        frames.iter().for_each(|f| b.extend_from_slice(f));
        b
    }

    #[test]
    fn good_frames_pass_untouched() {
        let bytes = client(&[
            emit(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]),
            emit(kind::PING, 0, 0, b"12345678"),
            emit(kind::HEADERS, 0x5, 1, b"\x82"),
            emit(kind::WINDOW_UPDATE, 0, 0, &1u32.to_be_bytes()),
        ]);
        let (out, answers, s) = screen(&bytes);
        assert_eq!(out, bytes);
        assert!(answers.is_empty());
        assert!(!s.closed());
    }

    #[test]
    fn a_short_ping_is_a_connection_error_and_nothing_after_it_passes() {
        let settings = emit(kind::SETTINGS, 0, 0, b"");
        let bytes = client(&[
            settings.clone(),
            emit(kind::PING, 0, 0, b"1234567"),
            emit(kind::PING, 0, 0, b"12345678"),
        ]);
        let (out, answers, s) = screen(&bytes);
        assert_eq!(out, client(&[settings]));
        assert!(s.closed());
        let [a] = answers.as_slice() else {
            panic!("{answers:?}")
        };
        assert_eq!(a.scope, Scope::Connection);
        let h = Header::parse(&a.bytes).unwrap();
        assert_eq!(
            frame::parse(&h, &a.bytes[HEADER_LEN..]),
            Ok(frame::Frame::GoAway {
                last_stream: 0,
                code: ErrorCode::FRAME_SIZE_ERROR,
                debug: b"a PING frame's payload is 8 bytes (section 6.7)"
            })
        );
    }

    #[test]
    fn a_short_priority_resets_its_stream_only() {
        let headers = emit(kind::HEADERS, 0x4, 1, b"\x82");
        let after = emit(kind::PING, 0, 0, b"12345678");
        let bytes = client(&[
            headers.clone(),
            emit(kind::PRIORITY, 0, 1, b"\0\0\0"),
            emit(kind::PRIORITY, 0, 9, b"\0\0\0"),
            after.clone(),
        ]);
        let (out, answers, s) = screen(&bytes);
        assert!(!s.closed());
        let rst = |id| emit(kind::RST_STREAM, 0, id, &6u32.to_be_bytes());
        // h2 reads stream 1 reset (it knows stream 1), nothing of idle stream 9.
        assert_eq!(out, client(&[headers, rst(1), after]));
        let sent: Vec<_> = answers.iter().map(|a| a.bytes.clone()).collect();
        assert_eq!(sent, vec![rst(1), rst(9)]);
    }

    #[test]
    fn each_length_rule_is_named() {
        let cases = [
            (
                emit(kind::SETTINGS, 0, 0, b"\0\x03\0\0\0"),
                Scope::Connection,
            ),
            (emit(kind::SETTINGS, 0x1, 0, &[0; 6]), Scope::Connection),
            (emit(kind::RST_STREAM, 0, 1, b"\0\0\0"), Scope::Connection),
            (
                emit(kind::WINDOW_UPDATE, 0, 1, b"\0\0\0\0\x01"),
                Scope::Connection,
            ),
            (emit(kind::GOAWAY, 0, 0, b"\0\0\0\0"), Scope::Connection),
            (emit(kind::HEADERS, 0x20, 1, b"\0\0"), Scope::Connection),
            (
                emit(kind::PRIORITY, 0, 3, b"\0\0\0\0\0\0"),
                Scope::Stream(3),
            ),
        ];
        for (f, scope) in cases {
            let (_, answers, _) = screen(&client(std::slice::from_ref(&f)));
            assert_eq!(answers.len(), 1, "{f:?}");
            assert_eq!(answers[0].scope, scope, "{f:?}");
        }
    }

    #[test]
    fn an_initial_window_over_2_31_is_a_flow_control_error() {
        let settings = emit(kind::SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]);
        let (out, answers, s) = screen(&client(&[settings]));
        assert_eq!(out, PREFACE);
        assert!(s.closed());
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].code, ErrorCode::FLOW_CONTROL_ERROR);
    }

    #[test]
    fn header_blocks_pass_whole_with_the_table_in_step_and_a_bad_one_is_a_compression_error() {
        // A literal added to the dynamic table (index 62), split over HEADERS and
        // CONTINUATION, then a second block naming index 62: both pass as they came.
        let first = [&[0x82, 0x86, 0x84, 0x40, 0x01, b'x'][..], &[0x01, b'y']];
        let frames = [
            emit(kind::HEADERS, 0x1, 1, first[0]),
            emit(kind::CONTINUATION, 0x4, 1, first[1]),
            emit(kind::HEADERS, 0x5, 3, &[0x82, 0x86, 0x84, 0xbe]),
        ];
        let (out, answers, _) = screen(&client(&frames));
        assert_eq!(out, client(&frames));
        assert!(answers.is_empty(), "{answers:?}");
        // Index 63 is in neither table: COMPRESSION_ERROR, and the frame never reaches h2.
        let bad = emit(kind::HEADERS, 0x5, 5, &[0x82, 0xbf]);
        let (out, answers, s) = screen(&client(&[frames[0].clone(), frames[1].clone(), bad]));
        assert_eq!(out, client(&frames[..2]));
        assert!(s.closed());
        assert_eq!(answers[0].code, ErrorCode::COMPRESSION_ERROR);
        assert!(answers[0].rule.contains("index 63"), "{}", answers[0].rule);
    }

    #[test]
    fn a_block_too_large_to_hold_goes_to_h2_and_hpack_is_no_longer_screened() {
        let mut frames = vec![emit(kind::HEADERS, 0, 1, &[0x82])];
        frames.extend((0..5).map(|_| emit(kind::CONTINUATION, 0, 1, &[0x00; 16_000])));
        frames.push(emit(kind::HEADERS, 0x5, 3, &[0xbf]));
        let (out, answers, s) = screen(&client(&frames));
        assert_eq!(out, client(&frames));
        assert!(answers.is_empty() && !s.closed());
    }

    #[test]
    fn what_h2_already_answers_right_is_left_to_it() {
        // SETTINGS on a stream (PROTOCOL_ERROR first), a frame over SETTINGS_MAX_FRAME_SIZE.
        let big = emit(kind::PING, 0, 0, &[0; 20_000]);
        let bytes = client(&[emit(kind::SETTINGS, 0, 1, b"\0\0\0"), big]);
        let (out, answers, _) = screen(&bytes);
        assert!(answers.is_empty());
        assert_eq!(out, bytes);
    }
}
