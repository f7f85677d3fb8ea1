//! NAT traversal on one machine: network namespaces joined by veth pairs, two "homes" each
//! behind a NAT made with nftables, and a "public" network between them (`netlab nat`, the
//! NAT tests). The contract is in docs/design.md §11; in short:
//!
//! ```text
//!  netlab-P-N-a          netlab-P-N-nata                 netlab-P-N-pub
//!  host A 192.0.2.2 ── lan 192.0.2.1 | wan 203.0.113.10 ──┐
//!                                                        br0 203.0.113.1, 203.0.113.2
//!  host B 198.51.100.2 ── lan 198.51.100.1 | wan 203.0.113.20 ──┘   (signaling, STUN, TURN)
//!  netlab-P-N-b          netlab-P-N-natb
//! ```
//!
//! - Addresses are RFC 5737's documentation ranges, and exist only inside these namespaces:
//!   every interface is made inside a namespace (`ip -n NS link add … peer … netns NS2`), the
//!   root namespace's interfaces are never touched, and no namespace has a default route (a
//!   host reaches 203.0.113.0/24 through its NAT, nothing else), so no packet can leave.
//! - A NAT is an nftables table in its namespace: one mapping rule on its `wan` side, and a
//!   filter. `masquerade` keeps the source port when it is free: one internal address:port
//!   gets one external port whatever the destination, an *endpoint-independent mapping*
//!   (RFC 4787 §4.1). `masquerade fully-random` draws a new port for every new destination:
//!   an *address and port-dependent* mapping, the "symmetric NAT" that defeats
//!   server-reflexive candidates. Both filter endpoint-dependently: what comes in on `wan` is
//!   let through only as an answer to what went out (RFC 4787 §5; see [`UNSOLICITED`] for why
//!   that drop is explicit).
//! - Names are `netlab-<pid>-<n>-<role>`: the pid of the process that made them and a counter,
//!   so two runs (or two tests in one process) never collide, and [`down`] knows a leftover
//!   (its pid is gone) from a live run.
//! - Cleanup: [`Topology`]'s drop stops the processes it started (by pid) and deletes its
//!   namespaces; [`remove_on_signals`] does the same on Ctrl-C / SIGTERM / SIGHUP; [`down`]
//!   removes what a killed run left.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use crate::trace::{self, Layer};

/// The public network's addresses: the servers' (signaling, STUN, TURN) and a second one, so
/// that a STUN probe can ask from one socket at two destinations.
pub const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
pub const PUBLIC_2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

/// How a NAT maps an internal address:port to an external one (RFC 4787 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nat {
    /// The same external port for every destination ("cone"): `masquerade`.
    EndpointIndependent,
    /// A new external port per destination ("symmetric"): `masquerade fully-random`.
    Symmetric,
}

impl Nat {
    /// `eim` or `symmetric`, as on the command line.
    pub fn parse(word: &str) -> Option<Nat> {
        match word {
            "eim" | "endpoint-independent" => Some(Nat::EndpointIndependent),
            "symmetric" | "sym" => Some(Nat::Symmetric),
            _ => None,
        }
    }

    /// The nftables statement of this NAT.
    fn statement(self) -> &'static str {
        match self {
            Nat::EndpointIndependent => "masquerade",
            Nat::Symmetric => "masquerade fully-random",
        }
    }
}

impl fmt::Display for Nat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Nat::EndpointIndependent => "endpoint-independent",
            Nat::Symmetric => "symmetric",
        })
    }
}

/// Why the topology could not be made or used.
#[derive(Debug)]
pub enum NetnsError {
    /// A tool (`ip`, `nft`, `sysctl`) could not be started at all.
    Tool(&'static str, io::Error),
    /// A command ran and failed: the command line and what it said.
    Failed(String, String),
    /// Entering a namespace (setns) failed, typically without root.
    Enter(String, String),
    /// A server started in a namespace did not say `listening on …` in time.
    NotReady(String),
}

impl fmt::Display for NetnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetnsError::Tool(tool, e) => {
                write!(f, "cannot run {tool}: {e} (install iproute2 and nftables)")
            }
            NetnsError::Failed(cmd, err) => {
                write!(f, "`{cmd}` failed: {} (namespaces need root)", err.trim())
            }
            NetnsError::Enter(ns, e) => write!(f, "cannot enter namespace {ns}: {e}"),
            NetnsError::NotReady(what) => write!(f, "{what} did not get ready in 10 s"),
        }
    }
}

