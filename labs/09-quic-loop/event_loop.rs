//! Lab 09 — the file you edit: the heart of a QUIC client's loop (RFC 9000 over a blocking
//! UDP socket, with quiche as the protocol engine).
//!
//! quiche is sans-I/O: it never touches a socket or a clock. Your loop brings it datagrams
//! and time, and carries away what it wants to send. The check runs netlab's own HTTP/3
//! client (`src/quic/client.rs`, `Fetch::run`) with your two functions as its socket steps:
//!
//! ```text
//! receive(conn, socket, buf)   steps 1–3: yours
//! (the client itself)          steps 4–8: the handshake's end, HTTP/3, requests, responses
//! send(conn, socket, peer)     step 9: yours
//! ```
//!
//! Step 2 is written. Steps 1, 3 and 9 are yours; see README.md. Check: `make check LAB=09`.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Steps 1–3 of one turn: wait for a datagram (at most until the connection's next timer),
/// feed it to quiche, fire the timers that expired.
pub fn receive(
    conn: &mut quiche::Connection,
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<()> {
    // 1. Wait for a datagram. TODO: not longer than `conn.timeout()` says (None: no timer).
    socket.set_read_timeout(None)?;
    match socket.recv_from(buf) {
        Ok((n, from)) => {
            // 2. Feed the datagram to quiche.
            let info = quiche::RecvInfo {
                from,
                to: socket.local_addr()?,
            };
            let _ = conn.recv(&mut buf[..n], info);
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        Err(e) => return Err(e),
    }
    // 3. TODO: fire the timers that expired.
    Ok(())
}

/// Step 9: send every datagram quiche has ready.
pub fn send(conn: &mut quiche::Connection, socket: &UdpSocket, peer: SocketAddr) -> io::Result<()> {
    // TODO: `conn.send(&mut out)` gives one datagram at a time, until Err(quiche::Error::Done).
    let _ = (conn, socket, peer);
    Ok(())
}
