//! The transports the comparison puts side by side, in the order of the course: their names
//! in the table, and which of them run over TCP. Two rows are a second visit: a client that
//! was here before resumes with the ticket its first visit got (TLS 1.3 resumption for
//! HTTPS, 0-RTT for HTTP/3), next to the first visit's row.

/// The transports, in the order of the course.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    TcpEcho,
    Zmq,
    Http1,
    Https,
    /// HTTPS again, resuming TLS 1.3 with a ticket of an earlier visit.
    HttpsResumed,
    Http2,
    Grpc,
    Http3,
    /// HTTP/3 again, the request sent in 0-RTT with a ticket of an earlier visit.
    Http3ZeroRtt,
    WebRtc,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::TcpEcho,
        Kind::Zmq,
        Kind::Http1,
        Kind::Https,
        Kind::HttpsResumed,
        Kind::Http2,
        Kind::Grpc,
        Kind::Http3,
        Kind::Http3ZeroRtt,
        Kind::WebRtc,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::TcpEcho => "TCP echo",
            Kind::Zmq => "ZeroMQ REQ/REP",
            Kind::Http1 => "HTTP/1.1",
            Kind::Https => "HTTPS (HTTP/1.1 + TLS)",
            Kind::HttpsResumed => "HTTPS (resumed)",
            Kind::Http2 => "HTTP/2 + TLS",
            Kind::Grpc => "gRPC (HTTP/2 cleartext)",
            Kind::Http3 => "HTTP/3 (QUIC)",
            Kind::Http3ZeroRtt => "HTTP/3 (0-RTT)",
            Kind::WebRtc => "WebRTC data channel",
        }
    }

    /// Over TCP: one round trip (SYN, SYN-ACK) happens in the kernel before any relay sees
    /// a byte.
    pub fn over_tcp(self) -> bool {
        !matches!(self, Kind::Http3 | Kind::Http3ZeroRtt | Kind::WebRtc)
    }

    /// A second visit: its client visits once first (not measured) for a ticket.
    pub fn second_visit(self) -> bool {
        matches!(self, Kind::HttpsResumed | Kind::Http3ZeroRtt)
    }
}
