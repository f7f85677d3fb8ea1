//! The HTTP commands: `netlab http serve|request|proxy` and `netlab cert`.

use crate::cli::{self, CliError, Command, Flag, Matches, flag, runtime};
use netlab::http::alt_svc::AltSvc;
use netlab::http::handler::Handler;
use netlab::http::message::Version;
use netlab::http::router::Router;
use netlab::http::services::{app, notes::Store};
use netlab::http::uri::Url;
use netlab::http1::client::{Client, Options, Outgoing, Upstream};
use netlab::http1::head;
use netlab::http1::proxy::{self, ProxyConfig};
use netlab::http1::server::{self, Accept, Config};
use netlab::quic::config::Identity;
use netlab::tls::{self, certs};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub const SERVE: Command = Command {
    path: "netlab http serve",
    about: "an HTTP/1.1 server: pages, /echo, notes over REST and SOAP, static files",
    flags: &[
        flag(
            "addr",
            Some("HOST:PORT"),
            Some("127.0.0.1:8080"),
            "address to listen on (port 0: the kernel picks)",
        ),
        flag(
            "root",
            Some("DIR"),
            None,
            "serve the files under DIR for paths no route takes",
        ),
        flag(
            "tls",
            None,
            None,
            "https: TLS with --cert/--key, or a certificate made on the fly",
        ),
        flag(
            "h3",
            None,
            None,
            "with TLS: HTTP/3 on the same port over UDP too, advertised by Alt-Svc",
        ),
        flag(
            "cert",
            Some("FILE"),
            None,
            "PEM certificate chain for --tls",
        ),
        flag("key", Some("FILE"), None, "PEM private key for --tls"),
        flag(
            "role",
            Some("ROLE"),
            Some("monolith"),
            "monolith | notes (the notes service alone) | gateway",
        ),
        flag(
            "upstream",
            Some("URL"),
            None,
            "with --role gateway: the notes service, http://HOST:PORT (REST and SOAP forwarded over HTTP/1.1) or grpc://HOST:PORT (each operation a netlab.Notes gRPC call)",
        ),
        flag(
            "max-conns",
            Some("N"),
            Some("2048"),
            "connections served at once; more get 503",
        ),
        flag(
            "per-source",
            Some("N"),
            None,
            "connections one client address may hold at once; more from it get 503 (default: a quarter of --max-conns)",
        ),
        flag(
            "idle-timeout",
            Some("MS"),
            Some("15000"),
            "close a kept-alive connection silent this long",
        ),
        flag(
            "head-timeout",
            Some("MS"),
            Some("10000"),
            "a started request head (or a TLS handshake) must be complete within this (else 408 / close)",
        ),
        flag(
            "body-timeout",
            Some("MS"),
            Some("30000"),
            "a request body must be complete within this once its head is in (else 408)",
        ),
        flag(
            "max-body",
            Some("BYTES"),
            Some("8388608"),
            "larger request bodies get 413",
        ),
        flag(
            "no-trace-method",
            None,
            None,
            "answer TRACE with 405 (see the README on cross-site tracing)",
        ),
        flag(
            "loops",
            Some("N"),
            None,
            "plain HTTP from N poll(2) loops, each serving many connections from one thread, instead of a thread per connection",
        ),
        cli::SERIAL,
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const REQUEST: Command = Command {
    path: "netlab http request",
    about: "send HTTP requests, curl style: body to stdout, -v shows the heads on stderr",
    flags: &[
        Flag {
            name: "request",
            short: Some('X'),
            value: Some("METHOD"),
            default: None,
            help: "the method (default GET, or POST with -d)",
        },
        Flag {
            name: "header",
            short: Some('H'),
            value: Some("'NAME: VALUE'"),
            default: None,
            help: "add a header field (repeatable)",
        },
        Flag {
            name: "data",
            short: Some('d'),
            value: Some("DATA"),
            default: None,
            help: "send DATA as the body (@FILE reads a file, @- stdin)",
        },
        flag(
            "chunked",
            None,
            None,
            "send the body with Transfer-Encoding: chunked",
        ),
        flag(
            "proxy",
            Some("URL"),
            None,
            "send through this proxy (http://HOST:PORT)",
        ),
        flag(
            "cacert",
            Some("FILE"),
            None,
            "also trust the CAs in this PEM file",
        ),
        Flag {
            name: "insecure",
            short: Some('k'),
            value: None,
            default: None,
            help: "do not verify the server's certificate",
        },
        Flag {
            name: "verbose",
            short: Some('v'),
            value: None,
            default: None,
            help: "show the request and response heads on stderr",
        },
        Flag {
            name: "include",
            short: Some('i'),
            value: None,
            default: None,
            help: "print the response head before the body",
        },
        Flag {
            name: "fail",
            short: Some('f'),
            value: None,
            default: None,
            help: "exit 1 when the status is 400 or more",
        },
        flag(
            "timeout",
            Some("MS"),
            Some("30000"),
            "bound connect and every wait for the server",
        ),
        flag(
            "repeat",
            Some("N"),
            Some("1"),
            "visit N times, each visit on new connections (https: the next visits resume TLS 1.3 with a ticket of the one before)",
        ),
    ],
    args: "URL…",
    min_args: 1,
    max_args: usize::MAX,
};

pub const PROXY: Command = Command {
    path: "netlab http proxy",
    about: "a forward proxy: absolute-form http requests and CONNECT tunnels",
    flags: &[
        flag(
            "addr",
            Some("HOST:PORT"),
            Some("127.0.0.1:8888"),
            "address to listen on",
        ),
        flag(
            "open",
            None,
            None,
            "relay to any origin, not just loopback ones",
        ),
        flag(
            "origin-timeout",
            Some("MS"),
            Some("10000"),
            "how long to wait for an origin (then 504)",
        ),
        flag(
            "tunnel-idle",
            Some("MS"),
            Some("300000"),
            "close a CONNECT tunnel in which neither side sent anything for this long",
        ),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const CERT: Command = Command {
    path: "netlab cert",
    about: "make a local CA (kept once made) and a certificate for localhost, 127.0.0.1 and ::1",
    flags: &[flag(
        "dir",
        Some("DIR"),
        Some("netlab-certs"),
        "where to write ca.pem, ca-key.pem, localhost.pem, localhost-key.pem",
    )],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const COMMANDS: &[&Command] = &[&SERVE, &REQUEST, &PROXY, &CERT];

pub fn run(head: &str, tail: &[String]) -> Result<(), CliError> {
    if head == "cert" {
        return cert(&cli::parse(&CERT, tail)?);
    }
    match tail.split_first() {
        Some((v, args)) if v == "serve" => serve(&cli::parse(&SERVE, args)?),
        Some((v, args)) if v == "request" => request(&cli::parse(&REQUEST, args)?),
        Some((v, args)) if v == "proxy" => proxy_cmd(&cli::parse(&PROXY, args)?),
        Some((v, _)) if v == "-h" || v == "--help" => Err(CliError::Help(
            [&SERVE, &REQUEST, &PROXY]
                .iter()
                .map(|c| cli::help(c))
                .collect::<Vec<_>>()
                .join("\n"),
        )),
        Some((v, _)) => Err(CliError::Usage(format!(
            "unknown verb '{v}': use netlab http serve, request or proxy"
        ))),
        None => Err(CliError::Usage(
            "netlab http needs a verb: serve, request or proxy".into(),
        )),
    }
}

/// The TLS configuration `--tls`, `--cert` and `--key` ask for, or `None` for cleartext. A
/// certificate made on the fly leaves its CA in a temporary file clients can trust.
pub fn server_tls(
    m: &Matches,
    alpn: &[&[u8]],
    always: bool,
) -> Result<Option<Arc<rustls::ServerConfig>>, CliError> {
    Ok(server_tls_identity(m, alpn, always)?.map(|(config, _)| config))
}

/// The TLS configuration and the certificate it holds, as PEM: an HTTP/3 server started
/// beside a TCP one (`--h3`) serves the same certificate over QUIC.
pub fn server_tls_identity(
    m: &Matches,
    alpn: &[&[u8]],
    always: bool,
) -> Result<Option<(Arc<rustls::ServerConfig>, Identity)>, CliError> {
    if !(always || m.on("tls") || m.on("cert")) {
        return Ok(None);
    }
    let files = match (m.get("cert"), m.get("key")) {
        (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
        (None, None) => None,
        _ => return Err(CliError::Usage("--cert and --key go together".into())),
    };
    let (tls_config, made) = tls::server_config(
        files.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
        alpn,
    )
    .map_err(runtime)?;
    let identity = match (&made, &files) {
        (Some(pki), _) => {
            announce_made(pki)?;
            Identity::from_pki(pki)
        }
        (None, Some((c, k))) => Identity::from_files(c, k).map_err(runtime)?,
        (None, None) => return Err(CliError::Runtime("no certificate".into())),
    };
    Ok(Some((tls_config, identity)))
}

/// `--h3`: an HTTP/3 server on the same port number over UDP, serving the same handler,
/// which every TCP response then advertises with `Alt-Svc: h3=":PORT"` (RFC 7838).
pub fn beside_h3(
    m: &Matches,
    router: Router,
    tcp: SocketAddr,
    identity: Option<Identity>,
) -> Result<Arc<dyn Handler>, CliError> {
    if !m.on("h3") {
        return Ok(Arc::new(router));
    }
    let Some(identity) = identity else {
        return Err(CliError::Usage(
            "--h3 needs TLS (--tls, or --cert and --key)".into(),
        ));
    };
    let socket = std::net::UdpSocket::bind(tcp)
        .map_err(|e| CliError::Runtime(format!("--h3: cannot bind {tcp} (UDP): {e}")))?;
    let handler: Arc<dyn Handler> = Arc::new(AltSvc::h3(router, tcp.port()));
    let h3_handler = handler.clone();
    let role = netlab::trace::current_role();
    std::thread::Builder::new()
        .name(format!("h3 {tcp}"))
        .spawn(move || {
            let _role = role.map(netlab::trace::role);
            let config = netlab::quic::server::Config::default();
            let stop = Arc::new(AtomicBool::new(false));
            if let Err(e) = netlab::quic::server::serve(socket, &identity, h3_handler, config, stop)
            {
                eprintln!("error: HTTP/3 beside {tcp}: {e}");
            }
        })
        .map_err(runtime)?;
    eprintln!(
        "HTTP/3 on udp {tcp} too, advertised in every response: Alt-Svc: h3=\":{}\"",
        tcp.port()
    );
    Ok(handler)
}

/// A certificate made on the fly: clients need its CA to verify, so it is left where they
/// can find it, and the line says where (and the pin a browser accepts).
pub fn announce_made(pki: &certs::LocalPki) -> Result<(), CliError> {
    let dir = std::env::temp_dir().join(format!("netlab-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let ca = dir.join(certs::CA_CERT);
    std::fs::write(&ca, &pki.ca_pem).map_err(runtime)?;
    eprintln!(
        "certificate made on the fly for localhost, 127.0.0.1, ::1; trust it with --cacert {} (SPKI pin {})",
        ca.display(),
        pki.leaf_spki_sha256
    );
    Ok(())
}

/// The site every HTTP server of netlab serves: `--role` and `--root` decide which.
pub fn site(cmd: &Command, m: &Matches) -> Result<Router, CliError> {
    let root = m.get("root").map(PathBuf::from);
    if let Some(r) = &root {
        if !r.is_dir() {
            return Err(CliError::Usage(format!(
                "--root {}: not a directory",
                r.display()
            )));
        }
    }
    let mut router: Router = match m.get("role").unwrap_or("monolith") {
        "monolith" => app::monolith(Store::new(), root),
        "notes" => app::notes_service(Store::new()),
        "gateway" => {
            let raw = m.get("upstream").ok_or_else(|| {
                CliError::Usage(format!(
                    "--role gateway needs --upstream URL of the notes service (see {} --help)",
                    cmd.path
                ))
            })?;
            if raw.starts_with("grpc://") || raw.starts_with("grpcs://") {
                // The same REST and SOAP interfaces, each operation a gRPC call.
                let cacert = m.get("cacert").map(PathBuf::from);
                let remote = netlab::grpc::notes::Remote::new(raw, cacert)
                    .map_err(|e| CliError::Usage(format!("--upstream {e}")))?;
                app::gateway_to(Arc::new(remote), root)
            } else {
                let url = Url::parse(raw)
                    .map_err(|e| CliError::Usage(format!("--upstream {raw}: {e}")))?;
                app::gateway(Upstream::new(url, "notes service"), root)
            }
        }
        other => {
            return Err(CliError::Usage(format!(
                "--role {other}: use monolith, notes or gateway"
            )));
        }
    };
    router.trace_enabled = !m.on("no-trace-method");
    Ok(router)
}

pub fn bind(cmd: &Command, m: &Matches) -> Result<TcpListener, CliError> {
    let addr = m.addr(cmd)?;
    TcpListener::bind(addr).map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => CliError::Runtime(format!(
            "cannot bind {addr}: address already in use (see who holds it: netlab port {})",
            addr.port()
        )),
        _ => CliError::Runtime(format!("cannot bind {addr}: {e}")),
    })
}

/// `--per-source N`: at least 1, or `None` (a quarter of `--max-conns`).
fn per_source(m: &Matches) -> Result<Option<usize>, CliError> {
    if m.get("per-source").is_none() {
        return Ok(None);
    }
    match m.number(&SERVE, "per-source")? {
        0 => Err(CliError::Usage(
            "--per-source takes 1 or more (see netlab http serve --help)".into(),
        )),
        n => Ok(Some(n)),
    }
}

fn serve(m: &Matches) -> Result<(), CliError> {
    // --loops N: the same server as N poll loops (plain HTTP only).
    let loops = match m.get("loops") {
        None => None,
        Some(_) => {
            let n: usize = m.number(&SERVE, "loops")?;
            if n == 0 {
                return Err(CliError::Usage(
                    "--loops takes 1 or more (see netlab http serve --help)".into(),
                ));
            }
            if m.on("tls") || m.on("serial") || m.on("h3") {
                return Err(CliError::Usage(
                    "--loops serves plain HTTP: not with --tls, --h3 or --serial, which run a thread per connection (see netlab http serve --help)".into(),
                ));
            }
            Some(n)
        }
    };
    let listener = bind(&SERVE, m)?;
    let router = site(&SERVE, m)?;
    let config = Config {
        max_conns: m.number(&SERVE, "max-conns")?,
        per_source: per_source(m)?,
        idle_timeout: m.timeout(&SERVE, "idle-timeout")?,
        head_timeout: m.timeout(&SERVE, "head-timeout")?,
        body_timeout: m.timeout(&SERVE, "body-timeout")?,
        max_body: m.number(&SERVE, "max-body")?,
        threads: m.threads(),
        ..Config::default()
    };
    let mut identity = None;
    let (scheme, accept): (&str, Arc<Accept>) =
        if let Some((tls_config, id)) = server_tls_identity(m, &[b"http/1.1"], false)? {
            identity = Some(id);
            let handshake_limit = config.head_timeout;
            let accept = move |tcp| match tls::accept(tls_config.clone(), tcp, handshake_limit) {
                Ok(t) => Some(t),
                Err(e) => {
                    netlab::trace::event(netlab::trace::Layer::Tls, || format!("{e}"));
                    None
                }
            };
            ("https", Arc::new(accept))
        } else {
            ("http", Arc::new(server::plain))
        };
    let addr = listener.local_addr().map_err(runtime)?;
    if let Some(loops) = loops {
        cli::listening(scheme, addr);
        return netlab::http1::event_loop::serve(
            listener,
            Arc::new(router),
            config,
            loops,
            Arc::new(AtomicBool::new(false)),
        )
        .map_err(runtime);
    }
    let handler = beside_h3(m, router, addr, identity)?;
    cli::listening(scheme, addr);
    server::serve(
        listener,
        handler,
        config,
        accept,
        Arc::new(AtomicBool::new(false)),
    );
    Ok(())
}

pub fn body_arg(raw: &str) -> Result<Vec<u8>, CliError> {
    match raw.strip_prefix('@') {
        Some("-") => {
            let mut b = Vec::new();
            io::stdin().read_to_end(&mut b).map_err(runtime)?;
            Ok(b)
        }
        Some(path) => {
            std::fs::read(path).map_err(|e| CliError::Runtime(format!("cannot read {path}: {e}")))
        }
        None => Ok(raw.as_bytes().to_vec()),
    }
}

fn request(m: &Matches) -> Result<(), CliError> {
    let proxy = match m.get("proxy") {
        Some(raw) => {
            Some(Url::parse(raw).map_err(|e| CliError::Usage(format!("--proxy {raw}: {e}")))?)
        }
        None => None,
    };
    let cacert = m.get("cacert").map(PathBuf::from);
    if let Some(c) = &cacert {
        if !Path::new(c).is_file() {
            return Err(CliError::Usage(format!(
                "--cacert {}: no such file",
                c.display()
            )));
        }
    }
    let opts = Options {
        cacert,
        insecure: m.on("insecure"),
        proxy,
        timeout: m.timeout(&REQUEST, "timeout")?,
        verbose: m.on("verbose"),
        ..Options::default()
    };
    let body = match m.get("data") {
        Some(d) => Some(body_arg(d)?),
        None => None,
    };
    let method = m.get("request").map(String::from).unwrap_or_else(|| {
        if body.is_some() {
            "POST".into()
        } else {
            "GET".into()
        }
    });
    let mut headers = Vec::new();
    for h in m.all("header") {
        let (n, v) = h
            .split_once(':')
            .ok_or_else(|| CliError::Usage(format!("-H '{h}': expected 'Name: value'")))?;
        if !netlab::http1::parse::is_token(n.trim().as_bytes()) {
            return Err(CliError::Usage(format!(
                "-H '{h}': '{}' is not a valid field name",
                n.trim()
            )));
        }
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let visits: usize = m.number(&REQUEST, "repeat")?;
    if visits == 0 {
        return Err(CliError::Usage(
            "--repeat takes 1 or more (see netlab http request --help)".into(),
        ));
    }
    let mut client = Client::new(opts);
    let sent = visit(&mut client, m, visits, &method, &headers, body.as_deref());
    // The connection kept for a next request that will not come ends here, and its FIN is
    // traced like any other close.
    client.close_idle();
    if sent? && m.on("fail") {
        return Err(CliError::Runtime(
            "the server answered with an error status".into(),
        ));
    }
    Ok(())
}

/// `--repeat N`: the requests sent N times, each visit after the first on new connections
/// (the kept ones closed), as a browser that comes back later; true when a response had an
/// error status.
fn visit(
    client: &mut Client,
    m: &Matches,
    visits: usize,
    method: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<bool, CliError> {
    let _role = netlab::trace::default_role("client");
    let mut failed = false;
    for n in 1..=visits {
        if n > 1 {
            // The TLS configuration, and the tickets in its session store, stay.
            client.close_idle();
            netlab::trace::event(netlab::trace::Layer::Http1, || {
                format!("visit {n} of {visits}: on new connections")
            });
        }
        failed |= send_each(client, m, method, headers, body)?;
    }
    Ok(failed)
}

/// Sends the request to each URL in turn and writes each response to stdout; true when a
/// response had an error status.
fn send_each(
    client: &mut Client,
    m: &Matches,
    method: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<bool, CliError> {
    let mut out = cli::Stdout;
    let mut failed = false;
    for raw in &m.args {
        let url = Url::parse(raw).map_err(|e| CliError::Usage(format!("{raw}: {e}")))?;
        let mut req = Outgoing::new(method, url);
        for (n, v) in headers {
            req.headers.append(n, v);
        }
        if let Some(b) = body {
            req.body = b.to_vec();
            if !req.headers.contains("content-type") {
                req.headers
                    .append("Content-Type", "application/x-www-form-urlencoded");
            }
        }
        req.chunked = m.on("chunked");
        let resp = client.send(&req).map_err(runtime)?;
        if m.on("include") {
            let mut bytes = Vec::new();
            head::emit_response(
                Version::HTTP_11,
                resp.status,
                &resp.reason,
                &resp.headers,
                &mut bytes,
            );
            out.write_all(&bytes).map_err(runtime)?;
        }
        out.write_all(&resp.body).map_err(runtime)?;
        out.flush().map_err(runtime)?;
        failed |= resp.status >= 400;
    }
    Ok(failed)
}

fn proxy_cmd(m: &Matches) -> Result<(), CliError> {
    let listener = bind(&PROXY, m)?;
    let config = ProxyConfig {
        open: m.on("open"),
        origin_timeout: m.timeout(&PROXY, "origin-timeout")?,
        tunnel_idle: m.timeout(&PROXY, "tunnel-idle")?,
        ..ProxyConfig::default()
    };
    cli::listening("http", listener.local_addr().map_err(runtime)?);
    proxy::serve(listener, config, Arc::new(AtomicBool::new(false)));
    Ok(())
}

fn cert(m: &Matches) -> Result<(), CliError> {
    let dir = PathBuf::from(m.get("dir").unwrap_or("netlab-certs"));
    let (pki, new_ca) = certs::ensure_dir(&dir).map_err(runtime)?;
    let show = |name: &str| dir.join(name).display().to_string();
    if new_ca {
        cli::say(format_args!(
            "made a new local CA: {} (key {})",
            show(certs::CA_CERT),
            show(certs::CA_KEY)
        ));
    } else {
        cli::say(format_args!(
            "kept the existing CA: {}",
            show(certs::CA_CERT)
        ));
    }
    cli::say(format_args!(
        "issued a certificate for localhost, 127.0.0.1, ::1: {} (key {})",
        show(certs::LEAF_CERT),
        show(certs::LEAF_KEY)
    ));
    cli::say(format_args!(
        "SPKI SHA-256 pin (base64): {}",
        pki.leaf_spki_sha256
    ));
    cli::say(format_args!(
        "serve with: netlab http serve --tls --cert {} --key {}\ntrust with: curl --cacert {} / netlab http request --cacert {}",
        show(certs::LEAF_CERT),
        show(certs::LEAF_KEY),
        show(certs::CA_CERT),
        show(certs::CA_CERT)
    ));
    Ok(())
}
