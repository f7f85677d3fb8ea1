//! Lab 10 check: netlab's WebRTC server (in this process) answers with your `on_open`, and
//! a real peer, aiortc, opens six data channels at once: reliable, with a 300-byte label, with
//! a protocol, unordered, with at most 3 retransmissions, with a 500 ms lifetime. Each step
//! judges one channel: did aiortc see it open (your ACK) and echo, and did your decoding
//! give the Rust side the channel aiortc asked for? Run: `make check LAB=10`.

#[path = "../common.rs"]
mod common;
#[path = "dcep.rs"]
mod dcep;
#[path = "solution.rs"]
mod solution;
#[path = "wrong/label_length_one_byte.rs"]
mod wrong_label_length_one_byte;
#[path = "wrong/no_ack.rs"]
mod wrong_no_ack;
#[path = "wrong/parameter_dropped.rs"]
mod wrong_parameter_dropped;
#[path = "wrong/protocol_ignored.rs"]
mod wrong_protocol_ignored;
#[path = "wrong/type_as_one_number.rs"]
mod wrong_type_as_one_number;

use common::{Check, Subject, show};
use netlab::http1::server;
use netlab::webrtc::dcep::{ChannelType, OnOpen, Reliability};
use netlab::webrtc::dtls::Identity;
use netlab::webrtc::peer::{Channel, Config, Event, Peer};
use netlab::webrtc::signaling;
use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/aiortc_peer.py");

fn on_open(subject: &Subject) -> OnOpen {
    match subject {
        Subject::Student => dcep::on_open,
        Subject::Solution => solution::on_open,
        Subject::Wrong(n) if n == "label_length_one_byte" => wrong_label_length_one_byte::on_open,
        Subject::Wrong(n) if n == "no_ack" => wrong_no_ack::on_open,
        Subject::Wrong(n) if n == "parameter_dropped" => wrong_parameter_dropped::on_open,
        Subject::Wrong(n) if n == "protocol_ignored" => wrong_protocol_ignored::on_open,
        Subject::Wrong(_) => wrong_type_as_one_number::on_open,
    }
}

/// The project's Python with aiortc, or the one line that says what to do.
fn python() -> Result<&'static str, String> {
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiortc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(PYTHON)
    } else {
        Err(format!(
            "error: the WebRTC peer is missing ({PYTHON} with aiortc): run `make deps`"
        ))
    }
}

/// Keeps aiortc and this process on loopback: a network namespace of our own when we may
/// make one (root), else the host's loopback (aiortc is told 127.0.0.1 is its only address).
fn loopback_only() {
    use nix::sched::{CloneFlags, unshare};
    if unshare(CloneFlags::CLONE_NEWNET).is_ok() {
        let _ = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
    }
}

