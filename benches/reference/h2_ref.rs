//! The HTTP/2 benchmark's floor: a bare server on the `h2` crate, set up as netlab's HTTP/2
//! server sets it up (a thread per connection, each with a current-thread tokio runtime of
//! its own, one task per stream, the same SETTINGS), answering every request with the 7
//! bytes netlab's /status/200 answers. Nothing else: no guard screening the client's frames,
//! no trace tap, no handler pool (the answer is made on the connection's thread), no
//! `Request`/`Response` of netlab's. netlab ÷ this is what netlab's design costs; this ÷
//! nghttpd is what the crate and the runtime cost. Cleartext only (h2c, prior knowledge).
//! It prints the same `listening on` line as netlab's servers.

use bytes::Bytes;
use std::net::{TcpListener, TcpStream};

const BODY: &[u8] = b"200 OK\n";

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    println!("listening on http://{addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || connection(stream));
    }
}

/// One connection on its own thread and runtime, as `src/http2/server.rs` does it.
fn connection(stream: TcpStream) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let _ = stream.set_nodelay(true);
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    runtime.block_on(async move {
        let Ok(io) = tokio::net::TcpStream::from_std(stream) else {
            return;
        };
        let mut builder = h2::server::Builder::new();
        builder
            .max_concurrent_streams(100)
            .max_header_list_size(64 * 1024)
            .initial_window_size(1 << 20)
            .initial_connection_window_size(4 << 20);
        let Ok(mut conn) = builder.handshake::<_, Bytes>(io).await else {
            return;
        };
        while let Some(Ok((_request, mut respond))) = conn.accept().await {
            tokio::spawn(async move {
                let head = http::Response::builder()
                    .status(200)
                    .header("content-type", "text/plain; charset=utf-8")
                    .header("content-length", BODY.len())
                    .body(())
                    .expect("a fixed response");
                if let Ok(mut send) = respond.send_response(head, false) {
                    let _ = send.send_data(Bytes::from_static(BODY), true);
                }
            });
        }
    });
}
