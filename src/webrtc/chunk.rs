//! SCTP packets as the trace shows them: the common header and each chunk (RFC 9260 §3),
//! with the fields of the chunks a data channel uses (DATA §3.3.1, INIT §3.3.2, INIT ACK
//! §3.3.3, SACK §3.3.4, RE-CONFIG RFC 6525, FORWARD-TSN RFC 3758). sctp-proto encodes and
//! decodes for real; this module only reads, so a student sees what passes inside DTLS.
//!
//! ```text
//!  common header: | source port | destination port | verification tag | CRC32c |
//!  each chunk:    | type (8) | flags (8) | length (16) | value … | padding to 4 |
//! ```

use super::dcep::ppid;

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
pub fn ppid_name(p: u32) -> String {
    let name = match p {
        ppid::DCEP => "DCEP",
        ppid::STRING => "string",
        ppid::BINARY => "binary",
        ppid::STRING_EMPTY => "empty string",
        ppid::BINARY_EMPTY => "empty binary",
        _ => return p.to_string(),
    };
    format!("{p} ({name})")
}

/// RFC 9260 §3.1: the common header's length; chunks follow it.
const COMMON_HEADER: usize = 12;
/// RFC 9260 §3.2: type, flags and length.
const CHUNK_HEADER: usize = 4;
/// RFC 9260 §3.3.1: TSN, stream, SSN and PPID before a DATA chunk's user data.
const DATA_FIELDS: usize = 12;

/// The chunks of a packet (RFC 9260 §3.2): type, flags and value each, or the line that
/// says why the walk stopped.
enum Item<'a> {
    Chunk { ty: u8, flags: u8, value: &'a [u8] },
    Broken(String),
}

/// The verification tag and every chunk of a packet, or `Err` with the line for a packet
/// too short for its common header.
fn walk(packet: &[u8]) -> Result<(u32, Vec<Item<'_>>), String> {
    // The tag is bytes 4–7, but a packet ends no sooner than its checksum (byte 11).
    let (Some(vtag), true) = (be32(packet, 4), packet.len() >= COMMON_HEADER) else {
        return Err(format!(
            "{} bytes: too short for the SCTP common header (RFC 9260 §3.1)",
            packet.len()
        ));
    };
    let mut items = Vec::new();
    let mut at = COMMON_HEADER;
    while at + CHUNK_HEADER <= packet.len() {
        let ty = packet[at];
        let flags = packet[at + 1];
        let len = be16(packet, at + 2).unwrap_or(0) as usize;
        if len < CHUNK_HEADER || at + len > packet.len() {
            items.push(Item::Broken(format!(
                "{} with a bad length {len}",
                chunk_name(ty)
            )));
            break;
        }
        let value = &packet[at + CHUNK_HEADER..at + len];
        items.push(Item::Chunk { ty, flags, value });
        // §3.2: chunks are padded to a multiple of 4 bytes.
        at += len.div_ceil(4) * 4;
    }
    Ok((vtag, items))
}

/// One line per chunk of an SCTP packet; a packet too short for its header says so.
pub fn describe(packet: &[u8]) -> Vec<String> {
    let (vtag, items) = match walk(packet) {
        Ok(x) => x,
        Err(line) => return vec![line],
    };
    items
        .into_iter()
        .map(|item| match item {
            Item::Chunk { ty, flags, value } => describe_chunk(ty, flags, value, vtag),
            Item::Broken(line) => line,
        })
        .collect()
}

/// §6.9: the DATA chunks of one fragmented message, as [`Fold`] counts them.
struct Fragments {
    stream: u16,
    first_tsn: u32,
    chunks: usize,
    bytes: usize,
}

/// The trace of one association with each fragmented message (RFC 9260 §6.9) folded: its
/// first DATA chunk's line, then one line at its last chunk with the count, the bytes and
/// the TSN range. The SACKs that acknowledge parts of it are counted instead of shown, up
/// to the one that acknowledges its last chunk. A 20 kB message is 19 DATA chunks and a
/// handful of SACKs; a student reads three lines.
#[derive(Default)]
pub struct Fold {
    sent: Option<Fragments>,
    received: Option<Fragments>,
    /// The last TSN of a message we sent, until a SACK acknowledges it.
    unacked: Option<u32>,
    /// SACKs not shown since the last one that was.
    sacks: usize,
}

