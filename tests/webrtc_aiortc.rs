//! netlab's WebRTC peer against aiortc, in both roles, inside a loopback-only network
//! namespace: aiortc offers to `netlab webrtc serve` (netlab answers, DTLS server), and
//! `netlab webrtc connect` offers to an aiortc answerer (aiortc picks active: netlab is
//! the DTLS server again, while it is the offerer and the ICE-lite side).

mod common;
#[path = "webrtc/netns.rs"]
mod netns;

use common::*;
use std::time::Duration;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/aiortc_peer.py");

#[test]
fn aiortc_offers_and_netlab_echoes_text_binary_empty_and_large() {
    netns::enter();
    let py = python_with("aiortc");
    let mut server = spawn_netlab(&["webrtc", "serve", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let out = run(
        &py,
        &[SCRIPT, "offer", &format!("http://{addr}/webrtc")],
        b"",
        &[],
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains("echoed: text, binary, empty, unicode, 100000-byte binary"),
        "aiortc: {stdout}\n{}",
        text(&out.stderr)
    );
}

#[test]
fn netlab_offers_to_aiortc_and_prints_the_echoes() {
    netns::enter();
    let py = python_with("aiortc");
    let mut aiortc = spawn_watched(&py, &[SCRIPT, "answer"]);
    let addr = aiortc.listening();
    let url = format!("http://{addr}/webrtc");
    let out = run_netlab(
        &["webrtc", "connect", &url, "hello", "wörld", ""],
        b"",
        &[("NETLAB_TRACE", "stun,dtls,sctp,dcep")],
        Duration::from_secs(60),
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "netlab connect failed: {err}");
    assert_eq!(text(&out.stdout), "hello\nwörld\n\n");
    // Both are full agents: netlab offered, so it controls (RFC 8445 §6.1.1) and nominates;
    // aiortc checks too, as the controlled agent, and answers active.
    assert!(
        err.contains("ICE agent (full, RFC 8445): controlling"),
        "{err}"
    );
    assert!(
        err.contains("ICE-CONTROLLED MESSAGE-INTEGRITY"),
        "aiortc's checks: {err}"
    );
    assert!(err.contains("USE-CANDIDATE"), "our nomination: {err}");
    assert!(err.contains("ICE state completed: selected host"), "{err}");
    assert!(err.contains("handshake as server"), "{err}");
    assert!(err.contains("DATA_CHANNEL_ACK"), "{err}");

    // An unordered channel, binary messages, and netlab as the ICE-lite offerer: aiortc
    // takes control and checks it.
    let out = run_netlab(
        &[
            "webrtc",
            "connect",
            &url,
            "--ice",
            "lite",
            "--unordered",
            "--binary",
            "--label",
            "u",
            "x",
            "y",
        ],
        b"",
        &[("NETLAB_TRACE", "stun")],
        Duration::from_secs(60),
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("ICE-CONTROLLING MESSAGE-INTEGRITY"),
        "aiortc's checks: {err}"
    );
    assert!(!err.contains("ICE agent (full"), "{err}");
    let mut lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["x", "y"]);
}
