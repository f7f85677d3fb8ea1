//! Lab 05 — the file you edit: one new operation, "search the notes", offered twice — as a
//! REST resource and as a SOAP operation — over the same store. README.md gives both
//! contracts. Check with `make check LAB=05`.
//!
//! Useful tools: `netlab::http::services::files::percent_decode` (query strings),
//! `serde_json::json!` (JSON), `roxmltree::Document::parse` (XML), and in
//! `netlab::http::services::soap`: `fault`, `escape`, `ENVELOPE_NS`, `NOTES_NS`.

use netlab::http::message::{Request, Response};
use netlab::http::services::notes::Store;
use netlab::http::services::soap;

/// The notes whose text contains `query`, ignoring case, in id order.
pub fn search(store: &Store, query: &str) -> Vec<(u64, String)> {
    // TODO: keep only the matching notes.
    let _ = query;
    store.list()
}

/// REST: `GET /api/search?q=WORD` → 200 and a JSON array of notes `{"id": N, "text": "…"}`.
pub fn rest(store: &Store, req: &Request) -> Response {
    let _ = (store, req);
    Response::text(501, "search is not implemented yet")
}

/// SOAP: `POST /soap/search` with `<n:SearchNotes><n:query>WORD</n:query></n:SearchNotes>` →
/// `<n:SearchNotesResponse>` holding one `<n:note><n:id>…</n:id><n:text>…</n:text></n:note>` each.
pub fn soap(store: &Store, req: &Request) -> Response {
    let _ = (store, req);
    soap::fault("Server", "SearchNotes is not implemented yet")
}
