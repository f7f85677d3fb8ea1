//! `netlab tap`: a TCP relay between two unmodified peers that decodes what passes.
//!
//! ```text
//!  client ──TCP──▶ tap (--listen) ──TCP──▶ server (--to)
//!                   │ each byte goes on unchanged, and a copy goes to a Decoder
//!                   ▼
//!        [zmtp] → #1 frame flags=0x04(COMMAND) size=28: READY Socket-Type=REQ …
//! ```
//!
//! The relay is protocol-neutral: blocking `std::net`, one thread per direction per
//! connection (RFC 9293 byte streams in, the same bytes out). What it knows of a protocol
//! is a [`Decoder`]: a sans-IO state machine that takes the bytes each side sent, in order,
//! and returns trace lines. ZMTP implements it in `zmq/zmtp_tap.rs` and HTTP/1.1 in
//! `http1/tap.rs`; a planned layer (HTTP/2) would add its own the same way, and one row in
//! the CLI's protocol table.
//!
//! Arrows: `→` is what the client (the peer that connected to the tap) sent toward the
//! server, `←` what came back. The relay never alters, delays on purpose, or drops bytes:
//! a decoder error is traced, and the bytes keep flowing undecoded.

use crate::l4::background::{Background, Wake};
use crate::trace::{self, Dir, Layer};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Which peer sent the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The peer that connected to the tap: its bytes are traced with `→`.
    Client,
    /// The peer the tap connected to (`--to`): its bytes are traced with `←`.
    Server,
}

impl Side {
    /// The trace arrow for bytes this side sent.
    pub fn dir(self) -> Dir {
        match self {
            Side::Client => Dir::Sent,
            Side::Server => Dir::Received,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// One decoded line: its arrow (`→`, `←`, or `·` for the decoder's own remarks) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub dir: Dir,
    pub text: String,
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
        trace::step(layer, line.dir, || format!("#{conn} {}", line.text));
    }
}

/// The accept loop: each client gets its own connection to `target` and two relay threads,
/// until `stop` is set (and a connection wakes `accept`).
pub fn serve(
    listener: TcpListener,
    target: SocketAddr,
    make: MakeDecoder,
    connect_timeout: Duration,
    stop: &AtomicBool,
) {
    let count = AtomicUsize::new(0);
    for incoming in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let client = match incoming {
            Ok(c) => c,
            Err(e) => {
                trace::event(Layer::L4, || format!("tap: accept() failed: {e}"));
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let conn = count.fetch_add(1, Ordering::Relaxed) + 1;
        trace::event(Layer::L4, || {
            let from = client
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            format!("tap #{conn}: accepted {from}; connecting to {target}")
        });
        let spawned = thread::Builder::new()
            .name(format!("tap #{conn}"))
            .spawn(move || relay(conn, client, target, make(), connect_timeout));
        if let Err(e) = spawned {
            trace::event(Layer::L4, || format!("tap #{conn}: no thread: {e}"));
        }
    }
}

/// Relays one connection: connect to the target, then copy both ways until both ends closed.
fn relay(
    conn: usize,
    client: TcpStream,
    target: SocketAddr,
    decoder: Box<dyn Decoder>,
    connect_timeout: Duration,
) {
    let peer = client
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
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
    let layer = decoder.layer();
    let decoder = Arc::new(Mutex::new(decoder));
    // 2. One thread per direction; this thread does server → client.
    let (Ok(client_rd), Ok(server_wr)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up_decoder = decoder.clone();
    let up = thread::Builder::new()
        .name(format!("tap #{conn} →"))
        .spawn(move || pump(conn, Side::Client, client_rd, server_wr, &up_decoder, layer));
    pump(conn, Side::Server, server, client, &decoder, layer);
    if let Ok(handle) = up {
        let _ = handle.join();
    }
    trace::event(Layer::L4, || format!("tap #{conn}: both sides closed"));
}

/// Copies `from` → `to` until end of stream, feeding the decoder; then passes the FIN on.
fn pump(
    conn: usize,
    side: Side,
    mut from: TcpStream,
    mut to: TcpStream,
    decoder: &Mutex<Box<dyn Decoder>>,
    layer: Layer,
) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Forward first, decode second: the peers must not wait for the trace.
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        // A decoder that panicked poisons the lock; the relay goes on without lines.
        if let Ok(mut d) = decoder.lock() {
            let lines = d.feed(side, &buf[..n]);
            emit(layer, conn, lines);
        }
    }
    if let Ok(mut d) = decoder.lock() {
        let lines = d.end(side);
        emit(layer, conn, lines);
    }
    // Half-close: the other peer reads end of stream, and may still answer.
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
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
    Background::start(format!("tap {addr}"), addr, Wake::Tcp, move |stop| {
        serve(listener, target, make, Duration::from_secs(5), &stop)
    })
    .map_err(|source| TapError::Bind { addr, source })
}
