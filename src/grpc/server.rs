//! The gRPC server: HTTP/2 streams (the connection handling of [`crate::http2::server`]) with
//! the gRPC protocol written out on top (grpc/doc/PROTOCOL-HTTP2.md):
//!
//! ```text
//! ← HEADERS  :method POST  :path /netlab.Exchange/Echo  content-type application/grpc
//!            te trailers  [grpc-timeout 500m]  [custom metadata]
//! ← DATA     00 00000004 0a026869          (5-byte prefix + protobuf), as many as the call has
//! → HEADERS  :status 200  content-type application/grpc
//! → DATA     00 00000004 0a026869
//! → HEADERS  grpc-status 0  [grpc-message …]     (trailers, END_STREAM)
//! ```
//!
//! An error before any response message is "trailers-only": one HEADERS frame with
//! `:status 200` and the grpc-status, ending the stream.
//!
//! Each call's handler runs on a thread of the handler pool ([`crate::http2::pool`]),
//! reading and writing messages through a [`Call`]; this file moves them between it and the
//! stream.

use super::call::{Call, Service};
use super::status::{Code, Status, percent_encode};
use super::wire::{self, Deframer};
use crate::http::message::Headers;
use crate::http2::io::{send_data, start_blocking};
use crate::http2::server::App;
use crate::trace::{self, Layer};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// The gRPC service as an HTTP/2 [`App`]: no HTTP/1.1 (gRPC needs HTTP/2's trailers and
/// streams), one call per stream.
pub fn app(service: Arc<dyn Service>) -> App {
    App {
        streams: Arc::new(move |request, respond, peer| {
            let service = service.clone();
            let role = trace::current_role();
            Box::pin(serve_call(request, respond, peer, service, role))
        }),
        http1: None,
    }
}

/// Fields the protocol itself uses; the rest of the request's fields are the call's metadata.
const RESERVED: &[&str] = &[
    "content-type",
    "te",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "user-agent",
];

/// One call, from its request headers to its trailers.
async fn serve_call(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    peer: SocketAddr,
    service: Arc<dyn Service>,
    role: Option<&'static str>,
) {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    // 1. gRPC is POST with content-type application/grpc[+proto]; anything else is not a
    //    gRPC call at all, and gets an HTTP answer (415, 405) instead of a grpc-status.
    if let Some(refusal) = not_grpc(&parts, &path, peer) {
        return http_error(&mut respond, refusal);
    }
    // 2. The deadline the client set, if any, and the call's metadata.
    let deadline = deadline(&parts, &path, peer);
    let metadata = metadata(&parts);
    // 3. A method no one answers: UNIMPLEMENTED, trailers-only, before any message.
    if !service.methods().contains(&path.as_str()) {
        let status = super::exchange::unimplemented(&path, service.methods());
        return finish(&mut respond, None, status).await;
    }
    // 4. The handler on a thread of its own, the request's messages pumped to it.
    let (in_tx, in_rx) = std::sync::mpsc::channel();
    let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let call = Call::new(path.clone(), metadata, deadline, in_rx, out_tx);
    let pump = tokio::spawn(read_requests(body, in_tx));
    let handler = run_handler(service, call, format!("{peer}: {path}"), role);
    // 5. Response messages as the handler sends them; then its status, or the deadline's.
    let (stream, status) = relay(&mut respond, out_rx, handler, deadline).await;
    pump.abort();
    finish(&mut respond, stream, status).await;
}

/// Step 1 of [`serve_call`]: the HTTP status that refuses a request that is not a gRPC call
/// (415 for another content-type, 405 for another method), or `None` for a call.
fn not_grpc(parts: &http::request::Parts, path: &str, peer: SocketAddr) -> Option<u16> {
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/grpc") {
        trace::event(Layer::Grpc, || {
            format!("{peer}: {path}: content-type {content_type:?} is not gRPC: HTTP 415")
        });
        return Some(415);
    }
    (parts.method != http::Method::POST).then_some(405)
}

/// Step 2 of [`serve_call`]: when the call must be over (`grpc-timeout`), traced with the
/// call's arrival.
fn deadline(parts: &http::request::Parts, path: &str, peer: SocketAddr) -> Option<Instant> {
    let timeout = parts
        .headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(wire::parse_timeout);
    trace::received(Layer::Grpc, || {
        let limit = timeout
            .map(|t| format!(", deadline in {} ms", t.as_millis()))
            .unwrap_or_default();
        format!("call {path} from {peer}{limit}")
    });
    timeout.map(|t| Instant::now() + t)
}

/// Step 2 of [`serve_call`]: the request's fields that are not the protocol's own.
fn metadata(parts: &http::request::Parts) -> Headers {
    let mut metadata = Headers::new();
    for (name, value) in &parts.headers {
        if !RESERVED.contains(&name.as_str()) {
            metadata.append_latin1(name.as_str().as_bytes(), value.as_bytes());
        }
    }
    metadata
}

/// What a handler's thread answers: its result (or nothing, if it ended without one).
type HandlerTask = tokio::sync::oneshot::Receiver<Result<(), Status>>;

/// Step 4 of [`serve_call`]: the handler on the handler pool ([`start_blocking`]), where it
/// may block while this call's task relays its messages; a panic is UNKNOWN.
fn run_handler(
    service: Arc<dyn Service>,
    mut call: Call,
    what: String,
    role: Option<&'static str>,
) -> HandlerTask {
    start_blocking(move || {
        let _role = role.map(trace::role);
        match crate::catch::call(|| service.call(&mut call)) {
            Ok(result) => result,
            Err(p) => {
                crate::catch::report(Layer::Grpc, &what, &p, "answered UNKNOWN, serving on");
                Err(Status::new(Code::UNKNOWN, "the handler panicked"))
            }
        }
    })
}

