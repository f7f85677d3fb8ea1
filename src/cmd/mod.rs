//! One file per area of the course: its command tables (flags, defaults, help) and the
//! small functions that turn parsed flags into library calls and print the results.

pub mod compare;
pub mod grpc;
pub mod h2;
pub mod h3;
pub mod http;
pub mod l4;
pub mod nat;
pub mod stun;
pub mod tap;
pub mod webrtc;
pub mod zmq;
