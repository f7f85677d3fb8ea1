//! What users of data channels ask for, against the real peers: closing a channel by an SCTP
//! stream reset (RFC 8831 §6.7, RFC 6525) from either side, the freed stream id taken again
//! (by the peer's channels and by netlab's), and a message over the peer's
//! `a=max-message-size` refused with a clear error while the channel and the association go
//! on (RFC 8841 §6). Headless Chromium (playwright-core) and
//! aiortc each offer to netlab's signaling, served in this process with a session of the
//! test's own (below), inside a loopback-only network namespace.
//!
//! The netlab side: "close" on a channel makes it call `Peer::close_channel`; "open" makes it
//! open a channel "n" of its own (`Peer::open`, which takes the lowest freed id); "big" makes
//! it send one byte more than the peer's maximum (refused: `PeerError::TooLarge`), then exactly
//! the maximum; anything else is echoed. What it saw comes back to the test on a channel.

mod common;
#[path = "webrtc/netns.rs"]
mod netns;

use common::*;
use netlab::http1::server::{self, Config as HttpConfig};
use netlab::webrtc::dcep::ChannelType;
use netlab::webrtc::dtls::Identity;
use netlab::webrtc::peer::{Config, Event, Message, Peer, PeerError};
use netlab::webrtc::signaling::{self, TraceLog};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// What the netlab peer saw, in order.
#[derive(Debug, PartialEq)]
enum Seen {
    /// We opened a channel on this id (asked to by "open").
    Opening(u16),
    Open(u16, String),
    /// We were asked to close this channel and reset its stream.
    Closing(u16),
    /// The channel is closed (our reset, or the peer's).
    Closed(u16),
    /// The refusal of the message one byte over the peer's maximum.
    Refused(PeerError),
    /// The largest message was queued.
    SentMax(u32),
    Ended,
}

/// The netlab side of every session.
fn session(mut peer: Peer, seen: &Sender<Seen>) {
    while let Some(e) = peer.recv(Duration::from_secs(30)) {
        match e {
            Event::Open(c) => {
                let _ = seen.send(Seen::Open(c.id, c.label));
            }
            Event::Message(id, Message::Text(t)) if t == "close" => {
                let _ = seen.send(Seen::Closing(id));
                peer.close_channel(id);
            }
            Event::Message(_, Message::Text(t)) if t == "open" => {
                let id = peer.open("n", ChannelType::RELIABLE);
                let _ = seen.send(Seen::Opening(id));
            }
            Event::Message(id, Message::Text(t)) if t == "big" => {
                let max = peer.max_send;
                let over = peer.send(id, Message::Binary(vec![7; max as usize + 1]));
                let _ = seen.send(Seen::Refused(over.unwrap_err()));
                peer.send(id, Message::Binary(vec![7; max as usize]))
                    .unwrap();
                let _ = seen.send(Seen::SentMax(max));
            }
            Event::Message(id, m) => {
                let _ = peer.send(id, m);
            }
            Event::Closed(id) => {
                let _ = seen.send(Seen::Closed(id));
            }
            Event::Ended(_) => break,
            _ => {}
        }
    }
    let _ = seen.send(Seen::Ended);
}

/// netlab's signaling (the page, `POST /webrtc`) on a free port, each offer answered by a
/// peer running [`session`]. Stops when the flag is dropped.
struct Signaling {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Receiver<Seen>,
}

impl Drop for Signaling {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The trace of this process (SCTP and DCEP), kept to be read back: each test's peer traces
/// under a role of its own, so the two tests' lines are told apart.
fn trace_log() -> &'static TraceLog {
    static LOG: OnceLock<TraceLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let mut log = TraceLog::default();
        log.echo = std::env::var_os("NETLAB_TRACE").is_some();
        netlab::trace::enable("sctp,dcep").unwrap();
        netlab::trace::capture(Some(Box::new(log.clone())));
        log
    })
}

/// The trace lines of `role`'s peer that contain `what`.
fn traced(role: &str, what: &str) -> bool {
    trace_log()
        .since(0)
        .1
        .iter()
        .any(|l| l.starts_with(role) && l.contains(what))
}

fn serve(role: &'static str) -> Signaling {
    trace_log();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let on_peer: signaling::Session = Arc::new(move |peer| {
        let seen = tx.lock().unwrap().clone();
        session(peer, &seen)
    });
    let router = signaling::router(
        Identity::generate().unwrap(),
        Config {
            role,
            ..Config::default()
        },
        on_peer,
        None,
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        server::serve(
            listener,
            Arc::new(router),
            HttpConfig::default(),
            Arc::new(server::plain),
            flag,
        )
    });
    Signaling {
        addr,
        stop,
        seen: rx,
    }
}

/// Everything the netlab side saw until its session ended.
fn seen_until_ended(s: &Signaling) -> Vec<Seen> {
    let mut all = Vec::new();
    while let Ok(e) = s.seen.recv_timeout(Duration::from_secs(20)) {
        let end = e == Seen::Ended;
        all.push(e);
        if end {
            break;
        }
    }
    all
}

