//! The gRPC client: the four kinds of call as four blocking functions. Each opens an HTTP/2
//! connection ([`crate::http2::client::open`]) on a current-thread runtime of its own, sends
//! the request headers and messages, and reads messages until the trailers say how the call
//! ended. A [`Channel`] keeps one connection for many unary calls instead. A deadline is sent as `grpc-timeout` and kept here too: past it, the call ends with
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
    let runtime = runtime()?;
    runtime.block_on(within_deadline(opts, call))
}

/// The current-thread runtime a call (or a [`Channel`]) runs on, on the caller's thread.
fn runtime() -> Result<tokio::runtime::Runtime, Status> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Status::new(Code::INTERNAL, e.to_string()))
}

/// `call`, ended with DEADLINE_EXCEEDED when the deadline passes first.
async fn within_deadline<T>(
    opts: &Options,
    call: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
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
    let (send, response) = start_on(sender, base, method, opts).await?;
    Ok(Open {
        send,
        response,
        _driver: driver,
    })
}

/// A call's stream on an open connection: the request headers sent.
async fn start_on(
    sender: h2::client::SendRequest<Bytes>,
    base: &Url,
    method: &str,
    opts: &Options,
) -> Result<(h2::SendStream<Bytes>, h2::client::ResponseFuture), Status> {
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
    Ok((send, response))
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
        Responses::of(response.await.map_err(unavailable)?)
    }

    /// The response's head read: a gRPC answer, trailers-only or with messages to come.
    fn of(resp: http::Response<h2::RecvStream>) -> Result<Responses, Status> {
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

/// A unary call: one request, one response, on a connection of its own (a [`Channel`]
/// reuses one for many calls).
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
        let open = start(base, method, opts).await?;
        unary_on(open.send, open.response, request).await
    })
}

/// The request sent on an open stream, the one response read, the status checked.
async fn unary_on<Req, Resp>(
    mut send: h2::SendStream<Bytes>,
    response: h2::client::ResponseFuture,
    request: &Req,
) -> Result<Resp, Status>
where
    Req: Message + Describe,
    Resp: Message + Default + Describe,
{
    send_one(&mut send, request, 1).await?;
    end_requests(&mut send)?;
    answer(Responses::open(response).await?).await
}

/// The one response message of a unary call, and its status.
async fn answer<Resp>(mut responses: Responses) -> Result<Resp, Status>
where
    Resp: Message + Default + Describe,
{
    let answer = responses.next::<Resp>().await?;
    ok_or(responses.status().await)?;
    answer.ok_or_else(|| Status::new(Code::INTERNAL, "OK without a response message"))
}

/// One HTTP/2 connection to one server, opened by the first call and reused by the calls
/// after it, one stream each, as gRPC's own clients do: a call then costs a stream, not a
/// TCP (and TLS) handshake, a preface and SETTINGS. Its runtime runs on the caller's thread
/// during a call only; between calls the connection waits. One the server has closed
/// (GOAWAY after its idle time) is opened again at the next call.
pub struct Channel {
    base: Url,
    opts: Options,
    runtime: tokio::runtime::Runtime,
    conn: Option<h2client::Connection>,
}

impl Channel {
    /// A channel to `base`; nothing is connected before the first call.
    pub fn new(base: Url, opts: Options) -> Result<Channel, Status> {
        Ok(Channel {
            base,
            opts,
            runtime: runtime()?,
            conn: None,
        })
    }

    /// A unary call on the channel's connection.
    pub fn unary<Req, Resp>(&mut self, method: &str, request: &Req) -> Result<Resp, Status>
    where
        Req: Message + Describe,
        Resp: Message + Default + Describe,
    {
        let _role = trace::default_role("client");
        let Channel {
            base,
            opts,
            runtime,
            conn,
        } = self;
        let result = runtime.block_on(within_deadline(opts, async {
            // A kept connection the server has just given up may refuse the stream: then
            // the call goes again, on a new connection (which refuses nothing yet).
            match Channel::try_unary(conn, base, method, opts, request).await {
                Some(result) => result,
                None => Channel::try_unary(conn, base, method, opts, request)
                    .await
                    .unwrap_or_else(|| Err(unavailable("the server refused the call"))),
            }
        }));
        if matches!(&result, Err(s) if s.code == Code::UNAVAILABLE) {
            // The connection may be what failed: the next call opens a new one.
            if let Some((_, driver)) = self.conn.take() {
                driver.abort();
            }
        }
        result
    }

