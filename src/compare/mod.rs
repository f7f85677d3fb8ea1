//! The course's summary, measured: the same exchange over every transport, side by side
//! (`netlab compare`), and what a lossy path does to parallel streams over HTTP/1.1, HTTP/2
//! and HTTP/3 (`netlab compare --loss`, [`hol`]), and what a change of the client's address
//! does to a download over each (`netlab compare --rebind`, [`rebind`]).
//!
//! For each transport, on a fresh connection each time:
//! - **round trips before the answer**: the exchange runs again (twice, the fewer counted) on
//!   a path that holds every chunk or datagram back for [`DELAY`] each way, so that each
//!   flight of the client (what it sends before the server answers) stands apart in time;
//!   the relay counts the flights that came before the answer. TCP's SYN/SYN-ACK is answered by the kernel before the relay sees
//!   a byte, so one round trip is added for every TCP transport (and the table says so);
//! - **bytes up and down**: counted by the relay, every byte of TCP payload or UDP datagram,
//!   handshakes included (not the TCP/IP or UDP/IP headers);
//! - **set-up**: until the request left the client: the start of its flight that the answer
//!   came back to (after TCP, TLS, QUIC, or ICE, DTLS, SCTP and DCEP), as the relay saw it;
//! - **answer**: from nothing to the whole answer;
//! - **bulk**: `size` bytes sent and the same bytes back, per second both ways.
//!
//! Two rows are a second visit (HTTPS resumed, HTTP/3 0-RTT): before each of their
//! exchanges, a first visit straight to the server (not through the relay, not timed) leaves
//! a session ticket in the client; the exchange measured, through the relay like every other,
//! is then a GET of the same bytes (the note, the bulk) with that ticket. A GET, because
//! 0-RTT answers only safe methods (RFC 8470); their bulk goes one way only.

pub mod error;
pub mod exchange;
pub mod hol;
pub mod path;
pub mod rebind;
pub mod svg;
pub mod tour;
pub mod transport;

use crate::http2::frame::{HEADER_LEN, PREFACE_LEN};
use exchange::{CompareError, Kind, NOTE, Servers, Timed, exchange};
use path::{TcpPath, UdpPath};
use std::net::SocketAddr;
use std::time::Duration;

/// The delay each way on the measuring path: large against loopback's tens of microseconds,
/// small enough that a table takes seconds.
pub const DELAY: Duration = Duration::from_millis(20);

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub kind: Kind,
    pub round_trips: u32,
    /// Of `round_trips`, the one TCP's handshake costs (0 over UDP).
    pub tcp_handshake: u32,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub setup: Option<Duration>,
    pub answer: Duration,
    /// MB/s, both directions together.
    pub bulk_mb_s: f64,
    pub bulk_bytes: usize,
}

/// The largest gRPC message netlab accepts (4 MiB) less the room protobuf needs.
const GRPC_BULK_MAX: usize = crate::grpc::wire::MAX_MESSAGE - 64;

/// A relay of the right kind for `kind`, in front of `target`.
enum Path {
    Tcp(TcpPath),
    Udp(UdpPath),
}

impl Path {
    fn start(kind: Kind, target: SocketAddr, delay: Duration) -> Result<Path, CompareError> {
        let e = |x: std::io::Error| CompareError::Relay {
            kind,
            error: x.to_string(),
        };
        Ok(if kind.over_tcp() {
            Path::Tcp(TcpPath::start(target, delay).map_err(e)?)
        } else {
            Path::Udp(UdpPath::start(target, delay).map_err(e)?)
        })
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Path::Tcp(p) => p.addr(),
            Path::Udp(p) => p.addr(),
        }
    }

    fn counts(&self) -> &path::Counts {
        match self {
            Path::Tcp(p) => &p.counts,
            Path::Udp(p) => &p.counts,
        }
    }
}

