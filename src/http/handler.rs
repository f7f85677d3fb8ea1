//! The handler API: anything that turns a [`Request`] into a [`Response`]. A plain `fn`, a
//! closure and a [`Router`](super::router::Router) are all handlers, and the same handler
//! serves HTTP/1.1 (`http1::server`) and, as they land, HTTP/2 and HTTP/3: the version's
//! server loop reads the request off its wire, calls `handle`, and writes the answer back.
//!
//! ```
//! use netlab::http::handler::Handler;
//! use netlab::http::message::{Request, Response};
//! fn hello(_: &Request) -> Response { Response::text(200, "hello") }
//! assert_eq!(hello.handle(&Request::new("GET", "/")).status, 200);
//! ```

use super::message::{Request, Response};

/// Anything that turns a request into a response: a plain `fn`, a closure, a router.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request) -> Response;
}

impl<F> Handler for F
where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    fn handle(&self, req: &Request) -> Response {
        self(req)
    }
}
