//! The peer's one UDP socket and the loop that reads it: each datagram sorted by its first
//! byte (RFC 7983 §7), STUN handed to the full ICE agent, or answered by the ICE-lite
//! responder (RFC 8445 §7.3) or matched to the checker's request; what the TURN server relays
//! unwrapped first; DTLS records passed on to the association loop once the peer's address
//! is locked, and consent kept (RFC 7675 §5.1). The only place a WebRTC peer reads its
//! socket.
//!
//! `SocketLoop::run` goes round these steps, one method each, until the association loop
//! stops or consent is lost:
//!
//! 1. `SocketLoop::check`: the checker's next request, if one is due (only when we
//!    offered to a lite agent);
//! 2. `SocketLoop::consent_lost`: silence from the locked peer for too long ends it;
//! 3. `SocketLoop::receive`: the datagrams waiting, up to `BATCH` (16) reads in one system
//!    call (`recvmmsg`; waking every 50 ms for steps 1 and 2), each read one datagram or,
//!    with UDP GRO, a run of them a peer sent with GSO;
//! 4. `SocketLoop::sort`: each datagram by its first byte, to `SocketLoop::stun_request`,
//!    `SocketLoop::stun_response` or `SocketLoop::dtls_record` (the rest is dropped).
//!
//! Records cross to DTLS through [`RecordSender`], and a lost consent wakes the association
//! loop through [`WakeSender`]: both types of the DTLS facade, which hides tokio.

use super::demux::{self, Kind};
use super::dtls::{Offered, RecordSender, WakeSender, Wrap};
use super::ice::agent::{Agent, Event as IceEvent};
use super::ice::trickle::Trickler;
use super::ice::{Checker, Reply, Responder};
use super::session::Cmd;
use super::turn::client::{Client as TurnClient, Inbound};
use crate::trace::{self, Layer};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

/// How often a blocked receive wakes to send a check and look at consent.
const POLL: Duration = Duration::from_millis(50);

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65536;

/// Which ICE agent runs on the socket.
pub(super) enum Ice {
    /// ICE-lite: the responder answers; the checker checks a lite answerer, if there is one.
    Lite(Option<(Checker, SocketAddr)>),
    /// The full agent ([`super::ice::agent`]): it answers, checks, nominates and keeps
    /// consent itself.
    Full(Box<FullIce>),
}

/// The full agent, and the TURN client of its relayed candidate if it has one (shared with
/// DTLS, which wraps its records through it on a relayed pair).
pub(super) struct FullIce {
    pub(super) agent: Agent,
    pub(super) turn: Option<Arc<Mutex<TurnClient>>>,
    /// Gathering that goes on after the offer (trickle ICE, RFC 8838).
    pub(super) trickler: Option<Trickler>,
}

/// What ICE tells the association loop once a pair is chosen: where the peer is, and, on a
/// relayed pair, how DTLS wraps its records for the TURN server.
pub(super) struct Locked {
    pub(super) remote: SocketAddr,
    pub(super) relay: Option<Wrap>,
}
/// The most datagrams one receive takes. SCTP sends its window in bursts: one system call
/// for each of them cost as much as decrypting it. 16 × 64 KiB is 1 MiB of address space;
/// only the pages datagrams are written to are ever touched.
const BATCH: usize = 16;

/// What the socket loop owns.
pub(super) struct SocketLoop {
    /// Candidates the other side trickled (RFC 8838), from the signaling; `None`: the end.
    pub(super) trickled: Receiver<Option<String>>,
    pub(super) socket: UdpSocket,
    pub(super) responder: Responder,
    pub(super) ice: Ice,
    pub(super) to_dtls: RecordSender,
    pub(super) connected: Sender<Locked>,
    /// Wakes the association loop when consent is lost.
    pub(super) wake: WakeSender<Cmd>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) consent_timeout: Duration,
}

