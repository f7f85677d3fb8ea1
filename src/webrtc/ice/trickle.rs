//! Trickle ICE for our own candidates (RFC 8838): our SDP (the offer, or the answer to an
//! offer that said `a=ice-options:trickle`) goes out with the host candidates alone, and the
//! server-reflexive and relayed ones follow as the STUN and TURN servers answer, each handed
//! to the signaling (an offerer PATCHes it, RFC 8840's sdpfrag; an answering server hands it
//! back in the response to the offerer's next PATCH) and added to the agent's check list at
//! once (a new local candidate pairs with the remote ones known). When every server has
//! answered, or given up, the end of candidates follows.
//!
//! Sans-IO like the agent: the socket loop passes the STUN server's answers in and sends
//! what [`Trickler::poll_transmit`] gives; the TURN allocation is the TURN client's own
//! exchange (it lives next to the agent), and [`Trickler::tick`] only watches it end.
//! Without trickling, [`super::gather::server_reflexive`] and the blocking allocation do the
//! same before the SDP is written, and a silent server delays the SDP by its whole timeout.

use super::agent::Agent;
use super::gather::{self, GatherError};
use super::priority::CandidateKind;
use crate::trace::{self, Layer};
use crate::webrtc::stun_codec::CodecError;
use crate::webrtc::turn::client::{Client as TurnClient, ClientError};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

/// RFC 8489 §6.2.1's first retransmission timeout; doubled on each send.
const FIRST_RTO: Duration = Duration::from_millis(250);

/// One Binding Request to the STUN server, until answered or `until`.
struct Probe {
    server: SocketAddr,
    tid: [u8; 12],
    request: Vec<u8>,
    next: Instant,
    rto: Duration,
}

/// What a candidate gathered after the offer becomes for the signaling: the value of its
/// `a=candidate:` line, or `None` for `a=end-of-candidates`.
pub type Trickled = Option<String>;

/// The gathering that goes on after the offer.
pub struct Trickler {
    probe: Option<Probe>,
    /// The TURN server, while its allocation is under way.
    turn: Option<SocketAddr>,
    /// Host candidates (none with relay only): a mapped address among them is no new
    /// candidate, and the first one of the server's kind is a server-reflexive one's base.
    hosts: Vec<SocketAddr>,
    bound: SocketAddr,
    started: Instant,
    until: Instant,
    out: Sender<Trickled>,
    done: bool,
}

impl Trickler {
    /// Starts gathering from `stun` and watching the allocation on `turn` (the client's
    /// Allocate is sent by the caller); gives up on each after `timeout`. The receiver gets
    /// each candidate as it is found, then `None`.
    pub fn new(
        stun: Option<SocketAddr>,
        turn: Option<SocketAddr>,
        hosts: Vec<SocketAddr>,
        bound: SocketAddr,
        timeout: Duration,
        now: Instant,
    ) -> Result<(Trickler, Receiver<Trickled>), CodecError> {
        let probe = match stun {
            Some(server) => {
                let tid = crate::webrtc::session::random::<12>();
                Some(Probe {
                    server,
                    tid,
                    request: gather::binding_request(tid)?,
                    next: now,
                    rto: FIRST_RTO,
                })
            }
            None => None,
        };
        trace::event(Layer::Stun, || {
            let from = [
                stun.map(|s| format!("server-reflexive from STUN {s}")),
                turn.map(|t| format!("relayed from TURN {t}")),
            ];
            let from: Vec<String> = from.into_iter().flatten().collect();
            format!(
                "trickle ICE (RFC 8838): the SDP goes with {} host candidate(s); {} follow as found",
                hosts.len(),
                from.join(" and ")
            )
        });
        let (out, rx) = mpsc::channel();
        let t = Trickler {
            probe,
            turn,
            hosts,
            bound,
            started: now,
            until: now + timeout,
            out,
            done: false,
        };
        Ok((t, rx))
    }

    /// The socket loop starts reading, after the other side's SDP came (a room's answer may
    /// take seconds: a tab must join). Whatever the servers answered meanwhile waits unread
    /// in the socket's buffer, so that wait does not count against them: each gets its
    /// whole `timeout` from now on.
    pub fn listening(&mut self, now: Instant) {
        self.until += now.saturating_duration_since(self.started);
    }

    /// The STUN server, while we wait for its answer: its datagrams come here.
    pub fn stun_server(&self) -> Option<SocketAddr> {
        self.probe.as_ref().map(|p| p.server)
    }

