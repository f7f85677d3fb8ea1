//! Routing: which handler answers which method on which path, and the answers HTTP defines
//! when none does — 404, 405 with `Allow` (RFC 9110 §15.5.6), `OPTIONS` (§9.3.7) and
//! `TRACE` (§9.3.8).
//!
//! ```
//! use netlab::http::router::Router;
//! use netlab::http::message::{Request, Response};
//! fn hello(_: &Request) -> Response { Response::text(200, "hello") }
//! let router = Router::new().get("/hello", hello);
//! ```

use super::handler::Handler;
use super::message::{Request, Response};
use crate::trace::{self, Layer};
use std::sync::Arc;

/// A path pattern: literal segments, `{name}` for any one segment, `*` at the end for the
/// rest of the path.
#[derive(Clone, Debug)]
struct Pattern(Vec<String>);

impl Pattern {
    fn new(p: &str) -> Pattern {
        Pattern(
            p.trim_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        )
    }

    /// The pattern as it was written: `/notes/{id}`.
    fn display(&self) -> String {
        format!("/{}", self.0.join("/"))
    }

    fn matches(&self, path: &str) -> bool {
        // Segment by segment, as the path is walked: no list of segments is built.
        let mut segs = path.split('/').filter(|s| !s.is_empty());
        for (k, want) in self.0.iter().enumerate() {
            if want == "*" && k == self.0.len() - 1 {
                return true;
            }
            match segs.next() {
                Some(seg) if want.starts_with('{') || want == seg => {}
                _ => return false,
            }
        }
        segs.next().is_none()
    }
}

struct Route {
    pattern: Pattern,
    methods: Vec<(String, Arc<dyn Handler>)>,
}

/// Maps method + path to handlers.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    fallback: Option<Arc<dyn Handler>>,
    /// TRACE echoes requests back; it can be switched off (see the README on XST).
    pub trace_enabled: bool,
}

impl Router {
    pub fn new() -> Router {
        Router {
            trace_enabled: true,
            ..Router::default()
        }
    }

    /// Adds a handler for `method` on `pattern`.
    pub fn route(mut self, method: &str, pattern: &str, h: impl Handler) -> Router {
        let h: Arc<dyn Handler> = Arc::new(h);
        match self
            .routes
            .iter_mut()
            .find(|r| r.pattern.0 == Pattern::new(pattern).0)
        {
            Some(r) => r.methods.push((method.to_string(), h)),
            None => self.routes.push(Route {
                pattern: Pattern::new(pattern),
                methods: vec![(method.to_string(), h)],
            }),
        }
        self
    }

    pub fn get(self, p: &str, h: impl Handler) -> Router {
        self.route("GET", p, h)
    }
    pub fn post(self, p: &str, h: impl Handler) -> Router {
        self.route("POST", p, h)
    }
    pub fn put(self, p: &str, h: impl Handler) -> Router {
        self.route("PUT", p, h)
    }
    pub fn delete(self, p: &str, h: impl Handler) -> Router {
        self.route("DELETE", p, h)
    }

    /// Answers requests no route matches (static files, a gateway's upstream…).
    pub fn fallback(mut self, h: impl Handler) -> Router {
        self.fallback = Some(Arc::new(h));
        self
    }

    /// The Allow field for a route: its methods, HEAD wherever GET is, OPTIONS, TRACE.
    fn allow(&self, methods: &[&str]) -> String {
        let mut all: Vec<&str> = methods.to_vec();
        if all.contains(&"GET") && !all.contains(&"HEAD") {
            all.push("HEAD");
        }
        all.push("OPTIONS");
        if self.trace_enabled {
            all.push("TRACE");
        }
        all.dedup();
        all.join(", ")
    }
}

