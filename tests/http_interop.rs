//! HTTP/1.1 interop with software we did not write: curl against netlab's server, proxy and
//! certificates; Python's http.client against the server; netlab's client against Python's
//! http.server.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn curl(args: &[&str]) -> (i32, String, String) {
    require("curl");
    let mut all = vec!["-sS", "--max-time", "20"];
    all.extend_from_slice(args);
    let out = run("curl", &all, b"", &[], T);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

#[test]
fn curl_every_method() {
    let (_p, addr) = http_server(&[]);
    let (code, body, _) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"text":"from curl"}"#,
        "-w",
        "%{http_code} %header{location}",
        &url(addr, "/api/notes"),
    ]);
    assert_eq!(code, 0);
    assert!(
        body.starts_with(r#"{"id":1,"text":"from curl"}"#) && body.ends_with("201 /api/notes/1"),
        "{body}"
    );
    let (_, body, _) = curl(&[&url(addr, "/api/notes/1")]);
    assert_eq!(body.trim(), r#"{"id":1,"text":"from curl"}"#);
    let (_, body, _) = curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"text":"edited"}"#,
        &url(addr, "/api/notes/1"),
    ]);
    assert_eq!(body.trim(), r#"{"id":1,"text":"edited"}"#);
    let (_, head, _) = curl(&["-I", &url(addr, "/api/notes/1")]);
    assert!(
        head.starts_with("HTTP/1.1 200 OK") && head.contains("Content-Length: 25"),
        "{head}"
    );
    let (_, allow, _) = curl(&[
        "-X",
        "OPTIONS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %header{allow}",
        &url(addr, "/api/notes/1"),
    ]);
    assert_eq!(allow, "204 GET, PUT, DELETE, HEAD, OPTIONS, TRACE");
    let (_, traced, _) = curl(&["-X", "TRACE", "-H", "X-Probe: 1", &url(addr, "/anything")]);
    assert!(
        traced.starts_with("TRACE /anything HTTP/1.1\r\n") && traced.contains("X-Probe: 1"),
        "{traced}"
    );
    let (_, code, _) = curl(&[
        "-X",
        "DELETE",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url(addr, "/api/notes/1"),
    ]);
    assert_eq!(code, "204");
    let (_, code, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url(addr, "/api/notes/1"),
    ]);
    assert_eq!(code, "404");
    let (_, code, _) = curl(&[
        "-X",
        "PATCH",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %header{allow}",
        &url(addr, "/api/notes"),
    ]);
    assert_eq!(code, "405 GET, POST, HEAD, OPTIONS, TRACE");
    let (_, code, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Content-Type: text/plain",
        "--data",
        "x",
        &url(addr, "/api/notes"),
    ]);
    assert_eq!(code, "415");
    let (_, code, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Content-Type: application/json",
        "--data",
        "{nope",
        &url(addr, "/api/notes"),
    ]);
    assert_eq!(code, "400");
}

#[test]
fn curl_chunked_upload_expect_and_reuse() {
    let (_p, addr) = http_server(&[]);
    let big = "y".repeat(300_000);
    let dir = TempDir::new("upload");
    std::fs::write(dir.path("big.txt"), &big).unwrap();
    let file = format!("@{}", dir.path("big.txt"));
    // curl sends a chunked body when told so; the server de-chunks it before the handler.
    let (code, body, _) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        &file,
        &url(addr, "/echo"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(body.len(), big.len());
    // Expect: 100-continue, as curl sends for large uploads.
    let (_, verbose_body, log) = curl(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        &file,
        &url(addr, "/echo"),
    ]);
    assert!(log.contains("HTTP/1.1 100 Continue"), "{log}");
    assert_eq!(verbose_body.len(), big.len());
    // Two URLs, one connection.
    let (_, _, log) = curl(&["-v", &url(addr, "/status/200"), &url(addr, "/status/204")]);
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing connection"),
        "{log}"
    );
    // A chunked response, decoded by curl.
    let (_, body, _) = curl(&[&url(addr, "/chunked")]);
    assert!(
        body.starts_with("line 1 of a chunked response\n")
            && body.ends_with("line 200 of a chunked response\n")
    );
}