/// What the loop learns as it goes.
struct State {
    /// RFC 8445 §7.3 / the note: the peer's address is locked on its first authenticated
    /// check.
    peer: Option<SocketAddr>,
    last_heard: Instant,
    nominated: bool,
    /// The selected pair is relayed: DTLS comes unwrapped from the TURN server.
    relayed: bool,
    /// The transaction id of the checker's next request, drawn when the last one went out:
    /// the loop asks the checker on every datagram, and a draw each time was a `getrandom`
    /// system call per datagram.
    next_tid: [u8; 12],
    /// DTLS records that came before ICE selected a pair (sender, through the relay or
    /// not): passed on once the pair is that sender's, else dropped. The other side may
    /// select first and send its ClientHello before our own check of the pair has come
    /// back (always so when it trickled that candidate late); dropped, it would cost DTLS's
    /// 1 s retransmission.
    early: Vec<(Vec<u8>, SocketAddr, bool)>,
}

/// The most DTLS records held before a pair is selected (a ClientHello is one).
const EARLY_DTLS: usize = 4;

/// Whether the loop goes on after a step.
#[derive(PartialEq, Eq)]
enum Go {
    On,
    Stop,
}

impl SocketLoop {
    /// The loop: reads each datagram, sorts it by its first byte (RFC 7983) and hands it to
    /// whoever it is for.
    pub(super) fn run(mut self) {
        let _ = self.socket.set_read_timeout(Some(POLL));
        // A run of datagrams a peer sent with GSO (`dtls::send_all`) comes in one read, cut
        // apart again in step 4; if the kernel says no, each comes alone as before.
        let _ = nix::sys::socket::setsockopt(
            &self.socket,
            nix::sys::socket::sockopt::UdpGroSegment,
            &true,
        );
        // A room's answer may have been long in coming: the servers' answers wait unread.
        if let Ice::Full(full) = &mut self.ice {
            if let Some(t) = full.trickler.as_mut() {
                t.listening(Instant::now());
            }
        }
        let mut buf = vec![0u8; BATCH * MAX_DATAGRAM];
        let mut state = State {
            peer: None,
            last_heard: Instant::now(),
            nominated: false,
            relayed: false,
            next_tid: super::session::random::<12>(),
            early: Vec::new(),
        };
        while !self.stop.load(Ordering::Relaxed) {
            // 1. The checker's next request, or the full agent's clock.
            if self.check(&mut state) == Go::Stop {
                break;
            }
            // 2. Consent.
            if self.consent_lost(&state) {
                break;
            }
            // 3. The datagrams waiting.
            let got = self.receive(&mut buf);
            // 4. Each sorted by its first byte.
            for (slot, n, from, segment) in got {
                for d in datagrams(&buf[slot * MAX_DATAGRAM..][..n], segment) {
                    if self.sort(d, from, &mut state) == Go::Stop {
                        return;
                    }
                }
            }
        }
    }

    /// Step 1: the checker's request, when one is due; for the full agent, its clock (checks,
    /// retransmissions, the nomination, consent).
    fn check(&mut self, state: &mut State) -> Go {
        let (checker, addr) = match &mut self.ice {
            Ice::Full(full) => {
                let now = Instant::now();
                take_trickled(&self.trickled, &mut full.agent);
                full.agent.tick(now);
                if let Some(turn) = &full.turn {
                    if let Ok(mut c) = turn.lock() {
                        c.tick(now);
                    }
                }
                gather_more(&self.socket, full, now);
                return self.flush(state);
            }
            Ice::Lite(_) if self.trickled.try_recv().is_ok() => {
                // An ICE-lite agent checks no remote candidate: trickled ones are not needed.
                while self.trickled.try_recv().is_ok() {}
                return Go::On;
            }
            Ice::Lite(Some((checker, addr))) => (checker, addr),
            Ice::Lite(None) => return Go::On,
        };
        let Some(request) = checker.poll_request(Instant::now(), state.next_tid) else {
            return Go::On;
        };
        state.next_tid = super::session::random::<12>();
        let Ok(req) = request else {
            return Go::On;
        };
        trace::sent(Layer::Stun, || {
            format!(
                "Binding Request to {addr} USERNAME={}:{} PRIORITY ICE-CONTROLLING USE-CANDIDATE MESSAGE-INTEGRITY FINGERPRINT",
                checker.remote.ufrag, checker.local.ufrag
            )
        });
        let _ = self.socket.send_to(&req, *addr);
        Go::On
    }

