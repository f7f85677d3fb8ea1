//! The HTTP/2 client: several requests to one origin sent at once, as concurrent streams on
//! one connection (RFC 9113 §5), and their responses read as they come.
//!
//! Like the server, it hides `h2` behind a blocking call ([`fetch`]): a current-thread
//! tokio runtime lives for the call, on the caller's thread. The `h2` connection task is
//! spawned on it, because the connection only makes progress while it is polled (frames
//! are read, WINDOW_UPDATEs sent) — and each stream is read by a task of its own, so a slow
//! response does not hold the others back.

use super::io::{Traced, read_body, read_body_each, send_data};
use crate::http::message::{Headers, Response};
use crate::http::status;
use crate::http::uri::{Scheme, Url};
use crate::l4::relay::Side;
use crate::tls;
use crate::trace::{self, Layer};
use bytes::Bytes;
use std::fmt;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// How the client behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// A PEM file of CAs to trust besides the system's.
    pub cacert: Option<PathBuf>,
    /// Accept any certificate.
    pub insecure: bool,
    /// `http://` URLs: HTTP/2 with prior knowledge (h2c) — the only cleartext HTTP/2.
    pub h2c: bool,
    /// Bounds the whole exchange.
    pub timeout: Duration,
    /// The largest response body accepted.
    pub max_body: usize,
    /// Let the server push (SETTINGS_ENABLE_PUSH = 1) and keep what it pushes.
    pub accept_push: bool,
    /// Told of every DATA frame of every response as it arrives.
    pub progress: Option<crate::http::progress::Progress>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            cacert: None,
            insecure: false,
            h2c: false,
            timeout: Duration::from_secs(30),
            max_body: 1 << 30,
            accept_push: false,
            progress: None,
        }
    }
}

