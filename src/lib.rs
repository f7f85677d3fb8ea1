//! # netlab — network programming, one layer at a time
//!
//! The reading map: each section of the course, the module that implements it, and the lab
//! that goes with it. Read top to bottom; every layer traces its steps with [`trace`].
//!
//! | lecture section | module | lab |
//! |---|---|---|
//! | [L4] socket programming: echo server and client | [`l4::conn`], [`l4::echo`] | `labs/01-echo-handler` |
//! | [L4] viewing socket state (netstat -an) | [`l4::sockets`] | `labs/02-socket-states` |
//! | [L4] a port already LISTENING | [`l4::port`] | — |
//! | \[L7\] ZeroMQ patterns: REQ/REP, PUB/SUB, PUSH/PULL, ROUTER/DEALER, Lazy Pirate | [`zmq`] ([`zmq::reqrep`], [`zmq::pubsub`], [`zmq::pipeline`], [`zmq::broker`], [`zmq::pirate`]) | `labs/06-zmq-kv` |
//! | \[L7\] ZeroMQ on the wire: ZMTP 3.x, seen through a relay | [`zmq::zmtp`], [`zmq::zmtp_tap`], [`tap`] | — |
//! | the guided tour of every exchange | [`tour`] | — |
//!
//! Later layers (HTTP/1.1, HTTP/2 and gRPC, HTTP/3, WebRTC) add their rows here as
//! they land; the README holds the full course map.

pub mod l4;
pub mod tap;
pub mod tour;
pub mod trace;
pub mod zmq;
