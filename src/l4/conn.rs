//! A TCP connection whose every system call shows up in the trace (RFC 9293 §3.10 user calls).
//!
//! `Conn` is a `std::net::TcpStream` with the trace wrapped around `read`, `write`,
//! `shutdown` and `close`. Handlers receive a `Conn`, so a student sees in the trace exactly
//! which calls their code made and how many bytes each one moved: TCP is a byte stream, and
//! one `write` of 10 bytes may well come out as two `read`s of 4 and 6.

use crate::trace::{self, Layer};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// How many bytes of each read or write the trace shows.
const PREVIEW: usize = 40;

/// A traced TCP connection.
pub struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    /// The role of the thread that made it (client, server): its lines keep that label even
    /// when it is closed elsewhere, on drop.
    role: Option<&'static str>,
}

impl Conn {
    /// Wraps an accepted or connected stream.
    pub fn new(stream: TcpStream) -> io::Result<Conn> {
        let peer = stream.peer_addr()?;
        let local = stream.local_addr()?;
        Ok(Conn {
            stream,
            peer,
            local,
            role: trace::current_role(),
        })
    }

    /// The other end's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// This end's address.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Bounds each later `read`: past it, `read` fails with `WouldBlock` or `TimedOut`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// `shutdown(SHUT_WR)`: sends FIN. The peer reads end-of-stream once it has read all data
    /// before it; this side can still read (a half-close, RFC 9293 §3.6).
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        let _role = self.role.map(trace::role);
        trace::event(Layer::L4, || {
            format!(
                "shutdown(SHUT_WR) → FIN to {}: no more writes from this side",
                self.peer
            )
        });
        match self.stream.shutdown(Shutdown::Write) {
            // The peer may already have gone: the connection is then closed anyway.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
    }

    /// The stream itself, for code that needs a `TcpStream` (a TLS layer, a second handle).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let _role = self.role.map(trace::role);
        match self.stream.read(buf) {
            Ok(0) => {
                trace::received(Layer::L4, || {
                    format!(
                        "read 0 bytes from {}: end of stream (peer sent FIN)",
                        self.peer
                    )
                });
                Ok(0)
            }
            Ok(n) => {
                trace::received(Layer::L4, || {
                    format!(
                        "read {n} bytes from {}: \"{}\"",
                        self.peer,
                        trace::preview(&buf[..n], PREVIEW)
                    )
                });
                Ok(n)
            }
            Err(e) => {
                trace::event(Layer::L4, || format!("read from {} failed: {e}", self.peer));
                Err(e)
            }
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _role = self.role.map(trace::role);
        // Traced before the bytes leave: traced after, the peer's thread could print its
        // read of them first.
        trace::sent(Layer::L4, || {
            format!(
                "write {} bytes to {}: \"{}\"",
                buf.len(),
                self.peer,
                trace::preview(buf, PREVIEW)
            )
        });
        match self.stream.write(buf) {
            Ok(n) if n < buf.len() => {
                let asked = buf.len();
                trace::event(Layer::L4, || {
                    format!(
                        "short write: the kernel took {n} of {asked} bytes; the rest goes in the next write"
                    )
                });
                Ok(n)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                trace::event(Layer::L4, || format!("write to {} failed: {e}", self.peer));
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let _role = self.role.map(trace::role);
        trace::event(Layer::L4, || {
            format!(
                "close {} ↔ {}: file descriptor released",
                self.local, self.peer
            )
        });
    }
}

/// Reads until `buf` is full. Unlike `read_exact` it reports how far it got when the peer
/// closes early, so the caller can say "got 3 of 6 bytes".
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// True for the two ways a timed-out blocking read is reported (Unix: WouldBlock,
/// Windows: TimedOut).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
