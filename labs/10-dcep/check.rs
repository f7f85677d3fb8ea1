//! Lab 10 check: netlab's WebRTC server (in this process) answers with your `on_open`, and
//! a real peer, aiortc, opens six data channels at once: reliable, with a 300-byte label, with
//! a protocol, unordered, with at most 3 retransmissions, with a 500 ms lifetime. Steps 1–6
//! judge one channel each: did aiortc see it open (your ACK) and echo, and did your decoding
//! give the Rust side the channel aiortc asked for? Steps 7–9 hand `on_open` OPENs no
//! browser sends (aiortc's priority is always 0, and it never sends a malformed one): a
//! priority whose byte order matters, broken lengths, an unknown Channel Type.
//! Run: `make check LAB=10`.

#[path = "../common.rs"]
mod common;
#[path = "dcep.rs"]
mod dcep;
#[path = "solution.rs"]
mod solution;

common::wrong_solutions! {
    fn on_open(m) -> OnOpen { m::on_open }
    student dcep, solution solution;
    no_ack fails [1, 2, 3, 4, 5, 6]: "decodes every field but sends no DATA_CHANNEL_ACK back";
    label_length_one_byte fails [2]: "reads the Label Length from its low byte only";
    protocol_ignored fails [3, 8]: "skips the protocol after the label (and never checks its length)";
    type_as_one_number fails [4]: "matches the Channel Type as one number, forgetting the 0x80 unordered bit";
    parameter_dropped fails [5, 6]: "decodes the channel type but not its Reliability Parameter";
    priority_little_endian fails [7]: "reads the Priority in the machine's byte order, not the network's";
    no_length_checks fails [8]: "checks no length, so a short or lying OPEN indexes out of bounds";
    unknown_type_accepted fails [9]: "takes an unknown Channel Type as reliable instead of refusing it";
}

use common::{Check, show};
use netlab::http1::server;
use netlab::webrtc::dcep::{ChannelType, DcepError, OnOpen, Open, Reliability};
use netlab::webrtc::dtls::Identity;
use netlab::webrtc::peer::{Channel, Config, Event, Peer};
use netlab::webrtc::signaling;
use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/aiortc_peer.py");

/// The `on_open` under test, and what it answered, so a failure can say what came back.
static SUBJECT: OnceLock<OnOpen> = OnceLock::new();
/// Per label: the reply `on_open` returned.
static REPLIES: Mutex<Vec<(String, Vec<u8>)>> = Mutex::new(Vec::new());
/// The errors `on_open` returned, in order.
static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What netlab's SCTP loop calls: the subject, with its answer written down.
fn recorded(message: &[u8]) -> Result<(Open, Vec<u8>), DcepError> {
    let subject = SUBJECT.get().copied().unwrap_or(dcep::on_open);
    let answer = subject(message);
    match &answer {
        Ok((open, reply)) => {
            if let Ok(mut r) = REPLIES.lock() {
                r.push((open.label.clone(), reply.clone()));
            }
        }
        Err(e) => {
            if let Ok(mut r) = ERRORS.lock() {
                r.push(e.to_string());
            }
        }
    }
    answer
}

