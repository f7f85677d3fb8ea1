//! PUB/SUB: one publisher, any number of subscribers, filtered by topic (RFC 29/PUBSUB).
//!
//! A SUB socket tells each publisher what it wants: a subscription is a prefix, and a message
//! matches when it starts with one (the empty prefix matches everything). Since ZMTP 3.x the
//! filtering happens at the publisher (RFC 37 "The Publish-Subscribe Pattern"), so a
//! message nobody wants never crosses the network: `netlab tap` shows the SUBSCRIBE going
//! up and only matching messages coming down.
//!
//! The slow joiner. A PUB socket sends each message to the subscribers it knows *now*; one
//! that is still connecting (TCP handshake, ZMTP greeting, then its SUBSCRIBE) misses what
//! was published meanwhile. PUB never waits and never tells. The cures: let the publisher
//! wait until it has seen the subscriptions (an XPUB socket receives them as messages, which
//! [`Publisher::wait_for_subscriptions`] uses), or synchronise over a second channel
//! (REQ/REP), or simply start subscribers first and publish a little later.

use super::endpoint::Endpoint;
use super::socket::{Message, Socket, ZmqError};
use crate::trace::{self, Layer};
use std::time::{Duration, Instant};

/// A bound publisher.
pub struct Publisher {
    sock: Socket,
    endpoint: String,
}

impl Publisher {
    /// Binds a PUB socket, or an XPUB socket when `see_subscriptions` (to wait for them).
    pub fn bind(
        ctx: &zmq::Context,
        endpoint: &Endpoint,
        see_subscriptions: bool,
    ) -> Result<Publisher, ZmqError> {
        let kind = if see_subscriptions {
            zmq::XPUB
        } else {
            zmq::PUB
        };
        let mut sock = Socket::new(ctx, kind)?;
        if see_subscriptions {
            sock.option(
                "ZMQ_XPUB_VERBOSE",
                "1",
                "pass every subscription up, even a topic another subscriber already has",
                |s| s.set_xpub_verbose(true),
            )?;
        }
        let endpoint = sock.bind(endpoint)?;
        Ok(Publisher { sock, endpoint })
    }

    /// `tcp://HOST:PORT` with the real port.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Waits until `n` subscriptions have arrived (XPUB only), at most `timeout`. Each one
    /// is a message whose first byte is 1 (subscribe) or 0 (cancel), then the topic.
    pub fn wait_for_subscriptions(&mut self, n: usize, timeout: Duration) -> Result<(), ZmqError> {
        let start = Instant::now();
        let mut seen = 0;
        while seen < n {
            let left = timeout.saturating_sub(start.elapsed());
            let Some(message) = self.sock.recv(Some(left))? else {
                return Err(ZmqError::Timeout {
                    what: format!(
                        "waiting for {n} subscription(s) on {} ({seen} arrived; start the subscribers, or raise --timeout)",
                        self.endpoint
                    ),
                    ms: timeout.as_millis(),
                });
            };
            let Some(first) = message.first() else {
                continue;
            };
            if traced_subscription(first, seen + 1, n) {
                seen += 1;
            }
        }
        Ok(())
    }

    /// Publishes one single-part message; its topic is whatever prefix subscribers chose.
    pub fn publish(&mut self, message: &[u8]) -> Result<(), ZmqError> {
        self.sock.send(&[message])
    }
}

/// Traces one message an XPUB passed up: a subscription (first byte 1, the `number`th of
/// `n`) or a cancel (0). True for a subscription.
fn traced_subscription(message: &[u8], number: usize, n: usize) -> bool {
    match message.split_first() {
        Some((1, topic)) => {
            trace::event(Layer::Zmq, || {
                format!(
                    "subscription {number} of {n}: topic \"{}\"",
                    trace::preview(topic, 40)
                )
            });
            true
        }
        Some((0, topic)) => {
            trace::event(Layer::Zmq, || {
                format!("subscription cancelled: \"{}\"", trace::preview(topic, 40))
            });
            false
        }
        _ => false,
    }
}

/// A connected subscriber.
pub struct Subscriber {
    sock: Socket,
}

impl Subscriber {
    /// A SUB socket subscribed to each of `topics` (none: everything), connected to
    /// `endpoint`. Subscribing before connecting means the SUBSCRIBE goes out right after
    /// the handshake.
    pub fn connect(
        ctx: &zmq::Context,
        endpoint: &Endpoint,
        topics: &[&str],
    ) -> Result<Subscriber, ZmqError> {
        let sock = Socket::new(ctx, zmq::SUB)?;
        let all = [""];
        let topics = if topics.is_empty() { &all[..] } else { topics };
        for topic in topics {
            sock.option(
                "ZMQ_SUBSCRIBE",
                &format!("\"{topic}\""),
                if topic.is_empty() {
                    "the empty prefix: every message"
                } else {
                    "only messages starting with this prefix (the publisher filters)"
                },
                |s| s.set_subscribe(topic.as_bytes()),
            )?;
        }
        let mut sub = Subscriber { sock };
        sub.sock.connect(endpoint)?;
        Ok(sub)
    }

    /// The next message, waiting at most `timeout` (`None`: no limit).
    pub fn next(&mut self, timeout: Option<Duration>) -> Result<Option<Message>, ZmqError> {
        self.sock.recv(timeout)
    }
}
