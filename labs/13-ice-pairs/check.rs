//! Lab 13 check: your ICE policy (`netlab::webrtc::ice::priority::Policy`), on RFC 8445's
//! formulas with concrete candidates first: two agents, A (controlling) and B (controlled),
//! each with a host, a server-reflexive and a relayed candidate whose priorities come from
//! §5.1.2.1 with the recommended type preferences. Steps 1–4 are the pair priority of
//! §6.1.2.3 (the formula, the tie-break bit, the extremes, a sorted check list), steps 5–7
//! the choice of the pair to nominate (§8.1.1) on check lists of NAT situations. Step 8 is
//! live: two netlab WebRTC peers in this process, full ICE with the policy under test,
//! netlab's STUN and TURN servers, B gathering its relayed candidate only, a candidate that
//! never answers as the best pair on paper, and a data channel message across the pair the
//! policy nominated. Step 9 is live across real NATs (root only; "not run" without it):
//! `netlab nat`'s topology, both NATs endpoint-independent (the server-reflexive pair must be
//! nominated), then NAT A symmetric (the pair one TURN hop long). Run: `make check LAB=13`.

#[path = "../common.rs"]
mod common;
#[path = "policy.rs"]
mod policy;
#[path = "solution.rs"]
mod solution;

use common::Check;
use netlab::l4::background::Background;
use netlab::l4::netns::{self, Nat, Topology};
use netlab::webrtc::dcep::ChannelType;
use netlab::webrtc::dtls::Identity;
use netlab::webrtc::ice::priority::{
    self, CandidateKind, PairView, Policy, Role, candidate_priority, pair_priority_for,
};
use netlab::webrtc::peer::{Config, Event, IceMode, Message, Peer, TurnServer};
use netlab::webrtc::{signaling, stun_server, turn};
use std::any::Any;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

common::wrong_solutions! {
    fn policy_of(m) -> Arc<dyn Policy> { Arc::new(m::Mine) }
    student policy, solution solution;
    max_high fails [1, 3, 4]: "2^32 × MAX + 2 × MIN: a host–relay pair outranks a server-reflexive pair";
    no_tie_break fails [2, 3, 4]: "leaves out (G > D ? 1 : 0): a pair and its mirror image tie";
    low_word_i32 fails [1, 3, 4, 8, 9]: "2 × MAX as a shifted i32: wraps negative for every host and server-reflexive candidate";
    best_even_if_invalid fails [5, 7, 8, 9]: "nominates the pair of the highest priority whether its check succeeded or not";
    first_valid fails [6]: "nominates the first valid pair in the list, not the valid pair of the highest priority";
    local_base_only fails [9]: "skips valid pairs whose local candidate is server- or peer-reflexive, as if pruned: across a NAT every direct one is";
    no_relay fails [8, 9]: "never nominates a pair through a TURN relay: behind a symmetric NAT nothing else gets through";
}

/// One candidate of the check's two agents.
#[derive(Clone, Copy)]
struct Cand {
    name: &'static str,
    kind: CandidateKind,
    addr: &'static str,
}

impl Cand {
    /// §5.1.2.1 with the recommended type preference, one interface (local preference
    /// 65535), component 1: the number the agent puts on the `a=candidate` line.
    fn priority(&self) -> u32 {
        candidate_priority(self.kind, 65535, 1)
    }

    fn addr(&self) -> SocketAddr {
        self.addr
            .parse()
            .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into())
    }
}

// Two homes behind NATs and a TURN server, in the documentation ranges (RFC 5737).
const A_HOST: Cand = Cand {
    name: "A host",
    kind: CandidateKind::Host,
    addr: "192.0.2.10:40001",
};
const A_SRFLX: Cand = Cand {
    name: "A srflx",
    kind: CandidateKind::ServerReflexive,
    addr: "203.0.113.1:50001",
};
const A_RELAY: Cand = Cand {
    name: "A relay",
    kind: CandidateKind::Relayed,
    addr: "198.51.100.7:49152",
};
const B_HOST: Cand = Cand {
    name: "B host",
    kind: CandidateKind::Host,
    addr: "192.0.2.20:40002",
};
const B_SRFLX: Cand = Cand {
    name: "B srflx",
    kind: CandidateKind::ServerReflexive,
    addr: "203.0.113.2:50002",
};
const B_RELAY: Cand = Cand {
    name: "B relay",
    kind: CandidateKind::Relayed,
    addr: "198.51.100.7:49153",
};
/// B's address as A saw it in B's check: learned, not signalled (§7.3.1.3).
const B_PRFLX: Cand = Cand {
    name: "B prflx",
    kind: CandidateKind::PeerReflexive,
    addr: "203.0.113.2:50003",
};

/// The text of a panic's payload.
fn panic_text(e: &Box<dyn Any + Send>) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// The policy's pair priority, a panic reported as a failure.
fn priority_of(p: &dyn Policy, g: u32, d: u32) -> Result<u64, String> {
    panic::catch_unwind(AssertUnwindSafe(|| p.pair_priority(g, d)))
        .map_err(|e| format!("pair_priority({g}, {d}) panicked: {}", panic_text(&e)))
}

