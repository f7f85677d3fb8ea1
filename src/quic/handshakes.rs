//! Each source address's share of the QUIC handshakes in progress (admission step 2d of
//! `src/quic/server/admission.rs`).
//!
//! A client Initial costs one datagram to send and a quiche connection to keep until the
//! handshake ends or times out; one address sending Initials as fast as it can would hold
//! every place of `--max-connections`. So one address may have at most a quarter of the
//! places in handshakes not yet complete ([`crate::l4::share::Shares::quarter`]); beyond,
//! its Initial is dropped (the client tries again, or gives up), as beyond the cap.
//!
//! UDP source addresses can be forged: the share binds what one real address can hold;
//! against forged floods the server's answer is `--retry` (RFC 9000 §8.1.2), after which
//! every source is one that can receive.
//!
//! Counted, not kept: the handshakes in progress are the server's connections that are
//! not yet established, so there is no count to fall out of step with them.

use crate::l4::share::{Refusal, Shares};
use std::net::{IpAddr, SocketAddr};

/// Whether `from` may start one more handshake, given the peers of the handshakes now in
/// progress and the connection cap: `Err` names the share it holds.
pub fn admit(
    from: SocketAddr,
    in_progress: impl Iterator<Item = SocketAddr>,
    max_connections: usize,
) -> Result<(), Refusal> {
    let source: IpAddr = from.ip();
    let held = in_progress.filter(|p| p.ip() == source).count();
    if held < Shares::quarter(max_connections) {
        return Ok(());
    }
    Err(Refusal::Source {
        source,
        held,
        total: max_connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_quarter_of_the_places_per_address() {
        let flood = ["127.0.0.2:1", "127.0.0.2:2", "127.0.0.3:1"].map(at);
        // 8 places: 2 per address.
        let refused = admit(at("127.0.0.2:3"), flood.into_iter(), 8).unwrap_err();
        assert_eq!(refused.to_string(), "source 127.0.0.2 holds 2 of 8 places");
        assert!(admit(at("127.0.0.3:2"), flood.into_iter(), 8).is_ok());
        assert!(admit(at("127.0.0.4:1"), flood.into_iter(), 8).is_ok());
    }
}
