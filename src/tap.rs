//! `netlab tap`: a TCP relay between two unmodified peers that decodes what passes.
//!
//! ```text
//!  client ──TCP──▶ tap (--listen) ──TCP──▶ server (--to)
//!                   │ each byte goes on unchanged, and a copy goes to a Decoder
//!                   ▼
//!        [zmtp] → #1 frame flags=0x04(COMMAND) size=28: READY Socket-Type=REQ …
//! ```
//!
//! The relay is protocol-neutral: it is [`crate::l4::relay`], one thread per direction per
//! connection (RFC 9293 byte streams in, the same bytes out), behind the one accept loop. What it knows of a protocol
//! is a [`Decoder`]: a sans-IO state machine that takes the bytes each side sent, in order,
//! and returns trace lines. ZMTP implements it in `zmq/zmtp_tap.rs` and HTTP/1.1 in
//! `http1/tap.rs`, HTTP/2 in `http2/tap.rs`; another layer would add its own the same way,
//! and one row in the CLI's protocol table.
//!
//! Arrows: `→` is what the client (the peer that connected to the tap) sent toward the
//! server, `←` what came back. The relay never alters or drops bytes, and delays them only by
//! the time the decoder takes (its lines come first, so they precede the receiver's own):
//! a decoder error is traced, and the bytes keep flowing undecoded.

use crate::l4::accept;
use crate::l4::background::Background;
use crate::l4::relay::{self, Observer, Side};
use crate::trace::{self, Dir, Layer};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One decoded line: its arrow (`→`, `←`, or `·` for the decoder's own remarks) and text,
/// and the layer it belongs to when not the decoder's own (HTTP/2's HPACK lines go to
/// `hpack`, its frames to `h2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub dir: Dir,
    pub text: String,
    pub layer: Option<Layer>,
}

/// What a protocol gives the tap: bytes in (per side, in order), trace lines out. One
/// decoder serves one relayed connection (both directions), so a protocol whose replies
/// depend on its requests (HTTP HEAD) can keep that state. Sans-IO: no sockets, no clock.
pub trait Decoder: Send {
    /// The trace layer its lines go to (`zmtp`, `http1`, `h2`).
    fn layer(&self) -> Layer;
    /// Bytes `from` just sent. Incomplete input is kept for the next call, never an error.
    fn feed(&mut self, from: Side, bytes: &[u8]) -> Vec<Line>;
    /// `from` closed its side (end of stream): report anything left half-decoded.
    fn end(&mut self, from: Side) -> Vec<Line>;
}

/// Makes a fresh decoder for each relayed connection.
pub type MakeDecoder = fn() -> Box<dyn Decoder>;

/// Why the tap could not start.
#[derive(Debug)]
pub enum TapError {
    /// bind(2) on --listen failed.
    Bind { addr: SocketAddr, source: io::Error },
}

impl fmt::Display for TapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TapError::Bind { addr, source } if source.kind() == io::ErrorKind::AddrInUse => {
                write!(
                    f,
                    "cannot listen on {addr}: address already in use (see who holds it: netlab port {})",
                    addr.port()
                )
            }
            TapError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
        }
    }
}

impl std::error::Error for TapError {}

/// Binds the listening socket.
pub fn bind(addr: SocketAddr) -> Result<TcpListener, TapError> {
    TcpListener::bind(addr).map_err(|source| TapError::Bind { addr, source })
}

/// Prints a decoder's lines, tagged with the connection number.
fn emit(layer: Layer, conn: usize, lines: Vec<Line>) {
    for line in lines {
        trace::step(line.layer.unwrap_or(layer), line.dir, || {
            format!("#{conn} {}", line.text)
        });
    }
}

/// The accept loop ([`crate::l4::accept`]): each client gets its own connection to
/// `target` and a relay ([`crate::l4::relay`]) with this protocol's decoder watching, until
/// `stop` is set.
pub fn serve(
    listener: TcpListener,
    target: SocketAddr,
    make: MakeDecoder,
    connect_timeout: Duration,
    stop: &AtomicBool,
) {
    let _role = trace::role("tap");
    let count = Arc::new(AtomicUsize::new(0));
    let serve_one = Arc::new(move |client: TcpStream, peer: SocketAddr| {
        let conn = count.fetch_add(1, Ordering::Relaxed) + 1;
        trace::event(Layer::L4, || {
            format!("tap #{conn}: accepted {peer}; connecting to {target}")
        });
        tap_one(conn, client, peer, target, make(), connect_timeout);
    });
    accept::serve(
        &listener,
        stop,
        // One person's tap between their own programs: no share per source.
        &crate::l4::share::Shares::whole(MAX_CONNS),
        accept::Threads::PerConnection,
        serve_one,
        &accept::close_silently,
    );
}

/// Connections a tap relays at once.
pub const MAX_CONNS: usize = 1024;

/// A decoder behind the relay: feeds it each side's bytes in order and prints its lines.
struct Watch {
    conn: usize,
    layer: Layer,
    decoder: Mutex<Box<dyn Decoder>>,
}

impl Observer for Watch {
    fn bytes(&self, from: Side, bytes: &[u8]) {
        // A decoder that panicked poisons the lock; the relay goes on without lines.
        if let Ok(mut d) = self.decoder.lock() {
            let lines = d.feed(from, bytes);
            emit(self.layer, self.conn, lines);
        }
    }

    fn closed(&self, from: Side) {
        if let Ok(mut d) = self.decoder.lock() {
            let lines = d.end(from);
            emit(self.layer, self.conn, lines);
        }
    }
}

/// Relays one connection: connect to the target, then relay both ways until both ends closed.
fn tap_one(
    conn: usize,
    client: TcpStream,
    peer: SocketAddr,
    target: SocketAddr,
    decoder: Box<dyn Decoder>,
    connect_timeout: Duration,
) {
    // 1. The tap's own connection to the server. If it fails, the client sees a close.
    let server = match TcpStream::connect_timeout(&target, connect_timeout) {
        Ok(s) => s,
        Err(e) => {
            trace::event(Layer::L4, || {
                format!(
                    "tap #{conn}: {peer} connected, but connecting to {target} failed: {e}; closing"
                )
            });
            return;
        }
    };
    trace::event(Layer::L4, || {
        format!("tap #{conn}: {peer} ⇄ tap ⇄ {target}: relaying")
    });
    // 2. The relay, with the decoder watching; no idle limit (the peers decide).
    let watch = Watch {
        conn,
        layer: decoder.layer(),
        decoder: Mutex::new(decoder),
    };
    relay::relay(client, server, None, Some(Arc::new(watch)));
    trace::event(Layer::L4, || format!("tap #{conn}: both sides closed"));
}

/// Starts a tap on `listen` (port 0: the kernel picks) relaying to `target`.
pub fn spawn(
    listen: SocketAddr,
    target: SocketAddr,
    make: MakeDecoder,
) -> Result<Background, TapError> {
    let listener = bind(listen)?;
    let addr = listener.local_addr().map_err(|source| TapError::Bind {
        addr: listen,
        source,
    })?;
    Background::tcp(listener, "tap", move |l, stop| {
        serve(l, target, make, Duration::from_secs(5), &stop)
    })
    .map_err(|source| TapError::Bind { addr, source })
}
