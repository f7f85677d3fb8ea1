//! The ZMTP decoder of `netlab tap --proto zmtp`: the state of one connection (RFC 37/ZMTP
//! "Overall Behavior": greeting, then handshake commands, then traffic), fed by the relay,
//! turned into trace lines with RFC 37's field names. The byte rules are in `zmtp.rs`.
//!
//! Each direction is its own stream with its own state: first the 64-octet greeting, then
//! frames. A command frame is decoded when its whole body is there (READY's metadata, a
//! SUBSCRIBE); a message frame is shown as soon as its header and the first bytes of its
//! body are, and the rest of a large body is skipped as it passes, so memory stays bounded
//! whatever the frame size. After a decode error, that direction is relayed undecoded.

use super::zmtp::{self, FrameHeader, Known, Status};
use crate::l4::relay::Side;
use crate::tap::{Decoder, Line};
use crate::trace::{self, Dir, Layer};

/// How many body bytes a frame line shows.
const PREVIEW: usize = 40;

/// The largest command body we keep to decode (READY with its metadata is ~100 bytes).
/// A bigger one (CURVE's are < 300) is shown by its header only.
const MAX_COMMAND: u64 = 64 * 1024;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Stage {
    #[default]
    Greeting,
    Frames,
    /// A rule was broken: the rest of this direction is not decoded.
    Failed,
}

#[derive(Debug, Default)]
struct Stream {
    stage: Stage,
    buf: Vec<u8>,
    /// Body bytes of the current message frame still to pass by without decoding.
    skip: u64,
    /// Which frame of the current message comes next (1 = the first).
    part: usize,
    /// The Socket-Type this side announced in READY.
    socket_type: Option<String>,
    /// Bytes seen in total (for the end-of-stream report).
    total: u64,
}

/// Decodes both directions of one relayed ZMTP connection.
#[derive(Debug, Default)]
pub struct ZmtpDecoder {
    streams: [Stream; 2],
}

/// A fresh decoder (`netlab tap --proto zmtp`).
pub fn new() -> Box<dyn Decoder> {
    Box::<ZmtpDecoder>::default()
}

impl Decoder for ZmtpDecoder {
    fn layer(&self) -> Layer {
        Layer::Zmtp
    }

    fn feed(&mut self, from: Side, bytes: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        let peer_type = self.streams[1 - from.index()].socket_type.clone();
        let s = &mut self.streams[from.index()];
        s.total += bytes.len() as u64;
        if s.stage == Stage::Failed {
            return lines;
        }
        s.buf.extend_from_slice(bytes);
        // The greeting, then frame after frame, as long as whole ones are there.
        loop {
            let step = match s.stage {
                Stage::Greeting => greeting(s, from, &mut lines),
                Stage::Frames => frame(s, from, peer_type.as_deref(), &mut lines),
                Stage::Failed => Ok(false),
            };
            match step {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    lines.push(decode_failed(s, from, &e));
                    break;
                }
            }
        }
        lines
    }

    fn end(&mut self, from: Side) -> Vec<Line> {
        let s = &self.streams[from.index()];
        let what = match s.stage {
            Stage::Greeting if s.total == 0 => "closed before sending anything".to_string(),
            Stage::Greeting => format!(
                "closed after {} of the greeting's 64 octets (truncated greeting)",
                s.buf.len()
            ),
            Stage::Frames if !s.buf.is_empty() || s.skip > 0 => format!(
                "closed in the middle of a frame ({} octets of it unread)",
                s.buf.len() as u64 + s.skip
            ),
            Stage::Frames if s.part > 1 => {
                "closed in the middle of a multipart message (its last frame had MORE)".into()
            }
            _ => format!("closed (end of stream after {} octets)", s.total),
        };
        vec![Line {
            dir: Dir::Event,
            text: format!("{} {what}", arrow(from)),
            layer: None,
        }]
    }
}

/// A direction whose bytes broke ZMTP: one line says so, and the rest is relayed undecoded.
fn decode_failed(s: &mut Stream, from: Side, e: &zmtp::ZmtpError) -> Line {
    s.stage = Stage::Failed;
    s.buf = Vec::new();
    Line {
        dir: Dir::Event,
        text: format!(
            "{} decode error: {e}; relaying the rest of this direction undecoded",
            arrow(from)
        ),
        layer: None,
    }
}