/// The same, for a pair of two candidates: `g` is A's (controlling), `d` B's.
fn pair_of(p: &dyn Policy, g: &Cand, d: &Cand) -> Result<u64, String> {
    priority_of(p, g.priority(), d.priority())
}

/// What a wrong number most likely is, in a few words (empty if nothing fits).
fn diagnose(g: u32, d: u32, got: u64) -> &'static str {
    let (min, max, bit) = (u64::from(g.min(d)), u64::from(g.max(d)), u64::from(g > d));
    let want = (min << 32) + 2 * max + bit;
    if got == 0 {
        " (still the starter's 0?)"
    } else if got == (max << 32) + 2 * min + bit {
        " = 2^32 × MAX + 2 × MIN: the high word is the smaller priority, since a pair is only as good as its worse end"
    } else if got.wrapping_add(1 << 32) == want {
        " = 2^32 less than expected: the low word 2 × MAX (up to 2^32 − 2) does not fit in 32 signed bits"
    } else if bit == 1 && got == want - 1 {
        " = one less: the last term, (G > D ? 1 : 0), is missing (or the wrong way round)"
    } else if bit == 0 && got == want + 1 {
        " = one more: the last term the wrong way round; it is 1 when G > D (the controlling agent's candidate is the better one)"
    } else {
        ""
    }
}

/// Compares the policy with the RFC's number on each `(G, D, expected)`.
fn table(p: &dyn Policy, rows: &[(String, u32, u32, u64)]) -> Result<(), String> {
    let mut wrong = Vec::new();
    for (what, g, d, want) in rows {
        let (g, d, want) = (*g, *d, *want);
        let got = priority_of(p, g, d)?;
        if got != want {
            let bit = u8::from(g > d);
            wrong.push(format!(
                "{what} (G = {g}, D = {d}): expected {want} = 2^32 × {} + 2 × {} + {bit}, got {got}{}",
                g.min(d),
                g.max(d),
                diagnose(g, d, got)
            ));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "wrong for {} of {}:\n      {}",
            wrong.len(),
            rows.len(),
            wrong.join("\n      ")
        ))
    }
}

/// Is the policy's answer written in the file, not borrowed from netlab's own (`Rfc`,
/// `highest_valid`, the free `pair_priority`)? `source` is the code without comments.
fn borrowed(source: &str) -> Option<String> {
    let uses_free_fn = source
        .lines()
        .any(|l| l.trim_start().starts_with("use ") && l.contains("pair_priority"));
    let hit = [
        "Rfc",
        "highest_valid",
        "priority::pair_priority",
        "priority::*",
    ]
    .into_iter()
    .find(|w| source.contains(w))
    .or(uses_free_fn.then_some("pair_priority"));
    hit.map(|w| {
        format!(
            "expected a policy written in this file; it borrows netlab's own ({w} from src/webrtc/ice/priority.rs)\n      likely: the lab's point is the arithmetic and the choice; write them here, then compare with priority.rs"
        )
    })
}

/// Step 1: 2^32 × MIN + 2 × MAX on pairs where the last term is 0.
fn formula(p: &dyn Policy, source: &str) -> Result<(), String> {
    if let Some(why) = borrowed(source) {
        return Err(why);
    }
    let row = |g: Cand, d: Cand, want| {
        (
            format!("{} with {}", g.name, d.name),
            g.priority(),
            d.priority(),
            want,
        )
    };
    table(
        p,
        &[
            row(A_HOST, B_HOST, 9_151_314_442_783_293_438),
            row(A_SRFLX, B_HOST, 7_277_816_997_797_167_102),
            row(A_SRFLX, B_SRFLX, 7_277_816_996_924_751_870),
            row(A_RELAY, B_HOST, 72_057_594_004_373_502),
            row(A_RELAY, B_SRFLX, 72_057_593_131_958_270),
            row(A_RELAY, B_RELAY, 72_057_589_776_515_070),
        ],
    )
}