    /// The full agent's datagrams sent (through the TURN client when they leave from the
    /// relayed candidate), the TURN client's own, and the agent's decisions acted on: the
    /// selected pair locks the peer (DTLS may start), lost consent ends the session.
    fn flush(&mut self, state: &mut State) -> Go {
        let Ice::Full(full) = &mut self.ice else {
            return Go::On;
        };
        let mut turn = full.turn.as_ref().and_then(|t| t.lock().ok());
        let relayed = turn.as_ref().and_then(|c| c.relayed());
        let mut outgoing = Vec::new();
        while let Some(t) = full.agent.poll_transmit() {
            outgoing.push(match turn.as_mut() {
                Some(c) if Some(t.local) == relayed => {
                    c.permit(t.to, false, Instant::now());
                    (c.wrap(t.to, &t.data), c.server)
                }
                _ => (t.data, t.to),
            });
        }
        // A permission asked for just now goes first: the server takes it before the data
        // that needs it (in order, on one path), instead of dropping that data.
        if let Some(c) = turn.as_mut() {
            let server = c.server;
            let control: Vec<_> = std::iter::from_fn(|| c.poll_transmit())
                .map(|d| (d, server))
                .collect();
            outgoing.splice(0..0, control);
        }
        for (data, to) in outgoing {
            if let Err(e) = self.socket.send_to(&data, to) {
                trace::event(Layer::L4, || format!("UDP send to {to} failed: {e}"));
            }
        }
        while let Some(e) = full.agent.poll_event() {
            match e {
                IceEvent::Selected { local, remote } => {
                    if state.peer.is_some() {
                        continue;
                    }
                    if let Some(t) = &full.trickler {
                        t.selected(local.addr, remote.addr, Instant::now());
                    }
                    state.peer = Some(remote.addr);
                    state.last_heard = Instant::now();
                    let shared = full.turn.as_ref();
                    let relay = relay_path(
                        shared,
                        turn.as_deref_mut(),
                        relayed,
                        local.addr,
                        remote.addr,
                    );
                    state.relayed = relay.is_some();
                    let _ = self.connected.send(Locked {
                        remote: remote.addr,
                        relay,
                    });
                }
                IceEvent::ConsentLost { ms } => {
                    let _ = self.wake.send(Cmd::Lost(ms));
                    return Go::Stop;
                }
            }
        }
        if let Some(c) = turn.as_mut() {
            while let Some(d) = c.poll_transmit() {
                let _ = self.socket.send_to(&d, c.server);
            }
        }
        drop(turn);
        if state.peer.is_some() && !state.early.is_empty() {
            return self.pass_early(state);
        }
        Go::On
    }

    /// A DTLS record from someone who is not the selected pair's peer: held while no pair
    /// is selected (the full agent only: the lite one locks on the first check), else
    /// dropped.
    fn hold_or_drop(&self, d: &[u8], from: SocketAddr, relayed: bool, state: &mut State) {
        let n = d.len();
        let full = matches!(self.ice, Ice::Full(_));
        if full && state.peer.is_none() && state.early.len() < EARLY_DTLS {
            trace::received(Layer::Dtls, || {
                format!("{n} bytes from {from} before ICE selected a pair: held")
            });
            state.early.push((d.to_vec(), from, relayed));
            return;
        }
        trace::received(Layer::Dtls, || {
            format!("{n} bytes from {from}, not the ICE-checked peer: dropped")
        });
    }

