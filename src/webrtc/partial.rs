//! Partial reliability on a lossy path, measured (RFC 8831 §6.1, RFC 3758): the use case of
//! games and telemetry, where only the newest state matters. `netlab webrtc partial` runs
//! two netlab peers in one process through the impairing UDP relay
//! ([`crate::l4::impair`]: seeded loss, a fixed delay each way) and sends the same stream of
//! timestamped messages, at a steady rate, on two channels side by side:
//!
//! - `reliable`: ordered and reliable (`createDataChannel`'s default): a lost DATA chunk is
//!   retransmitted, and every later message on the stream waits for it (head-of-line
//!   blocking inside one stream, RFC 9260 §6.6);
//! - `telemetry`: unordered with maxRetransmits=0 (DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED,
//!   RFC 8832 §5.1): a lost chunk is abandoned (FORWARD-TSN, RFC 3758 §3.5) and the next
//!   message is delivered the moment it arrives.
//!
//! The receiver looks at each channel every [`SAMPLE`]: the age of the freshest message it
//! has (now minus the send time of the highest sequence number received). The report gives
//! that age's median and 99th percentile over the run, and the fraction of messages each
//! channel delivered. The path is clean while the peers connect (ICE, DTLS, SCTP, DCEP) and
//! lossy only while messages flow, so the seed picks the same datagram numbers every run.
//!
//! One function per step of [`run`]:
//! 1. `Pair::connect`: the receiver answers, the relay goes in front of it (its address
//!    replaces the answer's candidate), the sender accepts and opens both channels;
//! 2. `Receiver::spawn`: the receiver's thread takes the messages and samples the ages;
//! 3. `send_at_rate`: the sender's loop, one message on each channel per tick;
//! 4. `Receiver::finish`: after a drain, the counts and the ages, as a [`Report`].

use super::dcep::{ChannelType, Reliability};
use super::dtls::Identity;
use super::peer::{Config, Event, Message, Peer, PeerError};
use super::sdp;
use crate::l4::impair::{Counts, Impair, Impairment};
use crate::l4::relay::Side;
use crate::l4::udp_relay::{DatagramObserver, Relay, Verdict};
use crate::trace::{self, Layer};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often the receiver looks at the age of each channel's freshest message.
pub const SAMPLE: Duration = Duration::from_millis(5);
/// How long the receiver waits after the last message for the reliable channel to deliver
/// what it still retransmits (sctp-proto's smallest RTO is 1 s).
const DRAIN: Duration = Duration::from_secs(3);
/// Sequence number and send time, the start of every message.
const HEADER: usize = 16;
/// The channels' labels, as the trace and the report name them.
pub const RELIABLE: &str = "reliable";
pub const TELEMETRY: &str = "telemetry";

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Percent of datagrams lost each way while messages flow.
    pub loss: u8,
    /// Held back each way by the relay.
    pub delay: Duration,
    /// Messages per second on each channel.
    pub rate: u32,
    /// How long messages are sent.
    pub duration: Duration,
    /// Bytes per message (at least the 16 of sequence number and time).
    pub size: usize,
    /// Picks the datagrams lost.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            loss: 5,
            delay: Duration::from_millis(20),
            rate: 50,
            duration: Duration::from_secs(5),
            size: 200,
            seed: 1,
        }
    }
}

/// What one channel showed.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelReport {
    pub label: &'static str,
    pub channel_type: ChannelType,
    pub sent: u64,
    pub delivered: u64,
    /// The age of the freshest message received, over the samples: median and 99th
    /// percentile.
    pub age_p50: Duration,
    pub age_p99: Duration,
}

impl ChannelReport {
    pub fn delivered_fraction(&self) -> f64 {
        self.delivered as f64 / self.sent.max(1) as f64
    }
}

/// The whole run.
#[derive(Clone, Debug)]
pub struct Report {
    pub settings: Settings,
    pub reliable: ChannelReport,
    pub telemetry: ChannelReport,
    /// What the relay did to the datagrams while the path was lossy.
    pub path: Counts,
}

/// Why a run failed, one variant per step.
#[derive(Debug)]
pub enum PartialError {
    /// The settings cannot make a run (a rate of 0, a message smaller than its header).
    Settings(String),
    /// A peer failed: connecting, opening a channel, or sending.
    Peer(&'static str, PeerError),
    /// The relay could not start.
    Relay(String),
    /// The receiver's thread stopped before its report.
    Receiver,
}

impl fmt::Display for PartialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartialError::Settings(why) => write!(f, "{why}"),
            PartialError::Peer(doing, e) => write!(f, "{doing}: {e}"),
            PartialError::Relay(why) => write!(f, "cannot start the relay: {why}"),
            PartialError::Receiver => f.write_str("the receiver stopped before its report"),
        }
    }
}

