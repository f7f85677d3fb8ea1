//! The Data Channel Establishment Protocol, RFC 8832: how one peer opens a data channel and
//! the other agrees, in two messages on the channel's own SCTP stream (PPID 50, §8.1).
//!
//! ```text
//!  DATA_CHANNEL_OPEN (§5.1)                       DATA_CHANNEL_ACK (§5.2)
//!  0               1               2               3
//!  +-------+-------+-------+-------+               +-------+
//!  | 0x03  | Channel Type  Priority |              | 0x02  |
//!  +-------+-------+-------+-------+               +-------+
//!  |       Reliability Parameter    |
//!  +---------------+---------------+
//!  | Label Length  | Protocol Len  |
//!  +---------------+---------------+
//!  | Label ...     | Protocol ...  |
//!  +-------------------------------+
//! ```
//!
//! Wire only: bytes ↔ [`Open`]. The encoder is public (the opener's side); the decoder and
//! the answer to an OPEN are crate-private, because lab 10 is writing them. Which stream a new channel takes (§6: even for the DTLS
//! client, odd for the server) is [`first_stream`]; the peer loop keeps the counter.

use std::fmt;

/// §8.2.1: the Message Type of DATA_CHANNEL_OPEN.
pub const OPEN: u8 = 0x03;
/// §8.2.1: the Message Type of DATA_CHANNEL_ACK.
pub const ACK: u8 = 0x02;

/// §5.1 Channel Type: bit 0x80 is "unordered"; the low bits choose the reliability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelType {
    pub unordered: bool,
    pub reliability: Reliability,
}

/// How hard SCTP tries to deliver a message (§5.1, RFC 3758 partial reliability).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reliability {
    /// DATA_CHANNEL_RELIABLE (0x00): retransmit until delivered.
    Reliable,
    /// DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT (0x01): at most this many retransmissions.
    Rexmit(u32),
    /// DATA_CHANNEL_PARTIAL_RELIABLE_TIMED (0x02): give up after this many milliseconds.
    Timed(u32),
}

impl ChannelType {
    /// Reliable and ordered: the default of `createDataChannel`.
    pub const RELIABLE: ChannelType = ChannelType {
        unordered: false,
        reliability: Reliability::Reliable,
    };

    fn code(self) -> (u8, u32) {
        let (low, param) = match self.reliability {
            Reliability::Reliable => (0x00, 0),
            Reliability::Rexmit(n) => (0x01, n),
            Reliability::Timed(ms) => (0x02, ms),
        };
        (low | if self.unordered { 0x80 } else { 0 }, param)
    }
}

impl fmt::Display for ChannelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = if self.unordered {
            "unordered"
        } else {
            "ordered"
        };
        match self.reliability {
            Reliability::Reliable => write!(f, "reliable {order}"),
            Reliability::Rexmit(n) => write!(f, "partial-reliable max-rexmit={n} {order}"),
            Reliability::Timed(ms) => write!(f, "partial-reliable lifetime={ms}ms {order}"),
        }
    }
}

/// A DATA_CHANNEL_OPEN message (§5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    pub channel_type: ChannelType,
    /// §5.1 Priority: a hint for the scheduler (256 is "normal" in the W3C API).
    pub priority: u16,
    pub label: String,
    pub protocol: String,
}

/// One way a DCEP message can be wrong, in the RFC's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DcepError {
    /// No byte at all: there is no Message Type.
    Empty,
    /// §8.2.1: a Message Type other than OPEN (0x03) or ACK (0x02).
    UnknownMessageType(u8),
    /// §5.1: shorter than the 12-byte fixed part of DATA_CHANNEL_OPEN.
    ShortOpen(usize),
    /// §5.1: a Channel Type whose low bits are not 0x00, 0x01 or 0x02.
    UnknownChannelType(u8),
    /// §5.1: Label Length + Protocol Length go past the end of the message.
    LengthsPastEnd {
        label: usize,
        protocol: usize,
        have: usize,
    },
    /// §5.1: "Label … encoded in UTF-8", and it is not (nor is the protocol).
    NotUtf8(&'static str),
}

