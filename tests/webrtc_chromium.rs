//! Headless Chromium (Debian's package, driven by playwright-core) loads the page of
//! `netlab webrtc serve`: it opens a data channel to the Rust echo peer and exchanges text
//! and binary, one message larger than an SCTP packet; and two pages connect to each other
//! through the server's relay; and Chromium answers an offer `netlab webrtc connect --room`
//! put in a room (Chromium the answerer, netlab the offerer, both full ICE agents). All
//! inside a loopback-only network namespace.

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
    let mut server = spawn_netlab(
        &["webrtc", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "dcep")],
    );
    let addr = server.listening();
    let (ok, out) = drive(&[
        "echo",
        &format!("http://{addr}/?label=caf%C3%A9%20%E2%9C%93"),
    ]);
    assert!(ok, "chromium: {out}");
    assert!(out.contains("\"length\":100000"), "{out}");
    // Chromium's Label Length counts bytes (RFC 8832 §5.1): the label arrives whole.
    let log = server.stderr_until(&["DATA_CHANNEL_OPEN"], Duration::from_secs(5));
    assert!(log.contains("label=\"café ✓\""), "{log}");
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

#[test]
fn chromium_answers_an_offer_from_the_rust_peer() {
    netns::enter();
    node_with_playwright();
    let mut server = spawn_netlab(&["webrtc", "serve", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let origin = format!("http://{addr}/");
    let mut rust = spawn_netlab(
        &[
            "webrtc",
            "connect",
            "--room",
            "r2",
            "--timeout",
            "30000",
            &origin,
            "hello chromium",
        ],
        &[("NETLAB_TRACE", "stun,dtls,dcep")],
    );
    let (ok, out) = drive(&["join", &origin, "r2"]);
    let status = rust.wait_exit(Duration::from_secs(30));
    let err = rust.stderr_so_far();
    assert!(ok, "chromium: {out}\nnetlab: {err}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{err}");
    let mut line = String::new();
    std::io::BufRead::read_line(rust.stdout.as_mut().unwrap(), &mut line).unwrap();
    assert_eq!(line, "hello rust\n");
    // Both full agents: we offered, so we controlled and nominated (RFC 8445 §6.1.1), and
    // Chromium checked us as the controlled agent; it answered active, so we were the DTLS
    // server, and our channel took an odd stream.
    assert!(
        err.contains("ICE agent (full, RFC 8445): controlling"),
        "{err}"
    );
    assert!(err.contains("ICE-CONTROLLED MESSAGE-INTEGRITY"), "{err}");
    assert!(err.contains("ICE state completed: selected host"), "{err}");
    assert!(err.contains("handshake as server"), "{err}");
    assert!(err.contains("DATA_CHANNEL_OPEN stream=1"), "{err}");
}
