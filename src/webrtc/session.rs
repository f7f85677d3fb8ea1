//! What a WebRTC session's parts say to each other (RFC 8831 §6: a data channel, its
//! messages): the channel as both sides agreed on it, the messages on it, the events the
//! association loop reports, the commands the application sends it, and why a session
//! failed. The peer (`peer.rs`), the SCTP loop (`sctp.rs`) and the socket loop (`socket.rs`)
//! all speak these, so they live apart from any of them.

use super::dcep::{ChannelType, Open};
use super::dtls::DtlsError;
use super::sdp::SdpError;
use std::fmt;

/// A data channel, as both sides agreed on it (RFC 8832 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// The SCTP stream id, the channel's `id` in the W3C API.
    pub id: u16,
    pub label: String,
    pub protocol: String,
    pub channel_type: ChannelType,
}

/// A message on a channel: text (PPID 51) or binary (PPID 53), possibly empty (RFC 8831 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

/// What the association loop tells the application.
#[derive(Debug)]
pub enum Event {
    /// ICE connected and the DTLS handshake completed.
    Connected,
    /// A channel is open: the other side opened it, or acknowledged ours.
    Open(Channel),
    /// A message arrived on channel (stream) `id`.
    Message(u16, Message),
    /// A channel was closed (its stream reset).
    Closed(u16),
    /// Something went wrong on one channel; the rest of the peer goes on.
    Error(String),
    /// The session is over: `None` when closed on purpose, else why it failed.
    Ended(Option<PeerError>),
}

/// What the application asks of the association loop.
#[derive(Debug)]
pub enum Cmd {
    Open {
        id: u16,
        open: Open,
    },
    Send {
        id: u16,
        message: Message,
    },
    Close(u16),
    Shutdown,
    /// From the socket loop: the peer went silent (RFC 7675), the session is over.
    Lost(String),
}

/// Why a peer failed, naming the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerError {
    Sdp(SdpError),
    /// ICE: no authenticated check, or consent lost (RFC 7675).
    Ice(String),
    Dtls(DtlsError),
    Sctp(String),
    /// The socket (bind, send).
    Io(String),
    /// The peer's threads are gone.
    Gone,
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Sdp(e) => write!(f, "SDP: {e}"),
            PeerError::Ice(e) => write!(f, "ICE: {e}"),
            PeerError::Dtls(e) => write!(f, "{e}"),
            PeerError::Sctp(e) => write!(f, "SCTP: {e}"),
            PeerError::Io(e) => write!(f, "socket: {e}"),
            PeerError::Gone => write!(f, "the peer has stopped"),
        }
    }
}

impl std::error::Error for PeerError {}

impl From<SdpError> for PeerError {
    fn from(e: SdpError) -> PeerError {
        PeerError::Sdp(e)
    }
}

impl From<DtlsError> for PeerError {
    fn from(e: DtlsError) -> PeerError {
        PeerError::Dtls(e)
    }
}

/// Random bytes from the system (ring), for ICE credentials and transaction ids.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    // The system RNG failing is not something a peer can recover from; zeros still work
    // as transaction ids on loopback, and the credentials come from the same source.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b
}
