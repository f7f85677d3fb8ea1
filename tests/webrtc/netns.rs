//! A network namespace with only loopback, for the calling test thread and everything it
//! starts (threads and child processes inherit it). aioice and Chromium gather and target
//! every interface of the host otherwise (see ../shared/notes/webrtc.md); inside, the only
//! address is 127.0.0.1, so no packet of these tests can leave the machine.

use nix::sched::{CloneFlags, unshare};
use std::process::Command;

/// Moves this thread into a fresh network namespace and brings its loopback up. Needs root
/// (or CAP_SYS_ADMIN); without it the test fails with what to do, it does not skip.
pub fn enter() {
    unshare(CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| {
        panic!("cannot make a network namespace ({e}): the WebRTC interop tests run as root (unshare -n)")
    });
    let ok = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "ip link set lo up failed in the test's namespace (iproute2 installed?)"
    );
}
