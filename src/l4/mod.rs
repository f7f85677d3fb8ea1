//! L4: socket programming with blocking `std::net` (lecture section \[L4\]).
//!
//! Read in this order:
//! 1. [`conn`] — a TCP connection whose every read, write and close is traced.
//! 2. [`accept`] — the accept loop every TCP server runs, its places shared out per source
//!    address by [`share`]; [`echo`] — the echo server and client, TCP (RFC 9293) and UDP
//!    (RFC 768).
//! 3. [`sockets`] — socket state as `netstat -anp` shows it, from /proc.
//! 4. [`port`] — who holds a port, and how to end it.
//! 5. [`relay`] — two connections joined byte for byte (the proxy's tunnel, the tap), which
//!    can also reset both as a NAT that lost the mapping would;
//!    [`udp_relay`] — its datagram sibling, which can drop chosen datagrams, delay them, or
//!    move the client to a new port or address (lab 09, the comparison), and [`impair`] —
//!    random loss, corruption and outages on it (the QUIC interop cases); [`background`] — a
//!    server loop in a thread of this process
//!    (tour, labs, tests); [`batch`] — datagrams read and sent in runs (GRO, GSO), for the
//!    relay and the QUIC loops.
//! 6. [`netns`] — network namespaces, veth pairs and nftables NATs: two homes and a public
//!    network on one machine (`netlab nat`, the NAT traversal tests).

pub mod accept;
pub mod background;
pub mod batch;
pub mod conn;
pub mod echo;
pub mod impair;
pub mod netns;
pub mod port;
pub mod relay;
pub mod share;
pub mod sockets;
pub mod sockopt;
pub mod tour;
pub mod udp_relay;
