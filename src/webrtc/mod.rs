//! WebRTC data channels, built from their pieces so each one can be read on its own
//! (RFC 8831 data channels, RFC 8827 security architecture). Read in this order:
//!
//! 1. [`sdp`]: the offer and answer a page and this peer exchange (RFC 8866, RFC 8841).
//! 2. [`signaling`]: how they travel: `POST /webrtc` with the offer, `201 Created` with the
//!    answer (the WHIP shape, RFC 9725), and a relay of offers between two browser tabs.
//! 3. [`demux`]: one UDP socket, three protocols, sorted by the first byte (RFC 7983); the
//!    loop that reads that socket is [`socket`].
//! 4. [`ice`]: ICE (RFC 8445, RFC 8489): the full agent (`ice/agent.rs`: gathering in
//!    `ice/gather.rs`, priorities and the nomination policy in `ice/priority.rs`), the ICE-lite
//!    responder and a small controlling checker; relayed candidates come from the TURN client
//!    in `turn/client.rs`.
//! 5. [`dtls`]: DTLS 1.2 with the peer's certificate checked against the SDP fingerprint
//!    (RFC 8842), webrtc-dtls behind a blocking facade.
//! 6. [`sctp`]: SCTP over DTLS (RFC 8261), sctp-proto driven by a loop with numbered steps;
//!    `channel.rs` keeps the data channels on its streams (RFC 8831 §6); [`chunk`] decodes
//!    its packets for the trace.
//! 7. [`dcep`]: opening a channel with DATA_CHANNEL_OPEN / ACK (RFC 8832).
//! 8. [`peer`]: the assembly, with a blocking API: open a channel, send, receive, close;
//!    [`session`] holds what its parts say to each other (channels, messages, events).
//! 9. [`partial`]: what partial reliability buys on a lossy path (RFC 3758): the age of the
//!    freshest message on an unordered maxRetransmits=0 channel next to a reliable one.
//! 10. [`stun_server`] and [`turn`]: the servers that make ICE work across NATs, and
//!     [`behavior`]: what kind of NAT is in the way (RFC 5780's mapping test), which
//!     `netlab nat` runs inside the namespaces of [`crate::l4::netns`].

pub mod behavior;
mod channel;
pub mod chunk;
pub mod dcep;
pub mod demux;
pub mod dtls;
pub mod ice;
pub mod keylog;
pub mod partial;
pub mod peer;
pub mod record;
pub mod sctp;
pub mod sdp;
pub mod session;
pub mod signaling;
pub mod socket;
pub mod stun_codec;
pub mod stun_server;
pub mod tour;
pub mod turn;
