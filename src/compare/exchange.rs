//! One exchange over every transport of the course: a small JSON note sent and answered, on
//! a fresh connection each time, and a bulk transfer of `size` bytes that comes back whole
//! (every server here echoes). The servers are netlab's own, in this process; each client
//! reaches its server through a [`super::path`] relay that counts the bytes.
//!
//! | transport | server | client |
//! |---|---|---|
//! | TCP echo | `l4::echo` | a `TcpStream` |
//! | ZeroMQ REQ/REP | `zmq::reqrep` | `zmq::reqrep::Client` |
//! | HTTP/1.1, HTTPS (and resumed) | `http1::server` | `http1::client` |
//! | HTTP/2 (TLS) | `http2::server` | `http2::client` |
//! | gRPC (HTTP/2, cleartext) | `grpc::server` | `grpc::client::unary` |
//! | HTTP/3 (and 0-RTT) | `quic::server` | `quic::client` |
//! | WebRTC data channel | a `webrtc::peer` answering, echoing | a `webrtc::peer` offering |
//!
//! A second visit (HTTPS resumed, HTTP/3 0-RTT) starts with a first visit straight to the
//! server, not through the relay and before the clock starts: it only leaves a ticket in
//! the client. The visit measured then goes through the relay like any other.
//!
//! WebRTC's signaling is a function call here (the offer and answer are handed over in this
//! process): what is measured is the data channel's own path, ICE, DTLS, SCTP and DCEP.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::grpc::exchange::{ECHO, Exchange, Note};
use crate::http::handler::Handler;
use crate::http::services::{app, notes::Store};
use crate::http::uri::Url;
use crate::l4::background::Background;
use crate::tls;

pub use super::error::CompareError;
use super::error::client;
pub use super::transport::Kind;

/// The note every transport carries: small, JSON, the same bytes everywhere.
pub const NOTE: &str = r#"{"seq":1,"text":"the same note over every transport"}"#;

/// Every server, started once, on loopback ports the kernel picks.
pub struct Servers {
    pub tcp_echo: Background,
    pub zmq: crate::zmq::reqrep::Running,
    zmq_ctx: zmq::Context,
    pub http1: Background,
    pub https: Background,
    pub http2: Background,
    /// HTTP/2 in cleartext (h2c), for reading its frames off the path.
    pub http2c: Background,
    pub grpc: Background,
    pub http3: Background,
    /// The CA of the certificate every TLS and QUIC server uses.
    pub ca: PathBuf,
    dir: PathBuf,
    /// Static files every HTTP server serves (for the second visits' GETs).
    site: PathBuf,
}