    /// One try of a unary call. `None` when the server's GOAWAY says it never took the
    /// stream (RFC 9113 §6.8: streams above its last stream id were not processed), so that
    /// the call may be sent again.
    async fn try_unary<Req, Resp>(
        conn: &mut Option<h2client::Connection>,
        base: &Url,
        method: &str,
        opts: &Options,
        request: &Req,
    ) -> Option<Result<Resp, Status>>
    where
        Req: Message + Describe,
        Resp: Message + Default + Describe,
    {
        let sent = async {
            let (mut send, response) = Channel::stream(conn, base, method, opts).await?;
            send_one(&mut send, request, 1).await?;
            end_requests(&mut send)?;
            Ok(response)
        };
        let response = match sent.await {
            Ok(r) => r,
            Err(status) => return Some(Err(status)),
        };
        match response.await {
            Err(e) if e.is_go_away() && e.is_remote() => {
                trace::event(Layer::Grpc, || {
                    format!(
                        "the server closed the channel's connection before taking the call ({e}): sending it again"
                    )
                });
                if let Some((_, driver)) = conn.take() {
                    driver.abort();
                }
                None
            }
            Err(e) => Some(Err(unavailable(e))),
            Ok(resp) => Some(async { answer(Responses::of(resp)?).await }.await),
        }
    }

    /// A stream for one call: on the connection kept, if it is still open, else on a new one.
    async fn stream(
        conn: &mut Option<h2client::Connection>,
        base: &Url,
        method: &str,
        opts: &Options,
    ) -> Result<(h2::SendStream<Bytes>, h2::client::ResponseFuture), Status> {
        if let Some((sender, driver)) = conn.take() {
            // Let the connection read what came while it waited (a GOAWAY, the end).
            tokio::task::yield_now().await;
            if !driver.is_finished() {
                // Nothing is sent before `start_on` succeeds: a failure here may open another
                // connection for the same call.
                if let Ok(stream) = start_on(sender.clone(), base, method, opts).await {
                    *conn = Some((sender, driver));
                    return Ok(stream);
                }
            }
            driver.abort();
            trace::event(Layer::Grpc, || {
                "the channel's connection was closed: opening another".to_string()
            });
        }
        let (sender, driver) = h2client::open(base, &opts.h2).await.map_err(unavailable)?;
        let stream = start_on(sender.clone(), base, method, opts).await?;
        *conn = Some((sender, driver));
        Ok(stream)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::exchange::{ECHO, Exchange, Note};
    use crate::http2::server::{self as h2server, Config, Security};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Copies one direction to its end, then passes the end on.
    fn pipe(mut from: TcpStream, mut to: TcpStream) {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    }

    /// A TCP relay in front of `to` that counts the connections made through it.
    fn counting_relay(to: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let counted = count.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                let server = TcpStream::connect(to).unwrap();
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        (addr, count)
    }

    fn echo_server(idle: Duration) -> crate::l4::background::Background {
        let config = Config {
            idle_timeout: idle,
            ..Config::default()
        };
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let app = crate::grpc::server::app(Arc::new(Exchange));
        h2server::spawn_app(l, app, config, Security::Cleartext).unwrap()
    }

    fn h2c() -> Options {
        Options {
            h2: H2Options {
                h2c: true,
                ..H2Options::default()
            },
            deadline: Some(Duration::from_secs(10)),
            metadata: Vec::new(),
        }
    }

    fn note(seq: u64) -> Note {
        Note {
            text: "hello".into(),
            seq,
        }
    }

    #[test]
    fn a_channel_makes_many_calls_on_one_connection() {
        let server = echo_server(Duration::from_secs(60));
        let (relay, connections) = counting_relay(server.addr());
        let base = Url::parse(&format!("http://{relay}/")).unwrap();
        let mut channel = Channel::new(base.clone(), h2c()).unwrap();
        for seq in 1..=5 {
            let back: Note = channel.unary(ECHO, &note(seq)).unwrap();
            assert_eq!(back.seq, seq);
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        // The one-call function opens a connection per call.
        for seq in 1..=2 {
            let _: Note = unary(&base, ECHO, &note(seq), &h2c()).unwrap();
        }
        assert_eq!(connections.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_channel_opens_another_connection_when_the_server_closed_its_own() {
        let server = echo_server(Duration::from_millis(200));
        let (relay, connections) = counting_relay(server.addr());
        let base = Url::parse(&format!("http://{relay}/")).unwrap();
        let mut channel = Channel::new(base, h2c()).unwrap();
        let _: Note = channel.unary(ECHO, &note(1)).unwrap();
        // Idle past the server's limit: GOAWAY, then the server closes.
        std::thread::sleep(Duration::from_millis(700));
        let back: Note = channel.unary(ECHO, &note(2)).unwrap();
        assert_eq!(back.seq, 2);
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }
}