impl std::error::Error for NetnsError {}

/// A NAT's filter: what comes in on the WAN side is let through only as the answer to
/// something that went out (RFC 4787 §5's address and port-dependent filtering, what
/// conntrack gives). The drop also keeps a refused packet from leaving a conntrack entry
/// behind: unconfirmed entries die with their packet, while a confirmed one would hold the
/// external port a later outgoing packet to that peer wants, and masquerade would then pick
/// another port, breaking the endpoint-independent mapping that hole punching relies on.
pub const UNSOLICITED: &str = "  chain input {\n    type filter hook input priority filter;\n    iifname \"wan\" ct state new drop\n  }\n  chain forward {\n    type filter hook forward priority filter;\n    iifname \"wan\" ct state new drop\n  }\n";

/// One home: a host behind a NAT.
#[derive(Clone, Debug)]
pub struct Home {
    /// The host's namespace and address.
    pub host: String,
    pub addr: Ipv4Addr,
    /// The NAT's namespace, its LAN (the host's gateway) and WAN addresses, and its kind.
    pub nat: String,
    pub gateway: Ipv4Addr,
    pub wan: Ipv4Addr,
    pub kind: Nat,
}

/// A NAT's nftables table: the mapping rule on the `wan` side and the filter.
fn nat_rules(kind: Nat) -> String {
    format!(
        "table ip netlab_nat {{\n  chain postrouting {{\n    type nat hook postrouting priority srcnat;\n    oifname \"wan\" {}\n  }}\n{UNSOLICITED}}}\n",
        kind.statement()
    )
}

impl Home {
    /// Makes this home's NAT a `kind` one: its table is deleted and made again in one nft
    /// transaction, so no packet crosses a NAT without rules. One topology can then serve an
    /// endpoint-independent run and a symmetric one (lab 13's check does). Mappings already
    /// made keep their ports (conntrack holds them); new sockets meet the new behaviour.
    pub fn set_nat(&mut self, kind: Nat) -> Result<(), NetnsError> {
        let rules = format!("delete table ip netlab_nat\n{}", nat_rules(kind));
        run_input(
            "ip",
            &["netns", "exec", &self.nat, "nft", "-f", "-"],
            Some(&rules),
        )?;
        self.kind = kind;
        self.trace_nat();
        Ok(())
    }

    fn trace_nat(&self) {
        trace::event(Layer::L4, || {
            format!(
                "NAT {}: {} {} → {} ({})",
                self.nat,
                self.addr,
                self.kind,
                self.wan,
                self.kind.statement()
            )
        });
    }
}

/// Where [`Topology::serve_public`] puts the servers.
#[derive(Clone, Copy, Debug)]
pub struct Servers {
    pub signaling: SocketAddrV4,
    pub stun: SocketAddrV4,
    pub stun_2: SocketAddrV4,
    pub turn: SocketAddrV4,
}

impl Default for Servers {
    fn default() -> Servers {
        Servers {
            signaling: SocketAddrV4::new(PUBLIC, 8090),
            stun: SocketAddrV4::new(PUBLIC, 3478),
            stun_2: SocketAddrV4::new(PUBLIC_2, 3478),
            turn: SocketAddrV4::new(PUBLIC, 3479),
        }
    }
}

/// The namespaces of one run and the processes started in them.
pub struct Topology {
    pub public: String,
    pub a: Home,
    pub b: Home,
    children: Vec<Child>,
}

/// What every live topology of this process holds, for the signal thread to remove.
static LIVE: Mutex<Vec<(Vec<String>, Vec<u32>)>> = Mutex::new(Vec::new());
static NEXT: AtomicU32 = AtomicU32::new(1);

fn run(tool: &'static str, args: &[&str]) -> Result<(), NetnsError> {
    run_input(tool, args, None)
}

