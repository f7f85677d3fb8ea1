//! QUIC packet headers, decoded by hand for the trace (RFC 9000 §17, invariants in RFC 8999).
//!
//! quiche parses and protects packets itself; this decoder exists so that a student sees what
//! each datagram carries before quiche takes it: the header form, the packet type, the version,
//! the connection IDs, the token. What header protection (RFC 9001 §5.4) hides — the packet
//! number, its length, the reserved bits and the key phase — is named as protected, never
//! guessed, and the payload is encrypted (AEAD, RFC 9001 §5.3).
//!
//! Wire code only: bytes in, a description out; no I/O, no state.
//!
//! ```
//! use netlab::quic::packet::{decode_datagram, Form};
//! // A Version Negotiation packet: long form, version 0, then the versions offered.
//! let vn = [0x80, 0, 0, 0, 0, 1, 0xaa, 1, 0xbb, 0, 0, 0, 1];
//! let packets = decode_datagram(&vn, 8).unwrap();
//! assert_eq!(packets[0].form, Form::VersionNegotiation { versions: vec![1] });
//! ```

use std::fmt;

/// QUIC version 1 (RFC 9000 §15).
pub const VERSION_1: u32 = 0x0000_0001;

/// "In QUIC version 1, this value MUST NOT exceed 20 bytes" (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;

/// Length of the Retry Integrity Tag that ends a Retry packet (RFC 9001 §5.8).
pub const RETRY_TAG_LEN: usize = 16;

/// The long-header packet types of version 1 (RFC 9000 §17.2, Table 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

impl LongType {
    fn from_bits(bits: u8) -> LongType {
        match bits & 0x03 {
            0 => LongType::Initial,
            1 => LongType::ZeroRtt,
            2 => LongType::Handshake,
            _ => LongType::Retry,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LongType::Initial => "Initial",
            LongType::ZeroRtt => "0-RTT",
            LongType::Handshake => "Handshake",
            LongType::Retry => "Retry",
        }
    }
}

/// What kind of packet a header announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Form {
    /// Version 0: the server lists the versions it speaks (RFC 9000 §17.2.1).
    VersionNegotiation { versions: Vec<u32> },
    /// A long header of version 1 (Initial, 0-RTT, Handshake, Retry).
    Long {
        ty: LongType,
        /// Initial: the token from a Retry or NEW_TOKEN, often empty (RFC 9000 §17.2.2).
        /// Retry: the token the client must echo (RFC 9000 §17.2.5).
        token: Vec<u8>,
        /// The Length field: packet number + protected payload (not present in a Retry).
        length: Option<u64>,
    },
    /// A long header of a version this decoder does not know: only the invariants apply.
    OtherVersion,
    /// A short header: a 1-RTT packet (RFC 9000 §17.3.1).
    Short {
        /// The latency spin bit, the one bit outside header protection (RFC 9000 §17.4).
        spin: bool,
    },
}

/// One decoded header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub form: Form,
    /// Zero for a short header (it carries no version).
    pub version: u32,
    pub dcid: Vec<u8>,
    /// Empty for a short header (it carries no source connection ID).
    pub scid: Vec<u8>,
    /// Bytes this packet takes in its datagram (header + protected part).
    pub size: usize,
}

/// Why a datagram's header could not be read. Each variant is one rule of RFC 9000 §17.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// A datagram of zero bytes carries no packet.
    Empty,
    /// The datagram ends inside the named field.
    Truncated(&'static str),
    /// "Fixed Bit: The next bit (0x40) of byte 0 is set to 1" (RFC 9000 §17.2); packets with
    /// it cleared are discarded.
    FixedBitClear,
    /// A connection ID longer than the version allows (RFC 9000 §17.2).
    ConnectionIdTooLong(usize),
    /// The Length field points past the end of the datagram (RFC 9000 §12.2).
    LengthBeyondDatagram { length: u64, left: usize },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Empty => write!(f, "empty datagram"),
            HeaderError::Truncated(what) => write!(f, "datagram ends inside the {what}"),
            HeaderError::FixedBitClear => {
                write!(f, "the Fixed Bit (0x40) is 0: not a QUIC v1 packet")
            }
            HeaderError::ConnectionIdTooLong(n) => {
                write!(
                    f,
                    "a connection ID of {n} bytes (version 1 allows at most {MAX_CID_LEN})"
                )
            }
            HeaderError::LengthBeyondDatagram { length, left } => write!(
                f,
                "the Length field says {length} bytes, the datagram has {left} left"
            ),
        }
    }
}

