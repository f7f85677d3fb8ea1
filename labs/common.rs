//! What every lab check shares: numbered steps, a report that names the step that failed,
//! and a watchdog so that a handler that hangs fails the check instead of hanging it.

#![allow(dead_code)] // each check uses only some of these helpers

use std::io::Read;
use std::net::TcpStream;
use std::process;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub struct Check {
    passed: usize,
    failed: usize,
    current: Arc<AtomicUsize>,
}

/// Which file a check drives: the student's, the reference, or one of the lab's known wrong
/// solutions (`labs/NN-topic/wrong/NAME.rs`, which `make test` proves the check fails).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Student,
    Solution,
    Wrong(String),
}

impl Check {
    /// Starts a check. On the command line, `--solution` checks the reference instead of the
    /// student's file, and `--wrong NAME` one of the wrong solutions named in `wrong`
    /// (`make check LAB=04 WRONG=etag_unquoted`). Returns the check and which file it drives.
    pub fn start(
        lab: &str,
        student_file: &str,
        wrong: &[&str],
        limit: Duration,
    ) -> (Check, Subject) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let subject = match args.iter().position(|a| a == "--wrong") {
            Some(i) => match args.get(i + 1) {
                Some(name) if wrong.contains(&name.as_str()) => Subject::Wrong(name.clone()),
                other => {
                    eprintln!(
                        "error: --wrong needs one of: {} (got {})",
                        wrong.join(", "),
                        other.map_or("nothing".to_string(), |n| format!("'{n}'"))
                    );
                    process::exit(2);
                }
            },
            None if args.iter().any(|a| a == "--solution") => Subject::Solution,
            None => Subject::Student,
        };
        // `NETLAB_TRACE=l4 make check LAB=01` shows the trace (labs/README.md promises it).
        let _ = netlab::trace::enable_from_env();
        let dir = student_file.rsplit_once('/').map_or("", |(d, _)| d);
        let which = match &subject {
            Subject::Student => student_file.to_string(),
            Subject::Solution => "the reference solution".to_string(),
            Subject::Wrong(name) => format!("{dir}/wrong/{name}.rs (a known wrong solution)"),
        };
        println!("lab {lab}: checking {which}");
        let current = Arc::new(AtomicUsize::new(0));
        let watched = current.clone();
        // The watchdog: a check never runs longer than `limit`.
        thread::spawn(move || {
            thread::sleep(limit);
            println!(
                "  ✗ step {}: still running after {} s: the handler seems stuck (does it wait for input that never comes?)",
                watched.load(Ordering::SeqCst),
                limit.as_secs()
            );
            process::exit(1);
        });
        (
            Check {
                passed: 0,
                failed: 0,
                current,
            },
            subject,
        )
    }

    /// Runs one numbered step. A step fails with a sentence that says what went wrong.
    pub fn step(&mut self, title: &str, body: impl FnOnce() -> Result<(), String>) {
        let n = self.passed + self.failed + 1;
        self.current.store(n, Ordering::SeqCst);
        match body() {
            Ok(()) => {
                self.passed += 1;
                println!("  ✓ step {n}: {title}");
            }
            Err(why) => {
                self.failed += 1;
                println!("  ✗ step {n}: {title}\n      {why}");
            }
        }
    }

    /// Prints the summary and exits 0 only if every step passed.
    pub fn finish(self) -> ! {
        println!(
            "lab result: {} of {} steps passed",
            self.passed,
            self.passed + self.failed
        );
        process::exit(if self.failed == 0 { 0 } else { 1 })
    }
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
