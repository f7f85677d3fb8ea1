//! `netlab tap --proto http1`: what HTTP/1.1 looks like between two programs we did not
//! write (curl and nginx, a browser and a server), decoded with netlab's own parser.
//!
//! Sans-IO: the relay feeds the bytes each side sent; the decoder finds message boundaries
//! with the same rules a server uses (RFC 9112 §6.3) — which is the point: a response's
//! length depends on the request it answers (HEAD, 304, CONNECT), so one decoder sees both
//! directions and keeps the methods of the requests still waiting for an answer.

use super::chunked::ChunkedDecoder;
use super::framing::{self, BodyLength};
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

impl Http1Decoder {
    /// Parses one head from `from`'s buffer, if a whole one is there.
    fn head(&mut self, from: Side, out: &mut Vec<Line>) -> bool {
        let limits = self.limits;
        let d = &mut self.sides[from.index()];
        let n = d.messages + 1;
        let parsed = match from {
            Side::Client => parse::parse_request(&d.buf, &limits).map(|s| match s {
                Status::Complete((h, used)) => {
                    let length = framing::request_body_length(&h);
                    let text = format!(
                        "request {n}: {} {} {} ({} fields, Host: {})",
                        h.method,
                        h.target,
                        h.version,
                        h.headers.len(),
                        h.headers.get("host").unwrap_or("-")
                    );
                    Some((text, length, used, Some(h.method), None))
                }
                Status::Partial => None,
            }),
            Side::Server => parse::parse_response(&d.buf, &limits).map(|s| match s {
                Status::Complete((h, used)) => {
                    let method = self
                        .pending
                        .front()
                        .cloned()
                        .unwrap_or_else(|| "GET".into());
                    let length = framing::response_body_length(&method, &h);
                    let text = format!(
                        "response {n} to {method}: {} {} {} ({} fields)",
                        h.version,
                        h.status,
                        h.reason,
                        h.headers.len()
                    );
                    Some((text, length, used, None, Some((h.status, method))))
                }
                Status::Partial => None,
            }),
        };
        let (text, length, used, method, status) = match parsed {
            Ok(Some(p)) => p,
            Ok(None) => return false,
            Err(e) => {
                out.push(event(format!(
                    "the {} sent bytes that are not HTTP/1.1: {e}; the rest is relayed undecoded",
                    role(from)
                )));
                d.body = Body::Opaque {
                    why: "not HTTP/1.1",
                    seen: d.buf.len() as u64,
                };
                d.buf.clear();
                return false;
            }
        };
        d.buf.drain(..used);
        let length = match length {
            Ok(l) => l,
            Err(e) => {
                out.push(line(from, format!("{text}; framing refused: {e}")));
                d.body = Body::Opaque {
                    why: "ambiguous framing",
                    seen: 0,
                };
                return false;
            }
        };
        out.push(line(from, format!("{text}; {}", describe(length))));
        if let Some(m) = method {
            self.pending.push_back(m);
        }
        let d = &mut self.sides[from.index()];
        if let Some((code, method)) = status {
            // 1xx responses are interim: the final one still answers the same request.
            if code >= 200 || code == 101 {
                d.messages += 1;
                self.pending.pop_front();
            }
            if (method == "CONNECT" && (200..300).contains(&code)) || code == 101 {
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
                return false;
            }
        } else {
            d.messages += 1;
        }
        d.body = match length {
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

    /// Consumes body bytes; returns true when the body ended and a head may follow.
    fn body(&mut self, from: Side, out: &mut Vec<Line>) -> bool {
        let d = &mut self.sides[from.index()];
        match &mut d.body {
            Body::Head => true,
            Body::Fixed { left, total, start } => {
                let take = (*left).min(d.buf.len() as u64) as usize;
                let keep = take.min(PREVIEW.saturating_sub(start.len()));
                start.extend_from_slice(&d.buf[..keep]);
                d.buf.drain(..take);
                *left -= take as u64;
                if *left == 0 {
                    let shown = trace::preview(start, PREVIEW);
                    out.push(line(
                        from,
                        format!("body complete: {total} bytes: \"{shown}\""),
                    ));
                    d.body = Body::Head;
                    return true;
                }
                false
            }
            Body::Chunked(decoder) => {
                let mut data = Vec::new();
                match decoder.decode(&d.buf, &mut data) {
                    Ok(used) => {
                        d.buf.drain(..used);
                        if decoder.is_done() {
                            out.push(line(
                                from,
                                format!(
                                    "chunked body complete: chunk sizes {}, {} trailer field(s)",
                                    decoder.describe_sizes(),
                                    decoder.trailers().len()
                                ),
                            ));
                            d.body = Body::Head;
                            return true;
                        }
                        false
                    }
                    Err(e) => {
                        out.push(event(format!(
                            "bad chunked body: {e}; the rest is relayed undecoded"
                        )));
                        d.body = Body::Opaque {
                            why: "bad chunked body",
                            seen: 0,
                        };
                        false
                    }
                }
            }
            Body::UntilClose { seen } | Body::Opaque { seen, .. } => {
                *seen += d.buf.len() as u64;
                d.buf.clear();
                false
            }
        }
    }
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