impl std::error::Error for HeaderError {}

/// A cursor over the datagram: every read names the field it reads, for the error.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self, what: &'static str) -> Result<u8, HeaderError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or(HeaderError::Truncated(what))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], HeaderError> {
        let end = self.at.checked_add(n).ok_or(HeaderError::Truncated(what))?;
        let s = self
            .bytes
            .get(self.at..end)
            .ok_or(HeaderError::Truncated(what))?;
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, HeaderError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A variable-length integer: "the two most significant bits of the first byte encode
    /// the base-2 logarithm of the integer encoding length in bytes" (RFC 9000 §16).
    fn varint(&mut self, what: &'static str) -> Result<u64, HeaderError> {
        let first = self.u8(what)?;
        let len = 1usize << (first >> 6);
        let mut v = u64::from(first & 0x3f);
        for &b in self.take(len - 1, what)? {
            v = (v << 8) | u64::from(b);
        }
        Ok(v)
    }

    fn cid(&mut self, what: &'static str) -> Result<Vec<u8>, HeaderError> {
        let len = usize::from(self.u8(what)?);
        if len > MAX_CID_LEN {
            return Err(HeaderError::ConnectionIdTooLong(len));
        }
        Ok(self.take(len, what)?.to_vec())
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }
}

/// Decodes the first packet header of `bytes`. `short_dcid_len` is the length of the
/// connection IDs this endpoint issued: a short header does not carry it (RFC 9000 §17.3).
pub fn decode(bytes: &[u8], short_dcid_len: usize) -> Result<Header, HeaderError> {
    let mut r = Reader { bytes, at: 0 };
    let first = r.u8("first byte").map_err(|_| HeaderError::Empty)?;
    // Header Form: "the most significant bit (0x80) of byte 0 is set to 1 for long headers".
    if first & 0x80 == 0 {
        if first & 0x40 == 0 {
            return Err(HeaderError::FixedBitClear);
        }
        let dcid = r
            .take(short_dcid_len, "Destination Connection ID")?
            .to_vec();
        // The protected packet number and payload fill the rest of the datagram.
        return Ok(Header {
            form: Form::Short {
                spin: first & 0x20 != 0,
            },
            version: 0,
            dcid,
            scid: Vec::new(),
            size: bytes.len(),
        });
    }
    let version = r.u32("Version")?;
    let dcid = r.cid("Destination Connection ID")?;
    let scid = r.cid("Source Connection ID")?;
    if version == 0 {
        // Version Negotiation: the Fixed Bit is unused; the rest is a list of versions.
        let mut versions = Vec::new();
        while r.left() >= 4 {
            versions.push(r.u32("Supported Version")?);
        }
        return Ok(Header {
            form: Form::VersionNegotiation { versions },
            version,
            dcid,
            scid,
            size: bytes.len(),
        });
    }
    if version != VERSION_1 {
        // RFC 8999 fixes only the form bit, version and connection IDs for every version.
        return Ok(Header {
            form: Form::OtherVersion,
            version,
            dcid,
            scid,
            size: bytes.len(),
        });
    }
    if first & 0x40 == 0 {
        return Err(HeaderError::FixedBitClear);
    }
    let ty = LongType::from_bits(first >> 4);
    let (token, length) = match ty {
        LongType::Retry => {
            // Retry Token = everything up to the 16-byte Retry Integrity Tag.
            let n = r
                .left()
                .checked_sub(RETRY_TAG_LEN)
                .ok_or(HeaderError::Truncated("Retry Integrity Tag"))?;
            (r.take(n, "Retry Token")?.to_vec(), None)
        }
        _ => {
            let token = if ty == LongType::Initial {
                let n = r.varint("Token Length")?;
                let n = usize::try_from(n).map_err(|_| HeaderError::Truncated("Token"))?;
                r.take(n, "Token")?.to_vec()
            } else {
                Vec::new()
            };
            let length = r.varint("Length")?;
            let left = r.left();
            if length > left as u64 {
                return Err(HeaderError::LengthBeyondDatagram { length, left });
            }
            (token, Some(length))
        }
    };
    let size = match length {
        Some(n) => r.at + n as usize,
        None => bytes.len(),
    };
    Ok(Header {
        form: Form::Long { ty, token, length },
        version,
        dcid,
        scid,
        size,
    })
}

