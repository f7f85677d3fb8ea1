//! `netlab nat up|probe|down`: NAT traversal on one machine, in network namespaces
//! (src/l4/netns.rs; the contract in docs/design.md §11). Root only.

use crate::cli::{self, CliError, Command, Matches, flag, runtime};
use netlab::l4::netns::{self, Nat, Topology};
use netlab::trace;
use netlab::webrtc::behavior::{self, Mapping};
use std::net::SocketAddr;

pub const UP: Command = Command {
    path: "netlab nat up",
    about: "two homes behind NATs (nftables) and a public network with signaling, STUN and TURN, in namespaces, until Ctrl-C",
    flags: &[
        flag(
            "nat-a",
            Some("eim|symmetric"),
            Some("eim"),
            "home A's NAT: endpoint-independent mapping, or a new port per destination",
        ),
        flag("nat-b", Some("eim|symmetric"), Some("eim"), "home B's NAT"),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const PROBE: Command = Command {
    path: "netlab nat probe",
    about: "from one socket in a home, a STUN Binding to two public addresses: does the NAT keep the port?",
    flags: &[flag(
        "nat",
        Some("eim|symmetric"),
        Some("eim"),
        "the home's NAT: endpoint-independent mapping, or a new port per destination",
    )],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const DOWN: Command = Command {
    path: "netlab nat down",
    about: "remove the namespaces (and stop the processes in them) that a killed netlab nat run left",
    flags: &[],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const COMMANDS: &[&Command] = &[&UP, &PROBE, &DOWN];

pub fn run(tail: &[String]) -> Result<(), CliError> {
    cli::dispatch(
        "nat",
        &[
            ("up", &UP, up),
            ("probe", &PROBE, probe),
            ("down", &DOWN, down),
        ],
        tail,
    )
}

fn nat_flag(cmd: &Command, m: &Matches, name: &str) -> Result<Nat, CliError> {
    let word = m.get(name).unwrap_or("eim");
    Nat::parse(word).ok_or_else(|| {
        CliError::Usage(format!(
            "--{name} takes eim or symmetric, not '{word}' (see {} --help)",
            cmd.path
        ))
    })
}

/// The program the namespaces run as servers: this very binary.
fn netlab_exe() -> Result<String, CliError> {
    let exe = std::env::current_exe().map_err(runtime)?;
    Ok(exe.to_string_lossy().into_owned())
}

fn up(m: &Matches) -> Result<(), CliError> {
    let (a, b) = (nat_flag(&UP, m, "nat-a")?, nat_flag(&UP, m, "nat-b")?);
    netns::remove_on_signals();
    let mut topology = Topology::up(a, b).map_err(runtime)?;
    let servers = topology.serve_public(&netlab_exe()?).map_err(runtime)?;
    for (name, home) in [("A", &topology.a), ("B", &topology.b)] {
        cli::say(format_args!(
            "home {name}: {} in {}, behind the NAT in {} ({}, {} → {})",
            home.addr, home.host, home.nat, home.kind, home.gateway, home.wan
        ));
    }
    cli::say(format_args!(
        "public: {} — signaling http://{}, STUN {} and {}, TURN {} (user netlab:netlab)",
        topology.public, servers.signaling, servers.stun, servers.stun_2, servers.turn
    ));
    cli::say(format_args!(
        "run a program in a home: ip netns exec {} COMMAND",
        topology.a.host
    ));
    cli::say(format_args!(
        "ready: Ctrl-C (or SIGTERM) stops the servers and removes the namespaces"
    ));
    // The signal thread ends the process; until then there is nothing to do here.
    loop {
        std::thread::park();
    }
}

fn probe(m: &Matches) -> Result<(), CliError> {
    let kind = nat_flag(&PROBE, m, "nat")?;
    if trace::layers() == 0 {
        trace::enable("l4,stun").map_err(runtime)?;
    }
    netns::remove_on_signals();
    let mut topology = Topology::up(kind, Nat::EndpointIndependent).map_err(runtime)?;
    let servers = topology.serve_public(&netlab_exe()?).map_err(runtime)?;
    let home = topology.a.clone();
    let socket = netns::udp_socket_in(&home.host, &format!("{}:0", home.addr)).map_err(runtime)?;
    let local = socket.local_addr().map_err(runtime)?;
    let asked = [SocketAddr::V4(servers.stun), SocketAddr::V4(servers.stun_2)];
    let random = ring::rand::SystemRandom::new();
    let mapped = behavior::probe(&socket, &asked, || {
        let mut tid = [0u8; 12];
        let _ = ring::rand::SecureRandom::fill(&random, &mut tid);
        tid
    })
    .map_err(runtime)?;
    cli::say(format_args!(
        "home A {local} behind a NAT ({}, {}):",
        home.kind, home.wan
    ));
    cli::say(format_args!("  {:<22} mapped address", "STUN server"));
    for (server, seen) in asked.iter().zip(&mapped) {
        cli::say(format_args!("  {server:<22} {seen}"));
    }
    let verdict = Mapping::classify(&mapped);
    let why = match verdict {
        Mapping::EndpointIndependent => "one external port for both destinations",
        Mapping::Dependent => "a new external port per destination",
    };
    cli::say(format_args!("mapping: {verdict} ({why})"));
    drop(topology);
    Ok(())
}

fn down(_: &Matches) -> Result<(), CliError> {
    let removed = netns::down().map_err(runtime)?;
    if removed.is_empty() {
        cli::say(format_args!("no leftover netlab namespaces"));
    }
    for name in removed {
        cli::say(format_args!("removed {name}"));
    }
    Ok(())
}
