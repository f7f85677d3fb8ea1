//! A blocking HTTP/1.1 server: one thread per connection (up to a cap), keep-alive and
//! pipelining, `Expect: 100-continue`, and a status code for every way a request can be
//! wrong (RFC 9110 §15, RFC 9112). Handlers are plain functions `fn(&Request) -> Response`
//! ([`crate::http::handler`]), the same ones HTTP/2 and HTTP/3 serve.
//!
//! The whole life of a connection is [`serve_connection`]: read a head, decide the body
//! length, read the body, call the handler, write the response, and go round again while
//! both sides want to keep the connection. The decisions on the way are small functions
//! of their own ([`super::expect`], [`super::persistence`]); the accept loop in front is
//! the one of L4 ([`crate::l4::accept`]), which gives each connection its thread.

use super::chunked;
use super::expect::{self, Expect};
use super::framing::{self, BodyLength};
use super::head::{self, RequestHead};
use super::parse::Limits;
use super::persistence;
use super::reader::{ReadError, Reader};
use crate::catch;
use crate::http::handler::Handler;
use crate::http::message::{Headers, Response, Version};
use crate::l4::accept;
use crate::l4::background::Background;
use crate::l4::share::{Refusal, Shares};
use crate::tls::transport::Transport;
use crate::trace::{self, Dir, Layer};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Limits and timeouts. Each protects the server from one kind of client.
#[derive(Clone, Debug)]
pub struct Config {
    /// Connections served at once; more are answered 503 and closed.
    pub max_conns: usize,
    /// Connections one source address may hold at once (`None`: a quarter of `max_conns`);
    /// more from it are answered 503, so a flood from one address locks no one else out.
    pub per_source: Option<usize>,
    /// A kept-alive connection may stay silent this long between requests.
    pub idle_timeout: Duration,
    /// Once a request has started, its head must be complete within this time (slowloris).
    pub head_timeout: Duration,
    /// And its body within this time.
    pub body_timeout: Duration,
    /// The largest request body accepted → 413.
    pub max_body: usize,
    pub limits: Limits,
    /// The methods this server knows; others get 501 (RFC 9110 §9.1).
    pub methods: &'static [&'static str],
    /// A thread per connection, or one connection at a time (`--serial`, for a debugger).
    pub threads: accept::Threads,
}

/// The methods of RFC 9110 §9 plus PATCH (RFC 5789).
pub const KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

impl Default for Config {
    fn default() -> Config {
        Config {
            max_conns: 2048,
            per_source: None,
            idle_timeout: Duration::from_secs(15),
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_body: 8 << 20,
            limits: Limits::default(),
            methods: KNOWN_METHODS,
            threads: accept::Threads::PerConnection,
        }
    }
}

/// Turns an accepted TCP connection into the transport HTTP runs on (TLS or not). Returns
/// `None` when the TLS handshake fails: there is no HTTP to answer then.
pub type Accept = dyn Fn(TcpStream) -> Option<Transport> + Send + Sync;

/// Serves HTTP on every connection the listener accepts.
pub fn serve(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: Config,
    accept: Arc<Accept>,
    stop: Arc<AtomicBool>,
) {
    let _role = trace::role("server");
    let (places, threads) = (config.places(), config.threads);
    let config = Arc::new(config);
    let work = move |stream: TcpStream, peer: SocketAddr| {
        trace::event(Layer::Http1, || {
            format!("accepted a connection from {peer}")
        });
        if let Some(mut conn) = accept(stream) {
            serve_connection(&mut conn, peer, handler.as_ref(), &config);
            conn.close();
        }
    };
    accept::serve(
        &listener,
        &stop,
        &places,
        threads,
        Arc::new(work),
        &overloaded,
    );
}

impl Config {
    /// The connection places: `max_conns`, and each source's share of them.
    pub fn places(&self) -> Shares {
        Shares::capped(self.max_conns, self.per_source)
    }
}

/// No place for this connection (the cap, or its address's share of it): say so in HTTP
/// (503 with Retry-After, RFC 9110 §15.6.4) and close, rather than leave the client waiting
/// in the listen queue.
pub fn overloaded(stream: TcpStream, peer: SocketAddr, why: &Refusal) {
    trace::event(Layer::Http1, || {
        format!("{peer}: {why}: answering 503 with Retry-After")
    });
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let resp = Response::text(503, &format!("{why}; try again later"))
        .header("Retry-After", "1")
        .header("Connection", "close");
    let _ = write_response(&mut Transport::Plain(stream), "GET", &resp);
}

