//! HTTP/3 messages (RFC 9114 §4): a request's fields as QPACK delivered them (RFC 9204)
//! become the same [`Request`] HTTP/1.1 and HTTP/2 hand to a handler, and a [`Response`]
//! becomes the field list HTTP/3 sends. Like HTTP/2, HTTP/3 carries the request line as
//! pseudo-header fields (`:method`, `:scheme`, `:authority`, `:path`) and forbids the
//! connection-specific fields of HTTP/1.1 (RFC 9114 §4.2).
//!
//! Wire-to-semantics code only: no socket, no state.

use crate::http::fields::{CONNECTION_SPECIFIC, Headers, latin1};
use crate::http::message::{Request, Response, Version};
use quiche::h3::{Header, NameValue};
use std::fmt;

/// A field section that is not a valid request: "malformed", which RFC 9114 §4.1.2 says a
/// server treats as a stream error of type H3_MESSAGE_ERROR; this server first answers 400
/// with the reason (the RFC allows a response before the reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// "All pseudo-header fields MUST appear in the header section before regular header
    /// fields" (RFC 9114 §4.3).
    PseudoAfterRegular(String),
    /// Pseudo-header fields other than those defined for requests (RFC 9114 §4.3.1).
    UnknownPseudo(String),
    /// A pseudo-header field given twice.
    Repeated(&'static str),
    /// ":method", ":scheme" and ":path" MUST be present, except for CONNECT (RFC 9114 §4.3.1).
    Missing(&'static str),
    /// "Characters in field names MUST be converted to lowercase" (RFC 9114 §4.2).
    Uppercase(String),
    /// Connection-specific fields MUST NOT appear (RFC 9114 §4.2).
    ConnectionSpecific(String),
    /// "TE ... MUST NOT contain any value other than trailers" (RFC 9114 §4.2).
    TeNotTrailers,
    /// ":path" MUST NOT be empty for http and https URIs (RFC 9114 §4.3.1).
    EmptyPath,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::PseudoAfterRegular(n) => {
                write!(f, "pseudo-header {n} after a regular field (RFC 9114 §4.3)")
            }
            Malformed::UnknownPseudo(n) => {
                write!(f, "{n} is not a request pseudo-header (RFC 9114 §4.3.1)")
            }
            Malformed::Repeated(n) => write!(f, "{n} given twice (RFC 9114 §4.3.1)"),
            Malformed::Missing(n) => write!(f, "{n} is missing (RFC 9114 §4.3.1)"),
            Malformed::Uppercase(n) => {
                write!(f, "field name {n} has uppercase letters (RFC 9114 §4.2)")
            }
            Malformed::ConnectionSpecific(n) => {
                write!(
                    f,
                    "{n} is connection-specific, not allowed in HTTP/3 (RFC 9114 §4.2)"
                )
            }
            Malformed::TeNotTrailers => write!(f, "TE other than \"trailers\" (RFC 9114 §4.2)"),
            Malformed::EmptyPath => write!(f, ":path is empty (RFC 9114 §4.3.1)"),
        }
    }
}

impl std::error::Error for Malformed {}

/// The request a handler sees: `version = HTTP/3`, `:authority` as `Host`.
pub fn request(fields: &[Header]) -> Result<Request, Malformed> {
    let (mut method, mut scheme, mut authority, mut path) = (None, None, None, None);
    let mut headers = Headers::with_capacity(fields.len());
    let mut regular_seen = false;
    for f in fields {
        let (name, value) = (f.name(), f.value());
        if let Some(pseudo) = name.strip_prefix(b":") {
            if regular_seen {
                return Err(Malformed::PseudoAfterRegular(latin1(name)));
            }
            let (slot, what) = match pseudo {
                b"method" => (&mut method, ":method"),
                b"scheme" => (&mut scheme, ":scheme"),
                b"authority" => (&mut authority, ":authority"),
                b"path" => (&mut path, ":path"),
                _ => return Err(Malformed::UnknownPseudo(latin1(name))),
            };
            if slot.is_some() {
                return Err(Malformed::Repeated(what));
            }
            *slot = Some(latin1(value));
            continue;
        }
        regular_seen = true;
        if name.iter().any(|c| c.is_ascii_uppercase()) {
            return Err(Malformed::Uppercase(latin1(name)));
        }
        let lower = latin1(name);
        if lower == "te" {
            if !value.eq_ignore_ascii_case(b"trailers") {
                return Err(Malformed::TeNotTrailers);
            }
        } else if CONNECTION_SPECIFIC.contains(&lower.as_str()) {
            return Err(Malformed::ConnectionSpecific(lower));
        }
        headers.append_latin1(name, value);
    }
    let method = method.ok_or(Malformed::Missing(":method"))?;
    let target = if method == "CONNECT" {
        authority.clone().ok_or(Malformed::Missing(":authority"))?
    } else {
        scheme.ok_or(Malformed::Missing(":scheme"))?;
        let p = path.ok_or(Malformed::Missing(":path"))?;
        if p.is_empty() {
            return Err(Malformed::EmptyPath);
        }
        p
    };
    if let Some(a) = authority {
        if !headers.contains("host") {
            headers.append("host", &a);
        }
    }
    Ok(Request {
        method,
        target,
        version: Version::HTTP_3,
        headers,
        body: Vec::new(),
        trailers: Headers::new(),
        peer: None,
    })
}

/// The fields of a response and whether a body follows: `:status` first, then the fields
/// every binary version sends ([`crate::http::response_fields`]).
pub fn response_fields(method: &str, resp: &Response) -> (Vec<Header>, bool) {
    let mut out = Vec::with_capacity(resp.headers.len() + 3);
    out.push(Header::new(b":status", resp.status.to_string().as_bytes()));
    let with_body = crate::http::response_fields::response_fields(method, resp, |n, v| {
        out.push(Header::new(n, v))
    });
    (out, with_body)
}

