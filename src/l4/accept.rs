//! The accept loop, the one every TCP server of netlab runs (echo, HTTP/1.1, the proxy, the
//! tap): `accept(2)` in a loop, one thread per connection, a cap on connections served at
//! once, and a stop flag.
//!
//! ```text
//! socket → bind → listen ─┬─▶ accept ──▶ thread per connection ──▶ serve_one(stream, peer)
//!                         └── (more than max_conns at once) ──▶ refuse(stream, peer), close
//! ```
//!
//! This is where netlab makes threads for connections, and the only place: one thread per
//! connection keeps each connection's code a straight line a student can read (and step
//! through), at the cost of a stack per connection (512 KiB, reserved, mostly not touched).

use crate::trace::{self, Layer};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// What a server does with one accepted connection, in that connection's own thread.
pub type ServeOne = Arc<dyn Fn(TcpStream, SocketAddr) + Send + Sync>;

/// What a server tells a connection beyond its cap (an HTTP server answers 503), on the
/// accept loop's thread, before the connection is closed. It must not block for long.
pub type Refuse = dyn Fn(TcpStream, SocketAddr) + Send + Sync;

/// Closes a connection beyond the cap without a word: what a plain TCP server can do.
pub fn close_silently(_: TcpStream, _: SocketAddr) {}

/// Accepts connections until `stop` is set (a connection of the stopper's own then wakes
/// `accept`, and is not served). A failing `accept` or thread never stops the loop.
pub fn serve(
    listener: &TcpListener,
    stop: &AtomicBool,
    max_conns: usize,
    serve_one: ServeOne,
    refuse: &Refuse,
) {
    let active = Arc::new(AtomicUsize::new(0));
    // Connection threads play the role of the thread that runs the loop (server, proxy, tap).
    let role = trace::current_role();
    loop {
        // 1. Block until the kernel hands over a connection whose handshake is complete.
        let (stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) => {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                trace::event(Layer::L4, || {
                    format!("accept() failed: {e}; still listening")
                });
                // EMFILE and friends: wait a little instead of spinning.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // 2. A stop request wakes accept with a connection of its own; it is not served.
        if stop.load(Ordering::SeqCst) {
            return;
        }
        trace::event(Layer::L4, || {
            format!("accept() → new connection from {peer}, ESTABLISHED")
        });
        // 3. Beyond the cap, say so and close, rather than queue silently.
        if active.load(Ordering::SeqCst) >= max_conns {
            trace::event(Layer::L4, || {
                format!("{peer}: {max_conns} connections already; refusing this one")
            });
            refuse(stream, peer);
            continue;
        }
        // 4. Serve it in its own thread so a slow client never holds up the others.
        active.fetch_add(1, Ordering::SeqCst);
        let (work, count) = (serve_one.clone(), active.clone());
        let spawned = thread::Builder::new()
            .name(format!("conn {peer}"))
            .stack_size(512 * 1024)
            .spawn(move || {
                let _role = role.map(trace::role);
                work(stream, peer);
                count.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            active.fetch_sub(1, Ordering::SeqCst);
            trace::event(Layer::L4, || {
                format!("cannot start a thread for {peer}: {e}; closed")
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l4::background::Background;
    use std::io::{Read, Write};
    use std::sync::Mutex;

    #[test]
    fn serves_up_to_the_cap_and_refuses_the_rest() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = Arc::new(Mutex::new(0usize));
        let r2 = refused.clone();
        let bg = Background::tcp(listener, "accept test", move |l, stop| {
            let hold: ServeOne = Arc::new(|mut s: TcpStream, _| {
                // Hold the connection until the client closes it.
                let mut b = [0u8; 1];
                let _ = s.read(&mut b);
            });
            let refuse = move |mut s: TcpStream, _| {
                *r2.lock().unwrap() += 1;
                let _ = s.write_all(b"full");
            };
            serve(&l, &stop, 2, hold, &refuse);
        })
        .unwrap();
        let a = TcpStream::connect(bg.addr()).unwrap();
        let b = TcpStream::connect(bg.addr()).unwrap();
        // The loop takes connections in the order they came: a and b are counted (and held)
        // before c is accepted.
        let mut c = TcpStream::connect(bg.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"full");
        assert_eq!(*refused.lock().unwrap(), 1);
        drop((a, b));
        bg.stop();
    }
}
