//! The HTTP/2 server: the same handlers as HTTP/1.1 (`crate::http::handler`), served over
//! binary frames with many streams on one connection (RFC 9113).
//!
//! The `h2` crate is async, and netlab is not: this file is where the two meet, and the
//! only place the server uses tokio (DESIGN.md principle 4). Threads, where they are made:
//!
//! - the accept loop is L4's ([`crate::l4::accept`]): one thread per connection, or with
//!   `--serial` (`config.http1.threads`) none: one connection at a time on the loop's thread;
//! - that thread runs a current-thread tokio runtime for its connection only, which polls
//!   the `h2` connection and one task per stream (all on this one thread);
//! - each request's handler runs on a thread of tokio's blocking pool (`spawn_blocking`), so
//!   a slow handler holds back its own stream only: the others' frames keep flowing. So in a
//!   debugger, a breakpoint in a handler stops a `tokio-runtime-worker` thread, while one in
//!   the frame or HPACK decoders of the trace stops the connection's thread.
//!
//! Which protocol a connection speaks is decided before any HTTP is read:
//! - with TLS, by ALPN (RFC 7301): a client that offers `h2` gets HTTP/2, one that offers only
//!   `http/1.1` (or nothing) gets the HTTP/1.1 server on the same port;
//! - in cleartext (`--h2c`), by the first bytes: the HTTP/2 preface (prior knowledge, RFC 9113
//!   §3.3) or else HTTP/1.1. The `Upgrade: h2c` dance of RFC 7540 is deprecated by RFC 9113
//!   (§3.1) and not offered.

use super::io::{BodyError, Prefixed, Traced, read_body, send_data};
use crate::http::handler::Handler;
use crate::http::message::{Headers, Request, Response, Version};
use crate::http1;
use crate::l4::accept;
use crate::l4::background::Background;
use crate::l4::relay::Side;
use crate::tls::transport::Transport;
use crate::trace::{self, Layer};
use bytes::Bytes;
use rustls::ServerConfig;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Limits of the HTTP/2 server. Each protects it from one kind of client.
#[derive(Clone, Debug)]
pub struct Config {
    /// Connections served at once (both versions); more are answered 503 and closed.
    pub max_conns: usize,
    /// Streams a client may open at once (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113 §6.5.2).
    pub max_concurrent_streams: u32,
    /// The largest header list accepted (SETTINGS_MAX_HEADER_LIST_SIZE): bounds a
    /// CONTINUATION flood.
    pub max_header_list: u32,
    /// The largest request body accepted → 413.
    pub max_body: usize,
    /// The TLS handshake (or the first bytes of h2c) must be done within this time.
    pub handshake_timeout: Duration,
    /// A connection with no open stream for this long is closed with GOAWAY(NO_ERROR).
    pub idle_timeout: Duration,
    /// The HTTP/1.1 server's settings, for clients that do not speak HTTP/2.
    pub http1: http1::server::Config,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_conns: 2048,
            max_concurrent_streams: 100,
            max_header_list: 64 * 1024,
            max_body: 64 << 20,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            http1: http1::server::Config::default(),
        }
    }
}

/// What the server listens for: TLS with ALPN, or cleartext (h2c prior knowledge).
#[derive(Clone)]
pub enum Security {
    Tls(Arc<ServerConfig>),
    Cleartext,
}

/// What a stream gets: its request (headers, and a body still arriving) and the handle to
/// answer it with. The HTTP handlers' bridge is [`http_streams`]; gRPC has its own.
pub type StreamFn = Arc<
    dyn Fn(
            http::Request<h2::RecvStream>,
            h2::server::SendResponse<Bytes>,
            SocketAddr,
        ) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// What the server serves: HTTP/2 streams, and the HTTP/1.1 handler for clients that do
/// not speak HTTP/2 (`None`: such a connection is refused, as gRPC must).
#[derive(Clone)]
pub struct App {
    pub streams: StreamFn,
    pub http1: Option<Arc<dyn Handler>>,
}

impl App {
    /// The site's handler over both versions.
    pub fn http(handler: Arc<dyn Handler>, config: &Config) -> App {
        App {
            streams: http_streams(handler.clone(), config.max_body),
            http1: Some(handler),
        }
    }
}

/// Serves HTTP/2 (and HTTP/1.1 for clients that want it) on every connection the listener
/// accepts, until `stop` is set.
pub fn serve(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: Config,
    security: Security,
    stop: Arc<AtomicBool>,
) {
    let app = App::http(handler, &config);
    serve_app(listener, app, config, security, stop)
}

