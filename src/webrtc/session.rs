//! What a WebRTC session's parts say to each other (RFC 8831 §6: a data channel, its
//! messages): the channel as both sides agreed on it, the messages on it, the events the
//! association loop reports, the commands the application sends it, and why a session
//! failed. The peer (`peer.rs`), the SCTP loop and its channels (`sctp.rs`, `channel.rs`)
//! and the socket loop (`socket.rs`) all speak these, so they live apart from any of them.

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

impl Channel {
    /// The channel a DATA_CHANNEL_OPEN describes, on stream `id` (whichever side sent it).
    pub(super) fn from_open(id: u16, open: Open) -> Channel {
        Channel {
            id,
            label: open.label,
            protocol: open.protocol,
            channel_type: open.channel_type,
        }
    }
}

/// A message on a channel: text (PPID 51) or binary (PPID 53), possibly empty (RFC 8831 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

impl Message {
    /// The bytes of the message as SCTP carries it: an empty message is the one byte of
    /// RFC 8831 §6.6.
    pub fn wire_len(&self) -> usize {
        let n = match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
        };
        n.max(1)
    }
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

/// What the association loop is asked to do: by the application, or by the socket loop.
#[derive(Debug)]
pub enum Cmd {
    /// Something to do on one channel; waits in a queue until the association is up.
    Channel(ChannelCmd),
    /// End the session: SCTP SHUTDOWN once everything queued is acknowledged.
    Shutdown,
    /// From the socket loop: the peer went silent for this many ms (RFC 7675), the session
    /// is over.
    Lost(u128),
}

/// What the application asks of one channel.
#[derive(Debug)]
pub enum ChannelCmd {
    Open { id: u16, open: Open },
    Send { id: u16, message: Message },
    Close(u16),
}

/// Why a peer failed, naming the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerError {
    Sdp(SdpError),
    Ice(IceFailure),
    Dtls(DtlsError),
    Sctp(SctpFailure),
    /// The socket: what was being done, and the system's message.
    Io {
        doing: &'static str,
        why: String,
    },
    /// RFC 8841 §6: a message larger than the peer's `a=max-message-size`, refused before
    /// it reaches SCTP (the W3C API throws a TypeError there); the channel goes on.
    TooLarge {
        size: usize,
        max: u32,
    },
    /// The peer's threads are gone.
    Gone,
}

/// How ICE failed, one variant per way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IceFailure {
    /// RFC 8445 §7.2: no authenticated connectivity check (or answer to ours) in time.
    NoCheck { ms: u128 },
    /// RFC 7675 §5.1: nothing from the peer for the consent timeout.
    ConsentLost { ms: u128 },
    /// A lite answerer's SDP named no candidate for our checks (RFC 8445 §6.1.1).
    NoCandidate,
}

impl fmt::Display for IceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IceFailure::NoCheck { ms } => write!(
                f,
                "no authenticated connectivity check within {ms} ms (wrong credentials, or no route to the candidate?)"
            ),
            IceFailure::ConsentLost { ms } => write!(
                f,
                "consent lost: nothing from the peer for {ms} ms (RFC 7675 §5.1)"
            ),
            IceFailure::NoCandidate => f.write_str("the lite answerer gave no candidate to check"),
        }
    }
}

/// How the SCTP association failed, one variant per way; `why` is sctp-proto's own message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SctpFailure {
    /// The association could not be started (RFC 9260 §5.1).
    Start { why: String },
    /// The four-way handshake failed (INIT, INIT ACK, COOKIE ECHO, COOKIE ACK).
    Handshake { why: String },
    /// An established association ended without SHUTDOWN (an ABORT, a timeout).
    Lost { why: String },
    /// A stream could not be opened or written.
    Stream { id: u16, why: String },
    /// No data channel opened within this many ms after DTLS.
    NoChannel { ms: u128 },
    /// sctp-proto panicked on what the peer sent (caught: only this session ends).
    Panicked { what: String },
}

impl fmt::Display for SctpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SctpFailure::Start { why } => write!(f, "cannot start the association: {why}"),
            SctpFailure::Handshake { why } => write!(f, "association handshake failed: {why}"),
            SctpFailure::Lost { why } => write!(f, "association lost: {why}"),
            SctpFailure::Stream { id, why } => write!(f, "stream {id}: {why}"),
            SctpFailure::NoChannel { ms } => write!(f, "no channel open within {ms} ms"),
            SctpFailure::Panicked { what } => write!(f, "the SCTP stack {what}"),
        }
    }
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Sdp(e) => write!(f, "SDP: {e}"),
            PeerError::Ice(e) => write!(f, "ICE: {e}"),
            PeerError::Dtls(e) => write!(f, "{e}"),
            PeerError::Sctp(e) => write!(f, "SCTP: {e}"),
            PeerError::Io { doing, why } => write!(f, "socket: {doing}: {why}"),
            PeerError::TooLarge { size, max } => write!(
                f,
                "message of {size} bytes not sent: the peer's a=max-message-size is {max} (RFC 8841 §6)"
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_says_its_layer_first_in_one_line() {
        let why = || "x".to_string();
        let cases = [
            (
                PeerError::Ice(IceFailure::NoCheck { ms: 10 }),
                "ICE: no authenticated connectivity check within 10 ms",
            ),
            (
                PeerError::Ice(IceFailure::ConsentLost { ms: 7 }),
                "ICE: consent lost: nothing from the peer for 7 ms (RFC 7675 §5.1)",
            ),
            (
                PeerError::Ice(IceFailure::NoCandidate),
                "ICE: the lite answerer gave no candidate to check",
            ),
            (
                PeerError::Sctp(SctpFailure::Start { why: why() }),
                "SCTP: cannot start the association: x",
            ),
            (
                PeerError::Sctp(SctpFailure::Handshake { why: why() }),
                "SCTP: association handshake failed: x",
            ),
            (
                PeerError::Sctp(SctpFailure::Lost { why: why() }),
                "SCTP: association lost: x",
            ),
            (
                PeerError::Sctp(SctpFailure::Stream { id: 3, why: why() }),
                "SCTP: stream 3: x",
            ),
            (
                PeerError::Sctp(SctpFailure::NoChannel { ms: 5 }),
                "SCTP: no channel open within 5 ms",
            ),
            (
                PeerError::Sctp(SctpFailure::Panicked {
                    what: "panicked: y".into(),
                }),
                "SCTP: the SCTP stack panicked: y",
            ),
            (
                PeerError::Io {
                    doing: "bind UDP",
                    why: why(),
                },
                "socket: bind UDP: x",
            ),
            (
                PeerError::TooLarge {
                    size: 65537,
                    max: 65536,
                },
                "message of 65537 bytes not sent: the peer's a=max-message-size is 65536",
            ),
        ];
        for (e, starts) in cases {
            let text = e.to_string();
            assert!(text.starts_with(starts) && !text.contains('\n'), "{text}");
        }
    }
}
