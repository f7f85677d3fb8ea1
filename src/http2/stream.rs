//! One HTTP/2 stream of the site (RFC 9113 §8): its request read whole, with flow-control
//! capacity given back as the body arrives; the handler run off the connection's thread; the
//! response sent as the peer's windows allow; and the resources the response names as
//! preloads pushed (§8.4). The connection around it is [`super::server`]'s; gRPC's streams
//! are `crate::grpc::server`'s.

use super::io::{BodyError, read_body, run_blocking, send_data};
use crate::http::handler::Handler;
use crate::http::link::preloads;
use crate::http::message::{Headers, Request, Response, Version};
use crate::http::response_fields::response_fields;
use crate::trace::{self, Layer};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;

/// The request as a handler sees it: the same `Request` HTTP/1.1 builds, with
/// `version = HTTP/2` and the `:authority` pseudo-header as `Host` (RFC 9113 §8.3.1).
fn to_request(parts: &http::request::Parts, body: Vec<u8>, trailers: Headers) -> Request {
    let mut headers = Headers::new();
    if let Some(authority) = parts.uri.authority() {
        if !parts.headers.contains_key(http::header::HOST) {
            headers.append("host", authority.as_str());
        }
    }
    for (name, value) in &parts.headers {
        headers.append_latin1(name.as_str().as_bytes(), value.as_bytes());
    }
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    Request {
        method: parts.method.as_str().to_string(),
        target,
        version: Version::HTTP_2,
        headers,
        body,
        trailers,
        peer: None,
    }
}

/// One stream: read the body (releasing flow-control capacity as it goes), run the handler,
/// send the response in as many DATA frames as the peer's windows allow.
pub(super) async fn serve_stream(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    peer: SocketAddr,
    handler: Arc<dyn Handler>,
    max_body: usize,
    role: Option<&'static str>,
) {
    let (parts, body) = request.into_parts();
    // 1. The body, every DATA frame of it, with capacity given back as it is read.
    let Some(req) = read_request(&parts, body, &mut respond, peer, max_body).await else {
        return;
    };
    // 2. The handler, on the handler pool (off the connection's thread).
    let method = parts.method.clone();
    let resp = run_handler(handler.clone(), req, peer, role).await;
    // 3. Server push (RFC 9113 §8.4): what the response names as preloads is promised
    //    before the response that references it, then sent on streams of its own.
    let pushes = if method == http::Method::GET {
        promise(&mut respond, &parts.uri, &resp, peer)
    } else {
        Vec::new()
    };
    // 4. The response, then what was promised.
    send(&mut respond, &method, resp).await;
    for (path, pushed) in pushes {
        push(pushed, &path, &parts.uri, &handler, peer, role).await;
    }
}

/// Step 1 of [`serve_stream`]: the whole request, or `None` when it was answered 413 or
/// the stream was reset.
async fn read_request(
    parts: &http::request::Parts,
    mut body: h2::RecvStream,
    respond: &mut h2::server::SendResponse<Bytes>,
    peer: SocketAddr,
    max_body: usize,
) -> Option<Request> {
    let data = match read_body(&mut body, max_body).await {
        Ok(d) => d,
        Err(BodyError::TooLarge(max)) => {
            let resp = Response::text(413, &format!("the body may be at most {max} bytes"));
            send(respond, &parts.method, resp).await;
            return None;
        }
        Err(BodyError::H2(e)) => {
            trace::event(Layer::H2, || {
                format!("{peer}: stream reset while reading: {e}")
            });
            return None;
        }
    };
    let mut trailers = Headers::new();
    if let Ok(Some(map)) = body.trailers().await {
        for (n, v) in &map {
            trailers.append_latin1(n.as_str().as_bytes(), v.as_bytes());
        }
    }
    let req = to_request(parts, data, trailers);
    if let Some(p) = req.headers.get("priority") {
        // RFC 9218 §4: urgency u=0..7 and incremental i. The streams here are answered as
        // their handlers finish; the field is shown, not acted on.
        trace::event(Layer::H2, || {
            format!("{peer}: client priority \"{p}\" (RFC 9218), noted")
        });
    }
    Some(req)
}

