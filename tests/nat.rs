//! NAT traversal on one machine (`netlab nat`, src/l4/netns.rs): the namespaces, the two
//! kinds of NAT proven by what a STUN server sees, and the cleanup on every way out. Root
//! only (CI runs as root): without it these tests fail with what to do, they do not skip.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// The namespaces whose names say process `pid` made them.
fn namespaces_of(pid: u32) -> BTreeSet<String> {
    let prefix = format!("netlab-{pid}-");
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// The processes inside namespace `ns`.
fn pids_in(ns: &str) -> Vec<u32> {
    let out = Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .expect("ip netns pids");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

fn gone_within(pids: &[u32], limit: Duration) -> bool {
    let start = Instant::now();
    while pids.iter().any(|p| alive(*p)) {
        if start.elapsed() > limit {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
    true
}

fn root() {
    assert!(
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))),
        "the NAT tests make network namespaces: run them as root"
    );
    require("nft");
    require("ip");
}

/// `netlab nat probe`'s table: the two mapped addresses, and its verdict line.
fn probe(nat: &str) -> (Vec<String>, String) {
    root();
    let out = run_netlab(
        &["nat", "probe", "--nat", nat],
        b"",
        &[],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "netlab nat probe --nat {nat} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mapped: Vec<String> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("203.0.113."))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect();
    assert_eq!(mapped.len(), 2, "{stdout}");
    let verdict = stdout
        .lines()
        .find(|l| l.starts_with("mapping: "))
        .unwrap_or_else(|| panic!("no verdict in {stdout}"))
        .to_string();
    // The trace shows the probe's own steps, both servers answered from the NAT's WAN.
    let trace = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        trace
            .matches("[stun] → Binding Request to 203.0.113.")
            .count(),
        2,
        "{trace}"
    );
    assert!(trace.contains("removed"), "{trace}");
    (mapped, verdict)
}

#[test]
fn an_endpoint_independent_nat_keeps_the_port_for_every_destination() {
    let (mapped, verdict) = probe("eim");
    assert!(mapped[0].starts_with("203.0.113.10:"), "{mapped:?}");
    assert_eq!(
        mapped[0], mapped[1],
        "the same external address:port for both servers"
    );
    assert!(verdict.contains("endpoint-independent"), "{verdict}");
}

#[test]
fn a_symmetric_nat_takes_a_new_port_per_destination() {
    let (mapped, verdict) = probe("symmetric");
    let ip = |m: &str| m.rsplit_once(':').unwrap().0.to_string();
    assert_eq!(ip(&mapped[0]), "203.0.113.10");
    assert_eq!(ip(&mapped[1]), "203.0.113.10");
    assert_ne!(mapped[0], mapped[1], "a new external port per destination");
    assert!(verdict.contains("symmetric"), "{verdict}");
}

/// A running `netlab nat up`, ended by SIGTERM when dropped (a SIGKILL, what `Proc`'s drop
/// sends, would leave its namespaces behind for `netlab nat down`).
struct Up(Proc);

impl Up {
    fn pid(&self) -> u32 {
        self.0.pid()
    }

    fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        assert!(sent.is_ok_and(|s| s.success()));
        self.0.wait_exit(Duration::from_secs(10))
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.0.child.try_wait() {
            self.terminate();
        }
    }
}

/// `netlab nat up` until its `ready` line; returns it with its namespaces and the servers'
/// pids in the public one.
fn up() -> (Up, BTreeSet<String>, Vec<u32>) {
    root();
    let mut up = spawn_netlab(&["nat", "up", "--nat-b", "symmetric"], &[]);
    let out = up.stdout.as_mut().expect("stdout piped");
    let mut said = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !said.contains("ready:") {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(out, &mut line).expect("read stdout");
        assert!(n > 0 && Instant::now() < deadline, "netlab nat up: {said}");
        said.push_str(&line);
    }
    assert!(said.contains("symmetric"), "{said}");
    let names = namespaces_of(up.pid());
    assert_eq!(names.len(), 5, "{names:?}");
    let public = names.iter().find(|n| n.ends_with("-pub")).unwrap();
    let servers = pids_in(public);
    assert_eq!(servers.len(), 4, "signaling, STUN ×2, TURN in {public}");
    (Up(up), names, servers)
}

