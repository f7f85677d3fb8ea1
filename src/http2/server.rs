//! The HTTP/2 server: the same handlers as HTTP/1.1 (`crate::http::handler`), served over
//! binary frames with many streams on one connection (RFC 9113).
//!
//! The `h2` crate is async, and netlab is not: this file (the connection) and
//! [`super::stream`] (each stream of it) are where the two meet, and the only places the
//! server uses tokio (docs/design.md, principle 4). Threads, where they are made:
//!
//! - the accept loop is L4's ([`crate::l4::accept`]): one thread per connection, or with
//!   `--serial` (`config.http1.threads`) none: one connection at a time on the loop's thread;
//! - that thread runs a current-thread tokio runtime for its connection only, which polls
//!   the `h2` connection and one task per stream (all on this one thread);
//! - each request's handler runs on a thread of the handler pool ([`super::pool`], from
//!   [`super::stream`]), so a slow handler holds back its own stream only: the others'
//!   frames keep flowing. The pool wakes a thread only when none is awake to take the job,
//!   so a burst of fast requests costs one wake-up, not one per request. So in a debugger,
//!   a breakpoint in a handler stops an `h2 handler` thread, while one in the frame or
//!   HPACK decoders of the trace stops the connection's thread.
//!
//! Which protocol a connection speaks is decided before any HTTP is read:
//! - with TLS, by ALPN (RFC 7301): a client that offers `h2` gets HTTP/2, one that offers only
//!   `http/1.1` (or nothing) gets the HTTP/1.1 server on the same port;
//! - in cleartext (`--h2c`), by the first bytes: the HTTP/2 preface (prior knowledge, RFC 9113
//!   §3.3) or else HTTP/1.1. The `Upgrade: h2c` dance of RFC 7540 is deprecated by RFC 9113
//!   (§3.1) and not offered.

use super::frame::{PREFACE, PREFACE_LEN};
use super::guard::Guard;
use super::io::{Prefixed, Traced};
use crate::http::handler::Handler;
use crate::http1;
use crate::l4::accept;
use crate::l4::background::Background;
use crate::l4::relay::Side;
use crate::l4::share::Shares;
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
    /// Connections one source address may hold at once (`None`: a quarter of `max_conns`).
    pub per_source: Option<usize>,
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
            per_source: None,
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
    let threads = config.http1.threads;
    let places = Shares::capped(config.max_conns, config.per_source);
    let config = Arc::new(config);
    let work = move |stream: TcpStream, peer: SocketAddr| {
        serve_connection(stream, peer, &app, &config, &security);
    };
    accept::serve(
        &listener,
        &stop,
        &places,
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
            super::stream::serve_stream(request, respond, peer, handler, max_body, role).await;
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
    let Some(conn) = Connection::new(peer, app, config) else {
        return;
    };
    // Sockets handed to tokio register with this runtime's reactor.
    let _enter = conn.runtime.enter();
    match security {
        // 2a. h2c: the preface says HTTP/2; anything else is HTTP/1.1.
        Security::Cleartext => conn.cleartext(stream),
        // 2b. TLS: the handshake picks the protocol (ALPN), and h2 is served at once.
        Security::Tls(tls) => {
            let Some(tls) = conn.tls(stream, tls) else {
                return;
            };
            // 3. HTTP/1.1 on the same TLS session, in blocking mode from here on.
            conn.http1_over_tls(tls);
        }
    }
}

/// A TLS session over a socket tokio drives.
type TlsStream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// One connection being served: its peer, what to serve, and its own runtime. One method
/// per step of [`serve_connection`].
struct Connection<'a> {
    peer: SocketAddr,
    app: &'a App,
    config: &'a Arc<Config>,
    runtime: tokio::runtime::Runtime,
    /// When the TLS handshake (or h2c's first bytes) must be done.
    handshake: Instant,
}

