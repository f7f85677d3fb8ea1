//! The peer's one UDP socket and the loop that reads it: each datagram sorted by its first
//! byte (RFC 7983 §7), STUN answered by the ICE-lite responder (RFC 8445 §7.3) or matched to
//! the checker's request, DTLS records passed on to the association loop once the peer's
//! address is locked, and consent watched (RFC 7675 §5.1: no word from the peer for the
//! consent timeout ends the session). The only place a WebRTC peer reads its socket.

use super::demux::{self, Kind};
use super::ice::{Checker, Reply, Responder};
use super::session::Cmd;
use crate::trace::{self, Layer};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::mpsc::error::TrySendError;

/// What the socket loop owns.
pub(super) struct SocketLoop {
    pub(super) socket: UdpSocket,
    pub(super) responder: Responder,
    pub(super) checker: Option<(Checker, SocketAddr)>,
    pub(super) to_dtls: tokio::sync::mpsc::Sender<Vec<u8>>,
    pub(super) connected: Sender<SocketAddr>,
    /// Wakes the association loop when consent is lost.
    pub(super) wake: UnboundedSender<Cmd>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) consent_timeout: Duration,
}

/// The socket loop: reads each datagram, sorts it by its first byte (RFC 7983) and hands
/// it to whoever it is for. Ends when the association loop stops or consent is lost.
pub(super) fn socket_loop(mut s: SocketLoop) {
    let _ = s.socket.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 65536];
    // RFC 8445 §7.3 / the note: the peer's address is locked on its first authenticated check.
    let mut peer: Option<SocketAddr> = None;
    let mut last_heard = Instant::now();
    let mut nominated = false;
    while !s.stop.load(Ordering::Relaxed) {
        // 1. The checker's next request, if it is due (only when we offered to a lite agent).
        if let Some((checker, addr)) = s.checker.as_mut() {
            if let Some(Ok(req)) =
                checker.poll_request(Instant::now(), super::session::random::<12>())
            {
                trace::sent(Layer::Stun, || {
                    format!(
                        "Binding Request to {addr} USERNAME={}:{} PRIORITY ICE-CONTROLLING USE-CANDIDATE MESSAGE-INTEGRITY FINGERPRINT",
                        checker.remote.ufrag, checker.local.ufrag
                    )
                });
                let _ = s.socket.send_to(&req, *addr);
            }
        }
        // 2. Consent (RFC 7675 §5.1): silence for too long means the peer is gone.
        if peer.is_some() && last_heard.elapsed() > s.consent_timeout {
            trace::event(Layer::Stun, || {
                format!(
                    "ICE state failed: nothing from the peer for {} ms (consent lost, RFC 7675)",
                    s.consent_timeout.as_millis()
                )
            });
            let _ = s.wake.send(Cmd::Lost(s.consent_timeout.as_millis()));
            break;
        }
        // 3. The next datagram.
        let (n, from) = match s.socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => {
                trace::event(Layer::L4, || format!("UDP receive failed: {e}"));
                continue;
            }
        };
        let d = &buf[..n];
        // 4. Sorted by its first byte.
        match demux::classify(d) {
            Kind::Stun if super::ice::is_request(d) => match s.responder.answer(d, from) {
                Reply::Success {
                    response,
                    nominated: use_candidate,
                    summary,
                } => {
                    trace::received(Layer::Stun, || summary);
                    trace::sent(Layer::Stun, || {
                        format!(
                            "Binding Success to {from} XOR-MAPPED-ADDRESS={from} MESSAGE-INTEGRITY FINGERPRINT"
                        )
                    });
                    let _ = s.socket.send_to(&response, from);
                    if peer.is_none() {
                        peer = Some(from);
                        trace::event(Layer::Stun, || {
                            format!(
                                "ICE state connected: peer {from} locked on its first authenticated check"
                            )
                        });
                        let _ = s.connected.send(from);
                    }
                    if Some(from) == peer {
                        last_heard = Instant::now();
                    }
                    if use_candidate && !nominated {
                        nominated = true;
                        trace::event(Layer::Stun, || {
                            format!(
                                "ICE state completed: pair with {from} nominated (USE-CANDIDATE)"
                            )
                        });
                    }
                }
                Reply::Error { response, why } => {
                    trace::received(Layer::Stun, || {
                        format!("Binding Request from {from} rejected: {why}")
                    });
                    let _ = s.socket.send_to(&response, from);
                }
                Reply::Ignore(why) => {
                    trace::received(Layer::Stun, || format!("{n} bytes from {from}: {why}"))
                }
            },
            Kind::Stun => match s.checker.as_mut() {
                Some((checker, addr)) if from == *addr => match checker.on_response(d) {
                    Ok(_) => {
                        last_heard = Instant::now();
                        if peer.is_none() {
                            trace::received(Layer::Stun, || {
                                format!("Binding Success from {from}: verified")
                            });
                            trace::event(Layer::Stun, || {
                                format!(
                                    "ICE state connected: pair with {from} checked and nominated"
                                )
                            });
                            peer = Some(from);
                            let _ = s.connected.send(from);
                        }
                    }
                    Err(why) => {
                        trace::received(Layer::Stun, || format!("response from {from}: {why}"))
                    }
                },
                _ => trace::received(Layer::Stun, || {
                    format!("STUN response from {from} for no check of ours: ignored")
                }),
            },
            Kind::Dtls if Some(from) == peer => {
                last_heard = Instant::now();
                match s.to_dtls.try_send(d.to_vec()) {
                    Ok(()) => {}
                    // DTLS is behind: drop the datagram, as a full socket buffer would (the
                    // peer's SCTP sends it again); memory stays bounded whatever it sends.
                    Err(TrySendError::Full(_)) => trace::received(Layer::Dtls, || {
                        format!("{n} bytes from {from}: the DTLS queue is full, dropped")
                    }),
                    Err(TrySendError::Closed(_)) => break,
                }
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
    }
}
