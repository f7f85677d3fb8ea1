//! `netlab tour`: every exchange of the course, run on loopback, narrated by the trace.
//!
//! Each section starts its own servers on ephemeral ports (port 0), drives them with
//! netlab's clients, shows what the kernel sees, and stops everything it started. A section
//! fails (and the tour exits 1) as soon as one exchange does not give the expected answer.
//!
//! On a terminal the guide pauses before each step, and each section opens with what it will
//! show and closes with three lines on what was seen; through a pipe (and in tests) the
//! narration runs straight through, as it always has. `netlab tour --list` prints the
//! sections and their steps; `netlab tour SECTION STEP` shows one step.

use crate::guide::{Guide, Section, TourError};
use crate::trace;

/// Every section, in the order of the course. Each layer keeps its section in its own
/// `tour.rs` (its body and its list of steps); adding a layer adds one entry here.
pub const SECTIONS: &[Section] = &[
    Section {
        name: "l4",
        title: "[L4] socket programming: echo over TCP and UDP, socket states, who holds a port",
        steps: crate::l4::tour::STEPS,
        intro: "A TCP echo server and client: the socket calls, the states the kernel shows for both ends (LISTEN, ESTABLISHED, TIME-WAIT), who holds a port, the Python echo pair, and UDP for contrast.",
        summary: [
            "TCP gave a byte stream: connect, write, read until every byte came back, close.",
            "The side that closed first kept its end in TIME-WAIT; the listener stayed in LISTEN.",
            "UDP kept each datagram whole, with no connection and no states at all.",
        ],
        run: crate::l4::tour::run,
    },
    Section {
        name: "zmq",
        title: "[L7] ZeroMQ: REQ/REP through a ZMTP tap, PUB/SUB with a topic, a pipeline, Lazy Pirate",
        steps: crate::zmq::tour::STEPS,
        intro: "ZeroMQ's patterns over TCP, with a tap that decodes ZMTP between the peers: REQ/REP and its envelope, PUB/SUB with topics, a PUSH/PULL pipeline, and a client that retries (Lazy Pirate).",
        summary: [
            "ZMTP opened each connection with a greeting and a READY command naming the socket type.",
            "Each message went as frames with a MORE flag; REQ/REP kept strict turns, PUB/SUB filtered by prefix.",
            "PUSH shared tasks out fairly among workers; Lazy Pirate gave up after its retries, by design.",
        ],
        run: crate::zmq::tour::run,
    },
    Section {
        name: "http1",
        title: "[L7] HTTP/1.1: GET, REST, SOAP, https with a local CA, a proxy",
        steps: crate::http1::tour::STEPS,
        intro: "One HTTP/1.1 site: a GET, the notes over REST and over SOAP, the same over TLS with a certificate from a local CA, and a forward proxy in between.",
        summary: [
            "A request was a request line, header fields, an empty line and a body its framing delimits.",
            "REST put the operation in the method and the URI; SOAP put it in an envelope POSTed to one URI.",
            "TLS wrapped the same bytes after a handshake; the proxy removed hop-by-hop fields and added Via.",
        ],
        run: crate::http1::tour::run,
    },
    Section {
        name: "h2",
        title: "[L7] HTTP/2: the same GET in frames, HPACK, multiplexing, push",
        steps: crate::http2::tour::STEPS,
        intro: "The same site over HTTP/1.1 and HTTP/2 side by side: the bytes of one GET, HPACK's dynamic table over ten GETs, streams that overtake a slow one, and server push.",
        summary: [
            "HTTP/2 sent the same request as binary frames (HEADERS, DATA) on numbered streams.",
            "HPACK made repeated header fields a byte or two each, through its dynamic table.",
            "Fast responses overtook a slow one on the same connection; push sent resources unasked.",
        ],
        run: crate::http2::tour::run,
    },
    Section {
        name: "grpc",
        title: "[L7] gRPC: unary and streaming calls on HTTP/2, and REST/JSON next to gRPC/protobuf",
        steps: crate::grpc::tour::STEPS,
        intro: "gRPC on HTTP/2: the four kinds of call of netlab.Exchange, a status for an unknown method, and one operation as REST/JSON next to gRPC/protobuf.",
        summary: [
            "Each gRPC message travelled length-prefixed in DATA frames; the status came in the trailers.",
            "Streams ran each way, one way at a time or in turns, on one HTTP/2 stream per call.",
            "Errors were statuses (UNIMPLEMENTED), and protobuf was about half the size of the JSON.",
        ],
        run: crate::grpc::tour::run,
    },
    Section {
        name: "h3",
        title: "[L7] HTTP/3 over QUIC: a handshake with Retry, parallel streams, the same GETs over HTTP/1.1 and HTTP/2",
        steps: crate::quic::tour::STEPS,
        intro: "HTTP/3 on QUIC over UDP, driven by one blocking socket loop: a handshake that starts with a Retry, four resources as streams of one connection, and the same four over HTTP/1.1 and HTTP/2 on TLS.",
        summary: [
            "The Retry made the client prove its address with a token before the server kept any state.",
            "QUIC's handshake carried TLS 1.3 itself: transport and encryption in one round trip.",
            "Every request had a stream of its own; the slow one held back no other.",
        ],
        run: crate::quic::tour::run,
    },
    Section {
        name: "webrtc",
        title: "[L7] WebRTC: a data channel from its pieces, SDP, ICE-lite, DTLS, SCTP and DCEP",
        steps: crate::webrtc::tour::STEPS,
        intro: "Two Rust peers in this process, one offering and one answering over loopback UDP: the SDP they exchange, the ICE check, the DTLS handshake, the SCTP association and DCEP's OPEN and ACK, then messages of every kind.",
        summary: [
            "SDP carried the ICE credentials, the certificate fingerprint and the DTLS role; nothing else.",
            "One UDP socket carried STUN, then DTLS, then SCTP inside DTLS, told apart by the first byte.",
            "A channel was an SCTP stream opened with DCEP; big messages went as several DATA chunks.",
        ],
        run: crate::webrtc::tour::run,
    },
    Section {
        name: "compare",
        title: "[summary] information exchange side by side: one note over every transport",
        steps: crate::compare::tour::STEPS,
        intro: "The course's summary, measured: the same small JSON note over TCP, ZeroMQ, HTTP/1.1, HTTPS, HTTP/2, gRPC, HTTP/3 and a WebRTC data channel, each on a fresh connection, with the round trips before the answer, the bytes each way, and the times; then a download over HTTPS, HTTP/2 and HTTP/3 while the client's address changes.",
        summary: [
            "Each layer on top of TCP added bytes and, with TLS, a round trip before the first answer.",
            "QUIC carried TLS in its own handshake: HTTP/3 answered after fewer round trips than HTTPS.",
            "HPACK made a repeated HTTP/2 request smaller than the first.",
        ],
        run: crate::compare::tour::run,
    },
];