#[test]
fn curl_static_files_with_validators() {
    let dir = TempDir::new("root");
    std::fs::write(dir.path("hello.txt"), "hello, static world\n").unwrap();
    std::fs::write(dir.path("page.html"), "<h1>hi</h1>").unwrap();
    let secret = TempDir::new("secret");
    std::fs::write(secret.path("secret.txt"), "do not serve").unwrap();
    let (_p, addr) = http_server(&["--root", dir.0.to_str().unwrap()]);
    let (_, head, _) = curl(&["-i", &url(addr, "/hello.txt")]);
    assert!(
        head.contains("Content-Type: text/plain; charset=utf-8")
            && head.ends_with("hello, static world\n"),
        "{head}"
    );
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("ETag: "))
        .expect("an ETag")
        .trim()
        .to_string();
    let (_, code, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("If-None-Match: {etag}"),
        &url(addr, "/hello.txt"),
    ]);
    assert_eq!(code, "304");
    let lm = head
        .lines()
        .find_map(|l| l.strip_prefix("Last-Modified: "))
        .expect("Last-Modified")
        .trim()
        .to_string();
    let (_, code, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("If-Modified-Since: {lm}"),
        &url(addr, "/hello.txt"),
    ]);
    assert_eq!(code, "304");
    let (_, ct, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{content_type}",
        &url(addr, "/page.html"),
    ]);
    assert_eq!(ct, "text/html; charset=utf-8");
    let escape = format!(
        "/../{}/secret.txt",
        secret.0.file_name().unwrap().to_str().unwrap()
    );
    for path in [
        escape.as_str(),
        "/%2e%2e/etc/passwd",
        "/..%2f..%2fetc/passwd",
    ] {
        let (_, code, _) = curl(&[
            "--path-as-is",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url(addr, path),
        ]);
        assert_eq!(code, "403", "{path}");
    }
    let (_, code, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url(addr, "/missing.txt"),
    ]);
    assert_eq!(code, "404");
}

#[test]
fn https_with_a_local_ca_curl_and_netlab() {
    let dir = TempDir::new("certs");
    let out = run_netlab(&["cert", "--dir", &dir.path("c")], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("made a new local CA") && said.contains("SPKI SHA-256 pin"),
        "{said}"
    );
    let again = text(&run_netlab(&["cert", "--dir", &dir.path("c")], b"", &[], T).stdout);
    assert!(again.contains("kept the existing CA"), "{again}");
    let (ca, cert, key) = (
        dir.path("c/ca.pem"),
        dir.path("c/localhost.pem"),
        dir.path("c/localhost-key.pem"),
    );
    let keylog = dir.path("keys.log");
    let mut p = spawn_netlab(
        &[
            "http",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls",
            "--cert",
            &cert,
            "--key",
            &key,
        ],
        &[("SSLKEYLOGFILE", &keylog)],
    );
    let addr = p.listening();
    let port = addr.port().to_string();
    let https = format!("https://localhost:{port}/status/200");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let (code, body, log) = curl(&["-v", "--cacert", &ca, "--resolve", &resolve, &https]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(body, "200 OK\n");
    assert!(
        log.contains("ALPN: server accepted http/1.1")
            || log.contains("ALPN, server accepted to use http/1.1"),
        "{log}"
    );
    // Without the CA, curl refuses; with -k it does not check.
    let (code, _, _) = curl(&["--resolve", &resolve, &https]);
    assert_eq!(code, 60, "curl must reject an unknown CA");
    let (code, _, _) = curl(&["-k", "--resolve", &resolve, &https]);
    assert_eq!(code, 0);
    // The certificate also names 127.0.0.1.
    let ip_url = format!("https://127.0.0.1:{port}/status/200");
    let out = run_netlab(&["http", "request", "--cacert", &ca, &ip_url], b"", &[], T);
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), "200 OK\n"),
        "{}",
        text(&out.stderr)
    );
    let out = run_netlab(&["http", "request", &ip_url], b"", &[], T);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("TLS handshake failed"),
        "{}",
        text(&out.stderr)
    );
    let out = run_netlab(&["http", "request", "-k", &ip_url], b"", &[], T);
    assert_eq!(out.status.code(), Some(0));
    // SSLKEYLOGFILE: the server wrote the session secrets Wireshark needs.
    let log = std::fs::read_to_string(&keylog).unwrap_or_default();
    assert!(
        log.contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET") || log.contains("CLIENT_RANDOM"),
        "{log}"
    );
    drop(p);
}