/// Plain TCP: no handshake.
pub fn plain(stream: TcpStream) -> Option<Transport> {
    Some(Transport::Plain(stream))
}

/// Serves `handler` on an already bound listener in a background thread.
pub fn spawn(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: Config,
    accept: Arc<Accept>,
) -> std::io::Result<Background> {
    Background::tcp(listener, "http server", move |l, stop| {
        serve(l, handler, config, accept, stop)
    })
}

/// Serves one connection until either side ends it.
pub fn serve_connection(
    conn: &mut Transport,
    peer: SocketAddr,
    handler: &dyn Handler,
    config: &Config,
) {
    let _ = conn.set_write_timeout(Some(config.body_timeout));
    // No Nagle: a response goes out as it is written. Over TLS a response is a record or two
    // after the session tickets, and with Nagle on, the second small write waited for the
    // client's delayed ACK (40 ms on Linux) before leaving.
    let _ = conn.tcp().set_nodelay(true);
    let mut reader = Reader::new();
    let mut served = 0u32;
    loop {
        // 1. The next request head. Silence before its first byte is the keep-alive idle
        //    time; after it, the head must be complete within head_timeout.
        let Some(head) = next_head(conn, &mut reader, peer, config) else {
            return;
        };
        served += 1;
        trace_head(peer, served, &head);

        // 2–4. How long the body is, the checks that need only the head, and Expect.
        let length = match before_body(&head, config, !reader.buf.is_empty()) {
            BeforeBody::Refuse(resp) => return respond_and_close(conn, &head.method, resp),
            BeforeBody::Read(length) => length,
            BeforeBody::Continue(length) => match conn.write_all(&interim_continue()) {
                Ok(()) => length,
                Err(_) => return,
            },
        };

        // 5. The body.
        let (body, trailers) = match reader.body(
            conn,
            length,
            config.max_body,
            Instant::now() + config.body_timeout,
        ) {
            Ok(b) => b,
            Err(e) => return fail(conn, &e, &head.method),
        };

        // 6–7. The handler, and the response with whether the connection goes on.
        let (out, decision) = answer(handler, peer, head, body, trailers);
        if conn.write_all(&out).and_then(|()| conn.flush()).is_err() {
            return;
        }
        trace_after(peer, served, &decision);
        if !decision.keep {
            return;
        }
    }
}

/// Step 1 of [`serve_connection`]: the next request head, or `None` when the connection is
/// over (the client closed it, stayed idle too long, or sent a head that was answered with
/// its error status).
fn next_head(
    conn: &mut Transport,
    reader: &mut Reader,
    peer: SocketAddr,
    config: &Config,
) -> Option<RequestHead> {
    let read = reader.request_head(
        conn,
        &config.limits,
        Instant::now() + config.idle_timeout,
        config.head_timeout,
    );
    match read {
        Ok(head) => Some(head),
        Err(ReadError::Closed) => None,
        Err(ReadError::Timeout { started: false }) => {
            trace::event(Layer::Http1, || {
                format!(
                    "{peer}: idle for {} ms, closing",
                    config.idle_timeout.as_millis()
                )
            });
            None
        }
        Err(e) => {
            fail(conn, &e, "GET");
            None
        }
    }
}

/// The trace of a request head as it arrived (the same lines for every server shape).
pub(super) fn trace_head(peer: SocketAddr, served: u32, head: &RequestHead) {
    trace::event(Layer::Http1, || {
        if served == 1 {
            format!("{peer}: request 1 on a new connection")
        } else {
            format!("{peer}: request {served} reuses the connection (keep-alive)")
        }
    });
    trace::received(Layer::Http1, || {
        format!(
            "request-line: method={} target={} version={}",
            head.method, head.target, head.version
        )
    });
    for (name, value) in head.headers.iter() {
        trace::received(Layer::Http1, || format!("field {name}: {value}"));
    }
}

/// What comes after a head: read a body of this length, send 100 Continue first and then
/// read it, or answer at once and close.
pub(super) enum BeforeBody {
    Read(BodyLength),
    Continue(BodyLength),
    Refuse(Response),
}

