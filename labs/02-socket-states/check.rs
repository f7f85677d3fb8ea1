//! Lab 02 check: runs the line server, plays clients against it, and reads the socket
//! states the kernel reports (the same table `netlab sockets` prints). Run: `make check LAB=02`.

#[path = "../common.rs"]
mod common;
#[path = "server.rs"]
mod server;
#[path = "solution.rs"]
mod solution;

common::wrong_solutions! {
    fn handle_of(m) -> Handle { m::handle }
    student server, solution solution;
    no_quit fails [3]: "answers QUIT like any other line: the server never closes first";
    quit_only fails [2, 4]: "closes only on QUIT, never when the client closes (CLOSE-WAIT)";
}

use common::{Check, closed_within, read_for, show};
use netlab::l4::sockets::{self, Filter, Socket, TcpState};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(2);

type Handle = fn(TcpStream) -> std::io::Result<()>;

fn table(port: u16) -> Vec<Socket> {
    let filter = Filter {
        tcp: true,
        port: Some(port),
        ..Filter::default()
    };
    sockets::list(&filter).unwrap_or_default()
}

/// The state of the socket with this local and remote address, if the kernel has one.
fn state_of(list: &[Socket], local: SocketAddr, remote: SocketAddr) -> Option<TcpState> {
    list.iter()
        .find(|s| s.local == local && s.remote == remote)
        .map(|s| s.state)
}

/// Polls the socket table until `ok` holds or `WAIT` passes; on failure, returns `why` and
/// the table as `netlab sockets --port` would print it.
fn expect_states(port: u16, why: &str, ok: impl Fn(&[Socket]) -> bool) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let list = table(port);
        if ok(&list) {
            return Ok(());
        }
        if start.elapsed() > WAIT {
            let shown = sockets::render(&list).replace('\n', "\n      ");
            return Err(format!(
                "{why}\n      netlab sockets --port {port}:\n      {shown}"
            ));
        }
        thread::sleep(Duration::from_millis(25));
    }
}

fn client(addr: SocketAddr, line: &[u8], want: &[u8]) -> Result<TcpStream, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, WAIT).map_err(|e| format!("cannot connect: {e}"))?;
    s.write_all(line)
        .map_err(|e| format!("write failed: {e}"))?;
    let got = read_for(&mut s, want.len(), WAIT);
    if got != want {
        return Err(format!(
            "sent {} → expected {}, got {}",
            show(line),
            show(want),
            show(&got)
        ));
    }
    Ok(s)
}

fn main() {
    let (mut check, subject) = Check::start(
        "02 (socket states)",
        "labs/02-socket-states/server.rs",
        WRONG,
        Duration::from_secs(40),
    );
    let handle = handle_of(&subject);
    let bind = check.listen_addr("127.0.0.1:7002");
    let listener = match TcpListener::bind(&bind) {
        Ok(l) => l,
        Err(e) => {
            println!("cannot bind {bind}: {e}");
            std::process::exit(1);
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            println!("cannot read the local address: {e}");
            std::process::exit(1);
        }
    };
    let port = addr.port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || handle(stream));
        }
    });
    check.serve(
        &format!("tcp://{addr}"),
        &[
            &format!("nc {} {port}   (type a line; then QUIT, or Ctrl-D to close first)", addr.ip()),
            &format!("netlab sockets --port {port}   (in a third terminal: who is in CLOSE-WAIT, who in TIME-WAIT)"),
        ],
    );

    check.step("a line is answered with its length", || {
        client(addr, b"hello\n", b"got 5 bytes\n").map(drop)
    });
    check.step("client closes first: the server's end must not stay in CLOSE-WAIT", || {
        let s = client(addr, b"bye for now\n", b"got 11 bytes\n")?;
        let me = s.local_addr().map_err(|e| e.to_string())?;
        drop(s);
        expect_states(
            port,
            &format!("after the client {me} closed, the server's end {addr} ↔ {me} should close too (CLOSED), and the client's end wait in TIME-WAIT"),
            |l| state_of(l, addr, me).is_none() && state_of(l, me, addr) == Some(TcpState::TimeWait),
        )
    });
    check.step("QUIT: the server closes first (client end CLOSE-WAIT, server end FIN-WAIT-2)", || {
        let mut s = client(addr, b"QUIT\n", b"BYE\n")?;
        let me = s.local_addr().map_err(|e| e.to_string())?;
        if !closed_within(&mut s, WAIT) {
            return Err("after BYE the server did not close the connection".into());
        }
        expect_states(
            port,
            "the server sent FIN first, so the client's end should be in CLOSE-WAIT and the server's in FIN-WAIT-2",
            |l| state_of(l, me, addr) == Some(TcpState::CloseWait) && state_of(l, addr, me) == Some(TcpState::FinWait2),
        )?;
        drop(s);
        expect_states(
            port,
            "once the client closed too, the server's end (the active closer) should be in TIME-WAIT",
            |l| state_of(l, addr, me) == Some(TcpState::TimeWait) && state_of(l, me, addr).is_none(),
        )
    });
    check.step(
        "ten clients come and go: no CLOSE-WAIT piles up on the server",
        || {
            for i in 0..10 {
                let line = format!("client {i}\n");
                drop(client(
                    addr,
                    line.as_bytes(),
                    format!("got {} bytes\n", line.len() - 1).as_bytes(),
                )?);
            }
            expect_states(
                port,
                "sockets left in CLOSE-WAIT: the server forgot to close them",
                |l| {
                    !l.iter()
                        .any(|s| s.local == addr && s.state == TcpState::CloseWait)
                },
            )
        },
    );
    check.finish();
}
