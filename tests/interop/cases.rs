//! The QUIC interop runner's test cases (quic-interop-runner's testcases.py), as netlab runs
//! them on loopback: the files each case downloads, the path the relay makes, what the
//! client and server are asked to do, and what is checked afterwards.

use netlab::l4::impair::{Blackhole, Impairment};
use std::time::Duration;

const KB: usize = 1024;
const MB: usize = 1024 * 1024;

/// How many connections the client opens for the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conns {
    /// One connection, every file at once.
    One,
    /// One connection per file, one after the other (the runner's handshakeloss and
    /// handshakecorruption: each file is a handshake through the bad path).
    PerFile,
    /// The first file on a first connection; the others on a second that resumes it.
    Resume,
    /// As Resume, and the second connection asks for its files in 0-RTT.
    ZeroRtt,
}

/// A NAT rebinding made by the relay mid-transfer: a new port, or a new address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rebind {
    Port,
    Addr,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub name: &'static str,
    /// What passing means, for the README's table.
    pub checks: &'static str,
    pub files: Vec<usize>,
    pub conns: Conns,
    pub path: Impairment,
    /// Held back by the relay, each way.
    pub delay: Duration,
    pub retry: bool,
    pub ipv6: bool,
    pub chacha20: bool,
    pub key_update: bool,
    /// The client announces small flow-control windows (transfer).
    pub small_windows: bool,
    /// The server presents a long certificate chain (amplificationlimit).
    pub long_chain: bool,
    pub rebind: Option<Rebind>,
    /// The whole case, client and server, is stopped after this.
    pub limit: Duration,
}

fn case(name: &'static str, checks: &'static str, files: Vec<usize>) -> Case {
    Case {
        name,
        checks,
        files,
        conns: Conns::One,
        path: Impairment {
            seed: 21,
            ..Impairment::default()
        },
        delay: Duration::ZERO,
        retry: false,
        ipv6: false,
        chacha20: false,
        key_update: false,
        small_windows: false,
        long_chain: false,
        rebind: None,
        limit: Duration::from_secs(30),
    }
}

/// How many connections handshakeloss and handshakecorruption make (the runner: 50; 10
/// keeps the whole matrix within a few minutes on two shared cores).
pub const HANDSHAKES_THROUGH_LOSS: usize = 10;

