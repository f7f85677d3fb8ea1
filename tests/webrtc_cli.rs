//! `netlab webrtc connect` fails with one line naming the step and exit 1 (signaling, ICE),
//! and usage errors exit 2; `--help` lists the flags with their defaults.

mod common;
use common::*;
use netlab::webrtc::dtls::Identity;
use netlab::webrtc::peer::{Config, Peer};
use netlab::webrtc::sdp::{self, Description, Setup};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// A signaling server that answers one POST with `answer(offer)`.
fn fake_signaling(answer: String) -> String {
    fake_signaling_with(move |_| answer)
}

fn fake_signaling_with(answer: impl FnOnce(String) -> String + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = vec![0u8; 65536];
            let mut got = Vec::new();
            // Read the head and the body (the offer is a few hundred bytes).
            while !String::from_utf8_lossy(&got).contains("a=end-of-candidates") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&got).into_owned();
            let offer = text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .unwrap_or_default();
            let answer = answer(offer);
            let resp = format!(
                "HTTP/1.1 201 Created\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = s.write_all(resp.as_bytes());
        }
    });
    format!("http://{addr}/webrtc")
}

#[test]
fn no_answer_to_the_connectivity_checks_is_an_ice_error() {
    // A well-formed lite answer whose candidate is a UDP port where nobody answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let answer = sdp::write(
        &Description {
            ice_ufrag: "nobody".into(),
            ice_pwd: "nobody-answers-these-checks".into(),
            ice_lite: true,
            fingerprint: [7; 32],
            setup: Setup::Passive,
            mid: "0".into(),
            sctp_port: 5000,
            max_message_size: 65536,
            candidates: vec![silent.local_addr().unwrap()],
            candidate_lines: Vec::new(),
            trickle: false,
            end_of_candidates: true,
        },
        1,
    );
    let url = fake_signaling(answer);
    let out = run_netlab(
        &["webrtc", "connect", "--timeout", "1500", &url, "hi"],
        b"",
        &[],
        Duration::from_secs(30),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ICE: no authenticated connectivity check within 1500 ms"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn a_bad_answer_and_no_server_are_named_too() {
    let url = fake_signaling("v=0\r\ns=-\r\n".into());
    let out = run_netlab(
        &["webrtc", "connect", &url, "hi"],
        b"",
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: SDP: no data channel"),
        "{}",
        text(&out.stderr)
    );
    let port = free_tcp_port();
    let out = run_netlab(
        &[
            "webrtc",
            "connect",
            &format!("http://127.0.0.1:{port}/webrtc"),
        ],
        b"",
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: signaling: POST"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn usage_and_help() {
    let out = run_netlab(&["webrtc", "connect"], b"", &[], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run_netlab(
        &["webrtc", "serve", "--help"],
        b"",
        &[],
        Duration::from_secs(10),
    );
    let help = text(&out.stdout);
    assert!(
        help.contains("--addr")
            && help.contains("127.0.0.1:8090")
            && help.contains("--consent-timeout"),
        "{help}"
    );
    let out = run_netlab(
        &["webrtc", "connect", "--help"],
        b"",
        &[],
        Duration::from_secs(10),
    );
    let help = text(&out.stdout);
    assert!(
        help.contains("--label") && help.contains("--unordered") && help.contains("15000"),
        "{help}"
    );
}

#[test]
fn partial_lists_its_flags_as_the_readme_does_and_refuses_impossible_settings() {
    let out = run_netlab(
        &["webrtc", "partial", "--help"],
        b"",
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let usage = readme
        .lines()
        .find(|l| l.starts_with("netlab webrtc partial "))
        .expect("a usage line in the README");
    for (flag, value) in [
        ("--loss", "5"),
        ("--delay", "20"),
        ("--rate", "50"),
        ("--seconds", "5"),
        ("--size", "200"),
        ("--seed", "1"),
    ] {
        assert!(help.contains(flag), "{help}");
        assert!(
            help.contains(&format!("(default: {value})")),
            "{flag}: {help}"
        );
        assert!(usage.contains(&format!("[{flag} {value}]")), "{usage}");
    }
    for (args, says) in [
        (&["--rate", "0"][..], "error: --rate 0 is out of 1..=1000"),
        (
            &["--size", "8"][..],
            "error: --size 8 is under the 16 bytes",
        ),
        (
            &["--loss", "101"][..],
            "error: --loss 101 is not a percentage",
        ),
        (&["--loss", "many"][..], "error: --loss takes a number"),
    ] {
        let mut all = vec!["webrtc", "partial"];
        all.extend_from_slice(args);
        let out = run_netlab(&all, b"", &[], Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).starts_with(says), "{}", text(&out.stderr));
    }
}

#[test]
fn a_forged_fingerprint_is_a_dtls_error_that_says_so() {
    // A real netlab answerer, whose answer's fingerprint is replaced on the way back: ICE
    // works, and the DTLS handshake must fail on the certificate check.
    let (keep_tx, keep_rx) = std::sync::mpsc::channel();
    let url = fake_signaling_with(move |offer| {
        let (peer, answer) =
            Peer::answer(&offer, &Identity::generate().unwrap(), Config::default()).unwrap();
        let _ = keep_tx.send(peer);
        let fp = answer
            .lines()
            .find(|l| l.starts_with("a=fingerprint:"))
            .unwrap()
            .to_string();
        answer.replace(
            &fp,
            &format!(
                "a=fingerprint:sha-256 {}",
                sdp::fingerprint_hex(&[0xAB; 32])
            ),
        )
    });
    let out = run_netlab(
        &["webrtc", "connect", "--timeout", "5000", &url, "hi"],
        b"",
        &[],
        Duration::from_secs(30),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: DTLS: the peer's certificate has fingerprint "),
        "{err}"
    );
    assert!(err.contains("not the AB:AB:AB"), "{err}");
    drop(keep_rx);
}
