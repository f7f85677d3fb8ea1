//! `netlab tap --proto h2` between two programs we did not write: curl (prior knowledge) and
//! nghttpd, over h2c. The decoded lines show the preface, every frame each way, and the
//! HPACK fields with the dynamic table shrinking the second request.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[test]
fn curl_to_nghttpd_through_the_tap() {
    require("curl");
    require("nghttpd");
    let root = TempDir::new("tap-h2");
    std::fs::write(root.path("a.txt"), "first file\n").unwrap();
    std::fs::write(root.path("b.txt"), "second file\n").unwrap();
    let dir = root.0.to_str().unwrap().to_string();
    let (_origin, port) = spawn_on_free_port("nghttpd", |port| {
        vec![
            "--no-tls".into(),
            "-d".into(),
            dir.clone(),
            port.to_string(),
        ]
    });
    let origin = SocketAddr::from(([127, 0, 0, 1], port));
    let mut tap = spawn_netlab(&["tap", "--proto", "h2", "--to", &origin.to_string()], &[]);
    let taddr = tap.listening();
    let url = format!("http://{taddr}/a.txt");
    let out = run(
        "curl",
        &["-sS", "--http2-prior-knowledge", "--max-time", "10", &url],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "first file\n");
    // Two requests on one connection (nghttp as the client): the second one's fields come
    // from the dynamic table. (curl 7.88 fails a second h2c request on a reused connection to
    // nghttpd even without the tap, so it makes one.)
    require("nghttp");
    let out = run(
        "nghttp",
        &["-n", &url, &format!("http://{taddr}/b.txt")],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let wants = [
        "tap    [h2] → #1 connection preface",
        "tap    [h2] → #1 SETTINGS stream=0",
        "tap    [h2] ← #1 SETTINGS stream=0",
        "tap    [h2] → #1 HEADERS stream=1 flags=END_STREAM|END_HEADERS",
        "tap    [hpack] → #1 stream 1: ",
        "tap    [hpack] → #1   :path: /a.txt",
        "tap    [h2] ← #1 HEADERS stream=1 flags=END_HEADERS",
        "tap    [hpack] ← #1   :status: 200 (indexed 8, static)",
        "tap    [h2] ← #1 DATA stream=1 flags=END_STREAM length=11 data=\"first file\\n\"",
        "tap    [h2] · #1 the client closed after",
        "tap    [h2] → #2 PRIORITY stream=3 flags=- length=5 depends_on=0 weight=201",
        "(RFC 7540 priorities, deprecated by RFC 9113 §5.3.2)",
        "tap    [hpack] → #2 stream 13: ",
        "tap    [hpack] → #2 stream 15: ",
        "(indexed 62, dynamic)",
        "tap    [h2] · #2 the client closed after",
    ];
    let trace = tap.stderr_until(&wants, T);
    for want in wants {
        assert!(trace.contains(want), "{want:?} missing from:\n{trace}");
    }
    let bytes = |stream: u32| -> usize {
        let line = trace
            .lines()
            .find(|l| l.contains(&format!("[hpack] → #2 stream {stream}: ")))
            .unwrap();
        line.split(" fields from ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        bytes(15) < bytes(13),
        "the repeated request is smaller:\n{trace}"
    );
}

#[test]
fn http11_through_an_h2_tap_is_reported_and_still_relayed() {
    require("curl");
    let (_server, origin) = http_server(&[]);
    let mut tap = spawn_netlab(&["tap", "--proto", "h2", "--to", &origin.to_string()], &[]);
    let taddr = tap.listening();
    let out = run(
        "curl",
        &["-sS", &format!("http://{taddr}/status/200")],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "200 OK\n", "{}", text(&out.stderr));
    let trace = tap.stderr_until(&["did not open with the HTTP/2 preface"], T);
    assert!(trace.contains("\"GET /status/200 HTTP/1.1"), "{trace}");
}
