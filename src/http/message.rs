//! HTTP messages as values (RFC 9110 §6): the version, a request, a response. These are
//! the semantics every version shares; how a message is framed on the wire is the
//! version's business (`http1::framing` and `http1::chunked`, and HTTP/2 and HTTP/3 frames).
//!
//! A handler gets a complete [`Request`] (the body already read and de-chunked) and returns
//! a [`Response`]; it never learns which version carried them, except by reading
//! `req.version`.

pub use super::fields::Headers;
use std::fmt;

/// The version a message came in: HTTP/1.0 and HTTP/1.1 (RFC 9112 §2.3), HTTP/2 (RFC 9113)
/// and HTTP/3 (RFC 9114), which carry no version on the wire but in the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub const HTTP_10: Version = Version { major: 1, minor: 0 };
    pub const HTTP_11: Version = Version { major: 1, minor: 1 };
    pub const HTTP_2: Version = Version { major: 2, minor: 0 };
    pub const HTTP_3: Version = Version { major: 3, minor: 0 };
}

impl fmt::Display for Version {
    /// `HTTP/1.1` as in the request line; `HTTP/2` and `HTTP/3` as their RFCs name them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.major >= 2 {
            write!(f, "HTTP/{}", self.major)
        } else {
            write!(f, "HTTP/{}.{}", self.major, self.minor)
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
    /// Trailer fields (RFC 9110 §6.5): after the last chunk in HTTP/1.1 (RFC 9112 §7.1.2),
    /// in a last HEADERS frame in HTTP/2 and HTTP/3.
    pub trailers: Headers,
    /// The address the request came from, when a server received it (`None` in a request a
    /// client or a test builds): what a handler needs to give each source its share.
    pub peer: Option<std::net::SocketAddr>,
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
            peer: None,
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
            reason: super::status::reason(status).to_string(),
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn versions_print_as_their_rfcs_spell_them() {
        assert_eq!(Version::HTTP_10.to_string(), "HTTP/1.0");
        assert_eq!(Version::HTTP_11.to_string(), "HTTP/1.1");
        assert_eq!(Version::HTTP_2.to_string(), "HTTP/2");
        assert_eq!(Version::HTTP_3.to_string(), "HTTP/3");
    }

    #[test]
    fn responses_carry_the_registered_reason() {
        assert_eq!(Response::new(412).reason, "Precondition Failed");
        let r = Response::text(404, "none");
        assert_eq!(r.body, b"none\n");
        assert_eq!(
            r.headers.get("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }
}
