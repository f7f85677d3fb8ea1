//! HTTP/2 frames on the wire (RFC 9113 §4 and §6), decoded by hand for the trace and the tap.
//! The protocol engine is the `h2` crate; this file is the lesson: what the binary framing
//! layer looks like, byte by byte. Sans-IO, no state: bytes in, frames out.
//!
//! ```text
//! HTTP Frame {
//!   Length (24),            the payload's length, not counting these 9 bytes
//!   Type (8),               DATA, HEADERS, SETTINGS, …
//!   Flags (8),              END_STREAM, END_HEADERS, ACK, PADDED, PRIORITY
//!   Reserved (1),
//!   Stream Identifier (31), 0 for the connection itself
//!   Frame Payload (..),
//! }
//! ```
//!
//! A client opens the connection with the 24-byte preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`
//! (§3.4) and a SETTINGS frame; the server's first frame is SETTINGS.

use std::fmt;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The preface's length: 24 bytes.
pub const PREFACE_LEN: usize = PREFACE.len();

/// The frame header is always 9 bytes (§4.1).
pub const HEADER_LEN: usize = 9;

/// SETTINGS_MAX_FRAME_SIZE's initial value: a receiver accepts payloads of 2^14 bytes (§4.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// The frame types of RFC 9113 §6, and PRIORITY_UPDATE of RFC 9218 §7.1.
pub mod kind {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const PRIORITY: u8 = 0x2;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const PUSH_PROMISE: u8 = 0x5;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const WINDOW_UPDATE: u8 = 0x8;
    pub const CONTINUATION: u8 = 0x9;
    pub const PRIORITY_UPDATE: u8 = 0x10;
}

/// Flag bits (§6): which ones a type defines is listed with each type.
pub mod flag {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// The 9-byte frame header (§4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub length: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl Header {
    /// Reads a header from the first 9 bytes, or `None` when fewer have arrived. "The
    /// semantics of this bit \[Reserved\] are undefined, … MUST be ignored when receiving."
    pub fn parse(b: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header {
            length: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        })
    }

    /// Writes the header, for tests and hand-made frames.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.length.to_be_bytes()[1..]);
        out.push(self.kind);
        out.push(self.flags);
        out.extend_from_slice(&(self.stream & 0x7fff_ffff).to_be_bytes());
    }
}

/// A whole frame: its header, then the payload (for tests and hand-made frames).
pub fn emit(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    Header {
        length: payload.len() as u32,
        kind,
        flags,
        stream,
    }
    .emit(&mut out);
    out.extend_from_slice(payload);
    out
}

/// Error codes (§7), as they appear in RST_STREAM and GOAWAY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The name RFC 9113 §7 gives the code.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            // "Unknown or unsupported error codes MUST NOT trigger any special behavior."
            None => write!(f, "unknown error code 0x{:x}", self.0),
        }
    }
}

/// The name of a SETTINGS parameter (§6.5.2; 0x8 from RFC 8441, 0x9 from RFC 9218).
pub fn setting_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x1 => "HEADER_TABLE_SIZE",
        0x2 => "ENABLE_PUSH",
        0x3 => "MAX_CONCURRENT_STREAMS",
        0x4 => "INITIAL_WINDOW_SIZE",
        0x5 => "MAX_FRAME_SIZE",
        0x6 => "MAX_HEADER_LIST_SIZE",
        0x8 => "ENABLE_CONNECT_PROTOCOL",
        0x9 => "NO_RFC7540_PRIORITIES",
        _ => return None,
    })
}

/// The deprecated RFC 7540 priority fields, still sent by some clients (nghttp).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    pub exclusive: bool,
    pub depends_on: u32,
    /// The weight on the wire is 0–255 for 1–256.
    pub weight: u8,
}

