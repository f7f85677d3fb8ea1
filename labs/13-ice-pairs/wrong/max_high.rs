//! Lab 13, wrong on purpose: MAX in the high 32 bits and MIN in the low ones. It reads as
//! "the better candidate counts most", but a pair is only as good as its worse end: a host
//! candidate paired with a relay still goes through the relay. With MAX first, a host–relay
//! pair is tried before a server-reflexive pair on both sides, and relays win over direct paths.

use netlab::webrtc::ice::priority::{PairView, Policy};

pub struct Mine;

impl Policy for Mine {
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        let (min, max) = (u64::from(g.min(d)), u64::from(g.max(d)));
        // WRONG: 2^32 × MAX + 2 × MIN; the RFC has 2^32 × MIN + 2 × MAX
        (max << 32) + 2 * min + u64::from(g > d)
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
