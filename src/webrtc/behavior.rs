//! NAT mapping behaviour, found the way RFC 5780 §4.3 does: from one socket, send a Binding
//! Request to two STUN servers at different addresses, and compare the two mapped addresses
//! (XOR-MAPPED-ADDRESS) that come back. The same external port for both destinations is an
//! *endpoint-independent mapping* (RFC 4787 §4.1), the NAT behaviour that lets
//! server-reflexive candidates work; a new port per destination is an *address- (and port-)
//! dependent mapping*, a "symmetric NAT", behind which a server-reflexive candidate is useless
//! to any peer other than the STUN server and only a relay (TURN) gets through.
//!
//! [`request`] and [`mapped`] are the wire steps (no I/O; the transaction id is passed in);
//! [`probe`] is the loop around a blocking socket:
//!
//! 1. for each server in turn, send a Binding Request with a fresh transaction id;
//! 2. wait for the answer with that id, retransmitting after 500 ms, 1 s, 2 s (RFC 8489
//!    §6.2.1's RTO, doubled each time) and giving up after the last wait;
//! 3. read XOR-MAPPED-ADDRESS from the success response;
//!
//! and [`Mapping::classify`] compares the answers.

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use stun::agent::TransactionId;
use stun::attributes::ATTR_XORMAPPED_ADDRESS;
use stun::message::{BINDING_REQUEST, BINDING_SUCCESS};

use super::stun_codec::{self, CodecError};
use crate::trace::{self, Layer};

/// Why a probe got no mapped address.
#[derive(Debug)]
pub enum ProbeError {
    /// The socket failed (send, receive, timeout setting).
    Io(io::Error),
    /// RFC 8489 §6.2.1: no answer after the last retransmission.
    Timeout(SocketAddr),
    /// The request could not be encoded.
    Codec(CodecError),
    /// RFC 8489 §14.2: a success response without a usable XOR-MAPPED-ADDRESS.
    NoMappedAddress,
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Io(e) => write!(f, "STUN probe socket: {e}"),
            ProbeError::Timeout(s) => write!(f, "no STUN answer from {s} (RFC 8489 §6.2.1)"),
            ProbeError::Codec(e) => write!(f, "{e}"),
            ProbeError::NoMappedAddress => {
                write!(
                    f,
                    "a Binding Success without XOR-MAPPED-ADDRESS (RFC 8489 §14.2)"
                )
            }
        }
    }
}

impl std::error::Error for ProbeError {}

/// RFC 4787 §4.1's mapping behaviour, as far as two destinations can tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// One external address:port for every destination.
    EndpointIndependent,
    /// Different external ports (or addresses) for different destinations.
    Dependent,
}

impl Mapping {
    /// The same mapped address from every server: endpoint-independent.
    pub fn classify(mapped: &[SocketAddr]) -> Mapping {
        match mapped.split_first() {
            Some((first, rest)) if rest.iter().any(|m| m != first) => Mapping::Dependent,
            _ => Mapping::EndpointIndependent,
        }
    }
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mapping::EndpointIndependent => "endpoint-independent mapping",
            Mapping::Dependent => "address-dependent mapping, a symmetric NAT",
        })
    }
}

/// A Binding Request (RFC 8489 §6.1): no attributes but FINGERPRINT, which lets the answer
/// be told from other traffic on the socket.
pub fn request(tid: [u8; 12]) -> Result<Vec<u8>, CodecError> {
    stun_codec::build(BINDING_REQUEST, TransactionId(tid), &[], &[], None)
}

