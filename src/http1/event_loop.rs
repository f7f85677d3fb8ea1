//! The same HTTP/1.1 server in a second shape: a few `poll(2)` loops, each serving many
//! connections from one thread, the way nginx does (`netlab http serve --loops N`).
//!
//! [`super::server`] gives every connection a thread and a straight line of blocking code;
//! that is the one to read first. Its cost shows under load: every request wakes its own
//! thread, and a two-core machine then spends much of its time switching between 32 threads
//! (`perf stat` counts about 1.5 context switches per request, nginx 0.15). Here one thread
//! waits for *all* its connections at once and serves every one that is ready before it
//! waits again, so one wake-up serves many requests. The price is the shape of the code:
//! a connection's progress can no longer live in a function's local variables and its
//! place in the code, so it lives in `Conn` (what has arrived, which step it is at, what
//! is still to be sent), and every step must stop, not block, when bytes are missing.
//!
//! Each turn of a loop, in order:
//! 1. `poll` the listener and every connection: readable, or writable while a response is
//!    still being sent; wait at most until the nearest deadline.
//! 2. Accept one new connection if one is waiting (the other loops take the next ones).
//! 3. For each ready connection: send what is pending, or read what has arrived.
//! 4. Advance it as far as its bytes allow: head → body → handler → response, the same
//!    steps and functions as the threaded server, and again for a pipelined request.
//! 5. Enforce the deadlines (keep-alive idle, head, body: 408 or a close) and forget closed
//!    connections.
//!
//! What is the same: the parser, the decisions (framing, checks, Expect, keep-alive), the
//! handler, the response bytes, the trace lines (the keep-alive one comes once the response
//! is queued rather than all sent). What differs: plain TCP only (TLS stays
//! with the threaded server), and a handler runs on the loop's thread, so a slow handler
//! holds up the other connections of its loop (nginx hands such work to upstreams).

use super::chunked::ChunkedDecoder;
use super::framing::BodyLength;
use super::head::{self, RequestHead};
use super::parse::{self, Status};
use super::reader::{self, ReadError};
use super::server::{self, BeforeBody, Config};
use crate::http::handler::Handler;
use crate::http::message::Headers;
use crate::l4::share::{Permit, Shares};
use crate::trace::{self, Dir, Layer};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Where a connection is in its current request.
enum Step {
    /// Waiting for a request head; `since` is when its first byte came (None: idle).
    Head { since: Option<Instant> },
    /// The head is in; waiting for the rest of its body.
    Body(Box<Pending>),
}

/// A request whose head is in and whose body is still coming.
struct Pending {
    head: RequestHead,
    length: BodyLength,
    decoder: Option<ChunkedDecoder>,
    body: Vec<u8>,
    since: Instant,
}

/// One connection of a loop: everything the threaded server keeps on its stack.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Its place among the connections; given back when the connection is forgotten.
    _place: Permit,
    /// Received and not yet used (the start of the next message, when pipelined).
    buf: Vec<u8>,
    /// A response (or part of one) the socket has not taken yet.
    out: Vec<u8>,
    sent: usize,
    step: Step,
    /// When the last byte came or went: the keep-alive idle time counts from here.
    active: Instant,
    served: u32,
    /// Close once `out` is sent.
    close_after: bool,
    closed: bool,
}

/// Serves `handler` from `loops` threads, each a poll loop over its share of connections,
/// until `stop` is set. `config.max_conns` is the cap over all loops, with each source's
/// share of it (`config.per_source`); 503 beyond either.
pub fn serve(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: Config,
    loops: usize,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    // Nonblocking: every loop polls the listener, and the loops that lose the race for a
    // connection get WouldBlock instead of sleeping in accept.
    listener.set_nonblocking(true)?;
    let _role = trace::role("server");
    let config = Arc::new(config);
    let places = config.places();
    let role = trace::current_role();
    let mut threads = Vec::new();
    for n in 0..loops.max(1) {
        let (listener, handler, config) = (listener.try_clone()?, handler.clone(), config.clone());
        let (stop, places) = (stop.clone(), places.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("loop {n}"))
                .spawn(move || {
                    let _role = role.map(trace::role);
                    run(&listener, handler.as_ref(), &config, &stop, &places);
                })?,
        );
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// Serves on an already bound listener in background threads; stops them when dropped.
pub fn spawn(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: Config,
    loops: usize,
) -> io::Result<crate::l4::background::Background> {
    crate::l4::background::Background::tcp(listener, "http event loop", move |l, stop| {
        if let Err(e) = serve(l, handler, config, loops, stop) {
            trace::event(Layer::Http1, || format!("event loop: {e}"));
        }
    })
}

/// A loop wakes at least this often to see the stop flag.
const TICK: Duration = Duration::from_millis(200);

/// One poll loop: its share of the connections, and what it serves them with.
struct Loop<'a> {
    listener: &'a TcpListener,
    handler: &'a dyn Handler,
    config: &'a Config,
    stop: &'a AtomicBool,
    /// The connection places over all loops (the cap is `config.max_conns`).
    places: &'a Shares,
    conns: Vec<Conn>,
    /// Where each read lands before it joins a connection's buffer.
    scratch: Vec<u8>,
}

