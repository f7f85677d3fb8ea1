//! One gRPC call as a handler sees it: messages in, messages out, metadata and a deadline,
//! behind a blocking API (`recv`, `send`) a student can read without knowing HTTP/2. The
//! server ([`super::server`]) feeds `recv` from the request's DATA frames and turns `send`
//! into DATA frames of the response; the status the handler returns becomes the trailers.

use super::status::{Code, Status};
use crate::http::message::Headers;
use crate::trace::{self, Layer};
use std::sync::mpsc;
use std::time::Instant;

/// A message that can say what it holds in one trace line (`Note text="hi" seq=1`).
pub trait Describe {
    fn describe(&self) -> String;
}

/// The handler's end of a call.
pub struct Call {
    /// `/netlab.Exchange/Echo`: `/` package.Service `/` Method.
    pub method: String,
    /// The request's custom metadata (its header fields, pseudo-headers left out).
    pub metadata: Headers,
    /// When the client stops waiting (`grpc-timeout`).
    pub deadline: Option<Instant>,
    pub(crate) incoming: mpsc::Receiver<Result<Vec<u8>, Status>>,
    pub(crate) outgoing: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    received: u64,
    sent: u64,
}

impl Call {
    pub(crate) fn new(
        method: String,
        metadata: Headers,
        deadline: Option<Instant>,
        incoming: mpsc::Receiver<Result<Vec<u8>, Status>>,
        outgoing: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    ) -> Call {
        Call {
            method,
            metadata,
            deadline,
            incoming,
            outgoing,
            received: 0,
            sent: 0,
        }
    }

    /// The next request message; `Ok(None)` once the client has sent its last one. Waits at
    /// most until the deadline (then DEADLINE_EXCEEDED); a message that does not decode as
    /// `M` is INTERNAL, as gRPC servers answer it.
    pub fn recv<M: prost::Message + Default + Describe>(&mut self) -> Result<Option<M>, Status> {
        let next = match self.deadline {
            Some(d) => match self
                .incoming
                .recv_timeout(d.saturating_duration_since(Instant::now()))
            {
                Ok(m) => Some(m),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(Status::new(Code::DEADLINE_EXCEEDED, "deadline exceeded"));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => None,
            },
            None => self.incoming.recv().ok(),
        };
        let Some(bytes) = next.transpose()? else {
            return Ok(None);
        };
        let m = M::decode(bytes.as_slice()).map_err(|e| {
            Status::new(
                Code::INTERNAL,
                format!("the request message does not parse: {e}"),
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
        Ok(Some(m))
    }

    /// Sends one response message. CANCELLED when the client is gone.
    pub fn send<M: prost::Message + Describe>(&mut self, m: &M) -> Result<(), Status> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Status::new(Code::DEADLINE_EXCEEDED, "deadline exceeded"));
        }
        let bytes = m.encode_to_vec();
        self.sent += 1;
        trace::sent(Layer::Grpc, || {
            format!(
                "message {}: {} ({} bytes)",
                self.sent,
                m.describe(),
                bytes.len()
            )
        });
        self.outgoing
            .send(bytes)
            .map_err(|_| Status::new(Code::CANCELLED, "the client went away"))
    }

    /// Exactly one request message, as a unary or server-streaming method takes.
    pub fn one<M: prost::Message + Default + Describe>(&mut self) -> Result<M, Status> {
        let Some(m) = self.recv()? else {
            return Err(Status::new(
                Code::INTERNAL,
                "a unary request without its message",
            ));
        };
        if self.recv::<M>()?.is_some() {
            return Err(Status::new(
                Code::INTERNAL,
                "a unary request with more than one message",
            ));
        }
        Ok(m)
    }
}

/// What serves calls: one method per `:path`, returning the status of the call.
pub trait Service: Send + Sync + 'static {
    /// The methods it answers, as `/package.Service/Method`, for UNIMPLEMENTED and the trace.
    fn methods(&self) -> &[&'static str];
    /// Serves one call; `Err` ends it with that status.
    fn call(&self, call: &mut Call) -> Result<(), Status>;
}
