//! What can go wrong in `netlab compare`: one variant per way, each naming the transport or
//! the step, with a one-line text for `error: …`.

use super::transport::Kind;
use std::fmt;

/// Why a comparison could not be made.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareError {
    /// The bulk size is over the smallest body limit of the servers compared.
    TooLarge { size: usize, max: usize },
    /// The rebinding run's file is too small to be cut in the middle of its transfer.
    TooSmall { size: usize, min: usize },
    /// A server, or what it needs (certificates, a temp dir, a listener), did not start.
    Start { what: &'static str, error: String },
    /// The counting relay in front of a server did not start.
    Relay { kind: Kind, error: String },
    /// The ZeroMQ server's endpoint is not a socket address.
    Endpoint { kind: Kind, endpoint: String },
    /// A transport whose server is made per exchange (WebRTC's answering peer) was asked for
    /// a fixed one.
    NoFixedServer(Kind),
    /// The transport's client failed: connecting, sending, or reading the answer.
    Client { kind: Kind, error: String },
    /// The client finished without a response.
    NoResponse(Kind),
    /// What came back is not what was sent (every server here echoes).
    Differs {
        kind: Kind,
        back: usize,
        sent: usize,
    },
    /// The WebRTC session ended before the whole echo came back.
    SessionEnded { kind: Kind, why: String },
    /// The echo did not come back in time.
    NoEcho(Kind),
    /// A second visit made a full handshake: the first visit's ticket was not used.
    NotResumed(Kind),
    /// A second visit over QUIC resumed, but its request did not go in 0-RTT.
    NoEarlyData(Kind),
    /// Counting HTTP/2's header blocks off the wire failed.
    HeaderBlocks(String),
    /// A command that makes the lossy path (ip, tc, nft) failed.
    PathCommand { command: String, error: String },
    /// Setting up the lossy run (a temp dir, a port, a server) failed.
    LossySetup { what: &'static str, error: String },
    /// A download of the lossy run failed.
    Download {
        version: &'static str,
        error: String,
    },
    /// The rebinding run downloads over HTTPS, HTTP/2 and HTTP/3 only.
    NotDownloaded(Kind),
    /// The file's server answered with another status than 200.
    Status { kind: Kind, status: u16 },
    /// The download ended before the path changed the client's address.
    NotRebound(Kind),
    /// A reference program (another implementation's server) could not run.
    Peer {
        program: &'static str,
        error: String,
    },
}

impl fmt::Display for CompareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompareError::TooLarge { size, max } => write!(
                f,
                "--size {size}: at most {max} bytes, the HTTP/1.1 server's body limit"
            ),
            CompareError::TooSmall { size, min } => write!(
                f,
                "--size {size}: with --rebind at least {min} bytes (the address changes after half the file)"
            ),
            CompareError::Start { what, error } => write!(f, "starting {what}: {error}"),
            CompareError::Relay { kind, error } => write!(f, "{}: relay: {error}", kind.name()),
            CompareError::Endpoint { kind, endpoint } => {
                write!(f, "{}: endpoint {endpoint}", kind.name())
            }
            CompareError::NoFixedServer(kind) => write!(
                f,
                "{}: no fixed server address (each exchange makes its answering peer)",
                kind.name()
            ),
            CompareError::Client { kind, error } => write!(f, "{}: {error}", kind.name()),
            CompareError::NoResponse(kind) => write!(f, "{}: no response", kind.name()),
            CompareError::Differs { kind, back, sent } => write!(
                f,
                "{}: the answer is not what was sent ({back} bytes back for {sent})",
                kind.name()
            ),
            CompareError::SessionEnded { kind, why } => {
                write!(f, "{}: session ended: {why}", kind.name())
            }
            CompareError::NoEcho(kind) => write!(f, "{}: no echo in time", kind.name()),
            CompareError::NotResumed(kind) => write!(
                f,
                "{}: the second visit made a full handshake (the first visit's ticket was not used)",
                kind.name()
            ),
            CompareError::NoEarlyData(kind) => write!(
                f,
                "{}: the second visit resumed, but its early data (0-RTT) was not accepted",
                kind.name()
            ),
            CompareError::HeaderBlocks(error) => write!(f, "HTTP/2 header blocks: {error}"),
            CompareError::PathCommand { command, error } => write!(f, "{command}: {error}"),
            CompareError::LossySetup { what, error } => write!(f, "{what}: {error}"),
            CompareError::Download { version, error } => {
                write!(f, "{version} download: {error}")
            }
            CompareError::NotDownloaded(kind) => write!(
                f,
                "{}: the rebinding run downloads over HTTPS, HTTP/2 and HTTP/3 only",
                kind.name()
            ),
            CompareError::Status { kind, status } => {
                write!(
                    f,
                    "{}: the file was answered with status {status}",
                    kind.name()
                )
            }
            CompareError::Peer { program, error } => write!(f, "{program}: {error}"),
            CompareError::NotRebound(kind) => write!(
                f,
                "{}: the download ended before the path changed the client's address",
                kind.name()
            ),
        }
    }
}

