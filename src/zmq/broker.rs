//! ROUTER/DEALER: a broker between many REQ clients and many REP workers (RFC 28/REQREP,
//! the ZeroMQ guide's "rrbroker").
//!
//! ```text
//!  REQ clients ──▶ ROUTER (frontend, bind) ─ broker ─ DEALER (backend, bind) ──▶ REP workers
//! ```
//!
//! Clients and workers only know the broker's two endpoints, so either side can grow or
//! shrink without the other noticing. The trick is the envelope: a ROUTER prepends a frame
//! naming the connection a message came from (its routing id), and routes a reply by that
//! first frame. So a request leaves the frontend as `[client id, "", request]`, the DEALER
//! passes all three frames to one worker in turn, the REP worker keeps `[client id, ""]` aside,
//! hands `request` to its handler, and puts the envelope back on the reply; the ROUTER
//! then strips the id and sends the reply down the right connection.

use super::endpoint::Endpoint;
use super::socket::{Message, Socket, ZmqError};
use crate::trace::{self, Layer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long one poll waits before looking at the stop flag again.
const STOP_CHECK: i64 = 100;

/// The broker's two bound sockets.
pub struct Broker {
    frontend: Socket,
    backend: Socket,
    endpoints: (String, String),
}

impl Broker {
    /// Binds the ROUTER for clients and the DEALER for workers.
    pub fn bind(
        ctx: &zmq::Context,
        frontend: &Endpoint,
        backend: &Endpoint,
    ) -> Result<Broker, ZmqError> {
        let mut front = Socket::new(ctx, zmq::ROUTER)?;
        let f = front.bind(frontend)?;
        let mut back = Socket::new(ctx, zmq::DEALER)?;
        let b = back.bind(backend)?;
        Ok(Broker {
            frontend: front,
            backend: back,
            endpoints: (f, b),
        })
    }

    /// The real (frontend, backend) endpoints.
    pub fn endpoints(&self) -> (&str, &str) {
        (&self.endpoints.0, &self.endpoints.1)
    }

    /// Forwards requests to workers and replies to clients until `stop` is set. Returns how
    /// many messages went each way.
    pub fn serve(&mut self, stop: &AtomicBool) -> Result<(u64, u64), ZmqError> {
        let (mut requests, mut replies) = (0, 0);
        while !stop.load(Ordering::SeqCst) {
            // 1. Only take a request when a worker can take it (the DEALER is writable):
            //    otherwise the request waits in the ROUTER's queue, not in ours.
            let workers = self
                .backend
                .raw()
                .get_events()
                .map(|e| e.contains(zmq::POLLOUT))
                .unwrap_or(false);
            let (front_events, back_events) = if workers {
                (zmq::POLLIN, zmq::POLLIN)
            } else {
                (zmq::PollEvents::empty(), zmq::POLLIN | zmq::POLLOUT)
            };
            let mut items = [
                self.frontend.raw().as_poll_item(front_events),
                self.backend.raw().as_poll_item(back_events),
            ];
            match zmq::poll(&mut items, STOP_CHECK) {
                Ok(_) | Err(zmq::Error::EINTR) => {}
                Err(source) => {
                    return Err(ZmqError::Io {
                        what: "zmq_poll",
                        source,
                    });
                }
            }
            let (from_clients, from_workers) = (items[0].is_readable(), items[1].is_readable());
            // 2. A request: [client id, "", request…] goes to the next worker as it is.
            let request = if from_clients {
                self.frontend.recv(Some(Duration::ZERO))?
            } else {
                None
            };
            if let Some(message) = request {
                trace::event(Layer::Zmq, || {
                    format!(
                        "broker: request from client {} → a worker",
                        envelope(&message)
                    )
                });
                self.backend.send(&message)?;
                requests += 1;
            }
            // 3. A reply: [client id, "", reply…] goes back to that client.
            let reply = if from_workers {
                self.backend.recv(Some(Duration::ZERO))?
            } else {
                None
            };
            if let Some(message) = reply {
                trace::event(Layer::Zmq, || {
                    format!("broker: reply → client {}", envelope(&message))
                });
                self.frontend.send(&message)?;
                replies += 1;
            }
        }
        Ok((requests, replies))
    }
}

/// The routing id (the first frame) in hex: libzmq makes up 5 bytes, `00` + a counter.
fn envelope(message: &Message) -> String {
    match message.first() {
        Some(id) => id.iter().map(|b| format!("{b:02x}")).collect(),
        None => "(none)".into(),
    }
}
