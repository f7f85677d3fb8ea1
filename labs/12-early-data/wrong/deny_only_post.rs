//! Lab 12, wrong on purpose: only POST waits. PUT, DELETE and PATCH change state too, and a
//! replayed one is applied again.

use netlab::http::fields::Headers;
use netlab::quic::early::Early;

pub fn decide(method: &str, _target: &str, _fields: &Headers) -> Early {
    // WRONG: a blocklist of one; every other method (PUT, DELETE, unknown ones) is answered
    if method == "POST" {
        Early::TooEarly
    } else {
        Early::Answer
    }
}