/// Step 2: a pair and its mirror image (the two priorities swapped) differ by one, the pair
/// whose controlling agent's candidate is the better one (G > D) above; and each agent,
/// computing from its own side, gets the same number.
fn tie_break(p: &dyn Policy) -> Result<(), String> {
    for (g, d) in [(A_HOST, B_SRFLX), (A_HOST, B_RELAY), (A_SRFLX, B_RELAY)] {
        // The mirror pair: the same kinds, the other way round (A's srflx with B's host …).
        let (mg, md) = match (g.kind, d.kind) {
            (CandidateKind::Host, CandidateKind::ServerReflexive) => (A_SRFLX, B_HOST),
            (CandidateKind::Host, _) => (A_RELAY, B_HOST),
            _ => (A_RELAY, B_SRFLX),
        };
        let both = |g: &Cand, d: &Cand| -> Result<u64, String> {
            // A controls: its local candidate is G. B is controlled: its local one is D.
            let a =
                guarded(|| pair_priority_for(p, Role::Controlling, g.priority(), d.priority()))?;
            let b = guarded(|| pair_priority_for(p, Role::Controlled, d.priority(), g.priority()))?;
            if a != b {
                return Err(format!(
                    "{} with {}: A (controlling) computed {a}, B (controlled) {b}: the same call, pair_priority(G, D), gave two answers",
                    g.name, d.name
                ));
            }
            Ok(a)
        };
        let (high, low) = (both(&g, &d)?, both(&mg, &md)?);
        if high == low {
            return Err(format!(
                "{} with {} and {} with {} both got {high}: the same MIN and MAX, and nothing tells them apart, so two agents can order them differently and their checks miss each other; the last term, (G > D ? 1 : 0), is there for this (§6.1.2.3)",
                g.name, d.name, mg.name, md.name
            ));
        }
        if high != low.wrapping_add(1) {
            return Err(format!(
                "{} with {} (G > D) got {high} and its mirror {} with {} (G < D) got {low}: expected the first to be exactly one more (the last term, G > D ? 1 : 0)",
                g.name, d.name, mg.name, md.name
            ));
        }
    }
    Ok(())
}

/// Runs one call into the policy, a panic reported as a failure.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f))
        .map_err(|e| format!("the policy panicked: {}", panic_text(&e)))
}

/// Step 3: the largest and smallest priorities §5.1.2.1 allows (1 … 2^31 − 1).
fn extremes(p: &dyn Policy) -> Result<(), String> {
    const TOP: u32 = (1 << 31) - 1;
    let row = |what: &str, g, d, want| (what.to_string(), g, d, want);
    table(
        p,
        &[
            row("both 1", 1, 1, 4_294_967_298),
            row("both 2^31 − 1", TOP, TOP, 9_223_372_036_854_775_806),
            row("2^31 − 1 with 1", TOP, 1, 8_589_934_591),
            row("1 with 2^31 − 1", 1, TOP, 8_589_934_590),
            row(
                "2^31 − 1 with 2^31 − 2",
                TOP,
                TOP - 1,
                9_223_372_032_559_808_511,
            ),
            row(
                "2^31 − 2 with 2^31 − 1",
                TOP - 1,
                TOP,
                9_223_372_032_559_808_510,
            ),
        ],
    )
}

/// Step 4: A's nine pairs, formed as A's candidates met B's, sorted by the policy's
/// priority, highest first (§6.1.2.5): the order of the RFC's numbers, and no two equal.
fn check_list(p: &dyn Policy) -> Result<(), String> {
    let mut pairs = Vec::new();
    for g in [A_HOST, A_SRFLX, A_RELAY] {
        for d in [B_HOST, B_SRFLX, B_RELAY] {
            pairs.push((g, d, pair_of(p, &g, &d)?));
        }
    }
    pairs.sort_by_key(|p| std::cmp::Reverse(p.2));
    let name = |(g, d, _): &(Cand, Cand, u64)| format!("{}–{}", g.name, d.name);
    if let Some(w) = pairs.windows(2).find(|w| w[0].2 == w[1].2) {
        return Err(format!(
            "{} and {} have the same priority, {}: their order in a sorted check list is the order they were formed in, which is not the same on both agents (§6.1.2.3's last term breaks such ties)",
            name(&w[0]),
            name(&w[1]),
            w[0].2
        ));
    }
    let want = [
        (A_HOST, B_HOST),
        (A_HOST, B_SRFLX),
        (A_SRFLX, B_HOST),
        (A_SRFLX, B_SRFLX),
        (A_HOST, B_RELAY),
        (A_RELAY, B_HOST),
        (A_SRFLX, B_RELAY),
        (A_RELAY, B_SRFLX),
        (A_RELAY, B_RELAY),
    ];
    let got: Vec<String> = pairs.iter().map(name).collect();
    let expected: Vec<String> = want
        .iter()
        .map(|(g, d)| format!("{}–{}", g.name, d.name))
        .collect();
    if got != expected {
        let first = got
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!(
            "the check list, highest first, is\n        {}\n      expected\n        {}\n      (first difference at place {}: every pair with a relay comes after every direct pair, since MIN(G,D) counts most)",
            got.join(", "),
            expected.join(", "),
            first + 1
        ));
    }
    Ok(())
}

/// A pair as the agent shows it to `nominate`, with the RFC's priority (so that a mistake
/// in steps 1–4 does not show up again in steps 5–7).
fn view(g: Cand, d: Cand, valid: bool) -> PairView {
    PairView {
        local: g.addr(),
        local_kind: g.kind,
        remote: d.addr(),
        remote_kind: d.kind,
        priority: priority::pair_priority(g.priority(), d.priority()),
        valid,
    }
}

/// A list of pairs for a failure message: `0: A host–B host (invalid)`.
fn listing(pairs: &[PairView]) -> String {
    pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{i}: {} {}–{} {} ({}, priority {})",
                p.local_kind,
                p.local,
                p.remote_kind,
                p.remote,
                if p.valid { "valid" } else { "not valid" },
                p.priority
            )
        })
        .collect::<Vec<_>>()
        .join("\n        ")
}

