//! HTTP messages as values: version, fields, request, response (RFC 9110 §6). How long a
//! body is on the wire is decided in [`super::framing`].
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::parse::{Limits, Status, parse_request};

    fn head(bytes: &str) -> RequestHead {
        match parse_request(bytes.as_bytes(), &Limits::default()) {
            Ok(Status::Complete((h, _))) => h,
            other => panic!("{other:?}"),
        }
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
