//! The HTTP/1.1 message head as a value, and `emit`, the one writer of heads (RFC 9112 §2.1,
//! §3, §4, §5): the server's responses, its 503, its 100 Continue, the client's requests,
//! the CONNECT of a client and the proxy's answer to it all go through [`emit_request`] or
//! [`emit_response`]. The reverse, `parse`, is [`super::parse`]; the two are each other's
//! inverse on every head the tests try.
//!
//! ```text
//! HTTP-message = start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
//! start-line   = request-line / status-line
//! ```

use crate::http::message::{Headers, Request, Response, Version};
use crate::trace::{self, Dir, Layer};

/// A parsed request line and its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub headers: Headers,
}

/// A parsed status line and its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

impl RequestHead {
    /// The request a handler sees: this head, with the body read as the framing said.
    pub fn into_request(self, body: Vec<u8>, trailers: Headers) -> Request {
        Request {
            method: self.method,
            target: self.target,
            version: self.version,
            headers: self.headers,
            body,
            trailers,
            peer: None,
        }
    }
}

impl ResponseHead {
    /// The response a client returns: this head and the body.
    pub fn into_response(self, body: Vec<u8>) -> Response {
        Response {
            status: self.status,
            reason: self.reason,
            headers: self.headers,
            body,
            file: None,
        }
    }
}

/// request-line = method SP request-target SP HTTP-version, then the fields and the empty
/// line (RFC 9112 §3).
pub fn emit_request(
    method: &str,
    target: &str,
    version: Version,
    headers: &Headers,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.push(b' ');
    emit_version(version, out);
    out.extend_from_slice(b"\r\n");
    emit_fields(headers, out);
    out.extend_from_slice(b"\r\n");
}

/// status-line = HTTP-version SP status-code SP [ reason-phrase ], then the fields and the
/// empty line (RFC 9112 §4). The SP after the code is sent even with no reason phrase.
pub fn emit_response(
    version: Version,
    status: u16,
    reason: &str,
    headers: &Headers,
    out: &mut Vec<u8>,
) {
    emit_status_line(version, status, reason, out);
    emit_fields(headers, out);
    out.extend_from_slice(b"\r\n");
}

/// status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF, alone: a server that
/// adds fields of its own (Date, Content-Length) writes them with [`emit_field`] after the
/// handler's, then the empty line.
pub fn emit_status_line(version: Version, status: u16, reason: &str, out: &mut Vec<u8>) {
    emit_version(version, out);
    out.push(b' ');
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// One field-line (ASCII name and value).
pub fn emit_field(name: &str, value: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// HTTP-version = HTTP-name "/" DIGIT "." DIGIT (RFC 9112 §2.3).
fn emit_version(v: Version, out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/");
    out.push(b'0' + v.major % 10);
    out.push(b'.');
    out.push(b'0' + v.minor % 10);
}

/// field-line = field-name ":" OWS field-value OWS, one per field, each ending in CRLF
/// (RFC 9112 §5). Values are Latin-1, as the parser decoded them, so they go back byte for
/// byte.
pub fn emit_fields(headers: &Headers, out: &mut Vec<u8>) {
    for (n, v) in headers.iter() {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend(crate::http::fields::latin1_bytes(v));
        out.extend_from_slice(b"\r\n");
    }
}

/// Traces a head as it crossed the wire, one line per line: `→` for a head this program
/// sent, `←` for one it received.
pub fn trace(dir: Dir, bytes: &[u8], what: &str) {
    if !trace::is_on(Layer::Http1) {
        return;
    }
    trace::step(Layer::Http1, dir, || {
        format!("{what}, {} bytes:", bytes.len())
    });
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        trace::step(Layer::Http1, dir, || {
            format!("  {}", trace::preview(line, 200))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::parse::{Limits, Status, parse_request, parse_response};

    #[test]
    fn emit_and_parse_are_inverse() {
        let mut h = Headers::new();
        h.append("Host", "example.com");
        h.append("X-Obs", "caf\u{e9}");
        let mut out = Vec::new();
        emit_request("PUT", "/a?b=1", Version::HTTP_11, &h, &mut out);
        assert_eq!(
            out,
            b"PUT /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-Obs: caf\xe9\r\n\r\n"
        );
        let Ok(Status::Complete((head, n))) = parse_request(&out, &Limits::default()) else {
            panic!("{out:?}")
        };
        assert_eq!(n, out.len());
        assert_eq!(
            (head.method.as_str(), head.target.as_str()),
            ("PUT", "/a?b=1")
        );
        assert_eq!(head.headers, h);

        let mut out = Vec::new();
        emit_response(Version::HTTP_11, 412, "Precondition Failed", &h, &mut out);
        let Ok(Status::Complete((head, _))) = parse_response(&out, &Limits::default()) else {
            panic!("{out:?}")
        };
        assert_eq!(
            (head.status, head.reason.as_str()),
            (412, "Precondition Failed")
        );
        assert_eq!(head.headers, h);
    }

    #[test]
    fn a_status_line_without_a_reason_keeps_its_space() {
        let mut out = Vec::new();
        emit_response(Version::HTTP_11, 299, "", &Headers::new(), &mut out);
        assert_eq!(out, b"HTTP/1.1 299 \r\n\r\n");
        let mut out = Vec::new();
        emit_response(Version::HTTP_10, 100, "Continue", &Headers::new(), &mut out);
        assert_eq!(out, b"HTTP/1.0 100 Continue\r\n\r\n");
    }

    #[test]
    fn a_head_becomes_the_request_a_handler_sees() {
        let Ok(Status::Complete((head, _))) =
            parse_request(b"POST /x HTTP/1.0\r\nA: 1\r\n\r\n", &Limits::default())
        else {
            panic!()
        };
        let mut trailers = Headers::new();
        trailers.append("T", "2");
        let req = head.into_request(b"body".to_vec(), trailers.clone());
        assert_eq!(
            (req.method.as_str(), req.target.as_str(), req.version),
            ("POST", "/x", Version::HTTP_10)
        );
        assert_eq!(
            (req.body.as_slice(), &req.trailers),
            (&b"body"[..], &trailers)
        );
        assert_eq!(req.headers.get("a"), Some("1"));
    }
}
