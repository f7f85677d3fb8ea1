//! The last section of `netlab tour`: the course's summary, measured — the same note over
//! every transport, with the round trips, bytes and times of each, as `netlab compare` prints.

use super::exchange::{Kind, Servers};
use crate::guide::{Guide, TourError};

/// The steps of this section, in the order `run` takes them.
pub const STEPS: &[&str] =
    &["one note over every transport of the course: round trips, bytes on the wire, time"];

/// The bulk size here: enough to show the rates, small enough for a tour.
const BULK: usize = 1_000_000;

pub fn run(g: &mut Guide) -> Result<(), TourError> {
    g.step("one note over every transport of the course: round trips, bytes on the wire, time");
    let servers = Servers::start().map_err(|e| g.fail("servers", e))?;
    let mut rows = Vec::new();
    for kind in Kind::ALL {
        rows.push(super::measure(kind, &servers, BULK).map_err(|e| g.fail(kind.name(), e))?);
    }
    for line in super::table(&rows, BULK).lines() {
        g.say(line);
    }
    let blocks = super::h2_header_blocks(&servers).map_err(|e| g.fail("HPACK", e))?;
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
