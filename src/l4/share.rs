//! Places of a capped resource (connections, WebRTC sessions, QUIC handshakes), shared so
//! that one address cannot take them all.
//!
//! A server that caps what it holds at once (64 sessions, 2048 connections) protects itself,
//! but a single client that opens as many as the cap allows locks every other client out
//! until its places expire. So each source address also gets a share: at most `per_source`
//! of the `total` places. A flood from one address fills its share and is refused there;
//! the rest stays for everyone else.
//!
//! ```text
//! try_take(ip) ──▶ total taken < total and ip's < per_source ──▶ Permit (given back on drop)
//!              └─▶ otherwise: Refusal ("source 127.0.0.2 holds 16 of 64 places")
//! ```
//!
//! A share per address is what a server can do alone; many addresses (a botnet, or one
//! host with a whole IPv6 /64) still add up, and many users behind one NAT share one
//! address. IPv6 sources are counted by their /64, the block one host usually gets.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The places of one resource: `total` at most, `per_source` at most for one address.
#[derive(Clone)]
pub struct Shares {
    inner: Arc<Inner>,
}

struct Inner {
    total: usize,
    per_source: usize,
    taken: Mutex<Taken>,
}

#[derive(Default)]
struct Taken {
    all: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// Why a place was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Every place is taken.
    Full { total: usize },
    /// This source already holds its share.
    Source {
        source: IpAddr,
        held: usize,
        total: usize,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Full { total } => write!(f, "all {total} places are taken"),
            Refusal::Source {
                source,
                held,
                total,
            } => write!(f, "source {source} holds {held} of {total} places"),
        }
    }
}

impl std::error::Error for Refusal {}

/// One place taken; given back when dropped.
pub struct Permit {
    inner: Arc<Inner>,
    source: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut taken = self.inner.lock();
        taken.all = taken.all.saturating_sub(1);
        if let Some(n) = taken.by_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                taken.by_source.remove(&self.source);
            }
        }
    }
}

impl Inner {
    /// The counts; a thread that panicked holding the lock left them consistent (every
    /// change is one statement), so a poisoned lock is taken as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Shares {
    /// `total` places, at most `per_source` of them for one address (both at least 1).
    pub fn new(total: usize, per_source: usize) -> Shares {
        let total = total.max(1);
        Shares {
            inner: Arc::new(Inner {
                total,
                per_source: per_source.clamp(1, total),
                taken: Mutex::default(),
            }),
        }
    }

    /// `total` places with no share per address: for a server one person runs for
    /// themselves (the echo server, the tap).
    pub fn whole(total: usize) -> Shares {
        Shares::new(total, total)
    }

    /// `total` places, `per_source` each, or by default a quarter ([`Shares::quarter`]).
    pub fn capped(total: usize, per_source: Option<usize>) -> Shares {
        Shares::new(total, per_source.unwrap_or_else(|| Shares::quarter(total)))
    }

    /// The default share of a cap: a quarter, so that one address never holds more than a
    /// quarter of the places and at least three others always find one.
    pub fn quarter(total: usize) -> usize {
        (total / 4).max(1)
    }

    pub fn total(&self) -> usize {
        self.inner.total
    }

    pub fn per_source(&self) -> usize {
        self.inner.per_source
    }

    /// Places taken now, over all sources.
    pub fn taken(&self) -> usize {
        self.inner.lock().all
    }

    /// Places `ip` holds now.
    pub fn held_by(&self, ip: IpAddr) -> usize {
        let source = source_of(ip);
        self.inner
            .lock()
            .by_source
            .get(&source)
            .copied()
            .unwrap_or(0)
    }

    /// A place for `ip`, or why not. Checked and taken under one lock: two connections at
    /// once cannot both get the last place.
    pub fn try_take(&self, ip: IpAddr) -> Result<Permit, Refusal> {
        let source = source_of(ip);
        let (total, per_source) = (self.inner.total, self.inner.per_source);
        let mut taken = self.inner.lock();
        let held = taken.by_source.get(&source).copied().unwrap_or(0);
        if held >= per_source {
            return Err(Refusal::Source {
                source: ip,
                held,
                total,
            });
        }
        if taken.all >= total {
            return Err(Refusal::Full { total });
        }
        taken.all += 1;
        *taken.by_source.entry(source).or_insert(0) += 1;
        drop(taken);
        Ok(Permit {
            inner: self.inner.clone(),
            source,
        })
    }
}

/// The address a share is counted for: an IPv4 address (an IPv4-mapped IPv6 one too) as it
/// is, an IPv6 address by its /64.
fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_source_fills_its_share_and_the_others_are_still_served() {
        let shares = Shares::new(8, 3);
        let flood: Vec<Permit> = (0..3)
            .map(|_| shares.try_take(ip("127.0.0.2")).unwrap())
            .collect();
        assert_eq!(
            shares.try_take(ip("127.0.0.2")).err(),
            Some(Refusal::Source {
                source: ip("127.0.0.2"),
                held: 3,
                total: 8
            })
        );
        assert_eq!(
            Refusal::Source {
                source: ip("127.0.0.2"),
                held: 3,
                total: 8
            }
            .to_string(),
            "source 127.0.0.2 holds 3 of 8 places"
        );
        let other = shares.try_take(ip("127.0.0.3")).unwrap();
        assert_eq!((shares.taken(), shares.held_by(ip("127.0.0.2"))), (4, 3));
        drop(flood);
        drop(other);
        assert_eq!(shares.taken(), 0);
        assert_eq!(shares.held_by(ip("127.0.0.2")), 0);
    }

    #[test]
    fn the_total_still_caps_many_sources() {
        let shares = Shares::new(4, 2);
        let _held: Vec<Permit> = ["10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2"]
            .iter()
            .map(|a| shares.try_take(ip(a)).unwrap())
            .collect();
        assert_eq!(
            shares.try_take(ip("10.0.0.3")).err(),
            Some(Refusal::Full { total: 4 })
        );
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let shares = Shares::new(10, 1);
        let _a = shares.try_take(ip("2001:db8:1:2::1")).unwrap();
        assert!(shares.try_take(ip("2001:db8:1:2::ffff")).is_err());
        assert!(shares.try_take(ip("2001:db8:1:3::1")).is_ok());
        let _b = shares.try_take(ip("192.0.2.1")).unwrap();
        assert!(shares.try_take(ip("::ffff:192.0.2.1")).is_err());
    }

    #[test]
    fn a_share_is_at_least_one_and_at_most_the_total() {
        assert_eq!(Shares::new(4, 0).per_source(), 1);
        assert_eq!(Shares::new(4, 9).per_source(), 4);
        assert_eq!(Shares::quarter(64), 16);
        assert_eq!(Shares::quarter(2), 1);
    }
}