/// Decodes every packet of a datagram: long-header packets may be coalesced, each one's
/// Length saying where the next begins; a short-header packet is always last (RFC 9000 §12.2).
pub fn decode_datagram(bytes: &[u8], short_dcid_len: usize) -> Result<Vec<Header>, HeaderError> {
    let mut packets = Vec::new();
    let mut rest = bytes;
    loop {
        let h = decode(rest, short_dcid_len)?;
        let size = h.size;
        let last = !matches!(
            h.form,
            Form::Long {
                length: Some(_),
                ..
            }
        );
        packets.push(h);
        rest = &rest[size..];
        // Padding after the last packet is allowed to be zeros; stop at the end or at them.
        if last || rest.is_empty() || rest.iter().all(|&b| b == 0) {
            return Ok(packets);
        }
    }
}

/// Connection IDs as the trace shows them: hex, or `-` when empty.
pub fn hex(cid: &[u8]) -> String {
    if cid.is_empty() {
        return "-".into();
    }
    cid.iter().map(|b| format!("{b:02x}")).collect()
}

/// A connection ID as trace lines show it: its first 4 bytes in hex and `…` when it is
/// longer (`a1b2c3d4…`), `-` when empty. Every line that names a connection uses this form,
/// so a reader matches them by eye; the loops' own ids (`a1b2c3d4: …`) are the same 4 bytes.
/// The full IDs are in the qlog files and in a capture decrypted with the key log.
pub fn cid(cid: &[u8]) -> String {
    match cid.len() {
        0..=4 => hex(cid),
        _ => format!("{}…", hex(&cid[..4])),
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.form {
            Form::VersionNegotiation { versions } => {
                let list: Vec<String> = versions.iter().map(|v| format!("0x{v:08x}")).collect();
                write!(
                    f,
                    "Version Negotiation dcid={} scid={} versions=[{}]",
                    cid(&self.dcid),
                    cid(&self.scid),
                    list.join(", ")
                )
            }
            Form::Long { ty, token, length } => {
                write!(
                    f,
                    "{} v{} dcid={} scid={}",
                    ty.name(),
                    self.version,
                    cid(&self.dcid),
                    cid(&self.scid)
                )?;
                match ty {
                    LongType::Initial => write!(f, " token={} bytes", token.len())?,
                    LongType::Retry => {
                        return write!(f, " token={} bytes + integrity tag", token.len());
                    }
                    _ => {}
                }
                if let Some(n) = length {
                    write!(f, " length={n}")?;
                }
                Ok(())
            }
            Form::OtherVersion => write!(
                f,
                "long header of unknown version 0x{:08x} dcid={} scid={}",
                self.version,
                cid(&self.dcid),
                cid(&self.scid)
            ),
            Form::Short { spin } => {
                write!(f, "1-RTT dcid={} spin={}", cid(&self.dcid), u8::from(*spin))
            }
        }
    }
}