#[test]
fn sigterm_stops_the_servers_and_removes_the_namespaces() {
    let (mut up, _, servers) = up();
    let status = up.terminate().expect("netlab nat up exits");
    assert_eq!(status.code(), Some(128 + 15), "exits as SIGTERM would");
    assert!(namespaces_of(up.pid()).is_empty());
    assert!(
        gone_within(&servers, Duration::from_secs(5)),
        "servers {servers:?} stopped"
    );
}

#[test]
fn down_removes_what_a_killed_run_left_and_nothing_live() {
    let (mut up, names, servers) = up();
    // A live run elsewhere (this test's other one may be running too): down leaves it.
    let (_live, live_names, _) = self::up();
    let _ = up.0.child.kill();
    let _ = up.0.child.wait();
    assert_eq!(
        namespaces_of(up.pid()),
        names,
        "SIGKILL leaves the namespaces"
    );
    assert!(servers.iter().all(|p| alive(*p)), "and the servers in them");
    let out = run_netlab(&["nat", "down"], b"", &[], Duration::from_secs(30));
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    for n in &names {
        assert!(said.contains(&format!("removed {n}")), "{said}");
    }
    assert!(namespaces_of(up.pid()).is_empty());
    assert!(
        gone_within(&servers, Duration::from_secs(5)),
        "servers {servers:?} stopped"
    );
    for n in &live_names {
        assert!(
            !said.contains(n.as_str()),
            "a live run's {n} was left alone: {said}"
        );
        assert!(std::path::Path::new("/run/netns").join(n).exists());
    }
}

/// How one pair of peers ended: each side's gathered candidate types and its last line
/// (`open pair …` or `failed …`).
struct Outcome {
    offer: Vec<String>,
    answer: Vec<String>,
}

impl Outcome {
    fn opened(&self) -> bool {
        let open = |lines: &[String]| lines.iter().any(|l| l.starts_with("open pair "));
        open(&self.offer) && open(&self.answer)
    }

    /// The kinds of candidate that side got by trickle through the room (netlab_peer.py's
    /// `trickled-in` line), or `None` when it did not trickle.
    fn trickled_in(side: &[String]) -> Option<Vec<String>> {
        let line = side.iter().find(|l| l.starts_with("trickled-in"))?;
        Some(line.split_whitespace().skip(1).map(String::from).collect())
    }

    /// Milliseconds from that side's start to its selected pair (netlab_peer.py's line).
    fn since_start(side: &[String]) -> Option<u64> {
        let line = side.iter().find(|l| l.starts_with("since start "))?;
        line.split_whitespace().nth(2)?.parse().ok()
    }

    /// "host -> srflx" from the offerer's `open pair` line: local type, remote type.
    fn pair(&self, side: &[String]) -> Option<(String, String)> {
        let line = side.iter().find(|l| l.starts_with("open pair "))?;
        let w: Vec<&str> = line.split_whitespace().collect();
        Some((w[2].to_string(), w[5].to_string()))
    }

    fn row(&self, nats: &str, ice: &str) -> String {
        let result = |side: &[String]| {
            side.iter()
                .find(|l| l.starts_with("open pair ") || l.starts_with("failed"))
                .cloned()
                .unwrap_or_else(|| format!("no result: {side:?}"))
        };
        format!(
            "| {nats} | {ice} | {} | {} |",
            result(&self.offer),
            result(&self.answer)
        )
    }
}

/// The programs that play a peer in a home, each printing the lines `Outcome` reads.
#[derive(Clone, Copy)]
enum Peer {
    /// tests/nat/aiortc_peer.py: aiortc, offering or answering.
    Aiortc,
    /// tests/nat/chromium.js: Debian's chromium, offering only.
    Chromium,
    /// tests/nat/netlab_peer.py: netlab's full ICE agent, `webrtc connect --room` offering,
    /// `webrtc serve` (handed the room's offer by tests/nat/room_bridge.py) answering.
    Netlab,
}

const SIGNAL: &str = "http://203.0.113.1:8090";
/// How long a peer waits for its channel to open before it says `failed`.
const WAIT: &str = "8";

