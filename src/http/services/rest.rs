//! The notes as a REST resource with JSON representations (RFC 9110 semantics):
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/notes` | 200, `[{"id":1,"text":"…"}, …]` |
//! | `POST /api/notes` `{"text":"…"}` | 201 + `Location: /api/notes/N` + the note |
//! | `GET /api/notes/N` | 200 + the note, or 404 |
//! | `PUT /api/notes/N` `{"text":"…"}` | 200 + the note, or 404 |
//! | `DELETE /api/notes/N` | 204, or 404 |
//!
//! A body that is not `application/json` gets 415 (RFC 9110 §15.5.16), JSON that is not
//! `{"text": string}` gets 400, another method 405 with `Allow` (from the router).

use super::notes::{Notes, Unreachable};
use crate::http::message::{Request, Response};
use crate::http::router::Router;
use serde_json::{Value, json};
use std::sync::Arc;

pub const JSON: &str = "application/json";

fn note(id: u64, text: &str) -> Value {
    json!({ "id": id, "text": text })
}

fn json_response(status: u16, v: &Value) -> Response {
    Response::with_body(status, JSON, format!("{v}\n"))
}

/// An error as a JSON problem document (RFC 9457).
pub fn problem(status: u16, detail: &str) -> Response {
    let v =
        json!({ "title": crate::http::status::reason(status), "status": status, "detail": detail });
    Response::with_body(status, "application/problem+json", format!("{v}\n"))
}

/// The `{"text": "…"}` of a request body, or the response that says what is wrong.
fn text_of(req: &Request) -> Result<String, Response> {
    if req.media_type().as_deref() != Some(JSON) {
        return Err(problem(415, "send the note as application/json"));
    }
    let v: Value = serde_json::from_slice(&req.body)
        .map_err(|e| problem(400, &format!("the body is not JSON: {e}")))?;
    match v.get("text") {
        Some(Value::String(t)) => Ok(t.clone()),
        _ => Err(problem(400, "expected a JSON object {\"text\": string}")),
    }
}

/// The N of `/api/notes/N`.
fn id_of(req: &Request) -> Option<u64> {
    req.path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()?
        .parse()
        .ok()
}

fn missing(req: &Request) -> Response {
    problem(404, &format!("no note at {}", req.path()))
}

/// The notes live elsewhere and did not answer: 502 (RFC 9110 §15.6.3).
fn unreachable(e: Unreachable) -> Response {
    problem(502, &format!("the notes service failed: {}", e.0))
}

/// Adds the REST routes to a router, over wherever the notes live.
pub fn routes(router: Router, notes: Arc<dyn Notes>) -> Router {
    let (s1, s2, s3, s4, s5) = (
        notes.clone(),
        notes.clone(),
        notes.clone(),
        notes.clone(),
        notes,
    );
    router
        .get("/api/notes", move |_: &Request| match s1.list() {
            Ok(list) => {
                let all: Vec<Value> = list.iter().map(|(id, t)| note(*id, t)).collect();
                json_response(200, &Value::Array(all))
            }
            Err(e) => unreachable(e),
        })
        .post("/api/notes", move |req: &Request| match text_of(req) {
            Ok(text) => match s2.create(&text) {
                Ok(id) => json_response(201, &note(id, &text))
                    .header("Location", &format!("/api/notes/{id}")),
                Err(e) => unreachable(e),
            },
            Err(resp) => resp,
        })
        .get("/api/notes/{id}", move |req: &Request| {
            let Some(id) = id_of(req) else {
                return missing(req);
            };
            match s3.get(id) {
                Ok(Some(text)) => json_response(200, &note(id, &text)),
                Ok(None) => missing(req),
                Err(e) => unreachable(e),
            }
        })
        .put("/api/notes/{id}", move |req: &Request| {
            let text = match text_of(req) {
                Ok(t) => t,
                Err(resp) => return resp,
            };
            let Some(id) = id_of(req) else {
                return missing(req);
            };
            match s4.update(id, &text) {
                Ok(true) => json_response(200, &note(id, &text)),
                Ok(false) => missing(req),
                Err(e) => unreachable(e),
            }
        })
        .delete("/api/notes/{id}", move |req: &Request| {
            let Some(id) = id_of(req) else {
                return missing(req);
            };
            match s5.delete(id) {
                Ok(true) => Response::new(204),
                Ok(false) => missing(req),
                Err(e) => unreachable(e),
            }
        })
}