    /// Whether `d` from `from` is for our probe: from the STUN server and of its transaction
    /// (RFC 8489 §6: bytes 8..20). A TURN server often shares the STUN server's address
    /// (coturn's 3478 is both), so the address alone does not say whose answer it is.
    pub fn is_probe_answer(&self, d: &[u8], from: SocketAddr) -> bool {
        self.probe
            .as_ref()
            .is_some_and(|p| p.server == from && d.get(8..20) == Some(&p.tid[..]))
    }

    /// The Binding Request to the STUN server, when a send (or a retransmission) is due.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(Vec<u8>, SocketAddr)> {
        let p = self
            .probe
            .as_mut()
            .filter(|p| now >= p.next && now < self.until)?;
        p.next = now + p.rto;
        p.rto *= 2;
        let server = p.server;
        trace::sent(Layer::Stun, || {
            format!(
                "Binding Request to STUN server {server} (gathering a server-reflexive candidate)"
            )
        });
        Some((p.request.clone(), server))
    }

    /// A datagram from the STUN server: its answer, a new candidate unless it is a host one.
    pub fn on_stun(&mut self, d: &[u8], agent: &mut Agent) {
        let Some(p) = &self.probe else {
            return;
        };
        let server = p.server;
        let mapped = match gather::mapped_address(d, p.tid) {
            Ok(m) => m,
            Err(e) => {
                trace::received(Layer::Stun, || format!("from {server}: {e}"));
                return;
            }
        };
        trace::received(Layer::Stun, || {
            format!("Binding Success from STUN server {server}: XOR-MAPPED-ADDRESS={mapped}")
        });
        self.probe = None;
        if self.hosts.contains(&mapped) || agent.has_local(mapped) {
            trace::event(Layer::Stun, || {
                format!(
                    "STUN server {server} sees us at {mapped}, a host candidate already: no NAT on this path"
                )
            });
            return;
        }
        // The base: the host candidate the request left from (for an unspecified socket,
        // the first one of the server's kind of address).
        let base = self
            .hosts
            .iter()
            .find(|h| h.ip().is_loopback() == server.ip().is_loopback())
            .copied()
            .unwrap_or(self.bound);
        self.found(
            agent,
            CandidateKind::ServerReflexive,
            mapped,
            base,
            Some(base),
        );
    }

    /// Gives up on a server past its time, takes the relayed candidate once the TURN client
    /// has it, and says the end once nothing is under way.
    pub fn tick(&mut self, now: Instant, agent: &mut Agent, turn: Option<&TurnClient>) {
        if self.done {
            return;
        }
        let ms = (self.until - self.started).as_millis();
        if let Some(p) = self.probe.as_ref().filter(|_| now >= self.until) {
            let e = GatherError::Timeout {
                server: p.server,
                ms,
            };
            let server = p.server;
            trace::event(Layer::Stun, || {
                format!("no server-reflexive candidate from {server}: {e}")
            });
            self.probe = None;
        }
        if let (Some(server), Some(client)) = (self.turn, turn) {
            self.watch_allocation(server, client, agent, now);
        }
        if self.probe.is_none() && self.turn.is_none() {
            self.done = true;
            let took = now.duration_since(self.started).as_millis();
            trace::event(Layer::Stun, || {
                format!(
                    "gathering complete after {took} ms: a=end-of-candidates follows (RFC 8838)"
                )
            });
            let _ = self.out.send(None);
        }
    }

    /// The allocation's end: its relayed candidate (and the server-reflexive one its answer
    /// names, behind a NAT), or why there is none.
    fn watch_allocation(
        &mut self,
        server: SocketAddr,
        client: &TurnClient,
        agent: &mut Agent,
        now: Instant,
    ) {
        if let Some(relayed) = client.relayed() {
            self.turn = None;
            let mapped = client.mapped();
            let reflexive = mapped.filter(|m| !self.hosts.contains(m) && !agent.has_local(*m));
            if let (Some(m), Some(&base)) = (reflexive, self.hosts.first()) {
                self.found(agent, CandidateKind::ServerReflexive, m, base, Some(base));
            }
            self.found(agent, CandidateKind::Relayed, relayed, relayed, mapped);
            return;
        }
        let why = match client.failed() {
            Some(e) => e.clone(),
            None if now >= self.until => ClientError::NoAnswer {
                request: "Allocate",
            },
            None => return,
        };
        self.turn = None;
        trace::event(Layer::Stun, || {
            format!("no relayed candidate from TURN server {server}: {why}")
        });
    }

    /// A candidate found: into the agent's check list, and out to the signaling.
    fn found(
        &mut self,
        agent: &mut Agent,
        kind: CandidateKind,
        addr: SocketAddr,
        base: SocketAddr,
        related: Option<SocketAddr>,
    ) {
        let cand = agent.add_local(kind, addr, base, related);
        let _ = self.out.send(Some(cand.to_sdp()));
    }

    /// The pair ICE selected, with when: how long after our SDP, and whether candidates
    /// were still coming.
    pub fn selected(&self, local: SocketAddr, remote: SocketAddr, now: Instant) {
        let ms = now.duration_since(self.started).as_millis();
        let still = if self.done {
            "gathering complete"
        } else {
            "gathering still under way"
        };
        trace::event(Layer::Stun, || {
            format!("pair {local} ↔ {remote} won {ms} ms after our SDP was written ({still})")
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webrtc::ice::Credentials;
    use crate::webrtc::ice::agent::Settings;
    use crate::webrtc::ice::priority::{Rfc, Role};
    use std::sync::Arc;

    fn agent() -> Agent {
        let creds = |u: &str| Credentials {
            ufrag: u.into(),
            pwd: format!("{u}-password-of-24-chars"),
        };
        Agent::new(Settings {
            role: Role::Controlling,
            tie_breaker: 1,
            local: creds("a"),
            remote: creds("b"),
            policy: Arc::new(Rfc),
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
        })
    }

    #[test]
    fn a_silent_stun_server_ends_in_end_of_candidates_after_its_retransmissions() {
        let host: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let server: SocketAddr = "127.0.0.1:3478".parse().unwrap();
        let t0 = Instant::now();
        let (mut t, rx) = Trickler::new(
            Some(server),
            None,
            vec![host],
            host,
            Duration::from_secs(2),
            t0,
        )
        .unwrap();
        let mut a = agent();
        let mut sends = Vec::new();
        for ms in (0..2500).step_by(50) {
            let now = t0 + Duration::from_millis(ms);
            while let Some((_, to)) = t.poll_transmit(now) {
                assert_eq!(to, server);
                sends.push(ms);
            }
            t.tick(now, &mut a, None);
        }
        // 0, 250, 750, 1750 ms: doubling from 250 ms, none after the 2 s.
        assert_eq!(sends, [0, 250, 750, 1750]);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [None]);
    }

    #[test]
    fn the_wait_for_the_other_sides_sdp_does_not_count_against_the_servers() {
        let host: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let server: SocketAddr = "127.0.0.1:3478".parse().unwrap();
        let t0 = Instant::now();
        let (mut t, rx) = Trickler::new(
            Some(server),
            None,
            vec![host],
            host,
            Duration::from_secs(2),
            t0,
        )
        .unwrap();
        let mut a = agent();
        let at = |ms| t0 + Duration::from_millis(ms);
        // The answer came 5 s after our offer: the server still has its 2 s.
        t.listening(at(5000));
        t.tick(at(5000), &mut a, None);
        assert_eq!(t.stun_server(), Some(server));
        assert!(
            t.poll_transmit(at(5000)).is_some(),
            "a retransmission is due"
        );
        t.tick(at(6900), &mut a, None);
        assert!(rx.try_recv().is_err(), "not given up on yet");
        t.tick(at(7000), &mut a, None);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [None]);
    }

    #[test]
    fn a_stun_answer_trickles_a_server_reflexive_candidate_then_the_end() {
        let host: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        let t0 = Instant::now();
        let (mut t, rx) = Trickler::new(
            Some(server),
            None,
            vec![host],
            host,
            Duration::from_secs(2),
            t0,
        )
        .unwrap();
        let mut a = agent();
        let (request, _) = t.poll_transmit(t0).unwrap();
        let mapped: SocketAddr = "203.0.113.9:6000".parse().unwrap();
        let success = |req: &[u8]| {
            let m = crate::webrtc::stun_codec::decode(req, true).unwrap();
            crate::webrtc::stun_server::binding_success(&m, mapped).unwrap()
        };
        let answer = success(&request);
        // Told by its transaction, not by its address alone (a TURN server may share it).
        let other = success(&gather::binding_request([0; 12]).unwrap());
        assert!(t.is_probe_answer(&answer, server));
        assert!(!t.is_probe_answer(&other, server));
        assert!(!t.is_probe_answer(&answer, host));
        assert!(!t.is_probe_answer(&answer[..10], server));
        // Another transaction's answer is no answer.
        t.on_stun(&other, &mut a);
        assert_eq!(t.stun_server(), Some(server));
        t.on_stun(&answer, &mut a);
        assert_eq!(t.stun_server(), None);
        t.tick(t0, &mut a, None);
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got.len(), 2);
        let line = got[0].as_deref().unwrap();
        assert!(
            line.contains("203.0.113.9 6000 typ srflx raddr 10.0.0.2 rport 4000"),
            "{line}"
        );
        assert_eq!(got[1], None);
        assert!(a.has_local(mapped));
    }
}
