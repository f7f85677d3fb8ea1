//! Lab 04 — a plausible wrong solution, kept so that the check is proved to catch it:
//! If-Match is honoured on PUT only, the method the lost-update story is told with. POST and
//! DELETE change the counter too, and README.md asks for the precondition on every
//! state-changing method (RFC 9110 §13.1.1 evaluates it before any method's action).
//! `make check LAB=04 WRONG=if_match_put_only` shows the failure.

use netlab::http::message::{Request, Response};
use std::sync::Mutex;

#[derive(Default)]
pub struct Counter {
    pub value: Mutex<i64>,
}

const ALLOW: &str = "GET, HEAD, POST, PUT, DELETE";

/// A strong validator for a value: it changes whenever the value does (RFC 9110 §8.8.3).
fn etag(value: i64) -> String {
    format!("\"v{value}\"")
}

fn current(value: i64, status: u16) -> Response {
    Response::text(status, &value.to_string()).header("ETag", &etag(value))
}

pub fn handle(counter: &Counter, req: &Request) -> Response {
    // One lock for the whole request: check-then-change must not race with other clients.
    let mut value = counter.value.lock().unwrap_or_else(|e| e.into_inner());
    // If-Match (RFC 9110 §13.1.1): change only if the client saw the current value.
    // WRONG: POST and DELETE change the value too.
    if req.method == "PUT" {
        if let Some(want) = req.headers.get("if-match") {
            if want.trim() != "*" && !want.split(',').any(|t| t.trim() == etag(*value)) {
                return Response::text(412, "the counter changed since you read it")
                    .header("ETag", &etag(*value));
            }
        }
    }
    match req.method.as_str() {
        // HEAD: the server drops the body but keeps the length.
        "GET" | "HEAD" => current(*value, 200),
        "POST" => {
            *value += 1;
            current(*value, 200)
        }
        "PUT" => match std::str::from_utf8(&req.body)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
        {
            Some(v) => {
                *value = v;
                current(v, 200)
            }
            None => Response::text(400, "PUT a whole number, as text"),
        },
        "DELETE" => {
            *value = 0;
            Response::new(204)
        }
        _ => Response::text(405, &format!("{} is not allowed on /counter", req.method))
            .header("Allow", ALLOW),
    }
}
