//! The gRPC client: the four kinds of call as four blocking functions. Each opens an HTTP/2
//! connection ([`crate::http2::client::open`]) on a current-thread runtime of its own, sends
//! the request headers and messages, and reads messages until the trailers say how the call
//! ended. A deadline is sent as `grpc-timeout` and kept here too: past it, the call ends with
//! DEADLINE_EXCEEDED whatever the server does.

use super::call::Describe;
use super::status::{Code, Status, percent_decode};
use super::wire::{self, Deframer};
use crate::http::uri::Url;
use crate::http2::client::{self as h2client, Options as H2Options};
use crate::http2::io::send_data;
use crate::trace::{self, Layer};
use bytes::Bytes;
use prost::Message;
use std::future::Future;
use std::time::Duration;

/// How to reach the server and how long to wait.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// TLS trust, or h2c for `http://`.
    pub h2: H2Options,
    /// Sent as `grpc-timeout`, and enforced here.
    pub deadline: Option<Duration>,
    /// Custom metadata, sent as request fields.
    pub metadata: Vec<(String, String)>,
}

/// Runs one call's future on a fresh runtime, bounded by the deadline.
fn run<T>(opts: &Options, call: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
    let _role = trace::default_role("client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Status::new(Code::INTERNAL, e.to_string()))?;
    runtime.block_on(async {
        match opts.deadline {
            Some(d) => match tokio::time::timeout(d, call).await {
                Ok(r) => r,
                Err(_) => Err(Status::new(
                    Code::DEADLINE_EXCEEDED,
                    "deadline exceeded (client)",
                )),
            },
            None => call.await,
        }
    })
}

/// The request headers of a call to `method` (`/netlab.Exchange/Echo`) at `base`.
fn head(base: &Url, method: &str, opts: &Options) -> Result<http::Request<()>, Status> {
    let uri = format!("{}://{}{method}", base.scheme.name(), base.authority());
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/grpc")
        // Required: it tells intermediaries the client understands trailers, which carry
        // the status (C-core servers, grpcio's among them, refuse a call without it).
        .header("te", "trailers")
        .header("user-agent", "netlab-grpc/0.1");
    if let Some(d) = opts.deadline {
        builder = builder.header("grpc-timeout", wire::format_timeout(d));
    }
    for (n, v) in &opts.metadata {
        builder = builder.header(n.to_ascii_lowercase(), v);
    }
    builder
        .body(())
        .map_err(|e| Status::new(Code::INTERNAL, format!("bad request: {e}")))
}

fn unavailable(e: impl std::fmt::Display) -> Status {
    Status::new(Code::UNAVAILABLE, e.to_string())
}

/// An open call: the stream to send on, and the response still to come.
struct Open {
    send: h2::SendStream<Bytes>,
    response: h2::client::ResponseFuture,
    _driver: tokio::task::JoinHandle<()>,
}

async fn start(base: &Url, method: &str, opts: &Options) -> Result<Open, Status> {
    let (sender, driver) = h2client::open(base, &opts.h2).await.map_err(unavailable)?;
    let mut sender = sender.ready().await.map_err(unavailable)?;
    let head = head(base, method, opts)?;
    trace::sent(Layer::Grpc, || {
        let limit = opts
            .deadline
            .map(|d| format!(", grpc-timeout {}", wire::format_timeout(d)))
            .unwrap_or_default();
        format!("call {method}{limit}")
    });
    let (response, send) = sender.send_request(head, false).map_err(unavailable)?;
    Ok(Open {
        send,
        response,
        _driver: driver,
    })
}

async fn send_one<M: Message + Describe>(
    send: &mut h2::SendStream<Bytes>,
    m: &M,
    n: u64,
) -> Result<(), Status> {
    let bytes = m.encode_to_vec();
    trace::sent(Layer::Grpc, || {
        format!("message {n}: {} ({} bytes)", m.describe(), bytes.len())
    });
    send_data(send, Bytes::from(wire::frame(&bytes)), false)
        .await
        .map_err(unavailable)
}

fn end_requests(send: &mut h2::SendStream<Bytes>) -> Result<(), Status> {
    send.send_data(Bytes::new(), true).map_err(unavailable)
}

/// The response side: headers, messages as they come, the status in the trailers.
struct Responses {
    body: Option<h2::RecvStream>,
    deframer: Deframer,
    /// Set when the response was trailers-only.
    status: Option<Status>,
    received: u64,
}

fn status_of(fields: &http::HeaderMap) -> Option<Status> {
    let code = fields
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<u32>()
        .ok()?;
    let message = fields
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    Some(Status::new(Code(code), message))
}

impl Responses {
    async fn open(response: h2::client::ResponseFuture) -> Result<Responses, Status> {
        let resp = response.await.map_err(unavailable)?;
        let (parts, body) = resp.into_parts();
        if parts.status != 200 {
            // Not a gRPC answer: the HTTP status says what went wrong.
            let code = Code::from_http(parts.status.as_u16());
            return Err(Status::new(
                code,
                format!("HTTP status {}", parts.status.as_u16()),
            ));
        }
        let trailers_only = status_of(&parts.headers);
        Ok(Responses {
            body: if trailers_only.is_some() {
                None
            } else {
                Some(body)
            },
            deframer: Deframer::default(),
            status: trailers_only,
            received: 0,
        })
    }

    /// The next response message, or `None` at the end of the stream.
    async fn next<M: Message + Default + Describe>(&mut self) -> Result<Option<M>, Status> {
        loop {
            if let Some(bytes) = self.deframer.next_message()? {
                let m = M::decode(bytes.as_slice()).map_err(|e| {
                    Status::new(
                        Code::INTERNAL,
                        format!("the response message does not parse: {e}"),
                    )
                })?;
                self.received += 1;
                trace::received(Layer::Grpc, || {
                    format!(
                        "message {}: {} ({} bytes)",
                        self.received,
                        m.describe(),
                        bytes.len()
                    )
                });
                return Ok(Some(m));
            }
            let Some(body) = self.body.as_mut() else {
                return Ok(None);
            };
            match body.data().await {
                Some(Ok(chunk)) => {
                    let _ = body.flow_control().release_capacity(chunk.len());
                    self.deframer.push(&chunk);
                }
                Some(Err(e)) => return Err(unavailable(e)),
                None => return Ok(None),
            }
        }
    }

    /// The call's status: from the trailers (or the trailers-only head).
    async fn status(mut self) -> Status {
        let status = match self.status.take() {
            Some(s) => s,
            None => match self.body.as_mut() {
                Some(body) => match body.trailers().await {
                    Ok(Some(t)) => status_of(&t).unwrap_or_else(|| {
                        Status::new(Code::UNKNOWN, "trailers without grpc-status")
                    }),
                    Ok(None) => Status::new(Code::UNKNOWN, "the stream ended without trailers"),
                    Err(e) => unavailable(e),
                },
                None => Status::new(Code::UNKNOWN, "no status"),
            },
        };
        trace::received(Layer::Grpc, || format!("status {status}"));
        status
    }
}

fn ok_or(status: Status) -> Result<(), Status> {
    if status.code == Code::OK {
        Ok(())
    } else {
        Err(status)
    }
}

/// A unary call: one request, one response.
pub fn unary<Req, Resp>(
    base: &Url,
    method: &str,
    request: &Req,
    opts: &Options,
) -> Result<Resp, Status>
where
    Req: Message + Describe,
    Resp: Message + Default + Describe,
{
    run(opts, async {
        let mut open = start(base, method, opts).await?;
        send_one(&mut open.send, request, 1).await?;
        end_requests(&mut open.send)?;
        let mut responses = Responses::open(open.response).await?;
        let answer = responses.next::<Resp>().await?;
        ok_or(responses.status().await)?;
        answer.ok_or_else(|| Status::new(Code::INTERNAL, "OK without a response message"))
    })
}

/// Server streaming: one request, each response handed to `each` as it arrives.
pub fn server_stream<Req, Resp>(
    base: &Url,
    method: &str,
    request: &Req,
    opts: &Options,
    each: &mut dyn FnMut(Resp),
) -> Result<(), Status>
where
    Req: Message + Describe,
    Resp: Message + Default + Describe,
{
    run(opts, async {
        let mut open = start(base, method, opts).await?;
        send_one(&mut open.send, request, 1).await?;
        end_requests(&mut open.send)?;
        let mut responses = Responses::open(open.response).await?;
        while let Some(m) = responses.next::<Resp>().await? {
            each(m);
        }
        ok_or(responses.status().await)
    })
}

/// Client streaming: every request, then one response.
pub fn client_stream<Req, Resp>(
    base: &Url,
    method: &str,
    requests: &[Req],
    opts: &Options,
) -> Result<Resp, Status>
where
    Req: Message + Describe,
    Resp: Message + Default + Describe,
{
    run(opts, async {
        let mut open = start(base, method, opts).await?;
        for (i, r) in requests.iter().enumerate() {
            send_one(&mut open.send, r, i as u64 + 1).await?;
        }
        end_requests(&mut open.send)?;
        let mut responses = Responses::open(open.response).await?;
        let answer = responses.next::<Resp>().await?;
        ok_or(responses.status().await)?;
        answer.ok_or_else(|| Status::new(Code::INTERNAL, "OK without a response message"))
    })
}

/// Bidirectional, in turns: each request is sent only after the answer to the one before
/// has arrived — which only works if the server answers as messages come, not at the end.
pub fn bidi_turns<Req, Resp>(
    base: &Url,
    method: &str,
    requests: &[Req],
    opts: &Options,
    each: &mut dyn FnMut(Resp),
) -> Result<(), Status>
where
    Req: Message + Describe,
    Resp: Message + Default + Describe,
{
    run(opts, async {
        let mut open = start(base, method, opts).await?;
        let Some((first, rest)) = requests.split_first() else {
            end_requests(&mut open.send)?;
            let responses = Responses::open(open.response).await?;
            return ok_or(responses.status().await);
        };
        send_one(&mut open.send, first, 1).await?;
        let mut responses = Responses::open(open.response).await?;
        let mut sent = 1u64;
        let mut pending = rest.iter();
        let mut ended = false;
        while let Some(m) = responses.next::<Resp>().await? {
            each(m);
            match pending.next() {
                Some(r) => {
                    sent += 1;
                    send_one(&mut open.send, r, sent).await?;
                }
                None if !ended => {
                    end_requests(&mut open.send)?;
                    ended = true;
                }
                None => {}
            }
        }
        ok_or(responses.status().await)
    })
}
