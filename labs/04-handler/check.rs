//! Lab 04 check: serves your `/counter` handler with netlab's HTTP/1.1 server and drives it
//! over real connections with raw requests. Run: `make check LAB=04`.

#[path = "../common.rs"]
mod common;
#[path = "counter.rs"]
mod counter;
#[path = "solution.rs"]
mod solution;

common::wrong_solutions! {
    fn handler_of(m) -> Arc<dyn netlab::http::handler::Handler> {
        let c = Arc::new(m::Counter::default());
        Arc::new(move |r: &Request| -> Response { m::handle(&c, r) })
    }
    student counter, solution solution;
    etag_unquoted fails [7]: "sends the ETag without its double quotes (RFC 9110 §8.8.3)";
    if_match_put_only fails [9]: "checks If-Match on PUT only, not on POST and DELETE";
    if_match_star_literal fails [11]: "compares If-Match: * like a tag, so it never matches";
}

use common::{Check, show};
use netlab::http::message::{Request, Response};
use netlab::http1::server;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Sends one request on a new connection; returns (status, head, body).
fn call(
    addr: SocketAddr,
    method: &str,
    body: &str,
    extra: &str,
) -> Result<(u16, String, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let req = format!(
        "{method} /counter HTTP/1.1\r\nHost: lab\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no complete response: {}", show(&answer)))?;
    let status = head
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line: {}", show(head)))?;
    Ok((status, head.to_string(), body.to_string()))
}

fn want(
    got: (u16, String, String),
    status: u16,
    body: Option<&str>,
    what: &str,
) -> Result<(u16, String, String), String> {
    if got.0 != status || body.is_some_and(|b| got.2.trim() != b) {
        return Err(format!(
            "{what}: expected {status}{}, got {} with body {}",
            body.map(|b| format!(" with body {}", show(format!("{b}\n"))))
                .unwrap_or_default(),
            got.0,
            show(&got.2)
        ));
    }
    Ok(got)
}

/// The value now, read with GET.
fn value(a: SocketAddr) -> Result<i64, String> {
    let (_, _, body) = call(a, "GET", "", "")?;
    body.trim()
        .parse()
        .map_err(|_| format!("GET is not a number: {}", show(&body)))
}

/// The current ETag, read with GET.
fn etag(a: SocketAddr) -> Result<String, String> {
    let (_, head, _) = call(a, "GET", "", "")?;
    header(&head, "etag")
        .map(str::to_string)
        .ok_or_else(|| "GET has no ETag".to_string())
}

/// `entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE` (RFC 9110 §8.8.3),
/// and strong: If-Match compares strongly (§13.1.1), so a weak tag would never match.
fn is_strong_entity_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    b.len() >= 2
        && b[0] == b'"'
        && b[b.len() - 1] == b'"'
        && b[1..b.len() - 1]
            .iter()
            .all(|&c| c == 0x21 || (0x23..=0x7e).contains(&c) || c >= 0x80)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    })
}

