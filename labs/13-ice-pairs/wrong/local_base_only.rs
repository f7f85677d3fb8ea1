//! Lab 13, wrong on purpose: nominates only among pairs whose local candidate is a host or a
//! relayed one, reading §6.1.2.4 as "a pair with my server-reflexive candidate was pruned
//! (replaced by its base), so one that shows up is a duplicate". Checks are sent from the
//! base, but a check that crosses a NAT comes back with the NAT's address in
//! XOR-MAPPED-ADDRESS, and the valid pair it makes has that address as its local candidate
//! (§7.2.5.3.2): server-reflexive, or peer-reflexive if the NAT mapped a new port. On loopback
//! there is no NAT and no such pair; across real NATs every direct valid pair is one, and this
//! policy sends the session through the TURN relay instead.

use netlab::webrtc::ice::priority::{CandidateKind, PairView, Policy};

pub struct Mine;

impl Policy for Mine {
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        let (min, max) = (u64::from(g.min(d)), u64::from(g.max(d)));
        (min << 32) + 2 * max + u64::from(g > d)
    }

    fn nominate(&self, pairs: &[PairView]) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, pair) in pairs.iter().enumerate() {
            // WRONG: a valid pair's local candidate is the address the peer saw, not the base
            let mine = matches!(
                pair.local_kind,
                CandidateKind::Host | CandidateKind::Relayed
            );
            if pair.valid && mine && best.is_none_or(|b| pair.priority > pairs[b].priority) {
                best = Some(i);
            }
        }
        best
    }
}
