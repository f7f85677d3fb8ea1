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

impl Check {
    /// Starts a check; `--solution` on the command line checks the reference instead of the
    /// student's file. Returns the check and which file is being checked.
    pub fn start(lab: &str, student_file: &str, limit: Duration) -> (Check, bool) {
        let solution = std::env::args().any(|a| a == "--solution");
        // `NETLAB_TRACE=l4 make check LAB=01` shows the trace (labs/README.md promises it).
        let _ = netlab::trace::enable_from_env();
        let which = if solution {
            "the reference solution"
        } else {
            student_file
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
            solution,
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

/// Bytes as a quoted, escaped string for failure messages.
pub fn show(bytes: &[u8]) -> String {
    format!("\"{}\"", netlab::trace::preview(bytes, 80))
}
