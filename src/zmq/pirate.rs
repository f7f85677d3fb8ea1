//! Reliable request-reply on the client side: the Lazy Pirate pattern (ZeroMQ guide,
//! chapter 4), on top of REQ/REP (RFC 28/REQREP).
//!
//! A plain REQ client that gets no reply is stuck: the server may have crashed with the
//! request, the reply may be lost, or the server may be slow, and REQ may not send again
//! before it receives (EFSM). Lazy Pirate's answer:
//!
//! 1. send the request, then wait for the reply at most `timeout`;
//! 2. no reply: close the REQ socket, dropping the unanswered request (ZMQ_LINGER 0), open a
//!    new one, connect, and send the same request again;
//! 3. after `retries` resends without a reply, give up with an error.
//!
//! Reopening is the point: resending on the same socket is exactly the "REQ sends twice"
//! mistake, which [`Retry::SameSocket`] shows on purpose. A request may therefore reach the
//! server twice (the first reply was lost, not the request): the handler should be
//! idempotent, or the client should number its requests.

use super::endpoint::Endpoint;
use super::reqrep::Client;
use super::socket::{Message, ZmqError};
use std::time::Duration;

/// How a retry is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Close the REQ socket and open a new one: Lazy Pirate.
    Reopen,
    /// Resend on the same REQ socket: fails with EFSM ("REQ sends twice"), to show why not.
    SameSocket,
}

/// A Lazy Pirate client. `report` receives one sentence for each thing it did (a timeout,
/// a reconnect, a resend), so a command can print them.
pub struct LazyPirate<'a> {
    ctx: zmq::Context,
    endpoint: Endpoint,
    timeout: Duration,
    retries: u32,
    how: Retry,
    client: Option<Client>,
    report: Box<dyn FnMut(&str) + 'a>,
}

impl<'a> LazyPirate<'a> {
    pub fn new(
        ctx: &zmq::Context,
        endpoint: &Endpoint,
        timeout: Duration,
        retries: u32,
        how: Retry,
        report: impl FnMut(&str) + 'a,
    ) -> LazyPirate<'a> {
        LazyPirate {
            ctx: ctx.clone(),
            endpoint: endpoint.clone(),
            timeout,
            retries,
            how,
            client: None,
            report: Box::new(report),
        }
    }

    /// Sends `request` and returns its reply, resending up to `retries` times.
    pub fn request<P: AsRef<[u8]>>(&mut self, request: &[P]) -> Result<Message, ZmqError> {
        let _role = crate::trace::default_role("client");
        let tries = self.retries + 1;
        for attempt in 1..=tries {
            // 1. A socket: the one we have, or a fresh one after a failed try.
            let mut client = match self.client.take() {
                Some(c) => c,
                None => Client::connect(&self.ctx, &self.endpoint, self.timeout)?,
            };
            // 2. Send (a SameSocket retry fails here with EFSM) and wait at most `timeout`.
            match client.request(request) {
                Ok(reply) => {
                    self.replied(client, attempt, tries);
                    return Ok(reply);
                }
                Err(e @ (ZmqError::NoReply { .. } | ZmqError::Unreachable { .. })) => {
                    if self.retries == 0 {
                        return Err(e);
                    }
                    // 3. Say so, and retry as `how` says.
                    self.retry(client, &e, attempt, tries);
                }
                Err(other) => return Err(other),
            }
        }
        Err(ZmqError::GaveUp {
            endpoint: self.endpoint.to_string(),
            tries,
            ms: self.timeout.as_millis(),
        })
    }

    /// A reply came on try `attempt`: the socket is kept for the next request, and a reply
    /// that needed retries is reported.
    fn replied(&mut self, client: Client, attempt: u32, tries: u32) {
        if attempt > 1 {
            let retries = attempt - 1;
            (self.report)(&format!(
                "got the reply on try {attempt} of {tries} ({retries} retries)"
            ));
        }
        self.client = Some(client);
    }

    /// Step 3 of [`LazyPirate::request`] after try `attempt` of `tries` failed with `e`:
    /// Lazy Pirate drops the socket with its unanswered request; the naive client keeps it,
    /// and its next send breaks REQ's turn.
    fn retry(&mut self, client: Client, e: &ZmqError, attempt: u32, tries: u32) {
        let next = match self.how {
            _ if attempt == tries => "giving up",
            Retry::Reopen => "closing the REQ socket, opening a new one and resending",
            Retry::SameSocket => "resending on the same REQ socket",
        };
        (self.report)(&format!("try {attempt} of {tries}: {e}; {next}"));
        match self.how {
            Retry::Reopen => client.abandon(),
            Retry::SameSocket => self.client = Some(client),
        }
    }
}