/// Serves any [`App`] (the HTTP site, or gRPC) until `stop` is set.
pub fn serve_app(
    listener: TcpListener,
    app: App,
    config: Config,
    security: Security,
    stop: Arc<AtomicBool>,
) {
    let _role = trace::role("server");
    // Serial or not is the HTTP/1.1 server's setting: both versions share the port.
    let (max, threads) = (config.max_conns, config.http1.threads);
    let config = Arc::new(config);
    let work = move |stream: TcpStream, peer: SocketAddr| {
        serve_connection(stream, peer, &app, &config, &security);
    };
    accept::serve(
        &listener,
        &stop,
        max,
        threads,
        Arc::new(work),
        &http1::server::overloaded,
    );
}

/// The HTTP handlers' bridge: each stream read whole, handled, answered (and pushes sent).
pub fn http_streams(handler: Arc<dyn Handler>, max_body: usize) -> StreamFn {
    Arc::new(move |request, respond, peer| {
        let handler = handler.clone();
        let role = trace::current_role();
        Box::pin(async move {
            serve_stream(request, respond, peer, handler, max_body, role).await;
        })
    })
}

/// Serves `handler` on an already bound listener in a background thread.
pub fn spawn(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: Config,
    security: Security,
) -> io::Result<Background> {
    Background::tcp(listener, "h2 server", move |l, stop| {
        serve(l, handler, config, security, stop)
    })
}

/// Serves any [`App`] on an already bound listener in a background thread.
pub fn spawn_app(
    listener: TcpListener,
    app: App,
    config: Config,
    security: Security,
) -> io::Result<Background> {
    Background::tcp(listener, "h2 server", move |l, stop| {
        serve_app(l, app, config, security, stop)
    })
}

/// The ALPN protocols the TLS side offers, most preferred first.
pub const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// One connection: decide the version, then serve it until either side ends it.
fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: &App,
    config: &Arc<Config>,
    security: &Security,
) {
    // 1. A runtime for this connection alone, on this thread.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            trace::event(Layer::H2, || format!("{peer}: no runtime: {e}; closing"));
            return;
        }
    };
    // Sockets handed to tokio register with this runtime's reactor.
    let _enter = runtime.enter();
    let handshake = Instant::now() + config.handshake_timeout;
    match security {
        Security::Cleartext => {
            // 2a. h2c: the preface says HTTP/2; anything else is HTTP/1.1.
            if !starts_with_preface(&stream, handshake) {
                let mut conn = Transport::Plain(stream);
                match &app.http1 {
                    Some(handler) => {
                        trace::event(Layer::H2, || {
                            format!(
                                "{peer}: no HTTP/2 preface: serving HTTP/1.1 on this connection"
                            )
                        });
                        http1::server::serve_connection(
                            &mut conn,
                            peer,
                            handler.as_ref(),
                            &config.http1,
                        );
                    }
                    None => {
                        trace::event(Layer::H2, || {
                            format!(
                                "{peer}: no HTTP/2 preface, and this server speaks only HTTP/2: closing"
                            )
                        });
                    }
                }
                conn.close();
                return;
            }
            let io = match to_async(stream) {
                Ok(io) => io,
                Err(_) => return,
            };
            runtime.block_on(serve_h2(io, peer, app.streams.clone(), config.clone()));
        }
        Security::Tls(tls) => {
            // 2b. TLS: the handshake picks the protocol (ALPN).
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
            let Ok(io) = to_async(stream) else {
                return;
            };
            let accepted = runtime.block_on(async {
                let left = handshake.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, acceptor.accept(io)).await {
                    Ok(Ok(tls)) => Some(tls),
                    Ok(Err(e)) => {
                        trace::event(Layer::Tls, || format!("{peer}: TLS handshake failed: {e}"));
                        None
                    }
                    Err(_) => {
                        trace::event(Layer::Tls, || {
                            format!(
                                "{peer}: no TLS handshake within {} ms; closing",
                                config.handshake_timeout.as_millis()
                            )
                        });
                        None
                    }
                }
            });
            let Some(tls) = accepted else {
                return;
            };
            let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            trace::event(Layer::Tls, || {
                format!(
                    "{peer}: handshake complete, ALPN {}",
                    alpn.as_deref()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .unwrap_or_else(|| "none".into())
                )
            });
            if alpn.as_deref() == Some(b"h2") {
                runtime.block_on(serve_h2(tls, peer, app.streams.clone(), config.clone()));
                return;
            }
            // 3. HTTP/1.1 on the same TLS session, in blocking mode from here on.
            let (io, session) = tls.into_inner();
            let Ok(tcp) = io.into_std() else {
                return;
            };
            if tcp.set_nonblocking(false).is_err() {
                return;
            }
            let mut conn = Transport::TlsServer(Box::new(rustls::StreamOwned::new(session, tcp)));
            match &app.http1 {
                Some(handler) => http1::server::serve_connection(
                    &mut conn,
                    peer,
                    handler.as_ref(),
                    &config.http1,
                ),
                None => trace::event(Layer::Tls, || {
                    format!(
                        "{peer}: the client did not offer h2, and this server speaks only HTTP/2: closing"
                    )
                }),
            }
            conn.close();
        }
    }
}