/// The bytes of the bulk transfer: printable, so that gRPC's string field takes them too.
pub fn bulk_body(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// One exchange of `body` through a path with `delay` each way: its timing and the path.
fn one(
    kind: Kind,
    servers: &Servers,
    delay: Duration,
    body: &[u8],
    text: bool,
) -> Result<(Timed, Path), CompareError> {
    if kind == Kind::WebRtc {
        return exchange::webrtc_exchange(body, text, |real| {
            let p = Path::start(kind, real, delay)?;
            let addr = p.addr();
            Ok((p, addr))
        });
    }
    let path = Path::start(kind, servers.addr(kind)?, delay)?;
    let timed = exchange(kind, path.addr(), servers, body)?;
    Ok((timed, path))
}

/// The largest bulk size every server compared accepts: the smallest of their body limits,
/// the HTTP/1.1 server's 8 MiB (HTTP/2's and HTTP/3's are 64 MiB; gRPC's messages are
/// capped apart, `GRPC_BULK_MAX`). A larger body would be refused, and the client find
/// the connection closed under its upload.
pub fn max_bulk() -> usize {
    let http1 = crate::http1::server::Config::default().max_body;
    let http2 = crate::http2::server::Config::default().max_body;
    let http3 = crate::quic::server::Config::default().max_body;
    http1.min(http2).min(http3)
}

/// Refuses a bulk size over [`max_bulk`] before any server starts.
pub fn check_size(size: usize) -> Result<(), CompareError> {
    let max = max_bulk();
    if size > max {
        return Err(CompareError::TooLarge { size, max });
    }
    Ok(())
}

/// Measures one transport.
pub fn measure(kind: Kind, servers: &Servers, size: usize) -> Result<Row, CompareError> {
    check_size(size)?;
    let note = NOTE.as_bytes();
    // Bytes, set-up and answer on a plain path (after one warm-up, so no first-use costs of
    // this process — thread pools, caches — land in one transport's row).
    one(kind, servers, Duration::ZERO, note, true)?;
    let (timed, plain) = one(kind, servers, Duration::ZERO, note, true)?;
    // When this exchange started: its end less its answer time.
    let t_plain = timed.ended - timed.answer;
    // Wait for the last bytes (a FIN, a CONNECTION_CLOSE) to pass before reading the counts.
    std::thread::sleep(Duration::from_millis(100));
    let (bytes_up, bytes_down) = (plain.counts().up(), plain.counts().down());
    let plain_flights = plain.counts().flights();
    drop(plain);
    // Round trips: the fewest of two runs. A busy machine can only add time, so a flight
    // can look waited-on when it was not, never the reverse.
    let through_relay = round_trips(kind, servers, note)?.min(round_trips(kind, servers, note)?);
    // Set-up, the same measure for every transport: until the request left the client, i.e.
    // the start of its flight number `through_relay` (the one the answer came back to), as
    // the relay saw it on the plain path.
    // Without the delay some flights merge (libzmq's greeting stages then go together): the
    // request is then the last flight before the answer.
    let answered_plain = timed.ended;
    let setup = through_relay
        .checked_sub(1)
        .and_then(|k| plain_flights.get(k as usize))
        .or_else(|| plain_flights.iter().rfind(|&&f| f <= answered_plain))
        .map(|f| f.saturating_duration_since(t_plain))
        .or(timed.setup);
    let tcp_handshake = u32::from(kind.over_tcp());
    // Bulk.
    let bulk_bytes = if kind == Kind::Grpc {
        size.min(GRPC_BULK_MAX)
    } else {
        size
    };
    let body = bulk_body(bulk_bytes);
    let (bulk, _path) = one(kind, servers, Duration::ZERO, &body, false)?;
    // A second visit GETs its bulk: one way only.
    let ways = if kind.second_visit() { 1.0 } else { 2.0 };
    let bulk_mb_s = ways * bulk_bytes as f64 / 1e6 / bulk.answer.as_secs_f64().max(1e-9);
    Ok(Row {
        kind,
        round_trips: through_relay + tcp_handshake,
        tcp_handshake,
        bytes_up,
        bytes_down,
        setup,
        answer: timed.answer,
        bulk_mb_s,
        bulk_bytes,
    })
}

/// The client's flights before the answer, on a path with every chunk held back DELAY each
/// way. Each flight that reached the relay at least 1.5 DELAY before the answer was complete
/// was one the client waited on (its reply had yet to come back, 2 DELAY); those sent later
/// (acknowledgements of the answer, a close) were not.
fn round_trips(kind: Kind, servers: &Servers, note: &[u8]) -> Result<u32, CompareError> {
    let (delayed, slow) = one(kind, servers, DELAY, note, true)?;
    // QUIC's client returns once its connection is closed, and after an answer that came
    // in 0-RTT it first waits for the server to acknowledge its Finished: a round trip that
    // is not the answer's. There the answer's time is counted from the first packet, which
    // the relay saw arrive (its first flight).
    let flights = slow.counts().flights();
    let answered = delayed
        .from_first_packet
        .and_then(|d| flights.first().map(|&f| f + d))
        .unwrap_or(delayed.ended);
    Ok(flights
        .iter()
        .filter(|&&f| f + DELAY + DELAY / 2 <= answered)
        .count() as u32)
}

/// HPACK at work, counted off the wire: the header block sizes of two identical GETs on one
/// HTTP/2 connection (h2c, so the relay can read the frames).
pub fn h2_header_blocks(servers: &Servers) -> Result<Vec<usize>, CompareError> {
    let e = |x: &dyn std::fmt::Display| CompareError::HeaderBlocks(x.to_string());
    let path = TcpPath::recording(servers.http2c.addr()).map_err(|x| e(&x))?;
    let url = crate::http::uri::Url::parse(&format!("http://{}/status/200", path.addr()))
        .map_err(|x| e(&x))?;
    let requests = vec![
        crate::http2::client::Outgoing::get(url.clone()),
        crate::http2::client::Outgoing::get(url),
    ];
    let opts = crate::http2::client::Options {
        h2c: true,
        ..Default::default()
    };
    for r in crate::http2::client::fetch(requests, &opts).map_err(|x| e(&x))? {
        r.map_err(|x| e(&x))?;
    }
    std::thread::sleep(Duration::from_millis(50));
    let bytes = path.counts.recorded();
    // The client preface (RFC 9113 §3.4), then frames: 9-byte headers, HEADERS = type 1.
    let mut at = PREFACE_LEN.min(bytes.len());
    let mut blocks = Vec::new();
    while let Some(h) = bytes.get(at..).and_then(crate::http2::frame::Header::parse) {
        if h.kind == crate::http2::frame::kind::HEADERS {
            blocks.push(h.length as usize);
        }
        at += HEADER_LEN + h.length as usize;
    }
    Ok(blocks)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// The table as text, for a terminal.
pub fn table(rows: &[Row], size: usize) -> String {
    let mut out = format!(
        "{:<26} {:>11} {:>9} {:>9} {:>10} {:>10} {:>10}\n",
        "transport", "round trips", "bytes up", "bytes dn", "set-up ms", "answer ms", "bulk MB/s"
    );
    for r in rows {
        let rt = if r.tcp_handshake > 0 {
            format!("{} (1 TCP)", r.round_trips)
        } else {
            r.round_trips.to_string()
        };
        let setup = r.setup.map(ms).unwrap_or_else(|| "—".into());
        let bulk = if r.bulk_bytes != size {
            format!("{:.1}*", r.bulk_mb_s)
        } else {
            format!("{:.1}", r.bulk_mb_s)
        };
        out.push_str(&format!(
            "{:<26} {:>11} {:>9} {:>9} {:>10} {:>10} {:>10}\n",
            r.kind.name(),
            rt,
            r.bytes_up,
            r.bytes_down,
            setup,
            ms(r.answer),
            bulk
        ));
    }
    out.push_str(&format!(
        "\nOne {}-byte JSON note on a fresh connection; bytes counted by a relay (payload: TCP \
         bytes or UDP datagrams, handshakes included). Round trips: the client's flights before the answer, counted on a path with {} ms \
         added each way; \"(1 TCP)\": the SYN round trip, answered by the kernel before a relay sees \
         it. Bulk: {size} bytes there and back.",
        NOTE.len(),
        DELAY.as_millis()
    ));
    if rows.iter().any(|r| r.bulk_bytes != size) {
        out.push_str(&format!(
            " *gRPC: {} bytes, its largest message (4 MiB).",
            GRPC_BULK_MAX
        ));
    }
    if rows.iter().any(|r| r.kind.second_visit()) {
        out.push_str(
            " Resumed, 0-RTT: a second visit, with the ticket of a first one (not counted); \
             the note and the bulk are fetched with a GET (0-RTT answers only safe methods), \
             so nothing goes up but the request and the bulk goes one way.",
        );
    }
    out.push('\n');
    out
}

/// The table as JSON, for scripts.
pub fn json(rows: &[Row], size: usize) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "transport": r.kind.name(),
                "round_trips": r.round_trips,
                "tcp_handshake_round_trips": r.tcp_handshake,
                "bytes_up": r.bytes_up,
                "bytes_down": r.bytes_down,
                "setup_ms": r.setup.map(|d| d.as_secs_f64() * 1000.0),
                "answer_ms": r.answer.as_secs_f64() * 1000.0,
                "bulk_mb_per_s": r.bulk_mb_s,
                "bulk_bytes": r.bulk_bytes,
                "second_visit": r.kind.second_visit(),
            })
        })
        .collect();
    serde_json::json!({
        "note_bytes": NOTE.len(),
        "delay_ms_each_way": DELAY.as_millis() as u64,
        "bulk_bytes": size,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bulk_limit_is_the_smallest_body_limit() {
        // `netlab compare --help` states this number.
        assert_eq!(max_bulk(), 8 << 20);
        assert_eq!(check_size(8 << 20), Ok(()));
        assert_eq!(
            check_size(20_000_000),
            Err(CompareError::TooLarge {
                size: 20_000_000,
                max: 8 << 20
            })
        );
    }
}