impl std::error::Error for PartialError {}

/// The unordered channel that never retransmits (RFC 8832 §5.1, type 0x81 with parameter 0).
pub const TELEMETRY_TYPE: ChannelType = ChannelType {
    unordered: true,
    reliability: Reliability::Rexmit(0),
};

/// Runs the measurement.
pub fn run(settings: Settings) -> Result<Report, PartialError> {
    check(&settings)?;
    // 1. The two peers and the relay between them, both channels open.
    let pair = Pair::connect(&settings)?;
    // 2. The receiver's thread; from now on the path loses.
    let epoch = Instant::now();
    let receiver = Receiver::spawn(pair.receiver, pair.ids, epoch, &settings);
    pair.lossy.on.store(true, Ordering::SeqCst);
    trace::event(Layer::L4, || {
        format!(
            "impaired path: {} % loss each way from now on (seed {})",
            settings.loss, settings.seed
        )
    });
    // 3. The sender's loop.
    let sent = send_at_rate(&pair.sender, pair.ids, epoch, &settings)?;
    // 4. The receiver's report, after the drain.
    let (reliable, telemetry) = receiver.finish(sent)?;
    let path = pair.lossy.impair.counts();
    pair.sender.close();
    drop(pair.relay);
    Ok(Report {
        settings,
        reliable,
        telemetry,
        path,
    })
}

fn check(s: &Settings) -> Result<(), PartialError> {
    if s.rate == 0 || s.rate > 1000 {
        return Err(PartialError::Settings(format!(
            "--rate {} is out of 1..=1000 messages per second",
            s.rate
        )));
    }
    if s.size < HEADER {
        return Err(PartialError::Settings(format!(
            "--size {} is under the {HEADER} bytes of sequence number and send time",
            s.size
        )));
    }
    if s.loss > 100 {
        return Err(PartialError::Settings(format!(
            "--loss {} is not a percentage",
            s.loss
        )));
    }
    Ok(())
}

/// The relay's observer: the seeded impairment, switched on once the channels are open.
struct Switched {
    impair: Impair,
    on: AtomicBool,
}

impl DatagramObserver for Switched {
    fn rewrite(&self, from: Side, n: u64, bytes: &mut [u8]) -> Verdict {
        if self.on.load(Ordering::SeqCst) {
            self.impair.rewrite(from, n, bytes)
        } else {
            Verdict::Forward
        }
    }
}

/// The stream ids of the two channels: reliable, telemetry.
#[derive(Clone, Copy)]
struct Ids {
    reliable: u16,
    telemetry: u16,
}

/// Step 1's result.
struct Pair {
    sender: Peer,
    receiver: Peer,
    relay: Relay,
    lossy: Arc<Switched>,
    ids: Ids,
}

impl Pair {
    /// The receiver answers; the sender is the offerer, the controlling ICE agent that
    /// checks the answer's candidate, and that candidate is the relay's address.
    fn connect(s: &Settings) -> Result<Pair, PartialError> {
        let peer = |doing| move |e| PartialError::Peer(doing, e);
        let identity = || Identity::generate().map_err(PeerError::Dtls);
        let offer = Peer::offer(
            &identity().map_err(peer("certificate"))?,
            Config {
                role: "sender",
                ..Config::default()
            },
        )
        .map_err(peer("offer"))?;
        let (receiver, answer) = Peer::answer(
            &offer.sdp,
            &identity().map_err(peer("certificate"))?,
            Config {
                role: "receiver",
                ..Config::default()
            },
        )
        .map_err(peer("answer"))?;
        let lossy = Arc::new(Switched {
            impair: Impair::new(Impairment {
                loss: s.loss,
                seed: s.seed,
                ..Impairment::default()
            }),
            on: AtomicBool::new(false),
        });
        let relay = Relay::observed(receiver.local_addr, lossy.clone(), s.delay)
            .map_err(|e| PartialError::Relay(e.to_string()))?;
        let answer = through(&answer, relay.addr()).map_err(peer("answer"))?;
        let mut sender = offer.accept(&answer).map_err(peer("accept"))?;
        let ids = Ids {
            reliable: sender.open(RELIABLE, ChannelType::RELIABLE),
            telemetry: sender.open(TELEMETRY, TELEMETRY_TYPE),
        };
        for _ in 0..2 {
            sender
                .wait_open(Duration::from_secs(15))
                .map_err(peer("open the channels"))?;
        }
        Ok(Pair {
            sender,
            receiver,
            relay,
            lossy,
            ids,
        })
    }
}

