//! HTTP messages as values: version, fields, request, response (RFC 9110 §6), and the rules
//! that decide how long a body is (RFC 9112 §6.3) — the rules request smuggling attacks.
//!
//! The same [`Request`] and [`Response`] serve HTTP/1.1 here and, later, HTTP/2 and HTTP/3:
//! a handler never sees how a message was framed.

use super::parse::{RequestHead, ResponseHead};
use std::fmt;

/// HTTP-version (RFC 9112 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub const HTTP_10: Version = Version { major: 1, minor: 0 };
    pub const HTTP_11: Version = Version { major: 1, minor: 1 };
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/{}.{}", self.major, self.minor)
    }
}

/// Header fields in the order received. Names compare case-insensitively (RFC 9110 §5.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, String)>,
}

impl Headers {
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Adds a field line (a name may repeat).
    pub fn append(&mut self, name: &str, value: &str) {
        self.fields.push((name.to_string(), value.to_string()));
    }

    /// Replaces every field of that name with one.
    pub fn set(&mut self, name: &str, value: &str) {
        self.remove(name);
        self.append(name, value);
    }

    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of that name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of that name, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The comma-separated list elements of every field of that name (RFC 9110 §5.6.1),
    /// lower-cased: `Connection: keep-alive, Upgrade` → ["keep-alive", "upgrade"].
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Does a list field contain this token (case-insensitive)?
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name)
            .iter()
            .any(|t| t.eq_ignore_ascii_case(token))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Field lines as sent on the wire: `Name: value\r\n` each. Values are Latin-1, as the
    /// parser decoded them, so they go back byte for byte.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for (n, v) in &self.fields {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend(v.chars().map(|c| c as u32 as u8));
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// A request as a handler sees it: the body is complete and already de-chunked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body (RFC 9112 §7.1.2).
    pub trailers: Headers,
}

impl Request {
    /// A request with no body, for clients and tests.
    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            version: Version::HTTP_11,
            headers: Headers::new(),
            body: Vec::new(),
            trailers: Headers::new(),
        }
    }

    pub fn from_head(head: RequestHead, body: Vec<u8>, trailers: Headers) -> Request {
        Request {
            method: head.method,
            target: head.target,
            version: head.version,
            headers: head.headers,
            body,
            trailers,
        }
    }

    /// The path of an origin-form target, without the query: `/a/b?x=1` → `/a/b`.
    pub fn path(&self) -> &str {
        let t = self.target.as_str();
        let t = t.split(['?', '#']).next().unwrap_or(t);
        // absolute-form (to a proxy, or allowed by RFC 9112 §3.2.2 to any server).
        match t.split_once("://") {
            Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
            None => t,
        }
    }

    /// The query string, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.target
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or(q))
    }

    /// The media type of the body, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.headers.get("content-type").map(super::media::essence)
    }

    /// Should the connection stay open after this exchange? (RFC 9112 §9.3)
    pub fn keep_alive(&self) -> bool {
        if self.headers.has_token("connection", "close") {
            return false;
        }
        self.version >= Version::HTTP_11 || self.headers.has_token("connection", "keep-alive")
    }
}

/// A response a handler returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Response {
    /// A response with the standard reason phrase and no body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            reason: reason(status).to_string(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A response with a body of the given media type.
    pub fn with_body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        let mut r = Response::new(status);
        r.headers.set("Content-Type", content_type);
        r.body = body.into();
        r
    }

    /// `text/plain` with a trailing newline: what errors answer with.
    pub fn text(status: u16, text: &str) -> Response {
        Response::with_body(status, "text/plain; charset=utf-8", format!("{text}\n"))
    }

    /// Adds a header and returns the response (for building in one expression).
    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.append(name, value);
        self
    }

    pub fn from_head(head: ResponseHead, body: Vec<u8>) -> Response {
        Response {
            status: head.status,
            reason: head.reason,
            headers: head.headers,
            body,
        }
    }
}

/// The reason phrases of RFC 9110 §15 (and 6585 for 428–431).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// How the body of a message is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// No body at all.
    None,
    /// Exactly this many bytes (Content-Length).
    Fixed(u64),
    /// The chunked transfer coding (§7.1).
    Chunked,
    /// Everything until the server closes (responses only).
    UntilClose,
}

/// A message whose length cannot be trusted. Each is a request smuggling vector: two
/// parties that resolve it differently see different messages in the same bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FramingError {
    /// Content-Length and Transfer-Encoding both present (RFC 9112 §6.3 rule 3).
    LengthAndChunked,
    /// Several Content-Length values that differ (RFC 9112 §6.3 rule 5).
    ConflictingLengths,
    /// Content-Length = 1*DIGIT, nothing else (RFC 9110 §8.6).
    BadContentLength,
    /// In a request, chunked must be the final transfer coding (RFC 9112 §6.3 rule 4).
    ChunkedNotFinal,
    /// chunked applied twice (RFC 9112 §6.1).
    ChunkedTwice,
    /// A transfer coding this server does not implement → 501 (RFC 9112 §6.1).
    UnknownCoding(String),
    /// Transfer-Encoding in an HTTP/1.0 message: the framing is faulty (RFC 9112 §6.1).
    TransferEncodingInHttp10,
}

