//! A blocking HTTP/1.1 client: request heads written by hand, responses read with the same
//! parser as the server, connections kept and reused (RFC 9112 §9.3), https through rustls,
//! and proxies (absolute-form for http, a CONNECT tunnel for https; RFC 9110 §9.3.6).

use super::chunked;
use super::framing;
use super::head;
use super::parse::Limits;
use super::persistence;
use super::reader::{ReadError, Reader};
use crate::http::fields::strip_hop_by_hop;
use crate::http::handler::Handler;
use crate::http::message::{Headers, Request, Response, Version};
use crate::http::uri::{Scheme, Url};
use crate::tls::{self, transport::Transport};
use crate::trace::{self, Dir, Layer};
use std::fmt;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the client behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// A PEM file of CAs to trust besides the system's.
    pub cacert: Option<PathBuf>,
    /// Accept any certificate (curl -k).
    pub insecure: bool,
    /// Send requests through this proxy.
    pub proxy: Option<Url>,
    /// Bounds connect and every wait for the server.
    pub timeout: Duration,
    /// Print heads as sent and received on stderr, with `>` and `<` (curl -v).
    pub verbose: bool,
    /// The largest response body accepted.
    pub max_body: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            cacert: None,
            insecure: false,
            proxy: None,
            timeout: Duration::from_secs(30),
            verbose: false,
            max_body: 1 << 30,
        }
    }
}

/// A request to send.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub method: String,
    pub url: Url,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// Send the body with the chunked coding instead of Content-Length.
    pub chunked: bool,
    /// Add User-Agent and Accept when the request has none (off for a proxy, which
    /// forwards what it got).
    pub defaults: bool,
}

impl Outgoing {
    pub fn new(method: &str, url: Url) -> Outgoing {
        Outgoing {
            method: method.to_string(),
            url,
            headers: Headers::new(),
            body: Vec::new(),
            chunked: false,
            defaults: true,
        }
    }
}

#[derive(Debug)]
pub enum ClientError {
    Resolve(String),
    Connect {
        addr: String,
        source: std::io::Error,
    },
    Tls(tls::TlsError),
    Send(std::io::Error),
    Receive(ReadError),
    /// The response head or body broke a framing rule.
    Framing(framing::FramingError),
    /// The proxy answered CONNECT with something other than 2xx.
    Proxy {
        status: u16,
        reason: String,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Resolve(h) => write!(f, "cannot resolve host '{h}'"),
            ClientError::Connect { addr, source } => {
                write!(f, "cannot connect to {addr}: {source}")
            }
            ClientError::Tls(e) => write!(f, "{e}"),
            ClientError::Send(e) => write!(f, "sending the request failed: {e}"),
            ClientError::Receive(ReadError::Closed) => {
                f.write_str("the server closed the connection without answering")
            }
            ClientError::Receive(e) => write!(f, "reading the response failed: {e}"),
            ClientError::Framing(e) => write!(f, "bad response framing: {e}"),
            ClientError::Proxy { status, reason } => {
                write!(f, "the proxy refused the tunnel: {status} {reason}")
            }
        }
    }
}

impl std::error::Error for ClientError {}

struct Conn {
    key: String,
    transport: Transport,
    reader: Reader,
}

/// A client that keeps one idle connection per origin (or per proxy) for reuse.
pub struct Client {
    opts: Options,
    tls: Option<Arc<rustls::ClientConfig>>,
    idle: Vec<Conn>,
    /// The kind of the last TLS handshake made (full or resumed), for a caller that
    /// measures second visits.
    last_handshake: Option<rustls::HandshakeKind>,
}

impl Client {
    pub fn new(opts: Options) -> Client {
        Client {
            opts,
            tls: None,
            idle: Vec::new(),
            last_handshake: None,
        }
    }

    /// Whether the last TLS connection opened was a full or a resumed handshake (`None`:
    /// no TLS connection yet).
    pub fn last_handshake(&self) -> Option<rustls::HandshakeKind> {
        self.last_handshake
    }

