//! What a section of `netlab tour` uses: the [`Guide`] that narrates and names a failed
//! step, the [`TourError`] a failed step returns, and the [`Section`] entry. Each layer's
//! `tour.rs` imports these; the list of sections (`crate::tour`) imports the layers. This
//! file imports no layer, so the two never import each other.

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

impl Guide {
    /// A guide that writes its narration to `out`.
    pub fn new(out: Box<dyn std::io::Write>) -> Guide {
        Guide { section: "", out }
    }

    /// The section being narrated; failures name it.
    pub fn enter(&mut self, section: &'static str) {
        self.section = section;
    }
}
