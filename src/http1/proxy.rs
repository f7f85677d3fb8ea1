//! A forward proxy (RFC 9110 §3.7, §7.6, §9.3.6).
//!
//! - For `http://` the client sends the absolute-form target (`GET http://host/path`); the
//!   proxy strips the hop-by-hop fields (§7.6.1), adds `Via` (§7.6.3), forwards the request
//!   over its own connection to the origin, and relays the response back.
//! - For `https://` the client sends `CONNECT host:port`; the proxy opens TCP to the origin,
//!   answers 200, and from then on copies bytes both ways. TLS runs end to end: the proxy
//!   sees only ciphertext.
//! - When the origin cannot be reached: 502 Bad Gateway; when it does not answer in time:
//!   504 Gateway Timeout, each with the reason in the body.
//!
//! An open proxy is a gift to abusers: by default this one relays only to loopback origins.
//!
//! Threads: each client connection has its own thread (the accept loop of
//! [`crate::l4::accept`]); a CONNECT tunnel adds a second one, one per direction of the
//! relay ([`crate::l4::relay`]). A tunnel in which neither side sends anything for
//! [`ProxyConfig::tunnel_idle`] (5 minutes by default) is closed, so it cannot hold its two
//! threads and a connection slot for ever.

use super::client::{Client, ClientError, Options, Outgoing};
use super::framing;
use super::head::{self, RequestHead};
use super::reader::{ReadError, Reader};
use super::server::{self, Config};
use crate::http::fields::strip_hop_by_hop;
use crate::http::message::{Headers, Request, Response, Version};
use crate::http::uri::{Scheme, Url, split_host_port};
use crate::l4::{accept, relay};
use crate::tls::transport::Transport;
use crate::trace::{self, Dir, Layer};
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct ProxyConfig {
    pub server: Config,
    /// Relay to any origin, not just loopback ones.
    pub open: bool,
    /// How long to wait for an origin.
    pub origin_timeout: Duration,
    /// A CONNECT tunnel in which neither side sent anything for this long is closed.
    pub tunnel_idle: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            server: Config::default(),
            open: false,
            origin_timeout: Duration::from_secs(10),
            tunnel_idle: Duration::from_secs(300),
        }
    }
}

/// Serves the proxy on `listener` until `stop` is set.
pub fn serve(listener: TcpListener, config: ProxyConfig, stop: Arc<AtomicBool>) {
    let _role = trace::role("proxy");
    let places = config.server.places();
    let config = Arc::new(config);
    let serve_one =
        Arc::new(move |tcp: TcpStream, peer: SocketAddr| relay_connection(tcp, peer, &config));
    accept::serve(
        &listener,
        &stop,
        &places,
        accept::Threads::PerConnection,
        serve_one,
        &server::overloaded,
    );
}

fn allowed(host: &str, port: u16, config: &ProxyConfig) -> Result<Vec<SocketAddr>, Response> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| Response::text(502, &format!("cannot resolve '{host}'")))?
        .collect();
    if !config.open && addrs.iter().any(|a| !is_loopback(a.ip())) {
        return Err(Response::text(
            403,
            &format!(
                "this proxy only relays to loopback origins; {host} is not one (start it with --open to relay anywhere)"
            ),
        ));
    }
    Ok(addrs)
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Serves one client connection: 1. read a request, 2. check its target, 3. read its body,
/// 4. forward it and relay the answer; again while both sides keep the connection. A CONNECT
/// turns the connection into a tunnel instead.
fn relay_connection(tcp: TcpStream, peer: SocketAddr, config: &ProxyConfig) {
    let mut conn = Transport::Plain(tcp);
    let mut reader = Reader::new();
    let mut upstream = Client::new(Options {
        timeout: config.origin_timeout,
        ..Options::default()
    });
    let limits = config.server.limits;
    loop {
        // 1. The client's request, as any server reads one.
        let head = match reader.request_head(
            &mut conn,
            &limits,
            Instant::now() + config.server.idle_timeout,
            config.server.head_timeout,
        ) {
            Ok(h) => h,
            Err(ReadError::Parse(e)) => {
                let resp = Response::text(e.status(), &e.to_string());
                return respond(&mut conn, "GET", resp, false);
            }
            Err(_) => return,
        };
        trace::received(Layer::Http1, || {
            format!("proxy: {peer} asks {} {}", head.method, head.target)
        });
        if head.method == "CONNECT" {
            return tunnel(conn, reader, &head.target, config);
        }
        // 2. Only absolute-form http:// targets, to an origin this proxy may relay to.
        let url = match origin_url(&head.target, config) {
            Ok(u) => u,
            Err(resp) => return respond(&mut conn, &head.method, resp, false),
        };
        // 3. The body, framed as any server frames it.
        let body = match read_body(&mut conn, &mut reader, &head, config) {
            Ok(b) => b,
            Err(Some(resp)) => return respond(&mut conn, &head.method, resp, false),
            Err(None) => return,
        };
        let req = head.into_request(body, Headers::new());
        let keep = super::persistence::persistent(req.version, &req.headers)
            && !req.headers.has_token("proxy-connection", "close");
        // 4. Forward, and relay the origin's answer (or the proxy's own 502/504).
        let resp = forward(&mut upstream, &req, &url);
        trace::sent(Layer::Http1, || {
            format!("proxy: {} {} back to {peer}", resp.status, resp.reason)
        });
        respond(&mut conn, &req.method, resp, keep);
        if !keep {
            return;
        }
    }
}