/// The answer with its one candidate replaced by `relay`: the sender's datagrams go through
/// the relay, and the receiver sees them come from the relay's upstream socket.
fn through(answer: &str, relay: std::net::SocketAddr) -> Result<String, PeerError> {
    let mut d = sdp::parse(answer, sdp::Kind::Answer)?;
    d.candidates = vec![relay];
    // The lines as parsed would be written back in place of `candidates`.
    d.candidate_lines.clear();
    Ok(sdp::write(&d, 1))
}

/// Step 3: `rate` ticks a second for `duration`, the same message (sequence number, send
/// time in microseconds since `epoch`) on each channel. Returns how many were sent on each.
fn send_at_rate(
    sender: &Peer,
    ids: Ids,
    epoch: Instant,
    s: &Settings,
) -> Result<u64, PartialError> {
    let tick = Duration::from_secs(1) / s.rate;
    let mut seq = 0u64;
    while epoch.elapsed() < s.duration {
        let mut m = vec![0u8; s.size];
        m[..8].copy_from_slice(&seq.to_be_bytes());
        let micros = epoch.elapsed().as_micros() as u64;
        m[8..HEADER].copy_from_slice(&micros.to_be_bytes());
        for id in [ids.reliable, ids.telemetry] {
            sender
                .send(id, Message::Binary(m.clone()))
                .map_err(|e| PartialError::Peer("send", e))?;
        }
        seq += 1;
        // Ticks keep to the schedule: a late one does not push the others back.
        let next = tick * seq as u32;
        if let Some(wait) = next.checked_sub(epoch.elapsed()) {
            thread::sleep(wait);
        }
    }
    Ok(seq)
}

/// What the receiver knows of one channel.
#[derive(Default)]
struct Seen {
    delivered: u64,
    /// The highest sequence number received, and when it was sent (since the epoch).
    freshest: Option<(u64, Duration)>,
    ages: Vec<Duration>,
}

impl Seen {
    fn take(&mut self, m: &Message) {
        let Message::Binary(b) = m else { return };
        let (Some(seq), Some(micros)) = (be64(b, 0), be64(b, 8)) else {
            return;
        };
        self.delivered += 1;
        if self.freshest.is_none_or(|(s, _)| seq > s) {
            self.freshest = Some((seq, Duration::from_micros(micros)));
        }
    }

    fn sample(&mut self, now: Duration) {
        if let Some((_, sent)) = self.freshest {
            self.ages.push(now.saturating_sub(sent));
        }
    }
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The receiver's thread (step 2) and how step 4 gets its result.
struct Receiver {
    thread: JoinHandle<[Seen; 2]>,
}

impl Receiver {
    fn spawn(mut peer: Peer, ids: Ids, epoch: Instant, s: &Settings) -> Receiver {
        let (sending, end) = (s.duration, s.duration + DRAIN);
        let thread = thread::spawn(move || {
            let _role = trace::role("receiver");
            let mut seen = [Seen::default(), Seen::default()];
            let mut next_sample = SAMPLE;
            let mut next_line = Duration::from_secs(1);
            while epoch.elapsed() < end {
                let wait = next_sample.saturating_sub(epoch.elapsed());
                match peer.recv(wait.max(Duration::from_millis(1))) {
                    Some(Event::Message(id, m)) if id == ids.reliable || id == ids.telemetry => {
                        seen[usize::from(id != ids.reliable)].take(&m)
                    }
                    // The session is over (the sender reports why): nothing more will come.
                    Some(Event::Ended(_)) => break,
                    _ => {}
                }
                let now = epoch.elapsed();
                // The ages count while messages are sent, not during the drain.
                if now >= next_sample && now < sending {
                    seen.iter_mut().for_each(|c| c.sample(now));
                    next_sample += SAMPLE;
                }
                if now >= next_line && now < sending {
                    trace_ages(&seen, now);
                    next_line += Duration::from_secs(1);
                }
                next_sample = next_sample.max(now.min(sending));
            }
            peer.close();
            seen
        });
        Receiver { thread }
    }