/// The XOR-MAPPED-ADDRESS of a Binding Success with transaction id `tid`; `Ok(None)` for a
/// datagram that is not that answer (not STUN, another transaction's: RFC 8489 §6.3.3 says
/// discard it).
pub fn mapped(datagram: &[u8], tid: [u8; 12]) -> Result<Option<SocketAddr>, ProbeError> {
    let Ok(m) = stun_codec::decode(datagram, false) else {
        return Ok(None);
    };
    if m.transaction_id.0 != tid || m.typ != BINDING_SUCCESS {
        return Ok(None);
    }
    let value = m
        .get(ATTR_XORMAPPED_ADDRESS)
        .map_err(|_| ProbeError::NoMappedAddress)?;
    stun_codec::parse_xor_address(&value, &tid)
        .map(Some)
        .ok_or(ProbeError::NoMappedAddress)
}

/// RFC 8489 §6.2.1: the first wait, doubled after each retransmission.
const RTO: Duration = Duration::from_millis(500);
const TRANSMISSIONS: u32 = 4;

/// Asks each server in turn from `socket` and returns the mapped addresses, in order.
/// `next_tid` gives each request its transaction id (randomness passed in).
pub fn probe(
    socket: &UdpSocket,
    servers: &[SocketAddr],
    mut next_tid: impl FnMut() -> [u8; 12],
) -> Result<Vec<SocketAddr>, ProbeError> {
    let local = socket.local_addr().map_err(ProbeError::Io)?;
    let mut found = Vec::new();
    for &server in servers {
        let tid = next_tid();
        let mapped = ask(socket, server, tid)?;
        trace::event(Layer::Stun, || {
            format!("{local} is {mapped} as seen from {server}")
        });
        found.push(mapped);
    }
    Ok(found)
}

/// Steps 1–3 for one server.
fn ask(socket: &UdpSocket, server: SocketAddr, tid: [u8; 12]) -> Result<SocketAddr, ProbeError> {
    let bytes = request(tid).map_err(ProbeError::Codec)?;
    let mut wait = RTO;
    for n in 1..=TRANSMISSIONS {
        trace::sent(Layer::Stun, || {
            let again = if n > 1 { " (again)" } else { "" };
            format!("Binding Request to {server}{again}")
        });
        socket.send_to(&bytes, server).map_err(ProbeError::Io)?;
        if let Some(mapped) = answer(socket, server, tid, wait)? {
            trace::received(Layer::Stun, || {
                format!("Binding Success from {server} XOR-MAPPED-ADDRESS={mapped}")
            });
            return Ok(mapped);
        }
        wait *= 2;
    }
    Err(ProbeError::Timeout(server))
}

/// Step 2: the answer to `tid` from `server` within `wait`, other datagrams ignored.
fn answer(
    socket: &UdpSocket,
    server: SocketAddr,
    tid: [u8; 12],
    wait: Duration,
) -> Result<Option<SocketAddr>, ProbeError> {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(ProbeError::Io)?;
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(ProbeError::Io(e)),
        };
        if from != server {
            continue;
        }
        if let Some(m) = mapped(&buf[..n], tid)? {
            return Ok(Some(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webrtc::stun_server;

    #[test]
    fn a_request_answered_by_our_server_gives_the_source_back() {
        let tid = [7; 12];
        let req = stun_codec::decode(&request(tid).unwrap(), true).unwrap();
        let from: SocketAddr = "203.0.113.10:40000".parse().unwrap();
        let response = stun_server::binding_success(&req, from).unwrap();
        assert_eq!(mapped(&response, tid).unwrap(), Some(from));
        // Another transaction's answer is not ours.
        assert_eq!(mapped(&response, [8; 12]).unwrap(), None);
        assert_eq!(mapped(b"garbage", tid).unwrap(), None);
    }

    #[test]
    fn same_port_everywhere_is_endpoint_independent() {
        let a: SocketAddr = "203.0.113.10:40000".parse().unwrap();
        let b: SocketAddr = "203.0.113.10:51234".parse().unwrap();
        assert_eq!(Mapping::classify(&[a, a]), Mapping::EndpointIndependent);
        assert_eq!(Mapping::classify(&[a, b]), Mapping::Dependent);
    }
}
