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
        // A wake can be lost (on a lossy path the SYN-ACK of the waking connection may be the
        // dropped packet), and a loop blocked in accept would then never see the flag: wake
        // it again until it has ended, for a while, before waiting for it for good.
        for _ in 0..WAKES {
            self.wake_once();
            if wait_until_finished(&thread, Duration::from_millis(500)) {
                break;
            }
        }
        let _ = thread.join();
    }

    /// One nudge that makes a blocked `accept` or `recv_from` return.
    fn wake_once(&self) {
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
    }
}

/// How many times a stopping loop is woken before `stop` waits for it without a bound.
const WAKES: usize = 10;

/// Has `thread` ended within `limit`? Looks every few milliseconds.
fn wait_until_finished(thread: &JoinHandle<()>, limit: Duration) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if thread.is_finished() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    thread.is_finished()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A stop whose first wake is lost (here: a loop that lets its first wake-up pass, as a
    /// dropped SYN-ACK would) still ends the loop: it is woken again.
    #[test]
    fn a_lost_wake_is_sent_again() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Background::tcp(listener, "test loop", |listener, stop| {
            let mut woken = 0;
            for conn in listener.incoming() {
                drop(conn);
                if stop.load(Ordering::SeqCst) {
                    woken += 1;
                    if woken == 2 {
                        return;
                    }
                }
            }
        })
        .unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            server.stop();
            let _ = tx.send(());
        });
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "stop() waited for a loop whose first wake was lost"
        );
    }
}
