//! Lab 12, wrong on purpose: the idempotent methods are answered from 0-RTT. PUT and DELETE
//! are idempotent (doing one twice is doing it once, RFC 9110 §9.2.2) but not safe: they
//! change state, and a replay arriving after the client's next change undoes it
//! (a replayed `PUT x=1` after the client's own `PUT x=2`).

use netlab::http::fields::Headers;
use netlab::quic::early::Early;

pub fn decide(method: &str, _target: &str, _fields: &Headers) -> Early {
    match method {
        // WRONG: PUT and DELETE are idempotent, not safe
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE" => Early::Answer,
        _ => Early::TooEarly,
    }
}
