//! The full ICE agent (RFC 8445), without I/O: candidates in, STUN datagrams and decisions
//! out. The socket loop ([`crate::webrtc::socket`]) feeds it every STUN datagram with the
//! local address it arrived on, calls [`Agent::tick`] every few tens of milliseconds, and
//! sends what [`Agent::poll_transmit`] hands back.
//!
//! What it does, in the RFC's order:
//! 1. candidates: local ones as they are gathered ([`Agent::add_local`]), remote ones from
//!    the SDP or trickled ([`Agent::add_remote`], impossible ones refused);
//! 2. pairs (§6.1.2): every local with every remote of the same family, prioritised by the
//!    [`Policy`]; a server-reflexive local is replaced by its base and the duplicate pruned;
//! 3. checks (§6.1.4, §7.2): one ordinary or triggered check every Ta, retransmitted until
//!    answered or failed; the answer makes a pair valid, its XOR-MAPPED-ADDRESS may teach a
//!    peer-reflexive local candidate;
//! 4. checks from the peer (§7.3): answered, a peer-reflexive remote learned from an unknown
//!    source, a triggered check queued; a role conflict settled by the tie-breakers (487);
//! 5. nomination (§8.1): the controlling agent asks [`Policy::nominate`] which valid pair,
//!    and checks it again with USE-CANDIDATE; the controlled agent follows;
//! 6. consent freshness (RFC 7675): a check on the selected pair every ~5 s; 30 s without an
//!    answer ends the session.

use super::candidate::{Candidate, CandidateError};
use super::priority::{self, CandidateKind, PairView, Policy, Role};
use super::{
    ATTR_ICE_CONTROLLED, ATTR_ICE_CONTROLLING, ATTR_PRIORITY, ATTR_USE_CANDIDATE, Credentials,
    IceError, Reply, Responder,
};
use crate::trace::{self, Layer};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stun::agent::TransactionId;
use stun::attributes::ATTR_USERNAME;
use stun::error_code::{CODE_ROLE_CONFLICT, ErrorCodeAttribute};
use stun::integrity::MessageIntegrity;
use stun::message::{
    BINDING_ERROR, BINDING_REQUEST, CLASS_ERROR_RESPONSE, CLASS_SUCCESS_RESPONSE, Getter, Message,
};
use stun::textattrs::TextAttribute;
use stun::xoraddr::XorMappedAddress;

/// RFC 8445 §14.2: Ta, the pace of new checks (50 ms; one per tick of the socket loop).
pub const TA: Duration = Duration::from_millis(50);
/// RFC 8489 §6.2.1: Rc, the sends of one check before it fails.
const MAX_SENDS: u32 = 7;
/// The first retransmission timeout, doubled each time up to [`MAX_RTO`] (RFC 8445 §14.3).
const FIRST_RTO: Duration = Duration::from_millis(250);
const MAX_RTO: Duration = Duration::from_secs(1);
/// RFC 8445 §6.1.2.5: the check list's limit.
const MAX_PAIRS: usize = 100;
/// Remote candidates kept; more are refused (a trickle flood costs nothing to send).
const MAX_REMOTE: usize = 32;
/// How long the controlling agent waits, after the first valid pair, for better ones.
const NOMINATION_WAIT: Duration = Duration::from_millis(500);

/// Settings of one agent.
#[derive(Clone)]
pub struct Settings {
    pub role: Role,
    /// RFC 8445 §7.1.3: a random 64-bit number, compared on a role conflict.
    pub tie_breaker: u64,
    pub local: Credentials,
    pub remote: Credentials,
    /// Lab 13: who computes pair priorities and picks the pair to nominate.
    pub policy: Arc<dyn Policy>,
    /// RFC 7675 §5.1: a consent check this often on the selected pair (about 5 s).
    pub consent_interval: Duration,
    /// RFC 7675 §5.1: consent is lost after this long without an answer (30 s).
    pub consent_timeout: Duration,
}

/// A datagram to send: from the local candidate whose base is `local` (a relayed one goes
/// through the TURN client), to `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub local: SocketAddr,
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

/// What the agent decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The pair is nominated: DTLS goes there.
    Selected { local: Candidate, remote: Candidate },
    /// RFC 7675 §5.1: no answer to consent checks for the consent timeout.
    ConsentLost { ms: u128 },
}

/// RFC 8445 §6.1.2.6: a pair's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Frozen,
    Waiting,
    InProgress,
    Succeeded,
    Failed,
}

/// A check in flight.
#[derive(Clone, Debug)]
struct Txn {
    tid: [u8; 12],
    request: Vec<u8>,
    use_candidate: bool,
    sends: u32,
    next: Instant,
    rto: Duration,
}

#[derive(Clone, Debug)]
struct Local {
    cand: Candidate,
    /// RFC 8445 §5.1.1: the address checks leave from (itself for host and relayed ones).
    base: SocketAddr,
}

#[derive(Clone, Debug)]
struct Pair {
    local: usize,
    remote: usize,
    priority: u64,
    state: State,
    valid: bool,
    /// Controlled: the peer's USE-CANDIDATE came before our own check succeeded (§7.3.1.5).
    nominate_on_success: bool,
    /// §7.2.5.3.2: the valid pair this pair's successful check produced: itself, or (when
    /// the answer's mapped address is another local candidate, a NAT's) that one's pair.
    valid_pair: Option<usize>,
    txn: Option<Txn>,
}