/// What the datagram's packets hide, named once at the end of its line: header protection
/// masks the packet number and, in a short header, the key phase (RFC 9001 §5.4); AEAD
/// encrypts the frames (RFC 9001 §5.3). Neither is guessed here.
fn hidden(packets: &[Header]) -> &'static str {
    let short = packets.iter().any(|p| matches!(p.form, Form::Short { .. }));
    let long = packets
        .iter()
        .filter(|p| {
            matches!(
                p.form,
                Form::Long {
                    length: Some(_),
                    ..
                }
            )
        })
        .count();
    match (short, long) {
        (true, 0) => " (key phase + packet number masked, frames encrypted)",
        (true, _) => " (packet numbers + key phase masked, frames encrypted)",
        (false, 0) => "",
        (false, 1) => " (packet number masked, frames encrypted)",
        (false, _) => " (packet numbers masked, frames encrypted)",
    }
}

/// A packet after the first of its datagram, without the version and connection IDs it
/// shares with the first: coalesced packets carry the same Destination Connection ID
/// (RFC 9000 §12.2), and the line names it once.
fn coalesced(p: &Header, first: &Header) -> String {
    let mut text = p.to_string();
    if p.version == first.version {
        text = text.replacen(&format!(" v{}", p.version), "", 1);
    }
    if p.dcid == first.dcid {
        text = text.replacen(&format!(" dcid={}", cid(&p.dcid)), "", 1);
        if p.scid == first.scid {
            text = text.replacen(&format!(" scid={}", cid(&p.scid)), "", 1);
        }
    }
    text
}

