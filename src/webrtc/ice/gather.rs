//! Gathering (RFC 8445 §5.1.1): where this peer can be reached, found before its SDP is
//! written.
//!
//! - host candidates: the socket's address, or for a socket bound to the unspecified
//!   address, every interface address of that family with the socket's port, loopback ones
//!   excepted;
//! - a server-reflexive candidate: a Binding Request to a STUN server from that same socket
//!   (RFC 8489 §6.2.1, retransmitted until answered); the XOR-MAPPED-ADDRESS in the answer is
//!   the address a NAT gave the socket outside.
//!
//! The relayed candidate comes from the TURN client ([`crate::webrtc::turn::client`]).
//! [`binding_request`] and [`mapped_address`] are the wire; [`server_reflexive`] is the one
//! blocking exchange on the peer's socket, before its loop starts.

use crate::trace::{self, Layer};
use crate::webrtc::stun_codec::{self, CodecError};
use std::fmt;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use stun::agent::TransactionId;
use stun::message::{BINDING_REQUEST, CLASS_SUCCESS_RESPONSE, Getter};
use stun::xoraddr::XorMappedAddress;

/// Why a server gave us no candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatherError {
    /// No answer from the server in time (RFC 8489 §6.2.1's retransmissions all unanswered).
    Timeout { server: SocketAddr, ms: u128 },
    /// The socket failed.
    Io { doing: &'static str, why: String },
    /// An answer that is not a Binding Success with an XOR-MAPPED-ADDRESS.
    Response(String),
}

impl fmt::Display for GatherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatherError::Timeout { server, ms } => {
                write!(f, "no answer from {server} within {ms} ms")
            }
            GatherError::Io { doing, why } => write!(f, "{doing}: {why}"),
            GatherError::Response(why) => write!(f, "bad answer: {why}"),
        }
    }
}

impl std::error::Error for GatherError {}

impl From<CodecError> for GatherError {
    fn from(e: CodecError) -> GatherError {
        GatherError::Response(e.to_string())
    }
}

