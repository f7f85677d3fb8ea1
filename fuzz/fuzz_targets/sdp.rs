//! Fuzz target: SDP offers and answers (src/webrtc/sdp.rs). No text panics the parser,
//! as an offer or as an answer; a description that parses, written back by netlab's own
//! writer, parses to the same description.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::webrtc::sdp::{self, Kind};

fuzz_target!(|text: &str| {
    for kind in [Kind::Offer, Kind::Answer] {
        if let Ok(d) = sdp::parse(text, kind) {
            let written = sdp::write(&d, 1);
            assert_eq!(sdp::parse(&written, kind).as_ref(), Ok(&d), "{written}");
        }
    }
});