impl Peer {
    /// The program and its arguments, as `role` (offer, answer) in room `room`; netlab and
    /// Chromium trickle through the room if `trickle` (aiortc never: it fetches nothing
    /// from the room).
    fn command(self, role: &str, room: &str, ice: &str, trickle: bool) -> (String, Vec<String>) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nat/");
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            Peer::Aiortc => (
                python_with("aiortc"),
                words(&[
                    &format!("{dir}aiortc_peer.py"),
                    role,
                    SIGNAL,
                    room,
                    ice,
                    WAIT,
                ]),
            ),
            Peer::Netlab => (
                "env".into(),
                words(&[
                    &format!("NETLAB={NETLAB}"),
                    &format!("NETLAB_TRICKLE={}", if trickle { "on" } else { "off" }),
                    &python_with("urllib"),
                    &format!("{dir}netlab_peer.py"),
                    role,
                    SIGNAL,
                    room,
                    ice,
                    WAIT,
                ]),
            ),
            Peer::Chromium => {
                require("chromium");
                require("node");
                let mut args =
                    words(&[&format!("{dir}chromium.js"), role, SIGNAL, room, ice, WAIT]);
                if trickle {
                    args.push("trickle".into());
                }
                ("node".into(), args)
            }
        }
    }
}

/// `offerer` in home A and `answerer` in home B connect through the room `room` of the
/// public signaling server, allowed the ICE servers `ice` (host, stun, turn); netlab to
/// netlab trickles its candidates through the room, the others send them in the SDP.
fn pair(
    topology: &mut netlab::l4::netns::Topology,
    peers: (Peer, Peer),
    room: &str,
    ice: &str,
) -> Outcome {
    let trickle = matches!(peers, (Peer::Netlab, Peer::Netlab));
    pair_trickling(topology, peers, room, ice, trickle)
}

/// [`pair`], trickling or not. Bounded: both peers are stopped (by pid) if they have not
/// finished in 90 s.
fn pair_trickling(
    topology: &mut netlab::l4::netns::Topology,
    (offerer, answerer): (Peer, Peer),
    room: &str,
    ice: &str,
    trickle: bool,
) -> Outcome {
    let (home_a, home_b) = (topology.a.host.clone(), topology.b.host.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let mut pids = Vec::new();
    for (side, ns, peer, role) in [
        (0, home_a, offerer, "offer"),
        (1, home_b, answerer, "answer"),
    ] {
        let (program, args) = peer.command(role, room, ice, trickle);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = topology
            .spawn(&ns, &program, &args, std::process::Stdio::inherit())
            .expect("start a peer in its home");
        pids.push(child.id());
        let out = child.stdout.take().expect("stdout piped");
        let tx = tx.clone();
        thread::spawn(move || {
            let lines = std::io::BufRead::lines(std::io::BufReader::new(out));
            let _ = tx.send((side, lines.map_while(Result::ok).collect::<Vec<String>>()));
        });
    }
    let mut got = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + Duration::from_secs(90);
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((side, lines)) => got[side] = lines,
            Err(_) => {
                for pid in &pids {
                    topology.stop(*pid);
                }
            }
        }
    }
    let [offer, answer] = got;
    Outcome { offer, answer }
}

fn topology(a: netlab::l4::netns::Nat) -> netlab::l4::netns::Topology {
    root();
    let mut topology =
        netlab::l4::netns::Topology::up(a, netlab::l4::netns::Nat::EndpointIndependent)
            .expect("make the namespaces");
    topology
        .serve_public(NETLAB)
        .expect("start the public servers");
    topology
}

const AIORTC: (Peer, Peer) = (Peer::Aiortc, Peer::Aiortc);
const CHROMIUM: (Peer, Peer) = (Peer::Chromium, Peer::Aiortc);
const CHROMIUM_NETLAB: (Peer, Peer) = (Peer::Chromium, Peer::Netlab);
const NETLAB_AIORTC: (Peer, Peer) = (Peer::Netlab, Peer::Aiortc);
const NETLAB_NETLAB: (Peer, Peer) = (Peer::Netlab, Peer::Netlab);
const AIORTC_NETLAB: (Peer, Peer) = (Peer::Aiortc, Peer::Netlab);
const NETLAB_CHROMIUM: (Peer, Peer) = (Peer::Netlab, Peer::Chromium);

