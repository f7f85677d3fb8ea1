//! Fuzz target: base64 (src/tls/certs.rs, for PEM and the WebRTC page). No text panics the
//! decoder, and decode(encode(x)) == x.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::tls::certs::{base64, base64_decode};

fuzz_target!(|data: &[u8]| {
    assert_eq!(base64_decode(&base64(data)).as_deref(), Some(data));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = base64_decode(text);
    }
});
