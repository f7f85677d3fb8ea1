//! Lab 10 — the file you edit: how netlab answers a data channel the other side opens
//! (RFC 8832, the Data Channel Establishment Protocol).
//!
//! When a browser or aiortc calls `createDataChannel`, its SCTP stack sends a
//! DATA_CHANNEL_OPEN message (PPID 50) as the first message on a new SCTP stream. netlab's
//! SCTP loop (src/webrtc/channel.rs, `dcep_message`) hands those bytes to `on_open` below, and
//! sends whatever `on_open` returns back on the same stream. The channel is open on the
//! other side only once that reply is a DATA_CHANNEL_ACK.
//!
//! 1. Decode DATA_CHANNEL_OPEN (§5.1): Message Type, Channel Type (its 0x80 bit is
//!    "unordered", its low bits the reliability), Priority, Reliability Parameter, Label
//!    Length, Protocol Length, then the label and the protocol (UTF-8, lengths in bytes).
//! 2. Reply with DATA_CHANNEL_ACK (§5.2).
//!
//! Bad input gets an `Err(DcepError::…)` (one variant per rule, see src/webrtc/dcep.rs),
//! never a panic: netlab then resets the stream. See README.md; check with `make check LAB=10`.

use netlab::webrtc::dcep::{ChannelType, DcepError, Open};

/// Called with the first message (PPID 50) of a stream the other side opened. Returns the
/// channel it describes and the bytes to send back on the same stream.
pub fn on_open(message: &[u8]) -> Result<(Open, Vec<u8>), DcepError> {
    // TODO 1: check the Message Type and the length, then decode every field of §5.1.
    if message.first() != Some(&0x03) {
        return Err(DcepError::UnknownMessageType(
            message.first().copied().unwrap_or(0),
        ));
    }
    let open = Open {
        channel_type: ChannelType::RELIABLE,
        priority: 0,
        label: String::new(),
        protocol: String::new(),
    };
    // TODO 2: the reply. Nothing sent back means the other side waits forever.
    Ok((open, Vec::new()))
}