impl Handler for Router {
    fn handle(&self, req: &Request) -> Response {
        if req.method == "TRACE" && self.trace_enabled {
            trace::event(Layer::Http, || {
                format!("route: TRACE {} → the request echoed back", req.target)
            });
            return trace_echo(req);
        }
        if req.method == "OPTIONS" && req.target == "*" {
            // OPTIONS * asks about the server as a whole.
            let mut every: Vec<&str> = Vec::new();
            for r in &self.routes {
                for (m, _) in &r.methods {
                    if !every.contains(&m.as_str()) {
                        every.push(m);
                    }
                }
            }
            return Response::new(204).header("Allow", &self.allow(&every));
        }
        let path = req.path();
        let Some(route) = self.routes.iter().find(|r| r.pattern.matches(path)) else {
            trace::event(Layer::Http, || match &self.fallback {
                Some(_) => format!(
                    "route: {} {path} → no route; the fallback answers",
                    req.method
                ),
                None => format!("route: {} {path} → no route: 404", req.method),
            });
            return match &self.fallback {
                Some(h) => h.handle(req),
                None => Response::text(404, &format!("no resource at {path}")),
            };
        };
        let wanted = if req.method == "HEAD" && !route.methods.iter().any(|(m, _)| m == "HEAD") {
            // HEAD is GET without the body; the server drops the body (RFC 9110 §9.3.2).
            "GET"
        } else {
            req.method.as_str()
        };
        if let Some((_, h)) = route.methods.iter().find(|(m, _)| m == wanted) {
            trace::event(Layer::Http, || {
                format!(
                    "route: {} {path} → {wanted} {}",
                    req.method,
                    route.pattern.display()
                )
            });
            return h.handle(req);
        }
        trace::event(Layer::Http, || {
            format!(
                "route: {} {path} → {} has no {} handler",
                req.method,
                route.pattern.display(),
                req.method
            )
        });
        let methods: Vec<&str> = route.methods.iter().map(|(m, _)| m.as_str()).collect();
        let allow = self.allow(&methods);
        if req.method == "OPTIONS" {
            return Response::new(204).header("Allow", &allow);
        }
        Response::text(
            405,
            &format!("{} is not allowed on {path}; allowed: {allow}", req.method),
        )
        .header("Allow", &allow)
    }
}

/// TRACE (RFC 9110 §9.3.8): the request as received, as a `message/http` body. Fields that
/// likely hold credentials are left out, as the RFC advises — the cross-site-tracing attack
/// (XST) used TRACE to read cookies that scripts could not.
pub fn trace_echo(req: &Request) -> Response {
    let mut body = format!("{} {} {}\r\n", req.method, req.target, req.version).into_bytes();
    for (name, value) in req.headers.iter() {
        let secret = ["authorization", "proxy-authorization", "cookie"]
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s));
        if !secret {
            body.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
    }
    body.extend_from_slice(b"\r\n");
    Response::with_body(200, "message/http", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Request) -> Response {
        Response::text(200, "ok")
    }

    fn router() -> Router {
        Router::new()
            .get("/a", ok)
            .post("/a", ok)
            .get("/notes/{id}", ok)
            .delete("/notes/{id}", ok)
            .get("/files/*", ok)
    }

    fn status(r: &Router, method: &str, target: &str) -> (u16, Option<String>) {
        let resp = r.handle(&Request::new(method, target));
        (resp.status, resp.headers.get("allow").map(String::from))
    }

    #[test]
    fn patterns() {
        assert!(Pattern::new("/notes/{id}").matches("/notes/3"));
        assert!(!Pattern::new("/notes/{id}").matches("/notes"));
        assert!(!Pattern::new("/notes/{id}").matches("/notes/3/x"));
        assert!(Pattern::new("/files/*").matches("/files/a/b/c"));
        assert!(Pattern::new("/").matches("/"));
        assert!(Pattern::new("/a").matches("/a/"));
    }

    #[test]
    fn methods_405_options_head() {
        let r = router();
        assert_eq!(status(&r, "GET", "/a").0, 200);
        assert_eq!(status(&r, "HEAD", "/a").0, 200);
        assert_eq!(
            status(&r, "PUT", "/a"),
            (405, Some("GET, POST, HEAD, OPTIONS, TRACE".into()))
        );
        assert_eq!(
            status(&r, "OPTIONS", "/notes/1"),
            (204, Some("GET, DELETE, HEAD, OPTIONS, TRACE".into()))
        );
        assert_eq!(
            status(&r, "OPTIONS", "*"),
            (204, Some("GET, POST, DELETE, HEAD, OPTIONS, TRACE".into()))
        );
        assert_eq!(status(&r, "GET", "/nothing").0, 404);
    }

    #[test]
    fn trace_echoes_without_credentials() {
        let mut req = Request::new("TRACE", "/x");
        req.headers.append("Host", "a");
        req.headers.append("Cookie", "secret=1");
        let resp = router().handle(&req);
        assert_eq!(resp.headers.get("content-type"), Some("message/http"));
        assert_eq!(resp.body, b"TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n");
    }
}