/// A frame's payload, decoded. Borrowed from the input: nothing is copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Data {
        data: &'a [u8],
        padding: usize,
    },
    Headers {
        priority: Option<Priority>,
        /// A header block fragment (HPACK, RFC 7541), maybe continued in CONTINUATION.
        block: &'a [u8],
        padding: usize,
    },
    Priority(Priority),
    RstStream(ErrorCode),
    /// An empty list with the ACK flag acknowledges the peer's settings.
    Settings(Vec<(u16, u32)>),
    PushPromise {
        promised: u32,
        block: &'a [u8],
        padding: usize,
    },
    Ping([u8; 8]),
    GoAway {
        last_stream: u32,
        code: ErrorCode,
        debug: &'a [u8],
    },
    WindowUpdate(u32),
    Continuation(&'a [u8]),
    PriorityUpdate {
        prioritized: u32,
        field: &'a [u8],
    },
    /// "Implementations MUST ignore and discard frames of unknown types" (§5.5).
    Unknown,
}

/// A frame that breaks a rule of §6, with the error the receiver answers it with: a
/// connection error is a GOAWAY, a stream error a RST_STREAM (§5.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The payload is not the length the type requires (SETTINGS not a multiple of 6, PING
    /// not 8, …): FRAME_SIZE_ERROR.
    Size(&'static str),
    /// A frame on a stream it may not be on (DATA on stream 0, SETTINGS on stream 1, …):
    /// PROTOCOL_ERROR.
    Stream(&'static str),
    /// Padding longer than the payload: PROTOCOL_ERROR.
    Padding,
    /// A SETTINGS value out of range (ENABLE_PUSH not 0/1, a window over 2^31−1, …).
    Setting { id: u16, value: u32 },
    /// WINDOW_UPDATE of 0: PROTOCOL_ERROR.
    ZeroIncrement,
}

impl FrameError {
    /// The error code the receiver sends for it.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::Size(_) => ErrorCode::FRAME_SIZE_ERROR,
            FrameError::Setting { id: 0x4, .. } => ErrorCode::FLOW_CONTROL_ERROR,
            _ => ErrorCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Size(rule) => write!(f, "{rule} (RFC 9113 §6: FRAME_SIZE_ERROR)"),
            FrameError::Stream(rule) => write!(f, "{rule} (RFC 9113 §6: PROTOCOL_ERROR)"),
            FrameError::Padding => f.write_str(
                "padding as long as the payload or longer (RFC 9113 §6.1: PROTOCOL_ERROR)",
            ),
            FrameError::Setting { id, value } => write!(
                f,
                "SETTINGS {} = {value} is out of range (RFC 9113 §6.5.2: {})",
                setting_name(*id).unwrap_or("?"),
                self.code()
            ),
            FrameError::ZeroIncrement => {
                f.write_str("WINDOW_UPDATE with an increment of 0 (RFC 9113 §6.9: PROTOCOL_ERROR)")
            }
        }
    }
}

impl std::error::Error for FrameError {}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Pad Length (8) first, padding last, when PADDED is set (§6.1, §6.2, §6.6).
fn unpad(header: &Header, payload: &[u8]) -> Result<(usize, usize), FrameError> {
    if header.flags & flag::PADDED == 0 {
        return Ok((0, payload.len()));
    }
    let Some(&pad) = payload.first() else {
        return Err(FrameError::Size("a PADDED frame without its Pad Length"));
    };
    // "If the length of the padding is the length of the frame payload or greater, the
    // recipient MUST treat this as a connection error of type PROTOCOL_ERROR."
    if pad as usize >= payload.len() {
        return Err(FrameError::Padding);
    }
    Ok((1, payload.len() - pad as usize))
}

fn priority(b: &[u8]) -> Priority {
    let dep = u32_at(b, 0);
    Priority {
        exclusive: dep & 0x8000_0000 != 0,
        depends_on: dep & 0x7fff_ffff,
        weight: b[4],
    }
}

