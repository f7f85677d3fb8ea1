//! `Expect: 100-continue` (RFC 9110 §10.1.1): a client that asks before it sends a large
//! body. The server either invites the body with an interim `100 Continue`, or refuses it
//! with a final status before a byte of it is sent. A small function of the head, so the
//! server loop only carries the decision out.

use super::framing::BodyLength;
use super::head::RequestHead;
use crate::http::message::{Response, Version};

/// What to do about the request's `Expect` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No Expect field, or nothing to do: read the body (if any) at once.
    Proceed,
    /// Send `100 Continue`, then read the body.
    Continue,
    /// Answer this final response now and close: the body is not wanted.
    Refuse(Response),
}

/// Decides for a request head whose body is framed as `length`. `body_started` says whether
/// bytes after the head have already arrived (the client did not wait: no 100 is needed).
pub fn decide(
    head: &RequestHead,
    length: BodyLength,
    max_body: usize,
    body_started: bool,
) -> Expect {
    let Some(expect) = head.headers.get("expect") else {
        return Expect::Proceed;
    };
    // "A server that receives an Expect field value containing a member other than
    // 100-continue MAY respond with a 417 (Expectation Failed)" (§10.1.1).
    if !expect.eq_ignore_ascii_case("100-continue") {
        return Expect::Refuse(Response::text(
            417,
            "only Expect: 100-continue is supported",
        ));
    }
    if matches!(length, BodyLength::Fixed(n) if n > max_body as u64) {
        return Expect::Refuse(Response::text(
            413,
            &format!("the body may be at most {max_body} bytes"),
        ));
    }
    // "A server MAY omit sending a 100 (Continue) response if it has already received some
    // or all of the content", and an HTTP/1.0 client does not know 1xx responses.
    if head.version >= Version::HTTP_11 && length != BodyLength::None && !body_started {
        Expect::Continue
    } else {
        Expect::Proceed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::message::Headers;

    fn head(version: Version, expect: Option<&str>) -> RequestHead {
        let mut headers = Headers::new();
        if let Some(e) = expect {
            headers.append("Expect", e);
        }
        RequestHead {
            method: "PUT".into(),
            target: "/x".into(),
            version,
            headers,
        }
    }

    #[test]
    fn decisions() {
        let v11 = Version::HTTP_11;
        let fixed = BodyLength::Fixed(10);
        let status = |e: Expect| match e {
            Expect::Refuse(r) => format!("refuse {}", r.status),
            other => format!("{other:?}"),
        };
        // (version, Expect, body length, body already arriving) → decision
        let table = [
            (v11, None, fixed, false, "Proceed"),
            (v11, Some("100-continue"), fixed, false, "Continue"),
            (
                v11,
                Some("100-Continue"),
                BodyLength::Chunked,
                false,
                "Continue",
            ),
            (v11, Some("100-continue"), fixed, true, "Proceed"),
            (
                v11,
                Some("100-continue"),
                BodyLength::None,
                false,
                "Proceed",
            ),
            (
                Version::HTTP_10,
                Some("100-continue"),
                fixed,
                false,
                "Proceed",
            ),
            (
                v11,
                Some("100-continue"),
                BodyLength::Fixed(1001),
                false,
                "refuse 413",
            ),
            (v11, Some("something-else"), fixed, false, "refuse 417"),
        ];
        for (version, expect, length, started, want) in table {
            let got = status(decide(&head(version, expect), length, 1000, started));
            assert_eq!(
                got, want,
                "{version} Expect={expect:?} {length:?} started={started}"
            );
        }
    }
}