fn main() {
    let (mut check, subject) = Check::start(
        "04 (a resource handler)",
        "labs/04-handler/counter.rs",
        WRONG,
        Duration::from_secs(30),
    );
    let handler = handler_of(&subject);
    let listener = TcpListener::bind(check.listen_addr("127.0.0.1:8080")).unwrap_or_else(|e| {
        println!("cannot bind: {e}");
        std::process::exit(1)
    });
    let running = server::spawn(
        listener,
        handler,
        check.http_config(),
        Arc::new(server::plain),
    )
    .unwrap_or_else(|e| {
        println!("cannot start the server: {e}");
        std::process::exit(1)
    });
    let a = running.addr();
    check.serve(
        &format!("http://{a}"),
        &[
            &format!("curl -i http://{a}/counter"),
            &format!("curl -i -X POST http://{a}/counter"),
            &format!("curl -i -X PUT -H 'If-Match: \"1\"' -d 5 http://{a}/counter"),
        ],
    );

    check.step("GET returns the value, 0 at first", || {
        want(call(a, "GET", "", "")?, 200, Some("0"), "GET").map(drop)
    });
    check.step("POST adds one and returns the new value", || {
        want(call(a, "POST", "", "")?, 200, Some("1"), "first POST")?;
        want(call(a, "POST", "", "")?, 200, Some("2"), "second POST").map(drop)
    });
    check.step("PUT sets the value from the body", || {
        want(call(a, "PUT", "42", "")?, 200, Some("42"), "PUT 42").map(drop)
    });
    check.step("PUT with a body that is not a number is a 400", || {
        want(call(a, "PUT", "many", "")?, 400, None, "PUT many").map(drop)
    });
    check.step("HEAD: GET's head, Content-Length included, and no body", || {
        let (status, head, body) = call(a, "HEAD", "", "")?;
        if status != 200 || !body.is_empty() || header(&head, "content-length") != Some("3") {
            return Err(format!(
                "expected 200, Content-Length: 3 (\"42\\n\") and no body; got {status}, head {}, body {}",
                show(&head),
                show(&body)
            ));
        }
        Ok(())
    });
    check.step("GET carries an ETag that changes with the value", || {
        let e1 = etag(a)?;
        call(a, "POST", "", "")?;
        let e2 = etag(a)?;
        if e1 == e2 {
            return Err(format!("the value changed but the ETag stayed {e1}"));
        }
        Ok(())
    });
    check.step(
        "the ETag is a strong entity-tag, in double quotes (RFC 9110 §8.8.3)",
        || {
            let tag = etag(a)?;
            if is_strong_entity_tag(&tag) {
                Ok(())
            } else {
                Err(format!(
                    "ETag: {tag} is not an entity-tag: it must be in double quotes, e.g. ETag: \"v42\" (and not W/, which If-Match never matches)"
                ))
            }
        },
    );
    check.step(
        "If-Match with a stale ETag on PUT: 412, nothing changes",
        || {
            let stale = etag(a)?;
            call(a, "POST", "", "")?;
            let before = value(a)?;
            want(
                call(a, "PUT", "7", &format!("If-Match: {stale}\r\n"))?,
                412,
                None,
                "PUT with a stale If-Match",
            )?;
            let after = value(a)?;
            if after != before {
                return Err(format!(
                    "the value should still be {before} after the refused PUT, it is {after}"
                ));
            }
            Ok(())
        },
    );
    check.step(
        "If-Match with a stale ETag on POST and DELETE: 412, nothing changes",
        || {
            let stale = etag(a)?;
            call(a, "POST", "", "")?;
            let before = value(a)?;
            for method in ["POST", "DELETE"] {
                want(
                    call(a, method, "", &format!("If-Match: {stale}\r\n"))?,
                    412,
                    None,
                    &format!("{method} with a stale If-Match (README: every state-changing method)"),
                )?;
                let after = value(a)?;
                if after != before {
                    return Err(format!(
                        "the value should still be {before} after the refused {method}, it is {after}"
                    ));
                }
            }
            Ok(())
        },
    );
    check.step(
        "If-Match with the current ETag: the change goes through",
        || {
            let tag = etag(a)?;
            want(
                call(a, "PUT", "7", &format!("If-Match: {tag}\r\n"))?,
                200,
                Some("7"),
                "PUT with the current If-Match",
            )?;
            let tag = etag(a)?;
            want(
                call(a, "POST", "", &format!("If-Match: {tag}\r\n"))?,
                200,
                Some("8"),
                "POST with the current If-Match",
            )
            .map(drop)
        },
    );
    check.step(
        "If-Match: * matches any current value: the change goes through (RFC 9110 §13.1.1)",
        || {
            want(
                call(a, "PUT", "5", "If-Match: *\r\n")?,
                200,
                Some("5"),
                "PUT with If-Match: *",
            )?;
            want(
                call(a, "POST", "", "If-Match: *\r\n")?,
                200,
                Some("6"),
                "POST with If-Match: *",
            )
            .map(drop)
        },
    );
    check.step("DELETE resets to 0 and answers 204", || {
        want(call(a, "DELETE", "", "")?, 204, None, "DELETE")?;
        want(call(a, "GET", "", "")?, 200, Some("0"), "GET after DELETE").map(drop)
    });
    check.step("another method: 405 with an Allow field naming every method", || {
        let (status, head, _) = call(a, "PATCH", "", "")?;
        let allow = header(&head, "allow").unwrap_or_default().to_string();
        let missing: Vec<&str> = ["GET", "HEAD", "POST", "PUT", "DELETE"].into_iter().filter(|m| !allow.contains(m)).collect();
        if status != 405 || !missing.is_empty() {
            return Err(format!("expected 405 with Allow listing GET, HEAD, POST, PUT, DELETE; got {status} with Allow {}", show(&allow)));
        }
        Ok(())
    });
    running.stop();
    check.finish();
}