/// Decodes one frame's payload as its header's type says.
pub fn parse<'a>(header: &Header, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    match header.kind {
        kind::DATA => {
            on_stream(
                header,
                "DATA frames MUST be associated with a stream (§6.1)",
            )?;
            let (start, end) = unpad(header, payload)?;
            Ok(Frame::Data {
                data: &payload[start..end],
                padding: payload.len() - end,
            })
        }
        kind::HEADERS => headers(header, payload),
        kind::PRIORITY => {
            on_stream(
                header,
                "PRIORITY frames MUST be associated with a stream (§6.3)",
            )?;
            exactly(payload, 5, "a PRIORITY frame's payload is 5 bytes (§6.3)")?;
            Ok(Frame::Priority(priority(payload)))
        }
        kind::RST_STREAM => {
            on_stream(
                header,
                "RST_STREAM frames MUST be associated with a stream (§6.4)",
            )?;
            exactly(payload, 4, "a RST_STREAM frame's payload is 4 bytes (§6.4)")?;
            Ok(Frame::RstStream(ErrorCode(u32_at(payload, 0))))
        }
        kind::SETTINGS => settings(header, payload),
        kind::PUSH_PROMISE => push_promise(header, payload),
        kind::PING => {
            on_connection(
                header,
                "PING frames are not associated with a stream (§6.7)",
            )?;
            let data: [u8; 8] = payload
                .try_into()
                .map_err(|_| FrameError::Size("a PING frame's payload is 8 bytes (§6.7)"))?;
            Ok(Frame::Ping(data))
        }
        kind::GOAWAY => goaway(header, payload),
        kind::WINDOW_UPDATE => {
            exactly(
                payload,
                4,
                "a WINDOW_UPDATE frame's payload is 4 bytes (§6.9)",
            )?;
            let increment = u32_at(payload, 0) & 0x7fff_ffff;
            if increment == 0 {
                return Err(FrameError::ZeroIncrement);
            }
            Ok(Frame::WindowUpdate(increment))
        }
        kind::CONTINUATION => {
            on_stream(
                header,
                "CONTINUATION frames MUST be associated with a stream (§6.10)",
            )?;
            Ok(Frame::Continuation(payload))
        }
        kind::PRIORITY_UPDATE => {
            on_connection(
                header,
                "PRIORITY_UPDATE is sent on stream 0 (RFC 9218 §7.1)",
            )?;
            if payload.len() < 4 {
                return Err(FrameError::Size("PRIORITY_UPDATE without a stream ID"));
            }
            Ok(Frame::PriorityUpdate {
                prioritized: u32_at(payload, 0) & 0x7fff_ffff,
                field: &payload[4..],
            })
        }
        _ => Ok(Frame::Unknown),
    }
}

/// A frame type that belongs to a stream, on stream 0: PROTOCOL_ERROR.
fn on_stream(header: &Header, rule: &'static str) -> Result<(), FrameError> {
    if header.stream == 0 {
        return Err(FrameError::Stream(rule));
    }
    Ok(())
}

/// A frame type that belongs to the connection, on a stream: PROTOCOL_ERROR.
fn on_connection(header: &Header, rule: &'static str) -> Result<(), FrameError> {
    if header.stream != 0 {
        return Err(FrameError::Stream(rule));
    }
    Ok(())
}

/// A payload of a fixed length, or FRAME_SIZE_ERROR.
fn exactly(payload: &[u8], len: usize, rule: &'static str) -> Result<(), FrameError> {
    if payload.len() != len {
        return Err(FrameError::Size(rule));
    }
    Ok(())
}

/// HEADERS (§6.2): padding, the priority fields when PRIORITY is set, the block fragment.
fn headers<'a>(header: &Header, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    on_stream(
        header,
        "HEADERS frames MUST be associated with a stream (§6.2)",
    )?;
    let (mut start, end) = unpad(header, payload)?;
    let mut fields = None;
    if header.flags & flag::PRIORITY != 0 {
        if end < start + 5 {
            return Err(FrameError::Size(
                "HEADERS with PRIORITY shorter than 5 bytes",
            ));
        }
        fields = Some(priority(&payload[start..]));
        start += 5;
    }
    Ok(Frame::Headers {
        priority: fields,
        block: &payload[start..end],
        padding: payload.len() - end,
    })
}

