//! An HTTP/3 client (RFC 9114) over QUIC: one connection, every URL a request stream of its
//! own, all in flight at once. The loop that drives quiche is the same shape as the server's,
//! with one blocking `std::net::UdpSocket`. Before the first turn, step 9 sends the client's
//! Initial; then each turn is one numbered step after another (`Fetch::run`):
//!
//! 1. wait for a datagram, at most until the connection's next timer (and take those
//!    already queued behind it);
//! 2. feed it to quiche;
//! 3. fire the timers that expired (this is what retransmits lost packets: a loop that
//!    skips it stalls on the first loss);
//! 4. see where the connection stands: the handshake just completed (noted once), or the
//!    connection closed (the loop ends: an error unless every response was complete); then
//!    its paths (`paths.rs`): spare connection IDs for the server, path events traced, and
//!    with `--rebind-after` the move to a new socket, once (connection migration);
//! 5. once the handshake is done (or, resuming with `--session`, as soon as quiche is in
//!    early data), open HTTP/3 and send the requests (as many at once as the server's
//!    stream limit allows, the rest on later turns);
//! 6. poll HTTP/3 events: response fields, body data, the end of a stream; after the
//!    handshake, send again each request the server answered `425 Too Early` (RFC 8470 §5.2);
//! 7. send request bodies as flow control allows;
//! 8. when every response is complete, close the connection with H3_NO_ERROR (the loop
//!    ends after this turn's step 9);
//! 9. send every packet quiche has ready (several in one system call: GSO, `udp.rs`).
//!
//! A client resuming a session does not wait for the server before step 5: the requests go
//! out in 0-RTT packets right behind its Initial (`Fetch::run`, before the loop).
//!
//! Steps 1–3 and 9 are the ones that touch the socket: they are a [`Wire`] (in
//! `client/wire.rs`). [`fetch`] uses netlab's own (`Traced`: every datagram traced, a Retry
//! noticed, bytes counted);
//! [`fetch_with`] takes another, which is how lab 09 (`labs/09-quic-loop`) runs a student's
//! `receive` and `send` inside this very loop.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quiche::h3::NameValue;

use super::codes;
use super::config::{self, SetupError, Transport};
use super::early;
use super::h3;
use super::keylog::{self, Keys};
use super::packet;
use super::paths::{self, Ids, Watch};
use super::udp;
use crate::http::uri::Url;
use crate::trace::{self, Layer};

mod error;
mod leaving;
mod session;
mod wire;
pub use error::{Closure, FetchError};
use wire::Traced;
pub use wire::Wire;

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
    /// `--session FILE`: resume the session stored there (sending the requests in 0-RTT),
    /// and store the new one there after the handshake.
    pub session: Option<PathBuf>,
    /// `--rebind-after MS`: this long after the start, move the connection to a new local
    /// socket (connection migration, RFC 9000 §9), as a NAT rebinding or a new network would.
    pub rebind_after: Option<Duration>,
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
            session: None,
            rebind_after: None,
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
    /// This request went first in 0-RTT, the server answered 425 Too Early, and this is the
    /// answer to the same request sent again after the handshake.
    pub too_early: bool,
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
    /// The server answered the first Initial with a Retry (as far as the [`Wire`] saw).
    pub retried: bool,
    /// quiche's counters: packets, losses, RTT, congestion window.
    pub stats: String,
    /// Bytes of UDP payload sent and received (netlab's own [`Wire`] counts every datagram
    /// at the socket; another one is credited with what quiche counted).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// The server accepted the stored session's ticket (an abbreviated handshake).
    pub resumed: bool,
    /// None: no 0-RTT attempted (no usable session); Some(accepted?) otherwise.
    pub early_data: Option<bool>,
    /// The connection moved to a new local address and went on there (`--rebind-after`).
    pub migrated: bool,
}