/// The agent.
pub struct Agent {
    s: Settings,
    locals: Vec<Local>,
    remotes: Vec<Candidate>,
    pairs: Vec<Pair>,
    triggered: VecDeque<usize>,
    next_check: Option<Instant>,
    first_valid: Option<Instant>,
    nominating: Option<usize>,
    selected: Option<usize>,
    consent_sent: VecDeque<[u8; 12]>,
    last_consent: Option<Instant>,
    next_consent: Option<Instant>,
    lost: bool,
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Agent {
    pub fn new(settings: Settings) -> Agent {
        trace::event(Layer::Stun, || {
            format!(
                "ICE agent (full, RFC 8445): {} with tie-breaker {:#018x}",
                role_name(settings.role),
                settings.tie_breaker
            )
        });
        Agent {
            s: settings,
            locals: Vec::new(),
            remotes: Vec::new(),
            pairs: Vec::new(),
            triggered: VecDeque::new(),
            next_check: None,
            first_valid: None,
            nominating: None,
            selected: None,
            consent_sent: VecDeque::new(),
            last_consent: None,
            next_consent: None,
            lost: false,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The other side's credentials, once its SDP is known (an offerer gathers before).
    pub fn set_remote(&mut self, remote: Credentials) {
        self.s.remote = remote;
    }

    /// The local candidates gathered, as SDP `a=candidate:` values (not the peer-reflexive
    /// ones learned from checks, which are never signalled: RFC 8445 §7.2.5.3.1).
    pub fn candidate_lines(&self) -> Vec<String> {
        self.locals
            .iter()
            .filter(|l| l.cand.kind != CandidateKind::PeerReflexive)
            .map(|l| l.cand.to_sdp())
            .collect()
    }

    /// Is `addr` one of our candidates already?
    pub fn has_local(&self, addr: SocketAddr) -> bool {
        self.locals.iter().any(|l| l.cand.addr == addr)
    }

    /// Is `addr` the remote end of a valid pair?
    pub fn is_valid_remote(&self, addr: SocketAddr) -> bool {
        self.pairs
            .iter()
            .any(|p| p.valid && self.remotes[p.remote].addr == addr)
    }

    /// The remote candidates' addresses (a TURN client permits them).
    pub fn remote_addrs(&self) -> Vec<SocketAddr> {
        self.remotes.iter().map(|r| r.addr).collect()
    }

    pub fn role(&self) -> Role {
        self.s.role
    }

    /// The selected pair's addresses (local base, remote), once nominated.
    pub fn selected(&self) -> Option<(SocketAddr, SocketAddr)> {
        let p = &self.pairs[self.selected?];
        Some((self.locals[p.local].base, self.remotes[p.remote].addr))
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// RFC 8445 §5.1.2.1: a gathered candidate of `kind` at `addr`, checks leaving from `base`;
    /// returns it with its priority and foundation, for the SDP or a trickle.
    pub fn add_local(
        &mut self,
        kind: CandidateKind,
        addr: SocketAddr,
        base: SocketAddr,
        related: Option<SocketAddr>,
    ) -> Candidate {
        // Local preference: the first candidate of a kind is preferred, then the next …
        let same_kind = self.locals.iter().filter(|l| l.cand.kind == kind).count();
        let local_pref = 65535u16.saturating_sub(same_kind as u16);
        let cand = Candidate {
            foundation: self.foundation(kind, base),
            priority: priority::candidate_priority(kind, local_pref, 1),
            addr,
            kind,
            related,
        };
        trace::event(Layer::Stun, || {
            format!("local candidate gathered: {cand} (base {base})")
        });
        self.locals.push(Local {
            cand: cand.clone(),
            base,
        });
        self.form_pairs();
        cand
    }

    /// RFC 8445 §5.1.1.3: the same foundation for the same kind and base address.
    fn foundation(&self, kind: CandidateKind, base: SocketAddr) -> String {
        let same = self
            .locals
            .iter()
            .find(|l| l.cand.kind == kind && l.base.ip() == base.ip());
        match same {
            Some(l) => l.cand.foundation.clone(),
            None => (self.locals.len() + 1).to_string(),
        }
    }

    /// A remote candidate from the SDP or trickled: refused with a traced reason when no
    /// agent could use it.
    pub fn add_remote(&mut self, line: &str) -> Result<(), CandidateError> {
        let cand = match Candidate::parse(line) {
            Ok(c) => c,
            Err(e) => {
                trace::received(Layer::Stun, || format!("remote candidate refused: {e}"));
                return Err(e);
            }
        };
        if let Some(known) = self.remotes.iter_mut().find(|r| r.addr == cand.addr) {
            // RFC 8838 §11: a check came first and taught it as peer-reflexive; the signalled
            // kind replaces that one (its priority stays, so the pairs' order does not move).
            if known.kind == CandidateKind::PeerReflexive && cand.kind != known.kind {
                known.kind = cand.kind;
                known.foundation = cand.foundation;
                let known = known.clone();
                trace::received(Layer::Stun, || {
                    format!(
                        "remote candidate: {known} (learned as peer-reflexive from a check first)"
                    )
                });
            }
            return Ok(());
        }
        if self.remotes.len() >= MAX_REMOTE {
            trace::received(Layer::Stun, || {
                format!("remote candidate {cand} ignored: already {MAX_REMOTE} remote candidates")
            });
            return Ok(());
        }
        trace::received(Layer::Stun, || format!("remote candidate: {cand}"));
        self.remotes.push(cand);
        self.form_pairs();
        Ok(())
    }

    /// RFC 8445 §6.1.2.2-§6.1.2.4: pairs every local candidate (a server-reflexive one by
    /// its base, which makes it a duplicate of the host pair, pruned) with every remote of the
    /// same family. A loopback address reaches only loopback ones.
    fn form_pairs(&mut self) {
        for li in 0..self.locals.len() {
            if matches!(
                self.locals[li].cand.kind,
                CandidateKind::ServerReflexive | CandidateKind::PeerReflexive
            ) {
                continue;
            }
            for ri in 0..self.remotes.len() {
                self.add_pair(li, ri, State::Frozen);
            }
        }
    }

    /// A pair, unless it exists, cannot work, or the list is full; its index.
    fn add_pair(&mut self, li: usize, ri: usize, state: State) -> Option<usize> {
        if let Some(i) = self.find_pair(li, ri) {
            return Some(i);
        }
        let (l, r) = (&self.locals[li], &self.remotes[ri]);
        let reachable = l.base.is_ipv4() == r.addr.is_ipv4()
            && l.base.ip().is_loopback() == r.addr.ip().is_loopback();
        if !reachable {
            return None;
        }
        if self.pairs.len() >= MAX_PAIRS {
            trace::event(Layer::Stun, || {
                format!(
                    "pair {} ↔ {} pruned: the check list holds {MAX_PAIRS} pairs (RFC 8445 §6.1.2.5)",
                    l.cand, r
                )
            });
            return None;
        }
        let priority = self.pair_priority(l.cand.priority, r.priority);
        // §6.1.2.6: the first pair of a foundation waits, the others stay frozen.
        let foundation = (&l.cand.foundation, &r.foundation);
        let state = if state == State::Frozen
            && !self
                .pairs
                .iter()
                .any(|p| self.foundation_of(p) == foundation)
        {
            State::Waiting
        } else {
            state
        };
        trace::event(Layer::Stun, || {
            format!("pair {} ↔ {}: priority {priority} ({:?})", l.cand, r, state)
        });
        self.pairs.push(Pair {
            local: li,
            remote: ri,
            priority,
            state,
            valid: false,
            nominate_on_success: false,
            valid_pair: None,
            txn: None,
        });
        Some(self.pairs.len() - 1)
    }

    fn foundation_of(&self, p: &Pair) -> (&String, &String) {
        (
            &self.locals[p.local].cand.foundation,
            &self.remotes[p.remote].foundation,
        )
    }

    fn find_pair(&self, li: usize, ri: usize) -> Option<usize> {
        self.pairs
            .iter()
            .position(|p| p.local == li && p.remote == ri)
    }

    fn pair_priority(&self, local: u32, remote: u32) -> u64 {
        priority::pair_priority_for(self.s.policy.as_ref(), self.s.role, local, remote)
    }

    /// The pairs' indexes, highest priority first (§6.1.2.3).
    fn by_priority(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.pairs.len()).collect();
        order.sort_by(|a, b| self.pairs[*b].priority.cmp(&self.pairs[*a].priority));
        order
    }

    /// The agent's clock: retransmissions, the next check, the nomination, consent.
    pub fn tick(&mut self, now: Instant) {
        if self.lost {
            return;
        }
        // 1. Retransmissions of checks in flight.
        self.retransmit(now);
        // 2. One new check every Ta, triggered ones first.
        if self.next_check.is_none_or(|t| now >= t) && self.selected.is_none() {
            if let Some(i) = self.next_pair() {
                self.send_check(i, now);
                self.next_check = Some(now + TA);
            }
        }
        // 3. The controlling agent nominates.
        self.nominate(now);
        // 4. Consent on the selected pair.
        self.consent(now);
    }

    /// §6.1.4.2: the pair to check next: a triggered one, else the best Waiting pair, else a
    /// Frozen one whose foundation has none Waiting or In-Progress.
    fn next_pair(&mut self) -> Option<usize> {
        while let Some(i) = self.triggered.pop_front() {
            if self.pairs[i].state == State::Waiting || self.pairs[i].nominate_on_success {
                return Some(i);
            }
            if self.nominating == Some(i) && self.pairs[i].txn.is_none() {
                return Some(i);
            }
        }
        let order = self.by_priority();
        if let Some(i) = order
            .iter()
            .copied()
            .find(|i| self.pairs[*i].state == State::Waiting)
        {
            return Some(i);
        }
        order.into_iter().find(|i| {
            let p = &self.pairs[*i];
            let f = self.foundation_of(p);
            p.state == State::Frozen
                && !self.pairs.iter().any(|q| {
                    self.foundation_of(q) == f
                        && matches!(q.state, State::Waiting | State::InProgress)
                })
        })
    }

    /// RFC 8445 §7.2.2: a Binding Request on pair `i`, with PRIORITY, our role's attribute,
    /// USE-CANDIDATE when nominating, short-term credentials and FINGERPRINT.
    fn send_check(&mut self, i: usize, now: Instant) {
        let use_candidate = self.nominating == Some(i);
        let tid = crate::webrtc::session::random::<12>();
        let Ok(request) = self.request(i, tid, use_candidate) else {
            return;
        };
        let (local, to) = self.addrs(i);
        trace::sent(Layer::Stun, || {
            format!(
                "Binding Request (check) to {to} from {local} USERNAME={}:{} PRIORITY {}{} MESSAGE-INTEGRITY FINGERPRINT",
                self.s.remote.ufrag,
                self.s.local.ufrag,
                role_attr(self.s.role),
                if use_candidate { " USE-CANDIDATE" } else { "" }
            )
        });
        self.out.push_back(Transmit {
            local,
            to,
            data: request.clone(),
        });
        let p = &mut self.pairs[i];
        if p.state != State::Succeeded {
            p.state = State::InProgress;
        }
        p.txn = Some(Txn {
            tid,
            request,
            use_candidate,
            sends: 1,
            next: now + FIRST_RTO,
            rto: FIRST_RTO,
        });
    }

    /// The request bytes for a check on pair `i`.
    fn request(&self, i: usize, tid: [u8; 12], use_candidate: bool) -> Result<Vec<u8>, IceError> {
        let p = &self.pairs[i];
        // §7.1.1: USERNAME is "RFRAG:LFRAG", PRIORITY what a peer-reflexive candidate of
        // this local one would have (§5.1.2.1's type preference 110).
        let user = TextAttribute::new(
            ATTR_USERNAME,
            format!("{}:{}", self.s.remote.ufrag, self.s.local.ufrag),
        );
        let prflx = priority::candidate_priority(
            CandidateKind::PeerReflexive,
            ((self.locals[p.local].cand.priority >> 8) & 0xffff) as u16,
            1,
        );
        let mut attrs = vec![
            (ATTR_PRIORITY, prflx.to_be_bytes().to_vec()),
            (
                match self.s.role {
                    Role::Controlling => ATTR_ICE_CONTROLLING,
                    Role::Controlled => ATTR_ICE_CONTROLLED,
                },
                self.s.tie_breaker.to_be_bytes().to_vec(),
            ),
        ];
        if use_candidate {
            attrs.push((ATTR_USE_CANDIDATE, Vec::new()));
        }
        super::build(
            BINDING_REQUEST,
            TransactionId(tid),
            &attrs,
            &[&user],
            Some(&self.s.remote.pwd),
        )
    }

    /// Pair `i`'s local base and remote address.
    fn addrs(&self, i: usize) -> (SocketAddr, SocketAddr) {
        let p = &self.pairs[i];
        (self.locals[p.local].base, self.remotes[p.remote].addr)
    }

    /// RFC 8489 §6.2.1: a check unanswered after its timeout is sent again, up to Rc sends;
    /// then the pair fails.
    fn retransmit(&mut self, now: Instant) {
        for i in 0..self.pairs.len() {
            let Some(txn) = self.pairs[i].txn.as_mut().filter(|t| now >= t.next) else {
                continue;
            };
            if txn.sends >= MAX_SENDS {
                let sends = txn.sends;
                self.pairs[i].txn = None;
                if self.pairs[i].state == State::InProgress {
                    self.pairs[i].state = State::Failed;
                }
                let (local, to) = self.addrs(i);
                trace::event(Layer::Stun, || {
                    format!("pair {local} ↔ {to} failed: no answer to {sends} sends of its check")
                });
                continue;
            }
            txn.sends += 1;
            txn.rto = (txn.rto * 2).min(MAX_RTO);
            txn.next = now + txn.rto;
            let data = txn.request.clone();
            let (local, to) = self.addrs(i);
            self.out.push_back(Transmit { local, to, data });
        }
    }

    /// §8.1.1: once checks have run (none left to send, or a while after the first valid
    /// pair), the controlling agent asks its policy which valid pair to nominate.
    fn nominate(&mut self, now: Instant) {
        if self.s.role != Role::Controlling || self.nominating.is_some() || self.selected.is_some()
        {
            return;
        }
        let Some(first) = self.first_valid else {
            return;
        };
        let settled = self
            .pairs
            .iter()
            .all(|p| matches!(p.state, State::Succeeded | State::Failed));
        if !settled && now < first + NOMINATION_WAIT {
            return;
        }
        let order = self.by_priority();
        let views: Vec<PairView> = order.iter().map(|i| self.view(*i)).collect();
        let Some(choice) = self.s.policy.nominate(&views) else {
            return;
        };
        let Some(&i) = order.get(choice).filter(|i| self.pairs[**i].valid) else {
            trace::event(Layer::Stun, || {
                format!("the policy chose pair #{choice}, which is not a valid pair: not nominated")
            });
            return;
        };
        let v = views[choice];
        trace::event(Layer::Stun, || {
            let valid = views.iter().filter(|v| v.valid).count();
            let above = &views[..choice];
            let why = if above.is_empty() {
                "the highest-priority pair of the check list".to_string()
            } else if above.iter().all(|v| !v.valid) {
                format!(
                    "the highest-priority valid pair; the {} above it failed or are unanswered",
                    above.len()
                )
            } else {
                "the policy's own choice, not the highest-priority valid pair".to_string()
            };
            format!(
                "nominating {} {} ↔ {} {} (pair priority {}, one of {valid} valid): {why}",
                v.local_kind, v.local, v.remote_kind, v.remote, v.priority
            )
        });
        self.nominating = Some(i);
        self.triggered.push_front(i);
        self.next_check = None;
    }

    fn view(&self, i: usize) -> PairView {
        let p = &self.pairs[i];
        let (l, r) = (&self.locals[p.local], &self.remotes[p.remote]);
        PairView {
            local: l.cand.addr,
            local_kind: l.cand.kind,
            remote: r.addr,
            remote_kind: r.kind,
            priority: p.priority,
            valid: p.valid,
        }
    }

    /// RFC 7675 §5.1: a consent check every interval on the selected pair; consent lost
    /// after the timeout without an answer.
    fn consent(&mut self, now: Instant) {
        let (Some(i), Some(last)) = (self.selected, self.last_consent) else {
            return;
        };
        if now.duration_since(last) >= self.s.consent_timeout {
            self.lost = true;
            let ms = self.s.consent_timeout.as_millis();
            trace::event(Layer::Stun, || {
                format!(
                    "ICE state failed: no answer to consent checks for {ms} ms (consent lost, RFC 7675 §5.1)"
                )
            });
            self.events.push_back(Event::ConsentLost { ms });
            return;
        }
        if self.next_consent.is_some_and(|t| now < t) {
            return;
        }
        // §5.1: randomised between 0.8 and 1.2 of the interval, so checks do not synchronise.
        let jitter = 0.8 + f64::from(crate::webrtc::session::random::<1>()[0]) / 255.0 * 0.4;
        self.next_consent = Some(now + self.s.consent_interval.mul_f64(jitter));
        let tid = crate::webrtc::session::random::<12>();
        let Ok(data) = self.request(i, tid, false) else {
            return;
        };
        let (local, to) = self.addrs(i);
        trace::sent(Layer::Stun, || {
            format!("Binding Request (consent check, RFC 7675) to {to} from {local}")
        });
        self.consent_sent.push_back(tid);
        if self.consent_sent.len() > 8 {
            self.consent_sent.pop_front();
        }
        self.out.push_back(Transmit { local, to, data });
    }

    /// One STUN datagram from `from`, arrived on the local base `base`. A request is
    /// answered (the answer queued for [`Agent::poll_transmit`]); a response is matched to
    /// its check. `Err` says why it was dropped, for the caller's trace.
    pub fn handle(
        &mut self,
        d: &[u8],
        from: SocketAddr,
        base: SocketAddr,
        now: Instant,
    ) -> Result<(), IceError> {
        if super::is_request(d) {
            self.on_request(d, from, base, now)
        } else {
            self.on_response(d, from, now)
        }
    }

    /// RFC 8445 §7.3: authenticate, settle a role conflict, answer, learn, trigger.
    fn on_request(
        &mut self,
        d: &[u8],
        from: SocketAddr,
        base: SocketAddr,
        now: Instant,
    ) -> Result<(), IceError> {
        let responder = Responder {
            local: self.s.local.clone(),
            remote_ufrag: Some(self.s.remote.ufrag.clone()),
        };
        let base = self.base_for(base, from);
        let (response, use_candidate, summary) = match responder.answer(d, from) {
            Reply::Success {
                response,
                nominated,
                summary,
            } => (response, nominated, summary),
            Reply::Error { response, why } => {
                trace::received(Layer::Stun, || {
                    format!("Binding Request from {from} rejected: {why}")
                });
                self.out.push_back(Transmit {
                    local: base,
                    to: from,
                    data: response,
                });
                return Ok(());
            }
            Reply::Ignore(why) => return Err(why),
        };
        trace::received(Layer::Stun, || summary);
        let m = super::decode(d)?;
        if self.role_conflict(&m, from, base)? {
            return Ok(());
        }
        trace::sent(Layer::Stun, || {
            format!(
                "Binding Success to {from} XOR-MAPPED-ADDRESS={from} MESSAGE-INTEGRITY FINGERPRINT"
            )
        });
        self.out.push_back(Transmit {
            local: base,
            to: from,
            data: response,
        });
        let peer_priority = m
            .get(ATTR_PRIORITY)
            .ok()
            .and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok())
            .map(u32::from_be_bytes)
            .unwrap_or(0);
        self.learn_and_trigger(from, base, peer_priority, use_candidate, now);
        Ok(())
    }

    /// The local base a datagram arrived on: the one given, or (for a socket bound to the
    /// unspecified address) the host candidate of that port which best matches the source.
    fn base_for(&self, base: SocketAddr, from: SocketAddr) -> SocketAddr {
        if self.locals.iter().any(|l| l.base == base) {
            return base;
        }
        let hosts = || {
            self.locals
                .iter()
                .filter(|l| l.cand.kind == CandidateKind::Host && l.base.port() == base.port())
        };
        hosts()
            .find(|l| l.base.ip() == from.ip())
            .or_else(|| {
                hosts().find(|l| {
                    l.base.is_ipv4() == from.is_ipv4()
                        && l.base.ip().is_loopback() == from.ip().is_loopback()
                })
            })
            .map_or(base, |l| l.base)
    }

    /// RFC 8445 §7.3.1.1: both sides think they control (or both are controlled). The larger
    /// tie-breaker controls; the agent that must change role either switches or answers 487.
    /// `Ok(true)` when a 487 was queued instead of the success.
    fn role_conflict(
        &mut self,
        m: &Message,
        from: SocketAddr,
        base: SocketAddr,
    ) -> Result<bool, IceError> {
        let theirs = |attr| {
            m.get(attr)
                .ok()
                .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                .map(u64::from_be_bytes)
        };
        let (conflict, their_tb) = match self.s.role {
            Role::Controlling => (true, theirs(ATTR_ICE_CONTROLLING)),
            Role::Controlled => (false, theirs(ATTR_ICE_CONTROLLED)),
        };
        let Some(their_tb) = their_tb else {
            return Ok(false);
        };
        let ours_wins = self.s.tie_breaker >= their_tb;
        // Controlling and we win, or controlled and they win: they must switch: 487.
        if ours_wins == conflict {
            trace::event(Layer::Stun, || {
                format!(
                    "role conflict with {from}: both {}, our tie-breaker {} theirs: 487 Role Conflict (RFC 8445 §7.3.1.1)",
                    role_name(self.s.role),
                    if ours_wins { "≥" } else { "<" }
                )
            });
            let attr = ErrorCodeAttribute {
                code: CODE_ROLE_CONFLICT,
                reason: b"Role Conflict".to_vec(),
            };
            // RFC 8489 §6.3.4: an error to an authenticated request is authenticated too.
            let pwd = Some(self.s.local.pwd.as_str());
            let data = super::build(BINDING_ERROR, m.transaction_id, &[], &[&attr], pwd)?;
            trace::sent(Layer::Stun, || {
                format!("Binding Error 487 Role Conflict to {from}")
            });
            self.out.push_back(Transmit {
                local: base,
                to: from,
                data,
            });
            return Ok(true);
        }
        self.switch_role("a request with the same role and a larger tie-breaker");
        Ok(false)
    }

    /// RFC 8445 §7.2.5.1 and §7.3.1.1: the other role; pair priorities recomputed.
    fn switch_role(&mut self, why: &str) {
        self.s.role = match self.s.role {
            Role::Controlling => Role::Controlled,
            Role::Controlled => Role::Controlling,
        };
        trace::event(Layer::Stun, || {
            format!(
                "role switched to {} ({why}): pair priorities recomputed",
                role_name(self.s.role)
            )
        });
        for i in 0..self.pairs.len() {
            let (l, r) = (self.pairs[i].local, self.pairs[i].remote);
            self.pairs[i].priority =
                self.pair_priority(self.locals[l].cand.priority, self.remotes[r].priority);
        }
        self.nominating = None;
    }

    /// §7.3.1.3-§7.3.1.5: the source becomes a peer-reflexive remote candidate if unknown, its
    /// pair gets a triggered check unless it already succeeded, and USE-CANDIDATE from the
    /// controlling agent nominates it.
    fn learn_and_trigger(
        &mut self,
        from: SocketAddr,
        base: SocketAddr,
        prio: u32,
        use_candidate: bool,
        now: Instant,
    ) {
        let ri = match self.remotes.iter().position(|r| r.addr == from) {
            Some(ri) => ri,
            None => {
                let cand = Candidate {
                    foundation: format!("prflx{}", self.remotes.len() + 1),
                    priority: prio.clamp(1, (1 << 31) - 1),
                    addr: from,
                    kind: CandidateKind::PeerReflexive,
                    related: None,
                };
                trace::event(Layer::Stun, || {
                    format!(
                        "peer-reflexive remote candidate learned from a check: {cand} (RFC 8445 §7.3.1.3)"
                    )
                });
                self.remotes.push(cand);
                self.remotes.len() - 1
            }
        };
        let Some(li) = self
            .locals
            .iter()
            .position(|l| l.base == base && l.cand.addr == base)
        else {
            return;
        };
        let Some(i) = self.add_pair(li, ri, State::Waiting) else {
            return;
        };
        match self.pairs[i].state {
            State::Succeeded | State::InProgress => {}
            _ => {
                self.pairs[i].state = State::Waiting;
                self.triggered.push_back(i);
                trace::event(Layer::Stun, || {
                    format!("triggered check queued for {base} ↔ {from} (RFC 8445 §7.3.1.4)")
                });
            }
        }
        if use_candidate && self.s.role == Role::Controlled {
            // §7.3.1.5: the pair nominated is the valid pair our check on this one produced,
            // which behind a NAT has the server-reflexive local candidate, not this host one.
            if let Some(v) = self.pairs[i].valid_pair {
                self.select(
                    v,
                    "the controlling agent's USE-CANDIDATE on a pair whose check succeeded",
                    now,
                );
            } else {
                self.pairs[i].nominate_on_success = true;
            }
        }
    }

    /// §7.2.5: a response to one of our checks (or consent checks).
    fn on_response(&mut self, d: &[u8], from: SocketAddr, now: Instant) -> Result<(), IceError> {
        let mut m = super::decode(d)?;
        let tid = m.transaction_id.0;
        let consent = self.consent_sent.contains(&tid);
        let i = self
            .pairs
            .iter()
            .position(|p| p.txn.as_ref().is_some_and(|t| t.tid == tid));
        if i.is_none() && !consent {
            return Err(IceError::Unexpected(format!(
                "response from {from} for no check of ours"
            )));
        }
        // RFC 8489 §9.1.4: authenticated with the password the request used (theirs).
        MessageIntegrity::new_short_term_integrity(self.s.remote.pwd.clone())
            .check(&mut m)
            .map_err(|_| IceError::WrongIntegrity)?;
        if consent {
            if m.typ.class == CLASS_SUCCESS_RESPONSE {
                self.last_consent = Some(now);
                trace::received(Layer::Stun, || {
                    format!("Binding Success (consent) from {from}: consent refreshed")
                });
            }
            return Ok(());
        }
        let Some(i) = i else { return Ok(()) };
        let txn = self.pairs[i].txn.take();
        let (local, to) = self.addrs(i);
        // §7.2.5.2.1: the answer must come from where the check went.
        if from != to {
            self.pairs[i].state = State::Failed;
            trace::received(Layer::Stun, || {
                format!("answer from {from} to a check sent to {to}: not symmetric, pair failed")
            });
            return Ok(());
        }
        if m.typ.class == CLASS_ERROR_RESPONSE {
            return self.on_error(i, &m, from);
        }
        let mut mapped = XorMappedAddress::default();
        mapped
            .get_from(&m)
            .map_err(|e| IceError::Malformed(format!("no XOR-MAPPED-ADDRESS: {e}")))?;
        let mapped = SocketAddr::new(mapped.ip, mapped.port);
        trace::received(Layer::Stun, || {
            format!("Binding Success from {from} to {local}: XOR-MAPPED-ADDRESS={mapped}")
        });
        self.succeeded(i, mapped, txn.is_some_and(|t| t.use_candidate), now);
        Ok(())
    }

    /// §7.2.5.1 / §7.2.5.2.4: a 487 switches our role and checks the pair again; any other
    /// error fails the pair.
    fn on_error(&mut self, i: usize, m: &Message, from: SocketAddr) -> Result<(), IceError> {
        let mut e = ErrorCodeAttribute::default();
        let _ = e.get_from(m);
        if e.code == CODE_ROLE_CONFLICT {
            trace::received(Layer::Stun, || {
                format!("Binding Error 487 Role Conflict from {from}")
            });
            self.switch_role("the peer answered 487");
            self.pairs[i].state = State::Waiting;
            self.triggered.push_back(i);
        } else {
            self.pairs[i].state = State::Failed;
            trace::received(Layer::Stun, || {
                format!("Binding Error {} from {from}: pair failed", e.code.0)
            });
        }
        Ok(())
    }

    /// §7.2.5.3: the pair succeeded; the valid pair is the one whose local candidate is the
    /// mapped address (a peer-reflexive local one if unknown); frozen pairs of the same
    /// foundation wake; a nomination completes.
    fn succeeded(&mut self, i: usize, mapped: SocketAddr, use_candidate: bool, now: Instant) {
        self.pairs[i].state = State::Succeeded;
        let base = self.locals[self.pairs[i].local].base;
        let li = match self.locals.iter().position(|l| l.cand.addr == mapped) {
            Some(li) => li,
            None => {
                let own = &self.locals[self.pairs[i].local].cand;
                let cand = Candidate {
                    foundation: format!("prflx{}", self.locals.len() + 1),
                    priority: priority::candidate_priority(
                        CandidateKind::PeerReflexive,
                        ((own.priority >> 8) & 0xffff) as u16,
                        1,
                    ),
                    addr: mapped,
                    kind: CandidateKind::PeerReflexive,
                    related: Some(base),
                };
                trace::event(Layer::Stun, || {
                    format!(
                        "peer-reflexive local candidate learned: {cand} (base {base}, RFC 8445 §7.2.5.3.1)"
                    )
                });
                self.locals.push(Local { cand, base });
                self.locals.len() - 1
            }
        };
        let v = self
            .add_pair(li, self.pairs[i].remote, State::Succeeded)
            .unwrap_or(i);
        self.pairs[v].state = State::Succeeded;
        self.pairs[i].valid_pair = Some(v);
        self.pairs[v].valid_pair = Some(v);
        if !self.pairs[v].valid {
            self.pairs[v].valid = true;
            let view = self.view(v);
            trace::event(Layer::Stun, || {
                format!(
                    "valid pair: {} {} ↔ {} {} priority {}",
                    view.local_kind, view.local, view.remote_kind, view.remote, view.priority
                )
            });
        }
        self.first_valid.get_or_insert(now);
        let f = (
            self.foundation_of(&self.pairs[i]).0.clone(),
            self.foundation_of(&self.pairs[i]).1.clone(),
        );
        for j in 0..self.pairs.len() {
            let fj = self.foundation_of(&self.pairs[j]);
            if self.pairs[j].state == State::Frozen && (fj.0, fj.1) == (&f.0, &f.1) {
                self.pairs[j].state = State::Waiting;
            }
        }
        if use_candidate && self.s.role == Role::Controlling {
            self.select(v, "our USE-CANDIDATE check succeeded", now);
        } else if self.pairs[i].nominate_on_success || self.pairs[v].nominate_on_success {
            self.select(
                v,
                "the controlling agent nominated it and our check succeeded",
                now,
            );
        }
    }

    /// §8.1.1 / §8.2: the pair is nominated: ICE is done; consent starts.
    fn select(&mut self, i: usize, why: &str, now: Instant) {
        if self.selected.is_some() {
            return;
        }
        self.selected = Some(i);
        let v = self.view(i);
        trace::event(Layer::Stun, || {
            format!(
                "ICE state completed: selected {} {} ↔ {} {} (pair priority {}): {why}",
                v.local_kind, v.local, v.remote_kind, v.remote, v.priority
            )
        });
        let p = &self.pairs[i];
        self.events.push_back(Event::Selected {
            local: self.locals[p.local].cand.clone(),
            remote: self.remotes[p.remote].clone(),
        });
        self.last_consent = Some(now);
        self.next_consent = Some(now + self.s.consent_interval);
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Controlling => "controlling",
        Role::Controlled => "controlled",
    }
}

fn role_attr(r: Role) -> &'static str {
    match r {
        Role::Controlling => "ICE-CONTROLLING",
        Role::Controlled => "ICE-CONTROLLED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webrtc::ice::priority::Rfc;

    fn creds(u: &str) -> Credentials {
        Credentials {
            ufrag: u.into(),
            pwd: format!("{u}-password-0123456789"),
        }
    }

    fn agent(role: Role, tie_breaker: u64, me: &str, them: &str) -> Agent {
        Agent::new(Settings {
            role,
            tie_breaker,
            local: creds(me),
            remote: creds(them),
            policy: Arc::new(Rfc),
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
        })
    }

    const A: &str = "127.0.0.1:1000";
    const B: &str = "127.0.0.1:2000";

    /// Two agents on an in-memory network; `b_knows_a` says whether B got A's candidate.
    fn two(roles: (Role, Role), tbs: (u64, u64), b_knows_a: bool) -> (Agent, Agent) {
        let (mut a, mut b) = (
            agent(roles.0, tbs.0, "aaaa", "bbbb"),
            agent(roles.1, tbs.1, "bbbb", "aaaa"),
        );
        let ca = a.add_local(
            CandidateKind::Host,
            A.parse().unwrap(),
            A.parse().unwrap(),
            None,
        );
        let cb = b.add_local(
            CandidateKind::Host,
            B.parse().unwrap(),
            B.parse().unwrap(),
            None,
        );
        a.add_remote(&cb.to_sdp()).unwrap();
        if b_knows_a {
            b.add_remote(&ca.to_sdp()).unwrap();
        }
        (a, b)
    }

    /// Runs both until each has selected a pair (or `limit` of fake time); the events.
    fn run(a: &mut Agent, b: &mut Agent, t0: Instant, limit: Duration) -> (Vec<Event>, Vec<Event>) {
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        let mut now = t0;
        while now < t0 + limit && (a.selected.is_none() || b.selected.is_none()) {
            a.tick(now);
            b.tick(now);
            for _ in 0..4 {
                while let Some(t) = a.poll_transmit() {
                    let _ = b.handle(&t.data, t.local, t.to, now);
                }
                while let Some(t) = b.poll_transmit() {
                    let _ = a.handle(&t.data, t.local, t.to, now);
                }
            }
            ea.extend(std::iter::from_fn(|| a.poll_event()));
            eb.extend(std::iter::from_fn(|| b.poll_event()));
            now += Duration::from_millis(10);
        }
        (ea, eb)
    }

    fn selected(events: &[Event]) -> Option<(SocketAddr, SocketAddr)> {
        events.iter().find_map(|e| match e {
            Event::Selected { local, remote } => Some((local.addr, remote.addr)),
            _ => None,
        })
    }

    #[test]
    fn two_agents_check_nominate_and_select_the_same_pair() {
        let (mut a, mut b) = two((Role::Controlling, Role::Controlled), (7, 3), true);
        let (ea, eb) = run(&mut a, &mut b, Instant::now(), Duration::from_secs(5));
        let (a_addr, b_addr) = (A.parse().unwrap(), B.parse().unwrap());
        assert_eq!(selected(&ea), Some((a_addr, b_addr)));
        assert_eq!(selected(&eb), Some((b_addr, a_addr)));
        assert_eq!(a.role(), Role::Controlling);
        assert_eq!(b.role(), Role::Controlled);
        // Both computed the same pair priority: G is A's (controlling) candidate.
        let host = priority::candidate_priority(CandidateKind::Host, 65535, 1);
        assert_eq!(
            a.pairs[a.selected.unwrap()].priority,
            priority::pair_priority(host, host)
        );
        assert_eq!(
            a.pairs[a.selected.unwrap()].priority,
            b.pairs[b.selected.unwrap()].priority
        );
    }

    #[test]
    fn the_controlled_side_learns_a_peer_reflexive_candidate_and_still_follows() {
        let (mut a, mut b) = two((Role::Controlling, Role::Controlled), (7, 3), false);
        assert!(b.pairs.is_empty());
        let (ea, eb) = run(&mut a, &mut b, Instant::now(), Duration::from_secs(5));
        assert!(selected(&ea).is_some());
        assert_eq!(selected(&eb).map(|s| s.1), Some(A.parse().unwrap()));
        assert_eq!(b.remotes[0].kind, CandidateKind::PeerReflexive);
    }

    #[test]
    fn a_role_conflict_is_settled_by_the_tie_breakers_both_ways() {
        for roles in [
            (Role::Controlling, Role::Controlling),
            (Role::Controlled, Role::Controlled),
        ] {
            let (mut a, mut b) = two(roles, (100, 5), true);
            let (ea, eb) = run(&mut a, &mut b, Instant::now(), Duration::from_secs(5));
            // The larger tie-breaker (A's) controls in the end.
            assert_eq!(a.role(), Role::Controlling, "{roles:?}");
            assert_eq!(b.role(), Role::Controlled, "{roles:?}");
            assert!(
                selected(&ea).is_some() && selected(&eb).is_some(),
                "{roles:?}"
            );
        }
    }

    #[test]
    fn a_487_answer_switches_the_checker_role() {
        // A controlled with a smaller tie-breaker checks first; B (controlled, larger) must
        // take control: it switches on A's request. Then A, controlled, meets B controlling.
        let (mut a, mut b) = two((Role::Controlling, Role::Controlling), (5, 100), true);
        let t = Instant::now();
        a.tick(t);
        let check = a.poll_transmit().unwrap();
        b.handle(&check.data, check.local, check.to, t).unwrap();
        let answer = b.poll_transmit().unwrap();
        assert_eq!(&answer.data[..2], &[0x01, 0x11], "a Binding Error Response");
        a.handle(&answer.data, answer.local, answer.to, t).unwrap();
        assert_eq!(a.role(), Role::Controlled);
        assert_eq!(b.role(), Role::Controlling);
    }

    #[test]
    fn consent_is_checked_every_few_seconds_and_lost_after_thirty() {
        let (mut a, mut b) = two((Role::Controlling, Role::Controlled), (7, 3), true);
        let t0 = Instant::now();
        run(&mut a, &mut b, t0, Duration::from_secs(5));
        assert!(a.selected().is_some());
        // B answers consent checks for a while: consent holds.
        let mut now = t0 + Duration::from_secs(1);
        let mut checks = 0;
        while now < t0 + Duration::from_secs(40) {
            a.tick(now);
            while let Some(t) = a.poll_transmit() {
                checks += 1;
                let _ = b.handle(&t.data, t.local, t.to, now);
            }
            while let Some(t) = b.poll_transmit() {
                let _ = a.handle(&t.data, t.local, t.to, now);
            }
            now += Duration::from_millis(100);
        }
        assert!(
            (6..=12).contains(&checks),
            "{checks} consent checks in 39 s"
        );
        assert_eq!(a.poll_event(), None);
        // Then B falls silent: 30 s later consent is lost, not before.
        let silent = now;
        let mut lost = None;
        while now < silent + Duration::from_secs(40) && lost.is_none() {
            a.tick(now);
            while a.poll_transmit().is_some() {}
            if let Some(Event::ConsentLost { .. }) = a.poll_event() {
                lost = Some(now);
            }
            now += Duration::from_millis(100);
        }
        let after = lost.expect("consent lost").duration_since(silent);
        assert!(
            after >= Duration::from_secs(24) && after <= Duration::from_secs(31),
            "{after:?}"
        );
    }

    #[test]
    fn a_trickled_candidate_replaces_the_peer_reflexive_one_a_check_taught() {
        let (mut a, mut b) = two((Role::Controlling, Role::Controlled), (7, 3), false);
        run(&mut a, &mut b, Instant::now(), Duration::from_secs(5));
        assert_eq!(b.remotes[0].kind, CandidateKind::PeerReflexive);
        let ca = a.candidate_lines();
        b.add_remote(&ca[0]).unwrap();
        assert_eq!(b.remotes.len(), 1);
        assert_eq!(b.remotes[0].kind, CandidateKind::Host);
    }

    #[test]
    fn impossible_remote_candidates_make_no_pair() {
        let mut a = agent(Role::Controlling, 1, "aaaa", "bbbb");
        a.add_local(
            CandidateKind::Host,
            A.parse().unwrap(),
            A.parse().unwrap(),
            None,
        );
        for bad in [
            "1 1 udp 2130706431 127.0.0.1 0 typ host",
            "1 1 udp 0 127.0.0.1 9 typ host",
            "1 1 udp 2147483648 127.0.0.1 9 typ host",
            "1 1 udp 5 999.0.0.1 9 typ host",
            "1 1 sctp 5 127.0.0.1 9 typ host",
        ] {
            assert!(a.add_remote(bad).is_err(), "{bad}");
        }
        // An address of the other family, or off loopback, pairs with nothing here.
        a.add_remote("2 1 udp 5 ::1 9 typ host").unwrap();
        a.add_remote("3 1 udp 5 192.0.2.1 9 typ host").unwrap();
        assert!(a.pairs.is_empty());
    }

    /// B behind an endpoint-independent NAT: its host 10.0.0.2:2000 is 203.0.113.2:2000
    /// outside. A (controlling, public) knows only B's server-reflexive candidate.
    const B_HOST: &str = "10.0.0.2:2000";
    const B_WAN: &str = "203.0.113.2:2000";
    const A_PUBLIC: &str = "198.51.100.1:1000";

    /// Runs A and B through B's NAT (source rewritten on the way out, destination on the way
    /// in) until both selected a pair or `limit` passed.
    fn run_nat(a: &mut Agent, b: &mut Agent, limit: Duration) -> (Vec<Event>, Vec<Event>) {
        let (host, wan): (SocketAddr, SocketAddr) =
            (B_HOST.parse().unwrap(), B_WAN.parse().unwrap());
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        let t0 = Instant::now();
        let mut now = t0;
        while now < t0 + limit && (a.selected.is_none() || b.selected.is_none()) {
            a.tick(now);
            b.tick(now);
            for _ in 0..4 {
                while let Some(t) = a.poll_transmit() {
                    let to = if t.to == wan { host } else { t.to };
                    let _ = b.handle(&t.data, t.local, to, now);
                }
                while let Some(t) = b.poll_transmit() {
                    let from = if t.local == host { wan } else { t.local };
                    let _ = a.handle(&t.data, from, t.to, now);
                }
            }
            ea.extend(std::iter::from_fn(|| a.poll_event()));
            eb.extend(std::iter::from_fn(|| b.poll_event()));
            now += Duration::from_millis(10);
        }
        (ea, eb)
    }

    #[test]
    fn behind_a_nat_the_controlled_side_selects_the_valid_pair_of_the_nominated_one() {
        let mut a = agent(Role::Controlling, 7, "aaaa", "bbbb");
        let mut b = agent(Role::Controlled, 3, "bbbb", "aaaa");
        let public: SocketAddr = A_PUBLIC.parse().unwrap();
        let (host, wan): (SocketAddr, SocketAddr) =
            (B_HOST.parse().unwrap(), B_WAN.parse().unwrap());
        let ca = a.add_local(CandidateKind::Host, public, public, None);
        b.add_local(CandidateKind::Host, host, host, None);
        let srflx = b.add_local(CandidateKind::ServerReflexive, wan, host, Some(host));
        a.add_remote(&srflx.to_sdp()).unwrap();
        b.add_remote(&ca.to_sdp()).unwrap();
        let (ea, eb) = run_nat(&mut a, &mut b, Duration::from_secs(5));
        assert_eq!(selected(&ea), Some((public, wan)));
        // B's check left its host candidate and came back mapped to the NAT's address: the
        // valid pair, the one B selects on A's USE-CANDIDATE, has the srflx local candidate.
        assert_eq!(selected(&eb), Some((wan, public)));
        let (host_pair, valid) = (b.find_pair(0, 0).unwrap(), b.selected.unwrap());
        assert_ne!(host_pair, valid);
        assert_eq!(b.pairs[host_pair].state, State::Succeeded);
        assert!(!b.pairs[host_pair].valid && b.pairs[valid].valid);
        assert_eq!(
            b.locals[b.pairs[valid].local].cand.kind,
            CandidateKind::ServerReflexive
        );
    }

    #[test]
    fn a_server_reflexive_local_is_pruned_into_its_base() {
        let mut a = agent(Role::Controlling, 1, "aaaa", "bbbb");
        let host: SocketAddr = A.parse().unwrap();
        a.add_local(CandidateKind::Host, host, host, None);
        a.add_local(
            CandidateKind::ServerReflexive,
            "127.0.0.2:1000".parse().unwrap(),
            host,
            Some(host),
        );
        a.add_remote("9 1 udp 2130706431 127.0.0.1 2000 typ host")
            .unwrap();
        assert_eq!(a.pairs.len(), 1);
        assert_eq!(a.pairs[0].local, 0);
    }
}