/// SETTINGS (§6.5): six bytes per parameter, each value in its range (§6.5.2).
fn settings<'a>(header: &Header, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    on_connection(
        header,
        "SETTINGS frames apply to the connection, stream 0 (§6.5)",
    )?;
    if header.flags & flag::ACK != 0 && !payload.is_empty() {
        return Err(FrameError::Size("a SETTINGS ACK carries no payload (§6.5)"));
    }
    if payload.len() % 6 != 0 {
        return Err(FrameError::Size(
            "a SETTINGS payload is a multiple of 6 bytes (§6.5)",
        ));
    }
    let mut params = Vec::new();
    for p in payload.chunks_exact(6) {
        let id = u16::from_be_bytes([p[0], p[1]]);
        let value = u32_at(p, 2);
        let bad = match id {
            0x2 => value > 1,
            0x4 => value > 0x7fff_ffff,
            0x5 => !(DEFAULT_MAX_FRAME_SIZE..=0x00ff_ffff).contains(&value),
            _ => false,
        };
        if bad {
            return Err(FrameError::Setting { id, value });
        }
        params.push((id, value));
    }
    Ok(Frame::Settings(params))
}

/// PUSH_PROMISE (§6.6): padding, the promised stream, the block fragment.
fn push_promise<'a>(header: &Header, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    on_stream(
        header,
        "PUSH_PROMISE frames MUST be associated with a stream (§6.6)",
    )?;
    let (start, end) = unpad(header, payload)?;
    if end < start + 4 {
        return Err(FrameError::Size(
            "PUSH_PROMISE without a Promised Stream ID",
        ));
    }
    Ok(Frame::PushPromise {
        promised: u32_at(payload, start) & 0x7fff_ffff,
        block: &payload[start + 4..end],
        padding: payload.len() - end,
    })
}

/// GOAWAY (§6.8): the last stream, the error code, debug data.
fn goaway<'a>(header: &Header, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    on_connection(
        header,
        "GOAWAY frames apply to the connection, stream 0 (§6.8)",
    )?;
    if payload.len() < 8 {
        return Err(FrameError::Size(
            "a GOAWAY frame's payload is at least 8 bytes",
        ));
    }
    Ok(Frame::GoAway {
        last_stream: u32_at(payload, 0) & 0x7fff_ffff,
        code: ErrorCode(u32_at(payload, 4)),
        debug: &payload[8..],
    })
}

/// Where a frame-size error applies (RFC 9113 §5.4): the whole connection (GOAWAY) or one
/// stream (RST_STREAM, the connection goes on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Connection,
    Stream(u32),
}

/// The length rules a frame's header alone shows broken (§4.2, §6): the scope of the
/// FRAME_SIZE_ERROR and the rule, or `None`. A frame on the wrong stream is left to the
/// other checks (PROTOCOL_ERROR comes first there, as in [`parse`]); so is a frame larger
/// than SETTINGS_MAX_FRAME_SIZE, which `h2` already answers with FRAME_SIZE_ERROR.
pub fn size_rule(header: &Header) -> Option<(Scope, &'static str)> {
    let (len, on_zero) = (header.length, header.stream == 0);
    let conn = |rule| Some((Scope::Connection, rule));
    match header.kind {
        kind::SETTINGS if on_zero && header.flags & flag::ACK != 0 && len != 0 => {
            conn("a SETTINGS ACK carries no payload (§6.5)")
        }
        kind::SETTINGS if on_zero && len % 6 != 0 => {
            conn("a SETTINGS payload is a multiple of 6 bytes (§6.5)")
        }
        kind::PING if on_zero && len != 8 => conn("a PING frame's payload is 8 bytes (§6.7)"),
        kind::GOAWAY if on_zero && len < 8 => {
            conn("a GOAWAY frame's payload is at least 8 bytes (§6.8)")
        }
        kind::RST_STREAM if !on_zero && len != 4 => {
            conn("a RST_STREAM frame's payload is 4 bytes (§6.4)")
        }
        kind::WINDOW_UPDATE if len != 4 => {
            conn("a WINDOW_UPDATE frame's payload is 4 bytes (§6.9)")
        }
        // "A frame size error in a frame that could alter the state of the entire connection
        // MUST be treated as a connection error" (§4.2): a HEADERS frame carries a field block.
        kind::HEADERS if !on_zero && (len as usize) < headers_minimum(header.flags) => {
            conn("HEADERS too short for its Pad Length and priority fields (§6.2)")
        }
        // PRIORITY changes nothing beyond its stream: a stream error (§6.3).
        kind::PRIORITY if !on_zero && len != 5 => Some((
            Scope::Stream(header.stream),
            "a PRIORITY frame's payload is 5 bytes (§6.3)",
        )),
        _ => None,
    }
}