    /// Step 4: the receiver's counts and ages, once its drain is over.
    fn finish(self, sent: u64) -> Result<(ChannelReport, ChannelReport), PartialError> {
        let [mut r, mut t] = self.thread.join().map_err(|_| PartialError::Receiver)?;
        let report = |label, channel_type, seen: &mut Seen| {
            seen.ages.sort();
            ChannelReport {
                label,
                channel_type,
                sent,
                delivered: seen.delivered,
                age_p50: percentile(&seen.ages, 50),
                age_p99: percentile(&seen.ages, 99),
            }
        };
        Ok((
            report(RELIABLE, ChannelType::RELIABLE, &mut r),
            report(TELEMETRY, TELEMETRY_TYPE, &mut t),
        ))
    }
}

/// Once a second: the freshest message of each channel, and its age.
fn trace_ages(seen: &[Seen; 2], now: Duration) {
    trace::event(Layer::Dcep, || {
        let one = |label: &str, s: &Seen| match s.freshest {
            Some((seq, sent)) => format!(
                "{label:?} #{seq} ({} ms old)",
                now.saturating_sub(sent).as_millis()
            ),
            None => format!("{label:?} nothing yet"),
        };
        format!(
            "t={:.1} s: freshest on {}, on {}",
            now.as_secs_f64(),
            one(RELIABLE, &seen[0]),
            one(TELEMETRY, &seen[1])
        )
    });
}

/// The `p`th percentile of sorted samples (nearest rank); zero without samples.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The table `netlab webrtc partial` prints.
pub fn table(r: &Report) -> String {
    let s = &r.settings;
    let mut out = format!(
        "{} messages of {} bytes per channel, {}/s for {:.1} s; path: {} % loss and {} ms delay each way (seed {})\n",
        r.reliable.sent,
        s.size,
        s.rate,
        s.duration.as_secs_f64(),
        s.loss,
        s.delay.as_millis(),
        s.seed
    );
    out += &format!(
        "{:<10} {:<42} {:>10} {:>12} {:>12}\n",
        "channel", "type (RFC 8832 §5.1)", "delivered", "age p50", "age p99"
    );
    for c in [&r.reliable, &r.telemetry] {
        out += &format!(
            "{:<10} {:<42} {:>9.1}% {:>9} ms {:>9} ms\n",
            c.label,
            c.channel_type.to_string(),
            100.0 * c.delivered_fraction(),
            c.age_p50.as_millis(),
            c.age_p99.as_millis()
        );
    }
    let p = &r.path;
    out += &format!(
        "the relay lost {} of {} datagrams from the sender and {} of {} from the receiver\n",
        p.lost[0],
        p.lost[0] + p.forwarded[0],
        p.lost[1],
        p.lost[1] + p.forwarded[1]
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentile_is_the_nearest_rank() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let s = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&s, 50), Duration::from_millis(50));
        assert_eq!(percentile(&s, 99), Duration::from_millis(99));
        assert_eq!(percentile(&ms(&[7]), 99), Duration::from_millis(7));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }

    #[test]
    fn the_freshest_message_is_the_highest_sequence_number_not_the_last_to_arrive() {
        let msg = |seq: u64, ms: u64| {
            let mut b = vec![0u8; HEADER];
            b[..8].copy_from_slice(&seq.to_be_bytes());
            b[8..].copy_from_slice(&(ms * 1000).to_be_bytes());
            Message::Binary(b)
        };
        let mut seen = Seen::default();
        seen.take(&msg(5, 100));
        seen.take(&msg(3, 60));
        seen.take(&Message::Text("not ours".into()));
        assert_eq!(seen.delivered, 2);
        seen.sample(Duration::from_millis(130));
        assert_eq!(seen.ages, [Duration::from_millis(30)]);
    }

    #[test]
    fn settings_that_cannot_make_a_run_are_refused_with_the_flag_named() {
        let bad = [
            Settings {
                rate: 0,
                ..Settings::default()
            },
            Settings {
                size: 8,
                ..Settings::default()
            },
            Settings {
                loss: 101,
                ..Settings::default()
            },
        ];
        for (s, flag) in bad.iter().zip(["--rate", "--size", "--loss"]) {
            let e = check(s).unwrap_err().to_string();
            assert!(e.starts_with(flag), "{e}");
        }
    }
}