/// Steps 2–4 of a request, decided from its head alone: the body's length (ambiguous
/// framing is refused, never guessed), the checks that need only the head, and `Expect:
/// 100-continue` (RFC 9110 §10.1.1: tell the client to send the body, or refuse it before
/// it is sent). `body_started`: some of the body is already in.
pub(super) fn before_body(head: &RequestHead, config: &Config, body_started: bool) -> BeforeBody {
    let length = match framing::request_body_length(head) {
        Ok(l) => l,
        Err(e) => {
            trace::event(Layer::Http1, || format!("framing rejected: {e}"));
            return BeforeBody::Refuse(Response::text(e.status(), &e.to_string()));
        }
    };
    trace::event(Layer::Http1, || {
        format!("body framing: {}", describe(length))
    });
    if let Some(resp) = check_head(head, config) {
        return BeforeBody::Refuse(resp);
    }
    match expect::decide(head, length, config.max_body, body_started) {
        Expect::Proceed => BeforeBody::Read(length),
        Expect::Refuse(resp) => BeforeBody::Refuse(resp),
        Expect::Continue => BeforeBody::Continue(length),
    }
}

/// `HTTP/1.1 100 Continue`, traced.
pub(super) fn interim_continue() -> Vec<u8> {
    let mut out = Vec::new();
    head::emit_response(Version::HTTP_11, 100, "Continue", &Headers::new(), &mut out);
    head::trace(Dir::Sent, &out, "interim response (send the body)");
    out
}

/// Steps 6–7: the handler (one that panics costs its request a 500, not the server), then
/// the response's bytes and whether the connection goes on (RFC 9112 §9.3).
pub(super) fn answer(
    handler: &dyn Handler,
    peer: SocketAddr,
    head: RequestHead,
    body: Vec<u8>,
    trailers: Headers,
) -> (Vec<u8>, persistence::Decision) {
    let mut req = head.into_request(body, trailers);
    req.peer = Some(peer);
    let mut resp = match catch::call(|| handler.handle(&req)) {
        // HTTP/1.1 writes a body from memory: a file body is read whole here.
        Ok(r) => r.load_file(),
        Err(p) => {
            let what = format!("{peer}: {} {}", req.method, req.target);
            catch::report(Layer::Http1, &what, &p, "answered 500, serving on");
            Response::text(500, "the handler panicked")
        }
    };
    let decision = persistence::after_response(req.version, &req.headers, &resp.headers);
    if let Some(value) = decision.connection {
        resp.headers.set("Connection", value);
    }
    (encode_response(&req.method, &resp), decision)
}

/// The trace once a response is sent: the connection closes, or waits for the next request.
pub(super) fn trace_after(peer: SocketAddr, served: u32, decision: &persistence::Decision) {
    if decision.keep {
        trace::event(Layer::Http1, || {
            format!(
                "{peer}: keep-alive, waiting for request {}: {}",
                served + 1,
                decision.reason
            )
        });
    } else {
        trace::event(Layer::Http1, || {
            format!(
                "{peer}: closing after {served} request(s): {}",
                decision.reason
            )
        });
    }
}

fn describe(length: BodyLength) -> String {
    match length {
        BodyLength::None => "no body".into(),
        BodyLength::Fixed(n) => format!("Content-Length: {n} bytes"),
        BodyLength::Chunked => "Transfer-Encoding: chunked".into(),
        BodyLength::UntilClose => "until close".into(),
    }
}

/// Rules a request head must follow before it reaches a handler.
fn check_head(head: &RequestHead, config: &Config) -> Option<Response> {
    if !config.methods.contains(&head.method.as_str()) {
        return Some(Response::text(
            501,
            &format!("method {} is not implemented (RFC 9110 §9.1)", head.method),
        ));
    }
    // RFC 9112 §3.2: "A server MUST respond with a 400 to any HTTP/1.1 request message that
    // lacks a Host header field and to any request message that contains more than one".
    let hosts = head.headers.get_all("host").count();
    if hosts > 1 || (hosts == 0 && head.version >= Version::HTTP_11) {
        return Some(Response::text(
            400,
            "exactly one Host header field is required (RFC 9112 §3.2)",
        ));
    }
    // RFC 9112 §3.2.3/§3.2.4: authority-form only with CONNECT, asterisk-form only with OPTIONS.
    let t = head.target.as_str();
    let ok = match head.method.as_str() {
        "CONNECT" => !t.starts_with('/') && t.contains(':'),
        "OPTIONS" => t == "*" || t.starts_with('/') || t.contains("://"),
        _ => t.starts_with('/') || t.contains("://"),
    };
    (!ok).then(|| {
        Response::text(
            400,
            &format!(
                "request-target '{t}' is not valid for {} (RFC 9112 §3.2)",
                head.method
            ),
        )
    })
}