impl Servers {
    pub fn start() -> Result<Servers, CompareError> {
        let e = |what: &'static str, x: &dyn fmt::Display| CompareError::Start {
            what,
            error: x.to_string(),
        };
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let tcp_echo = crate::l4::echo::spawn_tcp(any, crate::l4::echo::echo)
            .map_err(|x| e("TCP echo", &x))?;
        let zmq_ctx = zmq::Context::new();
        let endpoint = crate::zmq::endpoint::Endpoint::parse("tcp://127.0.0.1:0")
            .map_err(|x| e("ZeroMQ", &x))?;
        let zmq = crate::zmq::reqrep::spawn(&zmq_ctx, &endpoint, crate::zmq::reqrep::echo)
            .map_err(|x| e("ZeroMQ", &x))?;
        let pki = tls::certs::generate().map_err(|x| e("certificates", &x))?;
        let dir = std::env::temp_dir().join(format!("netlab-compare-{}", std::process::id()));
        // The files a second visit GETs (the note, the bulk), apart from the keys.
        let site = dir.join("site");
        std::fs::create_dir_all(&site).map_err(|x| e("a temp dir", &x))?;
        let handler: Arc<dyn Handler> = Arc::new(app::monolith(Store::new(), Some(site.clone())));
        let (ca, cert, key) = (
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        );
        for (p, pem) in [
            (&ca, &pki.ca_pem),
            (&cert, &pki.leaf_pem),
            (&key, &pki.leaf_key_pem),
        ] {
            std::fs::write(p, pem).map_err(|x| e("a temp dir", &x))?;
        }
        let bind = || TcpListener::bind(any).map_err(|x| e("a listener", &x));
        let http1 = crate::http1::server::spawn(
            bind()?,
            handler.clone(),
            crate::http1::server::Config::default(),
            Arc::new(crate::http1::server::plain),
        )
        .map_err(|x| e("HTTP/1.1", &x))?;
        let (https, http2, http3) = tls_servers(&handler, &cert, &key, &pki)?;
        let http2c = crate::http2::server::spawn(
            bind()?,
            handler.clone(),
            crate::http2::server::Config::default(),
            crate::http2::server::Security::Cleartext,
        )
        .map_err(|x| e("HTTP/2", &x))?;
        let grpc = crate::http2::server::spawn_app(
            bind()?,
            crate::grpc::server::app(Arc::new(Exchange)),
            crate::http2::server::Config::default(),
            crate::http2::server::Security::Cleartext,
        )
        .map_err(|x| e("gRPC", &x))?;
        Ok(Servers {
            tcp_echo,
            zmq,
            zmq_ctx,
            http1,
            https,
            http2,
            http2c,
            grpc,
            http3,
            ca,
            dir,
            site,
        })
    }

    /// Where the server for `kind` listens.
    pub fn addr(&self, kind: Kind) -> Result<SocketAddr, CompareError> {
        Ok(match kind {
            Kind::TcpEcho => self.tcp_echo.addr(),
            Kind::Zmq => {
                let ep = self.zmq.endpoint();
                ep.trim_start_matches("tcp://")
                    .parse()
                    .map_err(|_| CompareError::Endpoint {
                        kind,
                        endpoint: ep.to_string(),
                    })?
            }
            Kind::Http1 => self.http1.addr(),
            Kind::Https | Kind::HttpsResumed => self.https.addr(),
            Kind::Http2 => self.http2.addr(),
            Kind::Grpc => self.grpc.addr(),
            Kind::Http3 | Kind::Http3ZeroRtt => self.http3.addr(),
            // Each WebRTC exchange makes its answering peer (and its port) anew.
            Kind::WebRtc => return Err(CompareError::NoFixedServer(kind)),
        })
    }

    pub fn zmq_context(&self) -> &zmq::Context {
        &self.zmq_ctx
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The three TLS servers both comparisons run for `handler`: HTTP/1.1 over TLS (HTTPS),
/// HTTP/2 over TLS and HTTP/3, each on a loopback port the kernel picks, with the certificate
/// in `cert` (the same one, from `pki`, for HTTP/3).
pub(super) fn tls_servers(
    handler: &Arc<dyn Handler>,
    cert: &Path,
    key: &Path,
    pki: &tls::certs::LocalPki,
) -> Result<(Background, Background, Background), CompareError> {
    let e = |what: &'static str, x: &dyn fmt::Display| CompareError::Start {
        what,
        error: x.to_string(),
    };
    let bind = || {
        TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).map_err(|x| e("a listener", &x))
    };
    let (tls1, _) =
        tls::server_config(Some((cert, key)), &[b"http/1.1"]).map_err(|x| e("TLS", &x))?;
    let limit = Duration::from_secs(10);
    let accept = move |tcp| tls::accept(tls1.clone(), tcp, limit).ok();
    let https = crate::http1::server::spawn(
        bind()?,
        handler.clone(),
        crate::http1::server::Config::default(),
        Arc::new(accept),
    )
    .map_err(|x| e("HTTPS", &x))?;
    let (tls2, _) = tls::server_config(Some((cert, key)), crate::http2::server::ALPN)
        .map_err(|x| e("TLS", &x))?;
    let http2 = crate::http2::server::spawn(
        bind()?,
        handler.clone(),
        crate::http2::server::Config::default(),
        crate::http2::server::Security::Tls(tls2),
    )
    .map_err(|x| e("HTTP/2", &x))?;
    let udp =
        UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).map_err(|x| e("HTTP/3", &x))?;
    let http3 = crate::quic::server::spawn(
        udp,
        crate::quic::config::Identity::from_pki(pki),
        handler.clone(),
        crate::quic::server::Config::default(),
    )
    .map_err(|x| e("HTTP/3", &x))?;
    Ok((https, http2, http3))
}

/// One exchange as its client saw it.
#[derive(Clone, Copy, Debug)]
pub struct Timed {
    /// From the start until the connection could carry the request, where the client can
    /// tell (`None`: the set-up is inside `answer`, as with ZeroMQ's background connect).
    pub setup: Option<Duration>,
    /// From the start (no connection yet) to the whole answer.
    pub answer: Duration,
    /// When the answer was complete.
    pub ended: Instant,
    /// For a client that returns later than its answer came (QUIC's, which closes its
    /// connection first): when the answer was complete, counted from its first packet.
    pub from_first_packet: Option<Duration>,
}