/// What `on_open` replied to the OPEN of `label`, as a sentence.
fn reply_to(label: &str) -> String {
    let replies = REPLIES.lock().map(|r| r.clone()).unwrap_or_default();
    match replies.iter().find(|(l, _)| l == label).map(|(_, r)| r) {
        None => "on_open was not called for it".into(),
        Some(r) if r.is_empty() => {
            "on_open returned an empty reply, so nothing was sent back".into()
        }
        Some(r) if r.as_slice() == [0x02] => {
            "on_open replied DATA_CHANNEL_ACK (0x02), yet aiortc did not take it".into()
        }
        Some(r) => format!(
            "on_open replied {} ({} bytes), not DATA_CHANNEL_ACK, which is the one byte 0x02",
            show(r),
            r.len()
        ),
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
                "aiortc's channel {} never opened ({got}): your decoding worked, but {}; the opener waits for DATA_CHANNEL_ACK (0x02) on the same stream (RFC 8832 §5.2, §6)",
                show(label),
                reply_to(label)
            ),
            None => {
                let errors = ERRORS.lock().map(|e| e.join("; ")).unwrap_or_default();
                let said = if errors.is_empty() {
                    "on_open returned a channel with another label".to_string()
                } else {
                    format!("on_open returned errors: {errors}")
                };
                format!(
                    "aiortc's channel {} never opened ({got}), and {said}: NETLAB_TRACE=dcep shows what arrived",
                    show(label)
                )
            }
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
                "aiortc opened {}, but your on_open decoded the labels {}: the label is Label Length bytes of UTF-8 right after the 12-byte fixed part (§5.1)",
                show(label),
                labels.join(", ")
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

/// A DATA_CHANNEL_OPEN written field by field (§5.1), network byte order.
fn open_bytes(channel_type: u8, priority: u16, label: &str, protocol: &str) -> Vec<u8> {
    let mut m = vec![0x03, channel_type];
    m.extend_from_slice(&priority.to_be_bytes());
    m.extend_from_slice(&0u32.to_be_bytes());
    m.extend_from_slice(&(label.len() as u16).to_be_bytes());
    m.extend_from_slice(&(protocol.len() as u16).to_be_bytes());
    m.extend_from_slice(label.as_bytes());
    m.extend_from_slice(protocol.as_bytes());
    m
}

/// Calls `on_open` directly; a panic comes back as its one-line text.
fn call(f: OnOpen, message: &[u8]) -> Result<Result<(Open, Vec<u8>), DcepError>, String> {
    netlab::catch::call(|| f(message)).map_err(|p| p.to_string())
}

/// Step 7: Priority 258 is 0x01 0x02 on the wire; read little-endian it is 513.
fn priority_step(f: OnOpen) -> Result<(), String> {
    let m = open_bytes(0x00, 258, "prio", "");
    let open = match call(f, &m) {
        Err(p) => return Err(format!("on_open {p}, on the well-formed OPEN {}", show(&m))),
        Ok(Err(e)) => {
            return Err(format!(
                "on_open refused the well-formed OPEN {} (label \"prio\", priority 258): {e}",
                show(&m)
            ));
        }
        Ok(Ok((open, _))) => open,
    };
    match open.priority {
        258 => Ok(()),
        0x0201 => Err(
            "Priority decoded as 513 (0x0201), the OPEN carried 258 (bytes 0x01 0x02): it was read little-endian, and every §5.1 field is in network byte order (u16::from_be_bytes)"
                .into(),
        ),
        p => Err(format!(
            "Priority decoded as {p}, the OPEN carried 258 (bytes 2 and 3: 0x01 0x02, network byte order, §5.1)"
        )),
    }
}

/// Step 8: OPENs whose lengths lie; each must come back as an error, never a panic.
fn malformed_step(f: OnOpen) -> Result<(), String> {
    let good = open_bytes(0x00, 0, "chat", "p2");
    let with_lengths = |label: u16, protocol: u16| {
        let mut m = good.clone();
        m[8..10].copy_from_slice(&label.to_be_bytes());
        m[10..12].copy_from_slice(&protocol.to_be_bytes());
        m
    };
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("cut to 3 bytes", good[..3].to_vec(), "ShortOpen(3)"),
        (
            "cut to 11 bytes, one short of the fixed part",
            good[..11].to_vec(),
            "ShortOpen(11)",
        ),
        (
            "with Label Length 200 but 6 bytes after the fixed part",
            with_lengths(200, 2),
            "LengthsPastEnd",
        ),
        (
            "with Protocol Length 9 past the end",
            with_lengths(4, 9),
            "LengthsPastEnd",
        ),
        (
            "with both lengths 65535 (their sum overflows a u16)",
            with_lengths(u16::MAX, u16::MAX),
            "LengthsPastEnd",
        ),
    ];
    for (what, m, want) in cases {
        match call(f, &m) {
            Ok(Err(_)) => {}
            Err(p) => {
                return Err(format!(
                    "an OPEN {what} ({}): on_open {p}; expected Err(DcepError::{want}): check each length before indexing or slicing (§5.1)",
                    show(&m)
                ));
            }
            Ok(Ok((open, _))) => {
                return Err(format!(
                    "an OPEN {what} ({}): on_open accepted it as channel {}; expected Err(DcepError::{want}) (§5.1)",
                    show(&m),
                    show(&open.label)
                ));
            }
        }
    }
    Ok(())
}

/// Step 9: §5.1 defines Channel Types 0x00–0x02 (and 0x80–0x82); others are refused.
fn unknown_type_step(f: OnOpen) -> Result<(), String> {
    for ty in [0x03u8, 0x83, 0x7f] {
        let m = open_bytes(ty, 0, "odd", "");
        match call(f, &m) {
            Ok(Err(_)) => {}
            Err(p) => return Err(format!("Channel Type 0x{ty:02x}: on_open {p}")),
            Ok(Ok((open, _))) => {
                return Err(format!(
                    "Channel Type 0x{ty:02x} was decoded as {}; §5.1 defines only 0x00, 0x01 and 0x02 (with the 0x80 bit for unordered), so expected Err(DcepError::UnknownChannelType(0x{ty:02x}))",
                    open.channel_type
                ));
            }
        }
    }
    Ok(())
}

