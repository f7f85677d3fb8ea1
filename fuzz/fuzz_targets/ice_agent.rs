//! Fuzz target: the full ICE agent (src/webrtc/ice/agent.rs) fed datagrams nobody signed.
//! Each input is a list of (role, sender, bytes, milliseconds later); the agent holds one host
//! candidate and one remote candidate, and its clock moves on between datagrams.
//! - Nothing panics, whatever the bytes, the sender or the order.
//! - No pair is ever selected: without the peer's ice-pwd no datagram can authenticate
//!   (MESSAGE-INTEGRITY, RFC 8489 §14.5), so none may nominate or complete a check.
//! - The agent sends only to addresses it was given or heard from: its remote candidate, and
//!   the senders of the datagrams it answers. Never anywhere else.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::webrtc::ice::Credentials;
use netlab::webrtc::ice::agent::{Agent, Event, Settings};
use netlab::webrtc::ice::priority::{CandidateKind, Rfc, Role};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
struct Datagram {
    from: u8,
    later_ms: u16,
    bytes: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    controlling: bool,
    tie_breaker: u64,
    datagrams: Vec<Datagram>,
}

const LOCAL: &str = "192.0.2.2:40000";
const REMOTE: &str = "198.51.100.2:50000";
const SENDERS: [&str; 3] = [REMOTE, "203.0.113.9:3478", "198.51.100.7:1"];

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let local: SocketAddr = LOCAL.parse().unwrap();
    let mut agent = Agent::new(Settings {
        role: if input.controlling {
            Role::Controlling
        } else {
            Role::Controlled
        },
        tie_breaker: input.tie_breaker,
        local: Credentials {
            ufrag: "ours".into(),
            pwd: "our-password-of-22-chars".into(),
        },
        remote: Credentials {
            ufrag: "them".into(),
            pwd: "their-password-22-chars".into(),
        },
        policy: Arc::new(Rfc),
        consent_interval: Duration::from_secs(5),
        consent_timeout: Duration::from_secs(30),
    });
    agent.add_local(CandidateKind::Host, local, local, None);
    agent
        .add_remote("1 1 udp 2130706431 198.51.100.2 50000 typ host")
        .unwrap();
    let mut heard: Vec<SocketAddr> = vec![REMOTE.parse().unwrap()];
    let mut now = Instant::now();
    for d in input.datagrams.iter().take(64) {
        now += Duration::from_millis(u64::from(d.later_ms));
        let from: SocketAddr = SENDERS[usize::from(d.from) % SENDERS.len()]
            .parse()
            .unwrap();
        heard.push(from);
        let _ = agent.handle(&d.bytes, from, local, now);
        agent.tick(now);
        while let Some(t) = agent.poll_transmit() {
            assert!(heard.contains(&t.to), "sent to {} it never heard of", t.to);
        }
        while let Some(e) = agent.poll_event() {
            assert!(
                !matches!(e, Event::Selected { .. }),
                "a pair selected by unsigned datagrams: {e:?}"
            );
        }
        assert_eq!(agent.selected(), None);
    }
});