/// The policy's choice on `pairs`, checked against `want`.
fn nominates(p: &dyn Policy, pairs: &[PairView], want: Option<usize>) -> Result<(), String> {
    let got = guarded(|| p.nominate(pairs))?;
    if got == want {
        return Ok(());
    }
    let said = match got {
        None => "None (keep waiting)".to_string(),
        Some(i) if i >= pairs.len() => {
            format!("Some({i}), past the end of a list of {}", pairs.len())
        }
        Some(i) if !pairs[i].valid => format!(
            "Some({i}), a pair whose check has not succeeded: nobody answered on it, so nominating it (USE-CANDIDATE) leaves the session without a path"
        ),
        Some(i) => format!("Some({i}), valid but not the valid pair of the highest priority"),
    };
    let wanted = match want {
        None => "None: no check has succeeded yet, so wait".to_string(),
        Some(i) => format!("Some({i})"),
    };
    Err(format!(
        "nominate on\n        {}\n      returned {said}; expected {wanted}",
        listing(pairs)
    ))
}

/// Step 5: across two NATs the best pair on paper (host to host) never answers; a valid
/// one below it is nominated.
fn only_valid(p: &dyn Policy, source: &str) -> Result<(), String> {
    if let Some(why) = borrowed(source) {
        return Err(why);
    }
    // A's check list after §6.1.2.4 (its own srflx replaced by its base, the host), sorted.
    let pairs = [
        view(A_HOST, B_HOST, false),
        view(A_HOST, B_SRFLX, true),
        view(A_HOST, B_RELAY, true),
        view(A_RELAY, B_HOST, false),
        view(A_RELAY, B_SRFLX, true),
        view(A_RELAY, B_RELAY, true),
    ];
    nominates(p, &pairs, Some(1))
}

/// Step 6: pairs in the order they were formed (`nominate` promises no order; netlab's agent
/// happens to sort them): B's relay came first by trickle, and B's peer-reflexive address,
/// learned from B's own check, last; B's host was an mDNS name A cannot resolve, so it made
/// no pair.
fn highest_valid(p: &dyn Policy) -> Result<(), String> {
    let pairs = [
        view(A_HOST, B_RELAY, true),
        view(A_RELAY, B_RELAY, true),
        view(A_HOST, B_PRFLX, true),
        view(A_RELAY, B_PRFLX, false),
    ];
    nominates(p, &pairs, Some(2))
}

/// Step 7: checks under way, none succeeded (and an empty list): nothing to nominate.
fn none_valid(p: &dyn Policy) -> Result<(), String> {
    let pairs = [
        view(A_HOST, B_HOST, false),
        view(A_HOST, B_SRFLX, false),
        view(A_RELAY, B_RELAY, false),
    ];
    nominates(p, &pairs, None)?;
    nominates(p, &[], None)
}

/// The policy under test as the live agents call it: every answer goes through, a panic
/// becomes 0 / `None` (and is reported), and the nominations are written down.
struct Recorded {
    inner: Arc<dyn Policy>,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    panic: Option<String>,
    /// How many times the agent asked which pair to nominate.
    asked: usize,
    /// The last time: the pairs it showed and the answer.
    last: Option<(Vec<PairView>, Option<usize>)>,
    /// Every pair priority the agents asked for: (G, D, the policy's answer).
    priorities: Vec<(u32, u32, u64)>,
}

impl Seen {
    /// The RFC's priority of a pair the policy priced at `theirs` (found by the G and D it
    /// was asked about), if it was asked.
    fn rfc(&self, theirs: u64) -> Option<u64> {
        self.priorities
            .iter()
            .find(|(_, _, p)| *p == theirs)
            .map(|(g, d, _)| priority::pair_priority(*g, *d))
    }
}

impl Recorded {
    fn note(&self, f: impl FnOnce(&mut Seen)) {
        if let Ok(mut s) = self.seen.lock() {
            f(&mut s);
        }
    }
}

impl Policy for Recorded {
    fn pair_priority(&self, g: u32, d: u32) -> u64 {
        let p = priority_of(self.inner.as_ref(), g, d).unwrap_or_else(|why| {
            self.note(|s| s.panic = s.panic.take().or(Some(why)));
            0
        });
        self.note(|s| {
            if !s.priorities.contains(&(g, d, p)) {
                s.priorities.push((g, d, p));
            }
        });
        p
    }

    fn nominate(&self, pairs: &[PairView]) -> Option<usize> {
        let got = guarded(|| self.inner.nominate(pairs)).unwrap_or_else(|why| {
            self.note(|s| s.panic = s.panic.take().or(Some(why)));
            None
        });
        self.note(|s| {
            s.asked += 1;
            s.last = Some((pairs.to_vec(), got));
        });
        got
    }
}

