//! Every input a fuzz target (fuzz/fuzz_targets/) found to break a decoder, as it was found,
//! with what the decoder must do instead: answer with its error, never panic, and agree
//! with itself. One test per finding; the target that found it is named in the test.

use netlab::http::date;
use netlab::http::uri::{Url, UrlError};
use netlab::webrtc::chunk;

/// `uri`: a host with `:` outside brackets parsed (the port split at the last colon), and
/// printed back bracketed, as a URL that no longer parsed. RFC 3986 §3.2.2: a colon in a
/// host only comes inside an IP-literal, `[…]`; `[` and `]` only delimit one.
#[test]
fn uri_a_host_with_a_colon_or_bracket_outside_brackets_is_refused() {
    for text in [
        "https://::[1]:8ttps://[b",
        "http://a:b:80/",
        "http://a]:b:80/",
        "http://a]b/",
        "http://[a[b]/",
    ] {
        assert_eq!(Url::parse(text), Err(UrlError::Host), "{text}");
    }
    // What is allowed still parses, and prints as what parses to itself.
    for text in [
        "http://[::1]:8080/x",
        "http://[::1]/",
        "https://example.com:8443/?q",
    ] {
        let url = Url::parse(text).unwrap();
        assert_eq!(Url::parse(&url.to_string()), Ok(url), "{text}");
    }
}

/// `date`: a 29-byte value with a multi-byte character where ", " is looked for: slicing
/// the text there panicked (not a char boundary). IMF-fixdate is ASCII (RFC 9110 §5.6.7).
#[test]
fn date_with_non_ascii_bytes_is_not_a_date() {
    let found: &[u8] = &[
        0x0a, 0x14, 0x14, 0x14, 0xcd, 0xa7, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14,
        0x04, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14, 0x14,
    ];
    let text = std::str::from_utf8(found).unwrap();
    assert_eq!(text.len(), 29);
    assert_eq!(date::parse(text), None);
    assert_eq!(date::parse("Sun, 06 Nov 1994 08:49:3\u{e9} GM"), None);
    assert!(date::parse("Sun, 06 Nov 1994 08:49:37 GMT").is_some());
}

/// `sctp_chunk`: an 11-byte packet, shorter than SCTP's 12-byte common header (RFC 9260
/// §3.1) but long enough for the verification tag, was described with no line at all.
#[test]
fn sctp_packet_shorter_than_the_common_header_says_so() {
    let found = [0x13, 0x88, 0, 0, 0, 0, 0, 0, 0, 1, 0x13];
    let lines = chunk::describe(&found);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("too short for the SCTP common header"),
        "{lines:?}"
    );
    let mut fold = chunk::Fold::default();
    assert_eq!(fold.describe(&found, true), lines);
}

/// `soap`, found while writing its property rather than by a run: `escape` passed U+FFFE
/// and U+FFFF through, which XML 1.0 cannot carry (§2.2 Char), so a note holding one was
/// stored by REST and then answered over SOAP in an envelope no XML parser accepts.
#[test]
fn soap_escape_writes_only_characters_xml_can_carry() {
    use netlab::http::services::soap;
    let escaped = soap::escape("a\u{fffe}b\u{ffff}c\u{1}d\te");
    assert_eq!(escaped, "a\u{fffd}b\u{fffd}c\u{fffd}d\te");
    let doc = format!("<t>{escaped}</t>");
    assert!(roxmltree::Document::parse(&doc).is_ok(), "{doc:?}");
}
