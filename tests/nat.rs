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
