//! ICE candidates as SDP writes them (RFC 8839 §5.1):
//!
//! ```text
//! a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
//!             [raddr <address> rport <port>] *(<extension name> <value>)
//! ```
//!
//! Wire only: text ↔ [`Candidate`]. A remote candidate comes from the other side's SDP or
//! trickled later; [`Candidate::parse`] refuses what no agent could use, one [`CandidateError`]
//! each, so the agent traces why and goes on without it.

use super::priority::CandidateKind;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// One candidate: where a peer may be reached, and how it was learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// RFC 8445 §5.1.1.3: equal for candidates of the same kind, base and server; pairs with
    /// equal foundations are unfrozen together (§6.1.2.6).
    pub foundation: String,
    /// RFC 8445 §5.1.2.1: the priority the candidate's owner gave it.
    pub priority: u32,
    pub addr: SocketAddr,
    pub kind: CandidateKind,
    /// `raddr`/`rport`: the base of a reflexive candidate, the mapped address of a relayed one.
    pub related: Option<SocketAddr>,
}

/// Why a candidate line is refused, one variant per way (RFC 8839 §5.1 and RFC 8445 §5.1.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CandidateError {
    /// Fewer than the eight fields `foundation component transport priority address port typ
    /// type`.
    Syntax(String),
    /// A foundation that is not 1 to 32 ice-chars (ALPHA, DIGIT, `+`, `/`; RFC 8839 §5.1):
    /// one starting `a=` or `candidate:` would not be read back the same from its own line.
    Foundation(String),
    /// Only component 1 exists in a data-channel session (RTP/RTCP multiplexing, RFC 8843).
    Component(String),
    /// Only UDP candidates here (ICE-TCP, RFC 6544, is left out).
    Transport(String),
    /// A priority that is not a number in 1 ..= 2^31 − 1 (RFC 8445 §5.1.2.1).
    Priority(String),
    /// Not an IP address (an mDNS name `….local` is one: this agent resolves none), or one no
    /// packet can be sent to (unspecified, multicast, broadcast).
    Address(String),
    /// Port 0 or not a port number.
    Port(String),
    /// A `typ` other than host, srflx, prflx or relay.
    Type(String),
}

impl fmt::Display for CandidateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CandidateError::Syntax(v) => {
                write!(f, "candidate {v:?}: fewer fields than RFC 8839 §5.1 asks")
            }
            CandidateError::Foundation(v) => {
                write!(f, "foundation {v:?}: not 1 to 32 ice-chars (RFC 8839 §5.1)")
            }
            CandidateError::Component(c) => {
                write!(f, "component {c}: only component 1 exists here (RFC 8843)")
            }
            CandidateError::Transport(t) => write!(f, "transport {t}: only UDP candidates here"),
            CandidateError::Priority(p) => {
                write!(f, "priority {p}: not in 1..2^31-1 (RFC 8445 §5.1.2.1)")
            }
            CandidateError::Address(a) => write!(
                f,
                "address {a}: not an IP address a packet can be sent to (mDNS names are not resolved)"
            ),
            CandidateError::Port(p) => write!(f, "port {p}: not a port in 1..65535"),
            CandidateError::Type(t) => {
                write!(
                    f,
                    "type {t}: not host, srflx, prflx or relay (RFC 8839 §5.1)"
                )
            }
        }
    }
}

impl std::error::Error for CandidateError {}

impl Candidate {
    /// Parses the value of an `a=candidate:` line (without `candidate:`; with it is accepted
    /// too, as trickled candidates carry it).
    pub fn parse(line: &str) -> Result<Candidate, CandidateError> {
        let v = line.trim();
        let v = v.strip_prefix("a=").unwrap_or(v);
        let v = v.strip_prefix("candidate:").unwrap_or(v);
        let f: Vec<&str> = v.split_whitespace().collect();
        if f.len() < 8 || f[6] != "typ" {
            return Err(CandidateError::Syntax(v.to_string()));
        }
        let ice_char = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
        if f[0].len() > 32 || !f[0].chars().all(ice_char) {
            return Err(CandidateError::Foundation(f[0].to_string()));
        }
        if f[1] != "1" {
            return Err(CandidateError::Component(f[1].to_string()));
        }
        if !f[2].eq_ignore_ascii_case("udp") {
            return Err(CandidateError::Transport(f[2].to_string()));
        }
        let priority = f[3]
            .parse::<u32>()
            .ok()
            .filter(|p| (1..1 << 31).contains(p))
            .ok_or_else(|| CandidateError::Priority(f[3].to_string()))?;
        let addr = SocketAddr::new(address(f[4])?, port(f[5])?);
        let kind = match f[7] {
            "host" => CandidateKind::Host,
            "srflx" => CandidateKind::ServerReflexive,
            "prflx" => CandidateKind::PeerReflexive,
            "relay" => CandidateKind::Relayed,
            t => return Err(CandidateError::Type(t.to_string())),
        };
        Ok(Candidate {
            foundation: f[0].to_string(),
            priority,
            addr,
            kind,
            related: related(&f[8..]),
        })
    }

