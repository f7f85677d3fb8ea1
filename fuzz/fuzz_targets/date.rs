//! Fuzz target: HTTP dates, IMF-fixdate (src/http/date.rs), as If-Modified-Since brings
//! them. No text panics the parser; a date that parses formats to a date that parses to the
//! same time; and every time from 1970 to 9999 formats to a date that parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::http::date::{format, parse};
use std::time::{Duration, UNIX_EPOCH};

/// 10000-01-01T00:00:00Z: IMF-fixdate has four digits for the year.
const YEAR_10000: u64 = 253_402_300_800;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(t) = parse(text) {
            assert_eq!(parse(&format(t)), Some(t), "{text:?}");
        }
    }
    if let Some(b) = data.get(..8) {
        let secs = u64::from_be_bytes(b.try_into().unwrap()) % YEAR_10000;
        let t = UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(parse(&format(t)), Some(t));
    }
});
