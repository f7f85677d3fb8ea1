//! The HTTP/3 commands: `netlab h3 serve` and `netlab h3 get`.

use super::http::site;
use crate::cli::{self, CliError, Command, Flag, Matches, flag, runtime};
use netlab::http::uri::Url;
use netlab::quic::client::{self, Options};
use netlab::quic::config::{Identity, Transport};
use netlab::quic::server::{self, Config};
use netlab::tls::certs;
use std::io::Write;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub const SERVE: Command = Command {
    path: "netlab h3 serve",
    about: "an HTTP/3 server over QUIC (UDP) for the same site as netlab http serve",
    flags: &[
        flag(
            "addr",
            Some("HOST:PORT"),
            Some("127.0.0.1:4433"),
            "UDP address to listen on (port 0: the kernel picks)",
        ),
        flag(
            "root",
            Some("DIR"),
            None,
            "serve the files under DIR for paths no route takes",
        ),
        flag(
            "cert",
            Some("FILE"),
            None,
            "PEM certificate chain (default: one made on the fly)",
        ),
        flag("key", Some("FILE"), None, "PEM private key for --cert"),
        flag(
            "retry",
            None,
            None,
            "answer each new client with a Retry first (address validation, RFC 9000 §8.1.2)",
        ),
        flag(
            "qlog",
            Some("DIR"),
            None,
            "write one qlog file per connection into DIR (qvis opens them)",
        ),
        flag(
            "idle-timeout",
            Some("MS"),
            Some("30000"),
            "drop a connection after this much silence (max_idle_timeout)",
        ),
        flag(
            "max-body",
            Some("BYTES"),
            Some("67108864"),
            "the largest request body accepted (then 413)",
        ),
        flag(
            "max-connections",
            Some("N"),
            Some("1000"),
            "connections kept at once; new ones beyond are dropped",
        ),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const GET: Command = Command {
    path: "netlab h3 get",
    about: "HTTP/3 requests to one origin, sent at once as concurrent streams on one QUIC connection",
    flags: &[
        flag(
            "cacert",
            Some("FILE"),
            None,
            "trust the CAs in this PEM file too",
        ),
        flag(
            "insecure",
            None,
            None,
            "accept any certificate (like curl -k)",
        ),
        Flag {
            name: "verbose",
            short: Some('v'),
            value: None,
            default: None,
            help: "show every datagram, packet header and HTTP/3 field on stderr (the quic and h3 trace)",
        },
        Flag {
            name: "output",
            short: Some('o'),
            value: Some("FILE"),
            default: None,
            help: "write the bodies to FILE instead of stdout",
        },
        Flag {
            name: "request",
            short: Some('X'),
            value: Some("METHOD"),
            default: Some("GET"),
            help: "the method of every request",
        },
        Flag {
            name: "data",
            short: Some('d'),
            value: Some("DATA"),
            default: None,
            help: "a body for every request (@FILE reads a file)",
        },
        Flag {
            name: "header",
            short: Some('H'),
            value: Some("NAME:VALUE"),
            default: None,
            help: "an extra request field (repeatable)",
        },
        flag(
            "qlog",
            Some("DIR"),
            None,
            "write the connection's qlog into DIR",
        ),
        flag(
            "timeout",
            Some("MS"),
            Some("30000"),
            "give up when the whole exchange takes longer",
        ),
        flag(
            "session",
            Some("FILE"),
            None,
            "resume the session stored in FILE (requests in 0-RTT) and store the new one there",
        ),
        Flag {
            name: "fail",
            short: Some('f'),
            value: None,
            default: None,
            help: "exit 1 when a response has a status of 400 or more",
        },
        flag(
            "stats",
            None,
            None,
            "print the handshake time, Retry, bytes and quiche's counters on stderr",
        ),
    ],
    args: "URL…",
    min_args: 1,
    max_args: usize::MAX,
};

pub const COMMANDS: &[&Command] = &[&SERVE, &GET];

pub fn run(tail: &[String]) -> Result<(), CliError> {
    cli::dispatch("h3", &[("serve", &SERVE, serve), ("get", &GET, get)], tail)
}

/// The server's certificate: `--cert/--key`, or a CA and leaf made now (the CA written where
/// a client can find it, as `netlab http serve --tls` does).
pub fn identity(m: &Matches) -> Result<Identity, CliError> {
    match (m.get("cert"), m.get("key")) {
        (Some(c), Some(k)) => Identity::from_files(c.as_ref(), k.as_ref())
            .map_err(|e| CliError::Runtime(e.to_string())),
        (None, None) => {
            let pki = certs::generate().map_err(runtime)?;
            super::http::announce_made(&pki)?;
            Ok(Identity::from_pki(&pki))
        }
        _ => Err(CliError::Usage("--cert and --key go together".into())),
    }
}

fn serve(m: &Matches) -> Result<(), CliError> {
    let addr = m.addr(&SERVE)?;
    let socket = UdpSocket::bind(addr).map_err(|e| {
        CliError::Runtime(format!(
            "cannot bind {addr} (UDP): {e} (see who holds it: netlab port {})",
            addr.port()
        ))
    })?;
    let router = site(&SERVE, m)?;
    let identity = identity(m)?;
    let config = Config {
        retry: m.on("retry"),
        transport: Transport {
            idle_timeout: m.timeout(&SERVE, "idle-timeout")?,
            qlog_dir: m.get("qlog").map(PathBuf::from),
        },
        max_body: m.number(&SERVE, "max-body")?,
        max_connections: m.number(&SERVE, "max-connections")?,
        ..Config::default()
    };
    // A certificate or key BoringSSL refuses is an error before the `listening` line.
    netlab::quic::config::server(&identity, &config.transport).map_err(runtime)?;
    cli::listening("https", socket.local_addr().map_err(runtime)?);
    server::serve(
        socket,
        &identity,
        Arc::new(router),
        config,
        Arc::new(AtomicBool::new(false)),
    )
    .map_err(runtime)
}

fn get(m: &Matches) -> Result<(), CliError> {
    if m.on("verbose") {
        netlab::trace::enable("quic,h3").map_err(runtime)?;
    }
    let mut urls = Vec::new();
    for raw in &m.args {
        urls.push(Url::parse(raw).map_err(|e| CliError::Usage(format!("{raw}: {e}")))?);
    }
    let mut headers = Vec::new();
    for h in m.all("header") {
        let (n, v) = h
            .split_once(':')
            .ok_or_else(|| CliError::Usage(format!("-H {h}: use NAME:VALUE")))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let opts = Options {
        cacert: m.get("cacert").map(PathBuf::from),
        insecure: m.on("insecure"),
        transport: Transport {
            qlog_dir: m.get("qlog").map(PathBuf::from),
            ..Transport::default()
        },
        timeout: m.timeout(&GET, "timeout")?,
        method: m.get("request").unwrap_or("GET").to_string(),
        body: m.get("data").map(super::http::body_arg).transpose()?,
        headers,
        progress: true,
        each: None,
        session: m.get("session").map(PathBuf::from),
    };
    let outcome = client::fetch(&urls, &opts).map_err(|e| {
        if e.is_usage() {
            CliError::Usage(e.to_string())
        } else {
            CliError::Runtime(e.to_string())
        }
    })?;
    let mut out: Box<dyn Write> = match m.get("output") {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::Runtime(format!("cannot write {path}: {e}")))?,
        ),
        None => Box::new(crate::cli::Stdout),
    };
    let mut failed = false;
    for r in &outcome.responses {
        if m.on("verbose") {
            eprintln!("< {}: {}", r.url, r.status);
        }
        out.write_all(&r.body).map_err(runtime)?;
        failed |= r.status >= 400;
    }
    out.flush().map_err(runtime)?;
    if m.on("stats") {
        let early = match outcome.early_data {
            None => "",
            Some(true) => ", 0-RTT accepted",
            Some(false) => ", 0-RTT rejected",
        };
        eprintln!(
            "handshake {:.2} ms{}{}{early}; {} bytes sent, {} received (UDP payload); {}",
            outcome.handshake.as_secs_f64() * 1000.0,
            if outcome.retried { " with a Retry" } else { "" },
            if outcome.resumed { ", resumed" } else { "" },
            outcome.bytes_sent,
            outcome.bytes_received,
            outcome.stats
        );
    }
    if failed && m.on("fail") {
        return Err(CliError::Runtime(
            "the server answered with an error status".into(),
        ));
    }
    Ok(())
}