    /// The value of its `a=candidate:` line (without `a=candidate:`).
    pub fn to_sdp(&self) -> String {
        let mut s = format!(
            "{} 1 udp {} {} {} typ {}",
            self.foundation,
            self.priority,
            self.addr.ip(),
            self.addr.port(),
            self.kind.sdp_name()
        );
        if let Some(r) = self.related {
            s.push_str(&format!(" raddr {} rport {}", r.ip(), r.port()));
        }
        s
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} priority {}", self.kind, self.addr, self.priority)
    }
}

fn address(a: &str) -> Result<IpAddr, CandidateError> {
    let bad = || CandidateError::Address(a.to_string());
    let ip: IpAddr = a.parse().map_err(|_| bad())?;
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if ip.is_unspecified() || ip.is_multicast() || broadcast {
        return Err(bad());
    }
    Ok(ip)
}

fn port(p: &str) -> Result<u16, CandidateError> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| CandidateError::Port(p.to_string()))
}

/// `raddr A rport P` among the extensions, when both parse (they are informative only:
/// RFC 8445 §5.1.3 keeps them out of every decision).
fn related(ext: &[&str]) -> Option<SocketAddr> {
    let value = |name: &str| {
        ext.iter()
            .position(|x| *x == name)
            .and_then(|i| ext.get(i + 1))
    };
    let ip: IpAddr = value("raddr")?.parse().ok()?;
    let port: u16 = value("rport")?.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_candidate_parses_and_writes_back() {
        let line = "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.2 rport 46154 generation 0 ufrag EsAw network-cost 999";
        let c = Candidate::parse(line).unwrap();
        assert_eq!(c.kind, CandidateKind::ServerReflexive);
        assert_eq!(c.addr, "203.0.113.7:46154".parse().unwrap());
        assert_eq!(c.related, Some("192.168.1.2:46154".parse().unwrap()));
        assert_eq!(c.priority, 1_677_729_535);
        assert_eq!(
            c.to_sdp(),
            "842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.2 rport 46154"
        );
        assert_eq!(Candidate::parse(&format!("a={}", line)).unwrap(), c);
    }

    #[test]
    fn impossible_candidates_are_refused_one_reason_each() {
        let bad = |v: &str| Candidate::parse(v).unwrap_err();
        assert!(matches!(
            bad("1 1 udp 5 127.0.0.1"),
            CandidateError::Syntax(_)
        ));
        for f in ["a=x", "candidate:x", "x-y", &"7".repeat(33)] {
            assert_eq!(
                bad(&format!("candidate:{f} 1 udp 5 127.0.0.1 9 typ host")),
                CandidateError::Foundation(f.into())
            );
        }
        assert!(matches!(
            bad("1 2 udp 5 127.0.0.1 9 typ host"),
            CandidateError::Component(_)
        ));
        assert!(matches!(
            bad("1 1 tcp 5 127.0.0.1 9 typ host tcptype active"),
            CandidateError::Transport(_)
        ));
        for p in ["0", "2147483648", "4294967296", "-1", "x"] {
            assert_eq!(
                bad(&format!("1 1 udp {p} 127.0.0.1 9 typ host")),
                CandidateError::Priority(p.into())
            );
        }
        for a in [
            "3f2a.local",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "1.2.3",
        ] {
            assert_eq!(
                bad(&format!("1 1 udp 5 {a} 9 typ host")),
                CandidateError::Address(a.into())
            );
        }
        for p in ["0", "65536", "x"] {
            assert_eq!(
                bad(&format!("1 1 udp 5 127.0.0.1 {p} typ host")),
                CandidateError::Port(p.into())
            );
        }
        assert_eq!(
            bad("1 1 udp 5 127.0.0.1 9 typ nat"),
            CandidateError::Type("nat".into())
        );
        assert!(Candidate::parse("1 1 UDP 2147483647 ::1 9 typ relay").is_ok());
    }
}
