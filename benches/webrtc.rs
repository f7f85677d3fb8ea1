//! `make bench` for WebRTC data channels, netlab next to aiortc in one run, each pair with
//! the same counterpart:
//! - throughput (MB/s echoed, reliable ordered channel, 16 KiB messages) and the time from
//!   offer to open, with aiortc as the offering client, against `netlab webrtc serve` and
//!   against an aiortc answerer;
//! - the same two numbers with netlab's Rust peer as the offering client;
//! - ICE: netlab's echo through `netlab turn serve` (the offerer gathers its relayed candidate
//!   only) next to the direct one, and the time to open per candidate type: host only, with a
//!   STUN server's server-reflexive candidate gathered (on loopback it equals the host one, so
//!   this measures the gathering), and relayed only.
//!
//! Runs in a loopback-only network namespace of its own (needs root, like the interop tests).

mod common;
use common::*;
use netlab::http::uri::Url;
use netlab::http1::client::{Client, Options, Outgoing};
use netlab::webrtc::dcep::ChannelType;
use netlab::webrtc::dtls::Identity;
use netlab::webrtc::peer::{Config, Event, Message, Peer, TurnServer};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/aiortc_peer.py");
const MESSAGES: usize = 1000;
const SIZE: usize = 16 * 1024;
/// Alternating pairs per row: the time to open is short, a throughput run against aiortc
/// takes 10–20 s (aiortc echoes ~1 MB/s), and `make bench` must stay under 15 minutes.
const OPEN_PAIRS: usize = 5;
const TP_PAIRS: usize = 3;
/// The longest an aiortc run may take before it is killed and its row reported failed.
const OPEN_LIMIT: Duration = Duration::from_secs(40);
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn python() -> String {
    format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR"))
}

fn loopback_only() {
    use nix::sched::{CloneFlags, unshare};
    unshare(CloneFlags::CLONE_NEWNET).expect("the WebRTC bench runs as root (unshare -n)");
    let ok = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip link set lo up");
}

