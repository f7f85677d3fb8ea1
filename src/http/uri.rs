//! http and https URIs (RFC 3986 §3, RFC 9110 §4.2): scheme, authority (host and port) and
//! the path-and-query that becomes the request-target.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// An absolute http(s) URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    /// The host as written, without brackets for IPv6 literals.
    pub host: String,
    pub port: u16,
    /// origin-form: path (at least `/`) and `?query`, without the fragment.
    pub target: String,
}

/// One variant per part of the URI that is wrong.
#[derive(Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Only http:// and https:// are supported.
    Scheme(String),
    /// The authority has no host.
    Host,
    /// The port is not a number from 1 to 65535.
    Port(String),
    /// userinfo (`user:pass@`) is deprecated in http(s) URIs (RFC 9110 §4.2.4).
    UserInfo,
    /// A character that may not appear in a URI (spaces, controls, non-ASCII, bad %-escape).
    Character,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Scheme(s) => write!(f, "unsupported scheme '{s}': use http:// or https://"),
            UrlError::Host => f.write_str("the URL has no host (RFC 3986 §3.2.2)"),
            UrlError::Port(p) => write!(f, "bad port '{p}' (RFC 3986 §3.2.3)"),
            UrlError::UserInfo => {
                f.write_str("user:password@ in http(s) URLs is not supported (RFC 9110 §4.2.4)")
            }
            UrlError::Character => {
                f.write_str("invalid character or %-escape in the URL (RFC 3986 §2)")
            }
        }
    }
}

impl std::error::Error for UrlError {}

impl Url {
    /// Parses `http://host[:port][/path][?query][#fragment]`.
    pub fn parse(s: &str) -> Result<Url, UrlError> {
        if !s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(UrlError::Character);
        }
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| UrlError::Scheme(s.to_string()))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(UrlError::Scheme(other.to_string())),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_host_port(authority, scheme.default_port())?;
        let tail = tail.split('#').next().unwrap_or_default();
        let target = if tail.starts_with('/') {
            tail.to_string()
        } else {
            format!("/{tail}")
        };
        check_escapes(&target)?;
        Ok(Url {
            scheme,
            host,
            port,
            target,
        })
    }

    /// `host:port` as the Host field and CONNECT want it (brackets around IPv6).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// `host:port`, port always present (for connect and CONNECT).
    pub fn host_port(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{host}:{}", self.port)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.name(),
            self.authority(),
            self.target
        )
    }
}

/// `host[:port]` or `[v6][:port]`.
pub fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or(UrlError::Host)?;
        match after {
            "" => (h, None),
            p => (
                h,
                Some(p.strip_prefix(':').ok_or(UrlError::Port(p.to_string()))?),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    // RFC 3986 §3.2.2: `[` and `]` only delimit an IP-literal, and a colon in a host only
    // comes inside one (else "a:b:80" would print back as "[a:b]:80", another authority).
    let bracketed = authority.starts_with('[');
    let stray = |c: char| c == '[' || c == ']' || (c == ':' && !bracketed);
    if host.is_empty() || host.contains(stray) {
        return Err(UrlError::Host);
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(UrlError::Port(p.to_string())),
        },
    };
    Ok((host.to_string(), port))
}

fn check_escapes(s: &str) -> Result<(), UrlError> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(UrlError::Character);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let u = Url::parse("http://127.0.0.1:8080/api/notes?x=1#frag").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.target.as_str()),
            (Scheme::Http, "127.0.0.1", 8080, "/api/notes?x=1")
        );
        let u = Url::parse("https://localhost").unwrap();
        assert_eq!(
            (u.port, u.target.as_str(), u.authority()),
            (443, "/", "localhost".to_string())
        );
        let u = Url::parse("http://[::1]:9/x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority(), u.host_port()),
            ("::1", 9, "[::1]:9".into(), "[::1]:9".into())
        );
        let u = Url::parse("HTTP://a?q").unwrap();
        assert_eq!(u.target, "/?q");
        assert_eq!(u.to_string(), "http://a/?q");
    }

    #[test]
    fn errors_name_the_part() {
        assert_eq!(Url::parse("ftp://a/"), Err(UrlError::Scheme("ftp".into())));
        assert_eq!(
            Url::parse("localhost:8080"),
            Err(UrlError::Scheme("localhost:8080".into()))
        );
        assert_eq!(Url::parse("http:///x"), Err(UrlError::Host));
        assert_eq!(Url::parse("http://a:0/"), Err(UrlError::Port("0".into())));
        assert_eq!(
            Url::parse("http://a:99999/"),
            Err(UrlError::Port("99999".into()))
        );
        assert_eq!(
            Url::parse("http://a:+80/"),
            Err(UrlError::Port("+80".into()))
        );
        assert_eq!(Url::parse("http://u:p@a/"), Err(UrlError::UserInfo));
        assert_eq!(Url::parse("http://a/b c"), Err(UrlError::Character));
        assert_eq!(Url::parse("http://a/%zz"), Err(UrlError::Character));
        assert_eq!(Url::parse("http://[::1/"), Err(UrlError::Host));
    }
}