fn arrow(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Server => "server",
    }
}

/// Decodes the greeting once 64 octets are there. Returns whether it made progress.
fn greeting(s: &mut Stream, from: Side, lines: &mut Vec<Line>) -> Result<bool, zmtp::ZmtpError> {
    let Status::Complete(g, used) = zmtp::parse_greeting(&s.buf)? else {
        return Ok(false);
    };
    lines.push(Line {
        dir: from.dir(),
        text: format!(
            "greeting signature=%xFF…%x7F version={}.{} mechanism={} as-server={}",
            g.major,
            g.minor,
            g.mechanism,
            u8::from(g.as_server)
        ),
        layer: None,
    });
    s.buf.drain(..used);
    s.stage = Stage::Frames;
    s.part = 1;
    Ok(true)
}

/// Decodes one frame (or passes by part of a large body). Returns whether it made progress.
fn frame(
    s: &mut Stream,
    from: Side,
    peer_type: Option<&str>,
    lines: &mut Vec<Line>,
) -> Result<bool, zmtp::ZmtpError> {
    // 1. The rest of a large message body: let it pass.
    if s.skip > 0 {
        if s.buf.is_empty() {
            return Ok(false);
        }
        let n = s.skip.min(s.buf.len() as u64) as usize;
        s.buf.drain(..n);
        s.skip -= n as u64;
        return Ok(true);
    }
    let Status::Complete(h, head) = zmtp::parse_frame_header(&s.buf)? else {
        return Ok(false);
    };
    let have = (s.buf.len() - head) as u64;
    if h.command() {
        // 2. A command: wait for all of it (bounded), then decode it.
        if h.size > MAX_COMMAND {
            lines.push(Line {
                dir: from.dir(),
                text: format!(
                    "frame flags={} size={}: a large command, not decoded",
                    h.flag_names(),
                    h.size
                ),
                layer: None,
            });
            s.skip = h.size;
            s.buf.drain(..head);
            return Ok(true);
        }
        if have < h.size {
            return Ok(false);
        }
        let end = head + h.size as usize;
        let body: Vec<u8> = s.buf.drain(..end).skip(head).collect();
        let text = command_line(&h, &body, s, peer_type)?;
        lines.push(Line {
            dir: from.dir(),
            text,
            layer: None,
        });
        return Ok(true);
    }
    // 3. A message frame: show it once the preview is there; skip the rest as it comes.
    let want = h.size.min(PREVIEW as u64);
    if have < want {
        return Ok(false);
    }
    let shown = &s.buf[head..head + want as usize];
    let mut text = format!(
        "frame flags={} size={}: \"{}{}\"",
        h.flag_names(),
        h.size,
        trace::preview(shown, PREVIEW),
        if h.size > want { "…" } else { "" }
    );
    text.push_str(&annotate(&h, shown, s));
    lines.push(Line {
        dir: from.dir(),
        text,
        layer: None,
    });
    let body_here = have.min(h.size) as usize;
    s.buf.drain(..head + body_here);
    s.skip = h.size - body_here as u64;
    s.part = if h.more() { s.part + 1 } else { 1 };
    Ok(true)
}

/// What a message frame means in its pattern, when the frame alone tells.
fn annotate(h: &FrameHeader, shown: &[u8], s: &Stream) -> String {
    let kind = s.socket_type.as_deref().unwrap_or("");
    // REQ/REP envelopes: an empty frame with MORE separates the address from the body.
    if h.size == 0 && h.more() && matches!(kind, "REQ" | "REP" | "DEALER" | "ROUTER") {
        return " (empty delimiter: the envelope ends here)".into();
    }
    // ZMTP 3.0-style subscriptions: a one-frame message from a SUB whose first octet is 1/0.
    let legacy = if s.part == 1 && !h.more() && matches!(kind, "SUB" | "XSUB") {
        zmtp::legacy_subscription(shown)
    } else {
        None
    };
    if let Some((on, topic)) = legacy {
        let name = if on { "SUBSCRIBE" } else { "CANCEL" };
        return format!(
            " = {name} \"{}\" (ZMTP 3.0 style: first octet {})",
            trace::preview(topic, PREVIEW),
            u8::from(on)
        );
    }
    match (s.part, h.more()) {
        (1, false) => String::new(),
        (n, true) => format!(" (part {n}; more follow)"),
        (n, false) => format!(" (part {n}, the last of the message)"),
    }
}