    /// A pair is selected: the records held for its peer go to DTLS, the others are dropped.
    fn pass_early(&self, state: &mut State) -> Go {
        for (d, from, relayed) in std::mem::take(&mut state.early) {
            if Some(from) == state.peer && relayed == state.relayed {
                trace::event(Layer::Dtls, || {
                    format!("{} bytes held from {from}: passed on", d.len())
                });
                if self.dtls_record(&d, from) == Go::Stop {
                    return Go::Stop;
                }
            }
        }
        Go::On
    }

    /// Step 2 (RFC 7675 §5.1): silence from the peer for too long means it is gone; the
    /// association loop is told. `true` when that happened.
    fn consent_lost(&self, state: &State) -> bool {
        // The full agent keeps consent with its own checks (RFC 7675 §5.1).
        if matches!(self.ice, Ice::Full(_)) {
            return false;
        }
        if state.peer.is_none() || state.last_heard.elapsed() <= self.consent_timeout {
            return false;
        }
        trace::event(Layer::Stun, || {
            format!(
                "ICE state failed: nothing from the peer for {} ms (consent lost, RFC 7675)",
                self.consent_timeout.as_millis()
            )
        });
        let _ = self.wake.send(Cmd::Lost(self.consent_timeout.as_millis()));
        true
    }

    /// Step 3: the datagrams waiting, each into its slot of `buf` (one `recvmmsg`: it waits
    /// for the first, then takes those already queued): slot, size, sender, and the size of
    /// each datagram in it (with GRO a slot may hold a run of them), in order. Empty when
    /// the wait timed out (or the receive failed).
    fn receive(&self, buf: &mut [u8]) -> Vec<(usize, usize, SocketAddr, usize)> {
        use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
        use std::os::fd::AsRawFd;
        let mut slots: Vec<[std::io::IoSliceMut; 1]> = buf
            .chunks_mut(MAX_DATAGRAM)
            .map(|s| [std::io::IoSliceMut::new(s)])
            .collect();
        let cmsg = nix::cmsg_space!(i32);
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(slots.len(), Some(cmsg));
        let fd = self.socket.as_raw_fd();
        let got = match recvmmsg(fd, &mut headers, &mut slots, MsgFlags::MSG_WAITFORONE, None) {
            Ok(got) => got,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return Vec::new(),
            Err(e) => {
                trace::event(Layer::L4, || format!("UDP receive failed: {e}"));
                return Vec::new();
            }
        };
        got.enumerate()
            .filter_map(|(slot, m)| {
                let from = socket_addr(m.address?)?;
                Some((slot, m.bytes, from, gro_segment(&m).unwrap_or(m.bytes)))
            })
            .collect()
    }

    /// Step 4: RFC 7983's first-byte ranges.
    fn sort(&mut self, d: &[u8], from: SocketAddr, state: &mut State) -> Go {
        let n = d.len();
        // The STUN server's answer while we gather after the offer, told by its transaction
        // before the TURN server's datagrams, which may come from the same address.
        if let Ice::Full(full) = &mut self.ice {
            if let Some(t) = full.trickler.as_mut() {
                if t.is_probe_answer(d, from) {
                    t.on_stun(d, &mut full.agent);
                    return self.flush(state);
                }
            }
        }
        if self.turn_server() == Some(from) {
            return self.relayed_in(d, state);
        }
        match demux::classify(d) {
            Kind::Stun if matches!(self.ice, Ice::Full(_)) => {
                let base = self.socket.local_addr().unwrap_or(from);
                return self.full_stun(d, from, base, state);
            }
            Kind::Stun if super::ice::is_request(d) => self.stun_request(d, from, state),
            Kind::Stun => self.stun_response(d, from, state),
            Kind::Dtls if self.accepts_dtls(from, false, state) => {
                state.last_heard = Instant::now();
                return self.dtls_record(d, from);
            }
            Kind::Dtls => self.hold_or_drop(d, from, false, state),
            Kind::Rtp => trace::received(Layer::L4, || {
                format!("{n} bytes of RTP/RTCP from {from}: no media here, dropped")
            }),
            Kind::Unknown => trace::received(Layer::L4, || {
                format!(
                    "{n} bytes from {from} with first byte {:?}: not STUN, DTLS or RTP (RFC 7983), dropped",
                    d.first()
                )
            }),
        }
        Go::On
    }