impl fmt::Display for DcepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DcepError::Empty => write!(f, "an empty DCEP message has no Message Type"),
            DcepError::UnknownMessageType(t) => {
                write!(f, "unknown DCEP Message Type 0x{t:02x} (RFC 8832 §8.2.1)")
            }
            DcepError::ShortOpen(n) => write!(
                f,
                "DATA_CHANNEL_OPEN of {n} bytes is shorter than its 12-byte fixed part (RFC 8832 §5.1)"
            ),
            DcepError::UnknownChannelType(t) => {
                write!(f, "unknown Channel Type 0x{t:02x} (RFC 8832 §5.1)")
            }
            DcepError::LengthsPastEnd {
                label,
                protocol,
                have,
            } => write!(
                f,
                "Label Length {label} + Protocol Length {protocol} exceed the {have} bytes after the fixed part (RFC 8832 §5.1)"
            ),
            DcepError::NotUtf8(what) => write!(f, "the {what} is not UTF-8 (RFC 8832 §5.1)"),
        }
    }
}

impl std::error::Error for DcepError {}

/// A DCEP message of either kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Ack,
}

/// Encodes DATA_CHANNEL_OPEN (§5.1), all integers in network byte order.
pub fn encode_open(open: &Open) -> Vec<u8> {
    let (ty, param) = open.channel_type.code();
    let mut out = Vec::with_capacity(12 + open.label.len() + open.protocol.len());
    out.push(OPEN);
    out.push(ty);
    out.extend_from_slice(&open.priority.to_be_bytes());
    out.extend_from_slice(&param.to_be_bytes());
    // Lengths are u16 on the wire; a longer label is cut (the W3C API limits it to 65535).
    let label = &open.label.as_bytes()[..open.label.len().min(u16::MAX as usize)];
    let protocol = &open.protocol.as_bytes()[..open.protocol.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(label.len() as u16).to_be_bytes());
    out.extend_from_slice(&(protocol.len() as u16).to_be_bytes());
    out.extend_from_slice(label);
    out.extend_from_slice(protocol);
    out
}

/// DATA_CHANNEL_ACK (§5.2): one byte, the Message Type.
pub(crate) fn encode_ack() -> Vec<u8> {
    vec![ACK]
}

/// Decodes a DCEP message (PPID 50). The SCTP loop tells ACK from OPEN by the first byte
/// itself and hands an OPEN to `on_open` (lab 10's seam), so only the tests call this.
#[cfg(test)]
pub(crate) fn decode(bytes: &[u8]) -> Result<Message, DcepError> {
    match bytes.first() {
        None => Err(DcepError::Empty),
        Some(&OPEN) => decode_open(bytes).map(Message::Open),
        // §5.2: the ACK is the Message Type alone; anything after it is ignored.
        Some(&ACK) => Ok(Message::Ack),
        Some(&t) => Err(DcepError::UnknownMessageType(t)),
    }
}

/// Decodes DATA_CHANNEL_OPEN (§5.1).
pub(crate) fn decode_open(bytes: &[u8]) -> Result<Open, DcepError> {
    if bytes.len() < 12 {
        return Err(DcepError::ShortOpen(bytes.len()));
    }
    match bytes[0] {
        OPEN => {}
        t => return Err(DcepError::UnknownMessageType(t)),
    }
    let ty = bytes[1];
    let priority = u16::from_be_bytes([bytes[2], bytes[3]]);
    let param = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let label_len = u16::from_be_bytes([bytes[8], bytes[9]]) as usize;
    let protocol_len = u16::from_be_bytes([bytes[10], bytes[11]]) as usize;
    let reliability = match ty & 0x7f {
        0x00 => Reliability::Reliable,
        0x01 => Reliability::Rexmit(param),
        0x02 => Reliability::Timed(param),
        _ => return Err(DcepError::UnknownChannelType(ty)),
    };
    let rest = &bytes[12..];
    if label_len + protocol_len > rest.len() {
        return Err(DcepError::LengthsPastEnd {
            label: label_len,
            protocol: protocol_len,
            have: rest.len(),
        });
    }
    let label = std::str::from_utf8(&rest[..label_len]).map_err(|_| DcepError::NotUtf8("label"))?;
    let protocol = std::str::from_utf8(&rest[label_len..label_len + protocol_len])
        .map_err(|_| DcepError::NotUtf8("protocol"))?;
    Ok(Open {
        channel_type: ChannelType {
            unordered: ty & 0x80 != 0,
            reliability,
        },
        priority,
        label: label.to_string(),
        protocol: protocol.to_string(),
    })
}

/// What answers a DATA_CHANNEL_OPEN: the channel it describes and the reply to send on its
/// stream. netlab's own (`answer_open`, with the decoder, kept inside the crate: it is lab
/// 10's answer) is the default of `peer::Config::on_open`; lab 10's student writes another.
pub type OnOpen = fn(&[u8]) -> Result<(Open, Vec<u8>), DcepError>;

