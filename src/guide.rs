//! What a section of `netlab tour` uses: the [`Guide`] that narrates and names a failed
//! step, the [`TourError`] a failed step returns, and the [`Section`] entry. Each layer's
//! `tour.rs` imports these; the list of sections (`crate::tour`) imports the layers. This
//! file imports no layer, so the two never import each other.
//!
//! The guide also decides what is shown: every step (a pipe, a test: the output as it has
//! always been), every step with a pause before each (a terminal: Enter to go on), or one
//! step (`netlab tour l4 3`), the steps before it run silently to set it up.

use crate::trace;
use std::fmt;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

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

/// A section of the tour: its name (`netlab tour NAME`), a one-line title, its steps (the
/// titles its body gives `Guide::step`, in order), what it will show and what was seen (for
/// a reader on a terminal), and its body.
pub struct Section {
    pub name: &'static str,
    pub title: &'static str,
    pub steps: &'static [&'static str],
    pub intro: &'static str,
    pub summary: [&'static str; 3],
    pub run: fn(&mut Guide) -> Result<(), TourError>,
}

/// What a section uses to narrate and to fail with a clear step name.
pub struct Guide {
    section: &'static str,
    out: Box<dyn std::io::Write>,
    /// The declared steps of the section being run, and how many have begun.
    steps: &'static [&'static str],
    taken: usize,
    /// Show only this step (1-based); the others run silently.
    only: Option<usize>,
    /// On a terminal: where Enter is read from between steps.
    pause: Option<Box<dyn BufRead>>,
    /// The reader typed q: the rest runs silently and the tour ends after this section.
    quit: bool,
    /// Silenced: the trace layers to put back when the guide speaks again.
    muted: Option<u32>,
    /// A step whose title is not the one `Section::steps` declares.
    drift: Option<String>,
}