/// One line for a whole datagram: its packets joined, then what they hide; or why it
/// cannot be read.
pub fn describe_datagram(bytes: &[u8], short_dcid_len: usize) -> String {
    match decode_datagram(bytes, short_dcid_len) {
        Ok(packets) => {
            let parts: Vec<String> = packets
                .iter()
                .enumerate()
                .map(|(i, p)| match i {
                    0 => p.to_string(),
                    _ => coalesced(p, &packets[0]),
                })
                .collect();
            format!("{}{}", parts.join(" + "), hidden(&packets))
        }
        Err(e) => format!("undecodable: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Initial as a client sends it: long header, type 0, version 1, 8-byte DCID, empty
    /// SCID... written field by field.
    fn initial(token: &[u8], payload_len: usize) -> Vec<u8> {
        let mut p = vec![0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 4, 9, 9, 9, 9];
        p.push(token.len() as u8); // one-byte varint
        p.extend_from_slice(token);
        // two-byte varint Length
        p.push(0x40 | ((payload_len >> 8) as u8));
        p.push(payload_len as u8);
        p.extend(std::iter::repeat_n(0xab, payload_len));
        p
    }

    #[test]
    fn initial_header_fields() {
        let p = initial(b"tok", 300);
        let h = decode(&p, 8).unwrap();
        assert_eq!(
            h.form,
            Form::Long {
                ty: LongType::Initial,
                token: b"tok".to_vec(),
                length: Some(300)
            }
        );
        assert_eq!(h.version, 1);
        assert_eq!(h.dcid, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(h.scid, vec![9, 9, 9, 9]);
        assert_eq!(h.size, p.len());
        assert_eq!(
            h.to_string(),
            "Initial v1 dcid=01020304… scid=09090909 token=3 bytes length=300"
        );
    }

    #[test]
    fn coalesced_initial_and_handshake() {
        let mut d = initial(b"", 40);
        // Handshake: type 2 → first byte 0xe0 | bits.
        d.extend_from_slice(&[0xe1, 0, 0, 0, 1, 0, 0, 20]);
        d.extend(std::iter::repeat_n(0xcd, 20));
        let packets = decode_datagram(&d, 8).unwrap();
        assert_eq!(packets.len(), 2);
        assert!(matches!(
            packets[1].form,
            Form::Long {
                ty: LongType::Handshake,
                ..
            }
        ));
        assert!(describe_datagram(&d, 8).ends_with(
            " + Handshake dcid=- scid=- length=20 (packet numbers masked, frames encrypted)"
        ));
    }

    #[test]
    fn short_header_uses_the_known_cid_length() {
        let d = [0x60, 7, 7, 7, 7, 0xff, 0xff];
        let h = decode(&d, 4).unwrap();
        assert_eq!(h.form, Form::Short { spin: true });
        assert_eq!(h.dcid, vec![7, 7, 7, 7]);
        assert_eq!(h.to_string(), "1-RTT dcid=07070707 spin=1");
        assert_eq!(
            describe_datagram(&d, 4),
            "1-RTT dcid=07070707 spin=1 (key phase + packet number masked, frames encrypted)"
        );
        let long = [0xc0, 0, 0, 0, 1, 5, 1, 2, 3, 4, 5, 0, 0, 0];
        assert_eq!(
            describe_datagram(&long, 4),
            "Initial v1 dcid=01020304… scid=- token=0 bytes length=0 (packet number masked, frames encrypted)"
        );
    }

    #[test]
    fn retry_token_stops_before_the_tag() {
        let mut d = vec![0xf0, 0, 0, 0, 1, 0, 2, 5, 5];
        d.extend_from_slice(b"token-bytes");
        d.extend_from_slice(&[0u8; RETRY_TAG_LEN]);
        let h = decode(&d, 8).unwrap();
        assert_eq!(
            h.form,
            Form::Long {
                ty: LongType::Retry,
                token: b"token-bytes".to_vec(),
                length: None
            }
        );
    }

    #[test]
    fn other_versions_keep_only_the_invariants() {
        let d = [0xc0, 0x6b, 0x33, 0x43, 0xcf, 1, 0xaa, 0];
        let h = decode(&d, 8).unwrap();
        assert_eq!(h.form, Form::OtherVersion);
        assert_eq!(h.version, 0x6b33_43cf);
    }

    #[test]
    fn bad_headers_name_the_rule() {
        let cases: &[(&[u8], HeaderError)] = &[
            (&[], HeaderError::Empty),
            (&[0x00, 1, 2], HeaderError::FixedBitClear),
            (&[0x80, 0, 0, 0, 1, 0, 0], HeaderError::FixedBitClear),
            (&[0xc0, 0, 0], HeaderError::Truncated("Version")),
            (
                &[0xc0, 0, 0, 0, 1, 21],
                HeaderError::ConnectionIdTooLong(21),
            ),
            (
                &[0xc0, 0, 0, 0, 1, 4, 1, 2],
                HeaderError::Truncated("Destination Connection ID"),
            ),
            (
                &[0xc0, 0, 0, 0, 1, 0, 0, 0, 0x41],
                HeaderError::Truncated("Length"),
            ),
            (
                &[0xc0, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2],
                HeaderError::LengthBeyondDatagram { length: 9, left: 2 },
            ),
            (
                &[0xf0, 0, 0, 0, 1, 0, 0, 1, 2],
                HeaderError::Truncated("Retry Integrity Tag"),
            ),
            (
                &[0x40, 1],
                HeaderError::Truncated("Destination Connection ID"),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode(bytes, 4).as_ref(), Err(want), "{bytes:02x?}");
        }
    }

    #[test]
    fn every_prefix_of_an_initial_is_an_error_not_a_panic() {
        let p = initial(b"abc", 20);
        for n in 0..p.len() {
            assert!(decode(&p[..n], 8).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn varints_of_every_length() {
        for (bytes, want) in [
            (&[0x25][..], 37u64),
            (&[0x7b, 0xbd][..], 15_293),
            (&[0x9d, 0x7f, 0x3e, 0x7d][..], 494_878_333),
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c][..],
                151_288_809_941_952_652,
            ),
        ] {
            // RFC 9000 Appendix A.1's examples.
            let mut r = Reader { bytes, at: 0 };
            assert_eq!(r.varint("x").unwrap(), want);
        }
    }
}
