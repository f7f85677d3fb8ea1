//! The gRPC commands: `netlab grpc serve` and `netlab grpc call`.

use super::http::{bind, server_tls};
use crate::cli::{self, CliError, Command, Matches, flag, runtime};
use netlab::grpc::client::{self, Options};
use netlab::grpc::exchange::{self, Exchange, Note, Summary, Topic};
use netlab::grpc::notes::{NotesService, Services};
use netlab::grpc::server;
use netlab::http::services::notes::Store;
use netlab::http::uri::Url;
use netlab::http2::client::Options as H2Options;
use netlab::http2::server::{Config, Security};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub const SERVE: Command = Command {
    path: "netlab grpc serve",
    about: "a gRPC server (proto/netlab.proto): netlab.Exchange (Echo, Subscribe, Collect, Chat) and netlab.Notes",
    flags: &[
        flag(
            "addr",
            Some("HOST:PORT"),
            Some("127.0.0.1:50051"),
            "address to listen on (port 0: the kernel picks)",
        ),
        flag(
            "tls",
            None,
            None,
            "TLS with ALPN h2 (default: cleartext h2c, as grpc's insecure channels speak)",
        ),
        flag(
            "cert",
            Some("FILE"),
            None,
            "PEM certificate chain for --tls",
        ),
        flag("key", Some("FILE"), None, "PEM private key for --cert"),
        cli::SERIAL,
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const CALL: Command = Command {
    path: "netlab grpc call",
    about: "call netlab.Exchange: Echo TEXT, Subscribe NAME COUNT, Collect TEXT…, Chat TEXT…",
    flags: &[
        flag(
            "addr",
            Some("HOST:PORT"),
            Some("127.0.0.1:50051"),
            "the server",
        ),
        flag("tls", None, None, "TLS with ALPN h2 (default: h2c)"),
        flag(
            "cacert",
            Some("FILE"),
            None,
            "trust the CAs in this PEM file too (with --tls)",
        ),
        flag(
            "insecure",
            None,
            None,
            "accept any certificate (with --tls)",
        ),
        flag(
            "deadline",
            Some("MS"),
            None,
            "give up after this long (sent as grpc-timeout)",
        ),
    ],
    args: "METHOD ARGS…",
    min_args: 1,
    max_args: usize::MAX,
};

pub const COMMANDS: &[&Command] = &[&SERVE, &CALL];

pub fn run(tail: &[String]) -> Result<(), CliError> {
    cli::dispatch(
        "grpc",
        &[("serve", &SERVE, serve), ("call", &CALL, call)],
        tail,
    )
}

fn serve(m: &Matches) -> Result<(), CliError> {
    let listener = bind(&SERVE, m)?;
    let (security, scheme) = match server_tls(m, &[b"h2"], false)? {
        Some(tls) => (Security::Tls(tls), "https"),
        None => (Security::Cleartext, "http"),
    };
    cli::listening(scheme, listener.local_addr().map_err(runtime)?);
    netlab::http2::server::serve_app(
        listener,
        server::app(Arc::new(Services::new(vec![
            Arc::new(Exchange),
            Arc::new(NotesService {
                store: Store::new(),
            }),
        ]))),
        Config {
            http1: netlab::http1::server::Config {
                threads: m.threads(),
                ..Default::default()
            },
            ..Config::default()
        },
        security,
        Arc::new(AtomicBool::new(false)),
    );
    Ok(())
}

fn show(n: &Note) -> String {
    format!("seq={} text={}", n.seq, n.text)
}

fn call(m: &Matches) -> Result<(), CliError> {
    let addr = m.get("addr").unwrap_or("127.0.0.1:50051");
    let scheme = if m.on("tls") { "https" } else { "http" };
    let base = Url::parse(&format!("{scheme}://{addr}/"))
        .map_err(|e| CliError::Usage(format!("--addr {addr}: {e}")))?;
    let opts = Options {
        h2: H2Options {
            cacert: m.get("cacert").map(PathBuf::from),
            insecure: m.on("insecure"),
            h2c: !m.on("tls"),
            ..H2Options::default()
        },
        deadline: match m.get("deadline") {
            Some(_) => Some(m.timeout(&CALL, "deadline")?),
            None => None,
        },
        metadata: Vec::new(),
    };
    let Some((method, args)) = m.args.split_first() else {
        return Err(CliError::Usage(
            "name a METHOD: Echo, Subscribe, Collect or Chat (see netlab grpc call --help)".into(),
        ));
    };
    let notes = |texts: &[String]| -> Vec<Note> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Note {
                text: t.clone(),
                seq: i as u64 + 1,
            })
            .collect()
    };
    let result = match method.as_str() {
        "Echo" => {
            let [text] = args else {
                return Err(CliError::Usage("Echo takes one TEXT".into()));
            };
            client::unary::<Note, Note>(
                &base,
                exchange::ECHO,
                &Note {
                    text: text.clone(),
                    seq: 0,
                },
                &opts,
            )
            .map(|n| cli::say(format_args!("{}", show(&n))))
        }
        "Subscribe" => {
            let [name, count] = args else {
                return Err(CliError::Usage("Subscribe takes NAME COUNT".into()));
            };
            let count = count
                .parse()
                .map_err(|_| CliError::Usage(format!("COUNT '{count}' is not a number")))?;
            let topic = Topic {
                name: name.clone(),
                count,
            };
            client::server_stream::<Topic, Note>(
                &base,
                exchange::SUBSCRIBE,
                &topic,
                &opts,
                &mut |n| cli::say(format_args!("{}", show(&n))),
            )
        }
        "Collect" => {
            client::client_stream::<Note, Summary>(&base, exchange::COLLECT, &notes(args), &opts)
                .map(|s| cli::say(format_args!("count={} bytes={}", s.count, s.bytes)))
        }
        "Chat" => {
            client::bidi_turns::<Note, Note>(&base, exchange::CHAT, &notes(args), &opts, &mut |n| {
                cli::say(format_args!("{}", show(&n)))
            })
        }
        // Any other name is sent as it is, to show what the server answers (UNIMPLEMENTED).
        other => client::unary::<Note, Note>(
            &base,
            &format!("/netlab.Exchange/{other}"),
            &Note::default(),
            &opts,
        )
        .map(|n| cli::say(format_args!("{}", show(&n)))),
    };
    result.map_err(|status| CliError::Runtime(format!("the call ended with {status}")))
}