/// `frame flags=0x04(COMMAND) size=28: READY Socket-Type=REQ Identity=""`.
fn command_line(
    h: &FrameHeader,
    body: &[u8],
    s: &mut Stream,
    peer_type: Option<&str>,
) -> Result<String, zmtp::ZmtpError> {
    let cmd = zmtp::parse_command(body)?;
    let head = format!("frame flags={} size={}:", h.flag_names(), h.size);
    Ok(match zmtp::interpret(cmd)? {
        Known::Ready(props) => ready_line(&head, &props, s, peer_type),
        Known::Error(reason) => format!("{head} ERROR reason=\"{}\"", trace::preview(reason, 255)),
        Known::Subscribe(topic) => {
            format!("{head} SUBSCRIBE \"{}\"", trace::preview(topic, PREVIEW))
        }
        Known::Cancel(topic) => format!("{head} CANCEL \"{}\"", trace::preview(topic, PREVIEW)),
        Known::Ping { ttl, context } => format!(
            "{head} PING ttl={ttl} (×0.1 s) context=\"{}\"",
            trace::preview(context, 16)
        ),
        Known::Pong(context) => format!("{head} PONG context=\"{}\"", trace::preview(context, 16)),
        Known::Other(cmd) => format!("{head} {} ({} octets of data)", cmd.name, cmd.data.len()),
    })
}

