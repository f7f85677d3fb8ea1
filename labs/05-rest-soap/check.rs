//! Lab 05 check: runs the notes site with your search added as REST (`GET /api/search?q=`)
//! and as SOAP (`POST /soap/search`), fills the store over REST, and asks both.
//! Run: `make check LAB=05`.

#[path = "../common.rs"]
mod common;
#[allow(dead_code)] // the starter leaves search() unused
#[path = "search.rs"]
mod search;
#[path = "solution.rs"]
mod solution;

common::wrong_solutions! {
    fn operations(m) -> (Op, Op) { (m::rest, m::soap) }
    student search, solution solution;
    case_sensitive fails [1, 5]: "compares with case, so apple does not find Apple";
    no_percent_decode fails [2]: "searches for the query still percent-encoded (apple%20pie)";
    soap_unescaped fails [6]: "puts & and < into the SOAP answer unescaped (malformed XML)";
}

use common::Check;
use netlab::http::message::Request;
use netlab::http::services::{app, notes::Store};
use netlab::http::uri::Url;
use netlab::http1::client::{Client, Options, Outgoing};
use netlab::http1::server;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// A response body in a failure message: quoted, escaped, and cut (with its real length) only
/// past 400 bytes, so that a SOAP envelope shows its Body.
fn show(body: impl AsRef<[u8]>) -> String {
    netlab::trace::quoted(body.as_ref(), 400)
}

type Op = fn(&Store, &Request) -> netlab::http::message::Response;

fn send(
    client: &mut Client,
    method: &str,
    url: &str,
    ctype: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let mut req = Outgoing::new(method, Url::parse(url).map_err(|e| e.to_string())?);
    if !ctype.is_empty() {
        req.headers.append("Content-Type", ctype);
        req.headers
            .append("SOAPAction", "\"urn:netlab:notes#SearchNotes\"");
    }
    req.body = body.as_bytes().to_vec();
    let r = client.send(&req).map_err(|e| e.to_string())?;
    Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
}

/// The ids in a REST answer, which must be a JSON array of {"id", "text"} objects.
fn rest_ids(body: &str) -> Result<Vec<u64>, String> {
    let v: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| format!("the answer is not JSON ({e}): {shown}", shown = show(body)))?;
    let arr = v
        .as_array()
        .ok_or_else(|| format!("expected a JSON array, got {shown}", shown = show(body)))?;
    arr.iter()
        .map(|n| {
            match (
                n.get("id").and_then(|i| i.as_u64()),
                n.get("text").and_then(|t| t.as_str()),
            ) {
                (Some(id), Some(_)) => Ok(id),
                _ => Err(format!("each note needs \"id\" and \"text\": {n}")),
            }
        })
        .collect()
}

/// The ids in a SOAP answer: every <note><id> under SearchNotesResponse.
fn soap_ids(body: &str) -> Result<Vec<u64>, String> {
    let doc = roxmltree::Document::parse(body)
        .map_err(|e| format!("the answer is not XML ({e}): {shown}", shown = show(body)))?;
    let resp = doc
        .descendants()
        .find(|n| n.tag_name().name() == "SearchNotesResponse")
        .ok_or_else(|| format!("no SearchNotesResponse in {shown}", shown = show(body)))?;
    resp.descendants()
        .filter(|n| n.tag_name().name() == "note")
        .map(|n| {
            let id = n
                .children()
                .find(|c| c.tag_name().name() == "id")
                .and_then(|c| c.text())
                .unwrap_or_default();
            id.trim().parse().map_err(|_| {
                format!(
                    "a <note> without a numeric <id>: {shown}",
                    shown = show(body)
                )
            })
        })
        .collect()
}

fn envelope(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n="urn:netlab:notes"><s:Body>{inner}</s:Body></s:Envelope>"#
    )
}

