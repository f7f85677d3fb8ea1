//! STUN messages on the wire (RFC 8489 §5, §14), shared by the ICE agent ([`super::ice`]), the
//! STUN server ([`super::stun_server`]) and the TURN server ([`super::turn`]). The `stun` crate
//! encodes the header and the attributes it knows; this module is the two steps every user
//! repeats: decode a datagram (checking FINGERPRINT), and build an answer with
//! MESSAGE-INTEGRITY and FINGERPRINT last, in that order (RFC 8489 §14.5, §14.7).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use stun::agent::TransactionId;
use stun::attributes::AttrType;
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::{Message, MessageType, Setter};

/// Why a datagram is not a STUN message we accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// RFC 8489 §6: not a well-formed STUN message.
    Malformed(String),
    /// RFC 8489 §14.7: FINGERPRINT missing (where required) or wrong.
    Fingerprint,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Malformed(e) => write!(f, "not a STUN message: {e} (RFC 8489 §6)"),
            CodecError::Fingerprint => write!(f, "FINGERPRINT missing or wrong (RFC 8489 §14.7)"),
        }
    }
}

impl std::error::Error for CodecError {}

/// Decodes a STUN message. FINGERPRINT is checked when present; when `fingerprint_required`
/// (ICE: RFC 8445 §7.3) its absence is an error too.
pub fn decode(datagram: &[u8], fingerprint_required: bool) -> Result<Message, CodecError> {
    let mut m = Message::new();
    m.unmarshal_binary(datagram)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    match FINGERPRINT.check(&m) {
        Ok(()) => Ok(m),
        Err(stun::Error::ErrAttributeNotFound) if !fingerprint_required => Ok(m),
        Err(_) => Err(CodecError::Fingerprint),
    }
}

/// Builds a message: the transaction id of `tid`, its type, the `setters`, then `attrs`
/// (type, value) raw, then MESSAGE-INTEGRITY with `integrity` if given, and FINGERPRINT last.
pub fn build(
    typ: MessageType,
    tid: TransactionId,
    attrs: &[(AttrType, Vec<u8>)],
    setters: &[&dyn Setter],
    integrity: Option<&MessageIntegrity>,
) -> Result<Vec<u8>, CodecError> {
    let mut m = Message::new();
    m.typ = typ;
    m.transaction_id = tid;
    m.write_header();
    let broken = |e: stun::Error| CodecError::Malformed(e.to_string());
    for s in setters {
        s.add_to(&mut m).map_err(broken)?;
    }
    for (t, v) in attrs {
        m.add(*t, v);
    }
    if let Some(integrity) = integrity {
        integrity.add_to(&mut m).map_err(broken)?;
    }
    FINGERPRINT.add_to(&mut m).map_err(broken)?;
    Ok(m.raw)
}

/// RFC 8489 §5: the magic cookie, also the key of the XOR address attributes.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// An XOR-…-ADDRESS value (RFC 8489 §14.2): family, port XOR the cookie's top 16 bits, address
/// XOR the cookie (IPv4) or the cookie and the transaction id (IPv6). The XOR keeps NATs that
/// rewrite addresses they find in payloads away from this one.
pub fn xor_address(addr: SocketAddr, tid: &[u8; 12]) -> Vec<u8> {
    let mut key = MAGIC_COOKIE.to_be_bytes().to_vec();
    key.extend_from_slice(tid);
    let port = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
    let (family, ip) = match addr.ip() {
        IpAddr::V4(ip) => (1u8, ip.octets().to_vec()),
        IpAddr::V6(ip) => (2u8, ip.octets().to_vec()),
    };
    let mut v = vec![0, family];
    v.extend_from_slice(&port.to_be_bytes());
    v.extend(ip.iter().zip(&key).map(|(a, k)| a ^ k));
    v
}

/// Decodes an XOR-…-ADDRESS value; `None` when it is not 8 (IPv4) or 20 (IPv6) bytes long.
pub fn parse_xor_address(v: &[u8], tid: &[u8; 12]) -> Option<SocketAddr> {
    let mut key = MAGIC_COOKIE.to_be_bytes().to_vec();
    key.extend_from_slice(tid);
    if v.len() < 4 {
        return None;
    }
    let port = u16::from_be_bytes([v[2], v[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
    let ip: Vec<u8> = v[4..].iter().zip(&key).map(|(a, k)| a ^ k).collect();
    let ip = match (v[1], ip.len()) {
        (1, 4) => IpAddr::from(<[u8; 4]>::try_from(ip).ok()?),
        (2, 16) => IpAddr::from(<[u8; 16]>::try_from(ip).ok()?),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}
