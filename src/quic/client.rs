//! An HTTP/3 client (RFC 9114) over QUIC: one connection, every URL a request stream of its
//! own, all in flight at once. The loop that drives quiche is the same shape as the server's,
//! with one blocking `std::net::UdpSocket`:
//!
//! 1. wait for a datagram, at most until the connection's next timer (and take those
//!    already queued behind it);
//! 2. feed it to quiche;
//! 3. fire the timers that expired (this is what retransmits lost packets: a loop that
//!    skips it stalls on the first loss);
//! 4. once the handshake is done, open HTTP/3 and send every request;
//! 5. poll HTTP/3 events: response fields, body data, the end of a stream;
//! 6. send request bodies as flow control allows;
//! 7. send every packet quiche has ready;
//! 8. when every response is complete, close the connection with H3_NO_ERROR.

use std::collections::HashMap;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use quiche::h3::NameValue;

use super::codes;
use super::config::{self, SetupError, Transport};
use super::h3;
use super::packet;
use super::udp;
use crate::http::uri::Url;
use crate::trace::{self, Layer};

/// What the client does besides GET (the flags of `netlab h3 get`).
#[derive(Clone, Debug)]
pub struct Options {
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    pub transport: Transport,
    /// The whole exchange, handshake included, must finish within this.
    pub timeout: Duration,
    pub method: String,
    pub body: Option<Vec<u8>>,
    /// Extra request fields (`-H name:value`), lower-cased on the wire.
    pub headers: Vec<(String, String)>,
    /// Show bytes and rate on stderr while a body arrives (only on a terminal).
    pub progress: bool,
    /// Told of every piece of every response body as it arrives.
    pub each: Option<crate::http::progress::Progress>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            cacert: None,
            insecure: false,
            transport: Transport::default(),
            timeout: Duration::from_secs(30),
            method: "GET".into(),
            body: None,
            headers: Vec::new(),
            progress: false,
            each: None,
        }
    }
}

/// One response.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub url: String,
    pub status: u16,
    /// The response fields as received (pseudo-fields included), as text.
    pub fields: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From the start of the connection to the last byte of this response.
    pub done_after: Duration,
}

impl Fetched {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Every response of one connection, and how the connection went.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub responses: Vec<Fetched>,
    /// From the first Initial sent to the handshake's completion.
    pub handshake: Duration,
    /// The server answered the first Initial with a Retry.
    pub retried: bool,
    /// quiche's counters: packets, losses, RTT, congestion window.
    pub stats: String,
    /// Bytes of UDP payload sent and received (every datagram, counted at the socket).
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// Why a fetch failed, naming the step.
#[derive(Debug)]
pub enum FetchError {
    /// The URLs do not share one https:// origin (one connection serves one origin).
    Urls(String),
    Setup(SetupError),
    Io(std::io::Error),
    /// The handshake did not complete: the close reason, if the peer sent one.
    Handshake(String),
    /// The connection closed before every response was complete.
    Closed(String),
    /// Nothing completed within the time limit.
    Timeout {
        waited: Duration,
        step: &'static str,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Urls(e) => write!(f, "{e}"),
            FetchError::Setup(e) => write!(f, "{e}"),
            FetchError::Io(e) => write!(f, "{e}"),
            FetchError::Handshake(e) => write!(f, "QUIC handshake failed: {e}"),
            FetchError::Closed(e) => write!(
                f,
                "connection closed before the responses were complete: {e}"
            ),
            FetchError::Timeout { waited, step } => {
                write!(f, "no answer within {} ms ({step})", waited.as_millis())
            }
        }
    }
}

impl std::error::Error for FetchError {}

/// A request stream in flight.
struct Stream {
    index: usize,
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
    /// Request body bytes still to send.
    to_send: Vec<u8>,
    done: Option<Duration>,
}

