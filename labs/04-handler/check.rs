//! Lab 04 check: serves your `/counter` handler with netlab's HTTP/1.1 server and drives it
//! over real connections with raw requests. Run: `make check LAB=04`.

#[path = "../common.rs"]
mod common;
#[path = "counter.rs"]
mod counter;
#[path = "solution.rs"]
mod solution;

use common::{Check, show};
use netlab::http::message::{Request, Response};
use netlab::http1::server::{self, Config};
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
        .ok_or_else(|| format!("no status line: {head:?}"))?;
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
            "{what}: expected {status}{}, got {} {:?}",
            body.map(|b| format!(" with body {b:?}"))
                .unwrap_or_default(),
            got.0,
            got.2.trim()
        ));
    }
    Ok(got)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    })
}

fn main() {
    let (mut check, solution) = Check::start(
        "04 (a resource handler)",
        "labs/04-handler/counter.rs",
        Duration::from_secs(30),
    );
    let handler: Arc<dyn netlab::http::handler::Handler> = if solution {
        let c = Arc::new(solution::Counter::default());
        Arc::new(move |r: &Request| -> Response { solution::handle(&c, r) })
    } else {
        let c = Arc::new(counter::Counter::default());
        Arc::new(move |r: &Request| -> Response { counter::handle(&c, r) })
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| {
        println!("cannot bind: {e}");
        std::process::exit(1)
    });
    let running = server::spawn(
        listener,
        handler,
        Config::default(),
        Arc::new(server::plain),
    )
    .unwrap_or_else(|e| {
        println!("cannot start the server: {e}");
        std::process::exit(1)
    });
    let a = running.addr();

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
            return Err(format!("expected 200, Content-Length: 3 (\"42\\n\") and no body; got {status}, head {head:?}, body {body:?}"));
        }
        Ok(())
    });
    check.step("GET carries an ETag that changes with the value", || {
        let (_, head1, _) = call(a, "GET", "", "")?;
        let e1 = header(&head1, "etag").ok_or("GET has no ETag")?.to_string();
        call(a, "POST", "", "")?;
        let (_, head2, _) = call(a, "GET", "", "")?;
        let e2 = header(&head2, "etag").ok_or("GET has no ETag")?.to_string();
        if e1 == e2 {
            return Err(format!("the value changed but the ETag stayed {e1}"));
        }
        Ok(())
    });
    check.step("If-Match with a stale ETag: 412, nothing changes", || {
        let (_, head, before) = call(a, "GET", "", "")?;
        let etag = header(&head, "etag").ok_or("GET has no ETag")?.to_string();
        call(a, "POST", "", "")?;
        want(
            call(a, "PUT", "7", &format!("If-Match: {etag}\r\n"))?,
            412,
            None,
            "PUT with a stale If-Match",
        )?;
        let after: i64 = call(a, "GET", "", "")?
            .2
            .trim()
            .parse()
            .map_err(|_| "GET is not a number")?;
        let before: i64 = before.trim().parse().map_err(|_| "GET is not a number")?;
        if after != before + 1 {
            return Err(format!(
                "the value should be {} after the refused PUT, it is {after}",
                before + 1
            ));
        }
        Ok(())
    });
    check.step(
        "If-Match with the current ETag: the change goes through",
        || {
            let (_, head, _) = call(a, "GET", "", "")?;
            let etag = header(&head, "etag").ok_or("GET has no ETag")?.to_string();
            want(
                call(a, "PUT", "7", &format!("If-Match: {etag}\r\n"))?,
                200,
                Some("7"),
                "PUT with the current If-Match",
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
            return Err(format!("expected 405 with Allow listing GET, HEAD, POST, PUT, DELETE; got {status} with Allow {allow:?}"));
        }
        Ok(())
    });
    running.stop();
    check.finish();
}