#[test]
fn aiortc_host_candidates_fail_across_nats_and_srflx_get_through_endpoint_independent_ones() {
    let mut t = topology(netlab::l4::netns::Nat::EndpointIndependent);
    let host = pair(&mut t, AIORTC, "eim-host", "host");
    println!("{}", host.row("EIM / EIM", "host only"));
    assert!(!host.opened(), "host candidates cannot cross the NATs");
    assert!(
        host.offer.contains(&"candidates host".to_string()),
        "{:?}",
        host.offer
    );
    assert!(
        host.offer.iter().any(|l| l.starts_with("failed")),
        "{:?}",
        host.offer
    );
    let stun = pair(&mut t, AIORTC, "eim-stun", "stun");
    println!("{}", stun.row("EIM / EIM", "+ STUN"));
    assert!(stun.opened(), "{:?} {:?}", stun.offer, stun.answer);
    assert!(
        stun.offer.contains(&"echo nat-ping".to_string()),
        "{:?}",
        stun.offer
    );
    // Each side reached the other's server-reflexive candidate: its NAT's WAN address.
    let (_, remote) = stun.pair(&stun.offer).unwrap();
    assert_eq!(remote, "srflx", "{:?}", stun.offer);
    let (_, remote) = stun.pair(&stun.answer).unwrap();
    assert_eq!(remote, "srflx", "{:?}", stun.answer);
}

#[test]
fn aiortc_behind_a_symmetric_nat_only_the_relay_gets_through() {
    let mut t = topology(netlab::l4::netns::Nat::Symmetric);
    let stun = pair(&mut t, AIORTC, "sym-stun", "stun");
    println!("{}", stun.row("symmetric / EIM", "+ STUN"));
    assert!(
        !stun.opened(),
        "srflx is no use behind a symmetric NAT: {:?}",
        stun.offer
    );
    assert!(
        stun.offer.contains(&"candidates host srflx".to_string()),
        "{:?}",
        stun.offer
    );
    let turn = pair(&mut t, AIORTC, "sym-turn", "turn");
    println!("{}", turn.row("symmetric / EIM", "+ STUN + TURN"));
    assert!(turn.opened(), "{:?} {:?}", turn.offer, turn.answer);
    assert!(
        turn.offer.contains(&"echo nat-ping".to_string()),
        "{:?}",
        turn.offer
    );
    let (a_local, a_remote) = turn.pair(&turn.offer).unwrap();
    let (b_local, b_remote) = turn.pair(&turn.answer).unwrap();
    assert!(
        [a_local, a_remote, b_local, b_remote]
            .iter()
            .any(|t| t == "relay"),
        "the chosen pair goes through netlab's TURN server: {:?} {:?}",
        turn.offer,
        turn.answer
    );
}

#[test]
fn chromium_to_aiortc_across_the_nats_host_fails_srflx_through_eim_relay_through_symmetric() {
    let mut eim = topology(netlab::l4::netns::Nat::EndpointIndependent);
    let host = pair(&mut eim, CHROMIUM, "c-eim-host", "host");
    println!("{}", host.row("Chromium → aiortc, EIM / EIM", "host only"));
    assert!(!host.opened(), "{:?} {:?}", host.offer, host.answer);
    assert!(
        host.offer.iter().any(|l| l.starts_with("failed")),
        "{:?}",
        host.offer
    );
    let stun = pair(&mut eim, CHROMIUM, "c-eim-stun", "stun");
    println!("{}", stun.row("Chromium → aiortc, EIM / EIM", "+ STUN"));
    assert!(stun.opened(), "{:?} {:?}", stun.offer, stun.answer);
    assert!(
        stun.offer.contains(&"echo nat-ping".to_string()),
        "{:?}",
        stun.offer
    );
    assert_eq!(
        stun.pair(&stun.offer).unwrap().1,
        "srflx",
        "{:?}",
        stun.offer
    );
    drop(eim);
    let mut sym = topology(netlab::l4::netns::Nat::Symmetric);
    let stun = pair(&mut sym, CHROMIUM, "c-sym-stun", "stun");
    println!(
        "{}",
        stun.row("Chromium → aiortc, symmetric / EIM", "+ STUN")
    );
    assert!(!stun.opened(), "{:?} {:?}", stun.offer, stun.answer);
    let turn = pair(&mut sym, CHROMIUM, "c-sym-turn", "turn");
    println!(
        "{}",
        turn.row("Chromium → aiortc, symmetric / EIM", "+ STUN + TURN")
    );
    assert!(turn.opened(), "{:?} {:?}", turn.offer, turn.answer);
    assert!(
        turn.offer.contains(&"echo nat-ping".to_string()),
        "{:?}",
        turn.offer
    );
    let (local, remote) = turn.pair(&turn.offer).unwrap();
    let (b_local, b_remote) = turn.pair(&turn.answer).unwrap();
    assert!(
        [local, remote, b_local, b_remote]
            .iter()
            .any(|t| t == "relay"),
        "{:?} {:?}",
        turn.offer,
        turn.answer
    );
}

