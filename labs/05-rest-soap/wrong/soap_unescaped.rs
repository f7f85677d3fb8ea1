//! Lab 05 — a plausible wrong solution, kept so that the check is proved to catch it:
//! the note's text goes into the SOAP envelope as it is, so a note with `&` or `<` makes the
//! answer malformed XML (XML 1.0 §2.4: they must be escaped as `&amp;` and `&lt;`).
//! `make check LAB=05 WRONG=soap_unescaped` shows the failure.

use netlab::http::message::{Request, Response};
use netlab::http::services::files::percent_decode;
use netlab::http::services::notes::Store;
use netlab::http::services::soap::{ENVELOPE_NS, NOTES_NS, fault};
use serde_json::json;

pub fn search(store: &Store, query: &str) -> Vec<(u64, String)> {
    let q = query.to_lowercase();
    store
        .list()
        .into_iter()
        .filter(|(_, text)| text.to_lowercase().contains(&q))
        .collect()
}

/// The value of `name` in a query string `a=1&q=two%20words` (`+` is a space in forms).
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name)
            .then(|| percent_decode(&v.replace('+', " ")).and_then(|b| String::from_utf8(b).ok()))?
    })
}

pub fn rest(store: &Store, req: &Request) -> Response {
    let Some(q) = req
        .query()
        .and_then(|qs| query_param(qs, "q"))
        .filter(|q| !q.is_empty())
    else {
        return Response::text(400, "use /api/search?q=WORD");
    };
    let notes: Vec<_> = search(store, &q)
        .into_iter()
        .map(|(id, text)| json!({ "id": id, "text": text }))
        .collect();
    Response::with_body(
        200,
        "application/json",
        format!("{}\n", serde_json::Value::Array(notes)),
    )
}

pub fn soap(store: &Store, req: &Request) -> Response {
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return fault("Client", "the envelope is not UTF-8");
    };
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return fault("Client", "the envelope is not well-formed XML");
    };
    let op = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "SearchNotes");
    let query = op
        .and_then(|op| {
            op.children()
                .find(|c| c.is_element() && c.tag_name().name() == "query")
        })
        .and_then(|q| q.text());
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return fault("Client", "SearchNotes needs a <query>");
    };
    let notes: String = search(store, query)
        .iter()
        .map(|(id, t)| {
            format!(
                // WRONG: the text is not XML-escaped.
                "<n:note><n:id>{id}</n:id><n:text>{t}</n:text></n:note>"
            )
        })
        .collect();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap:Envelope xmlns:soap=\"{ENVELOPE_NS}\" xmlns:n=\"{NOTES_NS}\"><soap:Body><n:SearchNotesResponse>{notes}</n:SearchNotesResponse></soap:Body></soap:Envelope>\n"
    );
    Response::with_body(200, "text/xml; charset=utf-8", body)
}