/// Waits for the first bytes and says whether they are the client preface.
fn starts_with_preface(stream: &TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 24];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        match stream.peek(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) if buf[..n] != super::frame::PREFACE[..n] => return false,
            Ok(n) if n == buf.len() => {
                let _ = stream.set_read_timeout(None);
                return true;
            }
            // A prefix of the preface: wait for the rest.
            Ok(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

fn to_async(stream: TcpStream) -> io::Result<tokio::net::TcpStream> {
    stream.set_read_timeout(None)?;
    stream.set_nonblocking(true)?;
    let _ = stream.set_nodelay(true);
    // `from_std` registers with the reactor of the runtime the caller entered.
    tokio::net::TcpStream::from_std(stream)
}

/// The HTTP/2 connection: settings, then one task per stream until the client goes away.
async fn serve_h2<T>(mut io: T, peer: SocketAddr, streams: StreamFn, config: Arc<Config>)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    // 1. The client's preface, checked here: "Clients and servers MUST treat an invalid
    //    connection preface as a connection error of type PROTOCOL_ERROR" (RFC 9113 §3.4),
    //    and a connection error is answered with GOAWAY (§5.4.1), which h2 alone does not send.
    let mut preface = [0u8; 24];
    let read = tokio::time::timeout(config.handshake_timeout, io.read_exact(&mut preface)).await;
    if !matches!(read, Ok(Ok(_))) || preface != *super::frame::PREFACE {
        trace::event(Layer::H2, || {
            format!(
                "{peer}: no valid connection preface ({}): SETTINGS, GOAWAY PROTOCOL_ERROR",
                crate::trace::quoted(&preface, 24)
            )
        });
        let _ = io.write_all(&goaway_invalid_preface()).await;
        let _ = io.shutdown().await;
        return;
    }
    // 2. The SETTINGS exchange, through the frame trace (which sees the preface too).
    let io = Traced::new(Prefixed::new(&preface, io), Side::Server);
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(config.max_concurrent_streams)
        .max_header_list_size(config.max_header_list)
        // Larger windows than the RFC's 65,535 bytes, so a big upload is not throttled by
        // round trips on loopback; capacity is released as the body is read.
        .initial_window_size(1 << 20)
        .initial_connection_window_size(4 << 20);
    let mut conn = match builder.handshake::<_, Bytes>(io).await {
        Ok(c) => c,
        Err(e) => {
            trace::event(Layer::H2, || {
                format!("{peer}: HTTP/2 handshake failed: {e}")
            });
            return;
        }
    };
    trace::event(Layer::H2, || format!("{peer}: HTTP/2 connection open"));
    let active = Arc::new(AtomicUsize::new(0));
    let mut opened = 0u64;
    loop {
        // 3. The next stream, or the connection's end. No stream for the idle time, and
        //    none open: GOAWAY(NO_ERROR), then let the client finish.
        let next = match tokio::time::timeout(config.idle_timeout, conn.accept()).await {
            Ok(next) => next,
            Err(_) => {
                if active.load(Ordering::SeqCst) == 0 {
                    trace::event(Layer::H2, || {
                        format!(
                            "{peer}: idle for {} ms: GOAWAY NO_ERROR",
                            config.idle_timeout.as_millis()
                        )
                    });
                    conn.graceful_shutdown();
                }
                continue;
            }
        };
        let (request, respond) = match next {
            None => break,
            Some(Ok(pair)) => pair,
            Some(Err(e)) => {
                // A connection error: h2 has sent GOAWAY with the code (RFC 9113 §5.4.1).
                trace::event(Layer::H2, || format!("{peer}: connection error: {e}"));
                break;
            }
        };
        opened += 1;
        // 4. Each stream in its own task, so the connection keeps being polled (and
        //    flow-control windows keep being updated) while a body is read or written.
        let (work, active) = (streams(request, respond, peer), active.clone());
        active.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            work.await;
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    trace::event(Layer::H2, || {
        format!("{peer}: HTTP/2 connection closed after {opened} stream(s)")
    });
}

/// An empty SETTINGS (the server's preface, §3.4) and a GOAWAY(PROTOCOL_ERROR), by hand.
fn goaway_invalid_preface() -> Vec<u8> {
    use super::frame::{Header, kind};
    let mut out = Vec::new();
    Header {
        length: 0,
        kind: kind::SETTINGS,
        flags: 0,
        stream: 0,
    }
    .emit(&mut out);
    let debug = b"invalid connection preface";
    let mut payload = 0u32.to_be_bytes().to_vec();
    payload.extend_from_slice(&super::frame::ErrorCode::PROTOCOL_ERROR.0.to_be_bytes());
    payload.extend_from_slice(debug);
    Header {
        length: payload.len() as u32,
        kind: kind::GOAWAY,
        flags: 0,
        stream: 0,
    }
    .emit(&mut out);
    out.extend_from_slice(&payload);
    out
}

/// The request as a handler sees it: the same `Request` HTTP/1.1 builds, with
/// `version = HTTP/2` and the `:authority` pseudo-header as `Host` (RFC 9113 §8.3.1).
fn to_request(parts: &http::request::Parts, body: Vec<u8>, trailers: Headers) -> Request {
    let mut headers = Headers::new();
    if let Some(authority) = parts.uri.authority() {
        if !parts.headers.contains_key(http::header::HOST) {
            headers.append("host", authority.as_str());
        }
    }
    for (name, value) in &parts.headers {
        headers.append_latin1(name.as_str().as_bytes(), value.as_bytes());
    }
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    Request {
        method: parts.method.as_str().to_string(),
        target,
        version: Version::HTTP_2,
        headers,
        body,
        trailers,
    }
}

/// One stream: read the body (releasing flow-control capacity as it goes), run the handler,
/// send the response in as many DATA frames as the peer's windows allow.
async fn serve_stream(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    peer: SocketAddr,
    handler: Arc<dyn Handler>,
    max_body: usize,
    role: Option<&'static str>,
) {
    let (parts, mut body) = request.into_parts();
    // 1. The body, every DATA frame of it, with capacity given back as it is read.
    let data = match read_body(&mut body, max_body).await {
        Ok(d) => d,
        Err(BodyError::TooLarge(max)) => {
            let resp = Response::text(413, &format!("the body may be at most {max} bytes"));
            send(&mut respond, &parts.method, resp).await;
            return;
        }
        Err(BodyError::H2(e)) => {
            trace::event(Layer::H2, || {
                format!("{peer}: stream reset while reading: {e}")
            });
            return;
        }
    };
    let trailers = match body.trailers().await {
        Ok(Some(map)) => {
            let mut t = Headers::new();
            for (n, v) in &map {
                t.append_latin1(n.as_str().as_bytes(), v.as_bytes());
            }
            t
        }
        _ => Headers::new(),
    };
    let req = to_request(&parts, data, trailers);
    if let Some(p) = req.headers.get("priority") {
        // RFC 9218 §4: urgency u=0..7 and incremental i. The streams here are answered as
        // their handlers finish; the field is shown, not acted on.
        trace::event(Layer::H2, || {
            format!("{peer}: client priority \"{p}\" (RFC 9218), noted")
        });
    }
    // 2. The handler, off the runtime's thread.
    let method = parts.method.clone();
    let resp = run_handler(handler.clone(), req, peer, role).await;
    // 3. Server push (RFC 9113 §8.4): what the response names as preloads is promised
    //    before the response that references it, then sent on streams of its own.
    let mut pushes = Vec::new();
    if method == http::Method::GET {
        for path in preloads(&resp.headers) {
            let uri = format!(
                "{}://{}{path}",
                parts.uri.scheme_str().unwrap_or("https"),
                parts
                    .uri
                    .authority()
                    .map(|a| a.as_str())
                    .unwrap_or("localhost")
            );
            let Ok(promise) = http::Request::get(uri.as_str()).body(()) else {
                continue;
            };
            match respond.push_request(promise) {
                Ok(pushed) => pushes.push((path, pushed)),
                Err(e) => {
                    // curl sends SETTINGS_ENABLE_PUSH=0; so do browsers today.
                    trace::event(Layer::H2, || {
                        format!("{peer}: not pushing {path}: {e} (the client refuses pushes)")
                    });
                    break;
                }
            }
        }
    }
    // 4. The response, then what was promised.
    send(&mut respond, &method, resp).await;
    for (path, mut pushed) in pushes {
        let mut req = Request::new("GET", &path);
        req.version = Version::HTTP_2;
        if let Some(a) = parts.uri.authority() {
            req.headers.append("host", a.as_str());
        }
        let resp = run_handler(handler.clone(), req, peer, role).await;
        if let Some((head, body)) = head_and_body(&http::Method::GET, resp) {
            if let Ok(mut stream) = pushed.send_response(head, body.is_none()) {
                if let Some(b) = body {
                    let _ = send_data(&mut stream, b, true).await;
                }
            }
        }
    }
}

/// Runs the handler on tokio's blocking pool; a panic costs its request a 500.
async fn run_handler(
    handler: Arc<dyn Handler>,
    req: Request,
    peer: SocketAddr,
    role: Option<&'static str>,
) -> Response {
    let what = format!("{peer}: {} {} (HTTP/2)", req.method, req.target);
    tokio::task::spawn_blocking(move || {
        let _role = role.map(trace::role);
        match crate::catch::call(|| handler.handle(&req)) {
            Ok(r) => r,
            Err(p) => {
                crate::catch::report(Layer::H2, &what, &p, "answered 500, serving on");
                Response::text(500, "the handler panicked")
            }
        }
    })
    .await
    .unwrap_or_else(|_| Response::text(500, "the handler did not finish"))
}

/// The paths a response names in `Link: <path>; rel=preload` fields (same origin only).
pub fn preloads(headers: &Headers) -> Vec<String> {
    headers
        .get_all("link")
        .flat_map(|v| v.split(','))
        .filter_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let path = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            // rel=preload or rel="preload" (RFC 8288 §3: a quoted value is the same).
            let preload = params.split(';').any(|p| match p.trim().split_once('=') {
                Some((k, v)) => {
                    k.trim().eq_ignore_ascii_case("rel")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("preload")
                }
                None => false,
            });
            (preload && path.starts_with('/') && !path.starts_with("//")).then(|| path.to_string())
        })
        .collect()
}