/// The session the server runs for each peer: record every channel the Rust side opened,
/// and echo its messages.
fn echo_session(record: Opened) -> signaling::Session {
    Arc::new(move |peer: Peer| echo(peer, &record))
}

fn echo(mut peer: Peer, record: &Opened) {
    loop {
        match peer.recv(Duration::from_secs(30)) {
            Some(Event::Open(c)) => record.lock().map(|mut v| v.push(c)).unwrap_or(()),
            Some(Event::Message(id, m)) => {
                let _ = peer.send(id, m);
            }
            Some(Event::Ended(_)) | None => break,
            Some(_) => {}
        }
    }
}

/// The Channel Type aiortc asked for.
fn ordered(reliability: Reliability) -> ChannelType {
    ChannelType {
        unordered: false,
        reliability,
    }
}

fn protocol_is_json(c: &Channel) -> Result<(), String> {
    if c.protocol == "json-v1" {
        return Ok(());
    }
    Err(format!(
        "the protocol was decoded as {}, aiortc sent \"json-v1\" (§5.1 Protocol)",
        show(&c.protocol)
    ))
}

/// Steps 1-6: one aiortc run opened every channel; each step judges one of them.
fn aiortc_steps(check: &mut Check, seen: &Seen, opened: &Opened) {
    let of_type =
        |label: &str, want: ChannelType| judge(seen, opened, label, |c| expect_type(c, want));
    check.step(
        "a reliable channel \"chat\": OPEN decoded, ACK sent, its message echoed",
        || of_type("chat", ChannelType::RELIABLE),
    );
    let long = format!("long-{}", "x".repeat(295));
    check.step(
        "a label of 300 bytes: Label Length is 16 bits, network byte order (0x01 0x2c)",
        || judge(seen, opened, &long, |_| Ok(())),
    );
    check.step(
        "a channel with a protocol, \"json-v1\": it follows the label, with its own length",
        || judge(seen, opened, "with-protocol", protocol_is_json),
    );
    let unordered = ChannelType {
        unordered: true,
        reliability: Reliability::Reliable,
    };
    check.step(
        "an unordered channel: Channel Type 0x80, the high bit",
        || of_type("unordered", unordered),
    );
    check.step(
        "at most 3 retransmissions: type 0x01, the Reliability Parameter 3",
        || of_type("rexmit", ordered(Reliability::Rexmit(3))),
    );
    check.step(
        "a 500 ms lifetime: type 0x02, the Reliability Parameter in milliseconds",
        || of_type("timed", ordered(Reliability::Timed(500))),
    );
}

/// Steps 7-9: OPENs no browser sends, handed to `on_open` directly.
fn direct_steps(check: &mut Check, subject: OnOpen) {
    check.step(
        "priority 258 (0x01 0x02): every field in network byte order",
        || priority_step(subject),
    );
    check.step(
        "malformed OPENs (cut short, lengths past the end) get an error, never a panic",
        || malformed_step(subject),
    );
    check.step(
        "an unknown Channel Type (0x03, 0x83, 0x7f) is refused",
        || unknown_type_step(subject),
    );
}

fn main() {
    let (mut check, subject) = Check::start(
        "10 (DCEP: answering DATA_CHANNEL_OPEN)",
        "labs/10-dcep/dcep.rs",
        WRONG,
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
    let session = echo_session(opened.clone());
    let subject = on_open(&subject);
    let _ = SUBJECT.set(subject);
    let config = Config {
        on_open: recorded,
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
        &[
            &format!("{python} tests/webrtc/aiortc_peer.py lab {url}   (aiortc opens the check's six channels)"),
            &format!("netlab webrtc connect --label mine {url} hello   (netlab's own peer opens one channel and sends hello)"),
            &format!("or open http://{}/ in a browser and press connect (netlab answers with your on_open)", http.addr()),
            "(NETLAB_TRACE=dcep make serve LAB=10 shows each DATA_CHANNEL_OPEN that arrived and what your on_open answered)",
        ],
    );
    // One aiortc run opens every channel; each step then judges one of them.
    let seen = run_aiortc(python, &url);

    aiortc_steps(&mut check, &seen, &opened);
    direct_steps(&mut check, subject);
    http.stop();
    check.finish();
}
