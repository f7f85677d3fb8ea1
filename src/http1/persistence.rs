//! Persistence (RFC 9112 §9.3): after each exchange, does the connection stay open for the
//! next request, or close? A small function of the request and the response, so the server
//! loop only carries the decision out, and the rules can be tested without a socket.
//!
//! - HTTP/1.1 is persistent unless either side says `Connection: close` (§9.3).
//! - HTTP/1.0 is not, unless the client asked for `Connection: keep-alive` (§C.2.2); the
//!   server then says `keep-alive` back, or the 1.0 client would not know.

use super::framing::BodyLength;
use crate::http::message::{Headers, Version};

/// The decision after one exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Keep the connection for another request.
    pub keep: bool,
    /// The `Connection` field the response must carry, if any.
    pub connection: Option<&'static str>,
    /// Why, in the RFC's terms, for the trace.
    pub reason: &'static str,
}

/// Does a message of this version with these fields leave the connection persistent, as far
/// as its sender is concerned (RFC 9112 §9.3)?
pub fn persistent(version: Version, headers: &Headers) -> bool {
    if headers.has_token("connection", "close") {
        return false;
    }
    version >= Version::HTTP_11 || headers.has_token("connection", "keep-alive")
}

/// The server's decision after answering a request of `req_version` with `req_headers`, with a
/// response whose fields are `resp_headers`.
pub fn after_response(
    req_version: Version,
    req_headers: &Headers,
    resp_headers: &Headers,
) -> Decision {
    let (keep, reason) = if req_headers.has_token("connection", "close") {
        (false, "the client sent Connection: close")
    } else if resp_headers.has_token("connection", "close") {
        (false, "the response says Connection: close")
    } else if req_version >= Version::HTTP_11 {
        (
            true,
            "HTTP/1.1 connections are persistent unless one side says close",
        )
    } else if req_headers.has_token("connection", "keep-alive") {
        (true, "an HTTP/1.0 client asked for Connection: keep-alive")
    } else {
        (
            false,
            "HTTP/1.0 closes after each response unless asked to keep alive",
        )
    };
    let connection = if !keep {
        Some("close")
    } else if req_version == Version::HTTP_10 {
        Some("keep-alive")
    } else {
        None
    };
    Decision {
        keep,
        connection,
        reason,
    }
}

/// The client's decision after reading a response: a body that ends at close ends the
/// connection too; otherwise the server's fields decide.
pub fn after_reading(length: BodyLength, resp_version: Version, resp_headers: &Headers) -> bool {
    length != BodyLength::UntilClose && persistent(resp_version, resp_headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in list {
            h.append(n, v);
        }
        h
    }

    type Fields = &'static [(&'static str, &'static str)];
    /// (request version, request fields, response fields, keep, Connection field)
    type Row = (Version, Fields, Fields, bool, Option<&'static str>);

    #[test]
    fn the_server_decides_from_both_messages() {
        let none: Fields = &[];
        let v10 = Version::HTTP_10;
        let v11 = Version::HTTP_11;
        // (request version, request fields, response fields) → (keep, Connection field)
        let table: &[Row] = &[
            (v11, none, none, true, None),
            (v11, &[("Connection", "close")], none, false, Some("close")),
            (
                v11,
                &[("Connection", "Keep-Alive, CLOSE")],
                none,
                false,
                Some("close"),
            ),
            (v11, none, &[("Connection", "close")], false, Some("close")),
            (v10, none, none, false, Some("close")),
            (
                v10,
                &[("Connection", "keep-alive")],
                none,
                true,
                Some("keep-alive"),
            ),
            (
                v10,
                &[("Connection", "keep-alive")],
                &[("Connection", "close")],
                false,
                Some("close"),
            ),
            (v11, &[("Connection", "upgrade")], none, true, None),
        ];
        for (version, req, resp, keep, connection) in table {
            let d = after_response(*version, &fields(req), &fields(resp));
            assert_eq!(
                (d.keep, d.connection),
                (*keep, *connection),
                "{version} {req:?} → {resp:?}"
            );
            assert!(!d.reason.is_empty());
        }
    }

    #[test]
    fn the_client_decides_from_the_response() {
        let v11 = Version::HTTP_11;
        assert!(after_reading(BodyLength::Fixed(3), v11, &Headers::new()));
        assert!(!after_reading(BodyLength::UntilClose, v11, &Headers::new()));
        assert!(!after_reading(
            BodyLength::Chunked,
            v11,
            &fields(&[("Connection", "close")])
        ));
        assert!(!after_reading(
            BodyLength::None,
            Version::HTTP_10,
            &Headers::new()
        ));
        assert!(after_reading(
            BodyLength::None,
            Version::HTTP_10,
            &fields(&[("Connection", "keep-alive")])
        ));
    }
}