impl Fold {
    /// [`describe`], folded: lines for the packet sent (`sent`) or received.
    pub fn describe(&mut self, packet: &[u8], sent: bool) -> Vec<String> {
        let (vtag, items) = match walk(packet) {
            Ok(x) => x,
            Err(line) => return vec![line],
        };
        let mut out = Vec::new();
        for item in items {
            let line = match item {
                Item::Chunk {
                    ty: DATA,
                    flags,
                    value,
                } => self.data(flags, value, sent),
                Item::Chunk {
                    ty: SACK, value, ..
                } => self.sack(value, sent, vtag),
                Item::Chunk { ty, flags, value } => Some(describe_chunk(ty, flags, value, vtag)),
                Item::Broken(line) => Some(line),
            };
            out.extend(line);
        }
        out
    }

    /// A SACK: counted while a fragmented message is in flight (or, received, while ours is
    /// not yet all acknowledged); the next one shown says how many were not.
    fn sack(&mut self, v: &[u8], sent: bool, vtag: u32) -> Option<String> {
        let cumulative = be32(v, 0).unwrap_or(0);
        // Serial number arithmetic (RFC 1982), as TSNs wrap.
        let behind = |last: u32| (last.wrapping_sub(cumulative) as i32) > 0;
        let waiting = !sent && self.unacked.is_some_and(behind);
        if self.sent.is_some() || self.received.is_some() || waiting {
            self.sacks += 1;
            return None;
        }
        if !sent {
            self.unacked = None;
        }
        let line = describe_chunk(SACK, 0, v, vtag);
        match std::mem::take(&mut self.sacks) {
            0 => Some(line),
            n => Some(format!("{line} ({n} SACKs before it not shown)")),
        }
    }

    /// A DATA chunk: shown when it is a whole message or the first of one, counted in the
    /// middle, summarised at the end.
    fn data(&mut self, flags: u8, v: &[u8], sent: bool) -> Option<String> {
        let (begin, end) = (flags & FLAG_B != 0, flags & FLAG_E != 0);
        let stream = be16(v, 4).unwrap_or(0);
        let tsn = be32(v, 0).unwrap_or(0);
        let bytes = v.len().saturating_sub(DATA_FIELDS);
        let open = if sent {
            &mut self.sent
        } else {
            &mut self.received
        };
        if begin && !end {
            *open = Some(Fragments {
                stream,
                first_tsn: tsn,
                chunks: 1,
                bytes,
            });
            return Some(format!(
                "{} (first of a fragmented message)",
                describe_data(flags, v, FRAGMENT_PREVIEW)
            ));
        }
        let Some(f) = open.as_mut().filter(|f| !begin && f.stream == stream) else {
            // A whole message, or a chunk of no message being folded (a retransmission).
            return Some(describe_data(flags, v, PREVIEW));
        };
        f.chunks += 1;
        f.bytes += bytes;
        if !end {
            return None;
        }
        let line = format!(
            "DATA TSN={tsn} stream={stream} flags=E: the last of {} DATA chunks (TSN {}–{tsn}), {} bytes in all; the {} between not shown",
            f.chunks,
            f.first_tsn,
            f.bytes,
            f.chunks - 2,
        );
        *open = None;
        if sent {
            self.unacked = Some(tsn);
        }
        Some(line)
    }
}

/// RFC 9260 §3.2: the chunk types the fold looks at.
const DATA: u8 = 0;
const SACK: u8 = 3;
/// §3.3.1: the B(eginning) and E(nding) bits of a DATA chunk's flags.
const FLAG_B: u8 = 0x02;
const FLAG_E: u8 = 0x01;

