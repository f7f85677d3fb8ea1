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
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/aiortc_peer.py");
const MESSAGES: usize = 1000;
const SIZE: usize = 16 * 1024;

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

/// aiortc as the offering client: (open ms, MB/s) from `aiortc_peer.py offer URL N`.
fn aiortc_client(url: &str, n: usize) -> (f64, f64) {
    let out = Command::new(python())
        .args([SCRIPT, "offer", url, &n.to_string()])
        .output()
        .expect("aiortc (run make deps)");
    let text = String::from_utf8_lossy(&out.stdout);
    let num = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no {prefix:?} in aiortc's output: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    };
    (num("open "), if n > 0 { num("throughput ") } else { 0.0 })
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
    peer.wait_open(Duration::from_secs(15)).expect("open");
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
                Some(Event::Ended(e)) => panic!("session ended: {e:?}"),
                Some(_) => {}
                None => panic!("echoes stopped after {got} of {n}"),
            }
        }
        mbps = bytes as f64 / t1.elapsed().as_secs_f64() / 1e6;
    }
    peer.close();
    (open_ms, mbps)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
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

    // Offer to open: the median of five connections each way.
    let open = |f: &dyn Fn(&str, usize) -> (f64, f64), url: &str| {
        median((0..5).map(|_| f(url, 0).0).collect())
    };
    let a_open_ours = open(&aiortc_client, &ours_url);
    let a_open_theirs = open(&aiortc_client, &theirs_url);
    let n_open_ours = open(&netlab_client, &ours_url);
    let n_open_theirs = open(&netlab_client, &theirs_url);
    let (_, a_tp_ours) = aiortc_client(&ours_url, MESSAGES);
    let (_, a_tp_theirs) = aiortc_client(&theirs_url, MESSAGES);
    let (_, n_tp_ours) = netlab_client(&ours_url, MESSAGES);
    let (_, n_tp_theirs) = netlab_client(&theirs_url, MESSAGES);
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
    let by = |config: &Config| {
        median(
            (0..5)
                .map(|_| netlab_client_with(&ours_url, 0, config.clone()).0)
                .collect(),
        )
    };
    let open_host = by(&Config::default());
    let open_srflx = by(&with_stun);
    let open_relay = by(&relay_only);
    let (_, tp_relay) = netlab_client_with(&ours_url, MESSAGES, relay_only.clone());
    drop(turn);
    drop(stun);
    drop(ours);

    let rows = vec![
        Row::higher_is_better(
            "data channel echo, 1000 × 16 KiB reliable ordered, aiortc offering (MB/s)",
            a_tp_ours,
            a_tp_theirs,
            "aiortc answerer",
        ),
        Row::lower_is_better(
            "offer to open, aiortc offering (ms, median of 5)",
            a_open_ours,
            a_open_theirs,
            "aiortc answerer",
        ),
        Row::higher_is_better(
            "data channel echo, 1000 × 16 KiB reliable ordered, netlab offering (MB/s)",
            n_tp_ours,
            n_tp_theirs,
            "aiortc answerer",
        ),
        Row::lower_is_better(
            "offer to open, netlab offering (ms, median of 5)",
            n_open_ours,
            n_open_theirs,
            "aiortc answerer",
        ),
        Row::higher_is_better(
            "data channel echo through netlab's TURN relay (relayed candidate only), netlab offering (MB/s)",
            tp_relay,
            n_tp_ours,
            "direct (host pair)",
        ),
        Row::lower_is_better(
            "offer to open, relayed candidate only (ms, median of 5)",
            open_relay,
            open_host,
            "host candidates only",
        ),
        Row::lower_is_better(
            "offer to open, host + server-reflexive from netlab's STUN server (ms, median of 5)",
            open_srflx,
            open_host,
            "host candidates only",
        ),
    ];
    write_table(
        "webrtc",
        &format!("WebRTC data channels — {}", machine()),
        &rows,
    );
}
