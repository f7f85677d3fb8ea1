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
    let list = text(&run_netlab(&["tour", "--list"], b"", &[], Duration::from_secs(10)).stdout);
    assert!(list.contains("webrtc  [L7] WebRTC"), "{list}");
}
