//! Differential test: netlab's hand-written parser and httparse read the same bytes. Where
//! RFC 9112 leaves no room, they must agree on accept/reject and on every parsed field.
//! Every single-byte mutation of a realistic corpus, and every prefix, gets the same verdict
//! from both (complete with the same fields, partial, or error).

use netlab::http1::parse::{Limits, ParseError, Status, parse_request};

#[derive(Debug, PartialEq)]
enum Verdict {
    Complete(String, String, u8, Vec<(String, Vec<u8>)>, usize),
    Partial,
    Error,
}

fn ours(bytes: &[u8]) -> Verdict {
    match parse_request(bytes, &Limits::default()) {
        Ok(Status::Complete((h, n))) => Verdict::Complete(
            h.method,
            h.target,
            h.version.minor,
            h.headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.chars().map(|c| c as u32 as u8).collect()))
                .collect(),
            n,
        ),
        Ok(Status::Partial) => Verdict::Partial,
        // 505 for HTTP/2.0 is a well-formed line we do not serve; httparse rejects it too.
        Err(_) => Verdict::Error,
    }
}

fn theirs(bytes: &[u8]) -> Verdict {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => Verdict::Complete(
            req.method.unwrap_or_default().to_string(),
            req.path.unwrap_or_default().to_string(),
            req.version.unwrap_or(9),
            req.headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.trim_ascii().to_vec()))
                .collect(),
            n,
        ),
        Ok(httparse::Status::Partial) => Verdict::Partial,
        Err(_) => Verdict::Error,
    }
}

const CORPUS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /index.html?lang=en&x=%20y HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    b"POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n",
    b"PUT /api/notes/3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: keep-alive\r\n\r\n",
    b"DELETE /api/notes/1 HTTP/1.0\r\nConnection: keep-alive\r\nX-Empty:\r\nX-Tab:\tvalue\t\r\n\r\n",
    b"TRACE /t HTTP/1.1\r\nHost: a\r\nCookie: a=b; c=d\r\nAccept-Language: en-US,en;q=0.5\r\n\r\n",
];

/// Bytes to put in every position of every corpus request.
const PROBES: &[u8] = &[
    0x00, 0x01, b'\t', b'\n', b'\r', b' ', b'"', b'(', b',', b'/', b':', b';', b'@', b'a', b'~',
    0x7f, 0x80, 0xff,
];

#[test]
fn the_corpus_parses_identically() {
    for input in CORPUS {
        let o = ours(input);
        assert!(matches!(o, Verdict::Complete(..)), "{o:?}");
        assert_eq!(o, theirs(input), "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn every_single_byte_mutation_gets_the_same_verdict() {
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for input in CORPUS {
        for pos in 0..input.len() {
            for &probe in PROBES {
                let mut m = input.to_vec();
                m[pos] = probe;
                let (o, t) = (ours(&m), theirs(&m));
                compared += 1;
                if o == t {
                    continue;
                }
                disagreements.push(format!(
                    "{:?}\n    netlab:   {o:?}\n    httparse: {t:?}",
                    String::from_utf8_lossy(&m)
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {compared} mutations disagree:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(compared > 5000);
}

#[test]
fn every_prefix_agrees() {
    for input in CORPUS {
        for cut in 0..input.len() {
            assert_eq!(
                ours(&input[..cut]),
                theirs(&input[..cut]),
                "{:?}",
                String::from_utf8_lossy(&input[..cut])
            );
        }
    }
}

#[test]
fn both_reject_the_request_line_and_field_errors() {
    for bad in [
        &b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        b"G(T / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.x\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
    ] {
        assert_eq!(
            ours(bad),
            Verdict::Error,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(
            theirs(bad),
            Verdict::Error,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // Our errors name the rule: the whitespace-before-colon smuggling case.
    assert_eq!(
        parse_request(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", &Limits::default()),
        Err(ParseError::WhitespaceBeforeColon)
    );
}
