//! Lab 13, wrong on purpose: never nominates a pair through a TURN relay ("a relay costs the
//! server's bandwidth and adds a hop: keep to direct paths"). Through endpoint-independent
//! NATs a direct pair, server-reflexive, works and this policy picks it; behind a symmetric
//! NAT no direct pair ever becomes valid, the policy keeps answering `None`, and the session
//! never opens. The relay is in ICE for exactly that case: §5.1.2.2 puts it last, not out.

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
            // WRONG: a relayed pair is the only way through a symmetric NAT
            let direct = pair.local_kind != CandidateKind::Relayed
                && pair.remote_kind != CandidateKind::Relayed;
            if pair.valid && direct && best.is_none_or(|b| pair.priority > pairs[b].priority) {
                best = Some(i);
            }
        }
        best
    }
}
