//! The ways an HTTP/3 fetch fails ([`FetchError`], one variant per way, each naming its step
//! of the loop in `src/quic/client.rs`) and how a QUIC connection ended ([`Closure`], from
//! either side's CONNECTION_CLOSE, RFC 9000 §10.2, or the idle timer, §10.1).

use std::fmt;
use std::io;
use std::time::Duration;

use crate::quic::codes;
use crate::quic::config::SetupError;

/// How a connection ended, from either side's CONNECTION_CLOSE or the idle timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closure {
    /// The server sent CONNECTION_CLOSE.
    ByServer {
        app: bool,
        code: u64,
        reason: Vec<u8>,
    },
    /// We sent CONNECTION_CLOSE (quiche does, on a protocol violation by the server).
    ByUs {
        app: bool,
        code: u64,
        reason: Vec<u8>,
    },
    /// Nothing came for the idle timeout (RFC 9000 §10.1).
    IdleTimeout,
    /// Closed, and quiche says no more.
    Unexplained,
}

impl Closure {
    /// Why `conn` closed.
    pub(super) fn of(conn: &quiche::Connection) -> Closure {
        if let Some(e) = conn.peer_error() {
            Closure::ByServer {
                app: e.is_app,
                code: e.error_code,
                reason: e.reason.clone(),
            }
        } else if let Some(e) = conn.local_error() {
            Closure::ByUs {
                app: e.is_app,
                code: e.error_code,
                reason: e.reason.clone(),
            }
        } else if conn.is_timed_out() {
            Closure::IdleTimeout
        } else {
            Closure::Unexplained
        }
    }
}

impl fmt::Display for Closure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closure::ByServer { app, code, reason } => write!(
                f,
                "the server closed it: {}",
                codes::describe_close(*app, *code, reason)
            ),
            Closure::ByUs { app, code, reason } => write!(
                f,
                "we closed it: {}",
                codes::describe_close(*app, *code, reason)
            ),
            Closure::IdleTimeout => write!(f, "idle timeout: the server stopped answering"),
            Closure::Unexplained => write!(f, "closed"),
        }
    }
}

/// Why a fetch failed: one variant per way, each naming its step.
#[derive(Debug)]
pub enum FetchError {
    /// No URL to fetch.
    NoUrl,
    /// A URL that is not https:// (HTTP/3 runs over QUIC, which is always TLS).
    NotHttps {
        authority: String,
    },
    /// Two URLs of different origins (one connection serves one origin).
    TwoOrigins {
        first: String,
        other: String,
    },
    /// The host name did not resolve.
    Resolve {
        host: String,
        error: io::Error,
    },
    /// The host name resolved to no address.
    NoAddress {
        host: String,
    },
    /// The UDP socket could not be opened.
    Socket(io::Error),
    /// No random bytes for our connection ID.
    NoRandom,
    Setup(SetupError),
    /// Steps 1–3 failed (the socket, or a lab's `receive`).
    Receive(io::Error),
    /// Step 9 failed (the socket, or a lab's `send`).
    Send(io::Error),
    /// The handshake did not complete: how the connection closed.
    Handshake(Closure),
    /// The connection closed before every response was complete.
    Closed(Closure),
    /// Step 5: HTTP/3's control and QPACK streams could not be opened.
    Http3Setup(quiche::h3::Error),
    /// Step 5: a request's HEADERS could not be sent.
    Request {
        target: String,
        error: quiche::h3::Error,
    },
    /// Step 6: HTTP/3 failed on this connection (quiche has closed it).
    Http3(quiche::h3::Error),
    /// Step 6: the server reset a request stream.
    Reset {
        stream: u64,
        code: u64,
    },
    /// Step 7: a request body could not be sent.
    RequestBody {
        stream: u64,
        error: quiche::h3::Error,
    },
    /// Step 4 (`--rebind-after`): the [`Wire`](super::Wire) cannot move to a new socket.
    Rebind(io::Error),
    /// Step 4 (`--rebind-after`): quiche refused to move the connection to the new socket.
    Migrate {
        local: std::net::SocketAddr,
        error: quiche::Error,
    },
    /// Nothing completed within the time limit.
    Timeout {
        waited: Duration,
        step: &'static str,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NoUrl => write!(f, "no URL given"),
            FetchError::NotHttps { authority } => {
                write!(f, "{authority}: HTTP/3 needs https://")
            }
            FetchError::TwoOrigins { first, other } => write!(
                f,
                "{first} and {other}: one connection serves one origin; run one command per origin"
            ),
            FetchError::Resolve { host, error } => write!(f, "{host}: {error}"),
            FetchError::NoAddress { host } => write!(f, "{host}: no address"),
            FetchError::Socket(e) => write!(f, "UDP socket: {e}"),
            FetchError::NoRandom => write!(f, "no random numbers for a connection ID"),
            FetchError::Setup(e) => write!(f, "{e}"),
            FetchError::Receive(e) => write!(f, "receiving (steps 1–3): {e}"),
            FetchError::Send(e) => write!(f, "sending (step 9): {e}"),
            FetchError::Handshake(why) => write!(f, "QUIC handshake failed: {why}"),
            FetchError::Closed(why) => write!(
                f,
                "connection closed before the responses were complete: {why}"
            ),
            FetchError::Http3Setup(e) => write!(f, "HTTP/3 set-up: {e}"),
            FetchError::Request { target, error } => write!(f, "request {target}: {error}"),
            FetchError::Http3(e) => write!(f, "HTTP/3: {e}"),
            FetchError::Reset { stream, code } => write!(
                f,
                "stream {stream} reset by the server: {}",
                codes::application(*code)
            ),
            FetchError::RequestBody { stream, error } => {
                write!(f, "request body on stream {stream}: {error}")
            }
            FetchError::Rebind(e) => write!(f, "moving to a new socket (step 4): {e}"),
            FetchError::Migrate { local, error } => {
                write!(f, "migrating to {local} (step 4): {error}")
            }
            FetchError::Timeout { waited, step } => {
                write!(f, "no answer within {} ms ({step})", waited.as_millis())
            }
        }
    }
}