/// The section called `name`, or a sentence naming the ones there are.
pub fn find(name: &str) -> Result<&'static Section, String> {
    SECTIONS.iter().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
        format!(
            "no section '{name}': choose one of {} (netlab tour --list)",
            names.join(", ")
        )
    })
}

/// The longest section name: the column the titles start after, in `--list` and `--help`.
pub fn name_width() -> usize {
    SECTIONS.iter().map(|s| s.name.len()).max().unwrap_or(0)
}

/// The sections and their numbered steps, for `netlab tour --list`.
pub fn list() -> String {
    let mut out = String::new();
    let width = name_width();
    for s in SECTIONS {
        out.push_str(&format!("{:<width$} {}\n", s.name, s.title));
        for (i, step) in s.steps.iter().enumerate() {
            out.push_str(&format!("  {:>2}  {step}\n", i + 1));
        }
    }
    out
}

/// Runs one section (by name) or all of them, narrated by `guide`.
pub fn run(only: Option<&str>, guide: &mut Guide) -> Result<(), TourError> {
    let chosen: Vec<&Section> = match only {
        None => SECTIONS.iter().collect(),
        Some(name) => vec![find(name).map_err(|reason| TourError {
            section: "",
            step: "choosing a section".into(),
            reason,
        })?],
    };
    // Each kind of trace line is shown once per step, its repeats summed up (trace.rs).
    trace::summarise(true);
    let result = run_sections(&chosen, guide);
    trace::summarise(false);
    result
}

fn run_sections(chosen: &[&'static Section], guide: &mut Guide) -> Result<(), TourError> {
    for &s in chosen {
        guide.enter(s);
        guide.say(&format!("\n=== {}", s.title));
        if guide.is_pausing() {
            guide.say(&format!("This section shows: {}", s.intro));
        }
        (s.run)(guide)?;
        guide.settle();
        guide.leave()?;
        guide.say(&format!("=== {}: every exchange succeeded", s.name));
        if guide.is_pausing() {
            guide.say("What was seen:");
            for line in s.summary {
                guide.say(&format!("  · {line}"));
            }
        }
        if guide.quit() {
            break;
        }
    }
    Ok(())
}
