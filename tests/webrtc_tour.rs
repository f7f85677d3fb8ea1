//! `netlab tour webrtc`: two Rust peers in one process, every WebRTC layer traced.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn webrtc_section_opens_a_channel_and_traces_every_layer() {
    let out = run_netlab(&["tour", "webrtc"], b"", &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "a=setup:passive",
        "m=application",
        "channel \"tour\" open on SCTP stream 0",
        "echoed unchanged: an empty text message",
        "20000 bytes of binary (PPID 53) in 19 DATA chunks",
        "=== webrtc: every exchange succeeded",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    for want in [
        "client [sdp] → offer",
        "client [stun] → Binding Request",
        "server [stun] · ICE state connected",
        "client [dtls] → ClientHello",
        "server [dtls] → HelloVerifyRequest",
        "matches a=fingerprint",
        "client [sctp] → INIT ",
        "server [sctp] → INIT-ACK",
        "client [sctp] → COOKIE-ECHO",
        "client [sctp] · ESTABLISHED",
        "client [dcep] → DATA_CHANNEL_OPEN stream=0 label=\"tour\"",
        "server [dcep] → DATA_CHANNEL_ACK stream=0",
        "PPID=51 (string)",
        "SACK cumulative-TSN-ack=",
        "client [sctp] → SHUTDOWN-COMPLETE",
        "close_notify",
    ] {
        assert!(
            stderr.contains(want),
            "{want:?} missing from the trace:\n{stderr}"
        );
    }
    // A lecture, not a dump: the 20 kB message's 19 chunks each way are two lines and a
    // summary, and the whole section fits on a few screens.
    let lines = stdout.lines().count() + stderr.lines().count();
    assert!(lines < 250, "{lines} lines:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("(first of a fragmented message)")
            && stderr.contains("the last of 19 DATA chunks")
            && stderr.matches("DATA TSN=").count() < 40,
        "DATA chunks not folded:\n{stderr}"
    );
    assert!(
        stderr.contains("[dtls] → Alert close_notify (encrypted"),
        "the closing side names its close_notify:\n{stderr}"
    );
    sent_before_received(&stderr);
    let list = text(&run_netlab(&["tour", "--list"], b"", &[], Duration::from_secs(10)).stdout);
    assert!(list.contains("webrtc  [L7] WebRTC"), "{list}");
}

/// Causal order: every SCTP and DCEP line one side received was printed, as sent, by the
/// other side before it.
fn sent_before_received(trace: &str) {
    let mut sent: Vec<(&str, &str)> = Vec::new();
    for line in trace.lines() {
        let Some((_, rest)) = line.split_once(" [") else {
            continue;
        };
        let Some((layer, what)) = rest.split_once("] ") else {
            continue;
        };
        if layer != "sctp" && layer != "dcep" {
            continue;
        }
        // Each side counts the SACKs it folded away in its own window: compare the SACK.
        let what = what.split(" (").next().unwrap_or(what);
        if let Some(m) = what.strip_prefix("→ ") {
            sent.push((layer, m));
        } else if let Some(m) = what.strip_prefix("← ") {
            assert!(
                sent.contains(&(layer, m)),
                "received before it was sent: {line}\n{trace}"
            );
        }
    }
}