/// One request to send: method, URL, fields, body.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub method: String,
    pub url: Url,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Outgoing {
    pub fn get(url: Url) -> Outgoing {
        Outgoing {
            method: "GET".into(),
            url,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub enum ClientError {
    /// The requests name more than one origin: one connection serves one origin.
    Origins(String, String),
    /// `http://` without `--h2c`: cleartext HTTP/2 needs prior knowledge.
    Cleartext,
    Resolve(String),
    Connect(String, std::io::Error),
    Tls(String),
    /// The server's TLS did not agree to `h2` (RFC 7301): it speaks HTTP/1.1 only.
    NoH2(Option<String>),
    /// The HTTP/2 connection or a stream failed: GOAWAY, RST_STREAM, a protocol error.
    H2(String),
    Timeout(Duration),
    /// A request that cannot be written as HTTP/2 (a bad field name…).
    Request(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Origins(a, b) => write!(
                f,
                "one connection serves one origin: {a} and {b} differ (run one command per origin)"
            ),
            ClientError::Cleartext => f.write_str(
                "http:// URLs need --h2c: cleartext HTTP/2 is prior knowledge only (RFC 9113 §3.3)",
            ),
            ClientError::Resolve(h) => write!(f, "cannot resolve '{h}'"),
            ClientError::Connect(a, e) => write!(f, "cannot connect to {a}: {e}"),
            ClientError::Tls(e) => write!(f, "{e}"),
            ClientError::NoH2(p) => write!(
                f,
                "the server did not choose h2 in the TLS handshake (ALPN {}): it speaks HTTP/1.1 only; use netlab http request",
                p.as_deref().unwrap_or("none")
            ),
            ClientError::H2(e) => write!(f, "HTTP/2: {e}"),
            ClientError::Timeout(t) => write!(f, "no answer within {} ms", t.as_millis()),
            ClientError::Request(e) => write!(f, "cannot send the request: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A response, when it was complete, and what the server pushed with it.
#[derive(Debug)]
pub struct Fetched {
    pub response: Response,
    /// From the first request sent to the last byte of this response.
    pub done_after: Duration,
    /// (path, response) of each resource pushed with it (RFC 9113 §8.4).
    pub pushed: Vec<(String, Response)>,
}

/// Sends every request on one connection, all at once, and returns the responses in the
/// order of the requests (each may have failed on its own, with RST_STREAM).
pub fn fetch(
    requests: Vec<Outgoing>,
    opts: &Options,
) -> Result<Vec<Result<Response, ClientError>>, ClientError> {
    Ok(fetch_timed(requests, opts)?
        .into_iter()
        .map(|r| r.map(|f| f.response))
        .collect())
}

/// [`fetch`], with when each response was complete and what was pushed.
pub fn fetch_timed(
    requests: Vec<Outgoing>,
    opts: &Options,
) -> Result<Vec<Result<Fetched, ClientError>>, ClientError> {
    let Some(first) = requests.first() else {
        return Ok(Vec::new());
    };
    let origin = first.url.clone();
    for r in &requests {
        if r.url.scheme != origin.scheme || r.url.host_port() != origin.host_port() {
            return Err(ClientError::Origins(
                format!("{}://{}", origin.scheme.name(), origin.host_port()),
                format!("{}://{}", r.url.scheme.name(), r.url.host_port()),
            ));
        }
    }
    if origin.scheme == Scheme::Http && !opts.h2c {
        return Err(ClientError::Cleartext);
    }
    let _role = trace::default_role("client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::H2(e.to_string()))?;
    let timeout = opts.timeout;
    runtime.block_on(async {
        match tokio::time::timeout(timeout, exchange(origin, requests, opts)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout(timeout)),
        }
    })
}

/// 1. TCP, 2. TLS with ALPN h2 (or nothing for h2c), 3. the exchange.
async fn exchange(
    origin: Url,
    requests: Vec<Outgoing>,
    opts: &Options,
) -> Result<Vec<Result<Fetched, ClientError>>, ClientError> {
    let (sender, driver) = open(&origin, opts).await?;
    let out = streams(sender, requests, opts).await;
    driver.abort();
    out
}

/// An open HTTP/2 connection: the handle that opens streams, and the task that drives it.
pub type Connection = (h2::client::SendRequest<Bytes>, tokio::task::JoinHandle<()>);

/// Opens a connection to `origin` inside the caller's runtime (gRPC's client uses it too):
/// TCP; then TLS with ALPN h2 (nothing for h2c); then the preface and SETTINGS, after which
/// the connection runs as a task of its own.
pub async fn open(origin: &Url, opts: &Options) -> Result<Connection, ClientError> {
    let host_port = origin.host_port();
    let addr = host_port
        .to_socket_addrs()
        .map_err(|_| ClientError::Resolve(host_port.clone()))?
        .next()
        .ok_or_else(|| ClientError::Resolve(host_port.clone()))?;
    trace::sent(Layer::L4, || format!("connect({addr}) → SYN (SYN-SENT)"));
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| ClientError::Connect(host_port.clone(), e))?;
    let _ = tcp.set_nodelay(true);
    trace::event(Layer::L4, || {
        let local = tcp.local_addr().map(|a| a.to_string()).unwrap_or_default();
        format!("connected {local} → {addr}, ESTABLISHED")
    });
    match origin.scheme {
        Scheme::Http => handshake(tcp, opts.accept_push).await,
        Scheme::Https => {
            let tls = tls_handshake(origin, opts, tcp).await?;
            handshake(tls, opts.accept_push).await
        }
    }
}

/// TLS over `tcp`, with ALPN: a server that does not choose h2 cannot be spoken to here.
async fn tls_handshake(
    origin: &Url,
    opts: &Options,
    tcp: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, ClientError> {
    let config = tls::client_config(opts.cacert.as_deref(), opts.insecure, &[b"h2"])
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
        .map_err(|e| ClientError::Tls(format!("'{}': {e}", origin.host)))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| ClientError::Tls(format!("TLS handshake failed: {e}")))?;
    let alpn = tls
        .get_ref()
        .1
        .alpn_protocol()
        .map(|a| String::from_utf8_lossy(a).into_owned());
    trace::event(Layer::Tls, || {
        format!(
            "handshake complete, ALPN {}",
            alpn.as_deref().unwrap_or("none")
        )
    });
    trace::event(Layer::Tls, || tls::handshake_kind(tls.get_ref().1));
    if alpn.as_deref() != Some("h2") {
        return Err(ClientError::NoH2(alpn));
    }
    Ok(tls)
}

/// The HTTP/2 part: preface and SETTINGS, then one stream per request, all open at once.
async fn handshake<T>(io: T, push: bool) -> Result<Connection, ClientError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = h2::client::Builder::new()
        // By default this client reads only what it asked for: SETTINGS_ENABLE_PUSH = 0, as
        // curl and browsers send (RFC 9113 §8.4: a server then MUST NOT push).
        .enable_push(push)
        .initial_window_size(1 << 20)
        .initial_connection_window_size(4 << 20)
        .handshake::<_, Bytes>(Traced::new(io, Side::Client))
        .await
        .map_err(|e| ClientError::H2(e.to_string()))?;
    let role = trace::current_role();
    let driver = tokio::spawn(async move {
        let _role = role.map(trace::role);
        if let Err(e) = connection.await {
            trace::event(Layer::H2, || format!("connection ended: {e}"));
        }
    });
    Ok((sender, driver))
}

/// Every request as its own stream, before any response is read; then the responses.
async fn streams(
    mut sender: h2::client::SendRequest<Bytes>,
    requests: Vec<Outgoing>,
    opts: &Options,
) -> Result<Vec<Result<Fetched, ClientError>>, ClientError> {
    let role = trace::current_role();
    let started = std::time::Instant::now();
    let mut pending = Vec::new();
    for (index, req) in requests.into_iter().enumerate() {
        let head = to_http(&req).map_err(ClientError::Request)?;
        sender = sender
            .ready()
            .await
            .map_err(|e| ClientError::H2(e.to_string()))?;
        let end = req.body.is_empty();
        let (mut response, body) = sender
            .send_request(head, end)
            .map_err(|e| ClientError::H2(e.to_string()))?;
        let stream = Stream {
            index,
            started,
            max: opts.max_body,
            progress: opts.progress.clone(),
            promises: opts.accept_push.then(|| response.push_promises()),
        };
        let upload = (!end).then(|| (body, Bytes::from(req.body)));
        // 3. Each stream reads (and, for an upload, writes) in a task of its own.
        pending.push(tokio::spawn(async move {
            let _role = role.map(trace::role);
            stream.run(response, upload).await
        }));
    }
    drop(sender);
    let mut out = Vec::new();
    for task in pending {
        out.push(match task.await {
            Ok(r) => r,
            Err(e) => Err(ClientError::H2(e.to_string())),
        });
    }
    Ok(out)
}

/// One stream's task: its upload, its response, and what the server pushed with it.
struct Stream {
    /// Which request this is, for `progress`.
    index: usize,
    /// When the first request was sent.
    started: std::time::Instant,
    /// The largest body accepted.
    max: usize,
    progress: Option<crate::http::progress::Progress>,
    /// The server's promises on this stream, when pushes are accepted.
    promises: Option<h2::client::PushPromises>,
}

impl Stream {
    /// Sends the body (if any) while the response and the pushes are read.
    async fn run(
        mut self,
        response: h2::client::ResponseFuture,
        upload: Option<(h2::SendStream<Bytes>, Bytes)>,
    ) -> Result<Fetched, ClientError> {
        let send = async {
            let Some((mut body, bytes)) = upload else {
                return Ok(());
            };
            send_data(&mut body, bytes, true)
                .await
                .map_err(|e| ClientError::H2(e.to_string()))
        };
        let (max, promises) = (self.max, self.promises.take());
        let (sent, received, pushed) =
            tokio::join!(send, self.receive(response), pushes(promises, max));
        sent?;
        let (response, done_after) = received?;
        Ok(Fetched {
            response,
            done_after,
            pushed,
        })
    }

    /// The response, every DATA frame told to `progress`; and when it was complete.
    async fn receive(
        &self,
        response: h2::client::ResponseFuture,
    ) -> Result<(Response, Duration), ClientError> {
        let resp = response.await.map_err(|e| ClientError::H2(e.to_string()))?;
        let (parts, mut stream) = resp.into_parts();
        let data = read_body_each(&mut stream, self.max, |n| {
            if let Some(p) = &self.progress {
                p.call(self.index, n);
            }
        })
        .await
        .map_err(|e| ClientError::H2(e.to_string()))?;
        Ok((from_http(&parts, data), self.started.elapsed()))
    }
}

/// What the server promised on a stream: each promise, then its response.
async fn pushes(promises: Option<h2::client::PushPromises>, max: usize) -> Vec<(String, Response)> {
    let mut pushed = Vec::new();
    let Some(mut promises) = promises else {
        return pushed;
    };
    while let Some(Ok(promise)) = promises.push_promise().await {
        let (request, future) = promise.into_parts();
        let path = request.uri().path().to_string();
        let Ok(resp) = future.await else {
            continue;
        };
        let (parts, mut stream) = resp.into_parts();
        if let Ok(data) = read_body(&mut stream, max).await {
            pushed.push((path, from_http(&parts, data)));
        }
    }
    pushed
}

/// The request as `h2` wants it: pseudo-headers from the URL (RFC 9113 §8.3.1), fields
/// lower-cased, no connection-specific fields.
fn to_http(req: &Outgoing) -> Result<http::Request<()>, String> {
    let uri = format!(
        "{}://{}{}",
        req.url.scheme.name(),
        req.url.authority(),
        req.url.target
    );
    let mut builder = http::Request::builder()
        .method(req.method.as_str())
        .uri(uri)
        .header("user-agent", "netlab/0.1");
    for (name, value) in req.headers.iter() {
        let lower = name.to_ascii_lowercase();
        // Host travels as :authority (RFC 9113 §8.3.1).
        if lower == "host" || crate::http::fields::CONNECTION_SPECIFIC.contains(&lower.as_str()) {
            continue;
        }
        builder = builder.header(lower, value);
    }
    if !req.body.is_empty() {
        builder = builder.header("content-length", req.body.len());
    }
    builder.body(()).map_err(|e| e.to_string())
}

fn from_http(parts: &http::response::Parts, body: Vec<u8>) -> Response {
    let mut headers = Headers::new();
    for (n, v) in &parts.headers {
        headers.append_latin1(n.as_str().as_bytes(), v.as_bytes());
    }
    let code = parts.status.as_u16();
    Response {
        status: code,
        // HTTP/2 carries no reason phrase (RFC 9113 §8.3.2): the registry's is shown.
        reason: status::reason(code).to_string(),
        headers,
        body,
        file: None,
    }
}
