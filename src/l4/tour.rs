//! The [L4] section of `netlab tour`: TCP echo with its socket states, who holds the port,
//! and UDP echo. Everything runs in this process on loopback ports the kernel picks.

use super::echo::{self, TcpClient, UdpClient};
use super::port;
use super::sockets::{self, Filter, Proto, TcpState};
use crate::guide::{Guide, TourError};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Waits until the sockets on `port` satisfy `want`, or gives up after two seconds.
/// State changes after close happen in the kernel a moment later, not inside the call.
fn sockets_on(port: u16, want: impl Fn(&[sockets::Socket]) -> bool) -> Vec<sockets::Socket> {
    let filter = Filter {
        tcp: true,
        port: Some(port),
        ..Filter::default()
    };
    let start = Instant::now();
    loop {
        let list = sockets::list(&filter).unwrap_or_default();
        if want(&list) || start.elapsed() > Duration::from_secs(2) {
            return list;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn has_state(list: &[sockets::Socket], state: TcpState) -> bool {
    list.iter().any(|s| s.state == state)
}

/// The [L4] section of `netlab tour`.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    let timeout = Duration::from_secs(5);

    g.step("TCP echo server: socket → bind → listen, on a port the kernel picks");
    let server = echo::spawn_tcp(loopback(), echo::echo).map_err(|e| g.fail("bind", e))?;
    let addr = server.addr();
    g.say(&format!("listening on tcp://{addr}"));

    g.step("TCP echo client: connect (three-way handshake), write, read until all came back");
    let mut client = TcpClient::connect(addr, timeout).map_err(|e| g.fail("connect", e))?;
    for message in ["hello, netlab\n", "TCP is a byte stream\n"] {
        let reply = client
            .exchange(message.as_bytes())
            .map_err(|e| g.fail("echo over TCP", e))?;
        if reply != message.as_bytes() {
            return Err(g.fail("echo over TCP", format!("sent {message:?}, got {reply:?}")));
        }
        g.say(&format!("echoed: {}", message.trim_end()));
    }

    g.step("netlab sockets --port: the listener and both ends of the connection");
    let open = sockets_on(addr.port(), |l| {
        l.iter()
            .filter(|s| s.state == TcpState::Established)
            .count()
            >= 2
    });
    g.say(sockets::render(&open).trim_end());
    if !has_state(&open, TcpState::Listen) || !has_state(&open, TcpState::Established) {
        return Err(g.fail("socket states", "expected LISTEN and ESTABLISHED sockets"));
    }

    g.step("close: the client sends FIN first, so the client's end waits in TIME-WAIT");
    let client_port = client.local().port();
    client.close().map_err(|e| g.fail("close", e))?;
    let closed = sockets_on(addr.port(), |l| {
        l.iter()
            .any(|s| s.local.port() == client_port && s.state == TcpState::TimeWait)
    });
    g.say(sockets::render(&closed).trim_end());
    if !closed
        .iter()
        .any(|s| s.local.port() == client_port && s.state == TcpState::TimeWait)
    {
        return Err(g.fail("socket states", "expected the client's socket in TIME-WAIT"));
    }

    g.step("netlab port: who holds the listening port");
    let holders = port::find(addr.port(), Proto::Tcp).map_err(|e| g.fail("port", e))?;
    g.say(port::describe(&holders).trim_end());
    if !holders.owners().iter().any(|o| o.pid == std::process::id()) {
        return Err(g.fail("port", "this process should hold the port"));
    }
    server.stop();

    g.step("UDP echo: one datagram in, the same datagram out; no connection, no states");
    let udp = echo::spawn_udp(loopback()).map_err(|e| g.fail("bind UDP", e))?;
    g.say(&format!("listening on udp://{}", udp.addr()));
    let mut uc = UdpClient::connect(udp.addr(), timeout).map_err(|e| g.fail("UDP client", e))?;
    let reply = uc
        .exchange(b"one datagram")
        .map_err(|e| g.fail("echo over UDP", e))?;
    if reply != b"one datagram" {
        return Err(g.fail("echo over UDP", format!("got {reply:?}")));
    }
    g.say("echoed: one datagram");
    udp.stop();
    Ok(())
}
