//! Lab 13 — a reference solution. Try the lab before reading it.

use netlab::webrtc::ice::priority::{PairView, Policy};

pub struct Mine;

impl Policy for Mine {
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        // In u64 from the start: 2^32 × MIN needs 63 bits. The RFC keeps a candidate's
        // priority below 2^31, so 2 × MAX + 1 fits in the low 32 bits and the sum in 63.
        let (min, max) = (u64::from(g.min(d)), u64::from(g.max(d)));
        (min << 32) + 2 * max + u64::from(g > d)
    }

    fn nominate(&self, pairs: &[PairView]) -> Option<usize> {
        // Only a pair whose check succeeded may be nominated; of those, the best one. The
        // trait promises no order for the slice: look at every pair.
        let mut best: Option<usize> = None;
        for (i, pair) in pairs.iter().enumerate() {
            if pair.valid && best.is_none_or(|b| pair.priority > pairs[b].priority) {
                best = Some(i);
            }
        }
        best
    }
}
