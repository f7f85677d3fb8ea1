//! netlab's full ICE agent (RFC 8445) with real peers, inside a loopback-only network
//! namespace, through netlab's own STUN and TURN servers: netlab to netlab (a
//! server-reflexive gathering, then every byte through the relay), aiortc and Chromium with
//! `iceTransportPolicy: "relay"` in both roles, so that the pair ICE selects, and the data
//! channel on it, is proven to go through `netlab turn serve`.

mod common;
#[path = "webrtc/netns.rs"]
mod netns;

use common::*;
use std::time::Duration;

const AIORTC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/aiortc_peer.py");
const CHROMIUM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/chromium.js");

fn turn_server() -> (Proc, String) {
    let mut turn = spawn_netlab(
        &["turn", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "stun")],
    );
    let addr = turn.listening();
    (turn, addr.to_string())
}

#[test]
fn netlab_to_netlab_full_ice_with_stun_then_only_through_turn() {
    netns::enter();
    let mut stun = spawn_netlab(&["stun", "serve", "--addr", "127.0.0.1:0"], &[]);
    let stun_addr = stun.listening().to_string();
    let (mut turn, turn_addr) = turn_server();
    let turn_uri = format!("turn:{turn_addr}");

    // Both full; on loopback the STUN server sees our host address: no NAT on the path.
    let mut server = spawn_netlab(
        &[
            "webrtc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--ice",
            "full",
            "--stun",
            &stun_addr,
            "--no-page-trace",
        ],
        &[("NETLAB_TRACE", "stun")],
    );
    let url = format!("http://{}/webrtc", server.listening());
    let out = run_netlab(
        &["webrtc", "connect", "--stun", &stun_addr, &url, "direct"],
        b"",
        &[("NETLAB_TRACE", "stun,dtls")],
        Duration::from_secs(60),
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(text(&out.stdout), "direct\n");
    assert!(
        err.contains("a host candidate already: no NAT on this path"),
        "{err}"
    );
    assert!(err.contains("ICE state completed: selected host"), "{err}");
    let log = server.stderr_until(&["ICE state completed"], Duration::from_secs(5));
    assert!(
        log.contains("ICE agent (full, RFC 8445): controlled"),
        "{log}"
    );
    drop(server);

    // The answerer gathers its relayed candidate only: the only pairs go through TURN.
    let mut server = spawn_netlab(
        &[
            "webrtc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--turn",
            &turn_uri,
            "--relay-only",
            "--no-page-trace",
        ],
        &[("NETLAB_TRACE", "stun,dtls")],
    );
    let url = format!("http://{}/webrtc", server.listening());
    let out = run_netlab(
        &[
            "webrtc",
            "connect",
            "--turn",
            &turn_uri,
            &url,
            "through",
            "the relay",
        ],
        b"",
        &[("NETLAB_TRACE", "stun,dtls")],
        Duration::from_secs(60),
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(text(&out.stdout), "through\nthe relay\n");
    // The 401 dance, then a relayed candidate, on the offerer's side too.
    assert!(err.contains("TURN Allocate error from"), "{err}");
    assert!(err.contains("401 Unauthorized"), "{err}");
    assert!(err.contains("local candidate gathered: relay"), "{err}");
    assert!(err.contains("remote candidate: relay"), "{err}");
    let log = server.stderr_until(
        &["through the TURN relay", "TURN ChannelBind success"],
        Duration::from_secs(5),
    );
    assert!(log.contains("relay only: no host"), "{log}");
    assert!(log.contains("ICE state completed: selected relay"), "{log}");
    assert!(log.contains("TURN ChannelBind success"), "{log}");
    let relayed = turn.stderr_until(&["ChannelData 0x4000"], Duration::from_secs(5));
    assert!(relayed.contains("ChannelData 0x4000"), "{relayed}");
    drop(stun);
}

#[test]
fn aiortc_relay_only_offers_to_netlab_and_netlab_relay_only_to_aiortc() {
    netns::enter();
    let py = python_with("aiortc");
    let (mut turn, turn_addr) = turn_server();
    let port = turn_addr.rsplit(':').next().unwrap().to_string();
    let creds = format!("{port}:netlab:netlab");
    let turn_uri = format!("turn:{turn_addr}");

    // aiortc offers with relayed candidates only; netlab answers as a full agent with a TURN
    // server of its own (controlled).
    let mut server = spawn_netlab(
        &[
            "webrtc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--turn",
            &turn_uri,
            "--no-page-trace",
        ],
        &[("NETLAB_TRACE", "stun")],
    );
    let url = format!("http://{}/webrtc", server.listening());
    let out = run(
        &py,
        &[AIORTC, "offer", &url, "--turn", &creds, "--relay"],
        b"",
        &[],
        Duration::from_secs(90),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains("echoed: text, binary, empty, unicode, 100000-byte binary"),
        "aiortc: {stdout}\n{}\nnetlab: {}",
        text(&out.stderr),
        server.stderr_so_far()
    );
    assert!(stdout.contains("pair relay -> "), "{stdout}");
    let log = server.stderr_until(&["ICE state completed"], Duration::from_secs(5));
    assert!(log.contains("remote candidate: relay"), "{log}");
    assert!(
        log.contains("ICE agent (full, RFC 8445): controlled"),
        "{log}"
    );
    drop(server);

    // netlab offers (controlling) with relayed candidates only; aiortc answers without any.
    let mut aiortc = spawn_watched(&py, &[AIORTC, "answer"]);
    let url = format!("http://{}/webrtc", aiortc.listening());
    let out = run_netlab(
        &[
            "webrtc",
            "connect",
            "--turn",
            &turn_uri,
            "--relay-only",
            &url,
            "relayed",
        ],
        b"",
        &[("NETLAB_TRACE", "stun,dtls")],
        Duration::from_secs(60),
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(text(&out.stdout), "relayed\n");
    assert!(err.contains("ICE state completed: selected relay"), "{err}");
    assert!(err.contains("through the TURN relay"), "{err}");
    let log = turn.stderr_until(&["ChannelData"], Duration::from_secs(5));
    assert!(log.contains("ChannelData"), "{log}");
}

fn chromium_ready() {
    require("node");
    require("chromium");
    let module = concat!(env!("CARGO_MANIFEST_DIR"), "/node_modules/playwright-core");
    assert!(
        std::path::Path::new(module).exists(),
        "playwright-core is missing: run `make deps` (npm install, no browser download)"
    );
}

fn drive(args: &[&str]) -> (bool, String) {
    let mut all = vec![CHROMIUM];
    all.extend_from_slice(args);
    let out = run("node", &all, b"", &[], Duration::from_secs(90));
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn chromium_relay_only_to_netlab_full_in_both_roles() {
    netns::enter();
    chromium_ready();
    let (mut turn, turn_addr) = turn_server();
    let turn_uri = format!("turn:{turn_addr}");
    let mut server = spawn_netlab(
        &[
            "webrtc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--turn",
            &turn_uri,
        ],
        // dcep too: the page waits for DATA_CHANNEL_ACK in the trace it shows.
        &[("NETLAB_TRACE", "stun,dcep")],
    );
    let origin = format!("http://{}/", server.listening());

    // The page offers, relayed candidates only; netlab answers with the full agent.
    let page = format!("{origin}?turn={turn_addr}&relay=1");
    let (ok, out) = drive(&["echo", &page]);
    assert!(ok, "chromium: {out}");
    assert!(out.contains("\"pair\":\"relay -> "), "{out}");
    let log = server.stderr_until(&["ICE state completed"], Duration::from_secs(5));
    assert!(log.contains("remote candidate: relay"), "{log}");
    assert!(!log.contains("remote candidate: host"), "{log}");

    // netlab offers into a room with its own relayed candidate only; the page answers.
    let mut rust = spawn_netlab(
        &[
            "webrtc",
            "connect",
            "--room",
            "ice",
            "--timeout",
            "30000",
            "--turn",
            &turn_uri,
            "--relay-only",
            &origin,
            "hello chromium",
        ],
        &[("NETLAB_TRACE", "stun,dtls")],
    );
    let (ok, out) = drive(&["join", &page, "ice"]);
    let status = rust.wait_exit(Duration::from_secs(30));
    let err = rust.stderr_so_far();
    assert!(ok, "chromium: {out}\nnetlab: {err}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{err}");
    assert!(out.contains("\"pair\":\"relay -> relay\""), "{out}");
    assert!(err.contains("ICE state completed: selected relay"), "{err}");
    assert!(err.contains("through the TURN relay"), "{err}");
    let log = turn.stderr_until(&["ChannelData"], Duration::from_secs(5));
    assert!(log.contains("ChannelData"), "{log}");
}

#[test]
fn chromium_trickles_its_candidates_to_the_full_agent() {
    netns::enter();
    chromium_ready();
    let mut server = spawn_netlab(
        &["webrtc", "serve", "--addr", "127.0.0.1:0", "--ice", "full"],
        &[("NETLAB_TRACE", "sdp,stun,dcep")],
    );
    let origin = format!("http://{}/", server.listening());
    // The page POSTs its offer before gathering, then PATCHes each candidate as found.
    let (ok, out) = drive(&["echo", &format!("{origin}?trickle=1")]);
    assert!(ok, "chromium: {out}");
    let log = server.stderr_until(
        &[
            "end-of-candidates: the peer trickles no more",
            "ICE state completed",
        ],
        Duration::from_secs(5),
    );
    assert!(log.contains("PATCH trickle fragment"), "{log}");
    assert!(log.contains("remote candidate: host 127.0.0.1:"), "{log}");
    assert!(
        log.contains("end-of-candidates: the peer trickles no more"),
        "{log}"
    );
    assert!(log.contains("ICE state completed: selected host"), "{log}");
}

/// The index of the first trace line holding `what`, or a failure showing the trace.
fn line_of(trace: &str, what: &str) -> usize {
    trace
        .lines()
        .position(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?} in:\n{trace}"))
}

#[test]
fn a_trickling_offer_does_not_wait_for_a_silent_stun_server() {
    netns::enter();
    // A "STUN server" that reads and drops: gathering from it ends only at its timeout (2 s).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let stun = silent.local_addr().unwrap().to_string();
    let mut server = spawn_netlab(
        &[
            "webrtc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--no-page-trace",
        ],
        &[],
    );
    let url = format!("http://{}/webrtc", server.listening());
    let connect = |trickle: &str| {
        let out = run_netlab(
            &[
                "webrtc",
                "connect",
                "--stun",
                &stun,
                "--trickle",
                trickle,
                &url,
                "hello",
            ],
            b"",
            &[("NETLAB_TRACE", "sdp,stun,dcep")],
            Duration::from_secs(30),
        );
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(text(&out.stdout), "hello\n");
        err
    };

    // Trickle on: the offer leaves with the host candidate while the STUN request is out,
    // and the channel opens on the host pair before gathering gives up on the server.
    let err = connect("on");
    let offer = line_of(&err, "→ offer");
    assert!(
        err.lines()
            .nth(offer)
            .unwrap()
            .contains("a=ice-options:trickle"),
        "{err}"
    );
    assert!(
        line_of(&err, "Binding Request to STUN server") < offer,
        "{err}"
    );
    assert!(offer < line_of(&err, "channel \"chat\" open"), "{err}");
    assert!(err.contains("(gathering still under way)"), "{err}");
    if let Some(gave_up) = err
        .lines()
        .position(|l| l.contains("no server-reflexive candidate"))
    {
        assert!(gave_up > line_of(&err, "channel \"chat\" open"), "{err}");
    }

    // Trickle off: the offer waits for gathering to give up on the server.
    let err = connect("off");
    let offer = line_of(&err, "→ offer");
    assert!(
        line_of(&err, "no server-reflexive candidate from") < offer,
        "{err}"
    );
    assert!(!err.contains("PATCH"), "{err}");
    assert!(!err.contains("a=ice-options:trickle"), "{err}");
    drop(silent);
}

#[test]
fn netlab_trickles_its_only_candidate_a_relayed_one_to_aiortc_and_to_netlab() {
    netns::enter();
    let py = python_with("aiortc");
    let (mut turn, turn_addr) = turn_server();
    let port = turn_addr.rsplit(':').next().unwrap().to_string();
    let creds = format!("{port}:netlab:netlab");
    let turn_uri = format!("turn:{turn_addr}");
    let connect = |url: &str, message: &str| {
        let out = run_netlab(
            &[
                "webrtc",
                "connect",
                "--turn",
                &turn_uri,
                "--relay-only",
                url,
                message,
            ],
            b"",
            &[("NETLAB_TRACE", "sdp,stun,dtls")],
            Duration::from_secs(60),
        );
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(text(&out.stdout), format!("{message}\n"));
        // The offer names no candidate; the relayed one is PATCHed, then the end.
        let offer = line_of(&err, "→ offer");
        assert!(
            err.lines().nth(offer).unwrap().contains("0 candidate(s)"),
            "{err}"
        );
        let patched = line_of(&err, "(trickled): a=candidate:");
        assert!(
            err.lines().nth(patched).unwrap().contains("typ relay"),
            "{err}"
        );
        assert!(
            offer < line_of(&err, "local candidate gathered: relay"),
            "{err}"
        );
        assert!(
            line_of(&err, "local candidate gathered: relay") < patched,
            "{err}"
        );
        assert!(
            patched < line_of(&err, "(trickled): a=end-of-candidates"),
            "{err}"
        );
        assert!(err.contains("ICE state completed: selected relay"), "{err}");
        err
    };

    // aiortc answers relay-only too: its TURN allocation lets in only the peers it knows,
    // and it knows netlab's relayed address only from the PATCH. Without trickling no check
    // gets through and ICE fails.
    let mut aiortc = spawn_watched(&py, &[AIORTC, "answer", "--turn", &creds, "--relay"]);
    let url = format!("http://{}/webrtc", aiortc.listening());
    connect(&url, "trickled to aiortc");
    // What aiortc printed: each PATCH it took, and the pair (all before the echo came back).
    let out = aiortc.stdout.as_mut().unwrap();
    let mut seen = String::new();
    while !(seen.contains("trickled: end-of-candidates") && seen.contains("pair ")) {
        let mut line = String::new();
        if std::io::BufRead::read_line(out, &mut line).unwrap_or(0) == 0 {
            break;
        }
        seen.push_str(&line);
    }
    assert!(seen.contains("pair relay -> relay"), "{seen}");
    assert!(seen.contains("trickled: relay 127.0.0.1"), "{seen}");
    assert!(seen.contains("trickled: end-of-candidates"), "{seen}");

    // The same with netlab's full agent answering relay-only (it permits, and checks, only
    // the remote candidates it knows). It trickles too: its answer names no candidate, and
    // its relayed one comes back in the response to a PATCH.
    let mut server = spawn_netlab(
        &[
            "webrtc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--turn",
            &turn_uri,
            "--relay-only",
            "--no-page-trace",
        ],
        &[("NETLAB_TRACE", "sdp,stun")],
    );
    let url = format!("http://{}/webrtc", server.listening());
    let err = connect(&url, "trickled to netlab");
    assert!(
        err.contains("typ relay raddr 127.0.0.1 rport")
            && err.contains("(the answerer's, trickled in the response to PATCH /webrtc/1)"),
        "{err}"
    );
    let answer = line_of(&err, "· answer:");
    assert!(
        err.lines().nth(answer).unwrap().contains("candidates=[]"),
        "{err}"
    );
    let log = server.stderr_until(&["ICE state completed"], Duration::from_secs(5));
    let patch = line_of(&log, "PATCH trickle fragment");
    assert!(patch < line_of(&log, "remote candidate: relay"), "{log}");
    assert!(
        log.contains("end-of-candidates: the peer trickles no more"),
        "{log}"
    );
    let relayed = turn.stderr_until(&["ChannelData"], Duration::from_secs(5));
    assert!(relayed.contains("ChannelData"), "{relayed}");
}

#[test]
fn chromium_takes_the_relayed_candidate_netlab_trickles_in_its_patch_responses() {
    netns::enter();
    chromium_ready();
    let (mut turn, turn_addr) = turn_server();
    let turn_uri = format!("turn:{turn_addr}");
    // netlab answers relay-only: its answer names no candidate, and its relayed one reaches
    // the page only in the response to a PATCH. The page is relay-only too, so its TURN
    // allocation lets in only the peers it was told of: without the trickle, no check passes.
    let mut server = spawn_netlab(
        &[
            "webrtc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--turn",
            &turn_uri,
            "--relay-only",
        ],
        &[("NETLAB_TRACE", "sdp,stun,dcep")],
    );
    let origin = format!("http://{}/", server.listening());
    let (ok, out) = drive(&["echo", &format!("{origin}?turn={turn_addr}&relay=1")]);
    assert!(ok, "chromium: {out}\nnetlab: {}", server.stderr_so_far());
    assert!(out.contains("\"pair\":\"relay -> relay\""), "{out}");
    let log = server.stderr_until(&["ICE state completed"], Duration::from_secs(5));
    let answer = line_of(&log, "→ answer");
    assert!(
        log.lines().nth(answer).unwrap().contains("0 candidate(s)"),
        "{log}"
    );
    assert!(
        answer < line_of(&log, "local candidate gathered: relay"),
        "{log}"
    );
    assert!(
        line_of(&log, "local candidate gathered: relay")
            < line_of(
                &log,
                "200 to the PATCH: 2 line(s) of our own trickled candidates"
            ),
        "{log}"
    );
    assert!(log.contains("ICE state completed: selected relay"), "{log}");
    let relayed = turn.stderr_until(&["ChannelData"], Duration::from_secs(5));
    assert!(relayed.contains("ChannelData"), "{relayed}");
}
