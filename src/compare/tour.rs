//! The last section of `netlab tour`: the course's summary, measured — the same note over
//! every transport, with the round trips, bytes and times of each, as `netlab compare` prints;
//! then a download while the client's address changes, as `netlab compare --rebind` runs it.

use super::exchange::{Kind, Servers};
use super::rebind::{self, RebindRow, Site};
use crate::guide::{Guide, TourError};
use crate::trace;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The steps of this section, in the order `run` takes them.
pub const STEPS: &[&str] = &[
    "one note over every transport of the course: round trips, bytes on the wire, time",
    REBIND_STEP,
];

const REBIND_STEP: &str =
    "the client's address changes mid-download: TCP's connection is reset, QUIC's follows it";

/// The file of the rebinding step: big enough to be cut in the middle, small for a tour.
const REBIND_FILE: usize = 1_000_000;

/// The bulk size here: enough to show the rates, small enough for a tour.
const BULK: usize = 1_000_000;

/// What `measure_all` found: a row per kind, and the sizes of two HTTP/2 header blocks.
type Measured = (Vec<super::Row>, Vec<usize>);

/// Starts the servers and measures every kind, or names the one that failed.
fn measure_all() -> Result<Measured, (&'static str, String)> {
    let servers = Servers::start().map_err(|e| ("servers", e.to_string()))?;
    let mut rows = Vec::new();
    for kind in Kind::ALL {
        let row = super::measure(kind, &servers, BULK).map_err(|e| (kind.name(), e.to_string()))?;
        rows.push(row);
    }
    let blocks = super::h2_header_blocks(&servers).map_err(|e| ("HPACK", e.to_string()))?;
    Ok((rows, blocks))
}

/// The summary section: the table of `netlab compare`, with the trace of its runs left out.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    g.step("one note over every transport of the course: round trips, bytes on the wire, time");
    g.say("The exchanges behind this table run with the trace off (each was traced step by step in its own section; here they would be some 10,000 lines, mostly the packets of the bulk transfers): only what they measured is shown.");
    // The runs are silent: the table is the lesson here, not the packets behind it.
    let layers = trace::layers();
    trace::restore(0);
    let measured = measure_all();
    trace::restore(layers);
    let (rows, blocks) = measured.map_err(|(step, e)| g.fail(step, e))?;
    for line in super::table(&rows, BULK).lines() {
        g.say(line);
    }
    if let [first, second, ..] = blocks[..] {
        g.say(&format!(
            "HTTP/2 header block of a GET: {first} bytes; the same GET again: {second} bytes (HPACK)."
        ));
    }
    let rt = |k: Kind| {
        rows.iter()
            .find(|r| r.kind == k)
            .map(|r| r.round_trips)
            .unwrap_or(0)
    };
    if rt(Kind::Http3) >= rt(Kind::Https) {
        return Err(g.fail(
            "round trips",
            "HTTP/3 did not need fewer round trips than HTTPS",
        ));
    }
    g.say("HTTP/1.1 is ASCII over TCP, HTTP/2 binary and multiplexed over TCP, HTTP/3 binary over multiplexed QUIC: `netlab compare --loss 2 --svg hol.svg` shows what one lost packet does to each.");
    rebind(g)
}

/// The rebinding rows, and why ngtcp2's server has none (when it could not run).
type Rebound = (Vec<RebindRow>, Option<String>);

/// Trace lines kept in memory while the rebinding runs, to show only the address change.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The rebinding runs of `netlab compare --rebind`, with their trace captured.
fn rebind_runs(captured: &Captured) -> Result<Rebound, (&'static str, String)> {
    let mut site = Site::start(REBIND_FILE).map_err(|e| ("servers", e.to_string()))?;
    let layers = trace::layers();
    // The relay's lines (l4) and the QUIC server's path events (quic), nothing else.
    trace::restore(trace::parse_spec("l4,quic").unwrap_or(layers));
    trace::capture(Some(Box::new(captured.clone())));
    let measured = rebind::measure_all(&mut site);
    // The servers stop while the capture lasts, so their last lines land in it too, and so
    // do the lines the trace's summary still holds back.
    drop(site);
    std::thread::sleep(Duration::from_millis(100));
    trace::summary_flush();
    trace::capture(None);
    trace::restore(layers);
    measured.map_err(|e| ("rebinding", e.to_string()))
}

/// Of the captured trace, the events about the address change (no packets): what the path
/// did, what each client did about it, and the QUIC server's path validation. The drops
/// at a forgotten mapping are one line per run, with their count.
fn address_events(text: &str) -> Vec<String> {
    let about = ["path", "NAT", "connecting again", "migrated"];
    let mut kept: Vec<String> = Vec::new();
    let mut drops = 0;
    for line in text.lines().filter(|l| l.contains("] · ")) {
        if !about.iter().any(|w| line.contains(w)) {
            continue;
        }
        if line.contains("dropped a server datagram") {
            drops += 1;
            if drops > 1 {
                continue;
            }
        } else if drops > 1 {
            kept.push(format!("  … and {} more like it", drops - 1));
            drops = 0;
        } else {
            drops = 0;
        }
        kept.push(line.to_string());
    }
    if drops > 1 {
        kept.push(format!("  … and {} more like it", drops - 1));
    }
    kept
}

/// The rebinding step: the table of `netlab compare --rebind`, and the trace of the change.
fn rebind(g: &mut Guide) -> Result<(), TourError> {
    g.step(REBIND_STEP);
    g.say(&format!("A {REBIND_FILE}-byte file over HTTPS, HTTP/2 and HTTP/3; once half of it has come down, the path (the relays of this section) plays a NAT that lost the client's mapping: the client now appears from a new port, and what the server still sends to the old one is dropped."));
    let captured = Captured::default();
    let (rows, no_reference) = rebind_runs(&captured).map_err(|(step, e)| g.fail(step, e))?;
    let text = captured
        .0
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    g.say("The trace of the runs, only its events about the address change:");
    for line in address_events(&text) {
        g.say(&line);
    }
    for line in rebind::table(&rows, REBIND_FILE).lines() {
        g.say(line);
    }
    if let Some(why) = no_reference {
        g.say(&format!("No row for ngtcp2's server: {why}"));
    }
    let tcp_reset = rows
        .iter()
        .filter(|r| r.kind.over_tcp())
        .all(|r| !r.survived() && r.with.connections == 2);
    if !tcp_reset {
        return Err(g.fail(
            REBIND_STEP,
            "a TCP connection survived its 4-tuple's change",
        ));
    }
    let quic_followed = rows
        .iter()
        .filter(|r| !r.kind.over_tcp())
        .all(|r| r.with.after_rebind > 0);
    if !quic_followed {
        return Err(g.fail(
            REBIND_STEP,
            "a QUIC connection did not follow the client's new address",
        ));
    }
    g.say("A TCP connection is its 4-tuple: a new port is a new connection, and the old one ends with RST. QUIC's connection IDs name the connection wherever its packets come from: the HTTP/3 servers validated the new address (netlab's with PATH_CHALLENGE and PATH_RESPONSE in the trace above; ngtcp2's runs in its own process, untraced) and sent on to it (bytes after).");
    Ok(())
}