/// netlab's own full ICE agent across two endpoint-independent NATs, in both roles: offering
/// (controlling) to aiortc, and answering (controlled, `netlab webrtc serve` behind NAT B)
/// Chromium. Host candidates fail, server-reflexive ones get through.
#[test]
fn netlab_across_eim_nats_host_fails_and_srflx_gets_through_both_roles() {
    let mut eim = topology(netlab::l4::netns::Nat::EndpointIndependent);
    for (peers, who, room) in [
        (NETLAB_AIORTC, "netlab → aiortc", "n-a"),
        (CHROMIUM_NETLAB, "Chromium → netlab", "c-n"),
    ] {
        let host = pair(&mut eim, peers, &format!("{room}-host"), "host");
        println!("{}", host.row(&format!("{who}, EIM / EIM"), "host only"));
        assert!(!host.opened(), "{:?} {:?}", host.offer, host.answer);
        assert!(
            host.offer.iter().any(|l| l.starts_with("failed")),
            "{:?}",
            host.offer
        );
        let stun = pair(&mut eim, peers, &format!("{room}-stun"), "stun");
        println!("{}", stun.row(&format!("{who}, EIM / EIM"), "+ STUN"));
        assert!(stun.opened(), "{who}: {:?} {:?}", stun.offer, stun.answer);
        assert!(
            stun.offer.contains(&"echo nat-ping".to_string()),
            "{:?}",
            stun.offer
        );
        assert_eq!(
            stun.pair(&stun.offer).unwrap().1,
            "srflx",
            "{:?}",
            stun.offer
        );
        assert_eq!(
            stun.pair(&stun.answer).unwrap().1,
            "srflx",
            "{:?}",
            stun.answer
        );
    }
}

