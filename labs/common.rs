//! What every lab check shares: numbered steps, a report that names the step that failed,
//! and a watchdog so that a handler that hangs fails the check instead of hanging it.
//!
//! Besides the narrative on stdout, a check can write its result for an autograder:
//! `--junit FILE` (JUnit XML, GitHub Classroom) and `--json FILE` (Gradescope's
//! results.json), one test case per step with its failure message. `--serve [ADDR]` serves
//! the lab's handler on a port instead of checking it (`make serve LAB=NN`).
//!
//! The watchdog stands down when the check runs under a debugger (`TracerPid` is not 0 in
//! /proc/self/status) or when `NETLAB_NO_WATCHDOG=1`: a breakpoint is not a hang.

#![allow(dead_code)] // each check uses only some of these helpers

use std::io::Read;
use std::net::TcpStream;
use std::process;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the watchdog runs before it exits, once a check has said (see
/// [`Check::clean_up_on_timeout`]).
type Cleanup = Arc<Mutex<Option<fn()>>>;

pub struct Check {
    current: Arc<AtomicUsize>,
    report: Arc<Mutex<Report>>,
    serving: Option<Option<String>>,
    /// What the watchdog runs before it exits (exit runs no drops): see
    /// [`Check::clean_up_on_timeout`].
    cleanup: Cleanup,
}

/// What happened so far, for the summary and the JUnit / JSON files.
struct Report {
    lab: String,
    subject: String,
    steps: Vec<StepResult>,
    junit: Option<String>,
    json: Option<String>,
    started: Instant,
}

struct StepResult {
    title: String,
    failure: Option<String>,
    /// The step could not run here (and why): not passed, not failed, and the lab not
    /// fully passed either. See [`Check::cannot_run`].
    not_run: Option<String>,
    seconds: f64,
}

/// Which file a check drives: the student's, the reference, or one of the lab's known wrong
/// solutions (`labs/NN-topic/wrong/NAME.rs`, which `make test` proves the check fails).
/// `W` names the wrong solution: the lab's `WrongName` (see [`wrong_solutions!`]), or its
/// file name for a check that still lists its wrong solutions by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject<W> {
    Student,
    Solution,
    Wrong(W),
}

/// One known wrong solution of a lab, `wrong/NAME.rs`: the steps its check must fail on it
/// (tests/labs.rs asserts exactly these) and the mistake it makes, in one line.
#[derive(Clone, Copy, Debug)]
pub struct Wrong<W: 'static> {
    pub id: W,
    pub name: &'static str,
    pub fails: &'static [usize],
    pub mistake: &'static str,
}

/// The source text of the file a check drives (the student's, the solution, or a wrong one),
/// so a step can look at what it calls: a lab's answer is written, not borrowed from netlab.
/// `student` is the student's file, relative to the project (`labs/03-chunked/decoder.rs`).
pub fn source_of<W: Copy + PartialEq>(
    student: &str,
    subject: &Subject<W>,
    wrong: &[Wrong<W>],
) -> String {
    let dir = student.rsplit_once('/').map_or("", |(d, _)| d);
    let file = match subject {
        Subject::Student => student.to_string(),
        Subject::Solution => format!("{dir}/solution.rs"),
        Subject::Wrong(id) => {
            let name = wrong.iter().find(|w| w.id == *id).map_or("", |w| w.name);
            format!("{dir}/wrong/{name}.rs")
        }
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&file);
    std::fs::read_to_string(&path).unwrap_or_default()
}

