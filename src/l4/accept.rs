//! The accept loop, the one every TCP server of netlab runs (echo, HTTP/1.1, HTTP/2 and
//! gRPC, the proxy, the tap): `accept(2)` in a loop, one thread per connection, a cap on
//! connections served at once with a share per source address ([`Shares`]), and a stop flag.
//!
//! ```text
//! socket → bind → listen ─┬─▶ accept ──▶ thread per connection ──▶ serve_one(stream, peer)
//!                         └── (no place: the cap, or the source's share) ──▶ refuse, close
//! ```
//!
//! This is where netlab makes threads for connections, and the only place: one thread per
//! connection keeps each connection's code a straight line a student can read (and step
//! through), at the cost of a stack per connection (512 KiB, reserved, mostly not touched).
//!
//! [`Threads::Serial`] (the servers' `--serial` flag) makes no thread at all: the loop serves
//! each connection itself, to its end, before it accepts the next; later clients wait in the
//! kernel's listen queue meanwhile. That is for a debugger: a breakpoint in a parser or a
//! handler then stops the one thread that accepted, and `next`/`step` never jump to another
//! connection's thread. (HTTP/2 still runs each handler on its handler pool, see
//! [`crate::http2::server`].)

use super::share::{Refusal, Shares};
use crate::trace::{self, Layer};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// What a server does with one accepted connection, in that connection's own thread.
pub type ServeOne = Arc<dyn Fn(TcpStream, SocketAddr) + Send + Sync>;

/// What a server tells a connection it has no place for (an HTTP server answers 503), on
/// the accept loop's thread, before the connection is closed. It must not block for long.
pub type Refuse = dyn Fn(TcpStream, SocketAddr, &Refusal) + Send + Sync;

/// Closes a connection beyond the cap without a word: what a plain TCP server can do.
pub fn close_silently(_: TcpStream, _: SocketAddr, _: &Refusal) {}

/// Where connections are served: each in a thread of its own, or one after the other on the
/// accept loop's thread (`--serial`, for stepping through one exchange in a debugger).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Threads {
    #[default]
    PerConnection,
    Serial,
}

/// Accepts connections until `stop` is set (a connection of the stopper's own then wakes
/// `accept`, and is not served), each while it holds a place of `places`. A failing
/// `accept` or thread never stops the loop.
pub fn serve(
    listener: &TcpListener,
    stop: &AtomicBool,
    places: &Shares,
    threads: Threads,
    serve_one: ServeOne,
    refuse: &Refuse,
) {
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
        // 3. Serial: serve it here, to its end; the next client waits in the listen queue.
        if threads == Threads::Serial {
            trace::event(Layer::L4, || {
                format!("{peer}: served on the accept loop's thread (serial)")
            });
            serve_one(stream, peer);
            continue;
        }
        // 4. No place (the cap, or this address's share of it): say so and close, rather
        //    than queue silently.
        let place = match places.try_take(peer.ip()) {
            Ok(place) => place,
            Err(why) => {
                trace::event(Layer::L4, || format!("{peer}: {why}; refusing this one"));
                refuse(stream, peer, &why);
                continue;
            }
        };
        // 5. Serve it in its own thread so a slow client never holds up the others; the
        //    place is given back when the thread ends (or was never started).
        let work = serve_one.clone();
        let spawned = thread::Builder::new()
            .name(format!("conn {peer}"))
            .stack_size(512 * 1024)
            .spawn(move || {
                let _role = role.map(trace::role);
                let _place = place;
                work(stream, peer);
            });
        if let Err(e) = spawned {
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
            let refuse = move |mut s: TcpStream, _, _: &Refusal| {
                *r2.lock().unwrap() += 1;
                let _ = s.write_all(b"full");
            };
            serve(
                &l,
                &stop,
                &Shares::whole(2),
                Threads::PerConnection,
                hold,
                &refuse,
            );
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

    #[test]
    fn serial_serves_each_connection_on_the_loops_own_thread_in_turn() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let bg = Background::tcp(listener, "accept test", move |l, stop| {
            let loop_thread = thread::current().id();
            let record: ServeOne = Arc::new(move |mut s: TcpStream, _| {
                let mut b = [0u8; 1];
                let _ = s.read(&mut b);
                s2.lock()
                    .unwrap()
                    .push((b[0], thread::current().id() == loop_thread));
                let _ = s.write_all(&b);
            });
            serve(
                &l,
                &stop,
                &Shares::whole(1),
                Threads::Serial,
                record,
                &close_silently,
            );
        })
        .unwrap();
        // b connects while a is being served: serial never refuses, b waits its turn.
        let mut a = TcpStream::connect(bg.addr()).unwrap();
        let mut b = TcpStream::connect(bg.addr()).unwrap();
        b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        b.write_all(b"b").unwrap();
        thread::sleep(Duration::from_millis(100));
        assert!(seen.lock().unwrap().is_empty(), "b was served before a");
        a.write_all(b"a").unwrap();
        let mut got = [0u8; 1];
        b.read_exact(&mut got).unwrap();
        assert_eq!(got, *b"b");
        assert_eq!(*seen.lock().unwrap(), vec![(b'a', true), (b'b', true)]);
        drop((a, b));
        bg.stop();
    }
}
