//! ICE's arithmetic (RFC 8445): how much a candidate is worth, how much a pair of candidates
//! is worth, and which pair the controlling agent nominates. Pure functions, no state: the
//! agent calls them through a [`Policy`], so lab 13 can hand in its own and watch a live
//! session choose with it.

use std::fmt;
use std::net::SocketAddr;

/// RFC 8445 §5.1.1: where a candidate comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CandidateKind {
    /// An address of a local interface.
    Host,
    /// Learned from a check's XOR-MAPPED-ADDRESS (§7.2.5.3.1): the peer saw us there.
    PeerReflexive,
    /// Learned from a STUN server's Binding response: our address outside the NAT.
    ServerReflexive,
    /// An address on a TURN server that relays to us (RFC 8656).
    Relayed,
}

impl CandidateKind {
    /// RFC 8445 §5.1.2.2's recommended type preferences: direct paths first, the relay last.
    pub fn type_preference(self) -> u32 {
        match self {
            CandidateKind::Host => 126,
            CandidateKind::PeerReflexive => 110,
            CandidateKind::ServerReflexive => 100,
            CandidateKind::Relayed => 0,
        }
    }

    /// The SDP name (RFC 8839 §5.1, `typ host` …).
    pub fn sdp_name(self) -> &'static str {
        match self {
            CandidateKind::Host => "host",
            CandidateKind::PeerReflexive => "prflx",
            CandidateKind::ServerReflexive => "srflx",
            CandidateKind::Relayed => "relay",
        }
    }
}

impl fmt::Display for CandidateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sdp_name())
    }
}

/// RFC 8445 §5.1.2.1: a candidate's priority,
/// `2^24 × type preference + 2^8 × local preference + (256 − component ID)`.
/// `local_preference` orders the interfaces of one host (65535 for a single one).
pub fn candidate_priority(kind: CandidateKind, local_preference: u16, component: u8) -> u32 {
    (kind.type_preference() << 24)
        + (u32::from(local_preference) << 8)
        + (256 - u32::from(component))
}

/// Which side of the session this agent plays (RFC 8445 §6.1.1): the controlling agent
/// nominates, the controlled one follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Controlling,
    Controlled,
}

/// One pair in the check list, as a [`Policy`] sees it when choosing what to nominate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairView {
    pub local: SocketAddr,
    pub local_kind: CandidateKind,
    pub remote: SocketAddr,
    pub remote_kind: CandidateKind,
    /// The pair's priority (§6.1.2.3), as the policy computed it.
    pub priority: u64,
    /// A check on it succeeded: it is in the valid list (§7.2.5.3.2).
    pub valid: bool,
}

/// The two decisions lab 13 asks for. The agent asks its policy, never computes them itself.
pub trait Policy: Send + Sync {
    /// RFC 8445 §6.1.2.3: a pair's priority from G (the controlling agent's candidate
    /// priority) and D (the controlled agent's). Both agents compute the same number.
    fn pair_priority(&self, g: u32, d: u32) -> u64;

    /// RFC 8445 §8.1.1: which pair the controlling agent nominates once checks have run, or
    /// `None` to keep waiting. Only a valid pair may be nominated.
    fn nominate(&self, pairs: &[PairView]) -> Option<usize>;
}

/// The RFC's answers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rfc;

impl Policy for Rfc {
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        pair_priority(g, d)
    }

    fn nominate(&self, pairs: &[PairView]) -> Option<usize> {
        highest_valid(pairs)
    }
}

/// RFC 8445 §6.1.2.3: `2^32 × MIN(G,D) + 2 × MAX(G,D) + (G > D ? 1 : 0)`. The last bit breaks
/// ties between pairs whose two priorities are swapped, so every pair's number is unique.
pub fn pair_priority(g: u32, d: u32) -> u64 {
    let (min, max) = (u64::from(g.min(d)), u64::from(g.max(d)));
    // §5.1.2.1 keeps a priority below 2^31, where this cannot overflow; a remote candidate
    // is checked against that bound when parsed, and above it the sum saturates, never panics.
    (min << 32).saturating_add(2 * max + u64::from(g > d))
}

/// The pair's priority as `role` computes it from its own and the remote candidate's.
pub fn pair_priority_for(policy: &dyn Policy, role: Role, local: u32, remote: u32) -> u64 {
    match role {
        Role::Controlling => policy.pair_priority(local, remote),
        Role::Controlled => policy.pair_priority(remote, local),
    }
}

/// The valid pair of the highest priority (the first one, on a tie).
pub fn highest_valid(pairs: &[PairView]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, p) in pairs.iter().enumerate().filter(|(_, p)| p.valid) {
        if best.is_none_or(|b| p.priority > pairs[b].priority) {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_priorities_follow_the_formula() {
        // A host candidate of a single-homed agent, component 1: 126 << 24 | 65535 << 8 | 255.
        assert_eq!(
            candidate_priority(CandidateKind::Host, 65535, 1),
            2_130_706_431
        );
        assert_eq!(
            candidate_priority(CandidateKind::ServerReflexive, 65535, 1),
            1_694_498_815
        );
        assert_eq!(
            candidate_priority(CandidateKind::Relayed, 65535, 1),
            16_777_215
        );
        assert_eq!(
            candidate_priority(CandidateKind::PeerReflexive, 0, 2),
            1_845_494_014
        );
    }

    #[test]
    fn pair_priority_is_the_same_from_both_sides_and_breaks_swapped_ties() {
        let (host, srflx) = (2_130_706_431, 1_694_498_815);
        assert_eq!(
            pair_priority(host, srflx),
            (u64::from(srflx) << 32) + 2 * u64::from(host) + 1
        );
        assert_eq!(
            pair_priority(srflx, host),
            (u64::from(srflx) << 32) + 2 * u64::from(host)
        );
        assert_eq!(
            pair_priority_for(&Rfc, Role::Controlling, host, srflx),
            pair_priority_for(&Rfc, Role::Controlled, srflx, host)
        );
        assert_eq!(pair_priority(u32::MAX, u32::MAX), u64::MAX);
    }

    #[test]
    fn nominates_the_best_valid_pair_only() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let pair = |priority, valid| PairView {
            local: a,
            local_kind: CandidateKind::Host,
            remote: a,
            remote_kind: CandidateKind::Host,
            priority,
            valid,
        };
        assert_eq!(
            highest_valid(&[pair(9, false), pair(5, true), pair(7, true)]),
            Some(2)
        );
        assert_eq!(highest_valid(&[pair(9, false)]), None);
        assert_eq!(highest_valid(&[]), None);
    }
}