/// Runs a tool to completion; a failure carries the command line and its stderr.
fn run_input(tool: &'static str, args: &[&str], input: Option<&str>) -> Result<(), NetnsError> {
    let mut cmd = Command::new(tool);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| NetnsError::Tool(tool, e))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        io::Write::write_all(&mut stdin, text.as_bytes()).map_err(|e| NetnsError::Tool(tool, e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NetnsError::Tool(tool, e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetnsError::Failed(
            format!("{tool} {}", args.join(" ")),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

/// `ip -n NS …`: one iproute2 command inside a namespace.
fn ip(ns: &str, args: &str) -> Result<(), NetnsError> {
    let mut all = vec!["-n", ns];
    all.extend(args.split_whitespace());
    run("ip", &all)
}

impl Topology {
    /// Makes the five namespaces, their links, addresses, routes and the two NATs. On any
    /// failure what was made is removed before the error returns (the drop of the half-made
    /// topology).
    pub fn up(nat_a: Nat, nat_b: Nat) -> Result<Topology, NetnsError> {
        let prefix = format!(
            "netlab-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let home = |side: &str, lan: [u8; 3], wan: u8, kind| Home {
            host: format!("{prefix}-{side}"),
            addr: Ipv4Addr::new(lan[0], lan[1], lan[2], 2),
            nat: format!("{prefix}-nat{side}"),
            gateway: Ipv4Addr::new(lan[0], lan[1], lan[2], 1),
            wan: Ipv4Addr::new(203, 0, 113, wan),
            kind,
        };
        let topology = Topology {
            public: format!("{prefix}-pub"),
            a: home("a", [192, 0, 2], 10, nat_a),
            b: home("b", [198, 51, 100], 20, nat_b),
            children: Vec::new(),
        };
        if let Ok(mut live) = LIVE.lock() {
            live.push((topology.names(), Vec::new()));
        }
        topology.make_public()?;
        topology.make_home(&topology.a, "home-a")?;
        topology.make_home(&topology.b, "home-b")?;
        trace::event(Layer::L4, || {
            format!(
                "namespaces {prefix}-*: home A {} behind a NAT ({}, {}), home B {} behind a NAT ({}, {}), public {PUBLIC} {PUBLIC_2}",
                topology.a.addr,
                topology.a.kind,
                topology.a.wan,
                topology.b.addr,
                topology.b.kind,
                topology.b.wan
            )
        });
        Ok(topology)
    }

    /// Every namespace of this topology.
    pub fn names(&self) -> Vec<String> {
        vec![
            self.public.clone(),
            self.a.nat.clone(),
            self.a.host.clone(),
            self.b.nat.clone(),
            self.b.host.clone(),
        ]
    }

    /// The public namespace: a bridge with the servers' two addresses, which each NAT's WAN
    /// side joins.
    fn make_public(&self) -> Result<(), NetnsError> {
        run("ip", &["netns", "add", &self.public])?;
        let p = &self.public;
        ip(p, "link set lo up")?;
        ip(p, "link add name br0 type bridge")?;
        ip(p, &format!("addr add {PUBLIC}/24 dev br0"))?;
        ip(p, &format!("addr add {PUBLIC_2}/24 dev br0"))?;
        ip(p, "link set br0 up")
    }

    /// One home: the NAT's namespace (wan on the public bridge, lan towards the host), the
    /// host's namespace (one address, one route: the public network through its NAT), and
    /// the NAT's nftables rule.
    fn make_home(&self, home: &Home, port: &str) -> Result<(), NetnsError> {
        run("ip", &["netns", "add", &home.nat])?;
        run("ip", &["netns", "add", &home.host])?;
        let (n, h) = (&home.nat, &home.host);
        ip(
            &self.public,
            &format!("link add name {port} type veth peer name wan netns {n}"),
        )?;
        ip(&self.public, &format!("link set {port} master br0"))?;
        ip(&self.public, &format!("link set {port} up"))?;
        ip(
            h,
            &format!("link add name eth0 type veth peer name lan netns {n}"),
        )?;
        ip(n, "link set lo up")?;
        ip(n, &format!("addr add {}/24 dev wan", home.wan))?;
        ip(n, "link set wan up")?;
        ip(n, &format!("addr add {}/24 dev lan", home.gateway))?;
        ip(n, "link set lan up")?;
        ip(h, "link set lo up")?;
        ip(h, &format!("addr add {}/24 dev eth0", home.addr))?;
        ip(h, "link set eth0 up")?;
        ip(h, &format!("route add 203.0.113.0/24 via {}", home.gateway))?;
        // Forwarding is a per-namespace switch: on in the NAT only.
        run(
            "ip",
            &["netns", "exec", n, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
        )?;
        let rules = nat_rules(home.kind);
        run_input("ip", &["netns", "exec", n, "nft", "-f", "-"], Some(&rules))?;
        home.trace_nat();
        Ok(())
    }

    /// Starts `program args` inside namespace `ns` (`ip netns exec`, which execs it: the child's
    /// pid is the program's). Its stdout is piped, stderr as given. Stopped by pid on drop.
    pub fn spawn(
        &mut self,
        ns: &str,
        program: &str,
        args: &[&str],
        stderr: Stdio,
    ) -> Result<&mut Child, NetnsError> {
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| NetnsError::Tool("ip netns exec", e))?;
        if let Ok(mut live) = LIVE.lock()
            && let Some(entry) = live.iter_mut().find(|(names, _)| names[0] == self.public)
        {
            entry.1.push(child.id());
        }
        self.children.push(child);
        self.children
            .last_mut()
            .ok_or(NetnsError::NotReady("a child just started".into()))
    }

    /// Starts a netlab server (the binary `netlab`, with `args`) in `ns` and waits for its
    /// `listening on …` line.
    pub fn serve(&mut self, ns: &str, netlab: &str, args: &[&str]) -> Result<u32, NetnsError> {
        let what = format!("netlab {}", args.join(" "));
        let child = self.spawn(ns, netlab, args, Stdio::null())?;
        let pid = child.id();
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        // The line is read on a thread so that a server that never prints cannot hang us.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout?).lines();
            let ready = lines.any(|l| l.is_ok_and(|l| l.starts_with("listening on")));
            tx.send(ready).ok()?;
            // Keep reading so the server never blocks on a full pipe.
            for _ in lines {}
            Some(())
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(true) => Ok(pid),
            _ => Err(NetnsError::NotReady(what)),
        }
    }

    /// Starts the public servers in the public namespace, each a `netlab` process: the
    /// signaling server (`webrtc serve`, whose rooms relay offers and answers), STUN on both
    /// public addresses, and TURN (default user netlab:netlab; its default allow list is
    /// loopback and RFC 5737's ranges, so it relays between the homes' NATs and nothing else).
    pub fn serve_public(&mut self, netlab: &str) -> Result<Servers, NetnsError> {
        let servers = Servers::default();
        let public = self.public.clone();
        let addr = |a: SocketAddrV4| a.to_string();
        self.serve(
            &public,
            netlab,
            &["webrtc", "serve", "--addr", &addr(servers.signaling)],
        )?;
        self.serve(
            &public,
            netlab,
            &["stun", "serve", "--addr", &addr(servers.stun)],
        )?;
        self.serve(
            &public,
            netlab,
            &["stun", "serve", "--addr", &addr(servers.stun_2)],
        )?;
        self.serve(
            &public,
            netlab,
            &["turn", "serve", "--addr", &addr(servers.turn)],
        )?;
        trace::event(Layer::L4, || {
            format!(
                "{public}: signaling http://{}, STUN {} and {}, TURN {}",
                servers.signaling, servers.stun, servers.stun_2, servers.turn
            )
        });
        Ok(servers)
    }

    /// Stops one process started here, by its pid (and reaps it).
    pub fn stop(&mut self, pid: u32) {
        if let Some(child) = self.children.iter_mut().find(|c| c.id() == pid) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops what was started here (by pid) and deletes the namespaces.
    fn tear_down(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
        let names = self.names();
        delete(&names);
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|(n, _)| n[0] != self.public);
        }
        trace::event(Layer::L4, || {
            format!("namespaces {} removed", names.join(" "))
        });
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.tear_down();
    }
}

/// Deletes namespaces (those that exist; a half-made topology has fewer).
fn delete(names: &[String]) {
    for n in names {
        if std::path::Path::new("/run/netns").join(n).exists() {
            let _ = run("ip", &["netns", "del", n]);
        }
    }
}

/// A UDP socket bound to `addr` inside namespace `ns`. A socket belongs to the namespace it
/// was made in for its whole life, so a short thread enters the namespace (setns), makes it,
/// and hands it back: the caller's threads never change namespace.
pub fn udp_socket_in(ns: &str, addr: &str) -> Result<UdpSocket, NetnsError> {
    let addr = addr.to_string();
    in_namespace(ns, move || {
        UdpSocket::bind(&addr).map_err(|e| format!("bind {addr}: {e}"))
    })?
    .map_err(|e| NetnsError::Enter(ns.into(), e))
}

/// Runs `f` on a short thread that has entered namespace `ns` (setns) and returns what `f`
/// returned. Sockets `f` makes belong to `ns` for their whole life, and so do the threads it
/// starts (a new thread starts in the namespaces of the thread that made it): a server or a
/// WebRTC peer made inside `f` lives in `ns` while the caller's threads never change
/// namespace. A panic in `f` is an error, not a panic of the caller.
pub fn in_namespace<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, NetnsError> {
    let path = format!("/run/netns/{ns}");
    let file = File::open(&path).map_err(|e| NetnsError::Enter(ns.into(), e.to_string()))?;
    let made = std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| e.to_string())?;
        Ok(f())
    })
    .join();
    match made {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(NetnsError::Enter(ns.into(), e)),
        Err(_) => Err(NetnsError::Enter(ns.into(), "the thread panicked".into())),
    }
}

