//! REQ/REP: the request-reply pattern (RFC 28/REQREP), the "hello world" of ZeroMQ.
//!
//! A REQ socket sends one request, then must receive one reply before it may send again; a
//! REP socket receives one request, then must send one reply. libzmq enforces the turn:
//! a second send on REQ fails with EFSM (see [`ZmqError::SendTwice`]). Both ends see whole
//! messages of one or more parts: the TCP byte stream and its framing (ZMTP, see `zmtp.rs`)
//! stay inside libzmq. On the wire, REQ puts an empty delimiter frame before the request and
//! REP sends it back before the reply, which is how a ROUTER in between (the broker) keeps
//! the return address.
//!
//! The REP server calls a [`Handler`]: a plain function or closure from request parts to
//! reply parts, which a lab replaces without reading the loop.

use super::endpoint::Endpoint;
use super::socket::{Message, Socket, ZmqError};
use crate::trace::Layer;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What a REP server runs for each request: request parts in, reply parts out.
/// Any `FnMut(&[Vec<u8>]) -> Message` is one, so a closure can keep state (lab 06's store).
pub trait Handler {
    fn handle(&mut self, request: &[Vec<u8>]) -> Message;
}

impl<F: FnMut(&[Vec<u8>]) -> Message> Handler for F {
    fn handle(&mut self, request: &[Vec<u8>]) -> Message {
        self(request)
    }
}

/// The default handler: the reply is the request, part for part.
pub fn echo(request: &[Vec<u8>]) -> Message {
    request.to_vec()
}

/// The reply sent when a handler panics, so the client is not left waiting and the REP
/// socket can take the next request (it must send before it may receive again).
pub const PANIC_REPLY: &[u8] = b"ERR handler panicked";

/// How often a waiting server looks at its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// A REP socket bound to `bind` and/or connected to `connect` (a worker behind a broker).
/// Returns the socket and the real bound endpoint, if it bound.
pub fn rep_socket(
    ctx: &zmq::Context,
    bind: Option<&Endpoint>,
    connect: Option<&Endpoint>,
) -> Result<(Socket, Option<String>), ZmqError> {
    let mut sock = Socket::new(ctx, zmq::REP)?;
    let bound = match bind {
        Some(ep) => Some(sock.bind(ep)?),
        None => None,
    };
    if let Some(ep) = connect {
        sock.connect(ep)?;
    }
    Ok((sock, bound))
}

/// The REP loop: receive a request, call the handler, send its reply; `count` requests
/// (`None`: until `stop` is set). Returns how many requests were answered.
pub fn serve(
    sock: &mut Socket,
    handler: &mut dyn Handler,
    count: Option<usize>,
    stop: &AtomicBool,
) -> Result<usize, ZmqError> {
    let _role = crate::trace::role("server");
    let mut answered = 0;
    while count.is_none_or(|n| answered < n) && !stop.load(Ordering::SeqCst) {
        // 1. Wait for a request, looking at the stop flag now and then.
        let Some(request) = sock.recv(Some(STOP_CHECK))? else {
            continue;
        };
        // 2. Run the handler. A panic in it must not kill the server: catch it and answer
        //    with an error, since REP must reply before it can receive the next request.
        let reply = match crate::catch::call(|| handler.handle(&request)) {
            Ok(reply) => reply,
            Err(p) => {
                crate::catch::report(
                    Layer::Zmq,
                    "REP",
                    &p,
                    "replying with an error and serving on",
                );
                vec![PANIC_REPLY.to_vec()]
            }
        };
        // 3. A ZeroMQ message has at least one part: an empty reply becomes one empty part.
        let reply = if reply.is_empty() {
            vec![Vec::new()]
        } else {
            reply
        };
        sock.send(&reply)?;
        answered += 1;
    }
    Ok(answered)
}

/// A REP server running in a background thread (tour, lab checks, tests, benchmarks).
pub struct Running {
    endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<usize, ZmqError>>>,
}

impl Running {
    /// `tcp://HOST:PORT` with the real port.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops the loop and waits for it; returns how many requests it answered.
    pub fn stop(mut self) -> Result<usize, ZmqError> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Ok(0),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds a REP socket on `bind` (port `*` is fine) and serves `handler` in a thread.
pub fn spawn(
    ctx: &zmq::Context,
    bind: &Endpoint,
    mut handler: impl Handler + Send + 'static,
) -> Result<Running, ZmqError> {
    let (mut sock, bound) = rep_socket(ctx, Some(bind), None)?;
    let endpoint = bound.unwrap_or_else(|| bind.to_string());
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = thread::Builder::new()
        .name(format!("rep {endpoint}"))
        .spawn(move || serve(&mut sock, &mut handler, None, &flag))
        .map_err(ZmqError::Thread)?;
    Ok(Running {
        endpoint,
        stop,
        thread: Some(thread),
    })
}

/// A REQ client: one request at a time, each reply awaited at most `timeout`.
pub struct Client {
    sock: Socket,
    timeout: Duration,
}

impl Client {
    /// A REQ socket connected to `endpoint`. Nothing is sent on the wire yet, and nothing
    /// fails here if no server is there: libzmq connects in the background.
    pub fn connect(
        ctx: &zmq::Context,
        endpoint: &Endpoint,
        timeout: Duration,
    ) -> Result<Client, ZmqError> {
        let mut sock = Socket::new(ctx, zmq::REQ)?;
        sock.connect(endpoint)?;
        Ok(Client { sock, timeout })
    }

    /// The socket, for tracing options or sending out of turn on purpose.
    pub fn socket(&mut self) -> &mut Socket {
        &mut self.sock
    }

    /// Sends `request` and waits for the reply. No reply in time is `Unreachable` when no
    /// connection was ever made (nobody listens), `NoReply` when one was.
    pub fn request<P: AsRef<[u8]>>(&mut self, request: &[P]) -> Result<Message, ZmqError> {
        let _role = crate::trace::default_role("client");
        self.sock.send(request)?;
        match self.sock.recv(Some(self.timeout))? {
            Some(reply) => Ok(reply),
            None => {
                let peers = self.sock.peers();
                let endpoint = self.sock.endpoint().to_string();
                let ms = self.timeout.as_millis();
                if peers.ever {
                    Err(ZmqError::NoReply { endpoint, ms })
                } else {
                    Err(ZmqError::Unreachable {
                        endpoint,
                        ms,
                        retries: peers.retries,
                    })
                }
            }
        }
    }

    /// Sends without waiting for the reply: a second call breaks REQ's turn (EFSM).
    pub fn send_only<P: AsRef<[u8]>>(&mut self, request: &[P]) -> Result<(), ZmqError> {
        self.sock.send(request)
    }

    /// Drops unsent requests at close (ZMQ_LINGER 0): Lazy Pirate abandons this socket.
    pub fn abandon(self) {
        let _ = self.sock.option(
            "ZMQ_LINGER",
            "0",
            "abandon the unanswered request instead of delivering it later",
            |s| s.set_linger(0),
        );
    }
}