/// A request stream in flight.
struct Stream {
    index: usize,
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
    /// Request body bytes still to send.
    to_send: Vec<u8>,
    done: Option<Duration>,
    /// Sent in 0-RTT: a 425 answer means "again, after the handshake".
    early: bool,
    /// Sent again after a 425 to its 0-RTT attempt.
    again: bool,
}

/// Fetches every URL over one HTTP/3 connection, with netlab's own steps 1–3 and 9.
pub fn fetch(urls: &[Url], opts: &Options) -> Result<Outcome, FetchError> {
    let _role = trace::default_role("client");
    let mut f = Fetch::connect(urls, opts)?;
    let deadline = f.started + opts.timeout;
    let mut wire = Traced::new(&f.id, f.local, f.peer, deadline, f.keys.clone());
    let ran = f.run(&mut wire);
    f.store_session();
    ran?;
    Ok(f.outcome(wire.received(), wire.retried()))
}

/// [`fetch`], with steps 1–3 and 9 done by `wire` (lab 09's `receive` and `send`).
pub fn fetch_with(
    urls: &[Url],
    opts: &Options,
    wire: &mut dyn Wire,
) -> Result<Outcome, FetchError> {
    let _role = trace::default_role("client");
    let mut f = Fetch::connect(urls, opts)?;
    let ran = f.run(wire);
    f.store_session();
    ran?;
    let received = f.conn.stats().recv_bytes;
    Ok(f.outcome(received, wire.retried()))
}

/// Everything one fetch's loop owns.
struct Fetch<'a> {
    urls: &'a [Url],
    opts: &'a Options,
    socket: UdpSocket,
    local: SocketAddr,
    peer: SocketAddr,
    conn: quiche::Connection,
    /// The first bytes of our connection ID: what the trace calls this connection.
    id: String,
    h3_config: quiche::h3::Config,
    http3: Option<quiche::h3::Connection>,
    streams: HashMap<u64, Stream>,
    /// Requests sent so far (the URLs in order; step 5).
    requested: usize,
    finished: usize,
    started: Instant,
    handshake: Option<Duration>,
    /// Step 8 has sent CONNECTION_CLOSE.
    closing: bool,
    /// Step 9 has run since the handshake completed (our Finished is out).
    finished_sent: bool,
    /// A stored session was given to quiche (0-RTT attempted).
    offered: bool,
    /// URLs (by index) answered 425 from 0-RTT, to send again after the handshake.
    too_early: Vec<usize>,
    /// Spare connection IDs for the server, and our paths as the trace showed them.
    ids: Ids,
    paths: Watch,
    /// The key log, kept for the trace's key phases (`keylog.rs`).
    keys: Keys,
    /// Step 4 has moved the connection to a new socket (`--rebind-after`).
    rebound: bool,
    /// The socket it left, read until what was in flight to it has arrived.
    leaving: Option<leaving::Leaving>,
    /// The trace said once that the move waits for a spare connection ID.
    rebind_waits: bool,
    progress: Progress,
    buf: Vec<u8>,
}

impl<'a> Fetch<'a> {
    /// Before the loop: one origin, its address, a socket, and quiche's connection.
    fn connect(urls: &'a [Url], opts: &'a Options) -> Result<Fetch<'a>, FetchError> {
        let first = one_origin(urls)?;
        let peer = resolve(&first.host, first.port)?;
        // "Literal IPv4 and IPv6 addresses are not permitted in HostName" (RFC 6066 §3): a
        // server named by its address gets no SNI, and its certificate is checked for it.
        let ip = first.host.parse::<IpAddr>().ok();
        let sni = if ip.is_some() {
            None
        } else {
            Some(first.host.as_str())
        };
        let mut quic = config::client(opts.cacert.as_deref(), opts.insecure, ip, &opts.transport)
            .map_err(FetchError::Setup)?;
        if opts.session.is_some() {
            // Lets the client send stream data before the handshake completes (0-RTT).
            quic.enable_early_data();
        }
        let h3_config =
            quiche::h3::Config::new().map_err(|e| FetchError::Setup(SetupError::Http3(e)))?;
        let socket = UdpSocket::bind(bind_addr(&peer)).map_err(FetchError::Socket)?;
        // A download arrives in bursts (a server's GSO batch is up to 48 datagrams): the
        // default buffer (208 KiB) overflows whenever this process waits its turn for a CPU,
        // and each datagram lost there costs a congestion-window cut.
        receive_buffer(&socket);
        let local = socket.local_addr().map_err(FetchError::Socket)?;
        trace::event(Layer::L4, || {
            format!("bind {local} (UDP) → talking to {peer}")
        });

