//! Lab 13 — the file you edit: which candidate pair ICE tries first, and which one it keeps.
//!
//! Each WebRTC peer gathers candidates (its host address, its address outside the NAT learned
//! from a STUN server, an address on a TURN relay) and pairs each of its own with each of the
//! other side's. Both agents must order those pairs the same way, so that their checks meet,
//! and the controlling agent then nominates one pair for the session. netlab's ICE agent asks
//! a `Policy` for both decisions and never computes them itself (`src/webrtc/ice/priority.rs`
//! has the trait and the types). See README.md. Check: `make check LAB=13`.

use netlab::webrtc::ice::priority::{PairView, Policy};

/// Your policy: the agent calls it for every pair it forms and when it is time to nominate.
pub struct Mine;

impl Policy for Mine {
    /// RFC 8445 §6.1.2.3: the priority of a pair whose controlling agent's candidate has
    /// priority `g` and whose controlled agent's candidate has priority `d`.
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        // TODO: 2^32 × MIN(G,D) + 2 × MAX(G,D) + (G > D ? 1 : 0), without overflowing.
        let _ = (g, d);
        0
    }

    /// RFC 8445 §8.1.1: the index in `pairs` of the pair to nominate, or `None` to wait.
    fn nominate(&self, pairs: &[PairView]) -> Option<usize> {
        // TODO: choose among the pairs whose check succeeded (`valid`).
        let _ = pairs;
        None
    }
}