/// One loop's thread: the turns of the module doc until `stop` is set and its connections
/// are done.
fn run(
    listener: &TcpListener,
    handler: &dyn Handler,
    config: &Config,
    stop: &AtomicBool,
    places: &Shares,
) {
    let mut lp = Loop {
        listener,
        handler,
        config,
        stop,
        places,
        conns: Vec::new(),
        scratch: vec![0u8; 16 * 1024],
    };
    loop {
        // Stopping: accept no more, close the connections that wait for a request, and
        // let the others finish the request they are in (as the threaded server's
        // connection threads do); the loop ends when none is left.
        let stopping = stop.load(Ordering::SeqCst);
        if stopping && lp.wind_down() {
            return;
        }
        // 1. Wait for the listener and every connection, at most until the nearest deadline.
        let Some(ready) = lp.wait(stopping) else {
            continue;
        };
        // 2. One new connection per turn, so that the loops share a burst of them.
        if !stopping && !ready[0].is_empty() {
            lp.accept();
        }
        // 3–4. Every ready connection: send, or read and advance.
        lp.serve_ready(&ready[1..]);
        // 5. Deadlines, and forget closed connections.
        lp.expire();
        lp.forget_closed();
    }
}

impl Loop<'_> {
    /// While stopping: closes the connections that wait for a request; true once no
    /// connection is left.
    fn wind_down(&mut self) -> bool {
        for c in self.conns.iter_mut().filter(|c| is_idle(c)) {
            c.closed = true;
        }
        self.forget_closed();
        self.conns.is_empty()
    }

    /// Step 1: `poll` the listener (unless stopping) and every connection, for reading, or
    /// for writing while a response is pending. The flags that came back, the listener's
    /// first; `None` when poll was interrupted or failed (the turn starts again).
    fn wait(&self, stopping: bool) -> Option<Vec<PollFlags>> {
        let now = Instant::now();
        let wait = self
            .conns
            .iter()
            .map(|c| deadline(c, self.config).saturating_duration_since(now))
            .min()
            .unwrap_or(TICK)
            .min(TICK);
        let mut fds = Vec::with_capacity(self.conns.len() + 1);
        let listen = if stopping {
            PollFlags::empty()
        } else {
            PollFlags::POLLIN
        };
        fds.push(PollFd::new(self.listener.as_fd(), listen));
        for c in &self.conns {
            let want = if c.sent < c.out.len() {
                PollFlags::POLLOUT
            } else {
                PollFlags::POLLIN
            };
            fds.push(PollFd::new(c.stream.as_fd(), want));
        }
        // Rounded up: a deadline 0.3 ms away must not become poll(0) and a busy wait.
        let ms = u16::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) => Some(
                fds.iter()
                    .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                    .collect(),
            ),
            Err(nix::errno::Errno::EINTR) => None,
            Err(e) => {
                trace::event(Layer::L4, || format!("poll() failed: {e}; still serving"));
                std::thread::sleep(Duration::from_millis(10));
                None
            }
        }
    }

    /// Step 2: one new connection, if one is still waiting (another loop may have taken it).
    fn accept(&mut self) {
        accept_one(self.listener, self.stop, self.places, &mut self.conns);
    }

    /// Steps 3–4 for every connection that `poll` found ready (`ready` is in the order of
    /// `self.conns`).
    fn serve_ready(&mut self, ready: &[PollFlags]) {
        for (c, &revents) in self.conns.iter_mut().zip(ready) {
            if !revents.is_empty() {
                ready_connection(c, revents, self.handler, self.config, &mut self.scratch);
            }
        }
    }

    /// Step 5: a started message past its deadline gets 408, an idle connection closes.
    fn expire(&mut self) {
        let now = Instant::now();
        for c in self
            .conns
            .iter_mut()
            .filter(|c| !c.closed && deadline(c, self.config) <= now)
        {
            expire(c, self.config);
        }
    }

    /// Closes (FIN) the connections marked closed and forgets them.
    fn forget_closed(&mut self) {
        for c in self.conns.iter().filter(|c| c.closed) {
            close(c);
        }
        // Each forgotten connection gives its place back (its permit is dropped).
        self.conns.retain(|c| !c.closed);
    }
}

