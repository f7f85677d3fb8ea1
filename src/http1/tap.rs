//! `netlab tap --proto http1`: what HTTP/1.1 looks like between two programs we did not
//! write (curl and nginx, a browser and a server), decoded with netlab's own parser.
//!
//! Sans-IO: the relay feeds the bytes each side sent; the decoder finds message boundaries
//! with the same rules a server uses (RFC 9112 §6.3) — which is the point: a response's
//! length depends on the request it answers (HEAD, 304, CONNECT), so one decoder sees both
//! directions and keeps the methods of the requests still waiting for an answer.

use super::chunked::ChunkedDecoder;
use super::framing::{self, BodyLength};
use super::head::{RequestHead, ResponseHead};
use super::parse::{self, Limits, Status};
use crate::l4::relay::Side;
use crate::tap::{Decoder, Line};
use crate::trace::{self, Dir, Layer};
use std::collections::VecDeque;

/// How many bytes of a body the trace shows.
const PREVIEW: usize = 40;

/// Where one direction is in its stream of messages.
#[derive(Debug)]
enum Body {
    /// Waiting for (the rest of) a head.
    Head,
    /// `left` bytes of a Content-Length body to go; `start` keeps its first bytes to show.
    Fixed {
        left: u64,
        total: u64,
        start: Vec<u8>,
    },
    /// Inside a chunked body.
    Chunked(Box<ChunkedDecoder>),
    /// A response body that ends when the server closes.
    UntilClose { seen: u64 },
    /// No more HTTP on this side: a CONNECT tunnel, an upgrade, or bytes the parser refused.
    Opaque { why: &'static str, seen: u64 },
}

struct Direction {
    buf: Vec<u8>,
    body: Body,
    messages: u32,
}

impl Direction {
    fn new() -> Direction {
        Direction {
            buf: Vec::new(),
            body: Body::Head,
            messages: 0,
        }
    }
}

/// Decodes both directions of one HTTP/1.1 connection.
pub struct Http1Decoder {
    sides: [Direction; 2],
    /// Methods of requests not yet answered, oldest first (pipelining keeps order).
    pending: VecDeque<String>,
    limits: Limits,
}

/// A fresh decoder, for the tap's protocol table.
pub fn new() -> Box<dyn Decoder> {
    Box::new(Http1Decoder {
        sides: [Direction::new(), Direction::new()],
        pending: VecDeque::new(),
        limits: Limits::default(),
    })
}

fn line(from: Side, text: String) -> Line {
    Line {
        dir: from.dir(),
        text,
        layer: None,
    }
}

fn event(text: String) -> Line {
    Line {
        dir: Dir::Event,
        text,
        layer: None,
    }
}

fn describe(length: BodyLength) -> String {
    match length {
        BodyLength::None => "no body".into(),
        BodyLength::Fixed(n) => format!("body: Content-Length {n}"),
        BodyLength::Chunked => "body: chunked".into(),
        BodyLength::UntilClose => "body: until the server closes".into(),
    }
}

/// One head the parser found, as the trace will describe it.
struct Head {
    text: String,
    length: Result<BodyLength, framing::FramingError>,
    /// How many bytes of the buffer the head took.
    used: usize,
    /// A request's method, kept until its response comes.
    method: Option<String>,
    /// A response's status code and the method of the request it answers.
    status: Option<(u16, String)>,
}

impl Http1Decoder {
    /// Parses one head from `from`'s buffer, if a whole one is there: 1. parse, 2. check its
    /// framing, 3. remember what the other direction needs, 4. expect its body.
    fn head(&mut self, from: Side, out: &mut Vec<Line>) -> bool {
        // 1. Parse a whole head, or wait for more bytes; bytes that are not HTTP end decoding.
        let head = match self.parse_head(from) {
            Ok(Some(h)) => h,
            Ok(None) => return false,
            Err(e) => {
                out.push(event(format!(
                    "the {} sent bytes that are not HTTP/1.1: {e}; the rest is relayed undecoded",
                    role(from)
                )));
                let d = &mut self.sides[from.index()];
                d.body = Body::Opaque {
                    why: "not HTTP/1.1",
                    seen: d.buf.len() as u64,
                };
                d.buf.clear();
                return false;
            }
        };
        self.sides[from.index()].buf.drain(..head.used);
        // 2. A head whose body length is ambiguous (RFC 9112 §6.3) ends decoding too.
        let length = match head.length {
            Ok(l) => l,
            Err(e) => {
                out.push(line(from, format!("{}; framing refused: {e}", head.text)));
                self.sides[from.index()].body = Body::Opaque {
                    why: "ambiguous framing",
                    seen: 0,
                };
                return false;
            }
        };
        out.push(line(from, format!("{}; {}", head.text, describe(length))));
        // 3. Count the message; a request waits for its answer, a response may open a tunnel.
        if let Some(m) = head.method {
            self.pending.push_back(m);
        }
        match head.status {
            Some((code, method)) => {
                if self.answered(code, &method, out) {
                    return false;
                }
            }
            None => self.sides[from.index()].messages += 1,
        }
        // 4. Expect the body its framing announced.
        self.sides[from.index()].body = match length {
            BodyLength::None => Body::Head,
            BodyLength::Fixed(n) => Body::Fixed {
                left: n,
                total: n,
                start: Vec::new(),
            },
            BodyLength::Chunked => {
                Body::Chunked(Box::new(ChunkedDecoder::default().keeping_sizes()))
            }
            BodyLength::UntilClose => Body::UntilClose { seen: 0 },
        };
        true
    }