impl std::error::Error for FetchError {}

impl FetchError {
    /// A mistake in what was asked (the URLs), not in how the exchange went.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            FetchError::NoUrl | FetchError::NotHttps { .. } | FetchError::TwoOrigins { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way a fetch fails, with the one line it prints.
    #[test]
    fn each_error_says_what_failed_in_one_line() {
        let gone = || io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let table: Vec<(FetchError, &str)> = vec![
            (FetchError::NoUrl, "no URL given"),
            (
                FetchError::NotHttps {
                    authority: "a:80".into(),
                },
                "a:80: HTTP/3 needs https://",
            ),
            (
                FetchError::TwoOrigins {
                    first: "a:443".into(),
                    other: "b:443".into(),
                },
                "a:443 and b:443: one connection serves one origin; run one command per origin",
            ),
            (
                FetchError::Resolve {
                    host: "nowhere".into(),
                    error: io::Error::other("no such host"),
                },
                "nowhere: no such host",
            ),
            (
                FetchError::NoAddress {
                    host: "nowhere".into(),
                },
                "nowhere: no address",
            ),
            (FetchError::Socket(gone()), "UDP socket: refused"),
            (
                FetchError::NoRandom,
                "no random numbers for a connection ID",
            ),
            (
                FetchError::Setup(SetupError::Http3(quiche::h3::Error::InternalError)),
                "HTTP/3 set-up: InternalError",
            ),
            (
                FetchError::Receive(gone()),
                "receiving (steps 1–3): refused",
            ),
            (FetchError::Send(gone()), "sending (step 9): refused"),
            (
                FetchError::Rebind(io::Error::new(io::ErrorKind::Unsupported, "no")),
                "moving to a new socket (step 4): no",
            ),
            (
                FetchError::Migrate {
                    local: "127.0.0.1:5000".parse().unwrap(),
                    error: quiche::Error::OutOfIdentifiers,
                },
                "migrating to 127.0.0.1:5000 (step 4): OutOfIdentifiers",
            ),
            (
                FetchError::Handshake(Closure::ByServer {
                    app: false,
                    code: 0x128,
                    reason: Vec::new(),
                }),
                "QUIC handshake failed: the server closed it: transport CRYPTO_ERROR (TLS alert 40 handshake_failure) (0x128)",
            ),
            (
                FetchError::Closed(Closure::ByUs {
                    app: true,
                    code: codes::H3_NO_ERROR,
                    reason: b"done".to_vec(),
                }),
                "connection closed before the responses were complete: we closed it: application H3_NO_ERROR (0x100) reason \"done\"",
            ),
            (
                FetchError::Closed(Closure::IdleTimeout),
                "connection closed before the responses were complete: idle timeout: the server stopped answering",
            ),
            (
                FetchError::Closed(Closure::Unexplained),
                "connection closed before the responses were complete: closed",
            ),
            (
                FetchError::Http3Setup(quiche::h3::Error::InternalError),
                "HTTP/3 set-up: InternalError",
            ),
            (
                FetchError::Request {
                    target: "/x".into(),
                    error: quiche::h3::Error::StreamBlocked,
                },
                "request /x: StreamBlocked",
            ),
            (
                FetchError::Http3(quiche::h3::Error::FrameUnexpected),
                "HTTP/3: FrameUnexpected",
            ),
            (
                FetchError::Reset {
                    stream: 4,
                    code: codes::H3_NO_ERROR,
                },
                "stream 4 reset by the server: H3_NO_ERROR",
            ),
            (
                FetchError::RequestBody {
                    stream: 0,
                    error: quiche::h3::Error::ClosedCriticalStream,
                },
                "request body on stream 0: ClosedCriticalStream",
            ),
            (
                FetchError::Timeout {
                    waited: Duration::from_millis(1500),
                    step: "handshake",
                },
                "no answer within 1500 ms (handshake)",
            ),
        ];
        for (error, line) in table {
            assert_eq!(error.to_string(), line, "{error:?}");
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn only_url_mistakes_are_usage_errors() {
        assert!(FetchError::NoUrl.is_usage());
        assert!(
            FetchError::TwoOrigins {
                first: String::new(),
                other: String::new()
            }
            .is_usage()
        );
        assert!(!FetchError::Closed(Closure::IdleTimeout).is_usage());
    }
}