        // Our source connection ID: random, as RFC 9000 §7.2 wants the first DCID too.
        let mut scid = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut scid)
            .map_err(|_| FetchError::NoRandom)?;
        let scid = quiche::ConnectionId::from_ref(&scid);
        let id = packet::hex(&scid[..4]);
        let stored = opts.session.as_deref().and_then(|p| session::load(p, &id));
        let new = |quic: &mut quiche::Config| {
            quiche::connect(sni, &scid, local, peer, quic)
                .map_err(|e| FetchError::Setup(SetupError::Quic(e)))
        };
        let mut conn = new(&mut quic)?;
        let tried = stored.is_some();
        let offered = stored
            .zip(opts.session.as_deref())
            .is_some_and(|(bytes, path)| offer(&mut conn, &bytes, path, &id));
        if tried && !offered {
            // quiche may have taken half of the session: start again from a clean connection.
            conn = new(&mut quic)?;
        }
        let ids = Ids::new(scid.len()).map_err(|_| FetchError::NoRandom)?;
        let keys = keylog::capture(&mut conn);
        if let Some(dir) = &opts.transport.qlog_dir {
            if let Some(path) = config::qlog(&mut conn, dir, "client", &packet::hex(&scid)) {
                trace::event(Layer::Quic, || format!("{id}: qlog → {}", path.display()));
            }
        }
        trace::event(Layer::Quic, || {
            format!(
                "{id}: connecting to {peer} ({}, {}), our scid={}",
                match sni {
                    Some(name) => format!("SNI {name}"),
                    None => format!("no SNI: the certificate must name {}", first.host),
                },
                if opts.insecure {
                    "server NOT verified: --insecure"
                } else {
                    "verifying the server's certificate"
                },
                packet::cid(&scid)
            )
        });
        Ok(Fetch {
            urls,
            opts,
            socket,
            local,
            peer,
            conn,
            id,
            h3_config,
            http3: None,
            streams: HashMap::new(),
            requested: 0,
            finished: 0,
            started: Instant::now(),
            handshake: None,
            closing: false,
            finished_sent: false,
            offered,
            too_early: Vec::new(),
            ids,
            paths: Watch::default(),
            keys,
            rebound: false,
            leaving: None,
            rebind_waits: false,
            progress: Progress::new(opts.progress && std::io::stderr().is_terminal()),
            buf: vec![0u8; 65535],
        })
    }

    /// The loop: the steps of the module doc, in order, turn after turn.
    fn run(&mut self, wire: &mut dyn Wire) -> Result<(), FetchError> {
        // Step 9 before the first wait: the client speaks first (its Initial).
        wire.send(&mut self.conn, &self.socket, self.peer)
            .map_err(FetchError::Send)?;
        // Resuming: quiche is in early data as soon as the ClientHello is out, so steps 5,
        // 7 and 9 run once more, without waiting: the requests follow in 0-RTT packets.
        if self.conn.is_in_early_data() {
            self.open_http3()?;
            self.request_bodies()?;
            wire.send(&mut self.conn, &self.socket, self.peer)
                .map_err(FetchError::Send)?;
        }
        loop {
            self.within_time()?;
            // 1.–3. Wait for a datagram, feed it to quiche, fire the timers.
            wire.receive(&mut self.conn, &self.socket, &mut self.buf)
                .map_err(FetchError::Receive)?;
            // 4. The handshake's end (once), or the connection's.
            if self.closed(wire.retried())? {
                return Ok(());
            }
            self.paths(wire)?;
            // 5. Once QUIC is up (or in 0-RTT): HTTP/3, then the requests the stream limit
            //    allows.
            self.open_http3()?;
            // 6. HTTP/3 events: a response's fields, its body, its end; after the handshake,
            //    the requests answered 425 Too Early go again (now, not in a later turn:
            //    nothing else may come to wake this loop).
            self.responses()?;
            self.send_again()?;
            // 7. Request bodies, as much as flow control lets through this turn.
            self.request_bodies()?;
            // 8. Every response complete: CONNECTION_CLOSE.
            self.close_when_complete();
            // 9. Send every packet quiche has ready.
            wire.send(&mut self.conn, &self.socket, self.peer)
                .map_err(FetchError::Send)?;
            self.finished_sent |= self.conn.is_established();
            if self.closing {
                self.closed_by_us();
                return Ok(());
            }
        }
    }

    /// After step 9 of the turn that closed: every response is complete, so the loop ends.
    /// quiche 0.30 sends an application close only in 1-RTT packets; before the handshake is
    /// confirmed (HANDSHAKE_DONE lost) it has none to send, and the server is left to its
    /// idle timeout, which the trace says.
    fn closed_by_us(&self) {
        let (id, conn) = (&self.id, &self.conn);
        if !(conn.is_closed() || conn.is_draining()) {
            trace::event(Layer::Quic, || {
                format!(
                    "{id}: CONNECTION_CLOSE not sent: the handshake is not confirmed yet and quiche sends an application close only in 1-RTT packets; the server will time out"
                )
            });
        }
        trace::event(Layer::Quic, || format!("{id}: {}", udp::stats(conn)));
    }

    /// Before each turn: the whole exchange has `opts.timeout`, handshake included.
    fn within_time(&self) -> Result<(), FetchError> {
        if self.started.elapsed() <= self.opts.timeout {
            return Ok(());
        }
        let step = if self.handshake.is_none() {
            "handshake"
        } else {
            "responses"
        };
        Err(FetchError::Timeout {
            waited: self.opts.timeout,
            step,
        })
    }

    /// Step 4: note the handshake's completion once; `true` when the connection has closed
    /// after every response arrived, an error when it closed before.
    fn closed(&mut self, retried: bool) -> Result<bool, FetchError> {
        let id = &self.id;
        if self.handshake.is_none() && self.conn.is_established() {
            let took = self.started.elapsed();
            self.handshake = Some(took);
            let alpn = String::from_utf8_lossy(self.conn.application_proto());
            let resumed = if self.conn.is_resumed() {
                ", resumed"
            } else if self.offered {
                ", not resumed (the server refused the ticket: full handshake)"
            } else {
                ""
            };
            let early = if self.offered {
                format!(", {}", early::reason(self.conn.early_data_reason(), false))
            } else {
                String::new()
            };
            trace::event(Layer::Quic, || {
                format!(
                    "{id}: handshake complete after {:.1} ms{}, ALPN {alpn}{resumed}{early}",
                    took.as_secs_f64() * 1000.0,
                    if retried { " (with a Retry)" } else { "" },
                )
            });
        }
        if !self.conn.is_closed() {
            return Ok(false);
        }
        let why = Closure::of(&self.conn);
        if self.handshake.is_none() {
            return Err(FetchError::Handshake(why));
        }
        if self.finished < self.urls.len() {
            return Err(FetchError::Closed(why));
        }
        let conn = &self.conn;
        trace::event(Layer::Quic, || {
            format!("{id}: closed: {why}; {}", udp::stats(conn))
        });
        Ok(true)
    }

    /// Step 4, the paths: spare connection IDs for the server (a new path needs one of ours
    /// and one of theirs), the path events traced, and with `--rebind-after` the move.
    fn paths(&mut self, wire: &mut dyn Wire) -> Result<(), FetchError> {
        self.ids.issue(&mut self.conn, &self.id);
        paths::retired(&mut self.conn, &self.id);
        self.paths.events(&mut self.conn, &self.id);
        if let Some(old) = self.leaving.as_mut() {
            if old.drain(&mut self.conn, &mut self.buf, &self.id, self.local) {
                self.leaving = None;
            }
        }
        self.rebind(wire)
    }

    /// Step 4, `--rebind-after`: once its time has come, a new local socket, and the
    /// connection moved onto it with a fresh connection ID of the server's (so an observer
    /// cannot link the two paths, RFC 9000 §9.5); quiche validates the new path. The old
    /// socket is read until what the server had in flight to it has arrived, then closed
    /// (`client/leaving.rs`).
    fn rebind(&mut self, wire: &mut dyn Wire) -> Result<(), FetchError> {
        let Some(after) = self.opts.rebind_after else {
            return Ok(());
        };
        if self.rebound || !self.conn.is_established() || self.started.elapsed() < after {
            return Ok(());
        }
        let id = &self.id;
        if self.conn.available_dcids() == 0 {
            if !self.rebind_waits {
                self.rebind_waits = true;
                trace::event(Layer::Quic, || {
                    format!("{id}: the move waits for a spare connection ID from the server")
                });
            }
            return Ok(());
        }
        let socket = UdpSocket::bind(bind_addr(&self.peer)).map_err(FetchError::Socket)?;
        receive_buffer(&socket);
        let local = socket.local_addr().map_err(FetchError::Socket)?;
        wire.rebind(local).map_err(FetchError::Rebind)?;
        // The new path is probed (PATH_CHALLENGE from us too), then made the active one.
        let peer = self.peer;
        let seq = self
            .conn
            .probe_path(local, peer)
            .and_then(|_| self.conn.migrate_source(local))
            .map_err(|error| FetchError::Migrate { local, error })?;
        let (old, dcid) = (self.local, packet::cid(&self.conn.destination_id()));
        trace::event(Layer::L4, || {
            format!(
                "bind {local} (UDP): the connection moves; {old} is read until the new path is validated"
            )
        });
        trace::event(Layer::Quic, || {
            format!(
                "{id}: migrating to {local} after {} ms: the server's connection ID seq={seq} dcid={dcid}; PATH_CHALLENGE to validate the new path",
                self.started.elapsed().as_millis()
            )
        });
        let left = std::mem::replace(&mut self.socket, socket);
        self.leaving = Some(leaving::Leaving::new(left, old));
        self.local = local;
        self.rebound = true;
        Ok(())
    }

    /// Step 5: HTTP/3's control streams, then every request, once the handshake is done or
    /// quiche is in early data (a resumed session: the requests go in 0-RTT packets).
    fn open_http3(&mut self) -> Result<(), FetchError> {
        let up = self.conn.is_established() || self.conn.is_in_early_data();
        if self.http3.is_some() || !up {
            return self.send_requests();
        }
        let h = quiche::h3::Connection::with_transport(&mut self.conn, &self.h3_config)
            .map_err(FetchError::Http3Setup)?;
        let id = &self.id;
        let early = !self.conn.is_established();
        trace::event(Layer::H3, || {
            format!(
                "{id}: HTTP/3 ready (control stream, QPACK streams, SETTINGS sent){}",
                if early {
                    ": in 0-RTT, before the handshake completes"
                } else {
                    ""
                }
            )
        });
        self.http3 = Some(h);
        self.send_requests()
    }

    /// Step 5, each turn: every request not sent yet, as far as the server's stream limit
    /// lets it (initial_max_streams_bidi, raised by MAX_STREAMS: RFC 9000 §4.6); the rest
    /// wait for a later turn, when responses have ended and the limit has grown.
    fn send_requests(&mut self) -> Result<(), FetchError> {
        let Some(mut h) = self.http3.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        while result.is_ok()
            && self.requested < self.urls.len()
            && self.conn.peer_streams_left_bidi() > 0
        {
            result = self.request(&mut h, self.requested, false);
            self.requested += 1;
        }
        self.http3 = Some(h);
        result
    }

    /// Step 5 for one URL: its request on a new stream (in 0-RTT if not established yet).
    fn request(
        &mut self,
        h: &mut quiche::h3::Connection,
        index: usize,
        again: bool,
    ) -> Result<(), FetchError> {
        let url = &self.urls[index];
        let fields = request_fields(url, self.opts);
        let body = self.opts.body.clone().unwrap_or_default();
        let fin = body.is_empty();
        let stream = h
            .send_request(&mut self.conn, &fields, fin)
            .map_err(|error| FetchError::Request {
                target: url.target.clone(),
                error,
            })?;
        let (id, early) = (&self.id, !self.conn.is_established());
        trace::sent(Layer::H3, || {
            format!(
                "{id}: HEADERS stream={stream} {}{}{}",
                h3::describe(&fields),
                if fin { " (FIN)" } else { "" },
                if early { " in 0-RTT" } else { "" }
            )
        });
        let s = Stream {
            index,
            status: 0,
            fields: Vec::new(),
            body: Vec::new(),
            to_send: body,
            done: None,
            early,
            again,
        };
        self.streams.insert(stream, s);
        Ok(())
    }

    /// Step 6, after the handshake: each request answered 425 Too Early, once more (RFC
    /// 8470 §5.2); now it cannot be a replay, and the server handles it.
    fn send_again(&mut self) -> Result<(), FetchError> {
        if self.too_early.is_empty() || !self.conn.is_established() {
            return Ok(());
        }
        let Some(mut h) = self.http3.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        for index in std::mem::take(&mut self.too_early) {
            let target = &self.urls[index].target;
            let id = &self.id;
            trace::event(Layer::H3, || {
                format!(
                    "{id}: {target}: 425 Too Early from 0-RTT: sent again after the handshake (RFC 8470 §5.2)"
                )
            });
            result = result.and(self.request(&mut h, index, true));
        }
        self.http3 = Some(h);
        result
    }

    /// Step 6: every HTTP/3 event quiche has, until `Done`.
    fn responses(&mut self) -> Result<(), FetchError> {
        let Some(mut h) = self.http3.take() else {
            return Ok(());
        };
        let result = loop {
            match h.poll(&mut self.conn) {
                Ok((stream, event)) => {
                    if let Err(e) = self.event(&mut h, stream, event) {
                        break Err(e);
                    }
                }
                Err(quiche::h3::Error::Done) => break Ok(()),
                Err(e) => break Err(FetchError::Http3(e)),
            }
        };
        self.http3 = Some(h);
        result
    }

    /// Step 6 for one event.
    fn event(
        &mut self,
        h: &mut quiche::h3::Connection,
        stream: u64,
        event: quiche::h3::Event,
    ) -> Result<(), FetchError> {
        let id = &self.id;
        match event {
            quiche::h3::Event::Headers { list, .. } => self.fields(stream, &list),
            quiche::h3::Event::Data => self.data(h, stream),
            quiche::h3::Event::Finished => self.finish(stream),
            quiche::h3::Event::Reset(code) => return Err(FetchError::Reset { stream, code }),
            quiche::h3::Event::PriorityUpdate => {}
            quiche::h3::Event::GoAway => {
                trace::received(Layer::H3, || format!("{id}: GOAWAY id={stream}"));
            }
        }
        Ok(())
    }

    /// A response's fields, or after them its trailer section (RFC 9114 §4.1).
    fn fields(&mut self, stream: u64, list: &[quiche::h3::Header]) {
        let id = &self.id;
        trace::received(Layer::H3, || {
            format!("{id}: HEADERS stream={stream} {}", h3::describe(list))
        });
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        if s.status >= 200 {
            s.fields.extend(as_text(list));
            return;
        }
        // A 1xx response is replaced by the final one that follows it.
        s.status = h3::field(list, ":status")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        s.fields = as_text(list);
    }

    /// Body bytes of a response, as many as quiche has.
    fn data(&mut self, h: &mut quiche::h3::Connection, stream: u64) {
        while let Ok(n) = h.recv_body(&mut self.conn, stream, &mut self.buf) {
            let Some(s) = self.streams.get_mut(&stream) else {
                continue;
            };
            s.body.extend_from_slice(&self.buf[..n]);
            self.progress.add(n);
            if let Some(each) = &self.opts.each {
                each.call(s.index, n);
            }
        }
    }

    /// The end of a response stream. A 425 to a request sent in 0-RTT is not the answer:
    /// the request goes again after the handshake (`send_again`), on a new stream.
    fn finish(&mut self, stream: u64) {
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        if s.early && s.status == 425 {
            let index = s.index;
            self.streams.remove(&stream);
            self.too_early.push(index);
            let id = &self.id;
            trace::received(Layer::H3, || {
                format!(
                    "{id}: stream {stream} finished: 425 Too Early (the server will not act on early data)"
                )
            });
            return;
        }
        let at = self.started.elapsed();
        s.done = Some(at);
        self.finished += 1;
        let (id, n, status) = (&self.id, s.body.len(), s.status);
        trace::received(Layer::H3, || {
            format!(
                "{id}: stream {stream} finished: {status}, body {n} bytes, at {:.1} ms",
                at.as_secs_f64() * 1000.0
            )
        });
    }

    /// Step 7: request bodies, as far as flow control allows now; the rest in later turns.
    fn request_bodies(&mut self) -> Result<(), FetchError> {
        let Some(h) = self.http3.as_mut() else {
            return Ok(());
        };
        for (&stream, s) in self.streams.iter_mut() {
            send_body(h, &mut self.conn, stream, &mut s.to_send, &self.id)?;
        }
        Ok(())
    }

    /// Step 8: every response complete: close with H3_NO_ERROR (RFC 9114 §5.2), once.
    fn close_when_complete(&mut self) {
        if self.closing || self.http3.is_none() || self.finished < self.urls.len() {
            return;
        }
        // Answered from 0-RTT, the responses can be complete in the very turn the handshake
        // completes: step 9 must first send our Finished, or the server never completes
        // its side (quiche, closing, sends nothing more) and waits for its idle timeout.
        if !self.finished_sent {
            return;
        }
        self.progress.finish();
        let id = &self.id;
        trace::sent(Layer::Quic, || {
            format!("{id}: CONNECTION_CLOSE H3_NO_ERROR: every response complete")
        });
        let _ = self.conn.close(true, codes::H3_NO_ERROR, b"done");
        self.closing = true;
    }

    /// After the loop (whatever its result): the session quiche holds now, to `--session`.
    fn store_session(&self) {
        let Some(path) = self.opts.session.as_deref() else {
            return;
        };
        match self.conn.session() {
            Some(bytes) => session::store(path, bytes, &self.id),
            None => no_session(path, &self.id),
        }
    }

    /// After the loop: the responses in the order of their URLs, and the counters.
    fn outcome(mut self, bytes_received: u64, retried: bool) -> Outcome {
        let mut responses: Vec<(usize, Fetched)> = Vec::new();
        for s in self.streams.values_mut() {
            let Some(at) = s.done else {
                continue;
            };
            let url = &self.urls[s.index];
            let fetched = Fetched {
                url: format!("https://{}{}", url.authority(), url.target),
                status: s.status,
                fields: std::mem::take(&mut s.fields),
                body: std::mem::take(&mut s.body),
                done_after: at,
                too_early: s.again,
            };
            responses.push((s.index, fetched));
        }
        responses.sort_by_key(|(index, _)| *index);
        Outcome {
            responses: responses.into_iter().map(|(_, r)| r).collect(),
            handshake: self.handshake.unwrap_or_default(),
            retried,
            stats: udp::stats(&self.conn),
            bytes_sent: self.conn.stats().sent_bytes,
            bytes_received,
            resumed: self.conn.is_resumed(),
            early_data: self
                .offered
                .then(|| self.conn.early_data_reason() == early::ACCEPTED),
            migrated: self.rebound,
        }
    }
}

