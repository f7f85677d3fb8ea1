//! TLS 1.3 resumption with software we did not write, both roles: curl and Python's ssl
//! come back to netlab's HTTPS server with a ticket and resume; netlab's client resumes
//! against `openssl s_server`; a ticket sealed by another server falls back to a full
//! handshake and is still answered.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// netlab's HTTPS server with a certificate from `netlab cert`, its trace on.
fn server(dir: &TempDir) -> (Proc, SocketAddr) {
    let mut p = spawn_netlab(
        &[
            "http",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls",
            "--cert",
            &dir.path("c/localhost.pem"),
            "--key",
            &dir.path("c/localhost-key.pem"),
        ],
        &[("NETLAB_TRACE", "tls")],
    );
    let addr = p.listening();
    (p, addr)
}

fn certs() -> TempDir {
    let dir = TempDir::new("resume");
    let out = run_netlab(&["cert", "--dir", &dir.path("c")], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    dir
}

#[test]
fn curl_resumes_against_netlab() {
    require("curl");
    let dir = certs();
    let (mut p, addr) = server(&dir);
    let url = format!("https://localhost:{}/status/200", addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", addr.port());
    // Two transfers in one curl, each on its own connection (Connection: close): the second
    // offers the ticket the first one got.
    let out = run(
        "curl",
        &[
            "-sv",
            "--cacert",
            &dir.path("c/ca.pem"),
            "--resolve",
            &resolve,
            "-H",
            "Connection: close",
            &url,
            &url,
        ],
        b"",
        &[],
        T,
    );
    let log = text(&out.stderr);
    assert_eq!(text(&out.stdout), "200 OK\n200 OK\n", "{log}");
    assert!(log.contains("SSL re-using session ID"), "{log}");
    // The certificate crossed once: the second handshake had none.
    assert_eq!(
        log.matches("TLS handshake, Certificate (11)").count(),
        1,
        "{log}"
    );
    let trace = p.stderr_until(&["resumed (PSK)"], T);
    assert!(trace.contains("TLS 1.3: full handshake"), "{trace}");
    assert!(trace.contains("TLS 1.3: resumed (PSK)"), "{trace}");
    assert!(trace.contains("it opens"), "{trace}");
}

/// A Python client that visits twice, the second time with the first's session, and
/// prints `session_reused` for each: run against `first`, then against `second`.
const PY_CLIENT: &str = r#"
import socket, ssl, sys
first, second, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
def visit(port, session):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(b"GET /status/200 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            return s.session, s.session_reused, data.split(b"\r\n")[0].decode()
session, reused, status = visit(first, None)
print(reused, status)
_, reused, status = visit(second, session)
print(reused, status)
"#;

fn python_visits(first: u16, second: u16, ca: &str) -> String {
    require("python3");
    let out = run(
        "python3",
        &["-c", PY_CLIENT, &first.to_string(), &second.to_string(), ca],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn python_ssl_resumes_against_netlab() {
    let dir = certs();
    let (_p, addr) = server(&dir);
    let said = python_visits(addr.port(), addr.port(), &dir.path("c/ca.pem"));
    assert_eq!(
        said, "False HTTP/1.1 200 OK\nTrue HTTP/1.1 200 OK\n",
        "the second visit must resume"
    );
}

#[test]
fn a_ticket_from_another_server_gets_a_full_handshake() {
    // Two servers with the same certificate but ticket keys of their own: the ticket of
    // the first does not open at the second, which answers after a full handshake.
    let dir = certs();
    let (_a, first) = server(&dir);
    let (mut b, second) = server(&dir);
    let said = python_visits(first.port(), second.port(), &dir.path("c/ca.pem"));
    assert_eq!(said, "False HTTP/1.1 200 OK\nFalse HTTP/1.1 200 OK\n");
    let trace = b.stderr_until(&["does not open", "full handshake: certificate"], T);
    assert!(trace.contains("that does not open"), "{trace}");
    assert!(!trace.contains("resumed (PSK)"), "{trace}");
}

#[test]
fn netlab_resumes_against_openssl_s_server() {
    require("openssl");
    let dir = certs();
    let port = free_tcp_port();
    let _server = spawn_watched(
        "openssl",
        &[
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            &dir.path("c/localhost.pem"),
            "-key",
            &dir.path("c/localhost-key.pem"),
            "-www",
            "-tls1_3",
        ],
    );
    wait_tcp(SocketAddr::from(([127, 0, 0, 1], port)));
    let out = run_netlab(
        &[
            "http",
            "request",
            "--cacert",
            &dir.path("c/ca.pem"),
            "--repeat",
            "2",
            &format!("https://localhost:{port}/"),
        ],
        b"",
        &[("NETLAB_TRACE", "tls")],
        T,
    );
    let trace = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{trace}");
    let full = trace.find("TLS 1.3: full handshake").expect(&trace);
    let offered = trace.find("offered as a PSK").expect(&trace);
    let resumed = trace.find("TLS 1.3: resumed (PSK)").expect(&trace);
    assert!(full < offered && offered < resumed, "{trace}");
    // s_server's own page says which session was new and which reused.
    let page = text(&out.stdout);
    assert!(page.contains("New, TLSv1.3"), "{page}");
    assert!(page.contains("Reused, TLSv1.3"), "{page}");
}

#[test]
fn repeat_takes_one_or_more_visits() {
    let out = run_netlab(
        &["http", "request", "--repeat", "0", "https://localhost:1/"],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--repeat takes 1 or more"));
}