/// What aiortc saw, per label: "open\t<echo>" or "not open (…)".
fn run_aiortc(python: &str, url: &str) -> Result<HashMap<String, String>, String> {
    let out = Command::new(python)
        .args([PEER, "lab", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot start aiortc: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "aiortc failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

type Seen = Result<HashMap<String, String>, String>;
type Opened = Arc<Mutex<Vec<Channel>>>;

/// One channel: aiortc saw it open and got its echo, and the Rust side decoded `want`.
fn judge(
    seen: &Seen,
    opened: &Opened,
    label: &str,
    want: impl Fn(&Channel) -> Result<(), String>,
) -> Result<(), String> {
    let seen = seen.as_ref().map_err(Clone::clone)?;
    let got = seen
        .get(label)
        .map(String::as_str)
        .unwrap_or("(no line from aiortc)");
    let rust = opened
        .lock()
        .map_err(|_| "lock".to_string())?
        .iter()
        .find(|c| c.label == label)
        .cloned();
    if !got.starts_with("open") {
        return Err(match rust {
            Some(_) => format!(
                "aiortc's channel {} never opened ({got}): your decoding worked, but no DATA_CHANNEL_ACK (0x02) came back on its stream (RFC 8832 §5.2, §6)",
                show(label)
            ),
            None => format!(
                "aiortc's channel {} never opened ({got}), and on_open returned an error or a channel with another label: see the trace with NETLAB_TRACE=dcep",
                show(label)
            ),
        });
    }
    let want_echo = format!("open\ton {label}");
    if got == "open\tno echo" {
        return Err(format!(
            "aiortc's channel {} opened, but the echo never came back: with the reliability the Rust side decoded, SCTP may give up on it (check the Reliability Parameter)",
            show(label)
        ));
    }
    if got != want_echo {
        return Err(format!(
            "aiortc's channel {} opened, but its echo was {}",
            show(label),
            show(got)
        ));
    }
    match rust {
        Some(c) => want(&c),
        None => {
            let labels: Vec<String> = opened
                .lock()
                .map(|v| v.iter().map(|c| show(&c.label)).collect())
                .unwrap_or_default();
            Err(format!(
                "aiortc opened {}, but your on_open decoded the labels {labels:?}: the label is Label Length bytes of UTF-8 right after the 12-byte fixed part (§5.1)",
                show(label)
            ))
        }
    }
}

fn expect_type(c: &Channel, want: ChannelType) -> Result<(), String> {
    if c.channel_type == want {
        Ok(())
    } else {
        Err(format!(
            "channel {}: decoded as {}, aiortc asked for {want} (§5.1 Channel Type and Reliability Parameter)",
            show(&c.label),
            c.channel_type
        ))
    }
}

fn main() {
    let (mut check, subject) = Check::start(
        "10 (DCEP: answering DATA_CHANNEL_OPEN)",
        "labs/10-dcep/dcep.rs",
        &[
            "label_length_one_byte",
            "no_ack",
            "parameter_dropped",
            "protocol_ignored",
            "type_as_one_number",
        ],
        Duration::from_secs(60),
    );
    let python = python().unwrap_or_else(|e| {
        println!("{e}");
        std::process::exit(1)
    });
    // Serving is for a browser on this machine: the host's network, then.
    if !check.serving() {
        loopback_only();
    }
    let identity = Identity::generate().unwrap_or_else(|e| {
        println!("error: {e}");
        std::process::exit(1)
    });
    let opened: Opened = Arc::default();
    let record = opened.clone();
    // The session: record every channel the Rust side opened, and echo its messages.
    let session: signaling::Session = Arc::new(move |mut peer: Peer| {
        loop {
            match peer.recv(Duration::from_secs(30)) {
                Some(Event::Open(c)) => {
                    if let Ok(mut v) = record.lock() {
                        v.push(c)
                    }
                }
                Some(Event::Message(id, m)) => {
                    let _ = peer.send(id, m);
                }
                Some(Event::Ended(_)) | None => break,
                Some(_) => {}
            }
        }
    });
    let config = Config {
        on_open: on_open(&subject),
        role: "server",
        ..Config::default()
    };
    let router = signaling::router(identity, config, session, None);
    let listener = TcpListener::bind(check.listen_addr("127.0.0.1:8090")).unwrap_or_else(|e| {
        println!("cannot bind: {e}");
        std::process::exit(1)
    });
    let http = server::spawn(
        listener,
        Arc::new(router),
        check.http_config(),
        Arc::new(server::plain),
    )
    .unwrap_or_else(|e| {
        println!("cannot start the server: {e}");
        std::process::exit(1)
    });
    let url = format!("http://{}/webrtc", http.addr());
    check.serve(
        &format!("http://{}/", http.addr()),
        &[&format!("{python} tests/webrtc/aiortc_peer.py lab {url}   (aiortc opens the check's six channels)"), &format!("or open http://{}/ in a browser and press connect (netlab answers with your on_open)", http.addr())],
    );
    // One aiortc run opens every channel; each step then judges one of them.
    let seen = run_aiortc(python, &url);

    check.step(
        "a reliable channel \"chat\": OPEN decoded, ACK sent, its message echoed",
        || {
            judge(&seen, &opened, "chat", |c| {
                expect_type(c, ChannelType::RELIABLE)
            })
        },
    );
    let long = format!("long-{}", "x".repeat(295));
    check.step(
        "a label of 300 bytes: Label Length is 16 bits, network byte order (0x01 0x2c)",
        || judge(&seen, &opened, &long, |_| Ok(())),
    );
    check.step(
        "a channel with a protocol, \"json-v1\": it follows the label, with its own length",
        || {
            judge(&seen, &opened, "with-protocol", |c| {
                if c.protocol == "json-v1" {
                    Ok(())
                } else {
                    Err(format!(
                        "the protocol was decoded as {}, aiortc sent \"json-v1\" (§5.1 Protocol)",
                        show(&c.protocol)
                    ))
                }
            })
        },
    );
    check.step(
        "an unordered channel: Channel Type 0x80, the high bit",
        || {
            judge(&seen, &opened, "unordered", |c| {
                expect_type(
                    c,
                    ChannelType {
                        unordered: true,
                        reliability: Reliability::Reliable,
                    },
                )
            })
        },
    );
    check.step(
        "at most 3 retransmissions: type 0x01, the Reliability Parameter 3",
        || {
            judge(&seen, &opened, "rexmit", |c| {
                expect_type(
                    c,
                    ChannelType {
                        unordered: false,
                        reliability: Reliability::Rexmit(3),
                    },
                )
            })
        },
    );
    check.step(
        "a 500 ms lifetime: type 0x02, the Reliability Parameter in milliseconds",
        || {
            judge(&seen, &opened, "timed", |c| {
                expect_type(
                    c,
                    ChannelType {
                        unordered: false,
                        reliability: Reliability::Timed(500),
                    },
                )
            })
        },
    );
    http.stop();
    check.finish();
}