/// `… READY Socket-Type="REQ" Identity=""`, remembering this side's Socket-Type, and
/// whether it pairs with the peer's.
fn ready_line(
    head: &str,
    props: &[zmtp::Property<'_>],
    s: &mut Stream,
    peer_type: Option<&str>,
) -> String {
    let mut text = format!("{head} READY");
    for p in props {
        text.push_str(&format!(
            " {}=\"{}\"",
            p.name,
            trace::preview(p.value, PREVIEW)
        ));
        if p.name.eq_ignore_ascii_case("Socket-Type") {
            s.socket_type = Some(String::from_utf8_lossy(p.value).into_owned());
        }
    }
    // RFC 37: "The peer SHOULD enforce that the other peer is using a valid socket type."
    let (Some(mine), Some(theirs)) = (s.socket_type.as_deref(), peer_type) else {
        return text;
    };
    match zmtp::compatible(mine, theirs) {
        Some(true) => text.push_str(&format!(" ({theirs}↔{mine}: a valid pair)")),
        Some(false) => text.push_str(&format!(
            " ({theirs}↔{mine}: NOT a valid pair; libzmq will close the connection)"
        )),
        None => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zmq::zmtp::tests::{command, greeting, property};

    /// The client side of a REQ/REP exchange as libzmq sends it.
    fn req_stream() -> Vec<u8> {
        let mut b = greeting("NULL", 0);
        let mut meta = property("Socket-Type", b"REQ");
        meta.extend(property("Identity", b""));
        b.extend(command("READY", &meta));
        b.extend([zmtp::MORE, 0]);
        b.extend([0, 5]);
        b.extend(b"hello");
        b
    }

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.text.clone()).collect()
    }

    #[test]
    fn decodes_a_req_conversation() {
        let mut d = ZmtpDecoder::default();
        let lines = d.feed(Side::Client, &req_stream());
        let t = texts(&lines);
        assert_eq!(t.len(), 4, "{t:#?}");
        assert_eq!(
            t[0],
            "greeting signature=%xFF…%x7F version=3.1 mechanism=NULL as-server=0"
        );
        assert_eq!(
            t[1],
            "frame flags=0x04(COMMAND) size=38: READY Socket-Type=\"REQ\" Identity=\"\""
        );
        assert!(
            t[2].contains("flags=0x01(MORE) size=0: \"\" (empty delimiter"),
            "{}",
            t[2]
        );
        assert!(
            t[3].starts_with("frame flags=0x00 size=5: \"hello\" (part 2, the last"),
            "{}",
            t[3]
        );
        assert!(lines.iter().all(|l| l.dir == Dir::Sent));
    }

    #[test]
    fn byte_by_byte_gives_the_same_lines() {
        let whole = texts(&ZmtpDecoder::default().feed(Side::Client, &req_stream()));
        let mut d = ZmtpDecoder::default();
        let mut lines = Vec::new();
        for b in req_stream() {
            lines.extend(d.feed(Side::Client, &[b]));
        }
        assert_eq!(texts(&lines), whole);
    }

    #[test]
    fn large_frames_pass_with_bounded_memory() {
        let mut d = ZmtpDecoder::default();
        d.feed(Side::Server, &greeting("NULL", 0));
        let mut head = vec![zmtp::LONG];
        head.extend_from_slice(&1_000_000u64.to_be_bytes());
        let lines = d.feed(Side::Server, &head);
        assert!(lines.is_empty(), "waits for the preview");
        let lines = d.feed(Side::Server, &[b'x'; 100_000]);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].text.contains("flags=0x02(LONG) size=1000000"),
            "{:?}",
            lines[0]
        );
        assert!(d.streams[1].buf.len() < 1000, "the body is not kept");
        for _ in 0..9 {
            assert!(d.feed(Side::Server, &[b'x'; 100_000]).is_empty());
        }
        let lines = d.feed(Side::Server, &[0, 2, b'o', b'k']);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].text.contains("size=2: \"ok\""), "{:?}", lines[0]);
    }

    #[test]
    fn subscriptions_both_styles() {
        let mut d = ZmtpDecoder::default();
        let mut b = greeting("NULL", 0);
        b.extend(command("READY", &property("Socket-Type", b"SUB")));
        b.extend(command("SUBSCRIBE", b"news"));
        b.extend([0, 5, 1, b'n', b'e', b'w', b's']);
        let t = texts(&d.feed(Side::Client, &b));
        assert!(t[2].ends_with("SUBSCRIBE \"news\""), "{t:?}");
        assert!(
            t[3].ends_with("= SUBSCRIBE \"news\" (ZMTP 3.0 style: first octet 1)"),
            "{t:?}"
        );
    }

    #[test]
    fn garbage_and_truncation_are_reported_not_fatal() {
        let mut d = ZmtpDecoder::default();
        let lines = d.feed(Side::Client, b"GET / HTTP/1.1\r\n");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].dir, Dir::Event);
        assert!(
            lines[0].text.contains("decode error: not ZMTP"),
            "{:?}",
            lines[0]
        );
        assert!(
            d.feed(Side::Client, b"more bytes").is_empty(),
            "undecoded after an error"
        );
        // The other direction is independent, and a cut-off greeting is named at the end.
        d.feed(Side::Server, &greeting("NULL", 0)[..20]);
        let end = d.end(Side::Server);
        assert!(
            end[0].text.contains("20 of the greeting's 64 octets"),
            "{end:?}"
        );
        // A frame cut in the middle.
        let mut d = ZmtpDecoder::default();
        let mut b = greeting("NULL", 0);
        b.extend([zmtp::COMMAND, 30, 5]);
        d.feed(Side::Client, &b);
        assert!(d.end(Side::Client)[0].text.contains("middle of a frame"));
    }

    #[test]
    fn random_input_in_random_pieces_never_panics() {
        let mut x: u64 = 7;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        };
        for round in 0..300 {
            let mut d = ZmtpDecoder::default();
            // Half the rounds start well, so the frame decoder sees garbage too.
            if round % 2 == 0 {
                d.feed(Side::Client, &greeting("NULL", 0));
            }
            for _ in 0..20 {
                let len = usize::from(next() % 40);
                let chunk: Vec<u8> = (0..len).map(|_| next() % 8).collect();
                d.feed(Side::Client, &chunk);
            }
            d.end(Side::Client);
        }
    }
}
