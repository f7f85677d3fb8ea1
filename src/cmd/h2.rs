//! The HTTP/2 commands: `netlab h2 serve` and `netlab h2 get`.

use super::http::{beside_h3, bind, server_tls_identity, site};
use crate::cli::{self, CliError, Command, Flag, Matches, flag, runtime};
use netlab::http::uri::Url;
use netlab::http2::client::{self, Options, Outgoing};
use netlab::http2::server::{self, ALPN, Config, Security};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub const SERVE: Command = Command {
    path: "netlab h2 serve",
    about: "an HTTP/2 server for the same site as netlab http serve (TLS + ALPN, or h2c)",
    flags: &[
        flag(
            "addr",
            Some("HOST:PORT"),
            Some("127.0.0.1:8443"),
            "address to listen on (port 0: the kernel picks)",
        ),
        flag(
            "h2c",
            None,
            None,
            "cleartext HTTP/2 with prior knowledge (and HTTP/1.1 for clients without it)",
        ),
        flag(
            "h3",
            None,
            None,
            "HTTP/3 on the same port over UDP too, advertised by Alt-Svc",
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
            "max-streams",
            Some("N"),
            Some("100"),
            "SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may open at once",
        ),
        flag(
            "idle-timeout",
            Some("MS"),
            Some("60000"),
            "GOAWAY a connection with no open stream for this long",
        ),
        flag(
            "max-body",
            Some("BYTES"),
            Some("67108864"),
            "the largest request body accepted (then 413)",
        ),
        cli::SERIAL,
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const GET: Command = Command {
    path: "netlab h2 get",
    about: "HTTP/2 requests to one origin, sent at once as concurrent streams on one connection",
    flags: &[
        flag(
            "h2c",
            None,
            None,
            "http:// URLs: cleartext HTTP/2 with prior knowledge",
        ),
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
            help: "show every frame and HPACK field on stderr (the h2 and hpack trace)",
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
        flag(
            "timeout",
            Some("MS"),
            Some("30000"),
            "give up when the whole exchange takes longer",
        ),
        Flag {
            name: "fail",
            short: Some('f'),
            value: None,
            default: None,
            help: "exit 1 when a response has a status of 400 or more",
        },
    ],
    args: "URL…",
    min_args: 1,
    max_args: usize::MAX,
};

pub const COMMANDS: &[&Command] = &[&SERVE, &GET];

pub fn run(tail: &[String]) -> Result<(), CliError> {
    cli::dispatch("h2", &[("serve", &SERVE, serve), ("get", &GET, get)], tail)
}

fn serve(m: &Matches) -> Result<(), CliError> {
    let listener = bind(&SERVE, m)?;
    let router = site(&SERVE, m)?;
    let mut identity = None;
    let security = if m.on("h2c") {
        if m.on("cert") || m.on("key") {
            return Err(CliError::Usage(
                "--h2c is cleartext: it takes no --cert or --key".into(),
            ));
        }
        Security::Cleartext
    } else {
        // TLS always: --cert/--key, or a certificate made on the fly.
        let Some((tls, id)) = server_tls_identity(m, ALPN, true)? else {
            return Err(CliError::Runtime("no TLS configuration".into()));
        };
        identity = Some(id);
        Security::Tls(tls)
    };
    let config = Config {
        max_concurrent_streams: m.number(&SERVE, "max-streams")?,
        idle_timeout: m.timeout(&SERVE, "idle-timeout")?,
        max_body: m.number(&SERVE, "max-body")?,
        http1: netlab::http1::server::Config {
            threads: m.threads(),
            ..Default::default()
        },
        ..Config::default()
    };
    let scheme = match security {
        Security::Tls(_) => "https",
        Security::Cleartext => "http",
    };
    let addr = listener.local_addr().map_err(runtime)?;
    let handler = beside_h3(m, router, addr, identity)?;
    cli::listening(scheme, addr);
    server::serve(
        listener,
        handler,
        config,
        security,
        Arc::new(AtomicBool::new(false)),
    );
    Ok(())
}

fn get(m: &Matches) -> Result<(), CliError> {
    if m.on("verbose") {
        netlab::trace::enable("h2,hpack,tls").map_err(runtime)?;
    }
    let body = match m.get("data") {
        Some(raw) => super::http::body_arg(raw)?,
        None => Vec::new(),
    };
    let method = m.get("request").unwrap_or("GET").to_string();
    let mut requests = Vec::new();
    for raw in &m.args {
        let url = Url::parse(raw).map_err(|e| CliError::Usage(format!("{raw}: {e}")))?;
        let mut req = Outgoing::get(url);
        req.method = method.clone();
        req.body = body.clone();
        requests.push(req);
    }
    let opts = Options {
        cacert: m.get("cacert").map(PathBuf::from),
        insecure: m.on("insecure"),
        h2c: m.on("h2c"),
        timeout: m.timeout(&GET, "timeout")?,
        ..Options::default()
    };
    let responses = client::fetch(requests, &opts).map_err(|e| match e {
        client::ClientError::Origins(..) | client::ClientError::Cleartext => {
            CliError::Usage(e.to_string())
        }
        other => CliError::Runtime(other.to_string()),
    })?;
    let mut out: Box<dyn Write> = match m.get("output") {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::Runtime(format!("cannot write {path}: {e}")))?,
        ),
        None => Box::new(crate::cli::Stdout),
    };
    let mut failed = false;
    let mut errors = Vec::new();
    for (raw, resp) in m.args.iter().zip(responses) {
        match resp {
            Ok(r) => {
                if m.on("verbose") {
                    eprintln!("< {raw}: {} {}", r.status, r.reason);
                }
                out.write_all(&r.body).map_err(runtime)?;
                failed |= r.status >= 400;
            }
            Err(e) => errors.push(format!("{raw}: {e}")),
        }
    }
    out.flush().map_err(runtime)?;
    if !errors.is_empty() {
        return Err(CliError::Runtime(errors.join("; ")));
    }
    if failed && m.on("fail") {
        return Err(CliError::Runtime(
            "the server answered with an error status".into(),
        ));
    }
    Ok(())
}
