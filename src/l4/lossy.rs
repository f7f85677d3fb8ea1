//! A lossy UDP path in user space: a relay between one client and one server that drops
//! chosen datagrams, by their number in each direction, so a test or a lab sees the same
//! losses on every run. No root and no network namespace needed (for random loss in the
//! kernel, nftables in a network namespace: `tests/h3_loop.rs` and `src/compare/hol.rs`); it works for any UDP protocol — QUIC here.
//!
//! ```text
//! client ──▶ relay ──▶ server      datagram n of the client is dropped when up(n)
//! client ◀── relay ◀── server      datagram n of the server is dropped when down(n)
//! ```

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::trace::{self, Layer};

/// Which datagrams to drop: `up` for the client's (numbered from 1), `down` for the server's.
#[derive(Clone, Copy)]
pub struct Losses {
    pub up: fn(u64) -> bool,
    pub down: fn(u64) -> bool,
}

impl Losses {
    /// A clean path.
    pub fn none() -> Losses {
        Losses {
            up: |_| false,
            down: |_| false,
        }
    }
}

/// The relay, running in two threads (one per direction) until dropped.
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Listens on a loopback port of its own and relays to `server`.
    pub fn start(server: SocketAddr, losses: Losses) -> io::Result<Relay> {
        let front = UdpSocket::bind(crate::l4::background::loopback_for(&server))?;
        let back = UdpSocket::bind(crate::l4::background::loopback_for(&server))?;
        back.connect(server)?;
        // Short read timeouts only so that each thread notices the stop flag.
        front.set_read_timeout(Some(Duration::from_millis(50)))?;
        back.set_read_timeout(Some(Duration::from_millis(50)))?;
        let addr = front.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        // The client's address, learnt from its first datagram (0 = not yet).
        let client = Arc::new(std::sync::Mutex::new(None::<SocketAddr>));
        let (front2, back2) = (front.try_clone()?, back.try_clone()?);
        let up = {
            let (stop, dropped, client) = (stop.clone(), dropped.clone(), client.clone());
            thread::Builder::new()
                .name(format!("lossy relay {addr} up"))
                .spawn(move || {
                    let mut buf = vec![0u8; 65535];
                    let mut n_up = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        let Ok((n, from)) = front.recv_from(&mut buf) else {
                            continue;
                        };
                        if let Ok(mut c) = client.lock() {
                            *c = Some(from);
                        }
                        n_up += 1;
                        if (losses.up)(n_up) {
                            dropped.fetch_add(1, Ordering::SeqCst);
                            trace::event(Layer::L4, || {
                                format!("lossy path: dropped client datagram #{n_up} ({n} bytes)")
                            });
                        } else {
                            let _ = back.send(&buf[..n]);
                        }
                    }
                })?
        };
        let down = {
            let (stop, dropped) = (stop.clone(), dropped.clone());
            thread::Builder::new()
                .name(format!("lossy relay {addr} down"))
                .spawn(move || {
                    let mut buf = vec![0u8; 65535];
                    let mut n_down = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        let Ok(n) = back2.recv(&mut buf) else {
                            continue;
                        };
                        n_down += 1;
                        if (losses.down)(n_down) {
                            dropped.fetch_add(1, Ordering::SeqCst);
                            trace::event(Layer::L4, || {
                                format!("lossy path: dropped server datagram #{n_down} ({n} bytes)")
                            });
                            continue;
                        }
                        let to = client.lock().ok().and_then(|c| *c);
                        if let Some(to) = to {
                            let _ = front2.send_to(&buf[..n], to);
                        }
                    }
                })?
        };
        Ok(Relay {
            addr,
            stop,
            dropped,
            threads: vec![up, down],
        })
    }

    /// Where the client sends instead of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Datagrams dropped so far, both ways.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