impl<'a> Connection<'a> {
    /// Step 1: the runtime, or `None` (traced) when the system gives none.
    fn new(peer: SocketAddr, app: &'a App, config: &'a Arc<Config>) -> Option<Connection<'a>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let runtime = match runtime {
            Ok(rt) => rt,
            Err(e) => {
                trace::event(Layer::H2, || format!("{peer}: no runtime: {e}; closing"));
                return None;
            }
        };
        Some(Connection {
            peer,
            app,
            config,
            runtime,
            handshake: Instant::now() + config.handshake_timeout,
        })
    }

    /// Step 2a: h2c by prior knowledge, or HTTP/1.1 when the first bytes are not the preface.
    fn cleartext(&self, stream: TcpStream) {
        if starts_with_preface(&stream, self.handshake) {
            if let Ok(io) = to_async(stream) {
                self.h2(io);
            }
            return;
        }
        let peer = self.peer;
        let mut conn = Transport::Plain(stream);
        match &self.app.http1 {
            Some(handler) => {
                trace::event(Layer::H2, || {
                    format!("{peer}: no HTTP/2 preface: serving HTTP/1.1 on this connection")
                });
                http1::server::serve_connection(
                    &mut conn,
                    peer,
                    handler.as_ref(),
                    &self.config.http1,
                );
            }
            None => trace::event(Layer::H2, || {
                format!("{peer}: no HTTP/2 preface, and this server speaks only HTTP/2: closing")
            }),
        }
        conn.close();
    }

    /// Step 2b: the TLS handshake within the time allowed; HTTP/2 served here when ALPN
    /// chose h2, or the session handed back for HTTP/1.1.
    fn tls(&self, stream: TcpStream, tls: &Arc<ServerConfig>) -> Option<TlsStream> {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
        let io = to_async(stream).ok()?;
        let tls = self.runtime.block_on(self.accept_tls(acceptor, io))?;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let peer = self.peer;
        trace::event(Layer::Tls, || {
            format!(
                "{peer}: handshake complete, ALPN {}",
                alpn.as_deref()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .unwrap_or_else(|| "none".into())
            )
        });
        trace::event(Layer::Tls, || crate::tls::handshake_kind(tls.get_ref().1));
        if alpn.as_deref() == Some(b"h2") {
            self.h2(tls);
            return None;
        }
        Some(tls)
    }

    /// The server's side of the TLS handshake, or `None` (traced) when it fails or is late.
    async fn accept_tls(
        &self,
        acceptor: tokio_rustls::TlsAcceptor,
        io: tokio::net::TcpStream,
    ) -> Option<TlsStream> {
        let (peer, config) = (self.peer, self.config);
        let left = self.handshake.saturating_duration_since(Instant::now());
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
    }

    /// Step 3: the session back on a blocking socket, served by the HTTP/1.1 server.
    fn http1_over_tls(&self, tls: TlsStream) {
        let (io, session) = tls.into_inner();
        let Ok(tcp) = io.into_std() else {
            return;
        };
        if tcp.set_nonblocking(false).is_err() {
            return;
        }
        let peer = self.peer;
        let mut conn = Transport::TlsServer(Box::new(rustls::StreamOwned::new(session, tcp)));
        match &self.app.http1 {
            Some(handler) => http1::server::serve_connection(
                &mut conn,
                peer,
                handler.as_ref(),
                &self.config.http1,
            ),
            None => trace::event(Layer::Tls, || {
                format!(
                    "{peer}: the client did not offer h2, and this server speaks only HTTP/2: closing"
                )
            }),
        }
        conn.close();
    }

    /// HTTP/2 on `io` until the connection ends ([`serve_h2`]).
    fn h2<T: AsyncRead + AsyncWrite + Unpin>(&self, io: T) {
        let (streams, config) = (self.app.streams.clone(), self.config.clone());
        self.runtime
            .block_on(serve_h2(io, self.peer, streams, config));
    }
}

