//! Fuzz target: the HTTP/1.1 head parser, the framing rules and the chunked decoder must
//! never panic, whatever the bytes, and must agree with themselves when the same bytes
//! arrive in two pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::http1::chunked::ChunkedDecoder;
use netlab::http1::framing::request_body_length;
use netlab::http1::parse::{Limits, Status, parse_request, parse_response};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let whole = parse_request(data, &limits);
    if let Ok(Status::Complete((head, n))) = &whole {
        assert!(*n <= data.len());
        let _ = request_body_length(head);
        // Every prefix of a complete head is Partial or the same error class, never Complete
        // with another length.
        if let Ok(Status::Complete((_, m))) = parse_request(&data[..*n], &limits) {
            assert_eq!(*n, m);
        }
    }
    let _ = parse_response(data, &limits);
    // The chunked decoder: one piece or two pieces give the same body.
    let mut one = ChunkedDecoder::default();
    let mut body1 = Vec::new();
    let r1 = one.decode(data, &mut body1);
    let cut = data.len() / 2;
    let mut two = ChunkedDecoder::default();
    let mut body2 = Vec::new();
    let r2 = two.decode(&data[..cut], &mut body2).and_then(|a| {
        if a < cut {
            Ok(a)
        } else {
            two.decode(&data[cut..], &mut body2).map(|b| a + b)
        }
    });
    if let (Ok(u1), Ok(u2)) = (&r1, &r2) {
        if one.is_done() && two.is_done() {
            assert_eq!(u1, u2);
            assert_eq!(body1, body2);
        }
    }
});