/// RFC 8445 §5.1.1.1: the host candidates of a socket bound to `bound`.
pub fn host_addresses(bound: SocketAddr) -> Vec<SocketAddr> {
    if !bound.ip().is_unspecified() {
        return vec![bound];
    }
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let ips = addrs.filter_map(|a| {
        a.address.as_ref().and_then(|s| {
            s.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
    });
    hosts_of_unspecified(bound, ips)
}

/// The host candidates of a socket bound to the unspecified address `bound`, given the
/// interfaces' addresses: those of its family, on its port. Loopback addresses are left out
/// (§5.1.1.1: a peer elsewhere cannot reach them, and a check to one would reach this
/// machine's own loopback instead); a socket bound to a loopback address keeps its own, which
/// is what the tests on one machine use.
fn hosts_of_unspecified(bound: SocketAddr, ips: impl Iterator<Item = IpAddr>) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for ip in ips.filter(|ip| ip.is_ipv4() == bound.is_ipv4() && !ip.is_loopback()) {
        // A link-local IPv6 address needs a scope id a candidate line cannot carry.
        let link_local = matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
        let addr = SocketAddr::new(ip, bound.port());
        if !link_local && !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

/// A Binding Request with FINGERPRINT (RFC 8489 §6.1): no credentials, a STUN server needs
/// none.
pub fn binding_request(tid: [u8; 12]) -> Result<Vec<u8>, CodecError> {
    stun_codec::build(BINDING_REQUEST, TransactionId(tid), &[], &[], None)
}

/// The XOR-MAPPED-ADDRESS of a Binding Success for transaction `tid`.
pub fn mapped_address(d: &[u8], tid: [u8; 12]) -> Result<SocketAddr, GatherError> {
    let m = stun_codec::decode(d, false)?;
    if m.transaction_id.0 != tid {
        return Err(GatherError::Response("another transaction".into()));
    }
    if m.typ.class != CLASS_SUCCESS_RESPONSE {
        return Err(GatherError::Response(m.typ.to_string()));
    }
    let mut x = XorMappedAddress::default();
    x.get_from(&m)
        .map_err(|e| GatherError::Response(format!("no XOR-MAPPED-ADDRESS: {e}")))?;
    Ok(SocketAddr::new(x.ip, x.port))
}

/// RFC 8489 §6.2.1's first timeout; doubled on each retransmission.
const FIRST_RTO: Duration = Duration::from_millis(250);

/// Asks the STUN server `server` from `socket` where it sees us; gives up after `timeout`.
pub fn server_reflexive(
    socket: &UdpSocket,
    server: SocketAddr,
    timeout: Duration,
) -> Result<SocketAddr, GatherError> {
    let io = |doing| {
        move |e: std::io::Error| GatherError::Io {
            doing,
            why: e.to_string(),
        }
    };
    let tid = crate::webrtc::session::random::<12>();
    let request = binding_request(tid)?;
    let until = Instant::now() + timeout;
    let mut rto = FIRST_RTO;
    let mut buf = vec![0u8; 1500];
    while Instant::now() < until {
        trace::sent(Layer::Stun, || {
            format!(
                "Binding Request to STUN server {server} (gathering a server-reflexive candidate)"
            )
        });
        socket
            .send_to(&request, server)
            .map_err(io("send to the STUN server"))?;
        let resend = (Instant::now() + rto).min(until);
        rto *= 2;
        if let Some(mapped) = await_answer(socket, server, tid, resend, &mut buf)? {
            return Ok(mapped);
        }
    }
    Err(GatherError::Timeout {
        server,
        ms: timeout.as_millis(),
    })
}

/// Reads the socket until `resend` for the server's answer to `tid`; `None` when none came.
fn await_answer(
    socket: &UdpSocket,
    server: SocketAddr,
    tid: [u8; 12],
    resend: Instant,
    buf: &mut [u8],
) -> Result<Option<SocketAddr>, GatherError> {
    while let Some(left) = resend.checked_duration_since(Instant::now()) {
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| GatherError::Io {
                doing: "set a read timeout",
                why: e.to_string(),
            })?;
        let Ok((n, from)) = socket.recv_from(buf) else {
            return Ok(None);
        };
        if from != server {
            continue;
        }
        let answer = mapped_address(&buf[..n], tid);
        let line = match &answer {
            Ok(mapped) => {
                format!("Binding Success from STUN server {server}: XOR-MAPPED-ADDRESS={mapped}")
            }
            Err(e) => format!("from {server}: {e}"),
        };
        trace::received(Layer::Stun, || line);
        if let Ok(mapped) = answer {
            return Ok(Some(mapped));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webrtc::stun_server;

    #[test]
    fn the_project_stun_server_tells_a_socket_its_address() {
        let server_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = server_socket.local_addr().unwrap();
        let _bg = stun_server::spawn(server_socket).unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mapped = server_reflexive(&socket, server, Duration::from_secs(2)).unwrap();
        assert_eq!(mapped, socket.local_addr().unwrap());
    }

    #[test]
    fn a_silent_server_times_out() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = silent.local_addr().unwrap();
        let e = server_reflexive(&socket, server, Duration::from_millis(300)).unwrap_err();
        assert_eq!(e, GatherError::Timeout { server, ms: 300 });
        // A response for another transaction is no answer.
        let other = binding_request([9; 12]).unwrap();
        assert!(mapped_address(&other, [1; 12]).is_err());
    }

    #[test]
    fn an_unspecified_socket_has_its_interfaces_but_not_loopback_as_host_candidates() {
        let ips = [
            "127.0.0.1",
            "192.0.2.7",
            "::1",
            "fe80::1",
            "2001:db8::7",
            "192.0.2.7",
            "127.0.0.2",
        ]
        .map(|s| s.parse::<IpAddr>().unwrap());
        let v4 = hosts_of_unspecified("0.0.0.0:4000".parse().unwrap(), ips.into_iter());
        assert_eq!(v4, ["192.0.2.7:4000".parse::<SocketAddr>().unwrap()]);
        let v6 = hosts_of_unspecified("[::]:4000".parse().unwrap(), ips.into_iter());
        assert_eq!(v6, ["[2001:db8::7]:4000".parse::<SocketAddr>().unwrap()]);
        // This machine's own interfaces: never a loopback address among them.
        let hosts = host_addresses("0.0.0.0:4000".parse().unwrap());
        assert!(
            hosts
                .iter()
                .all(|h| h.is_ipv4() && h.port() == 4000 && !h.ip().is_loopback()),
            "{hosts:?}"
        );
        // A socket bound to loopback keeps it: the candidate of the tests on one machine.
        let one: SocketAddr = "127.0.0.1:5".parse().unwrap();
        assert_eq!(host_addresses(one), [one]);
    }
}