#[test]
fn a_nat_that_is_neither_kind_is_a_usage_error() {
    for args in [
        &["nat", "probe", "--nat", "cone"][..],
        &["nat", "up", "--nat-b", "full-cone"][..],
        &["nat"][..],
        &["nat", "sideways"][..],
    ] {
        let out = run_netlab(args, b"", &[], Duration::from_secs(10));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

/// netlab's full ICE agent behind the symmetric NAT, offering to aiortc behind the EIM one:
/// its server-reflexive candidate is no use, and only a relay (netlab's TURN client and
/// aiortc's, both on netlab's TURN server) gets the channel through.
#[test]
fn netlab_behind_a_symmetric_nat_only_the_relay_gets_through() {
    let mut sym = topology(netlab::l4::netns::Nat::Symmetric);
    let stun = pair(&mut sym, NETLAB_AIORTC, "n-sym-stun", "stun");
    println!("{}", stun.row("netlab → aiortc, symmetric / EIM", "+ STUN"));
    assert!(!stun.opened(), "{:?} {:?}", stun.offer, stun.answer);
    assert!(
        stun.offer.iter().any(|l| l.starts_with("failed")),
        "{:?}",
        stun.offer
    );
    let turn = pair(&mut sym, NETLAB_AIORTC, "n-sym-turn", "turn");
    println!(
        "{}",
        turn.row("netlab → aiortc, symmetric / EIM", "+ STUN + TURN")
    );
    assert!(turn.opened(), "{:?} {:?}", turn.offer, turn.answer);
    assert!(
        turn.offer.contains(&"echo nat-ping".to_string()),
        "{:?}",
        turn.offer
    );
    assert!(
        turn.offer
            .contains(&"candidates host srflx relay".to_string()),
        "netlab gathered a relayed candidate: {:?}",
        turn.offer
    );
    let (local, remote) = turn.pair(&turn.offer).unwrap();
    let (b_local, b_remote) = turn.pair(&turn.answer).unwrap();
    assert!(
        [local, remote, b_local, b_remote]
            .iter()
            .any(|t| t == "relay"),
        "{:?} {:?}",
        turn.offer,
        turn.answer
    );
}

/// netlab answering (`netlab webrtc serve` behind NAT B, the controlled agent) and offering
/// to itself: through the EIM NATs by server-reflexive candidates, and with the offerer behind
/// the symmetric NAT only by the relay. The controlled side selects the valid pair its own
/// check produced (RFC 8445 §7.3.1.5), whose local candidate is the NAT's address.
#[test]
fn netlab_answering_aiortc_chromium_and_itself_srflx_through_eim_relay_through_symmetric() {
    let mut eim = topology(netlab::l4::netns::Nat::EndpointIndependent);
    for (peers, who, room) in [
        (NETLAB_NETLAB, "netlab → netlab", "nn-eim"),
        (AIORTC_NETLAB, "aiortc → netlab", "an-eim"),
    ] {
        let stun = pair(&mut eim, peers, &format!("{room}-stun"), "stun");
        println!("{}", stun.row(&format!("{who}, EIM / EIM"), "+ STUN"));
        assert!(stun.opened(), "{who}: {:?} {:?}", stun.offer, stun.answer);
        assert!(
            stun.offer.contains(&"echo nat-ping".to_string()),
            "{:?}",
            stun.offer
        );
        assert_eq!(
            stun.pair(&stun.answer).unwrap(),
            ("srflx".to_string(), "srflx".to_string()),
            "{who}: {:?}",
            stun.answer
        );
    }
    drop(eim);
    let mut sym = topology(netlab::l4::netns::Nat::Symmetric);
    let stun = pair(&mut sym, NETLAB_NETLAB, "nn-sym-stun", "stun");
    println!("{}", stun.row("netlab → netlab, symmetric / EIM", "+ STUN"));
    assert!(!stun.opened(), "{:?} {:?}", stun.offer, stun.answer);
    for (peers, who, room) in [
        (CHROMIUM_NETLAB, "Chromium → netlab", "cn-sym"),
        (AIORTC_NETLAB, "aiortc → netlab", "an-sym"),
    ] {
        let turn = pair(&mut sym, peers, &format!("{room}-turn"), "turn");
        println!(
            "{}",
            turn.row(&format!("{who}, symmetric / EIM"), "+ STUN + TURN")
        );
        assert!(turn.opened(), "{who}: {:?} {:?}", turn.offer, turn.answer);
        assert!(
            turn.offer.contains(&"echo nat-ping".to_string()),
            "{:?}",
            turn.offer
        );
        let (local, remote) = turn.pair(&turn.offer).unwrap();
        let (b_local, b_remote) = turn.pair(&turn.answer).unwrap();
        assert!(
            [local, remote, b_local, b_remote]
                .iter()
                .any(|t| t == "relay"),
            "{who}: {:?} {:?}",
            turn.offer,
            turn.answer
        );
    }
}

/// netlab → netlab with the offerer behind the symmetric NAT: only the relay pair works, and
/// the data channel's echo comes back through it (every SCTP batch wrapped for the TURN
/// server, not only single records).
#[test]
fn netlab_to_netlab_through_the_relay_echoes() {
    let mut sym = topology(netlab::l4::netns::Nat::Symmetric);
    let turn = pair(&mut sym, NETLAB_NETLAB, "nn-sym-turn", "turn");
    println!(
        "{}",
        turn.row("netlab → netlab, symmetric / EIM", "+ STUN + TURN")
    );
    assert!(turn.opened(), "{:?} {:?}", turn.offer, turn.answer);
    assert!(
        turn.offer.contains(&"echo nat-ping".to_string()),
        "{:?} {:?}",
        turn.offer,
        turn.answer
    );
    // Both trickled through the room: the offerer's relayed candidate (the only one that
    // works) reached the answerer by trickle alone.
    let relayed = Outcome::trickled_in(&turn.answer).unwrap_or_default();
    assert!(
        relayed.contains(&"relay".to_string()),
        "{relayed:?}: {:?}",
        turn.answer
    );
}

/// Trickle ICE through the room, netlab to netlab across the EIM NATs: the SDPs carry host
/// candidates only, the server-reflexive ones (the only ones that cross the NATs) follow
/// through `/rooms/R/candidates/…`, so the channel opens only if the room's trickle works.
/// The same run without trickle is timed next to it.
#[test]
fn netlab_to_netlab_trickles_through_the_room_and_srflx_come_only_that_way() {
    let mut eim = topology(netlab::l4::netns::Nat::EndpointIndependent);
    let on = pair_trickling(&mut eim, NETLAB_NETLAB, "nn-trickle", "stun", true);
    println!(
        "{}",
        on.row("netlab → netlab, EIM / EIM", "+ STUN, trickle")
    );
    assert!(on.opened(), "{:?} {:?}", on.offer, on.answer);
    assert!(
        on.offer.contains(&"echo nat-ping".to_string()),
        "{:?}",
        on.offer
    );
    for side in [&on.offer, &on.answer] {
        assert_eq!(
            Outcome::trickled_in(side),
            Some(vec!["srflx".to_string()]),
            "each side's srflx came by trickle: {side:?}"
        );
    }
    assert_eq!(on.pair(&on.offer).unwrap().1, "srflx", "{:?}", on.offer);
    assert_eq!(
        on.pair(&on.answer).unwrap(),
        ("srflx".to_string(), "srflx".to_string()),
        "{:?}",
        on.answer
    );
    let off = pair_trickling(&mut eim, NETLAB_NETLAB, "nn-full", "stun", false);
    println!(
        "{}",
        off.row("netlab → netlab, EIM / EIM", "+ STUN, gathered first")
    );
    assert!(off.opened(), "{:?} {:?}", off.offer, off.answer);
    assert_eq!(Outcome::trickled_in(&off.offer), None, "{:?}", off.offer);
    println!(
        "offerer's start to selected pair: trickle {:?} ms, gathered first {:?} ms",
        Outcome::since_start(&on.offer),
        Outcome::since_start(&off.offer)
    );
}

/// netlab offering (the controlling agent) to Chromium answering in the other home: through
/// the EIM NATs by server-reflexive candidates, and with netlab behind the symmetric NAT
/// only by a relay.
#[test]
fn netlab_offering_to_chromium_srflx_through_eim_relay_through_symmetric() {
    let mut eim = topology(netlab::l4::netns::Nat::EndpointIndependent);
    let stun = pair(&mut eim, NETLAB_CHROMIUM, "nc-eim-stun", "stun");
    println!("{}", stun.row("netlab → Chromium, EIM / EIM", "+ STUN"));
    assert!(stun.opened(), "{:?} {:?}", stun.offer, stun.answer);
    assert!(
        stun.offer.contains(&"echo nat-ping".to_string()),
        "{:?}",
        stun.offer
    );
    assert_eq!(
        stun.pair(&stun.offer).unwrap().1,
        "srflx",
        "{:?}",
        stun.offer
    );
    drop(eim);
    let mut sym = topology(netlab::l4::netns::Nat::Symmetric);
    let turn = pair(&mut sym, NETLAB_CHROMIUM, "nc-sym-turn", "turn");
    println!(
        "{}",
        turn.row("netlab → Chromium, symmetric / EIM", "+ STUN + TURN")
    );
    assert!(turn.opened(), "{:?} {:?}", turn.offer, turn.answer);
    assert!(
        turn.offer.contains(&"echo nat-ping".to_string()),
        "{:?}",
        turn.offer
    );
    let (local, remote) = turn.pair(&turn.offer).unwrap();
    assert!(
        local == "relay" || remote == "relay",
        "{:?} {:?}",
        turn.offer,
        turn.answer
    );
}

/// Trickle ICE through the room between netlab and Chromium across the EIM NATs, both ways
/// round: the SDPs go before gathering ends, and each side's srflx candidate reaches the
/// other only through `/rooms/R/candidates/…` (chromium.js POSTs onicecandidate's and
/// fetches netlab's).
#[test]
fn netlab_and_chromium_trickle_through_the_room_both_ways() {
    let mut eim = topology(netlab::l4::netns::Nat::EndpointIndependent);
    for (peers, who, room) in [
        (NETLAB_CHROMIUM, "netlab → Chromium", "nc-trickle"),
        (CHROMIUM_NETLAB, "Chromium → netlab", "cn-trickle"),
    ] {
        let on = pair_trickling(&mut eim, peers, room, "stun", true);
        println!(
            "{}",
            on.row(&format!("{who}, EIM / EIM"), "+ STUN, trickle")
        );
        assert!(on.opened(), "{who}: {:?} {:?}", on.offer, on.answer);
        assert!(
            on.offer.contains(&"echo nat-ping".to_string()),
            "{who}: {:?}",
            on.offer
        );
        for side in [&on.offer, &on.answer] {
            let kinds = Outcome::trickled_in(side).unwrap_or_default();
            assert!(
                kinds.contains(&"srflx".to_string()),
                "{who}: the other's srflx came by trickle: {side:?}"
            );
        }
    }
}