/// The one list of a lab's wrong solutions, written once at the top of its check.rs:
///
/// ```ignore
/// common::wrong_solutions! {
///     fn handler(m) -> Handler { m::handle }            // how to get the parts from a file `m`
///     student handler, solution solution;               // the modules of the two other files
///     limit_1000 fails [7]: "cuts a line at 1000 bytes"; // wrong/limit_1000.rs
/// }
/// ```
///
/// It declares `mod wrong { pub mod limit_1000; … }` (the files `wrong/NAME.rs` beside the
/// check, which is a crate root), an enum `WrongName` with one variant per file, the table
/// `WRONG` that `Check::start` takes, and `fn handler(&Subject<WrongName>) -> Handler`,
/// whose `match` has one arm per file and no catch-all: a file missing from the list does
/// not compile into the check, and a name not in it is a usage error (exit 2).
/// `--list-wrong` prints the table; tests/labs.rs compares it with the folder.
macro_rules! wrong_solutions {
    (
        fn $pick:ident($m:ident) -> $ty:ty $body:block
        student $student:ident, solution $solution:ident;
        $( $name:ident fails [$($step:literal),+ $(,)?]: $mistake:literal; )+
    ) => {
        /// The lab's known wrong solutions, one file each (`wrong/NAME.rs`).
        mod wrong {
            $( pub mod $name; )+
        }

        /// One variant per file of `wrong/`.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum WrongName {
            $( $name, )+
        }

        /// What each wrong solution gets wrong and the steps the check must fail on it.
        const WRONG: &[$crate::common::Wrong<WrongName>] = &[
            $( $crate::common::Wrong {
                id: WrongName::$name,
                name: stringify!($name),
                fails: &[$($step),+],
                mistake: $mistake,
            }, )+
        ];

        /// The parts under test, taken from the file the check drives.
        fn $pick(subject: &$crate::common::Subject<WrongName>) -> $ty {
            match subject {
                $crate::common::Subject::Student => {
                    use $student as $m;
                    $body
                }
                $crate::common::Subject::Solution => {
                    use $solution as $m;
                    $body
                }
                $( $crate::common::Subject::Wrong(WrongName::$name) => {
                    use wrong::$name as $m;
                    $body
                } )+
            }
        }
    };
}
pub(crate) use wrong_solutions;

/// What `Check::start` accepts as the lab's wrong solutions: the table of
/// [`wrong_solutions!`].
pub trait WrongList {
    type Id: Clone;
    /// (name, steps it must fail, the mistake), in the order listed.
    fn rows(&self) -> Vec<(&'static str, &'static [usize], &'static str)>;
    /// The wrong solution called `name`, if there is one.
    fn find(&self, name: &str) -> Option<Self::Id>;
}

impl<W: Copy + 'static> WrongList for &[Wrong<W>] {
    type Id = W;
    fn rows(&self) -> Vec<(&'static str, &'static [usize], &'static str)> {
        self.iter().map(|w| (w.name, w.fails, w.mistake)).collect()
    }
    fn find(&self, name: &str) -> Option<W> {
        self.iter().find(|w| w.name == name).map(|w| w.id)
    }
}

/// `--list-wrong`: one line per wrong solution, `NAME<TAB>STEPS<TAB>MISTAKE` (steps joined
/// by commas), the lines tests/labs.rs reads.
fn list_wrong(rows: &[(&str, &[usize], &str)]) -> ! {
    for (name, fails, mistake) in rows {
        let steps: Vec<String> = fails.iter().map(|s| s.to_string()).collect();
        println!("{name}\t{}\t{mistake}", steps.join(","));
    }
    process::exit(0)
}

/// The value after `--name` on the command line, or exit 2 naming the flag.
fn value_of(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    match args.get(i + 1) {
        Some(v) if !v.starts_with("--") => Some(v.clone()),
        _ => {
            eprintln!("error: {name} needs a file name");
            process::exit(2);
        }
    }
}

/// The watchdog's thread: after `limit`, unless a debugger attached meanwhile, the step
/// running (`current`) fails as stuck, the files are written, `cleanup` runs (exit runs no
/// drops), and the process exits 1.
fn watchdog(
    limit: Duration,
    current: Arc<AtomicUsize>,
    report: Arc<Mutex<Report>>,
    cleanup: Cleanup,
) {
    thread::spawn(move || {
        thread::sleep(limit);
        if traced() {
            return; // a debugger attached meanwhile: a breakpoint is not a hang
        }
        let n = current.load(Ordering::SeqCst);
        let why = format!(
            "still running after {} s: the handler seems stuck (does it wait for input that never comes?)",
            limit.as_secs()
        );
        println!("  ✗ step {n}: {why}");
        let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
        let title = format!("step {n} (did not finish)");
        r.steps.push(StepResult {
            title,
            failure: Some(why),
            not_run: None,
            seconds: limit.as_secs_f64(),
        });
        r.write_files();
        if let Some(clean) = cleanup.lock().ok().and_then(|c| *c) {
            clean();
        }
        process::exit(1);
    });
}

/// Is a debugger attached to this process (`TracerPid:` in /proc/self/status, Linux)?
pub fn traced() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("TracerPid:").map(|v| v.trim() != "0"))
        })
        .unwrap_or(false)
}

