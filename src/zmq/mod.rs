//! ZeroMQ: whole messages, queues and routing patterns on top of TCP (lecture section \[L7\]
//! ZeroMQ, "kernel → application"). RFCs: 37/ZMTP (ZMTP 3.1; 23/ZMTP is 3.0), 28/REQREP,
//! 29/PUBSUB, 30/PIPELINE, at rfc.zeromq.org.
//!
//! A TCP socket gives a byte stream between two kernels; a ZeroMQ socket gives the
//! application whole messages, queued, reconnected and routed by a pattern. Read in order:
//! 1. [`endpoint`] — `tcp://HOST:PORT`, checked before libzmq sees it.
//! 2. [`socket`] — one traced libzmq socket: options, bind/connect, parts, connection events.
//! 3. [`reqrep`] — REQ/REP, with a replaceable [`reqrep::Handler`] (lab 06).
//! 4. [`pirate`] — Lazy Pirate: a REQ client that survives a dead server.
//! 5. [`pubsub`] — PUB/SUB with topic prefixes, and the slow joiner.
//! 6. [`pipeline`] — PUSH/PULL: ventilator, workers, sink.
//! 7. [`broker`] — ROUTER/DEALER between many clients and many workers.
//! 8. [`zmtp`] — the wire: a hand-written ZMTP 3.x decoder (sans-IO), and
//!    [`zmtp_tap`], which feeds it from `netlab tap --proto zmtp`.
//! 9. [`tour`] — the ZeroMQ section of `netlab tour`.

pub mod broker;
pub mod endpoint;
pub mod pipeline;
pub mod pirate;
pub mod pubsub;
pub mod reqrep;
pub mod socket;
pub mod tour;
pub mod zmtp;
pub mod zmtp_tap;

pub use endpoint::{Endpoint, EndpointError};
pub use socket::{Message, Socket, ZmqError};
