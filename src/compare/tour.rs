//! The last section of `netlab tour`: the course's summary, measured — the same note over
//! every transport, with the round trips, bytes and times of each, as `netlab compare` prints.

use super::exchange::{Kind, Servers};
use crate::guide::{Guide, TourError};
use crate::trace;

/// The steps of this section, in the order `run` takes them.
pub const STEPS: &[&str] =
    &["one note over every transport of the course: round trips, bytes on the wire, time"];

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
    Ok(())
}