fn url(kind: Kind, s: &str) -> Result<Url, CompareError> {
    Url::parse(s).map_err(client(kind))
}

/// What a client got back, and when its connection could carry the request (where it can
/// tell).
type Got = (Vec<u8>, Option<Duration>);

/// Sends `body` to the server of `kind` at `to` (a relay in front of it) on a fresh
/// connection and waits for the answer, which must be `body` again.
pub fn exchange(
    kind: Kind,
    to: SocketAddr,
    servers: &Servers,
    body: &[u8],
) -> Result<Timed, CompareError> {
    // A second visit's first: not timed, not through the relay.
    let earlier = if kind.second_visit() {
        let path = resource(servers, body)?;
        Some((first_visit(kind, servers, &path)?, path))
    } else {
        None
    };
    let start = Instant::now();
    let mut from_first_packet = None;
    let (got, setup) = match kind {
        Kind::TcpEcho => tcp_echo(to, body, start)?,
        Kind::Zmq => zmq_request(to, servers, body)?,
        Kind::Http1 | Kind::Https | Kind::HttpsResumed => http1(kind, to, servers, body, earlier)?,
        Kind::Http2 => http2(to, servers, body, start)?,
        Kind::Grpc => grpc(to, body)?,
        Kind::Http3 | Kind::Http3ZeroRtt => {
            let (got, done) = http3(kind, to, servers, body, earlier)?;
            from_first_packet = Some(done);
            got
        }
        // Its answering peer is made per exchange: see [`webrtc_exchange`].
        Kind::WebRtc => return Err(CompareError::NoFixedServer(kind)),
    };
    let answer = start.elapsed();
    let ended = Instant::now();
    if got != body {
        return Err(CompareError::Differs {
            kind,
            back: got.len(),
            sent: body.len(),
        });
    }
    Ok(Timed {
        setup,
        answer,
        ended,
        from_first_packet,
    })
}

/// TCP echo: the body written (by a thread of its own, so a large one cannot deadlock
/// against the echo) and read back until the server closes.
fn tcp_echo(to: SocketAddr, body: &[u8], start: Instant) -> Result<Got, CompareError> {
    let e = client(Kind::TcpEcho);
    let s = TcpStream::connect(to).map_err(&e)?;
    let setup = Some(start.elapsed());
    let _ = s.set_nodelay(true);
    let (mut rd, mut wr) = (s.try_clone().map_err(&e)?, s);
    let up = body.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = wr.write_all(&up);
        let _ = wr.shutdown(std::net::Shutdown::Write);
    });
    let mut back = Vec::with_capacity(body.len());
    rd.read_to_end(&mut back).map_err(&e)?;
    let _ = writer.join();
    Ok((back, setup))
}

/// ZeroMQ REQ/REP: one request, one reply (the connection is made in the background).
fn zmq_request(to: SocketAddr, servers: &Servers, body: &[u8]) -> Result<Got, CompareError> {
    let kind = Kind::Zmq;
    let ep = crate::zmq::endpoint::Endpoint::parse(&format!("tcp://{to}")).map_err(client(kind))?;
    let mut c =
        crate::zmq::reqrep::Client::connect(servers.zmq_context(), &ep, Duration::from_secs(30))
            .map_err(client(kind))?;
    let reply = c.request(&[body]).map_err(client(kind))?;
    Ok((reply.into_iter().next().unwrap_or_default(), None))
}

/// What a first visit left in the client for the second: the HTTP/1.1 client (its TLS
/// configuration holds the tickets), or the file QUIC's session was written to.
pub enum Earlier {
    Https(crate::http1::client::Client),
    Http3(PathBuf),
}

/// A second visit GETs its bytes (0-RTT answers only safe methods, RFC 8470: a POST would
/// get 425 Too Early and wait for the handshake): `body` is put where the servers serve
/// files, and this is its path.
fn resource(servers: &Servers, body: &[u8]) -> Result<String, CompareError> {
    let name = format!("visit-{}.bin", body.len());
    std::fs::write(servers.site.join(&name), body).map_err(|x| CompareError::Start {
        what: "a file for the second visits",
        error: x.to_string(),
    })?;
    Ok(format!("/{name}"))
}