/// Steps 3–4 for one connection that `poll` found ready (`revents`): 3. send what is
/// pending, or read what has arrived, 4. advance it as far as its bytes allow. (The place
/// to stop in a debugger to watch one connection's turn: `make debug STEP=poll-loop`.)
fn ready_connection(
    c: &mut Conn,
    revents: PollFlags,
    handler: &dyn Handler,
    config: &Config,
    scratch: &mut [u8],
) {
    debug_assert!(!revents.is_empty(), "called for a ready connection only");
    if c.sent < c.out.len() {
        send(c);
        if c.sent < c.out.len() || c.closed {
            return;
        }
        if c.close_after {
            c.closed = true;
            return;
        }
    } else {
        receive(c, scratch);
        if c.closed {
            return;
        }
    }
    advance(c, handler, config);
}

/// Waiting for a request and owing nothing: what a stopping loop may close at once.
fn is_idle(c: &Conn) -> bool {
    c.sent == c.out.len() && matches!(c.step, Step::Head { since: None }) && c.buf.is_empty()
}

fn accept_one(listener: &TcpListener, stop: &AtomicBool, places: &Shares, conns: &mut Vec<Conn>) {
    let (stream, peer) = match listener.accept() {
        Ok(pair) => pair,
        // Another loop took it.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
        Err(e) => {
            trace::event(Layer::L4, || {
                format!("accept() failed: {e}; still listening")
            });
            // EMFILE and friends: the connection stays queued and the listener readable,
            // so wait a little instead of spinning (as the threaded accept loop does).
            std::thread::sleep(Duration::from_millis(10));
            return;
        }
    };
    // A stop request wakes the loops with a connection of its own; it is not served.
    if stop.load(Ordering::SeqCst) {
        return;
    }
    trace::event(Layer::L4, || {
        format!("accept() → new connection from {peer}, ESTABLISHED")
    });
    // A place (the cap, and this address's share of it), checked and taken at once, so
    // that two loops accepting at once cannot both take the last.
    let place = match places.try_take(peer.ip()) {
        Ok(place) => place,
        Err(why) => {
            trace::event(Layer::L4, || format!("{peer}: {why}; refusing this one"));
            server::overloaded(stream, peer, &why);
            return;
        }
    };
    trace::event(Layer::Http1, || {
        format!("accepted a connection from {peer}")
    });
    // No Nagle, as in the threaded server; nonblocking, so a read or write never waits.
    if stream.set_nodelay(true).is_err() || stream.set_nonblocking(true).is_err() {
        return;
    }
    conns.push(Conn {
        stream,
        peer,
        _place: place,
        buf: Vec::new(),
        out: Vec::new(),
        sent: 0,
        step: Step::Head { since: None },
        active: Instant::now(),
        served: 0,
        close_after: false,
        closed: false,
    });
}

/// The moment this connection's current wait ends.
fn deadline(c: &Conn, config: &Config) -> Instant {
    if c.sent < c.out.len() {
        // A response the client does not take: as the threaded server's write timeout.
        return c.active + config.body_timeout;
    }
    match &c.step {
        Step::Head { since: None } => c.active + config.idle_timeout,
        Step::Head { since: Some(t) } => *t + config.head_timeout,
        Step::Body(p) => p.since + config.body_timeout,
    }
}