/// Waits for the first bytes and says whether they are the client preface.
fn starts_with_preface(stream: &TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; PREFACE_LEN];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        match stream.peek(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) if buf[..n] != PREFACE[..n] => return false,
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
    // 1. The client's preface, checked here.
    if !read_preface(&mut io, peer, &config).await {
        return;
    }
    // 2. The SETTINGS exchange, through the frame trace (which sees the preface too).
    //    Frames of the wrong size get RFC 9113's answer from netlab's guard, not h2's.
    let io = Guard::new(Traced::new(Prefixed::new(PREFACE, io), Side::Server), peer);
    let Some(mut conn) = handshake(io, peer, &config).await else {
        return;
    };
    trace::event(Layer::H2, || format!("{peer}: HTTP/2 connection open"));
    let active = Arc::new(AtomicUsize::new(0));
    let mut opened = 0u64;
    // 3. The next stream, or the connection's end.
    while let Some((request, respond)) = next_stream(&mut conn, peer, &config, &active).await {
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

/// Step 1 of [`serve_h2`]: "Clients and servers MUST treat an invalid connection preface as
/// a connection error of type PROTOCOL_ERROR" (RFC 9113 §3.4), and a connection error is
/// answered with GOAWAY (§5.4.1), which h2 alone does not send. True when it was valid.
async fn read_preface<T>(io: &mut T, peer: SocketAddr, config: &Config) -> bool
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut preface = [0u8; PREFACE_LEN];
    let read = tokio::time::timeout(config.handshake_timeout, io.read_exact(&mut preface)).await;
    if matches!(read, Ok(Ok(_))) && preface == *PREFACE {
        return true;
    }
    trace::event(Layer::H2, || {
        format!(
            "{peer}: no valid connection preface ({}): SETTINGS, GOAWAY PROTOCOL_ERROR",
            crate::trace::quoted(&preface, PREFACE_LEN)
        )
    });
    let _ = io.write_all(&goaway_invalid_preface()).await;
    let _ = io.shutdown().await;
    false
}

/// Step 2 of [`serve_h2`]: h2's handshake with this server's limits (SETTINGS both ways).
async fn handshake<T>(
    io: T,
    peer: SocketAddr,
    config: &Config,
) -> Option<h2::server::Connection<T, Bytes>>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(config.max_concurrent_streams)
        .max_header_list_size(config.max_header_list)
        // Larger windows than the RFC's 65,535 bytes, so a big upload is not throttled by
        // round trips on loopback; capacity is released as the body is read.
        .initial_window_size(1 << 20)
        .initial_connection_window_size(4 << 20);
    match builder.handshake::<_, Bytes>(io).await {
        Ok(c) => Some(c),
        Err(e) => {
            trace::event(Layer::H2, || {
                format!("{peer}: HTTP/2 handshake failed: {e}")
            });
            None
        }
    }
}

/// No stream for the idle time, and none open: GOAWAY(NO_ERROR); the client may finish
/// what it has under way.
fn goaway_idle<T>(conn: &mut h2::server::Connection<T, Bytes>, peer: SocketAddr, config: &Config)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let idle = config.idle_timeout.as_millis();
    trace::event(Layer::H2, || {
        format!("{peer}: idle for {idle} ms: GOAWAY NO_ERROR")
    });
    conn.graceful_shutdown();
}

/// A stream's request and the handle that answers it.
type Incoming = (
    http::Request<h2::RecvStream>,
    h2::server::SendResponse<Bytes>,
);

/// Step 3 of [`serve_h2`]: the next stream, or `None` at the connection's end. No stream
/// for the idle time, and none open: GOAWAY(NO_ERROR), then let the client finish.
async fn next_stream<T>(
    conn: &mut h2::server::Connection<T, Bytes>,
    peer: SocketAddr,
    config: &Config,
    active: &AtomicUsize,
) -> Option<Incoming>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(config.idle_timeout, conn.accept()).await {
            Err(_) if active.load(Ordering::SeqCst) == 0 => goaway_idle(conn, peer, config),
            Err(_) => {}
            Ok(None) => return None,
            Ok(Some(Ok(pair))) => return Some(pair),
            Ok(Some(Err(e))) => {
                // A connection error: h2 has sent GOAWAY with the code (RFC 9113 §5.4.1).
                trace::event(Layer::H2, || format!("{peer}: connection error: {e}"));
                return None;
            }
        }
    }
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