/// Step 2: the origin a forward proxy relays `target` to: an absolute-form http:// URL
/// (https goes through CONNECT), to an origin this proxy may reach; else the answer.
fn origin_url(target: &str, config: &ProxyConfig) -> Result<Url, Response> {
    let url = match Url::parse(target) {
        Ok(u) if u.scheme == Scheme::Http => u,
        Ok(_) => {
            return Err(Response::text(
                400,
                "send https:// through a CONNECT tunnel",
            ));
        }
        Err(_) => {
            return Err(Response::text(
                400,
                "a proxy needs the absolute-form target: GET http://host/path (RFC 9112 §3.2.2)",
            ));
        }
    };
    allowed(&url.host, url.port, config)?;
    Ok(url)
}

/// Step 3: the request's body. `Err(Some(answer))` for a body refused with a status,
/// `Err(None)` when the client is gone or too slow (nobody to answer).
fn read_body(
    conn: &mut Transport,
    reader: &mut Reader,
    head: &RequestHead,
    config: &ProxyConfig,
) -> Result<Vec<u8>, Option<Response>> {
    let length = framing::request_body_length(head)
        .map_err(|e| Some(Response::text(e.status(), &e.to_string())))?;
    match reader.body(
        conn,
        length,
        config.server.max_body,
        Instant::now() + config.server.body_timeout,
    ) {
        Ok((body, _)) => Ok(body),
        Err(ReadError::TooLarge { .. }) => Err(Some(Response::text(413, "body too large"))),
        Err(_) => Err(None),
    }
}

/// Step 4: sends `req` on to the origin at `url`, hop-by-hop fields left behind and the hop
/// recorded in Via both ways; the origin's response, or the proxy's 502/504.
fn forward(upstream: &mut Client, req: &Request, url: &Url) -> Response {
    let mut out = Outgoing::new(&req.method, url.clone());
    out.defaults = false;
    out.headers = strip_hop_by_hop(&req.headers);
    out.headers.remove("host");
    out.headers
        .append("Via", &format!("{} netlab", via_version(req.version)));
    out.body = req.body.clone();
    trace::sent(Layer::Http1, || {
        format!(
            "proxy: forwarding {} {} to {}",
            req.method,
            url.target,
            url.host_port()
        )
    });
    match upstream.send(&out) {
        Ok(r) => {
            let mut back = Response {
                status: r.status,
                reason: r.reason,
                headers: strip_hop_by_hop(&r.headers),
                body: r.body,
                file: None,
            };
            back.headers.remove("content-length");
            back.headers.append("Via", "1.1 netlab");
            back
        }
        Err(e) => gateway_error(&e),
    }
}

fn via_version(v: Version) -> String {
    format!("{}.{}", v.major, v.minor)
}

/// 502 when the origin cannot be reached or answers nonsense, 504 when it is too slow.
fn gateway_error(e: &ClientError) -> Response {
    let status = match e {
        ClientError::Receive(ReadError::Timeout { .. }) => 504,
        ClientError::Connect { source, .. } if crate::l4::conn::is_timeout(source) => 504,
        _ => 502,
    };
    Response::text(status, &format!("the origin failed: {e}"))
}

fn respond(conn: &mut Transport, method: &str, mut resp: Response, keep: bool) {
    if !keep {
        resp.headers.set("Connection", "close");
    }
    let _ = server::write_response(conn, method, &resp);
}

/// CONNECT: a blind two-way byte relay once the origin is connected.
fn tunnel(mut conn: Transport, reader: Reader, target: &str, config: &ProxyConfig) {
    let (host, port) = match split_host_port(target, 443) {
        Ok(hp) => hp,
        Err(e) => {
            return respond(
                &mut conn,
                "CONNECT",
                Response::text(400, &format!("CONNECT needs host:port: {e}")),
                false,
            );
        }
    };
    let addrs = match allowed(&host, port, config) {
        Ok(a) => a,
        Err(resp) => return respond(&mut conn, "CONNECT", resp, false),
    };
    let origin = addrs
        .iter()
        .find_map(|a| TcpStream::connect_timeout(a, config.origin_timeout).ok());
    let Some(origin) = origin else {
        return respond(
            &mut conn,
            "CONNECT",
            Response::text(502, &format!("cannot connect to {host}:{port}")),
            false,
        );
    };
    trace::event(Layer::Http1, || {
        format!("proxy: tunnel open to {host}:{port}; relaying bytes both ways")
    });
    // RFC 9110 §9.3.6: a 2xx answer to CONNECT carries no Content-Length nor
    // Transfer-Encoding: what follows is the tunnel, not a body.
    let mut established = Vec::new();
    head::emit_response(
        Version::HTTP_11,
        200,
        "Connection Established",
        &Headers::new(),
        &mut established,
    );
    head::trace(Dir::Sent, &established, "response head");
    if conn.write_all(&established).is_err() {
        return;
    }
    let Transport::Plain(client) = conn else {
        return;
    };
    // Bytes the client sent right after its CONNECT head (a ClientHello) go first.
    let mut origin = origin;
    if !reader.buf.is_empty() && origin.write_all(&reader.buf).is_err() {
        return;
    }
    let totals = relay::relay(client, origin, Some(config.tunnel_idle), None);
    trace::event(Layer::Http1, || {
        format!(
            "proxy: tunnel to {host}:{port} closed ({} bytes up, {} bytes down{})",
            totals.up,
            totals.down,
            if totals.idled_out {
                format!("; idle for {} ms", config.tunnel_idle.as_millis())
            } else {
                String::new()
            }
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_unless_open() {
        let c = ProxyConfig::default();
        assert!(allowed("127.0.0.1", 80, &c).is_ok());
        assert_eq!(allowed("192.0.2.1", 80, &c).unwrap_err().status, 403);
    }
}