/// A response as `h2` sends it: the head (no connection-specific fields, a Date, a
/// Content-Length) and the body when one goes out.
fn head_and_body(
    method: &http::Method,
    resp: Response,
) -> Option<(http::Response<()>, Option<Bytes>)> {
    let mut builder = http::Response::builder().status(resp.status);
    for (name, value) in resp.headers.iter() {
        let lower = name.to_ascii_lowercase();
        if crate::http::fields::CONNECTION_SPECIFIC.contains(&lower.as_str()) {
            continue;
        }
        let bytes: Vec<u8> = value.chars().map(|c| c as u32 as u8).collect();
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(lower.as_bytes()),
            http::HeaderValue::from_bytes(&bytes),
        ) {
            builder = builder.header(n, v);
        }
    }
    // RFC 9110 §6.6.1: an origin server with a clock sends Date.
    if !resp.headers.contains("date") {
        builder = builder.header("date", crate::http::date::now());
    }
    let bodyless = resp.status == 204 || resp.status == 304 || resp.status < 200;
    if !bodyless && !resp.headers.contains("content-length") {
        builder = builder.header("content-length", resp.body.len());
    }
    let head = builder.body(()).ok()?;
    let send_body = method != http::Method::HEAD && !bodyless && !resp.body.is_empty();
    Some((head, send_body.then(|| Bytes::from(resp.body))))
}

/// Sends a response: HEADERS, then DATA frames as flow control allows (RFC 9113 §5.2).
async fn send(
    respond: &mut h2::server::SendResponse<Bytes>,
    method: &http::Method,
    resp: Response,
) {
    let Some((head, body)) = head_and_body(method, resp) else {
        return respond.send_reset(h2::Reason::INTERNAL_ERROR);
    };
    if let Ok(mut stream) = respond.send_response(head, body.is_none()) {
        if let Some(b) = body {
            let _ = send_data(&mut stream, b, true).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_links_name_what_to_push() {
        let mut h = Headers::new();
        h.append(
            "Link",
            "</a.css>; rel=preload; as=style, <https://elsewhere/x.js>; rel=preload",
        );
        h.append("Link", "</b.js>; rel=\"preload\"");
        h.append("Link", "</c.js>; rel=preload; as=script");
        h.append("Link", "</next>; rel=next");
        assert_eq!(preloads(&h), ["/a.css", "/b.js", "/c.js"]);
    }
}
