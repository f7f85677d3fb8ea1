//! RFC 9110's bodiless responses, the same rule in every version (`http::status`): 1xx, 204
//! and 304 carry no content, and neither does an answer to HEAD, even when a handler gives
//! them a body. HTTP/1.1's framing tests cover its side; here HTTP/2 and HTTP/3, served by
//! netlab's own servers in this process and fetched by netlab's own clients.

mod common;
use common::TempDir;
use netlab::http::handler::Handler;
use netlab::http::message::{Request, Response};
use netlab::http::uri::Url;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

/// Every answer has a body the rule must hold back: `/204`, `/304`, and `/200` (for HEAD).
fn handler() -> Arc<dyn Handler> {
    Arc::new(|req: &Request| {
        let status = req.path().trim_start_matches('/').parse().unwrap_or(200);
        Response::text(status, "a body that must not travel")
    })
}

/// (method, path, status expected, whether the body comes).
const CASES: &[(&str, &str, u16, bool)] = &[
    ("GET", "/204", 204, false),
    ("GET", "/304", 304, false),
    ("HEAD", "/200", 200, false),
    ("GET", "/200", 200, true),
];

#[test]
fn http2_sends_no_body_for_204_304_or_head() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _server = netlab::http2::server::spawn(
        listener,
        handler(),
        netlab::http2::server::Config::default(),
        netlab::http2::server::Security::Cleartext,
    )
    .unwrap();
    let opts = netlab::http2::client::Options {
        h2c: true,
        timeout: Duration::from_secs(20),
        ..Default::default()
    };
    for &(method, path, status, body) in CASES {
        let url = Url::parse(&format!("http://{addr}{path}")).unwrap();
        let mut req = netlab::http2::client::Outgoing::get(url);
        req.method = method.into();
        let mut got = netlab::http2::client::fetch(vec![req], &opts).unwrap();
        let resp = got.pop().unwrap().unwrap();
        assert_eq!(resp.status, status, "{method} {path}");
        assert_eq!(!resp.body.is_empty(), body, "{method} {path}: {resp:?}");
        // No Content-Length where no content can be (RFC 9110 §8.6); HEAD's is a GET's.
        let length = resp.headers.get("content-length");
        assert_eq!(length.is_some(), status == 200, "{method} {path}: {resp:?}");
    }
}

#[test]
fn http3_sends_no_body_for_204_304_or_head() {
    let pki = netlab::tls::certs::generate().unwrap();
    let dir = TempDir::new("bodiless");
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = socket.local_addr().unwrap();
    let _server = netlab::quic::server::spawn(
        socket,
        netlab::quic::config::Identity::from_pki(&pki),
        handler(),
        netlab::quic::server::Config::default(),
    )
    .unwrap();
    for &(method, path, status, body) in CASES {
        let opts = netlab::quic::client::Options {
            cacert: Some(ca.clone()),
            method: method.into(),
            timeout: Duration::from_secs(20),
            ..Default::default()
        };
        let url = Url::parse(&format!("https://localhost:{}{path}", addr.port())).unwrap();
        let mut out = netlab::quic::client::fetch(&[url], &opts).unwrap();
        let resp = out.responses.pop().unwrap();
        assert_eq!(resp.status, status, "{method} {path}");
        assert_eq!(!resp.body.is_empty(), body, "{method} {path}: {resp:?}");
        let length = resp.field("content-length");
        assert_eq!(length.is_some(), status == 200, "{method} {path}: {resp:?}");
    }
}