    /// Parses `from`'s buffer into a head: `None` while it is incomplete.
    fn parse_head(&self, from: Side) -> Result<Option<Head>, parse::ParseError> {
        let d = &self.sides[from.index()];
        let n = d.messages + 1;
        Ok(match from {
            Side::Client => match parse::parse_request(&d.buf, &self.limits)? {
                Status::Complete((h, used)) => Some(request_head(n, h, used)),
                Status::Partial => None,
            },
            Side::Server => match parse::parse_response(&d.buf, &self.limits)? {
                Status::Complete((h, used)) => Some(self.response_head(n, h, used)),
                Status::Partial => None,
            },
        })
    }

    /// Response `n`, described with the method of the oldest request still unanswered.
    fn response_head(&self, n: u32, h: ResponseHead, used: usize) -> Head {
        let method = self
            .pending
            .front()
            .cloned()
            .unwrap_or_else(|| "GET".into());
        Head {
            text: format!(
                "response {n} to {method}: {} {} {} ({} fields)",
                h.version,
                h.status,
                h.reason,
                h.headers.len()
            ),
            length: framing::response_body_length(&method, &h),
            used,
            method: None,
            status: Some((h.status, method)),
        }
    }

    /// Counts a response with status `code` to `method`; true when it turned the connection
    /// into a tunnel (a 2xx to CONNECT, or 101), after which nothing more is decoded.
    fn answered(&mut self, code: u16, method: &str, out: &mut Vec<Line>) -> bool {
        // 1xx responses are interim: the final one still answers the same request.
        if code >= 200 || code == 101 {
            self.sides[Side::Server.index()].messages += 1;
            self.pending.pop_front();
        }
        if !((method == "CONNECT" && (200..300).contains(&code)) || code == 101) {
            return false;
        }
        out.push(event(
            "the connection is now a tunnel: bytes are relayed undecoded".into(),
        ));
        for side in &mut self.sides {
            side.body = Body::Opaque {
                why: "tunnel",
                seen: 0,
            };
            side.buf.clear();
        }
        true
    }

    /// Consumes body bytes; returns true when the body ended and a head may follow.
    fn body(&mut self, from: Side, out: &mut Vec<Line>) -> bool {
        let d = &mut self.sides[from.index()];
        let ended = match &mut d.body {
            Body::Head => return true,
            Body::Fixed { left, total, start } => fixed_body(&mut d.buf, left, *total, start),
            Body::Chunked(decoder) => match chunked_body(&mut d.buf, decoder) {
                Ok(ended) => ended,
                Err(e) => {
                    out.push(event(format!(
                        "bad chunked body: {e}; the rest is relayed undecoded"
                    )));
                    d.body = Body::Opaque {
                        why: "bad chunked body",
                        seen: 0,
                    };
                    return false;
                }
            },
            Body::UntilClose { seen } | Body::Opaque { seen, .. } => {
                *seen += d.buf.len() as u64;
                d.buf.clear();
                None
            }
        };
        match ended {
            Some(text) => {
                out.push(line(from, text));
                d.body = Body::Head;
                true
            }
            None => false,
        }
    }
}

/// Request `n`, as the trace describes it.
fn request_head(n: u32, h: RequestHead, used: usize) -> Head {
    Head {
        text: format!(
            "request {n}: {} {} {} ({} fields, Host: {})",
            h.method,
            h.target,
            h.version,
            h.headers.len(),
            h.headers.get("host").unwrap_or("-")
        ),
        length: framing::request_body_length(&h),
        used,
        method: Some(h.method),
        status: None,
    }
}

/// Takes what `buf` holds of a Content-Length body; the trace line once it is complete.
fn fixed_body(
    buf: &mut Vec<u8>,
    left: &mut u64,
    total: u64,
    start: &mut Vec<u8>,
) -> Option<String> {
    let take = (*left).min(buf.len() as u64) as usize;
    let keep = take.min(PREVIEW.saturating_sub(start.len()));
    start.extend_from_slice(&buf[..keep]);
    buf.drain(..take);
    *left -= take as u64;
    if *left > 0 {
        return None;
    }
    let shown = trace::preview(start, PREVIEW);
    Some(format!("body complete: {total} bytes: \"{shown}\""))
}

/// Decodes what `buf` holds of a chunked body; the trace line once it is complete.
fn chunked_body(
    buf: &mut Vec<u8>,
    decoder: &mut ChunkedDecoder,
) -> Result<Option<String>, super::chunked::ChunkError> {
    let mut data = Vec::new();
    let used = decoder.decode(buf, &mut data)?;
    buf.drain(..used);
    if !decoder.is_done() {
        return Ok(None);
    }
    Ok(Some(format!(
        "chunked body complete: chunk sizes {}, {} trailer field(s)",
        decoder.describe_sizes(),
        decoder.trailers().len()
    )))
}

impl Decoder for Http1Decoder {
    fn layer(&self) -> Layer {
        Layer::Http1
    }

