//! `netlab tour`: every exchange of the course, run on loopback, narrated by the trace.
//!
//! Each section starts its own servers on ephemeral ports (port 0), drives them with
//! netlab's clients, shows what the kernel sees, and stops everything it started. A section
//! fails (and the tour exits 1) as soon as one exchange does not give the expected answer.

use std::fmt;

/// A step of the tour that did not go as expected.
#[derive(Debug)]
pub struct TourError {
    pub section: &'static str,
    pub step: String,
    pub reason: String,
}

impl fmt::Display for TourError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tour {}: {}: {}", self.section, self.step, self.reason)
    }
}

impl std::error::Error for TourError {}

/// A section of the tour: its name (`netlab tour NAME`), a one-line title, and its body.
pub struct Section {
    pub name: &'static str,
    pub title: &'static str,
    pub run: fn(&mut Guide) -> Result<(), TourError>,
}

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
];

/// What a section uses to narrate and to fail with a clear step name.
pub struct Guide {
    section: &'static str,
    out: Box<dyn std::io::Write>,
}

impl Guide {
    /// Prints a narration line to stdout (the trace goes to stderr).
    pub fn say(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// A heading for the next step.
    pub fn step(&mut self, title: &str) {
        self.say(&format!("\n--- {title}"));
    }

    /// Builds the error for a failed step.
    pub fn fail(&self, step: &str, reason: impl fmt::Display) -> TourError {
        TourError {
            section: self.section,
            step: step.to_string(),
            reason: reason.to_string(),
        }
    }
}

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
    let mut guide = Guide { section: "", out };
    for s in chosen {
        guide.section = s.name;
        guide.say(&format!("\n=== {}", s.title));
        (s.run)(&mut guide)?;
        guide.say(&format!("=== {}: every exchange succeeded", s.name));
    }
    Ok(())
}
