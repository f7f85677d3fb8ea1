//! Cleaning up when the process is told to stop. Ctrl-C, a closed terminal or `kill` end a
//! process without running its drops, so whatever it made outside itself (temp dirs, network
//! namespaces) would stay. One thread takes those signals instead.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a signal has been taken and its cleanup begun.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Has a signal been taken, its cleanup under way? The process is about to exit as the
/// signal would have: code that would exit on its own meanwhile (with another status, while
/// the cleanup is half done) should wait instead. See [`wait_if_taken`].
pub fn taken() -> bool {
    TAKEN.load(Ordering::SeqCst)
}

/// Blocks forever if a signal has been taken (the signal thread ends the process), else
/// returns at once. Call it before `process::exit`: what a cleanup removes (a namespace a
/// step was using) can make the main thread fail and exit first, with the wrong status.
pub fn wait_if_taken() {
    while taken() {
        std::thread::park();
    }
}

/// From now on SIGINT, SIGTERM and SIGHUP are taken by one thread named `thread`, which runs
/// `cleanup` and then exits as the signal would have (status 128 + its number). Call it before
/// starting any thread: threads inherit the blocked mask (child programs do not, std resets it
/// when it spawns them).
pub fn clean_up_on_signals(thread: &str, cleanup: fn()) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return;
    }
    let waiter = std::thread::Builder::new()
        .name(thread.into())
        .spawn(move || {
            if let Ok(signal) = set.wait() {
                TAKEN.store(true, Ordering::SeqCst);
                cleanup();
                std::process::exit(128 + signal as i32);
            }
        });
    if waiter.is_err() {
        // No thread to take them: let the signals act as before.
        let _ = set.thread_unblock();
    }
}