/// The JSON line a driver printed, as text fields we check with `contains`.
fn field(out: &str, name: &str) -> String {
    let at = out
        .find(&format!("\"{name}\":"))
        .unwrap_or_else(|| panic!("no {name} in {out}"));
    let rest = &out[at + name.len() + 3..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().trim_matches('"').to_string()
}

/// The checks both peers pass: the peer's maximum, "a" closed by our reset, "b" on the freed
/// id, the refusal and the largest message, "b" closed by the peer's reset.
fn check(role: &str, out: &str, seen: &[Seen], max: u32) {
    let a: u16 = field(out, "a").parse().unwrap();
    assert_eq!(
        field(out, "b"),
        a.to_string(),
        "\"b\" takes the freed id: {out}"
    );
    assert_eq!(field(out, "echo"), "on b", "{out}");
    assert_eq!(field(out, "bigLength"), max.to_string(), "{out}");
    assert_eq!(field(out, "afterBig"), "after big", "{out}");
    let n: u16 = field(out, "n1").parse().unwrap();
    assert_eq!(
        n % 2,
        1,
        "netlab, the DTLS server, opens odd ids (RFC 8832 §6): {out}"
    );
    assert_eq!(
        field(out, "n2"),
        n.to_string(),
        "netlab reuses its freed id: {out}"
    );
    assert_eq!(field(out, "nEcho"), "on n", "{out}");
    let want = [
        Seen::Open(a, "a".into()),
        Seen::Closing(a),
        Seen::Closed(a),
        Seen::Open(a, "b".into()),
        Seen::Refused(PeerError::TooLarge {
            size: max as usize + 1,
            max,
        }),
        Seen::SentMax(max),
        // Our channel "n", closed, and opened again on the same id.
        Seen::Opening(n),
        Seen::Open(n, "n".into()),
        Seen::Closing(n),
        Seen::Closed(n),
        Seen::Opening(n),
        Seen::Open(n, "n".into()),
        // The peer's reset of "b" reaches netlab as the channel's end.
        Seen::Closed(a),
    ];
    assert_eq!(
        &seen[..want.len()],
        &want,
        "netlab saw: {seen:?}\npeer: {out}"
    );
    let refused = PeerError::TooLarge {
        size: max as usize + 1,
        max,
    }
    .to_string();
    assert!(
        refused.contains(&format!("a=max-message-size is {max}")),
        "{refused}"
    );
    // Each step in the trace, in the RFCs' words: our reset and the peer's (RFC 6525 §4.1),
    // the id free again, the refusal.
    let lines = [
        format!("[dcep] · channel \"a\" on stream {a}: closed by us"),
        "[sctp] → RE-CONFIG Outgoing-SSN-Reset-Request".to_string(),
        format!("[dcep] · channel \"b\" on stream {a}: closed by the peer (its stream reset)"),
        "[sctp] ← RE-CONFIG Outgoing-SSN-Reset-Request".to_string(),
        "Re-configuration-Response".to_string(),
        format!("[sctp] · stream {a}: reset both ways, its id is free again"),
        format!(
            "stream {a}: message of {} bytes refused: over the peer's a=max-message-size:{max}",
            max + 1
        ),
    ];
    for line in lines {
        assert!(
            traced(role, &line),
            "no trace line of {role} with {line:?}:\n{}",
            trace_log().since(0).1.join("\n")
        );
    }
}

#[test]
fn chromium_and_netlab_close_channels_by_stream_reset_and_a_message_over_the_maximum_is_refused() {
    netns::enter();
    require("node");
    require("chromium");
    let s = serve("chromium-side");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/chromium.js");
    let out = run(
        "node",
        &[script, "channels", &format!("http://{}/", s.addr)],
        b"",
        &[],
        Duration::from_secs(90),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "chromium: {stdout}{}",
        text(&out.stderr)
    );
    // Chromium announces a=max-message-size:262144.
    assert_eq!(field(&stdout, "maxMessageSize"), "262144", "{stdout}");
    check("chromium-side", &stdout, &seen_until_ended(&s), 262144);
}

#[test]
fn aiortc_and_netlab_close_channels_by_stream_reset_and_a_message_over_the_maximum_is_refused() {
    netns::enter();
    let py = python_with("aiortc");
    let s = serve("aiortc-side");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/aiortc_peer.py");
    let out = run(
        &py,
        &[script, "channels", &format!("http://{}/webrtc", s.addr)],
        b"",
        &[],
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "aiortc: {stdout}{}",
        text(&out.stderr)
    );
    // aiortc 1.16 announces a=max-message-size:262144 too (its LOCAL_MAX_MESSAGE_SIZE).
    assert_eq!(field(&stdout, "maxMessageSize"), "262144", "{stdout}");
    check("aiortc-side", &stdout, &seen_until_ended(&s), 262144);
}
