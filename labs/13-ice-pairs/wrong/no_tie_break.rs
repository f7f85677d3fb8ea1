//! Lab 13, wrong on purpose: the last term, (G > D ? 1 : 0), is left out. It looks like a
//! rounding detail, but without it a pair and its mirror image (my host with your
//! server-reflexive candidate, my server-reflexive with your host) get the same number, and
//! the order of equal pairs in the check list is whatever order they were formed in, which
//! differs between the two agents: their checks no longer meet.

use netlab::webrtc::ice::priority::{PairView, Policy};

pub struct Mine;

impl Policy for Mine {
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        let (min, max) = (u64::from(g.min(d)), u64::from(g.max(d)));
        // WRONG: no tie-break bit, so swapped priorities tie
        (min << 32) + 2 * max
    }

    fn nominate(&self, pairs: &[PairView]) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, pair) in pairs.iter().enumerate() {
            if pair.valid && best.is_none_or(|b| pair.priority > pairs[b].priority) {
                best = Some(i);
            }
        }
        best
    }
}
