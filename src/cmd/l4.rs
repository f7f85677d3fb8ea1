//! The L4 commands: `netlab echo server|client`, `netlab sockets`, `netlab port`.

use crate::cli::{self, CliError, Command, Flag, Matches, runtime};
use netlab::l4::echo::{self, TcpClient, UdpClient};
use netlab::l4::port::{self, Ended};
use netlab::l4::sockets::{self, Filter, Proto};
use std::io::{self, BufRead, Write};
use std::sync::atomic::AtomicBool;

const ADDR_ECHO: Flag = Flag {
    name: "addr",
    short: None,
    value: Some("HOST:PORT"),
    default: Some("127.0.0.1:65432"),
    help: "address to listen on or connect to (port 0: the kernel picks one)",
};
const UDP: Flag = Flag {
    name: "udp",
    short: None,
    value: None,
    default: None,
    help: "UDP instead of TCP",
};

pub const ECHO_SERVER: Command = Command {
    path: "netlab echo server",
    about: "an echo server: TCP (one thread per connection, or --serial) or UDP",
    flags: &[ADDR_ECHO, UDP, cli::SERIAL],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const ECHO_CLIENT: Command = Command {
    path: "netlab echo client",
    about: "send each MESSAGE (or each line of stdin) to an echo server and print the reply",
    flags: &[
        ADDR_ECHO,
        UDP,
        Flag {
            name: "timeout",
            short: None,
            value: Some("MS"),
            default: Some("5000"),
            help: "give up when connect or a reply takes longer",
        },
    ],
    args: "[MESSAGE…]",
    min_args: 0,
    max_args: usize::MAX,
};

pub const SOCKETS: Command = Command {
    path: "netlab sockets",
    about: "list TCP and UDP sockets as netstat -anp does (from /proc)",
    flags: &[
        Flag {
            name: "tcp",
            short: Some('t'),
            value: None,
            default: None,
            help: "TCP sockets only",
        },
        Flag {
            name: "udp",
            short: Some('u'),
            value: None,
            default: None,
            help: "UDP sockets only",
        },
        Flag {
            name: "listening",
            short: Some('l'),
            value: None,
            default: None,
            help: "listening sockets only (and unconnected UDP)",
        },
        Flag {
            name: "port",
            short: None,
            value: Some("N"),
            default: None,
            help: "sockets whose local or foreign port is N",
        },
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const PORT: Command = Command {
    path: "netlab port",
    about: "show which process holds PORT; with --kill, end it (SIGTERM, then SIGKILL)",
    flags: &[
        Flag {
            name: "udp",
            short: None,
            value: None,
            default: None,
            help: "a UDP port instead of TCP",
        },
        Flag {
            name: "kill",
            short: None,
            value: None,
            default: None,
            help: "end the holding process(es)",
        },
        Flag {
            name: "grace",
            short: None,
            value: Some("MS"),
            default: Some("3000"),
            help: "how long to wait after SIGTERM before SIGKILL",
        },
    ],
    args: "PORT",
    min_args: 1,
    max_args: 1,
};

/// The commands of this area, for the top-level help.
pub const COMMANDS: &[&Command] = &[&ECHO_SERVER, &ECHO_CLIENT, &SOCKETS, &PORT];

/// Runs `netlab echo …`, `netlab sockets …` or `netlab port …`.
pub fn run(head: &str, tail: &[String]) -> Result<(), CliError> {
    match head {
        "echo" => match tail.split_first() {
            Some((verb, args)) if verb == "server" => echo_server(&cli::parse(&ECHO_SERVER, args)?),
            Some((verb, args)) if verb == "client" => echo_client(&cli::parse(&ECHO_CLIENT, args)?),
            Some((verb, _)) if verb == "-h" || verb == "--help" => Err(CliError::Help(format!(
                "{}\n{}",
                cli::help(&ECHO_SERVER),
                cli::help(&ECHO_CLIENT)
            ))),
            Some((verb, _)) => Err(CliError::Usage(format!(
                "unknown verb '{verb}': use netlab echo server or netlab echo client"
            ))),
            None => Err(CliError::Usage(
                "netlab echo needs a verb: server or client".into(),
            )),
        },
        "sockets" => sockets_cmd(&cli::parse(&SOCKETS, tail)?),
        _ => port_cmd(&cli::parse(&PORT, tail)?),
    }
}

fn echo_server(m: &Matches) -> Result<(), CliError> {
    let addr = m.addr(&ECHO_SERVER)?;
    let stop = AtomicBool::new(false);
    if m.on("udp") {
        let socket = echo::bind_udp(addr).map_err(runtime)?;
        cli::listening("udp", socket.local_addr().map_err(runtime)?);
        echo::serve_udp(socket, &stop);
    } else {
        let listener = echo::bind_tcp(addr).map_err(runtime)?;
        cli::listening("tcp", listener.local_addr().map_err(runtime)?);
        echo::serve_tcp(listener, echo::echo, m.threads(), &stop);
    }
    Ok(())
}

fn echo_client(m: &Matches) -> Result<(), CliError> {
    let addr = m.addr(&ECHO_CLIENT)?;
    let timeout = m.timeout(&ECHO_CLIENT, "timeout")?;
    // Messages come from the arguments, or one per line of stdin until EOF.
    let messages: Box<dyn Iterator<Item = io::Result<String>>> = if m.args.is_empty() {
        Box::new(io::stdin().lock().lines())
    } else {
        Box::new(m.args.clone().into_iter().map(Ok))
    };
    let mut out = cli::Stdout;
    if m.on("udp") {
        let mut client = UdpClient::connect(addr, timeout).map_err(runtime)?;
        for message in messages {
            let message = message.map_err(runtime)?;
            let reply = client.exchange(message.as_bytes()).map_err(runtime)?;
            out.write_all(&reply).map_err(runtime)?;
            out.write_all(b"\n").map_err(runtime)?;
            out.flush().map_err(runtime)?;
        }
    } else {
        let mut client = TcpClient::connect(addr, timeout).map_err(runtime)?;
        for message in messages {
            let mut line = message.map_err(runtime)?;
            line.push('\n');
            let reply = client.exchange(line.as_bytes()).map_err(runtime)?;
            out.write_all(&reply).map_err(runtime)?;
            out.flush().map_err(runtime)?;
        }
        client.close().map_err(runtime)?;
    }
    Ok(())
}

fn sockets_cmd(m: &Matches) -> Result<(), CliError> {
    let port = match m.get("port") {
        Some(raw) => Some(cli::port_number(&SOCKETS, raw)?),
        None => None,
    };
    let filter = Filter {
        tcp: m.on("tcp"),
        udp: m.on("udp"),
        listening: m.on("listening"),
        port,
    };
    let list = sockets::list(&filter).map_err(runtime)?;
    cli::put(format_args!("{}", sockets::render(&list)));
    Ok(())
}

fn port_cmd(m: &Matches) -> Result<(), CliError> {
    let number = cli::port_number(&PORT, &m.args[0])?;
    let proto = if m.on("udp") { Proto::Udp } else { Proto::Tcp };
    let grace = m.millis(&PORT, "grace")?;
    let holders = port::find(number, proto).map_err(runtime)?;
    cli::put(format_args!("{}", port::describe(&holders)));
    if holders.sockets.is_empty() {
        return Err(CliError::Runtime(format!("nothing holds port {number}")));
    }
    if !m.on("kill") {
        return Ok(());
    }
    let owners = holders.owners();
    if owners.is_empty() {
        return Err(CliError::Runtime(format!(
            "no process to end for port {number}: the sockets above belong to no process netlab can see"
        )));
    }
    for owner in owners {
        let ended = port::terminate(&owner, grace).map_err(runtime)?;
        match ended {
            Ended::Terminated { after } => cli::say(format_args!(
                "sent SIGTERM to PID {} ({}): it exited after {} ms",
                owner.pid,
                owner.program,
                after.as_millis()
            )),
            Ended::Killed { after } => cli::say(format_args!(
                "PID {} ({}) ignored SIGTERM for {} ms: sent SIGKILL; it is gone after {} ms",
                owner.pid,
                owner.program,
                grace.as_millis(),
                after.as_millis()
            )),
            Ended::AlreadyGone => cli::say(format_args!(
                "PID {} ({}) had already exited",
                owner.pid, owner.program
            )),
        }
    }
    Ok(())
}