    fn feed(&mut self, from: Side, bytes: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        self.sides[from.index()].buf.extend_from_slice(bytes);
        // Alternate: finish the body in progress, then try the next head, until stuck.
        loop {
            if !self.body(from, &mut out) {
                break;
            }
            if self.sides[from.index()].buf.is_empty() || !self.head(from, &mut out) {
                break;
            }
        }
        out
    }

    fn end(&mut self, from: Side) -> Vec<Line> {
        let d = &mut self.sides[from.index()];
        let text = match &d.body {
            Body::Head if d.buf.is_empty() => format!("closed after {} message(s)", d.messages),
            Body::Head => format!(
                "closed in the middle of a head ({} bytes unparsed)",
                d.buf.len()
            ),
            Body::Fixed { left, total, .. } => {
                format!("closed with {left} of {total} body bytes missing")
            }
            Body::Chunked(_) => "closed in the middle of a chunked body".into(),
            Body::UntilClose { seen } => format!("closed: that ends the body ({seen} bytes)"),
            Body::Opaque { why, seen } => format!("closed ({why}; {seen} bytes relayed undecoded)"),
        };
        vec![event(format!("the {} {text}", role(from)))]
    }
}

/// The role of a side, as a trace line names it.
fn role(side: Side) -> &'static str {
    match side {
        Side::Client => "client",
        Side::Server => "server",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: Vec<Line>) -> Vec<String> {
        lines.into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn request_response_in_pieces_and_pipelined() {
        let mut d = new();
        let req = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloHEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut got = Vec::new();
        for b in req.chunks(3) {
            got.extend(texts(d.feed(Side::Client, b)));
        }
        assert_eq!(
            got[0],
            "request 1: POST /echo HTTP/1.1 (2 fields, Host: a); body: Content-Length 5"
        );
        assert_eq!(got[1], "body complete: 5 bytes: \"hello\"");
        assert_eq!(
            got[2],
            "request 2: HEAD / HTTP/1.1 (1 fields, Host: a); no body"
        );
        // The response to HEAD announces a length but carries no body.
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        let got = texts(d.feed(Side::Server, resp));
        assert_eq!(
            got[0],
            "response 1 to POST: HTTP/1.1 200 OK (1 fields); body: Content-Length 5"
        );
        assert_eq!(
            got[2],
            "response 2 to HEAD: HTTP/1.1 200 OK (1 fields); no body"
        );
        assert_eq!(
            texts(d.end(Side::Server)),
            ["the server closed after 2 message(s)"]
        );
    }

    #[test]
    fn chunked_interim_and_connect() {
        let mut d = new();
        d.feed(Side::Client, b"PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n");
        let got = texts(d.feed(Side::Server, b"HTTP/1.1 100 Continue\r\n\r\n"));
        assert_eq!(
            got,
            ["response 1 to PUT: HTTP/1.1 100 Continue (0 fields); no body"]
        );
        let got = texts(d.feed(Side::Client, b"3\r\nabc\r\n0\r\n\r\n"));
        assert_eq!(
            got,
            ["chunked body complete: chunk sizes [3, 0], 0 trailer field(s)"]
        );
        let got = texts(d.feed(Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n"));
        assert_eq!(
            got,
            ["response 1 to PUT: HTTP/1.1 204 No Content (0 fields); no body"]
        );
        d.feed(
            Side::Client,
            b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        );
        let got = texts(d.feed(
            Side::Server,
            b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01",
        ));
        assert_eq!(
            got[1],
            "the connection is now a tunnel: bytes are relayed undecoded"
        );
        assert!(
            d.feed(Side::Client, b"\x16\x03\x01\x00\x05hello")
                .is_empty()
        );
    }

    #[test]
    fn garbage_and_smuggling_are_reported_not_fatal() {
        let mut d = new();
        let got = texts(d.feed(Side::Client, b"\x16\x03\x01\x02\x00\r\n\r\n"));
        assert!(got[0].contains("not HTTP/1.1"), "{got:?}");
        assert!(d.feed(Side::Client, b"more").is_empty());
        let mut d = new();
        let got = texts(d.feed(Side::Client, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"));
        assert!(got[0].contains("framing refused"), "{got:?}");
    }
}