fn main() {
    let (mut check, subject) = Check::start(
        "05 (REST vs SOAP)",
        "labs/05-rest-soap/search.rs",
        WRONG,
        Duration::from_secs(30),
    );
    let (rest, soap) = operations(&subject);
    let store = Store::new();
    let (s1, s2) = (store.clone(), store.clone());
    let router = app::monolith(store.clone(), None)
        .get("/api/search", move |r: &Request| rest(&s1, r))
        .post("/soap/search", move |r: &Request| soap(&s2, r));
    let listener = TcpListener::bind(check.listen_addr("127.0.0.1:8080")).unwrap_or_else(|e| {
        println!("cannot bind: {e}");
        std::process::exit(1)
    });
    let running = server::spawn(
        listener,
        Arc::new(router),
        check.http_config(),
        Arc::new(server::plain),
    )
    .unwrap_or_else(|e| {
        println!("cannot start: {e}");
        std::process::exit(1)
    });
    let base = format!("http://{}", running.addr());
    check.serve(
        &base,
        &[
            &format!("curl -i -H 'Content-Type: application/json' -d '{{\"text\":\"apple pie\"}}' {base}/api/notes"),
            &format!("curl -i '{base}/api/search?q=apple'"),
            &format!("curl -i -H 'Content-Type: text/xml' -d @envelope.xml {base}/soap/search"),
        ],
    );
    let mut c = Client::new(Options::default());
    for text in ["apple pie", "Apple juice", "banana bread", "pie chart"] {
        let _ = send(
            &mut c,
            "POST",
            &format!("{base}/api/notes"),
            "application/json",
            &format!("{{\"text\":\"{text}\"}}"),
        );
    }
    let rest_get = |q: &str| {
        send(
            &mut Client::new(Options::default()),
            "GET",
            &format!("{base}/api/search{q}"),
            "",
            "",
        )
    };
    check.step(
        "REST: GET /api/search?q=apple finds notes 1 and 2, ignoring case",
        || match rest_get("?q=apple")? {
            (200, body) if rest_ids(&body)? == [1, 2] => Ok(()),
            (status, body) => Err(format!(
                "expected 200 and notes [1, 2], got {status} {shown}",
                shown = show(body)
            )),
        },
    );
    check.step(
        "REST: a percent-encoded query (q=apple%20pie) is decoded",
        || match rest_get("?q=apple%20pie")? {
            (200, body) if rest_ids(&body)? == [1] => Ok(()),
            (status, body) => Err(format!(
                "expected 200 and notes [1], got {status} {shown}",
                shown = show(body)
            )),
        },
    );
    check.step(
        "REST: no match is 200 and an empty array",
        || match rest_get("?q=kiwi")? {
            (200, body) if rest_ids(&body)?.is_empty() => Ok(()),
            (status, body) => Err(format!(
                "expected 200 and [], got {status} {shown}",
                shown = show(body)
            )),
        },
    );
    check.step("REST: a request without q is a 400", || {
        match rest_get("")? {
            (400, _) => Ok(()),
            (status, body) => Err(format!(
                "expected 400, got {status} {shown}",
                shown = show(body)
            )),
        }
    });
    let soap_call = |inner: &str| {
        send(
            &mut Client::new(Options::default()),
            "POST",
            &format!("{base}/soap/search"),
            "text/xml; charset=utf-8",
            &envelope(inner),
        )
    };
    check.step(
        "SOAP: SearchNotes(query=PIE) finds notes 1 and 4",
        || match soap_call("<n:SearchNotes><n:query>PIE</n:query></n:SearchNotes>")? {
            (200, body) if soap_ids(&body)? == [1, 4] => Ok(()),
            (status, body) => Err(format!(
                "expected 200 and notes [1, 4], got {status} {shown}",
                shown = show(body)
            )),
        },
    );
    check.step(
        "SOAP: a text with < and & comes back escaped and intact",
        || {
            let _ = send(
                &mut Client::new(Options::default()),
                "POST",
                &format!("{base}/api/notes"),
                "application/json",
                r#"{"text":"fish & <chips>"}"#,
            );
            match soap_call("<n:SearchNotes><n:query>chips</n:query></n:SearchNotes>")? {
                (200, body)
                    if soap_ids(&body)? == [5] && body.contains("fish &amp; &lt;chips&gt;") =>
                {
                    Ok(())
                }
                (status, body) => Err(format!(
                    "expected note 5 as \"fish &amp; &lt;chips&gt;\", got {status} {shown}",
                    shown = show(body)
                )),
            }
        },
    );
    check.step(
        "SOAP: a SearchNotes without <query> is a Client fault (HTTP 500)",
        || match soap_call("<n:SearchNotes/>")? {
            (500, body) if body.contains("<faultcode>soap:Client</faultcode>") => Ok(()),
            (status, body) => Err(format!(
                "expected 500 with faultcode soap:Client, got {status} {shown}",
                shown = show(body)
            )),
        },
    );
    check.step("REST and SOAP agree on every query", || {
        for q in ["a", "bread", "JUICE", "zzz"] {
            let (_, r) = rest_get(&format!("?q={q}"))?;
            let (_, s) = soap_call(&format!(
                "<n:SearchNotes><n:query>{q}</n:query></n:SearchNotes>"
            ))?;
            if rest_ids(&r)? != soap_ids(&s)? {
                return Err(format!(
                    "for {q:?}: REST says {:?}, SOAP says {:?}",
                    rest_ids(&r)?,
                    soap_ids(&s)?
                ));
            }
        }
        Ok(())
    });
    running.stop();
    check.finish();
}
