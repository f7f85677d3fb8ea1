//! Message framing: how long a body is (RFC 9112 §6.1–§6.3) — the rules request smuggling
//! attacks. Two parties that resolve a length differently see different messages in the same
//! bytes, so every ambiguous case is an error here, not a guess.

use super::head::{RequestHead, ResponseHead};
use crate::http::message::{Headers, Version};
use std::fmt;

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
    if !crate::http::status::content_follows(request_method, head.status) {
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
}