impl FramingError {
    pub fn status(&self) -> u16 {
        match self {
            FramingError::UnknownCoding(_) => 501,
            _ => 400,
        }
    }
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::LengthAndChunked => f.write_str(
                "both Content-Length and Transfer-Encoding: the length is ambiguous (RFC 9112 §6.3)",
            ),
            FramingError::ConflictingLengths => {
                f.write_str("differing Content-Length values (RFC 9112 §6.3)")
            }
            FramingError::BadContentLength => {
                f.write_str("Content-Length is not a decimal number (RFC 9110 §8.6)")
            }
            FramingError::ChunkedNotFinal => f.write_str(
                "chunked is not the final transfer coding of a request (RFC 9112 §6.3)",
            ),
            FramingError::ChunkedTwice => {
                f.write_str("chunked applied more than once (RFC 9112 §6.1)")
            }
            FramingError::UnknownCoding(c) => {
                write!(f, "transfer coding '{c}' is not implemented (RFC 9112 §6.1)")
            }
            FramingError::TransferEncodingInHttp10 => f.write_str(
                "Transfer-Encoding in an HTTP/1.0 message: faulty framing (RFC 9112 §6.1)",
            ),
        }
    }
}

impl std::error::Error for FramingError {}

/// Content-Length, checked: "1*DIGIT"; a list of identical values counts as one
/// (RFC 9110 §8.6), differing values are an error.
fn content_length(headers: &Headers) -> Result<Option<u64>, FramingError> {
    let mut found: Option<u64> = None;
    for value in headers.get_all("content-length") {
        for part in value.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FramingError::BadContentLength);
            }
            let n: u64 = part.parse().map_err(|_| FramingError::BadContentLength)?;
            match found {
                Some(prev) if prev != n => return Err(FramingError::ConflictingLengths),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// Transfer-Encoding, checked: returns whether chunked is the final coding.
fn transfer_codings(headers: &Headers, request: bool) -> Result<Option<bool>, FramingError> {
    if !headers.contains("transfer-encoding") {
        return Ok(None);
    }
    let codings = headers.list("transfer-encoding");
    let chunked = codings.iter().filter(|c| *c == "chunked").count();
    if chunked > 1 {
        return Err(FramingError::ChunkedTwice);
    }
    let last_is_chunked = codings.last().is_some_and(|c| c == "chunked");
    if request {
        // This server decodes no compression codings: anything but chunked is unknown.
        if let Some(other) = codings.iter().find(|c| *c != "chunked") {
            return Err(FramingError::UnknownCoding(other.clone()));
        }
        if !last_is_chunked {
            return Err(FramingError::ChunkedNotFinal);
        }
    }
    Ok(Some(last_is_chunked))
}

/// The length of a request body (RFC 9112 §6.3 rules 3–6).
pub fn request_body_length(head: &RequestHead) -> Result<BodyLength, FramingError> {
    let te = transfer_codings(&head.headers, true)?;
    let cl = content_length(&head.headers)?;
    if te.is_some() && head.version < Version::HTTP_11 {
        return Err(FramingError::TransferEncodingInHttp10);
    }
    match (te, cl) {
        // "ought to be handled as an error": we reject rather than guess.
        (Some(_), Some(_)) => Err(FramingError::LengthAndChunked),
        (Some(_), None) => Ok(BodyLength::Chunked),
        (None, Some(0)) | (None, None) => Ok(BodyLength::None),
        (None, Some(n)) => Ok(BodyLength::Fixed(n)),
    }
}

/// The length of a response body, which also depends on the request (RFC 9112 §6.3 rules
/// 1–7).
pub fn response_body_length(
    request_method: &str,
    head: &ResponseHead,
) -> Result<BodyLength, FramingError> {
    // Rule 1: HEAD responses, 1xx, 204 and 304 never have a body.
    if request_method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(BodyLength::None);
    }
    // Rule 2: a 2xx to CONNECT turns the connection into a tunnel.
    if request_method == "CONNECT" && (200..300).contains(&head.status) {
        return Ok(BodyLength::None);
    }
    let te = transfer_codings(&head.headers, false)?;
    let cl = content_length(&head.headers)?;
    match (te, cl) {
        // Rule 3: Transfer-Encoding overrides Content-Length in a response.
        (Some(true), _) => Ok(BodyLength::Chunked),
        (Some(false), _) => Ok(BodyLength::UntilClose),
        (None, Some(n)) => Ok(BodyLength::Fixed(n)),
        (None, None) => Ok(BodyLength::UntilClose),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::parse::{Limits, Status, parse_request, parse_response};

    fn head(bytes: &str) -> RequestHead {
        match parse_request(bytes.as_bytes(), &Limits::default()) {
            Ok(Status::Complete((h, _))) => h,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn request_framing_and_smuggling_cases() {
        let cases: &[(&str, Result<BodyLength, FramingError>)] = &[
            ("GET / HTTP/1.1\r\n\r\n", Ok(BodyLength::None)),
            (
                "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
                Ok(BodyLength::Fixed(5)),
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
                Ok(BodyLength::Fixed(5)),
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                Ok(BodyLength::Fixed(5)),
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Ok(BodyLength::Chunked),
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n",
                Ok(BodyLength::Chunked),
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(FramingError::LengthAndChunked),
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                Err(FramingError::ConflictingLengths),
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
                Err(FramingError::ConflictingLengths),
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
                Err(FramingError::BadContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n",
                Err(FramingError::BadContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
                Err(FramingError::BadContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                Err(FramingError::BadContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                Err(FramingError::ChunkedTwice),
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                Err(FramingError::UnknownCoding("gzip".into())),
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
                Err(FramingError::UnknownCoding("identity".into())),
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
                Err(FramingError::UnknownCoding("xchunked".into())),
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
                Err(FramingError::ChunkedNotFinal),
            ),
            (
                "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(FramingError::TransferEncodingInHttp10),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&request_body_length(&head(text)), want, "{text:?}");
        }
    }

    #[test]
    fn response_framing_depends_on_the_request() {
        let resp = |s: &str| match parse_response(s.as_bytes(), &Limits::default()) {
            Ok(Status::Complete((h, _))) => h,
            other => panic!("{other:?}"),
        };
        let ok_len = resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(
            response_body_length("GET", &ok_len),
            Ok(BodyLength::Fixed(10))
        );
        assert_eq!(response_body_length("HEAD", &ok_len), Ok(BodyLength::None));
        assert_eq!(
            response_body_length("CONNECT", &resp("HTTP/1.1 200 OK\r\n\r\n")),
            Ok(BodyLength::None)
        );
        assert_eq!(
            response_body_length(
                "GET",
                &resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")
            ),
            Ok(BodyLength::None)
        );
        assert_eq!(
            response_body_length("GET", &resp("HTTP/1.1 200 OK\r\n\r\n")),
            Ok(BodyLength::UntilClose)
        );
        assert_eq!(
            response_body_length(
                "GET",
                &resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
            ),
            Ok(BodyLength::Chunked)
        );
        assert_eq!(
            response_body_length(
                "GET",
                &resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")
            ),
            Ok(BodyLength::UntilClose)
        );
    }

    #[test]
    fn headers_are_case_insensitive_lists() {
        let h =
            head("GET / HTTP/1.1\r\nConnection: Keep-Alive, Upgrade\r\nconnection: close\r\n\r\n");
        assert_eq!(
            h.headers.list("CONNECTION"),
            ["keep-alive", "upgrade", "close"]
        );
        assert!(h.headers.has_token("connection", "CLOSE"));
        let r = Request::from_head(h, vec![], Headers::new());
        assert!(!r.keep_alive());
        let r10 = Request::from_head(head("GET / HTTP/1.0\r\n\r\n"), vec![], Headers::new());
        assert!(!r10.keep_alive());
        let r10ka = Request::from_head(
            head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
            vec![],
            Headers::new(),
        );
        assert!(r10ka.keep_alive());
    }

    #[test]
    fn paths_and_queries() {
        let mut r = Request::new("GET", "/a/b?x=1#frag");
        assert_eq!((r.path(), r.query()), ("/a/b", Some("x=1")));
        r.target = "http://example.com:8080/p?q".into();
        assert_eq!(r.path(), "/p");
        r.target = "http://example.com".into();
        assert_eq!(r.path(), "/");
    }

    #[test]
    fn latin1_values_go_back_byte_for_byte() {
        let h = head(
            "GET / HTTP/1.1\r\nX: caf\u{e9}\r\n\r\n"
                .replace('\u{e9}', "")
                .as_str(),
        );
        let mut out = Vec::new();
        h.headers.write_to(&mut out);
        assert_eq!(out, b"X: caf\r\n");
        let mut hs = Headers::new();
        hs.append("X", "caf\u{e9}");
        let mut out = Vec::new();
        hs.write_to(&mut out);
        assert_eq!(out, b"X: caf\xe9\r\n");
    }
}