/// The watchdog was told to stand down (`NETLAB_NO_WATCHDOG=1`).
fn watchdog_off() -> bool {
    std::env::var("NETLAB_NO_WATCHDOG").is_ok_and(|v| !v.is_empty() && v != "0")
}

impl Check {
    /// Starts a check. On the command line, `--solution` checks the reference instead of the
    /// student's file, and `--wrong NAME` one of the wrong solutions named in `wrong`
    /// (`make check LAB=04 WRONG=etag_unquoted`); `--junit FILE` and `--json FILE` also write
    /// the result there; `--serve [ADDR]` serves instead of checking (see [`Check::serve`]);
    /// `--list-wrong` prints the table of wrong solutions and exits.
    /// Returns the check and which file it drives.
    pub fn start<L: WrongList>(
        lab: &str,
        student_file: &str,
        wrong: L,
        limit: Duration,
    ) -> (Check, Subject<L::Id>) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--list-wrong") {
            list_wrong(&wrong.rows());
        }
        let subject = match args.iter().position(|a| a == "--wrong") {
            Some(i) => match args.get(i + 1).and_then(|n| wrong.find(n)) {
                Some(id) => Subject::Wrong(id),
                None => {
                    let names: Vec<&str> = wrong.rows().iter().map(|r| r.0).collect();
                    eprintln!(
                        "error: --wrong needs one of: {} (got {}); --list-wrong says what each gets wrong",
                        names.join(", "),
                        args.get(i + 1)
                            .map_or("nothing".to_string(), |n| format!("'{n}'"))
                    );
                    process::exit(2);
                }
            },
            None if args.iter().any(|a| a == "--solution") => Subject::Solution,
            None => Subject::Student,
        };
        let serving = args
            .iter()
            .position(|a| a == "--serve")
            .map(|i| args.get(i + 1).filter(|v| !v.starts_with("--")).cloned());
        // `NETLAB_TRACE=l4 make check LAB=01` shows the trace (labs/README.md promises it).
        let _ = netlab::trace::enable_from_env();
        let dir = student_file.rsplit_once('/').map_or("", |(d, _)| d);
        let which = match (&subject, args.iter().position(|a| a == "--wrong")) {
            (Subject::Student, _) => student_file.to_string(),
            (Subject::Solution, _) => "the reference solution".to_string(),
            (Subject::Wrong(_), i) => {
                let name = i.and_then(|i| args.get(i + 1)).cloned().unwrap_or_default();
                format!("{dir}/wrong/{name}.rs (a known wrong solution)")
            }
        };
        let report = Arc::new(Mutex::new(Report {
            lab: lab.to_string(),
            subject: which.clone(),
            steps: Vec::new(),
            junit: value_of(&args, "--junit"),
            json: value_of(&args, "--json"),
            started: Instant::now(),
        }));
        let current = Arc::new(AtomicUsize::new(0));
        let cleanup: Cleanup = Arc::new(Mutex::new(None));
        if serving.is_some() {
            println!("lab {lab}: serving {which}");
        } else {
            println!("lab {lab}: checking {which}");
            // The watchdog: a check never runs longer than `limit`, unless a debugger holds it.
            if traced() || watchdog_off() {
                println!("  (no time limit: under a debugger, or NETLAB_NO_WATCHDOG is set)");
            } else {
                watchdog(limit, current.clone(), report.clone(), cleanup.clone());
            }
        }
        (
            Check {
                current,
                report,
                serving,
                cleanup,
            },
            subject,
        )
    }

    /// The address to listen on: `--serve ADDR` if given, else `default` while serving and
    /// a port the kernel picks while checking.
    pub fn listen_addr(&self, default: &str) -> String {
        match &self.serving {
            Some(Some(addr)) => addr.clone(),
            Some(None) => default.to_string(),
            None => "127.0.0.1:0".to_string(),
        }
    }

    /// Serving (`--serve`) rather than checking.
    pub fn serving(&self) -> bool {
        self.serving.is_some()
    }

    /// The HTTP server's settings: one connection at a time on one thread while serving,
    /// so that a debugger's breakpoint in the handler stops the thread that accepted.
    pub fn http_config(&self) -> netlab::http1::server::Config {
        netlab::http1::server::Config {
            threads: if self.serving() {
                netlab::l4::accept::Threads::Serial
            } else {
                netlab::l4::accept::Threads::PerConnection
            },
            ..Default::default()
        }
    }

    /// With `--serve`: says where the handler is served and how to try it, then serves until
    /// Ctrl-C (the server runs in its own thread). Without it: returns at once.
    pub fn serve(&self, url: &str, try_it: &[&str]) {
        if self.serving.is_none() {
            return;
        }
        println!("listening on {url}");
        println!("try it from another terminal:");
        for line in try_it {
            println!("  {line}");
        }
        println!("stop with Ctrl-C; to step through your handler, see docs/debugging.md");
        loop {
            thread::park();
        }
    }

    /// With `--serve`, for a lab that has no handler a client can call: says so, what to
    /// run instead (`instead`, one command a line) and how to step through the check, then
    /// exits 2 (a usage error). Without it: returns at once.
    pub fn nothing_to_serve(&self, what: &str, instead: &[&str]) {
        if self.serving.is_none() {
            return;
        }
        let (lab, id) = self.lab_and_id();
        eprintln!("error: lab {lab} has no handler a client can call ({what}); instead:");
        for line in instead {
            eprintln!("  {line}");
        }
        eprintln!(
            "  or step through the check itself: cargo build --example lab{id} && rust-gdb -x scripts/debug/netlab.gdb --args target/debug/examples/lab{id} (see docs/debugging.md)"
        );
        process::exit(2);
    }

    /// The lab's title (`07 (HPACK: …)`) and number (`07`).
    fn lab_and_id(&self) -> (String, String) {
        let lab = self
            .report
            .lock()
            .map(|r| r.lab.clone())
            .unwrap_or_default();
        let id = lab.split(' ').next().unwrap_or_default().to_string();
        (lab, id)
    }

    /// Runs one numbered step. A step fails with a sentence that says what went wrong.
    pub fn step(&mut self, title: &str, body: impl FnOnce() -> Result<(), String>) {
        if self.serving.is_some() {
            // This lab called neither `serve` nor `nothing_to_serve` before its steps.
            let (lab, id) = self.lab_and_id();
            eprintln!(
                "error: lab {lab} has no handler a client can call: step through the check itself instead: cargo build --example lab{id} && rust-gdb -x scripts/debug/netlab.gdb --args target/debug/examples/lab{id} (see docs/debugging.md)"
            );
            process::exit(2);
        }
        let n = self.current.load(Ordering::SeqCst) + 1;
        self.current.store(n, Ordering::SeqCst);
        let began = Instant::now();
        let result = body();
        let seconds = began.elapsed().as_secs_f64();
        netlab::signals::wait_if_taken(); // a step that failed because Ctrl-C cleaned up
        match &result {
            Ok(()) => println!("  ✓ step {n}: {title}"),
            Err(why) => println!("  ✗ step {n}: {title}\n      {why}"),
        }
        if let Ok(mut r) = self.report.lock() {
            r.steps.push(StepResult {
                title: title.to_string(),
                failure: result.err(),
                not_run: None,
                seconds,
            });
        }
    }

    /// A step this machine cannot run (`why`: what it needs, and how to get it): numbered
    /// like the others, marked `–` and "not run", and the lab is not passed while one is
    /// left (the summary says which, the exit status is 1). Under `CI=true` it is a failure
    /// instead, as a missing peer is in the tests: a grader must not take "not run" for
    /// "passed".
    pub fn cannot_run(&mut self, title: &str, why: &str) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            let why = format!("{why}\n      (CI=true: a step that cannot run is a failure)");
            return self.step(title, || Err(why));
        }
        let n = self.current.load(Ordering::SeqCst) + 1;
        self.current.store(n, Ordering::SeqCst);
        println!("  – step {n}: {title}\n      not run: {why}");
        if let Ok(mut r) = self.report.lock() {
            r.steps.push(StepResult {
                title: title.to_string(),
                failure: None,
                not_run: Some(why.to_string()),
                seconds: 0.0,
            });
        }
    }

    /// Has `f` run before the watchdog exits (`exit` runs no drops): for a check that makes
    /// something outside its process, such as network namespaces.
    pub fn clean_up_on_timeout(&self, f: fn()) {
        if let Ok(mut c) = self.cleanup.lock() {
            *c = Some(f);
        }
    }

    /// Prints the summary, writes the JUnit / JSON files asked for, and exits 0 only if
    /// every step passed.
    pub fn finish(self) -> ! {
        // Ctrl-C's cleanup (a lab's namespaces) may have made the last step fail: the
        // signal thread, not this one, ends the process then, as the signal would have.
        netlab::signals::wait_if_taken();
        let r = self.report.lock().unwrap_or_else(|e| e.into_inner());
        let passed = r.steps.iter().filter(|s| s.passed()).count();
        println!("lab result: {passed} of {} steps passed", r.steps.len());
        for (i, s) in r.steps.iter().enumerate() {
            if let Some(why) = &s.not_run {
                println!(
                    "  step {} not run: {}; the lab is not fully passed until it runs",
                    i + 1,
                    why.lines().next().unwrap_or_default()
                );
            }
        }
        r.write_files();
        process::exit(if passed == r.steps.len() { 0 } else { 1 })
    }
}