/// Fetches every URL over one HTTP/3 connection.
pub fn fetch(urls: &[Url], opts: &Options) -> Result<Outcome, FetchError> {
    let _role = trace::default_role("client");
    let first = urls
        .first()
        .ok_or_else(|| FetchError::Urls("no URL given".into()))?;
    for u in urls {
        if u.scheme.name() != "https" {
            return Err(FetchError::Urls(format!(
                "{}: HTTP/3 needs https://",
                u.authority()
            )));
        }
        if u.host != first.host || u.port != first.port {
            return Err(FetchError::Urls(format!(
                "{} and {}: one connection serves one origin; run one command per origin",
                first.authority(),
                u.authority()
            )));
        }
    }
    let peer = (first.host.as_str(), first.port)
        .to_socket_addrs()
        .map_err(FetchError::Io)?
        .next()
        .ok_or_else(|| {
            FetchError::Io(std::io::Error::other(format!("{}: no address", first.host)))
        })?;
    let mut quic = config::client(opts.cacert.as_deref(), opts.insecure, &opts.transport)
        .map_err(FetchError::Setup)?;
    let socket = UdpSocket::bind(bind_addr(&peer)).map_err(FetchError::Io)?;
    let local = socket.local_addr().map_err(FetchError::Io)?;
    trace::event(Layer::L4, || {
        format!("bind {local} (UDP) → talking to {peer}")
    });

    // Our source connection ID: random, as RFC 9000 §7.2 wants the first DCID too.
    let mut scid = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut scid)
        .map_err(|_| FetchError::Io(std::io::Error::other("no random numbers")))?;
    let scid = quiche::ConnectionId::from_ref(&scid);
    let mut conn = quiche::connect(Some(&first.host), &scid, local, peer, &mut quic)
        .map_err(|e| FetchError::Setup(SetupError::Quic(e)))?;
    let id = packet::hex(&scid[..4]);
    config::keylog(&mut conn);
    if let Some(dir) = &opts.transport.qlog_dir {
        if let Some(path) = config::qlog(&mut conn, dir, "client", &packet::hex(&scid)) {
            trace::event(Layer::Quic, || format!("{id}: qlog → {}", path.display()));
        }
    }
    trace::event(Layer::Quic, || {
        format!(
            "{id}: connecting to {peer} (SNI {}, {}), our scid={}",
            first.host,
            if opts.insecure {
                "server NOT verified: --insecure"
            } else {
                "verifying the server's certificate"
            },
            packet::cid(&scid)
        )
    });

    let h3_config =
        quiche::h3::Config::new().map_err(|e| FetchError::Setup(SetupError::Tls(e.to_string())))?;
    let mut http3: Option<quiche::h3::Connection> = None;
    let mut streams: HashMap<u64, Stream> = HashMap::new();
    let mut finished = 0usize;
    let mut results: Vec<Option<Fetched>> = vec![None; urls.len()];
    let started = Instant::now();
    let mut handshake = None;
    let mut retried = false;
    let mut bytes_sent = 0u64;
    let mut bytes_received = 0u64;
    let mut progress = Progress::new(opts.progress && std::io::stderr().is_terminal());
    let mut buf = vec![0u8; 65535];
    let mut closing = false;

    bytes_sent += flush(&socket, &mut conn, peer, &id);
    loop {
        if started.elapsed() > opts.timeout {
            let step = if handshake.is_none() {
                "handshake"
            } else {
                "responses"
            };
            return Err(FetchError::Timeout {
                waited: opts.timeout,
                step,
            });
        }
        // 1. Wait for a datagram, at most until the connection's next timer; then take the
        //    ones already queued behind it without waiting (one ACK for a batch, not one each).
        let left = opts.timeout.saturating_sub(started.elapsed());
        let timer = conn.timeout().map(|t| t.min(left)).or(Some(left));
        let mut next = udp::recv(&socket, &mut buf, timer).map_err(FetchError::Io)?;
        let mut batch = 0;
        while let Some((n, from)) = next.take() {
            if from == peer && n > 0 {
                bytes_received += n as u64;
                let dcid_len = scid.len();
                trace::received(Layer::Quic, || {
                    format!(
                        "{id}: datagram {n} bytes from {from}: {}",
                        packet::describe_datagram(&buf[..n], dcid_len)
                    )
                });
                if let Ok(h) = packet::decode(&buf[..n], dcid_len) {
                    if matches!(
                        h.form,
                        packet::Form::Long {
                            ty: packet::LongType::Retry,
                            ..
                        }
                    ) {
                        retried = true;
                    }
                }
                // 2. Feed it to quiche (it checks the Retry's integrity tag, decrypts, acks).
                let info = quiche::RecvInfo { from, to: local };
                if let Err(e) = conn.recv(&mut buf[..n], info) {
                    trace::event(Layer::Quic, || {
                        format!("{id}: quiche refused the datagram: {e}")
                    });
                }
            } else {
                trace::event(Layer::Quic, || {
                    format!("{id}: ignored a datagram from {from}")
                });
            }
            batch += 1;
            if batch < udp::BATCH {
                next = udp::queued(&socket, &mut buf).map_err(FetchError::Io)?;
            }
        }
        // 3. Fire the timers that expired: loss detection and the idle timeout.
        conn.on_timeout();

        if handshake.is_none() && conn.is_established() {
            let took = started.elapsed();
            handshake = Some(took);
            trace::event(Layer::Quic, || {
                format!(
                    "{id}: handshake complete after {:.1} ms{}, ALPN {}",
                    took.as_secs_f64() * 1000.0,
                    if retried { " (with a Retry)" } else { "" },
                    String::from_utf8_lossy(conn.application_proto())
                )
            });
        }
        if conn.is_closed() {
            let why = close_reason(&conn);
            if handshake.is_none() {
                return Err(FetchError::Handshake(why));
            }
            if finished < urls.len() {
                return Err(FetchError::Closed(why));
            }
            trace::event(Layer::Quic, || {
                format!("{id}: closed: {why}; {}", udp::stats(&conn))
            });
            break;
        }

        // 4. Once QUIC is up: HTTP/3's control streams, then every request at once.
        if http3.is_none() && conn.is_established() {
            let mut h = quiche::h3::Connection::with_transport(&mut conn, &h3_config)
                .map_err(|e| FetchError::Closed(format!("HTTP/3 set-up: {e}")))?;
            trace::event(Layer::H3, || {
                format!("{id}: HTTP/3 ready (control stream, QPACK streams, SETTINGS sent)")
            });
            for (index, url) in urls.iter().enumerate() {
                let fields = request_fields(url, opts);
                let body = opts.body.clone().unwrap_or_default();
                let fin = body.is_empty();
                let stream = h
                    .send_request(&mut conn, &fields, fin)
                    .map_err(|e| FetchError::Closed(format!("request {}: {e}", url.target)))?;
                trace::sent(Layer::H3, || {
                    format!(
                        "{id}: HEADERS stream={stream} {}{}",
                        h3::describe(&fields),
                        if fin { " (FIN)" } else { "" }
                    )
                });
                streams.insert(
                    stream,
                    Stream {
                        index,
                        status: 0,
                        fields: Vec::new(),
                        body: Vec::new(),
                        to_send: body,
                        done: None,
                    },
                );
            }
            http3 = Some(h);
        }

        if let Some(h) = http3.as_mut() {
            // 5. HTTP/3 events: a response's fields, its body, its end.
            loop {
                match h.poll(&mut conn) {
                    Ok((stream, quiche::h3::Event::Headers { list, .. })) => {
                        trace::received(Layer::H3, || {
                            format!("{id}: HEADERS stream={stream} {}", h3::describe(&list))
                        });
                        if let Some(s) = streams.get_mut(&stream) {
                            if s.status >= 200 {
                                // A trailer section after the response's fields (RFC 9114 §4.1).
                                s.fields.extend(list.iter().map(|f| {
                                    (
                                        crate::http::fields::latin1(f.name()),
                                        crate::http::fields::latin1(f.value()),
                                    )
                                }));
                                continue;
                            }
                            s.status = h3::field(&list, ":status")
                                .and_then(|v| std::str::from_utf8(v).ok())
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0);
                            s.fields = list
                                .iter()
                                .map(|f| {
                                    (
                                        crate::http::fields::latin1(f.name()),
                                        crate::http::fields::latin1(f.value()),
                                    )
                                })
                                .collect();
                        }
                    }
                    Ok((stream, quiche::h3::Event::Data)) => {
                        while let Ok(n) = h.recv_body(&mut conn, stream, &mut buf) {
                            if let Some(s) = streams.get_mut(&stream) {
                                s.body.extend_from_slice(&buf[..n]);
                                progress.add(n);
                                if let Some(each) = &opts.each {
                                    each.call(s.index, n);
                                }
                            }
                        }
                    }
                    Ok((stream, quiche::h3::Event::Finished)) => {
                        if let Some(s) = streams.get_mut(&stream) {
                            let at = started.elapsed();
                            s.done = Some(at);
                            finished += 1;
                            let (n, status) = (s.body.len(), s.status);
                            trace::received(Layer::H3, || {
                                format!(
                                    "{id}: stream {stream} finished: {status}, body {n} bytes, at {:.1} ms",
                                    at.as_secs_f64() * 1000.0
                                )
                            });
                        }
                    }
                    Ok((stream, quiche::h3::Event::Reset(code))) => {
                        return Err(FetchError::Closed(format!(
                            "stream {stream} reset by the server: {}",
                            codes::application(code)
                        )));
                    }
                    Ok((_, quiche::h3::Event::PriorityUpdate)) => {}
                    Ok((goaway, quiche::h3::Event::GoAway)) => {
                        trace::received(Layer::H3, || format!("{id}: GOAWAY id={goaway}"));
                    }
                    Err(quiche::h3::Error::Done) => break,
                    Err(e) => return Err(FetchError::Closed(format!("HTTP/3: {e}"))),
                }
            }
            // 6. Request bodies, as much as flow control lets through this turn.
            for (&stream, s) in streams.iter_mut() {
                while !s.to_send.is_empty() {
                    match h.send_body(&mut conn, stream, &s.to_send, true) {
                        Ok(n) => {
                            s.to_send.drain(..n);
                        }
                        Err(_) => break,
                    }
                }
            }
        }

        // 8. Every response complete: close with H3_NO_ERROR (RFC 9114 §5.2).
        if !closing && http3.is_some() && finished == urls.len() {
            progress.finish();
            for s in streams.values_mut() {
                if let Some(at) = s.done {
                    results[s.index] = Some(Fetched {
                        url: format!(
                            "https://{}{}",
                            urls[s.index].authority(),
                            urls[s.index].target
                        ),
                        status: s.status,
                        fields: std::mem::take(&mut s.fields),
                        body: std::mem::take(&mut s.body),
                        done_after: at,
                    });
                }
            }
            trace::sent(Layer::Quic, || {
                format!("{id}: CONNECTION_CLOSE H3_NO_ERROR: every response complete")
            });
            let _ = conn.close(true, codes::H3_NO_ERROR, b"done");
            closing = true;
        }
        // 7. Send every packet quiche has ready.
        bytes_sent += flush(&socket, &mut conn, peer, &id);
        if closing && (conn.is_closed() || conn.is_draining()) {
            trace::event(Layer::Quic, || format!("{id}: {}", udp::stats(&conn)));
            break;
        }
    }
    let stats = udp::stats(&conn);
    Ok(Outcome {
        responses: results.into_iter().flatten().collect(),
        handshake: handshake.unwrap_or_default(),
        retried,
        stats,
        bytes_sent,
        bytes_received,
    })
}

