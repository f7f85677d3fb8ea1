//! Lab 13, wrong on purpose: nominates the first valid pair in the list. That is the best one
//! only if the list is sorted, and `Policy::nominate` promises no order: netlab's agent happens
//! to hand its pairs over highest first, but a check list kept in the order pairs were formed
//! (trickle ICE adds them as candidates arrive: a relayed pair formed early, a peer-reflexive
//! one learned late) is not. The session then runs through the relay for no reason.

use netlab::webrtc::ice::priority::{PairView, Policy};

pub struct Mine;

impl Policy for Mine {
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        let (min, max) = (u64::from(g.min(d)), u64::from(g.max(d)));
        (min << 32) + 2 * max + u64::from(g > d)
    }

    fn nominate(&self, pairs: &[PairView]) -> Option<usize> {
        // WRONG: the first valid pair, not the valid pair of the highest priority
        pairs.iter().position(|p| p.valid)
    }
}