/// Answers a read error with its status, when there is one to give, and closes.
fn fail(conn: &mut Transport, e: &ReadError, method: &str) {
    if let Some(resp) = failure(e) {
        respond_and_close(conn, method, resp);
    }
}

/// The answer to a read error, when there is one to give: nobody is left to answer after a
/// close, a truncated message, an I/O error or an idle connection.
pub(super) fn failure(e: &ReadError) -> Option<Response> {
    let status = match e {
        ReadError::Parse(p) => p.status(),
        ReadError::Chunked(_) => 400,
        ReadError::TooLarge { .. } => 413,
        ReadError::Timeout { started: true } => 408,
        _ => return None,
    };
    trace::event(Layer::Http1, || {
        format!("rejecting the request: {e} → {status}")
    });
    Some(Response::text(status, &e.to_string()))
}

fn respond_and_close(conn: &mut Transport, method: &str, resp: Response) {
    let _ = conn.write_all(&closing(method, resp));
    let _ = conn.flush();
}

/// A response after which the server closes: `Connection: close`, encoded.
pub(super) fn closing(method: &str, mut resp: Response) -> Vec<u8> {
    resp.headers.set("Connection", "close");
    encode_response(method, &resp)
}

/// Serialises and sends a response (see [`encode_response`]).
pub fn write_response(conn: &mut Transport, method: &str, resp: &Response) -> std::io::Result<()> {
    conn.write_all(&encode_response(method, resp))?;
    conn.flush()
}

/// Serialises a response: status line, fields, body (RFC 9112 §4, §6), as one buffer, so a
/// small response goes out in one write. The status line always says HTTP/1.1: a server
/// sends its own highest version, even to a 1.0 client (RFC 9110 §2.5); `method` decides
/// whether a body follows (HEAD).
pub fn encode_response(method: &str, resp: &Response) -> Vec<u8> {
    let headers = &resp.headers;
    let chunked = headers.has_token("transfer-encoding", "chunked");
    // RFC 9110 §8.6: no Content-Length in 1xx and 204; a 304 and a HEAD response carry the
    // length the full response would have.
    let bodyless_status = crate::http::status::forbids_content(resp.status);
    // Head and body go out in one write (one syscall for a small response); the handler's
    // fields first, then the ones the server adds.
    let mut out = Vec::with_capacity(256 + resp.body.len());
    head::emit_status_line(Version::HTTP_11, resp.status, &resp.reason, &mut out);
    head::emit_fields(headers, &mut out);
    if !headers.contains("date") {
        head::emit_field("Date", &crate::http::date::now(), &mut out);
    }
    if !chunked && !bodyless_status && !headers.contains("content-length") {
        head::emit_field("Content-Length", &resp.body.len().to_string(), &mut out);
    }
    out.extend_from_slice(b"\r\n");
    head::trace(Dir::Sent, &out, "response head");
    let send_body = crate::http::status::content_follows(method, resp.status);
    if send_body {
        encode_body(&resp.body, chunked, &mut out);
    }
    out
}

/// Appends a response body, in chunks of at most 4 KiB when `chunked` (so a client sees
/// several), and traces it.
fn encode_body(body: &[u8], chunked: bool, out: &mut Vec<u8>) {
    if chunked {
        for part in body.chunks(4096) {
            chunked::encode_chunk(part, out);
        }
        chunked::encode_last(&Headers::new(), out);
        trace::sent(Layer::Http1, || {
            format!(
                "body {} bytes in {} chunk(s) + last-chunk: {}",
                body.len(),
                body.len().div_ceil(4096),
                trace::quoted(body, 60)
            )
        });
    } else {
        out.extend_from_slice(body);
        if !body.is_empty() {
            trace::sent(Layer::Http1, || {
                format!("body {} bytes: {}", body.len(), trace::quoted(body, 60))
            });
        }
    }
}