/// A deadline passed: silence while idle closes quietly; a started message gets 408.
fn expire(c: &mut Conn, config: &Config) {
    let started = match c.step {
        Step::Head { since } => since.is_some(),
        Step::Body(_) => true,
    };
    if c.sent < c.out.len() || !started {
        if !started {
            let (peer, ms) = (c.peer, config.idle_timeout.as_millis());
            trace::event(Layer::Http1, || {
                format!("{peer}: idle for {ms} ms, closing")
            });
        }
        c.closed = true;
        return;
    }
    let method = match &c.step {
        Step::Body(p) => p.head.method.clone(),
        Step::Head { .. } => "GET".to_string(),
    };
    reject(c, &ReadError::Timeout { started: true }, &method);
    // The 408 gets one try; a client that does not read it is not waited for.
    c.closed = true;
}

/// Writes what the socket takes now.
fn send(c: &mut Conn) {
    while c.sent < c.out.len() {
        match c.stream.write(&c.out[c.sent..]) {
            Ok(0) => {
                c.closed = true;
                return;
            }
            Ok(n) => {
                c.sent += n;
                c.active = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                c.closed = true;
                return;
            }
        }
    }
    // Dropped, not cleared: a kept-alive connection must not hold on to the size of its
    // largest response.
    c.out = Vec::new();
    c.sent = 0;
}

/// Queues bytes to send, and sends what the socket takes at once.
fn queue(c: &mut Conn, bytes: Vec<u8>) {
    if c.out.is_empty() {
        c.out = bytes;
    } else {
        c.out.extend_from_slice(&bytes);
    }
    send(c);
}

/// Reads what has arrived. End of stream closes: quietly between requests, and in the
/// middle of one there is nobody left to answer either.
fn receive(c: &mut Conn, scratch: &mut [u8]) {
    match c.stream.read(scratch) {
        Ok(0) => c.closed = true,
        Ok(n) => {
            c.buf.extend_from_slice(&scratch[..n]);
            c.active = Instant::now();
            if let Step::Head {
                since: since @ None,
            } = &mut c.step
            {
                *since = Some(c.active);
            }
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) => {}
        Err(_) => c.closed = true,
    }
}

/// Queues the connection's last response: it closes once that is sent.
fn last(c: &mut Conn, bytes: Vec<u8>) {
    queue(c, bytes);
    c.close_after = true;
    if c.sent == c.out.len() {
        c.closed = true;
    }
}

/// Answers a broken request with its status and closes after it.
fn reject(c: &mut Conn, e: &ReadError, method: &str) {
    match server::failure(e) {
        Some(resp) => last(c, server::closing(method, resp)),
        None => c.closed = true,
    }
}

/// Ends a connection the way the threaded server does: `shutdown(SHUT_WR)` sends FIN after
/// the last response, then the socket is dropped. (As there, bytes the client sent that
/// were never read make Linux answer them with a reset: no lingering close.)
fn close(c: &Conn) {
    let peer = c.peer;
    trace::sent(Layer::L4, || {
        format!("shutdown(SHUT_WR) → FIN to {peer} (FIN-WAIT-1); the socket closes when dropped")
    });
    let _ = c.stream.shutdown(std::net::Shutdown::Write);
}

/// Takes the connection's request as far as its bytes allow, and again for every pipelined
/// request behind it; stops while a response is still being sent.
fn advance(c: &mut Conn, handler: &dyn Handler, config: &Config) {
    while !c.closed && !c.close_after && c.sent == c.out.len() {
        let more = match std::mem::replace(&mut c.step, Step::Head { since: None }) {
            Step::Head { since } => head_step(c, since, config),
            Step::Body(p) => body_step(c, p, handler, config),
        };
        if !more {
            return;
        }
    }
}