/// B's answer with one more candidate line: a "host" candidate at `hole` (a socket of the
/// check's that never answers) with the highest priority a candidate may have, 2^31 − 1.
fn with_black_hole(answer: &str, hole: SocketAddr) -> String {
    let line = format!(
        "a=candidate:99 1 udp 2147483647 {} {} typ host\r\n",
        hole.ip(),
        hole.port()
    );
    let mut out = String::new();
    let mut added = false;
    for l in answer.split_inclusive('\n') {
        // Before the first candidate line, so that A reads it with the others.
        if !added && l.starts_with("a=candidate:") {
            out.push_str(&line);
            added = true;
        }
        out.push_str(l);
    }
    if !added {
        out.push_str(&line);
    }
    out
}

/// The next message on `peer` within `limit`.
fn next_message(peer: &mut Peer, limit: Duration) -> Result<(u16, Message), String> {
    let until = Instant::now() + limit;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match peer.recv(left) {
            Some(Event::Message(id, m)) => return Ok((id, m)),
            Some(Event::Ended(e)) => return Err(format!("the session ended: {e:?}")),
            Some(_) => {}
            None => return Err(format!("no echo within {} s", limit.as_secs())),
        }
    }
}

/// Step 8: two netlab WebRTC peers on loopback, both running the full ICE agent with the
/// policy under test, netlab's own STUN server and TURN server (B relay-only). B's answer
/// gains a candidate at a socket of the check's that never answers, with the highest
/// priority a candidate may have: its pairs are the best on paper and never valid. A must
/// nominate the valid pair the RFC's priorities put first, and a data channel message must
/// cross it and come back.
fn live(policy: Arc<dyn Policy>) -> Result<String, String> {
    let rec = Arc::new(Recorded {
        inner: policy,
        seen: Mutex::new(Seen::default()),
    });
    let stun_socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let stun = stun_server::spawn(stun_socket).map_err(|e| format!("STUN server: {e}"))?;
    let turn_socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let (user, pass) = ("lab13", "lab13-pass");
    let turn_config = turn::Config {
        users: vec![(user.into(), pass.into())],
        ..turn::Config::default()
    };
    let relay = turn::spawn(turn_socket, turn_config).map_err(|e| format!("TURN server: {e}"))?;
    let hole = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let hole_addr = hole.local_addr().map_err(|e| e.to_string())?;
    // B gathers only its relayed candidate, as behind a symmetric NAT (step 5's B with no
    // mapping that works): the path has to go through netlab's TURN server.
    let config = |role, relay_only| Config {
        role,
        relay_only,
        ice: IceMode::Full,
        policy: rec.clone(),
        stun: Some(stun.addr()),
        turn: Some(TurnServer {
            addr: relay.addr(),
            user: user.into(),
            pass: pass.into(),
        }),
        ice_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let identity = || Identity::generate().map_err(|e| format!("DTLS identity: {e}"));
    let offer =
        Peer::offer(&identity()?, config("A", false)).map_err(|e| format!("A's offer: {e}"))?;
    let (b, answer) = Peer::answer(&offer.sdp, &identity()?, config("B", true))
        .map_err(|e| format!("B's answer: {e}"))?;
    let echo = std::thread::spawn(move || signaling::echo(b));
    let result = offer
        .accept(&with_black_hole(&answer, hole_addr))
        .map_err(|e| format!("A: {e}"))
        .and_then(talk);
    let _ = echo.join();
    stun.stop();
    relay.stop();
    let seen = rec
        .seen
        .lock()
        .map_err(|_| "the record of the policy's answers was poisoned".to_string())?;
    let hole_text = format!("{hole_addr} never answers: it is the check's black hole");
    let v = judge(&seen, result, |v| {
        (v.remote == hole_addr).then(|| hole_text.clone())
    })?;
    let views = seen.last.as_ref().map_or(0, |(v, _)| v.len());
    Ok(format!(
        "nominated: {} (pair priority {}), chosen among {views} pairs; a data channel message crossed it and came back",
        ends(&v),
        v.priority,
    ))
}

/// The pair A nominated, if the session worked and it is the valid pair the RFC's priorities
/// put first among those the policy was shown; else why not. `unreachable` says why a pair
/// that is not valid never answered, when the check knows (`None`: it does not).
fn judge(
    seen: &Seen,
    result: Result<(), String>,
    unreachable: impl Fn(&PairView) -> Option<String>,
) -> Result<PairView, String> {
    if let Some(why) = &seen.panic {
        return Err(format!("inside the agent, {why}"));
    }
    if let Err(why) = result {
        return Err(format!(
            "{why}\n      {}",
            never_nominated(seen, &unreachable)
        ));
    }
    let (views, choice) = seen.last.clone().unwrap_or_default();
    let Some(v) = choice.and_then(|i| views.get(i).copied()) else {
        return Err(never_nominated(seen, &unreachable));
    };
    if !v.valid || unreachable(&v).is_some() {
        return Err(never_nominated(seen, &unreachable));
    }
    // The pair the RFC's priorities put first among the valid ones the policy was shown.
    let best = views
        .iter()
        .filter(|w| w.valid)
        .max_by_key(|w| seen.rfc(w.priority).unwrap_or(0));
    if let Some(b) = best.filter(|b| b.local != v.local || b.remote != v.remote) {
        let why = if v.priority > b.priority {
            "your pair_priority ranks them the other way round".to_string()
        } else {
            format!(
                "your nominate passed over a valid pair your own priorities put higher{}",
                reflexive_local(b)
            )
        };
        return Err(format!(
            "A nominated {} (your priority {}), and a data channel crossed it; but by the RFC's pair priority the valid pair to nominate was {} (your priority {}): {why}\n      the pairs A's agent showed your nominate:\n        {}",
            ends(&v),
            v.priority,
            ends(b),
            b.priority,
            listing(&views)
        ));
    }
    Ok(v)
}

/// A pair's two ends for a sentence: `host 127.0.0.1:5000 ↔ relay 127.0.0.1:6000`.
fn ends(v: &PairView) -> String {
    format!(
        "{} {} ↔ {} {}",
        v.local_kind, v.local, v.remote_kind, v.remote
    )
}

/// A's side, B's answer accepted: open a channel, send one message, get its echo.
fn talk(mut a: Peer) -> Result<(), String> {
    let id = a.open("lab13", ChannelType::RELIABLE);
    let mut exchange = || -> Result<(), String> {
        a.wait_open(Duration::from_secs(8))
            .map_err(|e| format!("the data channel did not open: {e}"))?;
        let hello = Message::Text("lab 13: over the nominated pair".into());
        a.send(id, hello.clone())
            .map_err(|e| format!("send: {e}"))?;
        match next_message(&mut a, Duration::from_secs(5))? {
            (got, m) if got == id && m == hello => Ok(()),
            (got, m) => Err(format!("the echo came on channel {got}: {m:?}")),
        }
    };
    let outcome = exchange();
    a.close();
    outcome
}

/// What a valid pair whose local candidate is reflexive is, for a failure message (empty for
/// other pairs): only a NAT makes one.
fn reflexive_local(v: &PairView) -> String {
    match v.local_kind {
        CandidateKind::ServerReflexive | CandidateKind::PeerReflexive => format!(
            "; its local candidate, {} {}, is A as B saw it, outside A's NAT: a check leaves from the base (the host candidate), and the valid pair it makes has the address its answer names in XOR-MAPPED-ADDRESS (§7.2.5.3.2), so across a NAT every direct valid pair has a reflexive local candidate",
            v.local_kind, v.local
        ),
        _ => String::new(),
    }
}

/// Why A never selected a pair, from what the policy was shown and answered.
fn never_nominated(seen: &Seen, unreachable: &dyn Fn(&PairView) -> Option<String>) -> String {
    let Some((views, got)) = &seen.last else {
        return "A's agent never asked the policy to nominate: no check succeeded".into();
    };
    let said = match got {
        None if views.iter().any(|v| v.valid && relayed(v) == 0) => {
            "None: keep waiting, though a valid pair was there".to_string()
        }
        None if views.iter().any(|v| v.valid) => {
            "None: keep waiting, though valid pairs were there, every one through the TURN relay: when nothing direct gets through (a symmetric NAT, a relay-only peer), the relay is the path, last in priority but not out".to_string()
        }
        None => "None: no valid pair to choose from".to_string(),
        Some(i) => match views.get(*i) {
            Some(v) if !v.valid => format!(
                "Some({i}), a pair that is not valid ({}); the agent refused it and asked again",
                unreachable(v).unwrap_or_else(|| "its check has not succeeded".into())
            ),
            _ => format!("Some({i})"),
        },
    };
    format!(
        "A's agent asked the policy {} time(s) which pair to nominate, the last on\n        {}\n      nominate returned {said}",
        seen.asked,
        listing(views)
    )
}

/// Why this machine cannot build step 9's topology, if it cannot: network namespaces and
/// nftables need root, `ip` (iproute2) and `nft` (nftables).
fn nat_unavailable() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    });
    if !root {
        return Some(
            "needs root: it makes network namespaces and two nftables NATs (all removed when it ends); run the check as root: sudo env \"PATH=$PATH\" make check LAB=13".into(),
        );
    }
    for (tool, flag, package) in [("ip", "-V", "iproute2"), ("nft", "--version", "nftables")] {
        let ran = std::process::Command::new(tool)
            .arg(flag)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if !ran.is_ok_and(|s| s.success()) {
            return Some(format!(
                "needs `{tool}` ({package}), which this machine lacks: make deps installs it"
            ));
        }
    }
    None
}

