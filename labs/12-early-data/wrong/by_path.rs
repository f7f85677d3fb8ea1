//! Lab 12, wrong on purpose: decides by path, not by method: "only the API changes state".
//! A POST to any other path is applied from early data, and again on every replay; a path
//! says nothing about what a method does to it.

use netlab::http::fields::Headers;
use netlab::quic::early::Early;

pub fn decide(_method: &str, target: &str, _fields: &Headers) -> Early {
    // WRONG: the method decides whether a request changes state, not the path
    if target.starts_with("/api/") {
        Early::TooEarly
    } else {
        Early::Answer
    }
}