/// What the side that did not open a channel does with DATA_CHANNEL_OPEN: decode it and
/// answer DATA_CHANNEL_ACK on the same stream (§6: "the peer … MUST … respond with a
/// DATA_CHANNEL_ACK message on its corresponding outgoing stream"). Lab 10 rewrites this.
pub(crate) fn answer_open(message: &[u8]) -> Result<(Open, Vec<u8>), DcepError> {
    let open = decode_open(message)?;
    Ok((open, encode_ack()))
}

/// §6: "the DTLS role … the client MUST use streams with even stream identifiers, the
/// server MUST use streams with odd stream identifiers."
pub fn first_stream(dtls_client: bool) -> u16 {
    if dtls_client { 0 } else { 1 }
}

/// The PPIDs of user messages (RFC 8831 §8): text and binary, and their "empty" forms.
pub mod ppid {
    /// RFC 8832 §8.1: every DCEP message.
    pub const DCEP: u32 = 50;
    pub const STRING: u32 = 51;
    pub const BINARY: u32 = 53;
    /// §6.6 of RFC 8831: an empty message is sent as one byte with this PPID, and the byte
    /// is ignored on receipt (SCTP cannot carry a DATA chunk of no user data).
    pub const STRING_EMPTY: u32 = 56;
    pub const BINARY_EMPTY: u32 = 57;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(label: &str, protocol: &str, ty: ChannelType) -> Open {
        Open {
            channel_type: ty,
            priority: 256,
            label: label.into(),
            protocol: protocol.into(),
        }
    }

    #[test]
    fn open_encodes_as_rfc_8832_draws_it() {
        let bytes = encode_open(&open("chat", "", ChannelType::RELIABLE));
        assert_eq!(
            bytes,
            [
                3, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 4, 0, 0, b'c', b'h', b'a', b't'
            ]
        );
    }

    #[test]
    fn every_channel_type_round_trips() {
        for unordered in [false, true] {
            for reliability in [
                Reliability::Reliable,
                Reliability::Rexmit(3),
                Reliability::Timed(1500),
            ] {
                let o = open(
                    "é-label",
                    "json",
                    ChannelType {
                        unordered,
                        reliability,
                    },
                );
                assert_eq!(decode(&encode_open(&o)), Ok(Message::Open(o.clone())));
            }
        }
        let unordered = encode_open(&open(
            "u",
            "",
            ChannelType {
                unordered: true,
                reliability: Reliability::Rexmit(0),
            },
        ));
        assert_eq!(unordered[1], 0x81);
    }

    #[test]
    fn ack_is_one_byte_and_extra_bytes_are_ignored() {
        assert_eq!(encode_ack(), [2]);
        assert_eq!(decode(&[2]), Ok(Message::Ack));
        assert_eq!(decode(&[2, 9, 9]), Ok(Message::Ack));
    }

    #[test]
    fn broken_messages_get_one_error_each() {
        let good = encode_open(&open("ab", "p", ChannelType::RELIABLE));
        assert_eq!(decode(&[]), Err(DcepError::Empty));
        assert_eq!(decode(&[7]), Err(DcepError::UnknownMessageType(7)));
        assert_eq!(decode(&good[..11]), Err(DcepError::ShortOpen(11)));
        let mut ty = good.clone();
        ty[1] = 0x03;
        assert_eq!(decode(&ty), Err(DcepError::UnknownChannelType(3)));
        assert_eq!(
            decode(&good[..good.len() - 1]),
            Err(DcepError::LengthsPastEnd {
                label: 2,
                protocol: 1,
                have: 2
            })
        );
        let mut bad = good.clone();
        bad[12] = 0xff;
        assert_eq!(decode(&bad), Err(DcepError::NotUtf8("label")));
    }

    #[test]
    fn answering_an_open_returns_the_channel_and_an_ack() {
        let bytes = encode_open(&open("chat", "", ChannelType::RELIABLE));
        let (o, ack) = answer_open(&bytes).unwrap();
        assert_eq!(o.label, "chat");
        assert_eq!(ack, [ACK]);
    }

    #[test]
    fn stream_parity_follows_the_dtls_role() {
        assert_eq!(first_stream(true) % 2, 0);
        assert_eq!(first_stream(false) % 2, 1);
    }
}
