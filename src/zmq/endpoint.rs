//! ZeroMQ endpoints: `tcp://HOST:PORT`, the address a socket binds or connects to
//! (zmq_tcp(7); the `tcp` transport of RFC 37/ZMTP "Implementation").
//!
//! libzmq accepts many forms (interface names, `ipc://`, `inproc://`, `pgm://`). netlab keeps
//! to TCP on IP addresses, so that every endpoint can be seen with `netlab sockets` and decoded
//! with `netlab tap`, and checks the string here, before libzmq, so that a typo gives a
//! sentence instead of `Invalid argument`.

use std::fmt;
use std::net::IpAddr;

/// A parsed `tcp://HOST:PORT` endpoint. `port == None` is `*`: the kernel picks one at bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: Option<u16>,
}

/// Why an endpoint string was refused. One variant per part of `tcp://HOST:PORT`.
#[derive(Debug, PartialEq, Eq)]
pub enum EndpointError {
    /// No `://` at all.
    NoScheme(String),
    /// A transport other than tcp (`ipc`, `inproc`, `udp`…).
    Transport(String),
    /// Nothing between `://` and `:PORT`.
    NoHost(String),
    /// The host is not an IP address (nor `localhost`).
    Host(String),
    /// No `:PORT` after the host.
    NoPort(String),
    /// The port is not `*` nor a number from 0 to 65535.
    Port(String),
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let form = "expected tcp://HOST:PORT such as tcp://127.0.0.1:5555 (port * or 0: the kernel picks one)";
        match self {
            EndpointError::NoScheme(s) => write!(f, "bad endpoint '{s}': no transport: {form}"),
            EndpointError::Transport(s) => write!(
                f,
                "bad endpoint '{s}': netlab speaks ZeroMQ over tcp:// only: {form}"
            ),
            EndpointError::NoHost(s) => write!(f, "bad endpoint '{s}': no host: {form}"),
            EndpointError::Host(s) => write!(
                f,
                "bad endpoint '{s}': the host must be an IP address such as 127.0.0.1 or [::1] (or localhost): {form}"
            ),
            EndpointError::NoPort(s) => write!(f, "bad endpoint '{s}': no port: {form}"),
            EndpointError::Port(s) => write!(f, "bad endpoint '{s}': bad port: {form}"),
        }
    }
}

impl std::error::Error for EndpointError {}

impl Endpoint {
    /// Parses `tcp://HOST:PORT`, `tcp://HOST:*` or `tcp://[::1]:PORT`.
    pub fn parse(text: &str) -> Result<Endpoint, EndpointError> {
        let bad = |make: fn(String) -> EndpointError| make(text.to_string());
        let (transport, rest) = text
            .split_once("://")
            .ok_or_else(|| bad(EndpointError::NoScheme))?;
        if transport != "tcp" {
            return Err(bad(EndpointError::Transport));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some(pair) => pair,
            None if rest.is_empty() => return Err(bad(EndpointError::NoHost)),
            None => return Err(bad(EndpointError::NoPort)),
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(bad(EndpointError::NoHost));
        }
        // libzmq binds IP addresses and interface names, not host names: `localhost` is
        // taken to mean 127.0.0.1 for both bind and connect.
        let host = if host == "localhost" {
            "127.0.0.1"
        } else {
            host
        };
        if host.parse::<IpAddr>().is_err() {
            return Err(bad(EndpointError::Host));
        }
        let port = match port {
            "*" | "0" => None,
            p => match p.parse::<u16>() {
                Ok(n) => Some(n),
                Err(_) => return Err(bad(EndpointError::Port)),
            },
        };
        Ok(Endpoint {
            host: host.to_string(),
            port,
        })
    }
}

/// The form libzmq takes: IPv6 in brackets, `*` for "any port".
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => write!(f, "tcp://{host}:{p}"),
            None => write!(f, "tcp://{host}:*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_endpoints() {
        let e = Endpoint::parse("tcp://127.0.0.1:5555").unwrap();
        assert_eq!(e.port, Some(5555));
        assert_eq!(e.to_string(), "tcp://127.0.0.1:5555");
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:*").unwrap().to_string(),
            "tcp://127.0.0.1:*"
        );
        assert_eq!(Endpoint::parse("tcp://127.0.0.1:0").unwrap().port, None);
        assert_eq!(
            Endpoint::parse("tcp://[::1]:7").unwrap().to_string(),
            "tcp://[::1]:7"
        );
        assert_eq!(
            Endpoint::parse("tcp://localhost:1").unwrap().host,
            "127.0.0.1"
        );
    }

    #[test]
    fn bad_endpoints_name_the_part() {
        type Make = fn(String) -> EndpointError;
        let cases: [(&str, Make); 8] = [
            ("127.0.0.1:5555", EndpointError::NoScheme),
            ("ipc:///tmp/x", EndpointError::Transport),
            ("udp://127.0.0.1:5", EndpointError::Transport),
            ("tcp://", EndpointError::NoHost),
            ("tcp://:5555", EndpointError::NoHost),
            ("tcp://127.0.0.1", EndpointError::NoPort),
            ("tcp://eth0:5555", EndpointError::Host),
            ("tcp://127.0.0.1:http", EndpointError::Port),
        ];
        for (text, want) in cases {
            assert_eq!(Endpoint::parse(text), Err(want(text.into())), "{text}");
        }
        assert!(matches!(
            Endpoint::parse("tcp://127.0.0.1:70000"),
            Err(EndpointError::Port(_))
        ));
        let msg = Endpoint::parse("tcp//x").unwrap_err().to_string();
        assert!(msg.contains("expected tcp://HOST:PORT"), "{msg}");
    }
}
