//! The benchmark's tiny_http reference: a blocking server whose API fits on one screen, like
//! netlab's, answering every request with the 7 bytes netlab's /status/200 answers. It
//! prints the same `listening on` line as netlab's servers.

fn main() {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let addr = server.server_addr().to_ip().expect("an IP address");
    println!("listening on http://{addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    for request in server.incoming_requests() {
        let header = tiny_http::Header::from_bytes("Content-Type", "text/plain; charset=utf-8")
            .expect("a fixed header");
        let _ = request.respond(tiny_http::Response::from_string("200 OK\n").with_header(header));
    }
}