#[test]
fn tls_certificate_made_on_the_fly() {
    let mut p = spawn_netlab(&["http", "serve", "--addr", "127.0.0.1:0", "--tls"], &[]);
    let addr = p.listening();
    let note = p.stderr_so_far();
    let ca = note
        .split("--cacert ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("{note}"))
        .to_string();
    let (code, body, log) = curl(&[
        "--cacert",
        &ca,
        &format!("https://127.0.0.1:{}/status/200", addr.port()),
    ]);
    assert_eq!((code, body.as_str()), (0, "200 OK\n"), "{log}");
}

#[test]
fn curl_through_the_proxy_http_and_connect() {
    let (_origin, origin) = http_server(&[]);
    let mut proxy = spawn_netlab(&["http", "proxy", "--addr", "127.0.0.1:0"], &[]);
    let paddr = proxy.listening();
    let proxy_url = format!("http://{paddr}");
    let (code, body, log) = curl(&["-v", "-x", &proxy_url, "-X", "TRACE", &url(origin, "/via")]);
    assert_eq!(code, 0, "{log}");
    assert!(
        body.contains("Via: 1.1 netlab"),
        "the origin saw the proxy's Via: {body}"
    );
    assert!(
        !body.contains("Proxy-Connection"),
        "hop-by-hop fields are stripped: {body}"
    );
    // https through a CONNECT tunnel to a TLS origin.
    let dir = TempDir::new("proxy-certs");
    run_netlab(&["cert", "--dir", &dir.path("c")], b"", &[], T);
    let mut tls_origin = spawn_netlab(
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
        &[],
    );
    let taddr = tls_origin.listening();
    let (code, body, log) = curl(&[
        "-v",
        "-x",
        &proxy_url,
        "--cacert",
        &dir.path("c/ca.pem"),
        &format!("https://127.0.0.1:{}/status/200", taddr.port()),
    ]);
    assert_eq!((code, body.as_str()), (0, "200 OK\n"), "{log}");
    assert!(log.contains("CONNECT 127.0.0.1:"), "{log}");
    // netlab's own client through the proxy, both ways.
    let out = run_netlab(
        &[
            "http",
            "request",
            "--proxy",
            &proxy_url,
            &url(origin, "/status/201"),
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "201 Created\n", "{}", text(&out.stderr));
    let out = run_netlab(
        &[
            "http",
            "request",
            "--proxy",
            &proxy_url,
            "--cacert",
            &dir.path("c/ca.pem"),
            &format!("https://localhost:{}/status/202", taddr.port()),
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "202 Accepted\n", "{}", text(&out.stderr));
    // A dead origin: 502 with the reason. A non-loopback origin: 403.
    let dead = free_tcp_port();
    let (_, code, _) = curl(&[
        "-x",
        &proxy_url,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://127.0.0.1:{dead}/"),
    ]);
    assert_eq!(code, "502");
    let (_, code, _) = curl(&[
        "-x",
        &proxy_url,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://192.0.2.1/",
    ]);
    assert_eq!(code, "403");
}

#[test]
fn proxy_gives_504_when_the_origin_is_silent() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let saddr = silent.local_addr().unwrap();
    let mut proxy = spawn_netlab(
        &[
            "http",
            "proxy",
            "--addr",
            "127.0.0.1:0",
            "--origin-timeout",
            "500",
        ],
        &[],
    );
    let paddr = proxy.listening();
    let (_, code, _) = curl(&[
        "-x",
        &format!("http://{paddr}"),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url(saddr, "/"),
    ]);
    assert_eq!(code, "504");
    drop(silent);
}

#[test]
fn python_http_client_against_netlab() {
    let (_p, addr) = http_server(&[]);
    let script = format!(
        r#"
import http.client, json
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
c.request("POST", "/api/notes", body=json.dumps({{"text": "from python"}}), headers={{"Content-Type": "application/json"}})
r = c.getresponse(); body = r.read()
assert r.status == 201, r.status
assert r.getheader("Location") == "/api/notes/1"
# The same connection, kept alive.
c.request("GET", "/api/notes/1"); r = c.getresponse()
assert json.loads(r.read()) == {{"id": 1, "text": "from python"}}
c.request("GET", "/chunked"); r = c.getresponse(); data = r.read()
assert r.getheader("Transfer-Encoding") == "chunked" and data.count(b"\n") == 200
c.request("HEAD", "/"); r = c.getresponse(); assert r.read() == b"" and int(r.getheader("Content-Length")) > 0
c.request("DELETE", "/api/notes/1"); r = c.getresponse(); r.read(); assert r.status == 204
print("ok")
"#,
        port = addr.port()
    );
    let out = run("python3", &["-c", &script], b"", &[], T);
    assert_eq!(text(&out.stdout).trim(), "ok", "{}", text(&out.stderr));
}

#[test]
fn netlab_client_against_python_http_server() {
    let dir = TempDir::new("pyserve");
    std::fs::write(dir.path("file.txt"), "served by python\n").unwrap();
    let (_py, origin) = python_http_server(&dir);
    let base = format!("http://{origin}");
    let out = run_netlab(
        &[
            "http",
            "request",
            "-i",
            &format!("{base}/file.txt"),
            &format!("{base}/file.txt"),
        ],
        b"",
        &[("NETLAB_TRACE", "http1")],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("served by python\n").count(), 2, "{stdout}");
    assert!(stdout.contains("Server: SimpleHTTP"), "{stdout}");
    let out = run_netlab(
        &["http", "request", "-f", &format!("{base}/missing")],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(1));
}

/// The server as poll loops (`--loops 2`) with the same peers: curl sending a 4 MB body
/// with a length and chunked and reading it back (larger than a socket takes at once, so
/// the loop must wait for the socket to drain), several URLs on one kept-alive connection,
/// Python's http.client, and wrk's 32 connections at once.
#[test]
fn curl_python_and_wrk_against_the_poll_loops() {
    let (_p, addr) = http_server(&["--loops", "2"]);
    let dir = TempDir::new("loops");
    let big: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path("big"), &big).unwrap();
    let up = format!("@{}", dir.path("big"));
    for extra in [&[][..], &["-H", "Transfer-Encoding: chunked"][..]] {
        let out = dir.path("out");
        let mut args = vec![
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &up,
            "-o",
            &out,
        ];
        args.extend_from_slice(extra);
        let target = url(addr, "/echo");
        args.push(&target);
        let (code, _, err) = curl(&args);
        assert_eq!(code, 0, "{extra:?}: {err}");
        assert!(
            std::fs::read(&out).unwrap() == big,
            "{extra:?}: the echo differs"
        );
    }
    let (a, b) = (url(addr, "/status/201"), url(addr, "/api/notes"));
    let (code, body, err) = curl(&["-v", &a, &b]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Re-using existing connection") || err.contains("Reusing existing"),
        "{err}"
    );
    assert!(body.contains("201") && body.contains('['), "{body}");

    let script = format!(
        r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
for i in range(3):
    c.request("POST", "/echo", body=b"x" * (1000 * i), headers={{"Content-Type": "text/plain"}})
    r = c.getresponse(); assert r.status == 200 and r.read() == b"x" * (1000 * i), r.status
c.request("GET", "/chunked"); r = c.getresponse(); assert r.read().count(b"\n") == 200
print("ok")
"#,
        port = addr.port()
    );
    let out = run("python3", &["-c", &script], b"", &[], T);
    assert_eq!(text(&out.stdout).trim(), "ok", "{}", text(&out.stderr));

    require("wrk");
    let target = url(addr, "/status/200");
    let out = run(
        "wrk",
        &["-t", "2", "-c", "32", "-d", "2s", &target],
        b"",
        &[],
        T,
    );
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(
        !report.contains("Non-2xx") && !report.contains("Socket errors"),
        "{report}"
    );
    let requests: u64 = report
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .next()
                .filter(|_| l.contains("requests in"))
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in {report}"));
    assert!(requests > 1000, "{report}");
}