/// One chunk: its type's fields (`v` is the value after the chunk header).
fn describe_chunk(ty: u8, flags: u8, v: &[u8], vtag: u32) -> String {
    match ty {
        DATA => describe_data(flags, v, PREVIEW),
        1 | 2 => format!(
            "{} vtag={vtag:#x} initiate-tag={:#x} a_rwnd={} OS={} MIS={} initial-TSN={}",
            chunk_name(ty),
            be32(v, 0).unwrap_or(0),
            be32(v, 4).unwrap_or(0),
            be16(v, 8).unwrap_or(0),
            be16(v, 10).unwrap_or(0),
            be32(v, 12).unwrap_or(0)
        ),
        SACK => format!(
            "SACK cumulative-TSN-ack={} a_rwnd={} gaps={} duplicates={}",
            be32(v, 0).unwrap_or(0),
            be32(v, 4).unwrap_or(0),
            be16(v, 8).unwrap_or(0),
            be16(v, 10).unwrap_or(0)
        ),
        RE_CONFIG => describe_reconfig(v),
        192 => format!("FORWARD-TSN new-cumulative-TSN={}", be32(v, 0).unwrap_or(0)),
        // §3.3.7: the T bit says the sender had no TCB and reflected our tag.
        6 => format!("ABORT{}", if flags & 1 != 0 { " (T bit)" } else { "" }),
        _ => chunk_name(ty),
    }
}

/// RFC 6525 §3.1: the chunk type of RE-CONFIG.
const RE_CONFIG: u8 = 130;

/// RFC 6525 §4: the one or two parameters of a RE-CONFIG chunk, each `type (16) | length
/// (16) | value`, padded to 4. A data channel closes with an Outgoing SSN Reset Request
/// (§4.1) and its Re-configuration Response (§4.4).
fn describe_reconfig(v: &[u8]) -> String {
    let mut out = String::from("RE-CONFIG");
    let mut at = 0;
    while let (Some(ty), Some(len)) = (be16(v, at), be16(v, at + 2)) {
        let len = usize::from(len);
        let Some(p) = v.get(at + 4..at + len.max(4)) else {
            break;
        };
        out.push(' ');
        out += &describe_reconfig_param(ty, p);
        at += len.max(4).div_ceil(4) * 4;
    }
    out
}

/// One RE-CONFIG parameter (RFC 6525 §4.1–§4.4), with the RFC's field names.
fn describe_reconfig_param(ty: u16, p: &[u8]) -> String {
    let streams = |from: usize| {
        let ids: Vec<String> = p
            .get(from..)
            .unwrap_or(&[])
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]).to_string())
            .collect();
        if ids.is_empty() {
            "all".to_string()
        } else {
            ids.join(",")
        }
    };
    let n = |at| be32(p, at).unwrap_or(0);
    match ty {
        13 => format!(
            "Outgoing-SSN-Reset-Request req-seq={} resp-seq={} last-TSN={} streams={}",
            n(0),
            n(4),
            n(8),
            streams(12)
        ),
        14 => format!(
            "Incoming-SSN-Reset-Request req-seq={} streams={}",
            n(0),
            streams(4)
        ),
        16 => format!(
            "Re-configuration-Response resp-seq={} result={}",
            n(0),
            reconfig_result(n(4))
        ),
        other => format!("parameter type {other}"),
    }
}

/// RFC 6525 §4.4: the Result field of a Re-configuration Response.
fn reconfig_result(r: u32) -> String {
    let name = match r {
        0 => "Success - Nothing to do",
        1 => "Success - Performed",
        2 => "Denied",
        3 => "Error - Wrong SSN",
        4 => "Error - Request already in progress",
        5 => "Error - Bad Sequence Number",
        6 => "In progress",
        _ => return r.to_string(),
    };
    format!("{r} ({name})")
}

/// How many bytes of user data a DATA line shows: a whole small message, and the start of
/// a fragmented one (the rest of it is bytes the reader has seen the like of).
const PREVIEW: usize = 32;
const FRAGMENT_PREVIEW: usize = 8;