/// Every case, in the runner's order.
pub fn all() -> Vec<Case> {
    let many = |n: usize, size: usize| vec![size; n];
    vec![
        case("handshake", "1 handshake; the 1 KB file intact", vec![KB]),
        Case {
            small_windows: true,
            ..case(
                "transfer",
                "1 handshake; 2, 3 and 5 MB intact on one connection, the client's windows small (256 KiB a stream, 1 MiB in all) where it can set them",
                vec![2 * MB, 3 * MB, 5 * MB],
            )
        },
        Case {
            limit: Duration::from_secs(60),
            ..case(
                "multiplexing",
                "1 handshake; 1,000 files of 32 bytes intact, each on its own stream",
                many(1000, 32),
            )
        },
        Case {
            retry: true,
            ..case(
                "retry",
                "a Retry from the server, its token in the client's next Initial; 1 handshake; the file intact",
                vec![KB],
            )
        },
        Case {
            conns: Conns::Resume,
            ..case(
                "resumption",
                "2 handshakes, the second without a certificate (its Handshake packets under half the first's); files intact",
                vec![KB, 2 * KB],
            )
        },
        Case {
            conns: Conns::ZeroRtt,
            ..case(
                "zerortt",
                "2 handshakes; 0-RTT packets from the client on the second, its early data accepted; files intact",
                vec![KB, 2 * KB, 3 * KB],
            )
        },
        case(
            "http3",
            "1 handshake; 3 files intact over HTTP/3 on one connection",
            vec![KB, 2 * KB, 3 * KB],
        ),
        Case {
            chacha20: true,
            ..case(
                "chacha20",
                "the client offers TLS_CHACHA20_POLY1305_SHA256 only, and the handshake completes with it; the file intact",
                vec![KB],
            )
        },
        Case {
            key_update: true,
            ..case(
                "keyupdate",
                "the client updates its keys after the handshake; netlab's qlog shows quiche's key_updated (key phase 1 received, then sent); the file intact",
                vec![2 * MB],
            )
        },
        Case {
            rebind: Some(Rebind::Port),
            limit: Duration::from_secs(20),
            ..case(
                "rebind-port",
                "the relay moves the client to a new port after the server's 300th datagram (a NAT rebinding); the server follows; 1 handshake; the 5 MB file intact",
                vec![5 * MB],
            )
        },
        Case {
            rebind: Some(Rebind::Addr),
            limit: Duration::from_secs(20),
            ..case(
                "rebind-addr",
                "the relay moves the client to 127.0.0.2 after the server's 300th datagram; the server follows; 1 handshake; the 5 MB file intact",
                vec![5 * MB],
            )
        },
        Case {
            long_chain: true,
            ..case(
                "amplificationlimit",
                "a 9-certificate chain: until the client's first Handshake packet the server sends at most 3× the bytes it received; the file intact",
                vec![5 * KB],
            )
        },
        Case {
            conns: Conns::PerFile,
            path: Impairment {
                loss: 30,
                // The seed decides which datagrams go: 30 lost 22 % of the first 240 (too
                // kind), 27 loses 29-30 % of the first 50, 100 and 240 (`seeds_keep_their_rate`).
                seed: 27,
                ..Impairment::default()
            },
            limit: Duration::from_secs(120),
            ..case(
                "handshakeloss",
                "30 % of datagrams lost each way: 10 connections (the runner: 50), 10 handshakes, every file intact",
                many(HANDSHAKES_THROUGH_LOSS, KB),
            )
        },
        Case {
            path: Impairment {
                loss: 2,
                seed: 2,
                ..Impairment::default()
            },
            limit: Duration::from_secs(60),
            ..case(
                "transferloss",
                "2 % of datagrams lost each way: 1 handshake; 2 MB intact",
                vec![2 * MB],
            )
        },
        Case {
            conns: Conns::PerFile,
            path: Impairment {
                corrupt: 30,
                // 31 corrupted 41 % of the first 240 datagrams (the server's ACKs of whole
                // runs of probes, see README); 5 corrupts 28-30 % (`seeds_keep_their_rate`).
                seed: 5,
                ..Impairment::default()
            },
            limit: Duration::from_secs(120),
            ..case(
                "handshakecorruption",
                "one byte changed in 30 % of datagrams each way: 10 connections, 10 handshakes, every file intact",
                many(HANDSHAKES_THROUGH_LOSS, KB),
            )
        },
        Case {
            path: Impairment {
                corrupt: 2,
                seed: 3,
                ..Impairment::default()
            },
            limit: Duration::from_secs(60),
            ..case(
                "transfercorruption",
                "one byte changed in 2 % of datagrams each way: 1 handshake; 2 MB intact",
                vec![2 * MB],
            )
        },
        Case {
            path: Impairment {
                blackhole: Some(Blackhole {
                    // A 10 MB transfer through the relay may be over in 100 ms: the
                    // first outage starts soon after the handshake.
                    start: Duration::from_millis(20),
                    off: Duration::from_secs(2),
                    on: Duration::from_secs(3),
                }),
                ..Impairment::default()
            },
            limit: Duration::from_secs(90),
            ..case(
                "blackhole",
                "the path drops everything for 2 s, 20 ms after the first datagram and then after every 3 s: an outage hit; 1 handshake; 10 MB intact",
                vec![10 * MB],
            )
        },
        Case {
            delay: Duration::from_millis(750),
            limit: Duration::from_secs(60),
            ..case(
                "longrtt",
                "750 ms each way (1.5 s round trip): the client sent its first Initial again before any answer; 1 handshake; the file intact",
                vec![KB],
            )
        },
        Case {
            ipv6: true,
            ..case(
                "ipv6",
                "server, relay and client on ::1; 1 handshake; the file intact",
                vec![KB],
            )
        },
    ]
}