/// The bytes a HEADERS frame's flags promise before its field block: Pad Length (1) when
/// PADDED, the priority fields (5) when PRIORITY.
fn headers_minimum(flags: u8) -> usize {
    let padded = usize::from(flags & flag::PADDED != 0);
    let priority = if flags & flag::PRIORITY != 0 { 5 } else { 0 };
    padded + priority
}

/// A frame type's name as the RFC spells it.
pub fn kind_name(kind: u8) -> String {
    match kind {
        kind::DATA => "DATA".into(),
        kind::HEADERS => "HEADERS".into(),
        kind::PRIORITY => "PRIORITY".into(),
        kind::RST_STREAM => "RST_STREAM".into(),
        kind::SETTINGS => "SETTINGS".into(),
        kind::PUSH_PROMISE => "PUSH_PROMISE".into(),
        kind::PING => "PING".into(),
        kind::GOAWAY => "GOAWAY".into(),
        kind::WINDOW_UPDATE => "WINDOW_UPDATE".into(),
        kind::CONTINUATION => "CONTINUATION".into(),
        kind::PRIORITY_UPDATE => "PRIORITY_UPDATE".into(),
        other => format!("type 0x{other:02x} (unknown, ignored)"),
    }
}

/// The flags a frame of this type defines, by name: `END_STREAM|END_HEADERS`.
pub fn flag_names(kind: u8, flags: u8) -> String {
    let defined: &[(u8, &str)] = match kind {
        kind::DATA => &[(flag::END_STREAM, "END_STREAM"), (flag::PADDED, "PADDED")],
        kind::HEADERS => &[
            (flag::END_STREAM, "END_STREAM"),
            (flag::END_HEADERS, "END_HEADERS"),
            (flag::PADDED, "PADDED"),
            (flag::PRIORITY, "PRIORITY"),
        ],
        kind::SETTINGS | kind::PING => &[(flag::ACK, "ACK")],
        kind::PUSH_PROMISE => &[(flag::END_HEADERS, "END_HEADERS"), (flag::PADDED, "PADDED")],
        kind::CONTINUATION => &[(flag::END_HEADERS, "END_HEADERS")],
        _ => &[],
    };
    let names: Vec<&str> = defined
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join("|")
    }
}

