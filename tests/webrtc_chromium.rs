//! Headless Chromium (Debian's package, driven by playwright-core) loads the page of
//! `netlab webrtc serve`: it opens a data channel to the Rust echo peer and exchanges text
//! and binary, one message larger than an SCTP packet; and two pages connect to each other
//! through the server's relay. All inside a loopback-only network namespace.

mod common;
#[path = "webrtc/netns.rs"]
mod netns;

use common::*;
use std::time::Duration;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/chromium.js");

fn node_with_playwright() {
    require("node");
    require("chromium");
    let module = concat!(env!("CARGO_MANIFEST_DIR"), "/node_modules/playwright-core");
    assert!(
        std::path::Path::new(module).exists(),
        "playwright-core is missing: run `make deps` (npm install, no browser download)"
    );
}

fn drive(args: &[&str]) -> (bool, String) {
    let mut all = vec![SCRIPT];
    all.extend_from_slice(args);
    let out = run("node", &all, b"", &[], Duration::from_secs(90));
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn chromium_opens_a_channel_to_the_rust_peer_and_gets_its_echoes() {
    netns::enter();
    node_with_playwright();
    let mut server = spawn_netlab(&["webrtc", "serve", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let (ok, out) = drive(&["echo", &format!("http://{addr}/")]);
    assert!(ok, "chromium: {out}");
    assert!(out.contains("\"length\":100000"), "{out}");
}

#[test]
fn two_chromium_pages_connect_through_the_relay() {
    netns::enter();
    node_with_playwright();
    let mut server = spawn_netlab(&["webrtc", "serve", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let (ok, out) = drive(&["rooms", &format!("http://{addr}/"), "room1"]);
    assert!(ok, "two pages: {out}");
    // Our server only signalled: it relayed, it ran no peer of its own.
    let err = server.stderr_so_far();
    assert!(!err.contains("[dtls]"), "{err}");
}
