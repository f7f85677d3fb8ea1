//! Fuzz target: media types (src/http/media.rs). No input panics; the essence of an
//! essence is itself, and adding a parameter does not change the essence and is found again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::http::media::{essence, for_path, parameter};

fuzz_target!(|text: &str| {
    let e = essence(text);
    assert_eq!(essence(&e), e);
    let _ = parameter(text, "charset");
    let _ = for_path(text);
    // A parameter added to the essence (which holds no `;`) leaves it and is read back.
    let with = format!("{e}; q=\"v1\"");
    assert_eq!(essence(&with), e);
    assert_eq!(parameter(&with, "Q").as_deref(), Some("v1"));
});
