//! `netlab tour`: every exchange of the course, run on loopback, narrated by the trace.
//!
//! Each section starts its own servers on ephemeral ports (port 0), drives them with
//! netlab's clients, shows what the kernel sees, and stops everything it started. A section
//! fails (and the tour exits 1) as soon as one exchange does not give the expected answer.

use crate::guide::{Guide, Section, TourError};

/// Every section, in the order of the course. Each layer keeps its section in its own
/// `tour.rs`; adding a layer adds one entry here.
pub const SECTIONS: &[Section] = &[
    Section {
        name: "l4",
        title: "[L4] socket programming: echo over TCP and UDP, socket states, who holds a port",
        run: crate::l4::tour::run,
    },
    Section {
        name: "zmq",
        title: "[L7] ZeroMQ: REQ/REP through a ZMTP tap, PUB/SUB with a topic, a pipeline, Lazy Pirate",
        run: crate::zmq::tour::run,
    },
    Section {
        name: "http1",
        title: "[L7] HTTP/1.1: GET, REST, SOAP, https with a local CA, a proxy",
        run: crate::http1::tour::run,
    },
    Section {
        name: "h2",
        title: "[L7] HTTP/2: the same GET in frames, HPACK, multiplexing, push",
        run: crate::http2::tour::run,
    },
    Section {
        name: "grpc",
        title: "[L7] gRPC: unary and streaming calls on HTTP/2, and REST/JSON next to gRPC/protobuf",
        run: crate::grpc::tour::run,
    },
];

/// Runs one section (by name) or all of them. `out` receives the narration.
pub fn run(only: Option<&str>, out: Box<dyn std::io::Write>) -> Result<(), TourError> {
    let chosen: Vec<&Section> = match only {
        None => SECTIONS.iter().collect(),
        Some(name) => match SECTIONS.iter().find(|s| s.name == name) {
            Some(s) => vec![s],
            None => {
                let names: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
                return Err(TourError {
                    section: "tour",
                    step: "choosing a section".into(),
                    reason: format!("no section '{name}': choose one of {}", names.join(", ")),
                });
            }
        },
    };
    let mut guide = Guide::new(out);
    for s in chosen {
        guide.enter(s.name);
        guide.say(&format!("\n=== {}", s.title));
        (s.run)(&mut guide)?;
        guide.say(&format!("=== {}: every exchange succeeded", s.name));
    }
    Ok(())
}
