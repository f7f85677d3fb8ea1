//! `make bench`, L4 rows: TCP echo round-trip latency (64-byte messages) and bulk throughput,
//! netlab's echo server next to socat's (`socat TCP-LISTEN:… PIPE`) in the same run, driven
//! by the same client code. Prints a Markdown table and writes it to bench-results/l4.md.

#[path = "common/mod.rs"]
mod common;

use common::{Row, Server, machine, tcp_echo_rtt, write_table};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const ROUND_TRIPS: usize = 20_000;
const WARM_UP: usize = 2_000;
const BULK_BYTES: usize = 512 << 20;

/// Pushes BULK_BYTES through the echo and reads them back at the same time: MiB/s.
fn throughput(addr: SocketAddr) -> f64 {
    let s = TcpStream::connect(addr).expect("connect");
    let mut writer = s.try_clone().expect("clone");
    let start = Instant::now();
    let sender = thread::spawn(move || {
        let chunk = vec![b'y'; 64 * 1024];
        let mut left = BULK_BYTES;
        while left > 0 {
            let n = left.min(chunk.len());
            writer.write_all(&chunk[..n]).expect("write");
            left -= n;
        }
        writer
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
    });
    let mut reader = s;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        total += n;
    }
    sender.join().expect("sender");
    assert_eq!(total, BULK_BYTES, "the echo lost bytes");
    total as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let netlab = Server::netlab(&["echo", "server", "--addr", "127.0.0.1:0"]);
    let socat = Server::socat_echo();
    thread::sleep(Duration::from_millis(100));

    let (n_med, n_p99) = tcp_echo_rtt(netlab.addr, WARM_UP, ROUND_TRIPS);
    let (s_med, s_p99) = tcp_echo_rtt(socat.addr, WARM_UP, ROUND_TRIPS);
    let n_tp = throughput(netlab.addr);
    let s_tp = throughput(socat.addr);

    let rows = vec![
        Row::lower_is_better("TCP echo RTT, 64 B, median (µs)", n_med, s_med, "socat"),
        Row::lower_is_better("TCP echo RTT, 64 B, p99 (µs)", n_p99, s_p99, "socat"),
        Row::higher_is_better("TCP echo throughput, 512 MiB (MiB/s)", n_tp, s_tp, "socat"),
    ];
    write_table("l4", &format!("L4 echo — {}", machine()), &rows);
    drop(netlab);
    drop(socat);
}