    fn tls_config(&mut self) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        if self.tls.is_none() {
            let c = tls::client_config(
                self.opts.cacert.as_deref(),
                self.opts.insecure,
                &[b"http/1.1"],
            )
            .map_err(ClientError::Tls)?;
            self.tls = Some(c);
        }
        // Set just above; a failure returned before reaching here.
        self.tls
            .clone()
            .ok_or(ClientError::Tls(tls::TlsError::Handshake(
                "no TLS configuration".into(),
            )))
    }

    fn verbose(&self, prefix: &str, bytes: &[u8]) {
        if self.opts.verbose {
            for line in String::from_utf8_lossy(bytes).lines() {
                eprintln!("{prefix} {line}");
            }
        }
    }

    /// Sends a request and reads the whole response: 1. on a kept connection if there is
    /// one, 2. else on a new one, 3. then keep or close it.
    pub fn send(&mut self, req: &Outgoing) -> Result<Response, ClientError> {
        let _role = trace::default_role("client");
        let key = self.pool_key(req);
        // 1. A kept connection if there is one; a stale one (closed by the server while idle)
        //    fails before any response byte, and the request is sent once more on a new one.
        if let Some(resp) = self.send_on_kept(&key, req)? {
            return Ok(resp);
        }
        // 2. A new connection.
        let mut conn = self.open(&key, &req.url)?;
        let (resp, keep) = self.exchange(&mut conn, req)?;
        // 3. Kept for the next request, or closed.
        self.keep_or_close(conn, keep);
        Ok(resp)
    }

    /// Which connections may carry `req`: those to its origin, or to the proxy (and, for
    /// https, through a tunnel to its origin).
    fn pool_key(&self, req: &Outgoing) -> String {
        match &self.opts.proxy {
            Some(p) => format!(
                "proxy {} {}",
                p.host_port(),
                if req.url.scheme == Scheme::Https {
                    req.url.host_port()
                } else {
                    String::new()
                }
            ),
            None => format!("{}://{}", req.url.scheme.name(), req.url.host_port()),
        }
    }

    /// Step 1 of [`Client::send`]: the response on a kept connection, or `None` when there is
    /// none or the server had closed it.
    fn send_on_kept(&mut self, key: &str, req: &Outgoing) -> Result<Option<Response>, ClientError> {
        let Some(i) = self.idle.iter().position(|c| c.key == key) else {
            return Ok(None);
        };
        let mut conn = self.idle.remove(i);
        trace::event(Layer::Http1, || {
            format!(
                "reusing the kept-alive connection to {}",
                req.url.host_port()
            )
        });
        match self.exchange(&mut conn, req) {
            Ok((resp, keep)) => {
                self.keep_or_close(conn, keep);
                Ok(Some(resp))
            }
            Err(ClientError::Receive(ReadError::Closed)) | Err(ClientError::Send(_)) => {
                trace::event(Layer::Http1, || {
                    "the kept connection was closed by the server; opening a new one".to_string()
                });
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Closes the connections kept for a next request that will not come (the client is
    /// done): close_notify for TLS, then FIN, each traced like any other close.
    pub fn close_idle(&mut self) {
        let _role = trace::default_role("client");
        for mut conn in self.idle.drain(..) {
            trace::event(Layer::Http1, || {
                format!(
                    "closing the kept connection ({}): no more requests",
                    conn.key
                )
            });
            conn.transport.close();
        }
    }

    /// After a response (RFC 9112 §9.3): keep the connection for the next request to the
    /// same origin, or close it.
    fn keep_or_close(&mut self, mut conn: Conn, keep: bool) {
        if keep {
            trace::event(Layer::Http1, || {
                format!("keeping the connection ({}) for the next request", conn.key)
            });
            self.idle.push(conn);
        } else {
            trace::event(Layer::Http1, || {
                format!(
                    "closing the connection ({}): the response ends it",
                    conn.key
                )
            });
            conn.transport.close();
        }
    }

    fn connect_tcp(&self, host_port: &str) -> Result<TcpStream, ClientError> {
        let addrs: Vec<_> = host_port
            .to_socket_addrs()
            .map_err(|_| ClientError::Resolve(host_port.to_string()))?
            .collect();
        let mut last = None;
        for addr in &addrs {
            trace::sent(Layer::Http1, || format!("TCP connect to {addr}"));
            trace::sent(Layer::L4, || format!("connect({addr}) → SYN (SYN-SENT)"));
            match TcpStream::connect_timeout(addr, self.opts.timeout) {
                Ok(s) => {
                    trace::event(Layer::L4, || {
                        let local = s.local_addr().map(|a| a.to_string()).unwrap_or_default();
                        format!("connected {local} → {addr}, ESTABLISHED")
                    });
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(source) => ClientError::Connect {
                addr: host_port.to_string(),
                source,
            },
            None => ClientError::Resolve(host_port.to_string()),
        })
    }

    /// Opens a connection to the origin, or through the proxy (with a tunnel for https).
    fn open(&mut self, key: &str, url: &Url) -> Result<Conn, ClientError> {
        let proxy = self.opts.proxy.clone();
        let tcp = self.connect_tcp(&proxy.as_ref().unwrap_or(url).host_port())?;
        let mut reader = Reader::new();
        let transport = match (url.scheme, proxy) {
            (Scheme::Http, _) => Transport::Plain(tcp),
            (Scheme::Https, None) => {
                tls::connect(self.tls_config()?, &url.host, tcp).map_err(ClientError::Tls)?
            }
            (Scheme::Https, Some(_)) => {
                // CONNECT host:port: the proxy opens TCP to the origin and then relays bytes
                // both ways; TLS runs end to end through it, unseen by the proxy.
                let mut plain = Transport::Plain(tcp.try_clone().map_err(ClientError::Send)?);
                let hp = url.host_port();
                let mut fields = Headers::new();
                fields.append("Host", &hp);
                fields.append("User-Agent", "netlab/0.1");
                let mut connect = Vec::new();
                head::emit_request("CONNECT", &hp, Version::HTTP_11, &fields, &mut connect);
                self.verbose(">", &connect);
                head::trace(Dir::Sent, &connect, "CONNECT head");
                plain.write_all(&connect).map_err(ClientError::Send)?;
                let resp = reader
                    .response_head(
                        &mut plain,
                        &Limits::default(),
                        Instant::now() + self.opts.timeout,
                    )
                    .map_err(ClientError::Receive)?;
                self.verbose(
                    "<",
                    format!("{} {} {}", resp.version, resp.status, resp.reason).as_bytes(),
                );
                if !(200..300).contains(&resp.status) {
                    return Err(ClientError::Proxy {
                        status: resp.status,
                        reason: resp.reason,
                    });
                }
                tls::connect(self.tls_config()?, &url.host, tcp).map_err(ClientError::Tls)?
            }
        };
        if let Transport::TlsClient(s) = &transport {
            self.last_handshake = s.conn.handshake_kind();
        }
        Ok(Conn {
            key: key.to_string(),
            transport,
            reader,
        })
    }

    /// Writes the request and reads the response; says whether the connection may be kept.
    fn exchange(&self, conn: &mut Conn, req: &Outgoing) -> Result<(Response, bool), ClientError> {
        let via_proxy = self.opts.proxy.is_some() && req.url.scheme == Scheme::Http;
        // absolute-form to a proxy, origin-form to the origin (RFC 9112 §3.2).
        let target = if via_proxy {
            req.url.to_string()
        } else {
            req.url.target.clone()
        };
        let mut headers = Headers::new();
        headers.append("Host", &req.url.authority());
        if req.defaults {
            headers.append("User-Agent", "netlab/0.1");
            headers.append("Accept", "*/*");
        }
        let has_body =
            !req.body.is_empty() || matches!(req.method.as_str(), "POST" | "PUT" | "PATCH");
        if req.chunked {
            headers.append("Transfer-Encoding", "chunked");
        } else if has_body {
            headers.append("Content-Length", &req.body.len().to_string());
        }
        for (name, value) in req.headers.iter() {
            headers.set(name, value);
        }
        let mut out = Vec::with_capacity(256 + req.body.len());
        head::emit_request(&req.method, &target, Version::HTTP_11, &headers, &mut out);
        self.verbose(">", &out);
        head::trace(Dir::Sent, &out, "request head");
        if req.chunked {
            for part in req.body.chunks(8192) {
                chunked::encode_chunk(part, &mut out);
            }
            chunked::encode_last(&Headers::new(), &mut out);
            trace::sent(Layer::Http1, || {
                format!(
                    "body {} bytes in {} chunk(s) + last-chunk: {}",
                    req.body.len(),
                    req.body.len().div_ceil(8192),
                    trace::quoted(&req.body, 60)
                )
            });
        } else {
            out.extend_from_slice(&req.body);
            if !req.body.is_empty() {
                trace::sent(Layer::Http1, || {
                    format!(
                        "body {} bytes: {}",
                        req.body.len(),
                        trace::quoted(&req.body, 60)
                    )
                });
            }
        }
        conn.transport.write_all(&out).map_err(ClientError::Send)?;
        conn.transport.flush().map_err(ClientError::Send)?;

        let deadline = Instant::now() + self.opts.timeout;
        let limits = Limits::default();
        // 1xx responses are interim: read on to the final one (RFC 9110 §15.2).
        let head = loop {
            let head = conn
                .reader
                .response_head(&mut conn.transport, &limits, deadline)
                .map_err(ClientError::Receive)?;
            self.verbose(
                "<",
                format!("{} {} {}", head.version, head.status, head.reason).as_bytes(),
            );
            if head.status >= 200 || head.status == 101 {
                break head;
            }
        };
        for (n, v) in head.headers.iter() {
            self.verbose("<", format!("{n}: {v}").as_bytes());
        }
        let length =
            framing::response_body_length(&req.method, &head).map_err(ClientError::Framing)?;
        let (body, _trailers) = conn
            .reader
            .body(&mut conn.transport, length, self.opts.max_body, deadline)
            .map_err(ClientError::Receive)?;
        let keep = persistence::after_reading(length, head.version, &head.headers);
        Ok((head.into_response(body), keep))
    }
}

/// A handler that forwards every request to an upstream server over HTTP/1.1 and returns
/// its answer: the gateway's hop to the notes service (`http::services::app::gateway`).
/// Hop-by-hop fields stay behind on both ways (RFC 9110 §7.6.1), `Via` records the hop
/// (§7.6.3), and a failed hop answers 502.
pub struct Upstream {
    url: Url,
    /// What the trace and the 502 call the upstream ("notes service").
    name: String,
    /// One kept-alive connection to the upstream, shared by the gateway's threads.
    client: Mutex<Client>,
}

impl Upstream {
    pub fn new(url: Url, name: &str) -> Upstream {
        Upstream {
            url,
            name: name.to_string(),
            client: Mutex::new(Client::new(Options::default())),
        }
    }
}

impl Handler for Upstream {
    fn handle(&self, req: &Request) -> Response {
        let _role = trace::role("gateway");
        let mut url = self.url.clone();
        url.target = req.target.clone();
        trace::sent(Layer::Http1, || {
            format!(
                "gateway: {} {} → {} at {}",
                req.method,
                req.target,
                self.name,
                self.url.host_port()
            )
        });
        let mut out = Outgoing::new(&req.method, url);
        out.defaults = false;
        out.headers = strip_hop_by_hop(&req.headers);
        out.headers.remove("host");
        out.headers.remove("content-length");
        out.headers.append("Via", "1.1 netlab-gateway");
        out.body = req.body.clone();
        let result = self
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(&out);
        match result {
            Ok(r) => {
                trace::received(Layer::Http1, || {
                    format!("gateway: {} answered {} {}", self.name, r.status, r.reason)
                });
                let mut headers = strip_hop_by_hop(&r.headers);
                headers.remove("content-length");
                Response {
                    status: r.status,
                    reason: r.reason,
                    headers,
                    body: r.body,
                    file: None,
                }
            }
            Err(e) => Response::text(502, &format!("the {} failed: {e}", self.name)),
        }
    }
}
