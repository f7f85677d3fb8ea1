//! The peer's one UDP socket and the loop that reads it: each datagram sorted by its first
//! byte (RFC 7983 §7), STUN answered by the ICE-lite responder (RFC 8445 §7.3) or matched to
//! the checker's request, DTLS records passed on to the association loop once the peer's
//! address is locked, and consent watched (RFC 7675 §5.1: no word from the peer for the
//! consent timeout ends the session). The only place a WebRTC peer reads its socket.
//!
//! `SocketLoop::run` goes round these steps, one method each, until the association loop
//! stops or consent is lost:
//!
//! 1. `SocketLoop::check`: the checker's next request, if one is due (only when we
//!    offered to a lite agent);
//! 2. `SocketLoop::consent_lost`: silence from the locked peer for too long ends it;
//! 3. `SocketLoop::receive`: the datagrams waiting, up to [`BATCH`] in one system call
//!    (`recvmmsg`; waking every 50 ms for steps 1 and 2);
//! 4. `SocketLoop::sort`: each by its first byte, to `SocketLoop::stun_request`,
//!    `SocketLoop::stun_response` or `SocketLoop::dtls_record` (the rest is dropped).
//!
//! Records cross to DTLS through [`RecordSender`], and a lost consent wakes the association
//! loop through [`WakeSender`]: both types of the DTLS facade, which hides tokio.

use super::demux::{self, Kind};
use super::dtls::{Offered, RecordSender, WakeSender};
use super::ice::{Checker, Reply, Responder};
use super::session::Cmd;
use crate::trace::{self, Layer};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// How often a blocked receive wakes to send a check and look at consent.
const POLL: Duration = Duration::from_millis(50);

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65536;

/// The most datagrams one receive takes. SCTP sends its window in bursts: one system call
/// for each of them cost as much as decrypting it. 16 × 64 KiB is 1 MiB of address space;
/// only the pages datagrams are written to are ever touched.
const BATCH: usize = 16;

/// What the socket loop owns.
pub(super) struct SocketLoop {
    pub(super) socket: UdpSocket,
    pub(super) responder: Responder,
    pub(super) checker: Option<(Checker, SocketAddr)>,
    pub(super) to_dtls: RecordSender,
    pub(super) connected: Sender<SocketAddr>,
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
    /// The transaction id of the checker's next request, drawn when the last one went out:
    /// the loop asks the checker on every datagram, and a draw each time was a `getrandom`
    /// system call per datagram.
    next_tid: [u8; 12],
}

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
        let mut buf = vec![0u8; BATCH * MAX_DATAGRAM];
        let mut state = State {
            peer: None,
            last_heard: Instant::now(),
            nominated: false,
            next_tid: super::session::random::<12>(),
        };
        while !self.stop.load(Ordering::Relaxed) {
            // 1. The checker's next request.
            self.check(&mut state);
            // 2. Consent.
            if self.consent_lost(&state) {
                break;
            }
            // 3. The datagrams waiting.
            let got = self.receive(&mut buf);
            // 4. Each sorted by its first byte.
            for (slot, n, from) in got {
                let d = &buf[slot * MAX_DATAGRAM..][..n];
                if self.sort(d, from, &mut state) == Go::Stop {
                    return;
                }
            }
        }
    }

    /// Step 1: the checker's request, when one is due.
    fn check(&mut self, state: &mut State) {
        let Some((checker, addr)) = self.checker.as_mut() else {
            return;
        };
        let Some(request) = checker.poll_request(Instant::now(), state.next_tid) else {
            return;
        };
        state.next_tid = super::session::random::<12>();
        let Ok(req) = request else {
            return;
        };
        trace::sent(Layer::Stun, || {
            format!(
                "Binding Request to {addr} USERNAME={}:{} PRIORITY ICE-CONTROLLING USE-CANDIDATE MESSAGE-INTEGRITY FINGERPRINT",
                checker.remote.ufrag, checker.local.ufrag
            )
        });
        let _ = self.socket.send_to(&req, *addr);
    }

    /// Step 2 (RFC 7675 §5.1): silence from the peer for too long means it is gone; the
    /// association loop is told. `true` when that happened.
    fn consent_lost(&self, state: &State) -> bool {
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
    /// for the first, then takes those already queued): slot, size and sender of each, in
    /// order. Empty when the wait timed out (or the receive failed).
    fn receive(&self, buf: &mut [u8]) -> Vec<(usize, usize, SocketAddr)> {
        use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
        use std::os::fd::AsRawFd;
        let mut slots: Vec<[std::io::IoSliceMut; 1]> = buf
            .chunks_mut(MAX_DATAGRAM)
            .map(|s| [std::io::IoSliceMut::new(s)])
            .collect();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(slots.len(), None);
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
            .filter_map(|(slot, m)| Some((slot, m.bytes, socket_addr(m.address?)?)))
            .collect()
    }

    /// Step 4: RFC 7983's first-byte ranges.
    fn sort(&mut self, d: &[u8], from: SocketAddr, state: &mut State) -> Go {
        let n = d.len();
        match demux::classify(d) {
            Kind::Stun if super::ice::is_request(d) => self.stun_request(d, from, state),
            Kind::Stun => self.stun_response(d, from, state),
            Kind::Dtls if Some(from) == state.peer => {
                state.last_heard = Instant::now();
                return self.dtls_record(d, from);
            }
            Kind::Dtls => trace::received(Layer::Dtls, || {
                format!("{n} bytes from {from}, not the ICE-checked peer: dropped")
            }),
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
        let Some((checker, _)) = self.checker.as_mut().filter(|(_, addr)| *addr == from) else {
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

    /// The peer's address is known: DTLS may start.
    fn lock(&self, from: SocketAddr, state: &mut State) {
        state.peer = Some(from);
        let _ = self.connected.send(from);
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

/// The sender of a datagram, as std names it (IPv4 or IPv6; nothing else reaches a UDP
/// socket).
fn socket_addr(a: nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(std::net::SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
}
