//! `netlab tap`: relay a TCP connection between two peers and decode what passes.

use crate::cli::{self, CliError, Command, Flag, Matches, runtime};
use netlab::l4::echo;
use netlab::tap::{self, MakeDecoder};
use netlab::trace;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;

/// The protocols the tap can decode: `--proto NAME` → its decoder. Later layers add a row.
const PROTOS: &[(&str, MakeDecoder)] = &[
    ("zmtp", netlab::zmq::zmtp_tap::new),
    ("http1", netlab::http1::tap::new),
    ("h2", netlab::http2::tap::new),
];

pub const TAP: Command = Command {
    path: "netlab tap",
    about: "relay TCP between two peers and trace the protocol that passes (zmtp, http1, h2)",
    flags: &[
        Flag {
            name: "listen",
            short: None,
            value: Some("HOST:PORT"),
            default: Some("127.0.0.1:0"),
            help: "where clients connect (port 0: the kernel picks one)",
        },
        Flag {
            name: "to",
            short: None,
            value: Some("HOST:PORT"),
            default: None,
            help: "the server each connection is relayed to (required)",
        },
        Flag {
            name: "proto",
            short: None,
            value: Some("NAME"),
            default: Some("zmtp"),
            help: "the protocol to decode: zmtp, http1 or h2 (cleartext, prior knowledge)",
        },
        Flag {
            name: "timeout",
            short: None,
            value: Some("MS"),
            default: Some("5000"),
            help: "give up connecting to --to after this long",
        },
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

fn addr(m: &Matches, name: &str) -> Result<SocketAddr, CliError> {
    let raw = m.get(name).unwrap_or_default();
    echo::resolve(raw).map_err(|_| {
        CliError::Usage(format!(
            "--{name}: bad address '{raw}': expected HOST:PORT such as 127.0.0.1:5555 (see {} --help)",
            TAP.path
        ))
    })
}

pub fn run(tail: &[String]) -> Result<(), CliError> {
    let m = cli::parse(&TAP, tail)?;
    if !m.on("to") {
        return Err(CliError::Usage(format!(
            "netlab tap needs --to HOST:PORT, the server to relay to (see {} --help)",
            TAP.path
        )));
    }
    let listen = addr(&m, "listen")?;
    let target = addr(&m, "to")?;
    let proto = m.get("proto").unwrap_or_default();
    let Some(&(_, make)) = PROTOS.iter().find(|(name, _)| *name == proto) else {
        let names: Vec<&str> = PROTOS.iter().map(|(n, _)| *n).collect();
        return Err(CliError::Usage(format!(
            "--proto '{proto}': the tap decodes {} (see {} --help)",
            names.join(", "),
            TAP.path
        )));
    };
    let timeout = m.timeout(&TAP, "timeout")?;
    // Decoding is what the tap is for: its layer is traced even without --trace.
    let layer = make().layer();
    trace::enable(layer.name()).map_err(runtime)?;
    if layer == trace::Layer::H2 {
        // HTTP/2's header blocks are decoded on a layer of their own.
        trace::enable("hpack").map_err(runtime)?;
    }
    let listener = tap::bind(listen).map_err(runtime)?;
    let local = listener.local_addr().map_err(runtime)?;
    cli::listening("tcp", local);
    tap::serve(listener, target, make, timeout, &AtomicBool::new(false));
    Ok(())
}
