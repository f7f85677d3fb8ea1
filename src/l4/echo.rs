//! Echo over TCP and UDP with blocking `std::net` sockets: the first program of the course.
//!
//! TCP (RFC 9293) gives a reliable, ordered *byte stream* between two endpoints: message
//! boundaries are not kept, so a client that sends 6 bytes must keep reading until 6 bytes
//! have come back. UDP (RFC 768) keeps boundaries (one datagram in, one out) but promises
//! nothing about delivery, so a client must bound its wait with a timeout.
//!
//! The server loop is the classic one: `socket → bind → listen → accept`, then one thread per
//! connection running a [`Handler`]. The handler is a plain function a lab can replace.

use super::accept::{self, Threads};
use super::background::{Background, Wake, loopback_for};
use super::conn::{Conn, is_timeout, read_full};
use crate::trace::{self, Layer};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What a server runs for each accepted connection, in the connection's own thread.
/// Returning ends the connection (the `Conn` is closed when dropped).
pub type Handler = fn(&mut Conn) -> io::Result<()>;

/// The largest UDP payload over IPv4: 65535 − 8 (UDP header) − 20 (IP header).
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// Why an echo operation failed. `Display` says what to do about it.
#[derive(Debug)]
pub enum EchoError {
    /// The address did not resolve to anything.
    Resolve { addr: String, source: io::Error },
    /// bind(2) failed (address in use, no permission, not a local address…).
    Bind { addr: SocketAddr, source: io::Error },
    /// connect(2) failed.
    Connect { addr: SocketAddr, source: io::Error },
    /// The peer did not answer within the timeout.
    Timeout { addr: SocketAddr, ms: u128 },
    /// The peer closed the connection before echoing everything.
    Closed {
        addr: SocketAddr,
        got: usize,
        expected: usize,
    },
    /// ICMP port unreachable came back for a datagram: nothing is bound there.
    Unreachable { addr: SocketAddr },
    /// A datagram larger than UDP can carry.
    TooLarge { len: usize },
    /// Any other I/O failure during the exchange.
    Io {
        what: &'static str,
        source: io::Error,
    },
}

impl fmt::Display for EchoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EchoError::Resolve { addr, source } => {
                write!(f, "cannot resolve '{addr}': {source} (expected HOST:PORT)")
            }
            EchoError::Bind { addr, source } => match source.kind() {
                io::ErrorKind::AddrInUse => write!(
                    f,
                    "cannot bind {addr}: address already in use (see who holds it: netlab port {})",
                    addr.port()
                ),
                io::ErrorKind::PermissionDenied => write!(
                    f,
                    "cannot bind {addr}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                ),
                io::ErrorKind::AddrNotAvailable => write!(
                    f,
                    "cannot bind {addr}: not an address of this machine (try 127.0.0.1)"
                ),
                _ => write!(f, "cannot bind {addr}: {source}"),
            },
            EchoError::Connect { addr, source } => match source.kind() {
                io::ErrorKind::ConnectionRefused => write!(
                    f,
                    "cannot connect to {addr}: connection refused (the peer answered SYN with RST: is a server listening there?)"
                ),
                _ if is_timeout(source) => {
                    write!(f, "cannot connect to {addr}: no answer to SYN (timed out)")
                }
                _ => write!(f, "cannot connect to {addr}: {source}"),
            },
            EchoError::Timeout { addr, ms } => write!(
                f,
                "no reply from {addr} within {ms} ms (is an echo server running there? raise --timeout to wait longer)"
            ),
            EchoError::Closed {
                addr,
                got,
                expected,
            } => write!(
                f,
                "{addr} closed the connection after echoing {got} of {expected} bytes"
            ),
            EchoError::Unreachable { addr } => write!(
                f,
                "no UDP socket is bound at {addr}: the kernel answered with ICMP port unreachable (is the server running, with --udp?)"
            ),
            EchoError::TooLarge { len } => write!(
                f,
                "a UDP datagram carries at most {MAX_UDP_PAYLOAD} bytes; this message has {len}"
            ),
            EchoError::Io { what, source } => write!(f, "{what} failed: {source}"),
        }
    }
}

impl std::error::Error for EchoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EchoError::Resolve { source, .. }
            | EchoError::Bind { source, .. }
            | EchoError::Connect { source, .. }
            | EchoError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Resolves `HOST:PORT` to its first address.