    /// Step 4 for STUN with the full agent: it answers or matches the datagram; what it
    /// queued is sent at once, so an answer follows its request. `base` is the local
    /// candidate it arrived on (the relayed address, for what the TURN server relayed).
    fn full_stun(&mut self, d: &[u8], from: SocketAddr, base: SocketAddr, state: &mut State) -> Go {
        let Ice::Full(full) = &mut self.ice else {
            return Go::On;
        };
        if let Err(why) = full.agent.handle(d, from, base, Instant::now()) {
            let n = d.len();
            trace::received(Layer::Stun, || format!("{n} bytes from {from}: {why}"));
        }
        self.flush(state)
    }

    /// Step 4 for a datagram from the TURN server: an answer for the client, or what a peer
    /// sent to our relayed address, unwrapped and sorted like a datagram of its own.
    fn relayed_in(&mut self, d: &[u8], state: &mut State) -> Go {
        let Ice::Full(full) = &self.ice else {
            return Go::On;
        };
        let Some(turn) = full.turn.clone() else {
            return Go::On;
        };
        let (inbound, relayed) = match turn.lock() {
            Ok(mut c) => (c.handle(d, Instant::now()), c.relayed()),
            Err(_) => return Go::On,
        };
        let (peer, data) = match inbound {
            Ok(Inbound::Data { peer, data }) => (peer, data),
            Ok(Inbound::Control) => return self.flush(state),
            Err(e) => {
                trace::received(Layer::Stun, || format!("from the TURN server: {e}"));
                return Go::On;
            }
        };
        let Some(relayed) = relayed else {
            return Go::On;
        };
        match demux::classify(&data) {
            Kind::Stun => self.full_stun(&data, peer, relayed, state),
            Kind::Dtls if self.accepts_dtls(peer, true, state) => {
                state.last_heard = Instant::now();
                self.dtls_record(&data, peer)
            }
            Kind::Dtls if state.peer.is_none() => {
                self.hold_or_drop(&data, peer, true, state);
                Go::On
            }
            _ => {
                let n = data.len();
                trace::received(Layer::L4, || {
                    format!(
                        "{n} bytes relayed from {peer}: not STUN, nor DTLS of the selected pair, dropped"
                    )
                });
                Go::On
            }
        }
    }

    /// Step 4 for a Binding Request: the ICE-lite responder's answer; the first
    /// authenticated one locks the peer.
    fn stun_request(&mut self, d: &[u8], from: SocketAddr, state: &mut State) {
        let (response, use_candidate, summary) = match self.responder.answer(d, from) {
            Reply::Success {
                response,
                nominated,
                summary,
            } => (response, nominated, summary),
            Reply::Error { response, why } => {
                trace::received(Layer::Stun, || {
                    format!("Binding Request from {from} rejected: {why}")
                });
                let _ = self.socket.send_to(&response, from);
                return;
            }
            Reply::Ignore(why) => {
                let n = d.len();
                trace::received(Layer::Stun, || format!("{n} bytes from {from}: {why}"));
                return;
            }
        };
        trace::received(Layer::Stun, || summary);
        trace::sent(Layer::Stun, || {
            format!(
                "Binding Success to {from} XOR-MAPPED-ADDRESS={from} MESSAGE-INTEGRITY FINGERPRINT"
            )
        });
        let _ = self.socket.send_to(&response, from);
        if state.peer.is_none() {
            trace::event(Layer::Stun, || {
                format!("ICE state connected: peer {from} locked on its first authenticated check")
            });
            self.lock(from, state);
        }
        if Some(from) == state.peer {
            state.last_heard = Instant::now();
        }
        if use_candidate && !state.nominated {
            state.nominated = true;
            trace::event(Layer::Stun, || {
                format!("ICE state completed: pair with {from} nominated (USE-CANDIDATE)")
            });
        }
    }

