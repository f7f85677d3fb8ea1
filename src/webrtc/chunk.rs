//! SCTP packets as the trace shows them: the common header and each chunk (RFC 9260 §3),
//! with the fields of the chunks a data channel uses (DATA §3.3.1, INIT §3.3.2, INIT ACK
//! §3.3.3, SACK §3.3.4, RE-CONFIG RFC 6525, FORWARD-TSN RFC 3758). sctp-proto encodes and
//! decodes for real; this module only reads, so a student sees what passes inside DTLS.
//!
//! ```text
//!  common header: | source port | destination port | verification tag | CRC32c |
//!  each chunk:    | type (8) | flags (8) | length (16) | value … | padding to 4 |
//! ```

/// RFC 9260 §3.2 chunk type names (and the extensions a data channel meets).
pub fn chunk_name(ty: u8) -> String {
    match ty {
        0 => "DATA".into(),
        1 => "INIT".into(),
        2 => "INIT-ACK".into(),
        3 => "SACK".into(),
        4 => "HEARTBEAT".into(),
        5 => "HEARTBEAT-ACK".into(),
        6 => "ABORT".into(),
        7 => "SHUTDOWN".into(),
        8 => "SHUTDOWN-ACK".into(),
        9 => "ERROR".into(),
        10 => "COOKIE-ECHO".into(),
        11 => "COOKIE-ACK".into(),
        14 => "SHUTDOWN-COMPLETE".into(),
        64 => "I-DATA".into(),
        130 => "RE-CONFIG".into(),
        192 => "FORWARD-TSN".into(),
        t => format!("chunk type {t}"),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// A PPID with its RFC 8831 §8 name.
pub fn ppid_name(ppid: u32) -> String {
    match ppid {
        50 => "50 (DCEP)".into(),
        51 => "51 (string)".into(),
        53 => "53 (binary)".into(),
        56 => "56 (empty string)".into(),
        57 => "57 (empty binary)".into(),
        p => p.to_string(),
    }
}

/// One line per chunk of an SCTP packet; a packet too short for its header says so.
pub fn describe(packet: &[u8]) -> Vec<String> {
    let Some(vtag) = be32(packet, 4) else {
        return vec![format!(
            "{} bytes: too short for the SCTP common header (RFC 9260 §3.1)",
            packet.len()
        )];
    };
    let mut out = Vec::new();
    let mut at = 12;
    while at + 4 <= packet.len() {
        let ty = packet[at];
        let flags = packet[at + 1];
        let len = be16(packet, at + 2).unwrap_or(0) as usize;
        if len < 4 || at + len > packet.len() {
            out.push(format!("{} with a bad length {len}", chunk_name(ty)));
            break;
        }
        let v = &packet[at + 4..at + len];
        let line = match ty {
            0 => {
                let mut f = Vec::new();
                if flags & 0x04 != 0 {
                    f.push("U");
                }
                if flags & 0x02 != 0 {
                    f.push("B");
                }
                if flags & 0x01 != 0 {
                    f.push("E");
                }
                format!(
                    "DATA TSN={} stream={} SSN={} PPID={} flags={} {} bytes {}",
                    be32(v, 0).unwrap_or(0),
                    be16(v, 4).unwrap_or(0),
                    be16(v, 6).unwrap_or(0),
                    ppid_name(be32(v, 8).unwrap_or(0)),
                    if f.is_empty() {
                        "-".into()
                    } else {
                        f.join("|")
                    },
                    v.len().saturating_sub(12),
                    // The plaintext a capture cannot show (webrtc-dtls keeps no key log).
                    crate::trace::quoted(v.get(12..).unwrap_or(&[]), 32)
                )
            }
            1 | 2 => format!(
                "{} vtag={vtag:#x} initiate-tag={:#x} a_rwnd={} OS={} MIS={} initial-TSN={}",
                chunk_name(ty),
                be32(v, 0).unwrap_or(0),
                be32(v, 4).unwrap_or(0),
                be16(v, 8).unwrap_or(0),
                be16(v, 10).unwrap_or(0),
                be32(v, 12).unwrap_or(0)
            ),
            3 => format!(
                "SACK cumulative-TSN-ack={} a_rwnd={} gaps={} duplicates={}",
                be32(v, 0).unwrap_or(0),
                be32(v, 4).unwrap_or(0),
                be16(v, 8).unwrap_or(0),
                be16(v, 10).unwrap_or(0)
            ),
            192 => format!("FORWARD-TSN new-cumulative-TSN={}", be32(v, 0).unwrap_or(0)),
            6 => format!("ABORT{}", if flags & 1 != 0 { " (T bit)" } else { "" }),
            _ => chunk_name(ty),
        };
        out.push(line);
        // §3.2: chunks are padded to a multiple of 4 bytes.
        at += len.div_ceil(4) * 4;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_chunk_shows_its_stream_tsn_and_ppid() {
        let mut p = vec![0x13, 0x88, 0x13, 0x88, 0, 0, 0, 7, 0, 0, 0, 0];
        p.extend_from_slice(&[0, 0x03, 0, 21]); // DATA, B|E, length 16 + 5
        p.extend_from_slice(&9u32.to_be_bytes());
        p.extend_from_slice(&[0, 1, 0, 0]);
        p.extend_from_slice(&51u32.to_be_bytes());
        p.extend_from_slice(b"hello\0\0\0");
        p.extend_from_slice(&[11, 0, 0, 4]); // COOKIE ACK
        assert_eq!(
            describe(&p),
            [
                "DATA TSN=9 stream=1 SSN=0 PPID=51 (string) flags=B|E 5 bytes \"hello\"",
                "COOKIE-ACK"
            ]
        );
    }

    #[test]
    fn short_and_broken_packets_are_described_not_trusted() {
        assert!(describe(&[1, 2, 3])[0].contains("too short"));
        let p = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 99];
        assert_eq!(describe(&p), ["SACK with a bad length 99"]);
    }
}
