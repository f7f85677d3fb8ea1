//! The transports the comparison puts side by side, in the order of the course: their names
//! in the table, and which of them run over TCP.

/// The transports, in the order of the course.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    TcpEcho,
    Zmq,
    Http1,
    Https,
    Http2,
    Grpc,
    Http3,
    WebRtc,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::TcpEcho,
        Kind::Zmq,
        Kind::Http1,
        Kind::Https,
        Kind::Http2,
        Kind::Grpc,
        Kind::Http3,
        Kind::WebRtc,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::TcpEcho => "TCP echo",
            Kind::Zmq => "ZeroMQ REQ/REP",
            Kind::Http1 => "HTTP/1.1",
            Kind::Https => "HTTPS (HTTP/1.1 + TLS)",
            Kind::Http2 => "HTTP/2 + TLS",
            Kind::Grpc => "gRPC (HTTP/2 cleartext)",
            Kind::Http3 => "HTTP/3 (QUIC)",
            Kind::WebRtc => "WebRTC data channel",
        }
    }

    /// Over TCP: one round trip (SYN, SYN-ACK) happens in the kernel before any relay sees
    /// a byte.
    pub fn over_tcp(self) -> bool {
        !matches!(self, Kind::Http3 | Kind::WebRtc)
    }
}
