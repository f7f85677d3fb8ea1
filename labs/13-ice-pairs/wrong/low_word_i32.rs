//! Lab 13, wrong on purpose: 32-bit signed arithmetic for the low word. A candidate's
//! priority is below 2^31, so it "fits in an i32", and `max << 1 | bit` is the usual way to
//! double and set a bit. But 2 × MAX needs 32 bits: for any priority of 2^30 or more (every
//! host and server-reflexive candidate) the shift sets the sign bit, the low word turns
//! negative and takes 2^32 off the pair's priority. No panic, no warning: just a wrong order.

use netlab::webrtc::ice::priority::{PairView, Policy};

pub struct Mine;

impl Policy for Mine {
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        let min = i64::from(g.min(d));
        // WRONG: MAX as an i32, where 2 × MAX (shifted) wraps into the sign bit
        let max = g.max(d) as i32;
        let low = (max << 1) | i32::from(g > d);
        ((min << 32) + i64::from(low)) as u64
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
