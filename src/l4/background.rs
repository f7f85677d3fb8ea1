//! A server loop running in a background thread of this process — for the tour, the lab
//! checks and the tests, which start servers next to their clients.
//!
//! Stopping a blocking server is the classic problem: `accept` and `recv_from` do not look at
//! flags. So stopping sets the flag, then wakes the loop with a connection (TCP) or an empty
//! datagram (UDP) of its own; the loop sees the flag and returns.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How to wake the loop once the stop flag is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Connect to the listening address (unblocks `accept`).
    Tcp,
    /// Send an empty datagram to the bound address (unblocks `recv_from`).
    Udp,
}

/// A server loop in its own thread; stopped (and joined) by `stop` or on drop.
pub struct Background {
    addr: SocketAddr,
    wake: Wake,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Runs `body(stop_flag)` in a thread named `name`; `addr` is where the loop listens.
    pub fn start(
        name: String,
        addr: SocketAddr,
        wake: Wake,
        body: impl FnOnce(Arc<AtomicBool>) + Send + 'static,
    ) -> io::Result<Background> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || body(flag))?;
        Ok(Background {
            addr,
            wake,
            stop,
            thread: Some(thread),
        })
    }

    /// Runs a TCP server loop `body(listener, stop_flag)` in a thread named after `what` and
    /// the address (the echo server, the HTTP server, the proxy, the tap all start this way).
    pub fn tcp(
        listener: TcpListener,
        what: &str,
        body: impl FnOnce(TcpListener, Arc<AtomicBool>) + Send + 'static,
    ) -> io::Result<Background> {
        let addr = listener.local_addr()?;
        Background::start(format!("{what} {addr}"), addr, Wake::Tcp, move |stop| {
            body(listener, stop)
        })
    }

    /// The address the loop listens on, with the real port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the loop and waits for it. Connections already being served finish on their own.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::SeqCst);
        match self.wake {
            Wake::Tcp => {
                let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            }
            Wake::Udp => {
                if let Ok(s) = UdpSocket::bind(loopback_for(&self.addr)) {
                    let _ = s.send_to(&[], self.addr);
                }
            }
        }
        let _ = thread.join();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Port 0 on the loopback address of the same family as `addr`: where a client socket binds.
pub fn loopback_for(addr: &SocketAddr) -> SocketAddr {
    if addr.is_ipv4() {
        SocketAddr::from(([127, 0, 0, 1], 0))
    } else {
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0))
    }
}
