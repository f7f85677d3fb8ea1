//! The byte stream under HTTP over TCP: plain TCP, or TLS over TCP (rustls). HTTP/1.1 (and
//! HTTP/2 next) reads and writes the same way over both; only timeouts need the TCP socket
//! underneath. It sits with TLS, below every HTTP version, so none of them owns it.

use crate::trace::{self, Layer};
use rustls::{ClientConnection, ServerConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A connection as HTTP sees it.
pub enum Transport {
    Plain(TcpStream),
    TlsServer(Box<StreamOwned<ServerConnection, TcpStream>>),
    TlsClient(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Transport {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::TlsServer(s) => &s.sock,
            Transport::TlsClient(s) => &s.sock,
        }
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        // A zero duration means "no timeout" to the OS: clamp it to the smallest real one.
        let t = t.map(|d| d.max(Duration::from_millis(1)));
        self.tcp().set_read_timeout(t)
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(t)
    }

    /// Is this https?
    pub fn is_tls(&self) -> bool {
        !matches!(self, Transport::Plain(_))
    }

    /// The ALPN protocol the TLS handshake agreed on, if any.
    pub fn alpn(&self) -> Option<Vec<u8>> {
        match self {
            Transport::Plain(_) => None,
            Transport::TlsServer(s) => s.conn.alpn_protocol().map(<[u8]>::to_vec),
            Transport::TlsClient(s) => s.conn.alpn_protocol().map(<[u8]>::to_vec),
        }
    }

    /// Sends TLS close_notify (if TLS) and FIN.
    pub fn close(&mut self) {
        let peer = self
            .tcp()
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        if self.is_tls() {
            trace::sent(Layer::Tls, || format!("close_notify alert to {peer}"));
        }
        trace::sent(Layer::L4, || {
            format!(
                "shutdown(SHUT_WR) → FIN to {peer} (FIN-WAIT-1); the socket closes when dropped"
            )
        });
        match self {
            Transport::Plain(_) => {}
            Transport::TlsServer(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            Transport::TlsClient(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        }
        let _ = self.tcp().shutdown(std::net::Shutdown::Write);
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = match self {
            Transport::Plain(s) => s.read(buf),
            Transport::TlsServer(s) => s.read(buf),
            Transport::TlsClient(s) => s.read(buf),
        };
        match r {
            // A peer that closes TCP without close_notify: for HTTP/1.1 framing tells where
            // the message ends, so treat it as the end of the stream (as curl does).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::TlsServer(s) => s.write(buf),
            Transport::TlsClient(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::TlsServer(s) => s.flush(),
            Transport::TlsClient(s) => s.flush(),
        }
    }
}