/// Gives a stored session to quiche before the first packet; `false` (traced) when the
/// bytes are not a session quiche can read.
fn offer(conn: &mut quiche::Connection, bytes: &[u8], path: &Path, id: &str) -> bool {
    let shown = path.display();
    match conn.set_session(bytes) {
        Ok(()) => {
            trace::event(Layer::Quic, || {
                format!(
                    "{id}: offering the session from {shown} ({} bytes): resumption, requests in 0-RTT",
                    bytes.len()
                )
            });
            true
        }
        Err(e) => {
            trace::event(Layer::Quic, || {
                format!("{id}: session file {shown} is not a session ({e}): full handshake")
            });
            false
        }
    }
}

/// The server sent no ticket (yet): the file keeps what it had.
fn no_session(path: &Path, id: &str) {
    trace::event(Layer::Quic, || {
        format!(
            "{id}: no session ticket from the server: {} left as it was",
            path.display()
        )
    });
}

/// Step 7 for one stream: as much of `to_send` as quiche takes now.
fn send_body(
    h: &mut quiche::h3::Connection,
    conn: &mut quiche::Connection,
    stream: u64,
    to_send: &mut Vec<u8>,
    id: &str,
) -> Result<(), FetchError> {
    while !to_send.is_empty() {
        match h.send_body(conn, stream, to_send, true) {
            Ok(n) => {
                to_send.drain(..n);
            }
            // No credit now: a later turn goes on.
            Err(quiche::h3::Error::Done) => return Ok(()),
            // The server does not want the rest (STOP_SENDING, RFC 9000 §3.5): its response
            // says why (413, for one), so the rest is dropped, and that is no failure.
            Err(quiche::h3::Error::TransportError(quiche::Error::StreamStopped(code))) => {
                stopped(id, stream, code, to_send.len());
                to_send.clear();
            }
            Err(error) => return Err(FetchError::RequestBody { stream, error }),
        }
    }
    Ok(())
}

