//! An impaired path made by the UDP relay ([`super::udp_relay`]) in user space: random loss
//! and corruption of a chosen percentage of datagrams each way, and blackhole outages — what
//! the QUIC interop runner's network simulator does to its `handshakeloss`, `transferloss`,
//! `handshakecorruption`, `transfercorruption` and `blackhole` cases, without a simulator,
//! netem or root. (A fixed delay each way is the relay's own: `Relay::observed(.., delay)`.)
//!
//! The chance is drawn from a generator seeded by the caller, so a run with the same seed and
//! the same datagrams loses and corrupts the same ones. Every decision is counted and traced:
//!
//! ```text
//! [l4] · impaired path: lost client datagram #3 (1252 bytes; random loss 30 %)
//! [l4] · impaired path: corrupted server datagram #7 (byte 112 of 1350 xor 0x5a)
//! [l4] · impaired path: blackhole from 2.004 s to 4.004 s: dropped client datagram #40
//! ```

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::relay::Side;
use super::udp_relay::{DatagramObserver, Verdict};
use crate::trace::{self, Layer};

/// Outages: `start` after the first datagram the relay sees, the path drops every datagram
/// for `off`, then carries them for `on`, then drops them for `off` again, and so on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blackhole {
    pub start: Duration,
    pub off: Duration,
    pub on: Duration,
}

/// What the path does to the datagrams it carries (the same both ways).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Impairment {
    /// Percent of datagrams lost, each way (0–100).
    pub loss: u8,
    /// Percent of datagrams with one byte changed, each way (0–100).
    pub corrupt: u8,
    pub blackhole: Option<Blackhole>,
    /// Seeds the generator that picks the datagrams lost and corrupted.
    pub seed: u64,
}

/// What the path did so far, per direction (index 0: from the client, 1: from the server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub forwarded: [u64; 2],
    pub lost: [u64; 2],
    pub corrupted: [u64; 2],
    pub blackholed: [u64; 2],
}

/// The observer that impairs, plus an optional one that sees every datagram as its sender
/// sent it (before any loss or corruption): a capture "at the sender", as the interop
/// runner's traces are.
pub struct Impair {
    spec: Impairment,
    /// SplitMix64's state: small, seedable, and good enough to pick datagrams.
    rng: Mutex<u64>,
    /// When the first datagram arrived: the blackhole's clock starts there.
    first: Mutex<Option<Instant>>,
    sender_view: Option<Box<dyn DatagramObserver>>,
    forwarded: [AtomicU64; 2],
    lost: [AtomicU64; 2],
    corrupted: [AtomicU64; 2],
    blackholed: [AtomicU64; 2],
}

impl Impair {
    pub fn new(spec: Impairment) -> Impair {
        Impair {
            spec,
            rng: Mutex::new(spec.seed),
            first: Mutex::new(None),
            sender_view: None,
            forwarded: Default::default(),
            lost: Default::default(),
            corrupted: Default::default(),
            blackholed: Default::default(),
        }
    }

    /// Lets `observer` see each datagram before the impairment (its verdict is ignored).
    pub fn with_sender_view(mut self, observer: Box<dyn DatagramObserver>) -> Impair {
        self.sender_view = Some(observer);
        self
    }

    pub fn counts(&self) -> Counts {
        let read = |a: &[AtomicU64; 2]| [a[0].load(Ordering::SeqCst), a[1].load(Ordering::SeqCst)];
        Counts {
            forwarded: read(&self.forwarded),
            lost: read(&self.lost),
            corrupted: read(&self.corrupted),
            blackholed: read(&self.blackholed),
        }
    }