    /// Step 4 for a STUN response: the answer to our checker's request, if it is one.
    fn stun_response(&mut self, d: &[u8], from: SocketAddr, state: &mut State) {
        let checker = match &mut self.ice {
            Ice::Lite(Some((checker, addr))) if *addr == from => Some(checker),
            _ => None,
        };
        let Some(checker) = checker else {
            trace::received(Layer::Stun, || {
                format!("STUN response from {from} for no check of ours: ignored")
            });
            return;
        };
        if let Err(why) = checker.on_response(d) {
            trace::received(Layer::Stun, || format!("response from {from}: {why}"));
            return;
        }
        state.last_heard = Instant::now();
        if state.peer.is_none() {
            trace::received(Layer::Stun, || {
                format!("Binding Success from {from}: verified")
            });
            trace::event(Layer::Stun, || {
                format!("ICE state connected: pair with {from} checked and nominated")
            });
            self.lock(from, state);
        }
    }

    /// Is a DTLS record from `from` (relayed by the TURN server or not) for us? From the
    /// selected pair's peer by that path; with the full agent, from the remote of any valid
    /// pair too, once one is selected (RFC 8445 §12.1: be ready to receive on any of them:
    /// an aggressive controlling agent such as aiortc may send on another pair than the one
    /// this side selected).
    fn accepts_dtls(&self, from: SocketAddr, relayed: bool, state: &State) -> bool {
        if state.peer.is_none() {
            return false;
        }
        if Some(from) == state.peer && relayed == state.relayed {
            return true;
        }
        match &self.ice {
            Ice::Full(full) => full.agent.is_valid_remote(from),
            Ice::Lite(_) => false,
        }
    }

    /// The TURN server's address, when the full agent has a relayed candidate.
    fn turn_server(&self) -> Option<SocketAddr> {
        match &self.ice {
            Ice::Full(full) => full
                .turn
                .as_ref()
                .and_then(|t| t.lock().ok().map(|c| c.server)),
            Ice::Lite(_) => None,
        }
    }

    /// The peer's address is known: DTLS may start.
    fn lock(&self, from: SocketAddr, state: &mut State) {
        state.peer = Some(from);
        let _ = self.connected.send(Locked {
            remote: from,
            relay: None,
        });
    }

    /// Step 4 for a DTLS record from the locked peer: queued for the association loop.
    fn dtls_record(&self, d: &[u8], from: SocketAddr) -> Go {
        match self.to_dtls.offer(d.to_vec()) {
            Offered::Queued => Go::On,
            // DTLS is behind: drop the datagram, as a full socket buffer would (the peer's
            // SCTP sends it again); memory stays bounded whatever it sends.
            Offered::Full => {
                let n = d.len();
                trace::received(Layer::Dtls, || {
                    format!("{n} bytes from {from}: the DTLS queue is full, dropped")
                });
                Go::On
            }
            Offered::Closed => Go::Stop,
        }
    }
}

/// When the selected pair's local candidate is the relayed one: a channel for its data (4
/// bytes of header, not 36), and how DTLS wraps its records through the client.
fn relay_path(
    shared: Option<&Arc<Mutex<TurnClient>>>,
    client: Option<&mut TurnClient>,
    relayed: Option<SocketAddr>,
    local: SocketAddr,
    peer: SocketAddr,
) -> Option<Wrap> {
    let (shared, c) = (shared?, client?);
    if Some(local) != relayed {
        return None;
    }
    c.permit(peer, true, Instant::now());
    Some(wrap_for(shared.clone(), peer, c.server))
}