/// The trace of a request body the server stopped (STOP_SENDING) with `left` bytes unsent.
fn stopped(id: &str, stream: u64, code: u64, left: usize) {
    trace::received(Layer::H3, || {
        format!(
            "{id}: stream {stream}: the server stopped the request body ({}); {left} bytes not sent",
            codes::application(code)
        )
    });
}

/// The first URL, when every URL is https:// and of its origin (one connection, one origin).
fn one_origin(urls: &[Url]) -> Result<&Url, FetchError> {
    let first = urls.first().ok_or(FetchError::NoUrl)?;
    for u in urls {
        if u.scheme.name() != "https" {
            return Err(FetchError::NotHttps {
                authority: u.authority(),
            });
        }
        if u.host != first.host || u.port != first.port {
            return Err(FetchError::TwoOrigins {
                first: first.authority(),
                other: u.authority(),
            });
        }
    }
    Ok(first)
}

/// The server's first address.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, FetchError> {
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|error| FetchError::Resolve {
            host: host.to_string(),
            error,
        })?;
    addrs.next().ok_or_else(|| FetchError::NoAddress {
        host: host.to_string(),
    })
}

/// A field section as text (latin-1: every byte a character, nothing lost).
fn as_text(list: &[quiche::h3::Header]) -> Vec<(String, String)> {
    list.iter()
        .map(|f| {
            (
                crate::http::fields::latin1(f.name()),
                crate::http::fields::latin1(f.value()),
            )
        })
        .collect()
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

/// The client's socket gets the receive buffer the server's has (`l4::sockopt`).
fn receive_buffer(socket: &UdpSocket) {
    crate::l4::sockopt::receive_buffer(socket, crate::l4::sockopt::RECEIVE_BUFFER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_every_byte_as_one_character() {
        let list = [quiche::h3::Header::new(b"x-name", b"caf\xe9")];
        assert_eq!(
            as_text(&list),
            vec![("x-name".to_string(), "caf\u{e9}".to_string())]
        );
    }
}