impl std::error::Error for CompareError {}

/// The transport's client failed: `map_err(client(kind))`.
pub(super) fn client<E: fmt::Display>(kind: Kind) -> impl Fn(E) -> CompareError {
    move |e| CompareError::Client {
        kind,
        error: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_way_of_failing_says_what_and_where() {
        let s = String::from;
        let table = [
            (
                CompareError::TooLarge {
                    size: 20_000_000,
                    max: 8_388_608,
                },
                "--size 20000000: at most 8388608 bytes, the HTTP/1.1 server's body limit",
            ),
            (
                CompareError::Start {
                    what: "HTTP/3",
                    error: s("address in use"),
                },
                "starting HTTP/3: address in use",
            ),
            (
                CompareError::Relay {
                    kind: Kind::Http1,
                    error: s("no port"),
                },
                "HTTP/1.1: relay: no port",
            ),
            (
                CompareError::Endpoint {
                    kind: Kind::Zmq,
                    endpoint: s("ipc://x"),
                },
                "ZeroMQ REQ/REP: endpoint ipc://x",
            ),
            (
                CompareError::NoFixedServer(Kind::WebRtc),
                "WebRTC data channel: no fixed server address (each exchange makes its answering peer)",
            ),
            (
                CompareError::Client {
                    kind: Kind::Http2,
                    error: s("connection refused"),
                },
                "HTTP/2 + TLS: connection refused",
            ),
            (
                CompareError::NoResponse(Kind::Http3),
                "HTTP/3 (QUIC): no response",
            ),
            (
                CompareError::Differs {
                    kind: Kind::TcpEcho,
                    back: 3,
                    sent: 4,
                },
                "TCP echo: the answer is not what was sent (3 bytes back for 4)",
            ),
            (
                CompareError::SessionEnded {
                    kind: Kind::WebRtc,
                    why: s("Closed"),
                },
                "WebRTC data channel: session ended: Closed",
            ),
            (
                CompareError::NoEcho(Kind::WebRtc),
                "WebRTC data channel: no echo in time",
            ),
            (
                CompareError::NotResumed(Kind::HttpsResumed),
                "HTTPS (resumed): the second visit made a full handshake (the first visit's ticket was not used)",
            ),
            (
                CompareError::NoEarlyData(Kind::Http3ZeroRtt),
                "HTTP/3 (0-RTT): the second visit resumed, but its early data (0-RTT) was not accepted",
            ),
            (
                CompareError::HeaderBlocks(s("no frames")),
                "HTTP/2 header blocks: no frames",
            ),
            (
                CompareError::PathCommand {
                    command: s("ip link set lo up"),
                    error: s("Operation not permitted"),
                },
                "ip link set lo up: Operation not permitted",
            ),
            (
                CompareError::LossySetup {
                    what: "bind",
                    error: s("address in use"),
                },
                "bind: address in use",
            ),
            (
                CompareError::Download {
                    version: "HTTP/2",
                    error: s("stream reset"),
                },
                "HTTP/2 download: stream reset",
            ),
            (
                CompareError::TooSmall {
                    size: 10,
                    min: 100_000,
                },
                "--size 10: with --rebind at least 100000 bytes (the address changes after half the file)",
            ),
            (
                CompareError::NotDownloaded(Kind::Grpc),
                "gRPC (HTTP/2 cleartext): the rebinding run downloads over HTTPS, HTTP/2 and HTTP/3 only",
            ),
            (
                CompareError::Status {
                    kind: Kind::Http3,
                    status: 404,
                },
                "HTTP/3 (QUIC): the file was answered with status 404",
            ),
            (
                CompareError::NotRebound(Kind::Http2),
                "HTTP/2 + TLS: the download ended before the path changed the client's address",
            ),
            (
                CompareError::Peer {
                    program: "gtlsserver",
                    error: s("exited at once: exit status: 1"),
                },
                "gtlsserver: exited at once: exit status: 1",
            ),
        ];
        for (error, text) in table {
            assert_eq!(error.to_string(), text);
            assert!(!text.contains('\n'), "one line: {text}");
        }
    }
}
