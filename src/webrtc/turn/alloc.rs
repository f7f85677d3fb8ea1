//! One allocation (RFC 8656 §2.2): a relayed UDP socket the server holds for one client
//! (identified by its 5-tuple: here, its address on the server's one UDP socket), with the
//! permissions (§9: which peer IPs may be sent to and heard from) and the channels (§12: a
//! 4-byte header in place of a 36-byte Send indication) the client installed. Everything
//! here expires: the allocation (LIFETIME), each permission (300 s), each channel (600 s).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Instant;

use super::Refusal;

/// A channel binding: its peer, and when it expires.
struct Channel {
    peer: SocketAddr,
    expires: Instant,
}

pub struct Allocation {
    /// The client's address, as the server's socket sees it.
    pub client: SocketAddr,
    /// Who allocated: later requests on this allocation must come from the same user.
    pub user: String,
    /// The relayed transport address's socket (the kernel chose its port).
    pub relay: UdpSocket,
    pub relayed: SocketAddr,
    pub expires: Instant,
    /// The transaction id of the Allocate that made it: a retransmission gets its answer again.
    pub transaction: [u8; 12],
    /// Peer IP → when its permission expires (§9: permissions are per IP, not per port).
    permissions: HashMap<IpAddr, Instant>,
    channels: HashMap<u16, Channel>,
}

impl Allocation {
    pub fn new(
        client: SocketAddr,
        user: String,
        relay: UdpSocket,
        relayed: SocketAddr,
        expires: Instant,
    ) -> Allocation {
        Allocation {
            client,
            user,
            relay,
            relayed,
            expires,
            transaction: [0; 12],
            permissions: HashMap::new(),
            channels: HashMap::new(),
        }
    }

    /// Installs or refreshes the permission for `ip` (§9.2).
    pub fn permit(&mut self, ip: IpAddr, until: Instant) {
        self.permissions.insert(ip, until);
    }

    /// May data go to, or come from, `ip` now?
    pub fn permitted(&self, ip: IpAddr, now: Instant) -> bool {
        self.permissions.get(&ip).is_some_and(|&until| now < until)
    }

    /// Binds `number` to `peer` (§12.2): a new binding, or the refresh of the same one. A
    /// number bound to another peer, or a peer bound to another number, is refused (400).
    pub fn bind(&mut self, number: u16, peer: SocketAddr, until: Instant) -> Result<(), Refusal> {
        if let Some(c) = self.channels.get(&number) {
            if c.peer != peer {
                return Err(Refusal::ChannelTaken(number, c.peer));
            }
        }
        if let Some((&other, _)) = self
            .channels
            .iter()
            .find(|(n, c)| c.peer == peer && **n != number)
        {
            return Err(Refusal::PeerHasChannel(peer, other));
        }
        self.channels.insert(
            number,
            Channel {
                peer,
                expires: until,
            },
        );
        Ok(())
    }

    /// The peer bound to channel `number`, if any.
    pub fn channel_peer(&self, number: u16, now: Instant) -> Option<SocketAddr> {
        self.channels
            .get(&number)
            .filter(|c| now < c.expires)
            .map(|c| c.peer)
    }

    /// The channel bound to `peer`, if any.
    pub fn channel_of(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        self.channels
            .iter()
            .find(|(_, c)| c.peer == peer && now < c.expires)
            .map(|(&n, _)| n)
    }

    /// Forgets the permissions and channels that expired; says which, for the trace.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let mut gone = Vec::new();
        self.permissions.retain(|ip, until| {
            let keep = now < *until;
            if !keep {
                gone.push(format!("permission for {ip} expired"));
            }
            keep
        });
        self.channels.retain(|n, c| {
            let keep = now < c.expires;
            if !keep {
                gone.push(format!("channel 0x{n:04X} → {} expired", c.peer));
            }
            keep
        });
        gone
    }

    /// The earliest moment something of this allocation expires.
    pub fn next_deadline(&self) -> Instant {
        let p = self.permissions.values().copied();
        let c = self.channels.values().map(|c| c.expires);
        p.chain(c).fold(self.expires, Instant::min)
    }
}

/// A block of addresses, `ADDR/PREFIX` (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub net: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `192.0.2.0/24`, `::1/128`, or a bare address (a block of one).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not ADDR/PREFIX: bad address"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("{s:?} is not ADDR/PREFIX: prefix 0..={max}"))?,
            None => max,
        };
        Ok(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// The peers a relay may reach by default: loopback, and the documentation ranges (RFC 5737)
/// the project's namespaces use. Never the Internet: a TURN server that relays anywhere is an
/// open proxy (RFC 8656 §21.1.2 warns of it).
pub const DEFAULT_ALLOW: [&str; 5] = [
    "127.0.0.0/8",
    "::1/128",
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_hold_what_they_should_and_nothing_else() {
        let c = Cidr::parse("198.51.100.0/24").unwrap();
        assert!(c.contains("198.51.100.7".parse().unwrap()));
        assert!(!c.contains("198.51.101.7".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nonsense/8").is_err());
    }
}