/// aiortc as the offering client: (open ms, MB/s) from `aiortc_peer.py offer URL N`, or
/// NaN for a run that failed or overran `limit` (the child is killed then): a stalled run
/// becomes a failed row, not a bench that never ends.
fn aiortc_client(url: &str, n: usize, limit: Duration) -> (f64, f64) {
    let mut child = Command::new(python())
        .args([SCRIPT, "offer", url, &n.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aiortc (run make deps)");
    let out = read_to_end(child.stdout.take().expect("stdout"));
    let err = read_to_end(child.stderr.take().expect("stderr"));
    let start = Instant::now();
    let overran = loop {
        if child.try_wait().ok().flatten().is_some() {
            break false;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break true;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (text, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let num = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                let why = if overran {
                    "overran its limit"
                } else {
                    "failed"
                };
                eprintln!("bench: aiortc offering to {url} {why}, no {prefix:?}: {text}{err}");
                f64::NAN
            })
    };
    (num("open "), if n > 0 { num("throughput ") } else { 0.0 })
}

/// Reads a pipe to its end on a thread of its own (so the child never blocks on a full pipe).
fn read_to_end(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

fn post(url: &str, sdp: &str) -> String {
    let mut req = Outgoing::new("POST", Url::parse(url).expect("url"));
    req.headers.set("Content-Type", "application/sdp");
    req.body = sdp.as_bytes().to_vec();
    let resp = Client::new(Options::default())
        .send(&req)
        .expect("POST the offer");
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    String::from_utf8(resp.body).expect("answer")
}

/// netlab's peer as the offering client: (open ms, MB/s echoed).
fn netlab_client(url: &str, n: usize) -> (f64, f64) {
    netlab_client_with(url, n, Config::default())
}

/// The same with ICE settings of its own (STUN, TURN, relay only).
fn netlab_client_with(url: &str, n: usize, config: Config) -> (f64, f64) {
    let identity = Identity::generate().expect("certificate");
    let t0 = Instant::now();
    let offer = Peer::offer(&identity, config).expect("offer");
    let answer = post(url, &offer.sdp);
    let mut peer = offer.accept(&answer).expect("answer");
    let id = peer.open("bench", ChannelType::RELIABLE);
    if let Err(e) = peer.wait_open(Duration::from_secs(15)) {
        eprintln!("bench: netlab offering to {url}: the channel did not open: {e}");
        return (f64::NAN, f64::NAN);
    }
    let open_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let mut mbps = 0.0;
    if n > 0 {
        let payload = vec![0x5au8; SIZE];
        let t1 = Instant::now();
        for _ in 0..n {
            peer.send(id, Message::Binary(payload.clone()))
                .expect("send");
        }
        let mut bytes = 0;
        let mut got = 0;
        while got < n {
            match peer.recv(Duration::from_secs(60)) {
                Some(Event::Message(_, Message::Binary(b))) => {
                    bytes += b.len();
                    got += 1;
                }
                Some(Event::Ended(e)) => {
                    eprintln!("bench: netlab offering to {url}: session ended: {e:?}");
                    return (open_ms, f64::NAN);
                }
                Some(_) => {}
                None => {
                    eprintln!("bench: netlab offering to {url}: echoes stopped at {got} of {n}");
                    return (open_ms, f64::NAN);
                }
            }
        }
        mbps = bytes as f64 / t1.elapsed().as_secs_f64() / 1e6;
    }
    peer.close();
    (open_ms, mbps)
}

fn main() {
    loopback_only();
    let ours = Server::netlab(&[
        "webrtc",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--no-page-trace",
    ]);
    let theirs = Server::program(&python(), &[SCRIPT, "answer"]);
    let (ours_url, theirs_url) = (
        format!("http://{}/webrtc", ours.addr),
        format!("http://{}/webrtc", theirs.addr),
    );

    // Every row: medians of alternating pairs, netlab's side then the other.
    let aiortc_open = |url: &str| aiortc_client(url, 0, OPEN_LIMIT).0;
    let aiortc_tp = |url: &str| aiortc_client(url, MESSAGES, RUN_LIMIT).1;
    let (a_open_ours, a_open_theirs) = alternating(
        OPEN_PAIRS,
        || aiortc_open(&ours_url),
        || aiortc_open(&theirs_url),
    );
    let (n_open_ours, n_open_theirs) = alternating(
        OPEN_PAIRS,
        || netlab_client(&ours_url, 0).0,
        || netlab_client(&theirs_url, 0).0,
    );
    let (a_tp_ours, a_tp_theirs) =
        alternating(TP_PAIRS, || aiortc_tp(&ours_url), || aiortc_tp(&theirs_url));
    let (n_tp_ours, n_tp_theirs) = alternating(
        TP_PAIRS,
        || netlab_client(&ours_url, MESSAGES).1,
        || netlab_client(&theirs_url, MESSAGES).1,
    );
    drop(theirs);

    // ICE: the relay against direct, and the time to open per candidate type.
    let stun = Server::netlab(&["stun", "serve", "--addr", "127.0.0.1:0"]);
    let turn = Server::netlab(&["turn", "serve", "--addr", "127.0.0.1:0"]);
    let with_stun = Config {
        stun: Some(stun.addr),
        ..Config::default()
    };
    let relay_only = Config {
        turn: Some(TurnServer {
            addr: turn.addr,
            user: "netlab".into(),
            pass: "netlab".into(),
        }),
        relay_only: true,
        ..Config::default()
    };
    let open_with = |config: &Config| netlab_client_with(&ours_url, 0, config.clone()).0;
    let (open_relay, open_host) = alternating(
        OPEN_PAIRS,
        || open_with(&relay_only),
        || open_with(&Config::default()),
    );
    let (open_srflx, open_host_2) = alternating(
        OPEN_PAIRS,
        || open_with(&with_stun),
        || open_with(&Config::default()),
    );
    let (tp_relay, tp_direct) = alternating(
        TP_PAIRS,
        || netlab_client_with(&ours_url, MESSAGES, relay_only.clone()).1,
        || netlab_client(&ours_url, MESSAGES).1,
    );
    drop(turn);
    drop(stun);
    drop(ours);

    let rows = vec![
        Row::higher_is_better(
            &format!(
                "data channel echo, 1000 × 16 KiB reliable ordered, aiortc offering (MB/s, median of {TP_PAIRS} alternating pairs)"
            ),
            a_tp_ours,
            a_tp_theirs,
            "aiortc answerer",
        ),
        Row::lower_is_better(
            &format!(
                "offer to open, aiortc offering (ms, median of {OPEN_PAIRS} alternating pairs)"
            ),
            a_open_ours,
            a_open_theirs,
            "aiortc answerer",
        ),
        Row::higher_is_better(
            &format!(
                "data channel echo, 1000 × 16 KiB reliable ordered, netlab offering (MB/s, median of {TP_PAIRS} alternating pairs)"
            ),
            n_tp_ours,
            n_tp_theirs,
            "aiortc answerer",
        ),
        Row::lower_is_better(
            &format!(
                "offer to open, netlab offering (ms, median of {OPEN_PAIRS} alternating pairs)"
            ),
            n_open_ours,
            n_open_theirs,
            "aiortc answerer",
        ),
        Row::higher_is_better(
            &format!(
                "data channel echo through netlab's TURN relay (relayed candidate only), netlab offering (MB/s, median of {TP_PAIRS} alternating pairs)"
            ),
            tp_relay,
            tp_direct,
            "direct (host pair)",
        ),
        Row::lower_is_better(
            &format!(
                "offer to open, relayed candidate only (ms, median of {OPEN_PAIRS} alternating pairs)"
            ),
            open_relay,
            open_host,
            "host candidates only",
        ),
        Row::lower_is_better(
            &format!(
                "offer to open, host + server-reflexive from netlab's STUN server (ms, median of {OPEN_PAIRS} alternating pairs)"
            ),
            open_srflx,
            open_host_2,
            "host candidates only",
        ),
    ];
    write_table(
        "webrtc",
        &format!("WebRTC data channels — {}", machine()),
        &rows,
    );
}
