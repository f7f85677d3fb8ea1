//! Alternative services (RFC 7838): how a server reached over TCP tells a client that the same
//! origin also answers elsewhere — here, over HTTP/3 on a UDP port (RFC 9114 §3.1.1).
//!
//! A browser that gets `Alt-Svc: h3=":4433"; ma=86400` on an HTTPS response remembers, for
//! `ma` seconds, that this origin speaks HTTP/3 on UDP port 4433 of the same host. Its next
//! requests try QUIC there (racing it against TCP, keeping TCP if QUIC fails), so the first
//! page comes over HTTP/1.1 or HTTP/2 and later ones over HTTP/3. Nothing in the URL changes.
//!
//! ```
//! use netlab::http::alt_svc::AltSvc;
//! use netlab::http::handler::Handler;
//! use netlab::http::message::{Request, Response};
//! fn page(_: &Request) -> Response { Response::text(200, "hi") }
//! let h = AltSvc::h3(page, 4433);
//! let r = h.handle(&Request::new("GET", "/"));
//! assert_eq!(r.headers.get("alt-svc"), Some("h3=\":4433\"; ma=86400"));
//! ```

use super::handler::Handler;
use super::message::{Request, Response, Version};

/// A handler that adds an `Alt-Svc` field to every response it did not get over HTTP/3.
pub struct AltSvc<H> {
    inner: H,
    value: String,
}

impl<H: Handler> AltSvc<H> {
    /// Advertises HTTP/3 on `port` of the same host, remembered for a day (`ma`, seconds).
    pub fn h3(inner: H, port: u16) -> AltSvc<H> {
        AltSvc {
            inner,
            value: format!("h3=\":{port}\"; ma=86400"),
        }
    }
}

impl<H: Handler> Handler for AltSvc<H> {
    fn handle(&self, req: &Request) -> Response {
        let mut resp = self.inner.handle(req);
        // Over HTTP/3 the client is already where the field would send it.
        if req.version != Version::HTTP_3 && !resp.headers.contains("alt-svc") {
            resp.headers.append("Alt-Svc", &self.value);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_over_http3() {
        let h = AltSvc::h3(|_: &Request| Response::new(204), 443);
        let mut req = Request::new("GET", "/");
        req.version = Version::HTTP_2;
        assert_eq!(
            h.handle(&req).headers.get("alt-svc"),
            Some("h3=\":443\"; ma=86400")
        );
        req.version = Version::HTTP_3;
        assert_eq!(h.handle(&req).headers.get("alt-svc"), None);
    }
}