    /// The next number of SplitMix64 (Steele, Lea, Flood 2014).
    fn next(&self) -> u64 {
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with a chance of `percent` in 100.
    fn chance(&self, percent: u8) -> bool {
        percent > 0 && self.next() % 100 < u64::from(percent)
    }

    /// The outage `now` falls in, as (begin, end) since the first datagram, if any.
    fn outage(&self, now: Instant) -> Option<(Duration, Duration)> {
        let b = self.spec.blackhole?;
        let first = *self
            .first
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(now);
        let period = b.on + b.off;
        if period.is_zero() {
            return None;
        }
        let since = (now - first).checked_sub(b.start)?;
        let cycles = since.as_nanos() / period.as_nanos();
        let begin = period * cycles as u32;
        (since < begin + b.off).then_some((b.start + begin, b.start + begin + b.off))
    }
}

fn whose(from: Side) -> (&'static str, usize) {
    match from {
        Side::Client => ("client", 0),
        Side::Server => ("server", 1),
    }
}

impl DatagramObserver for Impair {
    /// 1. show the datagram as sent; 2. a blackhole drops everything; 3. random loss;
    /// 4. random corruption of one byte; 5. forward.
    fn rewrite(&self, from: Side, n: u64, bytes: &mut [u8]) -> Verdict {
        let (who, i) = whose(from);
        if let Some(view) = &self.sender_view {
            view.datagram(from, n, bytes);
        }
        if let Some((start, end)) = self.outage(Instant::now()) {
            self.blackholed[i].fetch_add(1, Ordering::SeqCst);
            trace::event(Layer::L4, || {
                format!(
                    "impaired path: blackhole from {:.3} s to {:.3} s: dropped {who} datagram #{n}",
                    start.as_secs_f64(),
                    end.as_secs_f64()
                )
            });
            return Verdict::Drop;
        }
        if self.chance(self.spec.loss) {
            self.lost[i].fetch_add(1, Ordering::SeqCst);
            trace::event(Layer::L4, || {
                format!(
                    "impaired path: lost {who} datagram #{n} ({} bytes; random loss {} %)",
                    bytes.len(),
                    self.spec.loss
                )
            });
            return Verdict::Drop;
        }
        if !bytes.is_empty() && self.chance(self.spec.corrupt) {
            let r = self.next();
            let at = (r % bytes.len() as u64) as usize;
            // Never xor with 0: a "corruption" that changes nothing would be counted falsely.
            let mask = ((r >> 32) % 255 + 1) as u8;
            bytes[at] ^= mask;
            self.corrupted[i].fetch_add(1, Ordering::SeqCst);
            trace::event(Layer::L4, || {
                format!(
                    "impaired path: corrupted {who} datagram #{n} (byte {at} of {} xor {mask:#04x})",
                    bytes.len()
                )
            });
        }
        self.forwarded[i].fetch_add(1, Ordering::SeqCst);
        Verdict::Forward
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(spec: Impairment, n: u64) -> (Vec<Verdict>, Vec<Vec<u8>>) {
        let imp = Impair::new(spec);
        let mut verdicts = Vec::new();
        let mut datagrams = Vec::new();
        for k in 1..=n {
            let mut d = vec![0u8; 100];
            verdicts.push(imp.rewrite(Side::Client, k, &mut d));
            datagrams.push(d);
        }
        (verdicts, datagrams)
    }

    #[test]
    fn the_same_seed_loses_the_same_datagrams_and_the_rate_is_near_the_percentage() {
        let spec = Impairment {
            loss: 30,
            seed: 7,
            ..Impairment::default()
        };
        let (a, _) = run(spec, 1000);
        let (b, _) = run(spec, 1000);
        assert_eq!(a, b);
        let lost = a.iter().filter(|v| **v == Verdict::Drop).count();
        assert!((250..350).contains(&lost), "{lost} of 1000 lost at 30 %");
        let (c, _) = run(Impairment { seed: 8, ..spec }, 1000);
        assert_ne!(a, c, "another seed, other losses");
    }

    #[test]
    fn corruption_changes_exactly_one_byte_and_forwards_the_datagram() {
        let imp = Impair::new(Impairment {
            corrupt: 100,
            seed: 1,
            ..Impairment::default()
        });
        for k in 1..=50 {
            let mut d = vec![0u8; 64];
            assert_eq!(imp.rewrite(Side::Server, k, &mut d), Verdict::Forward);
            assert_eq!(d.iter().filter(|b| **b != 0).count(), 1, "{d:?}");
        }
        let c = imp.counts();
        assert_eq!((c.corrupted, c.forwarded), ([0, 50], [0, 50]));
    }

    #[test]
    fn a_blackhole_drops_everything_during_its_outage_only() {
        let imp = Impair::new(Impairment {
            blackhole: Some(Blackhole {
                start: Duration::from_millis(100),
                off: Duration::from_millis(100),
                on: Duration::from_millis(100),
            }),
            ..Impairment::default()
        });
        let t0 = Instant::now();
        *imp.first.lock().unwrap() = Some(t0);
        assert_eq!(imp.outage(t0 + Duration::from_millis(50)), None);
        assert!(imp.outage(t0 + Duration::from_millis(150)).is_some());
        assert_eq!(imp.outage(t0 + Duration::from_millis(250)), None);
        assert!(imp.outage(t0 + Duration::from_millis(350)).is_some());
        let mut d = [1u8; 10];
        assert_eq!(imp.rewrite(Side::Client, 1, &mut d), Verdict::Forward);
    }
}
