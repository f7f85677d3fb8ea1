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

/// `ice_candidate`: a line whose foundation is `a=candidate:…` (found as
/// `a=a=candidate:d0bc… 1 udp … typ host`) parsed, with that foundation, and wrote back a
/// line that parsed to another candidate (the prefix read as SDP's own). RFC 8839 §5.1: a
/// foundation is 1 to 32 ice-chars (ALPHA, DIGIT, `+`, `/`); any other is now refused.
#[test]
fn ice_candidate_with_a_foundation_of_other_than_ice_chars_is_refused() {
    use netlab::webrtc::ice::candidate::{Candidate, CandidateError};
    let found =
        "a=a=candidate:d0bcf3d9c29a2bc887612a1623bfa 1 udp 2130706431 fd00::2 50110 typ host\r";
    assert_eq!(
        Candidate::parse(found),
        Err(CandidateError::Foundation(
            "a=candidate:d0bcf3d9c29a2bc887612a1623bfa".into()
        ))
    );
    // aiortc's and Chromium's foundations (hex, decimal) still parse and read back.
    for line in [
        "candidate:d0bcf3d9c29a2bc887618212a1623bfa 1 udp 2130706431 fd00::2 50110 typ host",
        "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.2 rport 46154 generation 0",
    ] {
        let c = Candidate::parse(line).unwrap();
        assert_eq!(Candidate::parse(&c.to_sdp()), Ok(c), "{line}");
    }
}

/// `turn_client`: a Data indication from a peer the client had asked no permission for
/// (192.0.2.13:5003, right after the Allocate success) was handed up as that peer's data.
/// A TURN server relays only from permitted peers, so such an indication is forged or stale;
/// RFC 8656 §11.6 says to discard it. It is now an error, and the peer never sees its data.
#[test]
fn turn_client_hands_up_no_data_from_a_peer_without_permission() {
    use netlab::webrtc::stun_codec::{self, xor_address};
    use netlab::webrtc::turn::client::{Client, Inbound};
    use std::net::SocketAddr;
    use std::time::Instant;
    use stun::agent::TransactionId;
    use stun::attributes::{ATTR_DATA, ATTR_XOR_PEER_ADDRESS, ATTR_XOR_RELAYED_ADDRESS};
    use stun::message::{
        CLASS_INDICATION, CLASS_SUCCESS_RESPONSE, METHOD_ALLOCATE, METHOD_DATA, MessageType,
    };
    let now = Instant::now();
    let mut c = Client::new(SocketAddr::from(([127, 0, 0, 1], 3478)), "u", "p");
    c.allocate(now);
    let request = c.poll_transmit().unwrap();
    let tid: [u8; 12] = request[8..20].try_into().unwrap();
    let relayed = SocketAddr::from(([198, 51, 100, 1], 50000));
    let success = stun_codec::build(
        MessageType::new(METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE),
        TransactionId(tid),
        &[(ATTR_XOR_RELAYED_ADDRESS, xor_address(relayed, &tid))],
        &[],
        None,
    )
    .unwrap();
    assert_eq!(c.handle(&success, now), Ok(Inbound::Control));
    assert_eq!(c.relayed(), Some(relayed));
    let data_from = |peer: SocketAddr| {
        let tid = [3; 12];
        let attrs = [
            (ATTR_XOR_PEER_ADDRESS, xor_address(peer, &tid)),
            (ATTR_DATA, b"hello".to_vec()),
        ];
        let typ = MessageType::new(METHOD_DATA, CLASS_INDICATION);
        stun_codec::build(typ, TransactionId(tid), &attrs, &[], None).unwrap()
    };
    let stranger = SocketAddr::from(([192, 0, 2, 13], 5003));
    assert!(c.handle(&data_from(stranger), now).is_err());
    // A peer we asked a permission for is heard, from any of its ports (§9: by IP).
    let peer = SocketAddr::from(([192, 0, 2, 12], 5002));
    c.permit(peer, false, now);
    let from = SocketAddr::from(([192, 0, 2, 12], 6000));
    assert_eq!(
        c.handle(&data_from(from), now),
        Ok(Inbound::Data {
            peer: from,
            data: b"hello".to_vec()
        })
    );
}