/// Step 5 of [`serve_call`]: the handler's messages sent as they come, until it returns
/// (its status), the client goes away (CANCELLED) or the deadline passes. Gives back the
/// response stream, if one was opened, for the trailers.
async fn relay(
    respond: &mut h2::server::SendResponse<Bytes>,
    mut out_rx: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    mut handler: HandlerTask,
    deadline: Option<Instant>,
) -> (Option<h2::SendStream<Bytes>>, Status) {
    let expiry = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expiry);
    let mut stream: Option<h2::SendStream<Bytes>> = None;
    let mut outgoing_open = true;
    let status = loop {
        tokio::select! {
            message = out_rx.recv(), if outgoing_open => {
                let Some(bytes) = message else {
                    outgoing_open = false;
                    continue;
                };
                if !send_message(respond, &mut stream, &bytes).await {
                    break Status::new(Code::CANCELLED, "the client went away");
                }
            }
            result = &mut handler => {
                // What the handler sent before it returned goes out before the status.
                drain(respond, &mut stream, &mut out_rx).await;
                break match result {
                    Ok(Ok(())) => Status::ok(),
                    Ok(Err(status)) => status,
                    Err(_) => Status::new(Code::UNKNOWN, "the handler did not finish"),
                };
            }
            _ = &mut expiry => {
                break Status::new(Code::DEADLINE_EXCEEDED, "deadline exceeded");
            }
        }
    };
    (stream, status)
}

/// Sends the messages still queued when the handler returned, until the client goes away.
async fn drain(
    respond: &mut h2::server::SendResponse<Bytes>,
    stream: &mut Option<h2::SendStream<Bytes>>,
    out_rx: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Ok(bytes) = out_rx.try_recv() {
        if !send_message(respond, stream, &bytes).await {
            break;
        }
    }
}

/// What the request messages' reader tells the handler: a message, or why there are no more.
type ToHandler = std::sync::mpsc::Sender<Result<Vec<u8>, Status>>;

/// Reads the request's DATA frames into whole messages for the handler, giving capacity
/// back as it goes; a broken frame or a message cut short is INTERNAL.
async fn read_requests(mut body: h2::RecvStream, to_handler: ToHandler) {
    let mut deframer = Deframer::default();
    while let Some(chunk) = body.data().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = to_handler.send(Err(Status::new(
                    Code::CANCELLED,
                    format!("the request stream failed: {e}"),
                )));
                return;
            }
        };
        let _ = body.flow_control().release_capacity(chunk.len());
        deframer.push(&chunk);
        if !deliver(&mut deframer, &to_handler) {
            return;
        }
    }
    if deframer.pending() > 0 {
        let _ = to_handler.send(Err(Status::new(
            Code::INTERNAL,
            format!(
                "the request ended inside a message ({} bytes of it)",
                deframer.pending()
            ),
        )));
    }
    // Dropping the sender tells the handler the client has sent its last message.
}

/// Hands every whole message the deframer holds to the handler; false when reading must
/// stop (a broken frame, told to the handler, or a handler gone).
fn deliver(deframer: &mut Deframer, to_handler: &ToHandler) -> bool {
    loop {
        match deframer.next_message() {
            Ok(Some(message)) => {
                if to_handler.send(Ok(message)).is_err() {
                    return false;
                }
            }
            Ok(None) => return true,
            Err(status) => {
                let _ = to_handler.send(Err(status));
                return false;
            }
        }
    }
}

/// The response headers before the first message, then the message in DATA frames.
async fn send_message(
    respond: &mut h2::server::SendResponse<Bytes>,
    stream: &mut Option<h2::SendStream<Bytes>>,
    message: &[u8],
) -> bool {
    if stream.is_none() {
        let Ok(head) = http::Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .body(())
        else {
            return false;
        };
        match respond.send_response(head, false) {
            Ok(s) => *stream = Some(s),
            Err(_) => return false,
        }
    }
    let Some(s) = stream.as_mut() else {
        return false;
    };
    send_data(s, Bytes::from(wire::frame(message)), false)
        .await
        .is_ok()
}

/// Ends the call with its status: in trailers after the messages, or trailers-only.
async fn finish(
    respond: &mut h2::server::SendResponse<Bytes>,
    stream: Option<h2::SendStream<Bytes>>,
    status: Status,
) {
    trace::sent(Layer::Grpc, || format!("status {status}"));
    let mut fields = http::HeaderMap::new();
    fields.insert("grpc-status", http::HeaderValue::from(status.code.0));
    if !status.message.is_empty() {
        if let Ok(v) = http::HeaderValue::from_str(&percent_encode(&status.message)) {
            fields.insert("grpc-message", v);
        }
    }
    match stream {
        Some(mut s) => {
            let _ = s.send_trailers(fields);
        }
        None => {
            let mut head = http::Response::builder()
                .status(200)
                .header("content-type", "application/grpc");
            for (n, v) in &fields {
                head = head.header(n, v);
            }
            if let Ok(head) = head.body(()) {
                let _ = respond.send_response(head, true);
            }
        }
    }
}

/// An HTTP-level refusal, for requests that are not gRPC calls.
fn http_error(respond: &mut h2::server::SendResponse<Bytes>, status: u16) {
    if let Ok(head) = http::Response::builder().status(status).body(()) {
        let _ = respond.send_response(head, true);
    }
}