pub fn resolve(addr: &str) -> Result<SocketAddr, EchoError> {
    let mut addrs = addr
        .to_socket_addrs()
        .map_err(|source| EchoError::Resolve {
            addr: addr.to_string(),
            source,
        })?;
    addrs.next().ok_or_else(|| EchoError::Resolve {
        addr: addr.to_string(),
        source: io::Error::new(io::ErrorKind::NotFound, "no address found"),
    })
}

fn family(addr: &SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    }
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

/// `socket(); setsockopt(SO_REUSEADDR); bind(); listen()` — std does all four in
/// `TcpListener::bind`, so the trace names each one.
pub fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, EchoError> {
    let _role = trace::default_role("server");
    trace::event(Layer::L4, || {
        format!(
            "socket({}, SOCK_STREAM) → a TCP socket in state CLOSED",
            family(&addr)
        )
    });
    trace::event(Layer::L4, || {
        "setsockopt(SO_REUSEADDR, 1): std sets it so a restart can bind while old connections sit in TIME-WAIT".into()
    });
    let listener = TcpListener::bind(addr).map_err(|source| EchoError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| EchoError::Bind { addr, source })?;
    trace::event(Layer::L4, || {
        format!("bind({addr}) → local address {local}")
    });
    trace::event(Layer::L4, || {
        format!("listen(backlog=128) → {local} is LISTEN: the kernel now completes handshakes")
    });
    Ok(listener)
}

/// The default handler: whatever arrives goes straight back, chunk by chunk.
pub fn echo(conn: &mut Conn) -> io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n])?;
    }
}

/// The accept loop ([`super::accept`]) with a handler in each connection's thread (or, with
/// [`Threads::Serial`], on the loop's own thread, one connection after the other), until
/// `stop` is set. A failing connection never stops the loop.
pub fn serve_tcp(listener: TcpListener, handler: Handler, threads: Threads, stop: &AtomicBool) {
    let _role = trace::role("server");
    let serve_one =
        Arc::new(move |stream: TcpStream, _peer: SocketAddr| serve_connection(stream, handler));
    accept::serve(
        &listener,
        stop,
        // A lab's echo server: no share per source (every test client is 127.0.0.1).
        &super::share::Shares::whole(MAX_CONNS),
        threads,
        serve_one,
        &accept::close_silently,
    );
}

/// Connections an echo server serves at once; more are closed at once.
pub const MAX_CONNS: usize = 4096;

fn serve_connection(stream: TcpStream, handler: Handler) {
    let mut conn = match Conn::new(stream) {
        Ok(conn) => conn,
        // The peer may already have reset the connection: nothing to serve.
        Err(_) => return,
    };
    if let Err(e) = handler(&mut conn) {
        trace::event(Layer::L4, || {
            format!("connection with {} ended: {e}", conn.peer())
        });
    }
    // `conn` drops here: close(2).
}

/// Binds and serves TCP in a background thread.
pub fn spawn_tcp(addr: SocketAddr, handler: Handler) -> Result<Background, EchoError> {
    let listener = bind_tcp(addr)?;
    Background::tcp(listener, "tcp server", move |l, stop| {
        serve_tcp(l, handler, Threads::PerConnection, &stop)
    })
    .map_err(|source| EchoError::Io {
        what: "starting the server thread",
        source,
    })
}

/// The client side of a TCP echo conversation.
pub struct TcpClient {
    conn: Conn,
    timeout: Duration,
}