/// A response's priority when the request asks for none (RFC 9218 §4): urgency 3,
/// non-incremental.
pub const DEFAULT_PRIORITY: (u8, bool) = (3, false);

/// The `Priority` field of a request (RFC 9218 §4): urgency `u` (0 most urgent … 7, default
/// 3) and `i`, whether the response may be sent interleaved with others of the same urgency
/// (default false: one after the other). Members this server does not know, or values out of
/// range, are ignored, as §4 asks.
pub fn priority(value: &str) -> (u8, bool) {
    let (mut urgency, mut incremental) = DEFAULT_PRIORITY;
    for member in value.split(',') {
        let (key, val) = match member.trim().split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (member.trim(), None),
        };
        match (key, val) {
            ("u", Some(v)) => urgency = v.parse::<u8>().ok().filter(|u| *u <= 7).unwrap_or(urgency),
            // A bare key is the boolean true in a Structured Field dictionary (RFC 8941 §3.2).
            ("i", None) | ("i", Some("?1")) => incremental = true,
            ("i", Some("?0")) => incremental = false,
            _ => {}
        }
    }
    (urgency, incremental)
}

/// A field section for the trace: `:method=GET :path=/ user-agent=…`, values shortened.
pub fn describe(fields: &[Header]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| {
            let v = latin1(f.value());
            let v = if v.chars().count() > 60 {
                format!(
                    "{}… ({} bytes)",
                    v.chars().take(60).collect::<String>(),
                    f.value().len()
                )
            } else {
                v
            };
            format!("{}={v}", latin1(f.name()))
        })
        .collect();
    parts.join(" ")
}

/// The value of one field (`:status`, `content-type`) of a field section.
pub fn field<'a>(fields: &'a [Header], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name() == name.as_bytes())
        .map(|f| f.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<Header> {
        pairs
            .iter()
            .map(|(n, v)| Header::new(n.as_bytes(), v.as_bytes()))
            .collect()
    }

    #[test]
    fn a_request_from_its_fields() {
        let r = request(&h(&[
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "localhost:4433"),
            (":path", "/echo?x=1"),
            ("content-type", "text/plain"),
            ("te", "trailers"),
        ]))
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "/echo?x=1");
        assert_eq!(r.version, Version::HTTP_3);
        assert_eq!(r.headers.get("host"), Some("localhost:4433"));
        assert_eq!(r.headers.get("content-type"), Some("text/plain"));
    }

    #[test]
    fn malformed_requests_name_the_rule() {
        let base = [(":method", "GET"), (":scheme", "https"), (":path", "/")];
        let with = |extra: &[(&str, &str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            request(&h(&v))
        };
        assert_eq!(
            with(&[("a", "1"), (":authority", "x")]),
            Err(Malformed::PseudoAfterRegular(":authority".into()))
        );
        assert_eq!(
            with(&[(":status", "200")]),
            Err(Malformed::UnknownPseudo(":status".into()))
        );
        assert_eq!(
            with(&[(":path", "/again")]),
            Err(Malformed::Repeated(":path"))
        );
        assert_eq!(
            with(&[("Host", "x")]),
            Err(Malformed::Uppercase("Host".into()))
        );
        assert_eq!(
            with(&[("connection", "keep-alive")]),
            Err(Malformed::ConnectionSpecific("connection".into()))
        );
        assert_eq!(
            with(&[("transfer-encoding", "chunked")]),
            Err(Malformed::ConnectionSpecific("transfer-encoding".into()))
        );
        assert_eq!(with(&[("te", "gzip")]), Err(Malformed::TeNotTrailers));
        assert_eq!(
            request(&h(&[(":method", "GET"), (":path", "/")])),
            Err(Malformed::Missing(":scheme"))
        );
        assert_eq!(
            request(&h(&[(":scheme", "https"), (":path", "/")])),
            Err(Malformed::Missing(":method"))
        );
        assert_eq!(
            request(&h(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "")
            ])),
            Err(Malformed::EmptyPath)
        );
        assert_eq!(
            request(&h(&[(":method", "CONNECT"), (":authority", "example:443")])).map(|r| r.target),
            Ok("example:443".into())
        );
    }

    #[test]
    fn priorities_as_rfc_9218_writes_them() {
        assert_eq!(priority(""), (3, false));
        assert_eq!(priority("u=0, i"), (0, true));
        assert_eq!(priority("i=?1, u=5"), (5, true));
        assert_eq!(priority("u=9, i=?0, x=1"), (3, false));
        assert_eq!(priority("u=1;a, i=maybe"), (3, false));
    }

    #[test]
    fn response_fields_start_with_status() {
        let resp = Response::text(200, "hi")
            .header("Connection", "close")
            .header("X-A", "b");
        let (fields, body) = response_fields("GET", &resp);
        assert_eq!(fields[0].name(), b":status");
        assert_eq!(fields[0].value(), b"200");
        assert!(body);
        assert_eq!(field(&fields, "x-a"), Some(&b"b"[..]));
        assert_eq!(field(&fields, "connection"), None);
        assert_eq!(field(&fields, "content-length"), Some(&b"3"[..]));
        assert!(field(&fields, "date").is_some());
        assert!(!response_fields("HEAD", &resp).1);
        assert!(!response_fields("GET", &Response::new(204)).1);
        let not_modified = response_fields("GET", &Response::text(304, "stale"));
        assert!(!not_modified.1);
        assert_eq!(field(&not_modified.0, "content-length"), None);
        assert!(describe(&fields).starts_with(":status=200 content-type=text/plain"));
    }
}