impl Guide {
    /// Prints a narration line to stdout (the trace goes to stderr).
    pub fn say(&mut self, text: &str) {
        if self.muted.is_some() {
            return;
        }
        // Repeats counted in the trace are summed up before the narration speaks of them.
        trace::summary_flush();
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// A heading for the next step.
    pub fn step(&mut self, title: &str) {
        self.settle();
        self.taken += 1;
        let n = self.taken;
        match self.steps.get(n - 1) {
            Some(declared) if *declared == title => {}
            declared => {
                self.drift.get_or_insert(format!(
                    "step {n} is \"{title}\" but the section's STEPS say {declared:?}"
                ));
            }
        }
        if let Some(k) = self.only {
            self.mute(n != k);
        } else if self.quit {
            self.mute(true);
        } else if n > 1 && self.pause.is_some() {
            self.say(&format!(
                "\n[step {n} of {} next: Enter to go on, q then Enter to stop]",
                self.steps.len()
            ));
            let mut line = String::new();
            let read = self.pause.as_mut().map(|r| r.read_line(&mut line));
            // End of input counts as "go on": a closed stdin never stops the tour.
            if matches!(read, Some(Ok(_))) && line.trim() == "q" {
                self.quit = true;
                self.mute(true);
            }
        }
        if self.pause.is_some() {
            self.say(&format!("\n--- [{n}/{}] {title}", self.steps.len()));
        } else {
            self.say(&format!("\n--- {title}"));
        }
    }

    /// Builds the error for a failed step.
    pub fn fail(&self, step: &str, reason: impl fmt::Display) -> TourError {
        TourError {
            section: self.section,
            step: step.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Lets the step before finish before the next heading: a server thread notices a
    /// close only after the client returned, and its lines belong to the step that closed
    /// it. What the trace held back to sum up is written then (see `trace::summarise`).
    pub fn settle(&mut self) {
        if self.muted.is_none() {
            trace::settle(Duration::from_millis(150), Duration::from_secs(3));
        }
        trace::summary_step();
    }

    fn mute(&mut self, on: bool) {
        match (on, self.muted) {
            (true, None) => {
                self.muted = Some(trace::layers());
                trace::restore(0);
            }
            (false, Some(mask)) => {
                trace::restore(mask);
                self.muted = None;
            }
            _ => {}
        }
    }
}

impl Guide {
    /// A guide that writes its narration to `out`, every step, without pausing.
    pub fn new(out: Box<dyn std::io::Write>) -> Guide {
        Guide {
            section: "",
            out,
            steps: &[],
            taken: 0,
            only: None,
            pause: None,
            quit: false,
            muted: None,
            drift: None,
        }
    }

    /// Pauses before each step until a line (Enter) is read from `input`.
    pub fn pausing(mut self, input: Box<dyn BufRead>) -> Guide {
        self.pause = Some(input);
        self
    }

    /// Shows only step `n` (1-based) of the sections it runs.
    pub fn only_step(mut self, n: usize) -> Guide {
        self.only = Some(n);
        self
    }

    /// Pausing between steps (a reader on a terminal)?
    pub fn is_pausing(&self) -> bool {
        self.pause.is_some()
    }

    /// Did the reader ask to stop?
    pub fn quit(&self) -> bool {
        self.quit
    }

    /// The section being narrated; failures name it.
    pub fn enter(&mut self, section: &Section) {
        self.section = section.name;
        // Each section shows every kind of trace line once again, whatever came before.
        trace::summary_break();
        self.steps = section.steps;
        self.taken = 0;
        self.drift = None;
    }

    /// The section is over: the guide speaks again, and a step that drifted from the
    /// section's declared STEPS is an error (so `--list` cannot lie).
    pub fn leave(&mut self) -> Result<(), TourError> {
        self.mute(false);
        let drift = self.drift.take().or_else(|| {
            (self.only.is_none() && !self.quit && self.taken != self.steps.len()).then(|| {
                format!(
                    "{} steps ran but the section's STEPS name {}",
                    self.taken,
                    self.steps.len()
                )
            })
        });
        match drift {
            Some(reason) => Err(self.fail("the list of steps", reason)),
            None => Ok(()),
        }
    }
}

/// The tour's own temporary directories (keys, certificates), for [`remove_temp_dirs`].
static TEMP_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A directory for a section's files (a CA certificate, a private key), named
/// `netlab-tour-NAME-PID` in the system's temp dir. It is removed when dropped (the section
/// ended, or failed at a `?`), and [`remove_temp_dirs`] removes it when the tour is cut
/// short (`netlab tour | head`, Ctrl-C), so no key is left behind.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> std::io::Result<TempDir> {
        let path = std::env::temp_dir().join(format!("netlab-tour-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        lock_dirs().push(path.clone());
        Ok(TempDir { path })
    }

    /// `file` inside the directory.
    pub fn join(&self, file: &str) -> PathBuf {
        self.path.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        lock_dirs().retain(|p| *p != self.path);
    }
}

fn lock_dirs() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A poisoned list is still the list: a panicking section must not keep its keys.
    TEMP_DIRS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes every [`TempDir`] still there: called on the way out when the tour is cut short
/// and nothing will be dropped (`std::process::exit`).
pub fn remove_temp_dirs() {
    for path in lock_dirs().drain(..) {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Ctrl-C, a closed terminal or `kill` would end the process without a drop: from now on
/// those signals are taken by one thread, which removes the temp dirs and then exits as the
/// signal would have (status 128 + its number). Call it before starting any thread (they
/// inherit the blocked mask; child programs do not, std resets it when it spawns them).
pub fn remove_temp_dirs_on_signals() {
    crate::signals::clean_up_on_signals("tour signals", remove_temp_dirs);
}

/// Runs `f` with the trace off: an exchange a section runs only to measure it (its steps
/// were traced in their own section), so the lesson's own lines are not drowned.
pub fn untraced<T>(f: impl FnOnce() -> T) -> T {
    let layers = trace::layers();
    trace::restore(0);
    let result = f();
    // Lines a server thread writes as its connection closes belong to this run too.
    std::thread::sleep(Duration::from_millis(100));
    trace::restore(layers);
    result
}