impl TcpClient {
    /// `socket(); connect()`: the three-way handshake happens inside connect.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpClient, EchoError> {
        let _role = trace::default_role("client");
        trace::event(Layer::L4, || {
            format!(
                "socket({}, SOCK_STREAM) → a TCP socket in state CLOSED",
                family(&addr)
            )
        });
        trace::sent(Layer::L4, || {
            format!("connect({addr}) → SYN (SYN-SENT), waiting for SYN+ACK")
        });
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|source| EchoError::Connect { addr, source })?;
        let conn = Conn::new(stream).map_err(|source| EchoError::Connect { addr, source })?;
        trace::event(Layer::L4, || {
            format!(
                "connected {} → {addr}: ESTABLISHED (the kernel picked local port {})",
                conn.local(),
                conn.local().port()
            )
        });
        conn.set_read_timeout(Some(timeout))
            .map_err(|source| EchoError::Io {
                what: "setting the read timeout",
                source,
            })?;
        Ok(TcpClient { conn, timeout })
    }

    /// This end's address (the kernel's ephemeral port).
    pub fn local(&self) -> SocketAddr {
        self.conn.local()
    }

    /// Sends `message` and reads until as many bytes came back: one write may come back as
    /// several reads, and that is normal for a byte stream.
    pub fn exchange(&mut self, message: &[u8]) -> Result<Vec<u8>, EchoError> {
        let _role = trace::default_role("client");
        let addr = self.conn.peer();
        self.conn
            .write_all(message)
            .map_err(|source| EchoError::Io {
                what: "sending",
                source,
            })?;
        let mut reply = vec![0u8; message.len()];
        let got = read_full(&mut self.conn, &mut reply).map_err(|source| {
            if is_timeout(&source) {
                EchoError::Timeout {
                    addr,
                    ms: self.timeout.as_millis(),
                }
            } else {
                EchoError::Io {
                    what: "receiving",
                    source,
                }
            }
        })?;
        if got < message.len() {
            return Err(EchoError::Closed {
                addr,
                got,
                expected: message.len(),
            });
        }
        Ok(reply)
    }

    /// The orderly close: FIN from us, then read until the server's FIN. The side that
    /// closes first ends in TIME-WAIT (here, the client).
    pub fn close(mut self) -> Result<(), EchoError> {
        let _role = trace::default_role("client");
        self.conn.shutdown_write().map_err(|source| EchoError::Io {
            what: "shutdown",
            source,
        })?;
        let mut rest = [0u8; 1024];
        loop {
            match self.conn.read(&mut rest) {
                Ok(0) => break,
                Ok(_) => continue,
                // The server already reset: the connection is over either way.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) if is_timeout(&e) => {
                    return Err(EchoError::Timeout {
                        addr: self.conn.peer(),
                        ms: self.timeout.as_millis(),
                    });
                }
                Err(source) => {
                    return Err(EchoError::Io {
                        what: "closing",
                        source,
                    });
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// UDP
// ---------------------------------------------------------------------------------------------

/// `socket(SOCK_DGRAM); bind()`: UDP has no listen and no accept.
pub fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, EchoError> {
    let _role = trace::default_role("server");
    trace::event(Layer::L4, || {
        format!("socket({}, SOCK_DGRAM) → a UDP socket", family(&addr))
    });
    let socket = UdpSocket::bind(addr).map_err(|source| EchoError::Bind { addr, source })?;
    let local = socket
        .local_addr()
        .map_err(|source| EchoError::Bind { addr, source })?;
    trace::event(Layer::L4, || {
        format!("bind({addr}) → {local}: datagrams to this port are now queued for us")
    });
    Ok(socket)
}

/// One datagram in, the same datagram out, to whoever sent it. A bad datagram cannot
/// disturb other clients: there is no connection to break.
pub fn serve_udp(socket: UdpSocket, stop: &AtomicBool) {
    let _role = trace::role("server");
    let mut buf = vec![0u8; 65_536];
    loop {
        // 1. Wait for a datagram from anyone.
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(pair) => pair,
            Err(e) => {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                // On Linux an ICMP error from an earlier send_to can surface here: ignore it.
                trace::event(Layer::L4, || {
                    format!("recv_from() failed: {e}; still serving")
                });
                continue;
            }
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        trace::received(Layer::L4, || {
            format!(
                "datagram of {n} bytes from {from}: \"{}\"",
                trace::preview(&buf[..n], 40)
            )
        });
        // 2. Send the same bytes back to the sender's address (traced first: a datagram
        //    leaves whole or not at all, and the peer may print its arrival at once).
        trace::sent(Layer::L4, || {
            format!(
                "datagram of {n} bytes to {from}: \"{}\"",
                trace::preview(&buf[..n], 40)
            )
        });
        if let Err(e) = socket.send_to(&buf[..n], from) {
            trace::event(Layer::L4, || format!("send_to({from}) failed: {e}"));
        }
    }
}

/// Binds and serves UDP in a background thread.
pub fn spawn_udp(addr: SocketAddr) -> Result<Background, EchoError> {
    let socket = bind_udp(addr)?;
    let addr = socket
        .local_addr()
        .map_err(|source| EchoError::Bind { addr, source })?;
    Background::start(format!("udp server {addr}"), addr, Wake::Udp, move |stop| {
        serve_udp(socket, &stop)
    })
    .map_err(|source| EchoError::Io {
        what: "starting the server thread",
        source,
    })
}

/// The client side of UDP echo: one socket, one datagram per message.
pub struct UdpClient {
    socket: UdpSocket,
    addr: SocketAddr,
    timeout: Duration,
}

impl UdpClient {
    /// `socket(); connect()`: for UDP, connect sends nothing. It fixes the peer address so
    /// that only its datagrams are received, and so that an ICMP "port unreachable" comes
    /// back to us as "connection refused".
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<UdpClient, EchoError> {
        let _role = trace::default_role("client");
        let socket = bind_udp(loopback_for(&addr))?;
        socket
            .connect(addr)
            .map_err(|source| EchoError::Connect { addr, source })?;
        trace::event(Layer::L4, || {
            format!("connect({addr}) → peer fixed; nothing is sent for UDP")
        });
        socket
            .set_read_timeout(Some(timeout))
            .map_err(|source| EchoError::Io {
                what: "setting the read timeout",
                source,
            })?;
        Ok(UdpClient {
            socket,
            addr,
            timeout,
        })
    }

    /// Sends one datagram and waits (at most the timeout) for one back.
    pub fn exchange(&mut self, message: &[u8]) -> Result<Vec<u8>, EchoError> {
        let _role = trace::default_role("client");
        if message.len() > MAX_UDP_PAYLOAD {
            return Err(EchoError::TooLarge { len: message.len() });
        }
        let addr = self.addr;
        // Traced before it leaves: the server may print its arrival at once.
        trace::sent(Layer::L4, || {
            format!(
                "datagram of {} bytes to {addr}: \"{}\"",
                message.len(),
                trace::preview(message, 40)
            )
        });
        self.socket
            .send(message)
            .map_err(|source| self.udp_error(source))?;
        let mut buf = vec![0u8; 65_536];
        let n = self
            .socket
            .recv(&mut buf)
            .map_err(|source| self.udp_error(source))?;
        buf.truncate(n);
        trace::received(Layer::L4, || {
            format!(
                "datagram of {n} bytes from {addr}: \"{}\"",
                trace::preview(&buf, 40)
            )
        });
        Ok(buf)
    }

    fn udp_error(&self, source: io::Error) -> EchoError {
        if is_timeout(&source) {
            EchoError::Timeout {
                addr: self.addr,
                ms: self.timeout.as_millis(),
            }
        } else if source.kind() == io::ErrorKind::ConnectionRefused {
            EchoError::Unreachable { addr: self.addr }
        } else {
            EchoError::Io {
                what: "UDP exchange",
                source,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn localhost() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[test]
    fn tcp_round_trip_and_close() {
        let server = spawn_tcp(localhost(), echo).unwrap();
        let mut c = TcpClient::connect(server.addr(), Duration::from_secs(5)).unwrap();
        assert_eq!(c.exchange(b"hello\n").unwrap(), b"hello\n");
        let big = vec![b'x'; 300_000];
        assert_eq!(c.exchange(&big).unwrap(), big);
        c.close().unwrap();
        server.stop();
    }

    #[test]
    fn udp_round_trip_and_limits() {
        let server = spawn_udp(localhost()).unwrap();
        let mut c = UdpClient::connect(server.addr(), Duration::from_secs(5)).unwrap();
        assert_eq!(c.exchange(b"ping").unwrap(), b"ping");
        assert!(matches!(
            c.exchange(&vec![0; MAX_UDP_PAYLOAD + 1]),
            Err(EchoError::TooLarge { .. })
        ));
        server.stop();
    }

    #[test]
    fn udp_to_a_closed_port_is_refused_or_times_out() {
        // Bind then drop: the port is free, so the kernel answers with ICMP unreachable.
        let port = UdpSocket::bind(localhost()).unwrap().local_addr().unwrap();
        let mut c = UdpClient::connect(port, Duration::from_millis(300)).unwrap();
        let err = c.exchange(b"anyone?").unwrap_err();
        assert!(
            matches!(
                err,
                EchoError::Unreachable { .. } | EchoError::Timeout { .. }
            ),
            "{err}"
        );
    }

    #[test]
    fn bind_in_use_names_the_port_tool() {
        let held = TcpListener::bind(localhost()).unwrap();
        let err = bind_tcp(held.local_addr().unwrap()).unwrap_err();
        assert!(err.to_string().contains("address already in use"), "{err}");
        assert!(err.to_string().contains("netlab port"), "{err}");
    }
}
