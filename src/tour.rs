//! `netlab tour`: every exchange of the course, run on loopback, narrated by the trace.
//!
//! Each section starts its own servers on ephemeral ports (port 0), drives them with
//! netlab's clients, shows what the kernel sees, and stops everything it started. A section
//! fails (and the tour exits 1) as soon as one exchange does not give the expected answer.

use crate::l4::echo::{self, TcpClient, UdpClient};
use crate::l4::port;
use crate::l4::sockets::{self, Filter, Proto, TcpState};
use std::fmt;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

/// A step of the tour that did not go as expected.
#[derive(Debug)]
pub struct TourError {
    pub section: &'static str,
    pub step: String,
    pub reason: String,
}

impl fmt::Display for TourError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tour {}: {}: {}", self.section, self.step, self.reason)
    }
}

impl std::error::Error for TourError {}

/// A section of the tour: its name (`netlab tour NAME`), a one-line title, and its body.
pub struct Section {
    pub name: &'static str,
    pub title: &'static str,
    pub run: fn(&mut Guide) -> Result<(), TourError>,
}

/// Every section, in the order of the course.
pub const SECTIONS: &[Section] = &[Section {
    name: "l4",
    title: "[L4] socket programming: echo over TCP and UDP, socket states, who holds a port",
    run: l4,
}];

/// What a section uses to narrate and to fail with a clear step name.
pub struct Guide {
    section: &'static str,
    out: Box<dyn std::io::Write>,
}

impl Guide {
    /// Prints a narration line to stdout (the trace goes to stderr).
    pub fn say(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// A heading for the next step.
    pub fn step(&mut self, title: &str) {
        self.say(&format!("\n--- {title}"));
    }

    /// Builds the error for a failed step.
    pub fn fail(&self, step: &str, reason: impl fmt::Display) -> TourError {
        TourError {
            section: self.section,
            step: step.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Runs one section (by name) or all of them. `out` receives the narration.
pub fn run(only: Option<&str>, out: Box<dyn std::io::Write>) -> Result<(), TourError> {
    let chosen: Vec<&Section> = match only {
        None => SECTIONS.iter().collect(),
        Some(name) => match SECTIONS.iter().find(|s| s.name == name) {
            Some(s) => vec![s],
            None => {
                let names: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
                return Err(TourError {
                    section: "tour",
                    step: "choosing a section".into(),
                    reason: format!("no section '{name}': choose one of {}", names.join(", ")),
                });
            }
        },
    };
    let mut guide = Guide { section: "", out };
    for s in chosen {
        guide.section = s.name;
        guide.say(&format!("\n=== {}", s.title));
        (s.run)(&mut guide)?;
        guide.say(&format!("=== {}: every exchange succeeded", s.name));
    }
    Ok(())
}

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

fn l4(g: &mut Guide) -> Result<(), TourError> {
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