/// §3.3.1 DATA: flags U (unordered), B (beginning), E (end) of a message; at most
/// `preview` bytes of the user data.
fn describe_data(flags: u8, v: &[u8], preview: usize) -> String {
    let f: Vec<&str> = [(0x04, "U"), (FLAG_B, "B"), (FLAG_E, "E")]
        .into_iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| name)
        .collect();
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
        v.len().saturating_sub(DATA_FIELDS),
        // The plaintext a capture cannot show (webrtc-dtls keeps no key log).
        crate::trace::quoted(v.get(DATA_FIELDS..).unwrap_or(&[]), preview)
    )
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

    /// A packet with one DATA chunk: TSN, stream 0, flags, `n` bytes of user data.
    fn data_packet(tsn: u32, flags: u8, n: usize) -> Vec<u8> {
        let mut p = vec![0x13, 0x88, 0x13, 0x88, 0, 0, 0, 7, 0, 0, 0, 0];
        p.extend_from_slice(&[0, flags]);
        p.extend_from_slice(&((16 + n) as u16).to_be_bytes());
        p.extend_from_slice(&tsn.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 3]);
        p.extend_from_slice(&53u32.to_be_bytes());
        p.extend(std::iter::repeat_n(7u8, n));
        p.resize(p.len().div_ceil(4) * 4, 0);
        p
    }

    #[test]
    fn a_re_config_chunk_shows_its_reset_request_and_response() {
        // RFC 6525 §4.1: an Outgoing SSN Reset Request for stream 4, then (§4.4) a
        // response, in one chunk; and a broken parameter length stops the reading.
        let mut v = vec![
            0, 13, 0, 18, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 99, 0, 4, 0, 0,
        ];
        v.extend([0, 16, 0, 12, 0, 0, 0, 3, 0, 0, 0, 1]);
        assert_eq!(
            describe_chunk(RE_CONFIG, 0, &v, 0),
            "RE-CONFIG Outgoing-SSN-Reset-Request req-seq=7 resp-seq=3 last-TSN=99 streams=4 \
             Re-configuration-Response resp-seq=3 result=1 (Success - Performed)"
        );
        assert_eq!(
            describe_chunk(RE_CONFIG, 0, &[0, 13, 0xff, 0xff, 0], 0),
            "RE-CONFIG"
        );
    }

    #[test]
    fn a_fragmented_message_is_two_lines() {
        let mut fold = Fold::default();
        let mut lines = Vec::new();
        lines.extend(fold.describe(&data_packet(10, 0x02, 100), true));
        lines.extend(fold.describe(&data_packet(11, 0x00, 100), true));
        let sack = [
            0x13, 0x88, 0x13, 0x88, 0, 0, 0, 7, 0, 0, 0, 0, 3, 0, 0, 16, 0, 0, 0, 10, 0, 1, 0, 0,
            0, 0, 0, 0,
        ];
        lines.extend(fold.describe(&sack, false));
        lines.extend(fold.describe(&data_packet(12, 0x01, 50), true));
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].ends_with("(first of a fragmented message)"),
            "{lines:?}"
        );
        assert_eq!(
            lines[1],
            "DATA TSN=12 stream=0 flags=E: the last of 3 DATA chunks (TSN 10–12), 250 bytes in all; the 1 between not shown"
        );
        // A SACK short of the last chunk is counted; the one that acknowledges it is shown.
        assert!(fold.describe(&sack, false).is_empty());
        let mut all = sack;
        all[19] = 12;
        assert_eq!(
            fold.describe(&all, false),
            [
                "SACK cumulative-TSN-ack=12 a_rwnd=65536 gaps=0 duplicates=0 (2 SACKs before it not shown)"
            ]
        );
        // Whole messages and SACKs outside a fragmented message are shown as they are.
        assert_eq!(fold.describe(&data_packet(13, 0x03, 5), true).len(), 1);
        assert_eq!(fold.describe(&all, false).len(), 1);
    }

    #[test]
    fn short_and_broken_packets_are_described_not_trusted() {
        assert!(describe(&[1, 2, 3])[0].contains("too short"));
        let p = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 99];
        assert_eq!(describe(&p), ["SACK with a bad length 99"]);
    }
}