/// The first visit of a second-visit row, straight to the server (not through the relay):
/// the same GET, which brings back a session ticket.
fn first_visit(kind: Kind, servers: &Servers, path: &str) -> Result<Earlier, CompareError> {
    let server = servers.addr(kind)?;
    let target = url(kind, &format!("https://localhost:{}{path}", server.port()))?;
    if kind == Kind::Http3ZeroRtt {
        let session = servers.dir.join("h3-session");
        // A session from an earlier exchange would make this first visit a second one.
        let _ = std::fs::remove_file(&session);
        let opts = h3_options(servers, Some(session.clone()));
        crate::quic::client::fetch(&[target], &opts).map_err(client(kind))?;
        return Ok(Earlier::Http3(session));
    }
    let mut c = https_client(servers);
    c.send(&crate::http1::client::Outgoing::new("GET", target))
        .map_err(client(kind))?;
    // Its connection ends: the measured visit must open one of its own.
    c.close_idle();
    Ok(Earlier::Https(c))
}

fn https_client(servers: &Servers) -> crate::http1::client::Client {
    crate::http1::client::Client::new(crate::http1::client::Options {
        cacert: Some(servers.ca.clone()),
        ..Default::default()
    })
}

/// HTTP/1.1 or HTTPS: a POST to `/echo`; or, on a second visit, the GET of the first
/// visit by the same client, which must then resume.
fn http1(
    kind: Kind,
    to: SocketAddr,
    servers: &Servers,
    body: &[u8],
    earlier: Option<(Earlier, String)>,
) -> Result<Got, CompareError> {
    let tls = kind != Kind::Http1;
    let scheme = if tls { "https" } else { "http" };
    let host = if tls {
        "localhost".to_string()
    } else {
        to.ip().to_string()
    };
    let origin = format!("{scheme}://{host}:{}", to.port());
    let (mut c, req) = match earlier {
        Some((Earlier::Https(c), path)) => {
            let req =
                crate::http1::client::Outgoing::new("GET", url(kind, &format!("{origin}{path}"))?);
            (c, req)
        }
        _ => {
            let mut req =
                crate::http1::client::Outgoing::new("POST", url(kind, &format!("{origin}/echo"))?);
            req.headers.set("Content-Type", "application/json");
            req.body = body.to_vec();
            (https_client(servers), req)
        }
    };
    let r = c.send(&req).map_err(client(kind))?;
    if kind == Kind::HttpsResumed && c.last_handshake() != Some(rustls::HandshakeKind::Resumed) {
        return Err(CompareError::NotResumed(kind));
    }
    Ok((r.body, None))
}

/// HTTP/2 over TLS: a POST to `/echo`, timed by the client.
fn http2(
    to: SocketAddr,
    servers: &Servers,
    body: &[u8],
    start: Instant,
) -> Result<Got, CompareError> {
    let kind = Kind::Http2;
    let mut req = crate::http2::client::Outgoing::get(url(
        kind,
        &format!("https://localhost:{}/echo", to.port()),
    )?);
    req.method = "POST".into();
    req.body = body.to_vec();
    let opts = crate::http2::client::Options {
        cacert: Some(servers.ca.clone()),
        ..Default::default()
    };
    let mut all = crate::http2::client::fetch_timed(vec![req], &opts).map_err(client(kind))?;
    let f = all
        .pop()
        .ok_or(CompareError::NoResponse(kind))?
        .map_err(client(kind))?;
    // `done_after` counts from the request: what came before it was the set-up.
    let setup = Some(start.elapsed().saturating_sub(f.done_after));
    Ok((f.response.body, setup))
}