/// Ctrl-C, SIGTERM or SIGHUP would end the process without a drop: from now on one thread
/// takes them, stops every process the live topologies started and deletes their namespaces,
/// then exits as the signal would have (128 + its number). Call it before starting threads.
pub fn remove_on_signals() {
    crate::signals::clean_up_on_signals("netns signals", remove_live);
}

/// Everything the live topologies hold: their processes (by pid), then their namespaces.
/// For a process about to exit without running drops (a watchdog's `exit`).
pub fn remove_live() {
    let live = LIVE.lock().map(|mut l| std::mem::take(&mut *l));
    for (names, pids) in live.unwrap_or_default() {
        for pid in pids {
            kill(pid);
        }
        delete(&names);
    }
}

fn kill(pid: u32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// The pid in a name `netlab-<pid>-<n>-<role>`, if it has that shape.
pub fn owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("netlab-")?;
    let (pid, rest) = rest.split_once('-')?;
    let (n, role) = rest.split_once('-')?;
    n.parse::<u32>().ok()?;
    (!role.is_empty()).then_some(())?;
    pid.parse().ok()
}

/// `netlab nat down`: removes the namespaces of runs whose process is gone (killed before it
/// could clean up), after stopping the processes still inside them (`ip netns pids`). A live
/// run's namespaces are left alone. Returns the names removed.
pub fn down() -> Result<Vec<String>, NetnsError> {
    let entries = match std::fs::read_dir("/run/netns") {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NetnsError::Tool("ip netns", e)),
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner(&name) else { continue };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        for pid in pids_in(&name) {
            kill(pid);
        }
        run("ip", &["netns", "del", &name])?;
        removed.push(name);
    }
    removed.sort();
    Ok(removed)
}

/// The processes inside a namespace (`ip netns pids NAME`).
fn pids_in(ns: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_owner() {
        assert_eq!(owner("netlab-4242-3-nata"), Some(4242));
        assert_eq!(owner("netlab-4242-3-pub"), Some(4242));
        for other in [
            "netlab-x-1-a",
            "netlab-42-a",
            "netlab-42-1-",
            "other-42-1-a",
            "netlab-",
        ] {
            assert_eq!(owner(other), None, "{other}");
        }
    }

    #[test]
    fn nat_words() {
        assert_eq!(Nat::parse("eim"), Some(Nat::EndpointIndependent));
        assert_eq!(Nat::parse("symmetric"), Some(Nat::Symmetric));
        assert_eq!(Nat::parse("cone"), None);
        assert_eq!(Nat::Symmetric.statement(), "masquerade fully-random");
    }
}