impl StepResult {
    fn passed(&self) -> bool {
        self.failure.is_none() && self.not_run.is_none()
    }
}

impl Report {
    fn id(&self) -> String {
        format!("lab{}", self.lab.split(' ').next().unwrap_or_default())
    }

    fn write_files(&self) {
        for (path, text) in [(&self.junit, self.junit()), (&self.json, self.json())] {
            if let Some(path) = path {
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!("error: cannot write {path}: {e}");
                }
            }
        }
    }

    /// JUnit XML: one `<testcase>` per step, a `<failure>` with the message when it failed.
    fn junit(&self) -> String {
        let failures = self.steps.iter().filter(|s| s.failure.is_some()).count();
        let skipped = self.steps.iter().filter(|s| s.not_run.is_some()).count();
        let id = self.id();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"netlab labs\" tests=\"{}\" failures=\"{failures}\">\n",
            self.steps.len()
        ));
        out.push_str(&format!(
            "  <testsuite name=\"{id}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
            self.steps.len(),
            self.started.elapsed().as_secs_f64()
        ));
        out.push_str(&format!(
            "    <properties><property name=\"subject\" value=\"{}\"/></properties>\n",
            xml(&self.subject)
        ));
        for (i, s) in self.steps.iter().enumerate() {
            let name = xml(&format!("step {}: {}", i + 1, s.title));
            if let Some(why) = &s.not_run {
                out.push_str(&format!(
                    "    <testcase classname=\"{id}\" name=\"{name}\" time=\"0.000\">\n      <skipped message=\"not run: {}\"/>\n    </testcase>\n",
                    xml(why)
                ));
                continue;
            }
            match &s.failure {
                None => out.push_str(&format!(
                    "    <testcase classname=\"{id}\" name=\"{name}\" time=\"{:.3}\"/>\n",
                    s.seconds
                )),
                Some(why) => out.push_str(&format!(
                    "    <testcase classname=\"{id}\" name=\"{name}\" time=\"{:.3}\">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    s.seconds,
                    xml(why),
                    xml(why)
                )),
            }
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }

    /// Gradescope's results.json: one test per step, one point each.
    fn json(&self) -> String {
        let passed = self.steps.iter().filter(|s| s.passed()).count();
        let tests: Vec<serde_json::Value> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                // Gradescope knows passed and failed: a step not run scores 0 and says why.
                let output = match (&s.failure, &s.not_run) {
                    (Some(why), _) => why.clone(),
                    (None, Some(why)) => format!("not run: {why}"),
                    (None, None) => String::new(),
                };
                serde_json::json!({
                    "number": (i + 1).to_string(),
                    "name": format!("step {}: {}", i + 1, s.title),
                    "score": if s.passed() { 1 } else { 0 },
                    "max_score": 1,
                    "status": if s.passed() { "passed" } else { "failed" },
                    "output": output,
                    "seconds": s.seconds,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "lab": self.id(),
            "subject": self.subject,
            "score": passed,
            "max_score": self.steps.len(),
            "passed": passed,
            "total": self.steps.len(),
            "tests": tests,
        });
        format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
    }
}

/// Text escaped for an XML attribute or element; control characters other than tab and
/// newline are not allowed in XML 1.0 at all, so they are written as `\xNN`.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push('\t'),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Reads until `want` bytes arrived, the peer closed, or `limit` passed; returns what came.
pub fn read_for(stream: &mut TcpStream, want: usize, limit: Duration) -> Vec<u8> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// True if the peer closed (read returns 0) within `limit`.
pub fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let _ = stream.set_read_timeout(Some(limit));
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// Bytes as a quoted, escaped string for failure messages: `"1\n"`, `"x" × 1025`, and a
/// long value cut with its real length (`"…"… (255 bytes)`).
pub fn show(bytes: impl AsRef<[u8]>) -> String {
    netlab::trace::quoted(bytes.as_ref(), 80)
}