/// How DTLS sends on a relayed pair: each record wrapped by the TURN client (ChannelData once
/// the channel is bound, a Send indication before), to the server.
fn wrap_for(turn: Arc<Mutex<TurnClient>>, peer: SocketAddr, server: SocketAddr) -> Wrap {
    Arc::new(move |record: &[u8]| {
        let bytes = match turn.lock() {
            Ok(c) => c.wrap(peer, record),
            Err(_) => Vec::new(),
        };
        (bytes, server)
    })
}

/// Trickle ICE: the STUN request due, and the candidates found since the last turn (or the
/// end of them), into the agent and out to the signaling.
fn gather_more(socket: &UdpSocket, full: &mut FullIce, now: Instant) {
    let Some(t) = full.trickler.as_mut() else {
        return;
    };
    while let Some((d, to)) = t.poll_transmit(now) {
        if let Err(e) = socket.send_to(&d, to) {
            trace::event(Layer::L4, || format!("UDP send to {to} failed: {e}"));
        }
    }
    let turn = full.turn.as_ref().and_then(|c| c.lock().ok());
    t.tick(now, &mut full.agent, turn.as_deref());
}

/// Candidates the signaling passed on since the last turn, to the agent (refused ones are
/// traced there).
fn take_trickled(rx: &Receiver<Option<String>>, agent: &mut Agent) {
    while let Ok(c) = rx.try_recv() {
        match c {
            Some(line) => drop(agent.add_remote(&line)),
            None => trace::received(Layer::Stun, || {
                "end-of-candidates: the peer trickles no more (RFC 8838 §4.4)".into()
            }),
        }
    }
}

/// The size of each datagram in a read that took a run of them (UDP_GRO's control message).
fn gro_segment(
    m: &nix::sys::socket::RecvMsg<'_, '_, nix::sys::socket::SockaddrStorage>,
) -> Option<usize> {
    use nix::sys::socket::ControlMessageOwned;
    m.cmsgs().ok()?.find_map(|c| match c {
        ControlMessageOwned::UdpGroSegments(size) => usize::try_from(size).ok(),
        _ => None,
    })
}

/// The datagrams of one read: `d` cut every `segment` bytes (the last may be shorter); `d`
/// itself when it is one datagram (an empty one included: step 4 traces it).
fn datagrams(d: &[u8], segment: usize) -> impl Iterator<Item = &[u8]> {
    let size = if segment == 0 || segment >= d.len() {
        d.len().max(1)
    } else {
        segment
    };
    (0..d.len().max(1))
        .step_by(size)
        .map(move |at| &d[at..(at + size).min(d.len())])
}

/// The sender of a datagram, as std names it (IPv4 or IPv6; nothing else reaches a UDP
/// socket).
fn socket_addr(a: nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(std::net::SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
}

#[cfg(test)]
mod tests {
    use super::datagrams;

    #[test]
    fn a_gro_read_is_cut_into_its_datagrams() {
        let run: Vec<u8> = (0..10).collect();
        let cut: Vec<&[u8]> = datagrams(&run, 4).collect();
        assert_eq!(cut, [&[0, 1, 2, 3][..], &[4, 5, 6, 7], &[8, 9]]);
        // One datagram (no GRO message: its own size), and an empty one, each alone.
        assert_eq!(datagrams(&run, 10).count(), 1);
        let whole: Vec<&[u8]> = datagrams(&run, 0).collect();
        assert_eq!(whole, [&run[..]]);
        let empty: Vec<&[u8]> = datagrams(&[], 0).collect();
        assert_eq!(empty, [&[] as &[u8]]);
    }
}
