//! Lab 12, wrong on purpose: every request is answered from 0-RTT. Fast, and a replayed
//! POST is applied once per replay: whoever recorded the first flight can repeat a payment.

use netlab::http::fields::Headers;
use netlab::quic::early::Early;

pub fn decide(_method: &str, _target: &str, _fields: &Headers) -> Early {
    Early::Answer // WRONG: early data can be replayed; state-changing requests must wait
}