/// netlab's STUN and TURN servers in the topology's public namespace. Stopped from inside it:
/// a stop wakes its server with a datagram to the server's address, which only that
/// namespace can reach. Declared after the topology, so dropped before it.
struct PublicServers {
    ns: String,
    stun: SocketAddr,
    turn: SocketAddr,
    running: Vec<Background>,
}

impl PublicServers {
    fn start(ns: &str) -> Result<PublicServers, String> {
        let servers = netns::Servers::default();
        let (stun, turn) = (SocketAddr::V4(servers.stun), SocketAddr::V4(servers.turn));
        let running = netns::in_namespace(ns, move || -> Result<Vec<Background>, String> {
            let bind = |a| UdpSocket::bind(a).map_err(|e| format!("bind {a}: {e}"));
            let stun = stun_server::spawn(bind(stun)?).map_err(|e| format!("STUN server: {e}"))?;
            let config = turn::Config {
                users: vec![(NAT_USER.into(), NAT_PASS.into())],
                ..turn::Config::default()
            };
            // The relay sockets are made by the server's thread, started here: in `ns`.
            let relay =
                turn::spawn(bind(turn)?, config).map_err(|e| format!("TURN server: {e}"))?;
            Ok(vec![stun, relay])
        })
        .map_err(|e| e.to_string())??;
        Ok(PublicServers {
            ns: ns.to_string(),
            stun,
            turn,
            running,
        })
    }
}