/// One line for the trace: `HEADERS stream=1 flags=END_STREAM|END_HEADERS length=31`, and
/// what the payload says for the types whose payload is not a body or a header block.
pub fn describe(header: &Header, frame: &Frame) -> String {
    let mut line = format!(
        "{} stream={} flags={} length={}",
        kind_name(header.kind),
        header.stream,
        flag_names(header.kind, header.flags),
        header.length
    );
    let more = match frame {
        Frame::Data { padding, .. } | Frame::Headers { padding, .. } if *padding > 0 => {
            format!(" padding={padding}")
        }
        Frame::Priority(p) => format!(
            " depends_on={} weight={} exclusive={} (RFC 7540 priorities, deprecated by RFC 9113 §5.3.2)",
            p.depends_on,
            u16::from(p.weight) + 1,
            p.exclusive
        ),
        Frame::RstStream(code) => format!(" error={code}"),
        Frame::Settings(params) if !params.is_empty() => {
            let list: Vec<String> = params
                .iter()
                .map(|(id, v)| match setting_name(*id) {
                    Some(n) => format!("{n}={v}"),
                    None => format!("0x{id:x}={v} (unknown, ignored)"),
                })
                .collect();
            format!(" {}", list.join(" "))
        }
        Frame::PushPromise { promised, .. } => format!(" promised_stream={promised}"),
        Frame::Ping(data) => format!(" opaque={}", hex(data)),
        Frame::GoAway {
            last_stream,
            code,
            debug,
        } => {
            let mut s = format!(" last_stream={last_stream} error={code}");
            if !debug.is_empty() {
                s.push_str(&format!(" debug={}", crate::trace::quoted(debug, 80)));
            }
            s
        }
        Frame::WindowUpdate(inc) => format!(" increment={inc}"),
        Frame::PriorityUpdate { prioritized, field } => format!(
            " prioritized_stream={prioritized} priority={}",
            crate::trace::quoted(field, 60)
        ),
        _ => String::new(),
    };
    line.push_str(&more);
    line
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::emit as frame;

    fn decode(bytes: &[u8]) -> Result<(Header, Frame<'_>), FrameError> {
        let h = Header::parse(bytes).unwrap();
        parse(&h, &bytes[HEADER_LEN..]).map(|f| (h, f))
    }

    #[test]
    fn the_header_is_nine_bytes_and_the_reserved_bit_is_ignored() {
        let bytes = [0x00, 0x00, 0x05, 0x01, 0x25, 0x80, 0x00, 0x00, 0x03];
        assert_eq!(
            Header::parse(&bytes),
            Some(Header {
                length: 5,
                kind: kind::HEADERS,
                flags: 0x25,
                stream: 3
            })
        );
        assert_eq!(Header::parse(&bytes[..8]), None);
        assert_eq!(
            flag_names(kind::HEADERS, 0x25),
            "END_STREAM|END_HEADERS|PRIORITY"
        );
    }

    #[test]
    fn every_frame_type_decodes_and_describes_itself() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                frame(kind::DATA, 0x9, 1, b"\x02hi\x00\x00"),
                "DATA stream=1 flags=END_STREAM|PADDED length=5 padding=2",
            ),
            (
                frame(kind::HEADERS, 0x24, 3, b"\x80\x00\x00\x01\x0f\x82"),
                "HEADERS stream=3 flags=END_HEADERS|PRIORITY length=6",
            ),
            (
                frame(kind::PRIORITY, 0, 5, b"\x00\x00\x00\x03\xff"),
                "PRIORITY stream=5 flags=- length=5 depends_on=3 weight=256 exclusive=false (RFC 7540 priorities, deprecated by RFC 9113 §5.3.2)",
            ),
            (
                frame(kind::RST_STREAM, 0, 1, &8u32.to_be_bytes()),
                "RST_STREAM stream=1 flags=- length=4 error=CANCEL",
            ),
            (
                frame(
                    kind::SETTINGS,
                    0,
                    0,
                    b"\x00\x03\x00\x00\x00\x64\x00\x04\x00\x00\xff\xff",
                ),
                "SETTINGS stream=0 flags=- length=12 MAX_CONCURRENT_STREAMS=100 INITIAL_WINDOW_SIZE=65535",
            ),
            (
                frame(kind::SETTINGS, 1, 0, b""),
                "SETTINGS stream=0 flags=ACK length=0",
            ),
            (
                frame(kind::PUSH_PROMISE, 0x4, 1, b"\x00\x00\x00\x02\x82"),
                "PUSH_PROMISE stream=1 flags=END_HEADERS length=5 promised_stream=2",
            ),
            (
                frame(kind::PING, 1, 0, b"netlab!!"),
                "PING stream=0 flags=ACK length=8 opaque=6e65746c61622121",
            ),
            (
                frame(kind::GOAWAY, 0, 0, b"\x00\x00\x00\x07\x00\x00\x00\x0bcalm"),
                "GOAWAY stream=0 flags=- length=12 last_stream=7 error=ENHANCE_YOUR_CALM debug=\"calm\"",
            ),
            (
                frame(kind::WINDOW_UPDATE, 0, 0, &65_536u32.to_be_bytes()),
                "WINDOW_UPDATE stream=0 flags=- length=4 increment=65536",
            ),
            (
                frame(kind::CONTINUATION, 0x4, 1, b"\x84"),
                "CONTINUATION stream=1 flags=END_HEADERS length=1",
            ),
            (
                frame(kind::PRIORITY_UPDATE, 0, 0, b"\x00\x00\x00\x01u=0"),
                "PRIORITY_UPDATE stream=0 flags=- length=7 prioritized_stream=1 priority=\"u=0\"",
            ),
            (
                frame(0xfa, 0xff, 9, b"?"),
                "type 0xfa (unknown, ignored) stream=9 flags=- length=1",
            ),
        ];
        for (bytes, want) in cases {
            let (h, f) = decode(&bytes).unwrap_or_else(|e| panic!("{want}: {e}"));
            assert_eq!(describe(&h, &f), want);
        }
        let bytes = frame(kind::HEADERS, 0x24, 3, b"\x80\x00\x00\x01\x0f\x82");
        let (_, f) = decode(&bytes).unwrap();
        assert_eq!(
            f,
            Frame::Headers {
                priority: Some(Priority {
                    exclusive: true,
                    depends_on: 1,
                    weight: 15
                }),
                block: b"\x82",
                padding: 0
            }
        );
    }

    #[test]
    fn each_rule_broken_has_its_error_code() {
        let cases: Vec<(Vec<u8>, ErrorCode)> = vec![
            (frame(kind::DATA, 0, 0, b"x"), ErrorCode::PROTOCOL_ERROR),
            (
                frame(kind::HEADERS, 0, 0, b"\x82"),
                ErrorCode::PROTOCOL_ERROR,
            ),
            (frame(kind::SETTINGS, 0, 1, b""), ErrorCode::PROTOCOL_ERROR),
            (
                frame(kind::SETTINGS, 0, 0, b"\x00\x03\x00"),
                ErrorCode::FRAME_SIZE_ERROR,
            ),
            (
                frame(kind::SETTINGS, 1, 0, b"\x00\x03\x00\x00\x00\x01"),
                ErrorCode::FRAME_SIZE_ERROR,
            ),
            (
                frame(kind::SETTINGS, 0, 0, b"\x00\x02\x00\x00\x00\x02"),
                ErrorCode::PROTOCOL_ERROR,
            ),
            (
                frame(kind::SETTINGS, 0, 0, b"\x00\x04\x80\x00\x00\x00"),
                ErrorCode::FLOW_CONTROL_ERROR,
            ),
            (
                frame(kind::SETTINGS, 0, 0, b"\x00\x05\x00\x00\x10\x00"),
                ErrorCode::PROTOCOL_ERROR,
            ),
            (
                frame(kind::PING, 0, 0, b"short"),
                ErrorCode::FRAME_SIZE_ERROR,
            ),
            (
                frame(kind::PING, 0, 1, b"12345678"),
                ErrorCode::PROTOCOL_ERROR,
            ),
            (
                frame(kind::RST_STREAM, 0, 1, b"\x00\x00"),
                ErrorCode::FRAME_SIZE_ERROR,
            ),
            (
                frame(kind::RST_STREAM, 0, 0, b"\x00\x00\x00\x08"),
                ErrorCode::PROTOCOL_ERROR,
            ),
            (
                frame(kind::WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"),
                ErrorCode::PROTOCOL_ERROR,
            ),
            (
                frame(kind::GOAWAY, 0, 3, b"\x00\x00\x00\x00\x00\x00\x00\x00"),
                ErrorCode::PROTOCOL_ERROR,
            ),
            (
                frame(kind::DATA, 0x8, 1, b"\x05abc"),
                ErrorCode::PROTOCOL_ERROR,
            ),
            (
                frame(kind::CONTINUATION, 0x4, 0, b"\x82"),
                ErrorCode::PROTOCOL_ERROR,
            ),
        ];
        for (bytes, code) in cases {
            let e = decode(&bytes).unwrap_err();
            assert_eq!(e.code(), code, "{e}");
        }
    }
}
