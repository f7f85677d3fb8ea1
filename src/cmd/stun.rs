//! The NAT-traversal servers: `netlab stun serve` (RFC 8489 Binding) and `netlab turn serve`
//! (RFC 8656, a relay with long-term credentials).

use crate::cli::{self, CliError, Command, Matches, flag, runtime};
use netlab::trace;
use netlab::webrtc::turn::{self, Cidr};
use netlab::webrtc::{stun_server, turn::Config};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub const STUN_SERVE: Command = Command {
    path: "netlab stun serve",
    about: "a STUN server: Binding Requests answered with the address they came from (XOR-MAPPED-ADDRESS)",
    flags: &[flag(
        "addr",
        Some("HOST:PORT"),
        Some("127.0.0.1:3478"),
        "UDP address to serve on (port 0: the kernel picks)",
    )],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const TURN_SERVE: Command = Command {
    path: "netlab turn serve",
    about: "a TURN server (UDP): allocations with long-term credentials, relaying only to allowed peers",
    flags: &[
        flag(
            "addr",
            Some("HOST:PORT"),
            Some("127.0.0.1:3479"),
            "UDP address to serve on; relayed sockets bind on its IP (port 0: the kernel picks)",
        ),
        flag(
            "user",
            Some("NAME:PASS"),
            Some("netlab:netlab"),
            "a user and password (repeatable)",
        ),
        flag(
            "realm",
            Some("REALM"),
            Some("netlab"),
            "the REALM, part of every user's key",
        ),
        flag(
            "allow",
            Some("CIDR"),
            None,
            "peers relays may reach (repeatable; default: 127.0.0.0/8 ::1/128 and RFC 5737's 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24)",
        ),
        flag(
            "max-per-user",
            Some("N"),
            Some("10"),
            "allocations one user may hold (beyond: 486)",
        ),
        flag(
            "max-allocations",
            Some("N"),
            Some("100"),
            "allocations at once, all users (beyond: 508)",
        ),
        flag(
            "nonce-lifetime",
            Some("SECS"),
            Some("600"),
            "how long a NONCE is accepted (then: 438 Stale Nonce and a new one)",
        ),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const COMMANDS: &[&Command] = &[&STUN_SERVE, &TURN_SERVE];

pub fn run(head: &str, tail: &[String]) -> Result<(), CliError> {
    match head {
        "stun" => cli::dispatch("stun", &[("serve", &STUN_SERVE, stun_serve)], tail),
        _ => cli::dispatch("turn", &[("serve", &TURN_SERVE, turn_serve)], tail),
    }
}

/// The servers' trace is their output: the stun layer is on unless the trace was chosen.
fn trace_by_default() -> Result<(), CliError> {
    if trace::layers() == 0 {
        trace::enable("stun").map_err(runtime)?;
    }
    Ok(())
}

fn bind(cmd: &Command, m: &Matches) -> Result<(UdpSocket, SocketAddr), CliError> {
    let addr = m.addr(cmd)?;
    let socket = UdpSocket::bind(addr).map_err(|e| {
        CliError::Runtime(format!(
            "cannot bind {addr} (UDP): {e} (see who holds it: netlab port {})",
            addr.port()
        ))
    })?;
    let local = socket.local_addr().map_err(runtime)?;
    Ok((socket, local))
}

fn stun_serve(m: &Matches) -> Result<(), CliError> {
    trace_by_default()?;
    let (socket, local) = bind(&STUN_SERVE, m)?;
    cli::listening("stun", local);
    stun_server::serve(&socket, &AtomicBool::new(false)).map_err(runtime)
}

fn turn_serve(m: &Matches) -> Result<(), CliError> {
    let mut users = Vec::new();
    let given = m.all("user");
    let given = if given.is_empty() {
        vec![m.get("user").unwrap_or_default()]
    } else {
        given
    };
    for u in given {
        let Some((name, pass)) = u.split_once(':').filter(|(n, _)| !n.is_empty()) else {
            return Err(CliError::Usage(format!(
                "--user takes NAME:PASS, not '{u}' (see netlab turn serve --help)"
            )));
        };
        users.push((name.to_string(), pass.to_string()));
    }
    let mut config = Config {
        realm: m.get("realm").unwrap_or_default().to_string(),
        users,
        max_per_user: m.number(&TURN_SERVE, "max-per-user")?,
        max_allocations: m.number(&TURN_SERVE, "max-allocations")?,
        nonce_lifetime: std::time::Duration::from_secs(m.number(&TURN_SERVE, "nonce-lifetime")?),
        ..Config::default()
    };
    let allow = m.all("allow");
    if !allow.is_empty() {
        config.allow = allow
            .iter()
            .map(|c| Cidr::parse(c).map_err(|e| CliError::Usage(format!("--allow: {e}"))))
            .collect::<Result<_, _>>()?;
    }
    trace_by_default()?;
    let (socket, local) = bind(&TURN_SERVE, m)?;
    cli::listening("turn", local);
    turn::serve(socket, config, Arc::new(AtomicBool::new(false))).map_err(runtime)
}
