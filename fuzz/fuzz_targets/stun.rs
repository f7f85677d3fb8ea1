//! Fuzz target: STUN for ICE (src/webrtc/ice.rs). netlab decodes STUN with the `stun` crate
//! (webrtc-rs) and adds the ICE attributes and the checks of RFC 8445 §7.3 itself; this
//! target drives that code.
//! - Any datagram, to the responder and to a checker with a check pending, never panics.
//! - A check the checker writes, with any credentials, is answered with a success by a
//!   responder holding the matching ones, and that success verifies at the checker.
//! - The same check with one byte changed is never answered with a success (FINGERPRINT,
//!   MESSAGE-INTEGRITY); the success with one byte changed never verifies.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::webrtc::ice::{Checker, Credentials, Reply, Responder};
use std::net::SocketAddr;
use std::time::Instant;

#[derive(Arbitrary, Debug)]
struct Input {
    ufrags: (String, String),
    pwds: (String, String),
    tie_breaker: u64,
    tid: [u8; 12],
    flip: (u16, u8),
}

// The raw bytes go to the decoder as they are (so captured traffic seeds it); the same
// bytes, read as an `Input`, choose what to encode.
fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    // The username is "theirs:ours": a ufrag with a colon cannot be told apart (RFC 8445
    // §5.3 allows only ice-chars, which have none).
    if input.ufrags.0.contains(':') || input.ufrags.1.contains(':') {
        return;
    }
    let ours = Credentials {
        ufrag: input.ufrags.0,
        pwd: input.pwds.0,
    };
    let theirs = Credentials {
        ufrag: input.ufrags.1,
        pwd: input.pwds.1,
    };
    let from: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let responder = Responder {
        local: theirs.clone(),
        remote_ufrag: Some(ours.ufrag.clone()),
    };
    let _ = responder.answer(data, from);

    let mut checker = Checker::new(ours, theirs, input.tie_breaker);
    // A USERNAME longer than STUN allows (RFC 8489 §14.3: 513 bytes) cannot be written:
    // an error, not a check.
    let request = match checker.poll_request(Instant::now(), input.tid) {
        Some(Ok(request)) => request,
        Some(Err(_)) => return,
        None => panic!("a first check is due at once"),
    };
    let _ = checker.on_response(data);
    let Reply::Success {
        response,
        nominated,
        ..
    } = responder.answer(&request, from)
    else {
        panic!("our own check was not answered with a success");
    };
    assert!(nominated);

    let (at, by) = (usize::from(input.flip.0), input.flip.1);
    if by != 0 {
        let mut bad = request.clone();
        bad[at % request.len()] ^= by;
        let reply = responder.answer(&bad, from);
        assert!(
            !matches!(reply, Reply::Success { .. }),
            "changed check accepted"
        );
        let mut bad = response.clone();
        bad[at % response.len()] ^= by;
        assert_ne!(
            checker.on_response(&bad),
            Ok(true),
            "changed success accepted"
        );
    }
    assert_eq!(checker.on_response(&response), Ok(true));
});
