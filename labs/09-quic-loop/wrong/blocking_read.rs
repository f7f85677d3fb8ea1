//! Lab 09, wrong on purpose: step 1 waits for a datagram however long it takes (no timeout), so a timer due while nothing arrives never fires.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Steps 1–3 of one turn: wait for a datagram (at most until the connection's next timer),
/// feed it to quiche, fire the timers that expired.
pub fn receive(
    conn: &mut quiche::Connection,
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<()> {
    // 1. Wait, but never past the next timer: quiche's timeout() says when it is due.
    //    std refuses a zero timeout, so 1 ms is the floor; None means "no timer: block".
    let _ = Duration::from_millis(1);
    socket.set_read_timeout(None)?;
    match socket.recv_from(buf) {
        Ok((n, from)) => {
            // 2. Feed the datagram to quiche (it decrypts, processes frames, queues ACKs).
            let info = quiche::RecvInfo {
                from,
                to: socket.local_addr()?,
            };
            // A datagram quiche cannot use (a stray, a duplicate) is not fatal.
            let _ = conn.recv(&mut buf[..n], info);
        }
        // The timer expired first (WouldBlock on Unix, TimedOut on Windows).
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        Err(e) => return Err(e),
    }
    // 3. Fire the timers that expired: loss detection resends what was lost, the idle timer
    //    closes a dead connection. A no-op when nothing is due, so call it every turn.
    conn.on_timeout();
    Ok(())
}

/// Step 9: send every datagram quiche has ready, until it says `Done`.
pub fn send(conn: &mut quiche::Connection, socket: &UdpSocket, peer: SocketAddr) -> io::Result<()> {
    let mut out = [0u8; 1350];
    loop {
        match conn.send(&mut out) {
            Ok((n, _info)) => {
                socket.send_to(&out[..n], peer)?;
            }
            Err(quiche::Error::Done) => return Ok(()),
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
}
