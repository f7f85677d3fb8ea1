//! What a server may answer from 0-RTT (early data, RFC 9001 §4.6, RFC 8470).
//!
//! A client that was here before sends its first requests with its ClientHello, encrypted
//! under a key derived from the session ticket. Those packets carry no proof of freshness:
//! anyone who recorded them can send them again, to this server or another one that shares
//! the ticket key, as often as they like (quiche and BoringSSL keep no record of tickets
//! already seen). The replayer cannot read the answers, but whatever a request *does* on the
//! server happens once per replay. So a request read from early data is answered only if
//! doing it twice is the same as doing it once and changes nothing: the safe methods of
//! RFC 9110 §9.2.1. Everything else gets `425 Too Early` (RFC 8470 §5.2), which tells the
//! client to send it again once the handshake is complete, when a replay is no longer
//! possible (the Finished message binds the connection to fresh key shares).
//!
//! Pure: no socket, no state. `Config::early_policy` in `server.rs` holds the function the
//! server calls; lab 12 (`labs/12-early-data`) plugs a student's in there.

use crate::http::fields::Headers;

/// What to do with a request that arrived in early data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Early {
    /// Hand it to the handler now, as if the handshake were complete.
    Answer,
    /// Answer `425 Too Early` without calling the handler: the client retries after the
    /// handshake.
    TooEarly,
}

impl Early {
    /// For the trace.
    pub fn describe(self) -> &'static str {
        match self {
            Early::Answer => "answered from 0-RTT",
            Early::TooEarly => "425 Too Early (retried after the handshake)",
        }
    }
}

/// The shape of an early-data policy: method, request target, fields → the decision.
pub type Policy = fn(&str, &str, &Headers) -> Early;

/// The safe methods (RFC 9110 §9.2.1): "the client does not request, and does not expect,
/// any state change on the origin server". Idempotent is not enough: PUT and DELETE are
/// idempotent (§9.2.2) but change state, and a replay can undo a later change (replaying
/// `PUT x=1` after the client's own `PUT x=2`).
const SAFE: [&str; 4] = ["GET", "HEAD", "OPTIONS", "TRACE"];

/// netlab's policy: safe methods are answered, everything else (unknown methods included:
/// nothing says they are safe) is `TooEarly`. Method names are case-sensitive (RFC 9110
/// §9.1): `get` is not GET. The target and the fields do not matter: a path cannot make a
/// POST safe, and a field saying "this is fine" is sent by the same client a replayer copies.
/// Not public: it is lab 12's answer, and `docs/design.md` keeps labs' answers out of the
/// public API (the server's `Config::default()` uses it).
pub(crate) fn decide(method: &str, _target: &str, _fields: &Headers) -> Early {
    if SAFE.contains(&method) {
        Early::Answer
    } else {
        Early::TooEarly
    }
}

/// BoringSSL's `ssl_early_data_accepted`: the server read the client's 0-RTT.
pub const ACCEPTED: u32 = 2;

/// What BoringSSL says about early data on a connection (`Connection::early_data_reason`,
/// BoringSSL's `ssl_early_data_reason_t`), for the handshake's trace line; `server` says
/// which side asks (code 4, "the peer declined", means opposite things).
pub fn reason(code: u32, server: bool) -> &'static str {
    match code {
        1 => "0-RTT disabled",
        ACCEPTED => "0-RTT accepted",
        3 => "0-RTT rejected: another TLS version",
        4 if server => "0-RTT not offered by the client",
        4 => "0-RTT rejected by the server",
        5 => "no session offered",
        6 => "0-RTT rejected: the session was not resumed (a forged, expired or foreign ticket)",
        7 => "0-RTT rejected: the session does not allow it",
        8 => "0-RTT rejected: HelloRetryRequest",
        9 => "0-RTT rejected: another ALPN",
        12 => "0-RTT rejected: ticket age skew",
        13 => "0-RTT rejected: transport parameters changed",
        14 => "0-RTT rejected: ALPS changed",
        _ => "0-RTT: no reason given",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(method: &str) -> Early {
        decide(method, "/", &Headers::default())
    }

    #[test]
    fn safe_methods_are_answered() {
        for m in SAFE {
            assert_eq!(d(m), Early::Answer, "{m}");
        }
    }

    #[test]
    fn state_changing_and_unknown_methods_wait() {
        for m in [
            "POST", "PUT", "DELETE", "PATCH", "CONNECT", "PURGE", "get", "",
        ] {
            assert_eq!(d(m), Early::TooEarly, "{m}");
        }
    }
}
