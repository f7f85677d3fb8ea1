//! Fuzz target: the URI parser (src/http/uri.rs). No input panics; a URL that parses
//! prints as a URL that parses back to itself (what `Display` writes, `parse` reads).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::http::uri::{Url, split_host_port};

fuzz_target!(|text: &str| {
    let _ = split_host_port(text, 443);
    if let Ok(url) = Url::parse(text) {
        assert!(url.target.starts_with('/'), "{url:?}");
        let again = Url::parse(&url.to_string());
        assert_eq!(again.as_ref(), Ok(&url), "{text:?} printed as {url}");
        let (host, port) = split_host_port(&url.host_port(), url.scheme.default_port())
            .expect("host_port() splits back");
        assert_eq!((host.as_str(), port), (url.host.as_str(), url.port));
    }
});