/// Steps 1–4 of a request, once its head is all there: the head, then framing, checks and
/// Expect, as the threaded server decides them. False when the connection can go no further
/// now (bytes missing, or a refusal queued).
fn head_step(c: &mut Conn, since: Option<Instant>, config: &Config) -> bool {
    if c.buf.is_empty() {
        c.step = Step::Head { since: None };
        return false;
    }
    // 1. The head, when it is all there.
    let (head, n) = match parse::parse_request(&c.buf, &config.limits) {
        Ok(Status::Complete(found)) => found,
        Ok(Status::Partial) => {
            c.step = Step::Head {
                since: since.or(Some(Instant::now())),
            };
            return false;
        }
        Err(e) => {
            reject(c, &ReadError::Parse(e), "GET");
            return false;
        }
    };
    head::trace(Dir::Received, &c.buf[..n], "request head");
    c.buf.drain(..n);
    c.served += 1;
    server::trace_head(c.peer, c.served, &head);
    // 2–4. Framing, checks, Expect.
    let length = match server::before_body(&head, config, !c.buf.is_empty()) {
        BeforeBody::Refuse(resp) => {
            let bytes = server::closing(&head.method, resp);
            last(c, bytes);
            return false;
        }
        BeforeBody::Read(length) => length,
        BeforeBody::Continue(length) => {
            queue(c, server::interim_continue());
            length
        }
    };
    let decoder = match length {
        BodyLength::Chunked => Some(if trace::is_on(Layer::Http1) {
            ChunkedDecoder::default().keeping_sizes()
        } else {
            ChunkedDecoder::default()
        }),
        _ => None,
    };
    c.step = Step::Body(Box::new(Pending {
        head,
        length,
        decoder,
        body: Vec::new(),
        since: Instant::now(),
    }));
    true
}

/// Steps 5–7 of a request: its body, once all there, then the handler and the response.
/// False when the body is not all there yet or broke a rule.
fn body_step(c: &mut Conn, mut p: Box<Pending>, handler: &dyn Handler, config: &Config) -> bool {
    // 5. The body, when it is all there.
    let done = match take_body(c, &mut p, config.max_body) {
        Ok(done) => done,
        Err(e) => {
            reject(c, &e, &p.head.method);
            return false;
        }
    };
    if !done {
        c.step = Step::Body(p);
        return false;
    }
    let Pending {
        head,
        decoder,
        body,
        ..
    } = *p;
    let trailers = decoder
        .map(|d| d.trailers().clone())
        .unwrap_or_else(Headers::new);
    // 6–7. The handler and the response.
    let (out, decision) = server::answer(handler, c.peer, head, body, trailers);
    if decision.keep {
        queue(c, out);
    } else {
        last(c, out);
    }
    if !c.closed || !decision.keep {
        server::trace_after(c.peer, c.served, &decision);
    }
    true
}

/// Moves the body's bytes out of `c.buf` as far as they have come; `Ok(true)` once the
/// whole body is in `body`.
fn take_body(c: &mut Conn, p: &mut Pending, max: usize) -> Result<bool, ReadError> {
    let body = &mut p.body;
    match (p.length, &mut p.decoder) {
        (BodyLength::Fixed(n), _) => {
            if n > max as u64 {
                return Err(ReadError::TooLarge { limit: max });
            }
            let n = n as usize;
            if c.buf.len() < n {
                return Ok(false);
            }
            body.extend(c.buf.drain(..n));
            reader::trace_fixed_body(body);
            Ok(true)
        }
        (BodyLength::Chunked, Some(decoder)) => {
            let used = decoder.decode(&c.buf, body).map_err(ReadError::Chunked)?;
            c.buf.drain(..used);
            if body.len() > max {
                return Err(ReadError::TooLarge { limit: max });
            }
            if decoder.is_done() {
                reader::trace_chunked_body(decoder, body);
            }
            Ok(decoder.is_done())
        }
        // No body (a request is never framed by the close of its connection).
        _ => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::message::{Request, Response};
    use crate::http::router::Router;
    use std::io::BufRead;

    fn hello(_: &Request) -> Response {
        Response::text(200, "hi")
    }

    #[test]
    fn stopping_ends_the_loops_and_closes_an_idle_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let router: Arc<dyn Handler> = Arc::new(Router::new().get("/", hello));
        let server = spawn(listener, router, Config::default(), 2).unwrap();
        let mut kept = TcpStream::connect(addr).unwrap();
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut reader = io::BufReader::new(kept.try_clone().unwrap());
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK\r\n");
        // The connection is kept alive and idle; stopping must not wait for its 15 s.
        let start = Instant::now();
        server.stop();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        let rest = String::from_utf8_lossy(&rest);
        assert!(
            rest.trim_end().ends_with("hi"),
            "the response, then FIN: {rest:?}"
        );
    }
}