/// Step 7, counting the bytes that went out.
fn flush(socket: &UdpSocket, conn: &mut quiche::Connection, peer: SocketAddr, id: &str) -> u64 {
    let before = conn.stats().sent_bytes;
    // The server's connection IDs may have any length; the decoder shows long headers
    // whole, and short headers only with the length we expect our peer's IDs to have.
    let dcid_len = conn.destination_id().len();
    udp::flush(socket, conn, peer, dcid_len, id);
    conn.stats().sent_bytes.saturating_sub(before)
}

/// The request's fields: the four pseudo-fields first (RFC 9114 §4.3.1), then the rest.
fn request_fields(url: &Url, opts: &Options) -> Vec<quiche::h3::Header> {
    let mut fields = vec![
        quiche::h3::Header::new(b":method", opts.method.as_bytes()),
        quiche::h3::Header::new(b":scheme", b"https"),
        quiche::h3::Header::new(b":authority", url.authority().as_bytes()),
        quiche::h3::Header::new(b":path", url.target.as_bytes()),
        quiche::h3::Header::new(b"user-agent", b"netlab-h3"),
    ];
    for (n, v) in &opts.headers {
        fields.push(quiche::h3::Header::new(
            n.to_ascii_lowercase().as_bytes(),
            v.as_bytes(),
        ));
    }
    if let Some(b) = &opts.body {
        if !opts
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            fields.push(quiche::h3::Header::new(
                b"content-length",
                b.len().to_string().as_bytes(),
            ));
        }
    }
    fields
}