impl Drop for PublicServers {
    fn drop(&mut self) {
        let running = std::mem::take(&mut self.running);
        if std::path::Path::new("/run/netns").join(&self.ns).exists() {
            let _ = netns::in_namespace(&self.ns, move || {
                running.into_iter().for_each(Background::stop)
            });
        } else {
            // The namespace is gone, and a wake from here could not reach the servers (it
            // could only go astray): their threads end with the process.
            std::mem::forget(running);
        }
    }
}

const NAT_USER: &str = "lab13";
const NAT_PASS: &str = "lab13-pass";

/// How one NAT run ended: the pair A nominated, or why the check fails.
struct NatRun {
    nominated: PairView,
    shown: usize,
}

/// One session across the topology's NATs as they are: A offering in home A, B answering in
/// home B, both full ICE agents with the policy under test, each gathering a host, a
/// server-reflexive and a relayed candidate from netlab's servers in the public namespace;
/// then a data channel message from A to B and back. Each peer is made inside its home
/// (its socket and threads live there); the check's own thread never leaves the root
/// namespace.
fn nat_run(
    topology: &Topology,
    servers: &PublicServers,
    policy: Arc<dyn Policy>,
) -> Result<NatRun, String> {
    let rec = Arc::new(Recorded {
        inner: policy,
        seen: Mutex::new(Seen::default()),
    });
    let config = |role, ip| Config {
        role,
        ip: IpAddr::V4(ip),
        ice: IceMode::Full,
        policy: rec.clone(),
        stun: Some(servers.stun),
        turn: Some(TurnServer {
            addr: servers.turn,
            user: NAT_USER.into(),
            pass: NAT_PASS.into(),
        }),
        ice_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let (a_config, b_config) = (config("A", topology.a.addr), config("B", topology.b.addr));
    let identity = || Identity::generate().map_err(|e| format!("DTLS identity: {e}"));
    let (a_id, b_id) = (identity()?, identity()?);
    let home = |e: netns::NetnsError| e.to_string();
    let offer = netns::in_namespace(&topology.a.host, move || Peer::offer(&a_id, a_config))
        .map_err(home)?
        .map_err(|e| format!("A's offer: {e}"))?;
    let sdp = offer.sdp.clone();
    let (b, answer) = netns::in_namespace(&topology.b.host, move || {
        Peer::answer(&sdp, &b_id, b_config)
    })
    .map_err(home)?
    .map_err(|e| format!("B's answer: {e}"))?;
    let echo = std::thread::spawn(move || signaling::echo(b));
    let result = netns::in_namespace(&topology.a.host, move || offer.accept(&answer))
        .map_err(home)
        .and_then(|a| a.map_err(|e| format!("A: {e}")))
        .and_then(talk);
    let _ = echo.join();
    let seen = rec
        .seen
        .lock()
        .map_err(|_| "the record of the policy's answers was poisoned".to_string())?;
    let nominated = judge(&seen, result, |v| across_nats(v, topology))?;
    Ok(NatRun {
        nominated,
        shown: seen.last.as_ref().map_or(0, |(v, _)| v.len()),
    })
}

/// Why a pair cannot work across the topology's NATs, when the check can tell.
fn across_nats(v: &PairView, topology: &Topology) -> Option<String> {
    let relay = v.local_kind == CandidateKind::Relayed || v.remote_kind == CandidateKind::Relayed;
    if v.remote_kind == CandidateKind::Host && !relay {
        return Some(format!(
            "{} is B's address inside home B: from home A there is no route to it, so host candidates never work across two NATs",
            v.remote
        ));
    }
    if topology.a.kind == Nat::Symmetric && !relay {
        return Some(
            "home A's NAT is symmetric: its server-reflexive port was mapped for the STUN server only, and a check to B leaves through a new port B's NAT does not let in: only a relay gets through"
                .into(),
        );
    }
    None
}

fn relayed(v: &PairView) -> usize {
    [v.local_kind, v.remote_kind]
        .iter()
        .filter(|k| **k == CandidateKind::Relayed)
        .count()
}

/// Step 9: the NAT situations of step 5 for real. One topology (`netlab nat`'s, built with
/// src/l4/netns.rs), two runs: both homes behind endpoint-independent NATs, where host pairs
/// fail and the server-reflexive pair works (no relay needed); then home A's NAT made
/// symmetric, where only pairs through the TURN relay work, and the right one crosses it
/// once. Each time A must nominate the valid pair the RFC's priorities put first, and a data
/// channel message must cross it and come back.
fn nat(policy: Arc<dyn Policy>) -> Result<String, String> {
    let mut topology = Topology::up(Nat::EndpointIndependent, Nat::EndpointIndependent)
        .map_err(|e| format!("the NAT topology: {e}"))?;
    let servers = PublicServers::start(&topology.public)?;
    let names = format!("{}*", topology.public.trim_end_matches("pub"));
    let eim = nat_run(&topology, &servers, policy.clone())
        .map_err(|why| format!("both NATs endpoint-independent: {why}"))?;
    let v = eim.nominated;
    if relayed(&v) > 0 {
        return Err(format!(
            "both NATs endpoint-independent: A nominated {}, through the TURN relay, though the RFC's priorities put a direct pair first",
            ends(&v)
        ));
    }
    topology
        .a
        .set_nat(Nat::Symmetric)
        .map_err(|e| format!("making NAT A symmetric: {e}"))?;
    let sym =
        nat_run(&topology, &servers, policy).map_err(|why| format!("NAT A symmetric: {why}"))?;
    let w = sym.nominated;
    if relayed(&w) != 1 {
        return Err(format!(
            "NAT A symmetric: A nominated {}, which is not one TURN hop",
            ends(&w)
        ));
    }
    Ok(format!(
        "both NATs endpoint-independent: nominated {} (pair priority {}) among {} pairs, no relay\n      NAT A symmetric: nominated {} (pair priority {}) among {} pairs, one TURN hop\n      a data channel message crossed each and came back (namespaces {names})",
        ends(&v),
        v.priority,
        eim.shown,
        ends(&w),
        w.priority,
        sym.shown
    ))
}

fn main() {
    // Before any thread starts (the watchdog, the peers): Ctrl-C, SIGTERM and SIGHUP then
    // remove step 9's namespaces before the process ends.
    netns::remove_on_signals();
    let (mut check, subject) = Check::start(
        "13 (ICE: pair priority and nomination)",
        "labs/13-ice-pairs/policy.rs",
        WRONG,
        Duration::from_secs(30),
    );
    let policy = policy_of(&subject);
    // The code only: the starter's comments name the formula and the trait's file.
    let source: String = common::source_of("labs/13-ice-pairs/policy.rs", &subject, WRONG)
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    check.nothing_to_serve(
        "a policy the ICE agent calls, driven by the check",
        &[
            "make check LAB=13   (your policy on RFC 8445's formulas, on check lists of NAT situations, and live in two netlab peers)",
            "netlab's own ICE arithmetic: src/webrtc/ice/priority.rs, and its tests: cargo test --lib webrtc::ice::priority",
            "netlab's own policy choosing live: netlab turn serve &  netlab webrtc serve --ice full --turn turn:127.0.0.1:3479 --relay-only &",
            "  then: NETLAB_TRACE=stun netlab webrtc connect --ice full --turn turn:127.0.0.1:3479 http://127.0.0.1:8090/webrtc hello   (the pairs, their priorities, the nomination and why)",
        ],
    );
    let p = policy.as_ref();
    check.step(
        "pair priority 2^32 × MIN(G,D) + 2 × MAX(G,D) for host, srflx and relay candidates (G ≤ D)",
        || formula(p, &source),
    );
    check.step(
        "the tie-break bit: a pair and its mirror image differ by one, the same on both agents",
        || tie_break(p),
    );
    check.step(
        "extreme valid priorities (1 and 2^31 − 1): the right number, no overflow",
        || extremes(p),
    );
    check.step(
        "A's check list of nine pairs, sorted by your priorities: direct pairs first, relays last, no ties",
        || check_list(p),
    );
    check.step(
        "nomination across two NATs: host to host failed, the best valid pair is nominated",
        || only_valid(p, &source),
    );
    check.step(
        "nomination from pairs in the order they were formed: the valid pair of the highest priority",
        || highest_valid(p),
    );
    check.step(
        "no valid pair yet (or none at all): nominate nothing",
        || none_valid(p),
    );
    let mut shown = None;
    check.step(
        "live: two netlab peers on loopback, full ICE with your policy, netlab's STUN and TURN servers, B relay-only; the best pair on paper never answers; the best valid one is nominated and a data channel message crosses it",
        || live(policy.clone()).map(|s| shown = Some(s)),
    );
    if let Some(s) = shown.take() {
        println!("      {s}");
    }
    const NAT_STEP: &str = "live across NATs: two netlab peers in two homes, full ICE with your policy; behind endpoint-independent NATs the server-reflexive pair is nominated, behind a symmetric one the pair through the relay, and a message crosses each";
    match nat_unavailable() {
        Some(why) => check.cannot_run(NAT_STEP, &why),
        None => {
            check.clean_up_on_timeout(netns::remove_live);
            check.step(NAT_STEP, || nat(policy.clone()).map(|s| shown = Some(s)));
        }
    }
    if let Some(s) = shown {
        println!("      {s}");
    }
    check.finish()
}
