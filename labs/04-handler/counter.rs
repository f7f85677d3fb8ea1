//! Lab 04 — the file you edit: a handler for one resource, `/counter`, with the semantics of
//! RFC 9110's methods. README.md lists what each method must do; today only GET works.
//! Check with `make check LAB=04`.

use netlab::http::message::{Request, Response};
use std::sync::Mutex;

/// The resource's state: one number, shared by every connection's thread.
#[derive(Default)]
pub struct Counter {
    pub value: Mutex<i64>,
}

pub fn handle(counter: &Counter, req: &Request) -> Response {
    let value = *counter.value.lock().unwrap_or_else(|e| e.into_inner());
    match req.method.as_str() {
        "GET" => Response::text(200, &value.to_string()),
        // TODO: HEAD, POST (add one), PUT (set), DELETE (reset), ETag and If-Match,
        // and 405 with Allow for every other method.
        _ => Response::text(405, "not yet"),
    }
}