/// Why a connection closed, from either side's CONNECTION_CLOSE.
fn close_reason(conn: &quiche::Connection) -> String {
    if let Some(e) = conn.peer_error() {
        format!(
            "the server closed it: {}",
            codes::describe_close(e.is_app, e.error_code, &e.reason)
        )
    } else if let Some(e) = conn.local_error() {
        format!(
            "we closed it: {}",
            codes::describe_close(e.is_app, e.error_code, &e.reason)
        )
    } else if conn.is_timed_out() {
        "idle timeout: the server stopped answering".into()
    } else {
        "closed".into()
    }
}

/// Bytes and rate on one stderr line, redrawn at most ten times a second.
struct Progress {
    on: bool,
    bytes: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(on: bool) -> Progress {
        let now = Instant::now();
        Progress {
            on,
            bytes: 0,
            started: now,
            last: now,
        }
    }

    fn add(&mut self, n: usize) {
        self.bytes += n as u64;
        if self.on && self.bytes > 1 << 20 && self.last.elapsed() > Duration::from_millis(100) {
            self.last = Instant::now();
            self.draw();
        }
    }

    fn draw(&self) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-6);
        let mb = self.bytes as f64 / 1e6;
        let _ = write!(std::io::stderr(), "\r{mb:.1} MB, {:.1} MB/s   ", mb / secs);
    }

    fn finish(&mut self) {
        if self.on && self.bytes > 1 << 20 {
            self.draw();
            let _ = writeln!(std::io::stderr());
        }
        self.on = false;
    }
}

/// Where the client's socket binds: loopback for a loopback server, else any address.
fn bind_addr(peer: &SocketAddr) -> SocketAddr {
    if peer.ip().is_loopback() {
        crate::l4::background::loopback_for(peer)
    } else if peer.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    }
}