/// Step 3 of [`serve_stream`]: a PUSH_PROMISE for each preload the response names, until
/// the client refuses pushes.
fn promise(
    respond: &mut h2::server::SendResponse<Bytes>,
    uri: &http::Uri,
    resp: &Response,
    peer: SocketAddr,
) -> Vec<(String, h2::server::SendPushedResponse<Bytes>)> {
    let mut pushes = Vec::new();
    for path in preloads(&resp.headers) {
        let uri = format!(
            "{}://{}{path}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or("localhost")
        );
        let Ok(promise) = http::Request::get(uri.as_str()).body(()) else {
            continue;
        };
        match respond.push_request(promise) {
            Ok(pushed) => pushes.push((path, pushed)),
            Err(e) => {
                // curl sends SETTINGS_ENABLE_PUSH=0; so do browsers today.
                trace::event(Layer::H2, || {
                    format!("{peer}: not pushing {path}: {e} (the client refuses pushes)")
                });
                break;
            }
        }
    }
    pushes
}

/// Step 4 of [`serve_stream`], for one promise: the handler's answer to a GET of `path`,
/// sent on the promised stream.
async fn push(
    mut pushed: h2::server::SendPushedResponse<Bytes>,
    path: &str,
    uri: &http::Uri,
    handler: &Arc<dyn Handler>,
    peer: SocketAddr,
    role: Option<&'static str>,
) {
    let mut req = Request::new("GET", path);
    req.version = Version::HTTP_2;
    if let Some(a) = uri.authority() {
        req.headers.append("host", a.as_str());
    }
    let resp = run_handler(handler.clone(), req, peer, role).await;
    let Some((head, body)) = head_and_body(&http::Method::GET, resp) else {
        return;
    };
    if let Ok(mut stream) = pushed.send_response(head, body.is_none()) {
        if let Some(b) = body {
            let _ = send_data(&mut stream, b, true).await;
        }
    }
}

/// Runs the handler on the handler pool ([`run_blocking`]); a panic costs its request a 500.
async fn run_handler(
    handler: Arc<dyn Handler>,
    mut req: Request,
    peer: SocketAddr,
    role: Option<&'static str>,
) -> Response {
    req.peer = Some(peer);
    run_blocking(move || {
        let _role = role.map(trace::role);
        match crate::catch::call(|| handler.handle(&req)) {
            // h2 sends a body from memory: a file body is read whole here, on the pool.
            Ok(r) => r.load_file(),
            Err(p) => {
                let what = format!("{peer}: {} {} (HTTP/2)", req.method, req.target);
                crate::catch::report(Layer::H2, &what, &p, "answered 500, serving on");
                Response::text(500, "the handler panicked")
            }
        }
    })
    .await
    .unwrap_or_else(|| Response::text(500, "the handler did not finish"))
}

/// A response as `h2` sends it: the head (the fields every binary version sends,
/// [`crate::http::response_fields`]) and the body when one goes out. The head is built in
/// place: `http`'s builder moves its whole `Parts` at every field, which a profile of the
/// server showed.
fn head_and_body(
    method: &http::Method,
    resp: Response,
) -> Option<(http::Response<()>, Option<Bytes>)> {
    let mut head = http::Response::new(());
    *head.status_mut() = http::StatusCode::from_u16(resp.status).ok()?;
    let fields = head.headers_mut();
    let send_body = response_fields(method.as_str(), &resp, |name, value| {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            fields.append(n, v);
        }
    });
    Some((head, send_body.then(|| Bytes::from(resp.body))))
}

/// Sends a response: HEADERS, then DATA frames as flow control allows (RFC 9113 §5.2).
async fn send(
    respond: &mut h2::server::SendResponse<Bytes>,
    method: &http::Method,
    resp: Response,
) {
    let Some((head, body)) = head_and_body(method, resp) else {
        return respond.send_reset(h2::Reason::INTERNAL_ERROR);
    };
    if let Ok(mut stream) = respond.send_response(head, body.is_none()) {
        if let Some(b) = body {
            let _ = send_data(&mut stream, b, true).await;
        }
    }
}
