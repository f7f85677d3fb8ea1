//! Lab 13, wrong on purpose: nominates the pair of the highest priority, valid or not. The
//! best pair on paper is usually host to host, and across two NATs its check never succeeds:
//! nominating it (USE-CANDIDATE on a pair nobody can reach) leaves the session with no path,
//! while a lower pair, through a NAT's mapping or a relay, works.

use netlab::webrtc::ice::priority::{PairView, Policy};

pub struct Mine;

impl Policy for Mine {
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        let (min, max) = (u64::from(g.min(d)), u64::from(g.max(d)));
        (min << 32) + 2 * max + u64::from(g > d)
    }

    fn nominate(&self, pairs: &[PairView]) -> Option<usize> {
        // WRONG: `valid` is never looked at
        (0..pairs.len()).max_by_key(|&i| pairs[i].priority)
    }
}
