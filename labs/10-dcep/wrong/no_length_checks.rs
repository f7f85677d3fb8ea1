//! Lab 10 — a plausible wrong solution, kept so that the check is proved to catch it:
//! every field decoded right, but no length is checked: a message shorter than the 12-byte
//! fixed part, or a Label Length or Protocol Length past the end, indexes out of bounds and
//! panics. Browsers never send such an OPEN; an attacker on the association can.
//! `make check LAB=10 WRONG=no_length_checks` shows the failure.

use netlab::webrtc::dcep::{ChannelType, DcepError, Open, Reliability};

/// Called by netlab's SCTP loop with the first message (PPID 50) of a stream the other side
/// opened. Returns the channel it describes and the bytes to send back on the same stream.
pub fn on_open(message: &[u8]) -> Result<(Open, Vec<u8>), DcepError> {
    // §5.1: 12 bytes of fixed fields before the label and the protocol.
    if message.is_empty() {
        return Err(DcepError::Empty);
    }
    if message[0] != 0x03 {
        return Err(DcepError::UnknownMessageType(message[0]));
    }
    let channel_type = message[1];
    let priority = u16::from_be_bytes([message[2], message[3]]);
    let parameter = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
    let label_len = u16::from_be_bytes([message[8], message[9]]) as usize;
    let protocol_len = u16::from_be_bytes([message[10], message[11]]) as usize;
    // §5.1: the high bit is "unordered"; the low bits choose the reliability, and the
    // Reliability Parameter means retransmissions (0x01) or milliseconds (0x02).
    let reliability = match channel_type & 0x7f {
        0x00 => Reliability::Reliable,
        0x01 => Reliability::Rexmit(parameter),
        0x02 => Reliability::Timed(parameter),
        _ => return Err(DcepError::UnknownChannelType(channel_type)),
    };
    let rest = &message[12..];
    // The lengths count bytes of UTF-8, not characters.
    let label = std::str::from_utf8(&rest[..label_len]).map_err(|_| DcepError::NotUtf8("label"))?;
    let protocol = std::str::from_utf8(&rest[label_len..label_len + protocol_len])
        .map_err(|_| DcepError::NotUtf8("protocol"))?;
    let open = Open {
        channel_type: ChannelType {
            unordered: channel_type & 0x80 != 0,
            reliability,
        },
        priority,
        label: label.to_string(),
        protocol: protocol.to_string(),
    };
    // §5.2: DATA_CHANNEL_ACK is one byte, its Message Type, 0x02.
    Ok((open, vec![0x02]))
}
