//! L4: socket programming with blocking `std::net` (lecture section [L4]).
//!
//! Read in this order:
//! 1. [`conn`] — a TCP connection whose every read, write and close is traced.
//! 2. [`echo`] — the echo server and client, TCP (RFC 9293) and UDP (RFC 768).
//! 3. [`sockets`] — socket state as `netstat -anp` shows it, from /proc.
//! 4. [`port`] — who holds a port, and how to end it.

pub mod background;
pub mod conn;
pub mod echo;
pub mod port;
pub mod sockets;
pub mod tour;