/// gRPC in cleartext: one unary call of the Echo method.
fn grpc(to: SocketAddr, body: &[u8]) -> Result<Got, CompareError> {
    let kind = Kind::Grpc;
    let note = Note {
        text: String::from_utf8_lossy(body).into_owned(),
        seq: 1,
    };
    let base = url(kind, &format!("http://{to}"))?;
    let opts = crate::grpc::client::Options {
        h2: crate::http2::client::Options {
            h2c: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let back: Note = crate::grpc::client::unary(&base, ECHO, &note, &opts).map_err(client(kind))?;
    Ok((back.text.into_bytes(), None))
}

fn h3_options(servers: &Servers, session: Option<PathBuf>) -> crate::quic::client::Options {
    crate::quic::client::Options {
        cacert: Some(servers.ca.clone()),
        timeout: Duration::from_secs(60),
        session,
        ..Default::default()
    }
}

/// HTTP/3: a POST to `/echo`; or, on a second visit, the first visit's GET sent in 0-RTT
/// with its session, which the server must accept. The set-up is QUIC's handshake as the
/// client saw it; with the answer, when it was complete after the connection's first packet.
fn http3(
    kind: Kind,
    to: SocketAddr,
    servers: &Servers,
    body: &[u8],
    earlier: Option<(Earlier, String)>,
) -> Result<(Got, Duration), CompareError> {
    let origin = format!("https://localhost:{}", to.port());
    let (opts, target) = match earlier {
        Some((Earlier::Http3(session), path)) => (
            h3_options(servers, Some(session)),
            url(kind, &format!("{origin}{path}"))?,
        ),
        _ => {
            let opts = crate::quic::client::Options {
                method: "POST".into(),
                body: Some(body.to_vec()),
                headers: vec![("content-type".into(), "application/json".into())],
                ..h3_options(servers, None)
            };
            (opts, url(kind, &format!("{origin}/echo"))?)
        }
    };
    let mut out = crate::quic::client::fetch(&[target], &opts).map_err(client(kind))?;
    if kind == Kind::Http3ZeroRtt {
        if !out.resumed {
            return Err(CompareError::NotResumed(kind));
        }
        if out.early_data != Some(true) {
            return Err(CompareError::NoEarlyData(kind));
        }
    }
    let response = out.responses.pop().ok_or(CompareError::NoResponse(kind))?;
    Ok(((response.body, Some(out.handshake)), response.done_after))
}

/// The WebRTC exchange: an answering peer that echoes, an offering peer that opens a reliable
/// ordered channel and sends `body` (text for the note, 16 KiB binary messages for bulk).
/// `via` makes the path in front of the answerer once its port is known; the answer's
/// candidate is rewritten to the path's port, so every datagram passes it.
pub fn webrtc_exchange<P>(
    body: &[u8],
    text: bool,
    via: impl FnOnce(SocketAddr) -> Result<(P, SocketAddr), CompareError>,
) -> Result<(Timed, P), CompareError> {
    use crate::webrtc::dcep::ChannelType;
    use crate::webrtc::dtls::Identity;
    use crate::webrtc::peer::{Config, Event, Message, Peer};
    let kind = Kind::WebRtc;
    let identity = Identity::generate().map_err(client(kind))?;
    let start = Instant::now();
    let offer = Peer::offer(&identity, Config::default()).map_err(client(kind))?;
    let answerer_config = Config {
        role: "server",
        ..Config::default()
    };
    let (answerer, answer) =
        Peer::answer(&offer.sdp, &identity, answerer_config).map_err(client(kind))?;
    let real = answerer.local_addr;
    std::thread::spawn(move || crate::webrtc::signaling::echo(answerer));
    let (path, relay) = via(real)?;
    let answer = retarget(&answer, real.port(), relay.port());
    let mut peer = offer.accept(&answer).map_err(client(kind))?;
    let id = peer.open("compare", ChannelType::RELIABLE);
    let limit = Duration::from_secs(30);
    peer.wait_open(limit).map_err(client(kind))?;
    let setup = Some(start.elapsed());
    let chunks: Vec<Message> = if text {
        vec![Message::Text(String::from_utf8_lossy(body).into_owned())]
    } else {
        body.chunks(16 * 1024)
            .map(|c| Message::Binary(c.to_vec()))
            .collect()
    };
    let mut back = Vec::with_capacity(body.len());
    for m in chunks {
        peer.send(id, m).map_err(client(kind))?;
    }
    let deadline = Instant::now() + limit;
    while back.len() < body.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match peer.recv(left) {
            Some(Event::Message(_, Message::Text(t))) => back.extend_from_slice(t.as_bytes()),
            Some(Event::Message(_, Message::Binary(b))) => back.extend_from_slice(&b),
            Some(Event::Ended(why)) => {
                let why = format!("{why:?}");
                return Err(CompareError::SessionEnded { kind, why });
            }
            Some(_) => {}
            None => return Err(CompareError::NoEcho(kind)),
        }
    }
    let answer_time = start.elapsed();
    let ended = Instant::now();
    peer.close();
    if back != body {
        return Err(CompareError::Differs {
            kind,
            back: back.len(),
            sent: body.len(),
        });
    }
    Ok((
        Timed {
            setup,
            answer: answer_time,
            ended,
            from_first_packet: None,
        },
        path,
    ))
}

/// The answer with its candidate's (and m= line's) port replaced: the offerer then sends
/// every datagram to the path instead of the answerer.
fn retarget(sdp: &str, real: u16, relay: u16) -> String {
    let (from, to) = (real.to_string(), relay.to_string());
    sdp.split_inclusive('\n')
        .map(|line| {
            if line.starts_with("a=candidate:") || line.starts_with("m=application ") {
                line.split(' ')
                    .map(|w| if w == from { to.as_str() } else { w })
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                line.to_string()
            }
        })
        .collect()
}
