//! HTTP/3's second visit: session resumption and 0-RTT (RFC 9001 §4.6), and the server's
//! early-data policy (RFC 8470). netlab against itself (a GET answered from 0-RTT, a POST
//! answered 425 and applied once after the handshake, foreign and corrupt sessions falling
//! back to a full handshake), then both roles against real peers: ngtcp2's gtlsclient and
//! aioquic's client resuming with 0-RTT from `netlab h3 serve`, and `netlab h3 get --session`
//! resuming with 0-RTT from aioquic's server and ngtcp2's gtlsserver.

mod common;
use common::*;
use netlab::http::message::{Request, Response};
use netlab::http::uri::Url;
use netlab::l4::relay::Side;
use netlab::l4::udp_relay::{DatagramObserver, Relay, Verdict};
use netlab::quic::client::{self, Options, Outcome};
use netlab::quic::config::Identity;
use netlab::quic::server::{self, Config};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(60);

fn identity(certs: &str) -> Identity {
    let cert = PathBuf::from(format!("{certs}/localhost.pem"));
    let key = PathBuf::from(format!("{certs}/localhost-key.pem"));
    Identity::from_files(&cert, &key).unwrap()
}

/// An in-process server whose handler counts the POSTs to /count it runs.
fn counting_server(
    certs: &str,
    config: Config,
) -> (netlab::l4::background::Background, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    (counting_with(certs, config, count.clone()), count)
}

/// [`counting_server`], counting into `count` (replicas share one).
fn counting_with(
    certs: &str,
    config: Config,
    count: Arc<AtomicUsize>,
) -> netlab::l4::background::Background {
    let seen = count;
    let handler = move |req: &Request| -> Response {
        if req.method == "POST" && req.target == "/count" {
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            return Response::text(200, &format!("count {n}"));
        }
        Response::text(200, "hello")
    };
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    server::spawn(socket, identity(certs), Arc::new(handler), config).unwrap()
}

fn fetch(addr: SocketAddr, certs: &str, session: &Path, method: &str, path: &str) -> Outcome {
    let opts = Options {
        cacert: Some(PathBuf::from(format!("{certs}/ca.pem"))),
        method: method.into(),
        body: (method == "POST").then(|| b"+1".to_vec()),
        session: Some(session.to_path_buf()),
        timeout: T,
        ..Options::default()
    };
    let url = Url::parse(&format!("https://localhost:{}{path}", addr.port())).unwrap();
    client::fetch(&[url], &opts).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

#[test]
fn a_second_visit_resumes_and_its_get_is_answered_from_0rtt() {
    let dir = TempDir::new("h3-0rtt-get");
    let certs = make_certs(&dir);
    let (bg, _) = counting_server(&certs, Config::default());
    let session = PathBuf::from(dir.path("session"));
    let first = fetch(bg.addr(), &certs, &session, "GET", "/");
    assert!(!first.resumed);
    assert_eq!(first.early_data, None, "nothing to resume on a first visit");
    assert!(
        session.exists(),
        "the session is stored after the first visit"
    );
    let second = fetch(bg.addr(), &certs, &session, "GET", "/");
    assert!(second.resumed);
    assert_eq!(second.early_data, Some(true));
    assert_eq!(second.responses[0].status, 200);
    assert_eq!(second.responses[0].body, b"hello\n");
    bg.stop();
}

#[test]
fn an_early_post_is_answered_425_and_applied_once_after_the_handshake() {
    let dir = TempDir::new("h3-0rtt-post");
    let certs = make_certs(&dir);
    let (bg, count) = counting_server(&certs, Config::default());
    let session = dir.path("session");
    let first = fetch(bg.addr(), &certs, Path::new(&session), "GET", "/");
    assert_eq!(first.responses[0].status, 200);
    // The CLI, traced: the POST goes in 0-RTT, gets 425, goes again after the handshake.
    let ca = format!("{certs}/ca.pem");
    let target = url(bg.addr(), "/count");
    let args = [
        "h3",
        "get",
        "--cacert",
        &ca,
        "--session",
        &session,
        "--stats",
        "-X",
        "POST",
        "-d",
        "+1",
        &target,
    ];
    let out = run_netlab(&args, b"", &[("NETLAB_TRACE", "quic,h3")], T);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(text(&out.stdout), "count 1\n", "{err}");
    assert!(
        err.contains(":method=POST") && err.contains("in 0-RTT"),
        "{err}"
    );
    assert!(err.contains("finished: 425 Too Early"), "{err}");
    assert!(err.contains("sent again after the handshake"), "{err}");
    assert!(err.contains("resumed, 0-RTT accepted"), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "applied exactly once");
    bg.stop();
}

#[test]
fn a_foreign_forged_or_corrupt_session_means_a_full_handshake_and_a_shared_key_resumes() {
    let dir = TempDir::new("h3-0rtt-foreign");
    let certs = make_certs(&dir);
    let key = [7u8; 48];
    let keyed = |k: Option<[u8; 48]>| Config {
        ticket_key: k,
        ..Config::default()
    };
    let (a, _) = counting_server(&certs, keyed(Some(key)));
    let (b, _) = counting_server(&certs, keyed(None));
    let (c, _) = counting_server(&certs, keyed(Some(key)));
    let session = PathBuf::from(dir.path("session"));
    fetch(a.addr(), &certs, &session, "GET", "/");
    let from_a = std::fs::read(&session).unwrap();
    // B never saw A's ticket key: a full handshake, 0-RTT rejected, the answer still comes.
    let foreign = fetch(b.addr(), &certs, &session, "GET", "/");
    assert!(!foreign.resumed);
    assert_eq!(foreign.early_data, Some(false));
    assert_eq!(foreign.responses[0].body, b"hello\n");
    // C holds A's key: A's ticket resumes there (the key is what a ticket is bound to).
    std::fs::write(&session, &from_a).unwrap();
    let shared = fetch(c.addr(), &certs, &session, "GET", "/");
    assert!(shared.resumed);
    assert_eq!(shared.early_data, Some(true));
    // A forged ticket: one byte of it changed, the session around it intact. The client
    // offers it; the server cannot authenticate it: a full handshake, 0-RTT rejected.
    let mut forged = from_a.clone();
    let at = ticket_offset(&forged);
    forged[at + 20] ^= 0x55;
    std::fs::write(&session, &forged).unwrap();
    let tampered = fetch(a.addr(), &certs, &session, "GET", "/");
    assert!(!tampered.resumed);
    assert_eq!(tampered.early_data, Some(false));
    assert_eq!(tampered.responses[0].body, b"hello\n");
    // A corrupt session file: quiche refuses it, a full handshake, a valid session stored.
    let mut forged = from_a.clone();
    forged.truncate(40);
    std::fs::write(&session, &forged).unwrap();
    let corrupt = fetch(a.addr(), &certs, &session, "GET", "/");
    assert!(!corrupt.resumed);
    assert_eq!(corrupt.early_data, None);
    assert_eq!(corrupt.responses[0].status, 200);
    assert!(
        std::fs::read(&session).unwrap().len() > 40,
        "replaced by a real session"
    );
    for bg in [a, b, c] {
        bg.stop();
    }
}

/// Where the ticket starts in quiche's session bytes: an 8-byte length, then BoringSSL's
/// SSL_SESSION in DER, whose ticket is `[10] { OCTET STRING }` (192 bytes here, so both
/// lengths take the two-byte form 0x81 NN).
fn ticket_offset(session: &[u8]) -> usize {
    let at = session
        .windows(5)
        .position(|w| w[0] == 0xaa && w[1] == 0x81 && w[3] == 0x04 && w[4] == 0x81)
        .expect("a session ticket in the stored session");
    let len = usize::from(session[at + 5]);
    assert!(
        len > 40 && at + 6 + len <= session.len(),
        "ticket of {len} bytes"
    );
    at + 6
}

fn script(name: &str) -> String {
    format!("{}/tests/h3/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn ngtcp2s_client_resumes_with_0rtt_from_our_server() {
    require("gtlsclient");
    let dir = TempDir::new("h3-0rtt-ngtcp2-client");
    let certs = make_certs(&dir);
    let (mut server, addr) = h3_serve(&certs, &[], &[("NETLAB_TRACE", "quic,h3")]);
    let downloads = dir.path("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let (session, tp) = (dir.path("session.pem"), dir.path("tp.pem"));
    let port = addr.port().to_string();
    let target = url(addr, "/status/201");
    let args = [
        "--exit-on-all-streams-close",
        "--sni=localhost",
        "--session-file",
        &session,
        "--tp-file",
        &tp,
        "127.0.0.1",
        &port,
        &target,
    ];
    let first = run("gtlsclient", &args, b"", &[], T);
    assert!(Path::new(&session).exists(), "{}", text(&first.stderr));
    let second = run("gtlsclient", &args, b"", &[], T);
    let said = format!("{}{}", text(&second.stdout), text(&second.stderr));
    assert!(said.contains("type=0RTT"), "no 0-RTT packet sent: {said}");
    assert!(!said.contains("Early data was rejected"), "{said}");
    let trace = server.stderr_until(&["resumed, 0-RTT accepted", "read from 0-RTT: answered"], T);
    assert!(
        trace.contains("GET /status/201 read from 0-RTT: answered"),
        "{trace}"
    );
    assert!(trace.contains("resumed, 0-RTT accepted"), "{trace}");
}

#[test]
fn aioquics_client_resumes_with_0rtt_from_our_server() {
    let python = python_with("aioquic");
    let dir = TempDir::new("h3-0rtt-aioquic-client");
    let certs = make_certs(&dir);
    let (_server, addr) = h3_serve(&certs, &[], &[("NETLAB_TRACE", "quic,h3")]);
    let ca = format!("{certs}/ca.pem");
    let session = dir.path("ticket.pickle");
    let client = script("client.py");
    let target = url(addr, "/status/201");
    let args = [
        client.as_str(),
        "--cacert",
        &ca,
        "--session",
        &session,
        &target,
    ];
    let first = run(&python, &args, b"", &[], T);
    let err = text(&first.stderr);
    assert!(
        err.contains("resumed: no") && err.contains("early data: not attempted"),
        "{err}"
    );
    let second = run(&python, &args, b"", &[], T);
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{err}");
    assert!(
        text(&second.stdout).starts_with("201 "),
        "{}",
        text(&second.stdout)
    );
    assert!(err.contains("resumed: yes"), "{err}");
    assert!(err.contains("early data: accepted"), "{err}");
}

/// `netlab h3 get --session` twice; the second run's `--stats` line.
fn our_client_twice(ca: &str, session: &str, target: &str) -> (String, String) {
    let args = [
        "h3",
        "get",
        "--cacert",
        ca,
        "--session",
        session,
        "--stats",
        target,
    ];
    let mut said = Vec::new();
    for _ in 0..2 {
        let out = run_netlab(&args, b"", &[], T);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        said.push((text(&out.stdout), err));
    }
    said.pop().unwrap()
}

#[test]
fn our_client_resumes_with_0rtt_from_aioquics_server() {
    let python = python_with("aioquic");
    let dir = TempDir::new("h3-0rtt-aioquic-server");
    let certs = make_certs(&dir);
    let (cert, key) = (
        format!("{certs}/localhost.pem"),
        format!("{certs}/localhost-key.pem"),
    );
    let server_py = script("server.py");
    let args = [
        server_py.as_str(),
        "--cert",
        &cert,
        "--key",
        &key,
        "--tickets",
    ];
    let mut server = spawn_watched(&python, &args);
    let addr = server.listening();
    let ca = format!("{certs}/ca.pem");
    let (body, stats) = our_client_twice(&ca, &dir.path("session"), &url(addr, "/"));
    assert!(body.contains("netlab h3 peer"), "{body}");
    assert!(stats.contains("resumed, 0-RTT accepted"), "{stats}");
    let theirs = server.stderr_until(&["resumed=yes early_data=accepted"], T);
    assert!(
        theirs.contains("resumed=yes early_data=accepted"),
        "{theirs}"
    );
}

#[test]
fn our_client_resumes_with_0rtt_from_ngtcp2s_server() {
    require("gtlsserver");
    let dir = TempDir::new("h3-0rtt-ngtcp2-server");
    let certs = make_certs(&dir);
    let htdocs = dir.path("htdocs");
    std::fs::create_dir_all(&htdocs).unwrap();
    std::fs::write(format!("{htdocs}/index.html"), "from gtlsserver\n").unwrap();
    let port = free_udp_port();
    let (cert, key) = (
        format!("{certs}/localhost.pem"),
        format!("{certs}/localhost-key.pem"),
    );
    let p = port.to_string();
    let args = ["-q", "-d", &htdocs, "127.0.0.1", &p, &key, &cert];
    let _server = spawn_watched("gtlsserver", &args);
    let ca = format!("{certs}/ca.pem");
    let target = format!("https://localhost:{port}/index.html");
    // gtlsserver prints no ready line: wait until it answers.
    let start = Instant::now();
    let probe = ["h3", "get", "--cacert", &ca, "--timeout", "1000", &target];
    while run_netlab(&probe, b"", &[], T).status.code() != Some(0) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "gtlsserver never answered"
        );
    }
    let session = dir.path("session");
    let (body, mut stats) = our_client_twice(&ca, &session, &target);
    assert_eq!(body, "from gtlsserver\n");
    // Now and then (about one run in five here) gtlsserver resumes the session but declines
    // the 0-RTT, and the request goes in 1-RTT; our guess is GnuTLS's anti-replay check of
    // the ticket's age, which BoringSSL reports from a session time kept in whole seconds.
    // Every visit must resume; one of three must have its 0-RTT accepted.
    let args = [
        "h3",
        "get",
        "--cacert",
        &ca,
        "--session",
        &session,
        "--stats",
        &target,
    ];
    for _ in 0..2 {
        assert!(stats.contains(", resumed"), "{stats}");
        if stats.contains("0-RTT accepted") {
            break;
        }
        stats = text(&run_netlab(&args, b"", &[], T).stderr);
    }
    assert!(stats.contains("resumed, 0-RTT accepted"), "{stats}");
}

#[test]
fn a_ticket_stops_resuming_once_its_key_has_rotated() {
    let dir = TempDir::new("h3-0rtt-rotation");
    let certs = make_certs(&dir);
    let config = Config {
        ticket_rotation: Duration::from_millis(300),
        ..Config::default()
    };
    let (bg, _) = counting_server(&certs, config);
    let session = PathBuf::from(dir.path("session"));
    fetch(bg.addr(), &certs, &session, "GET", "/");
    // Two periods later the key that made the ticket is gone (one key is live at a time).
    std::thread::sleep(Duration::from_millis(700));
    let later = fetch(bg.addr(), &certs, &session, "GET", "/");
    assert!(!later.resumed, "a ticket under a retired key resumed");
    assert_eq!(later.early_data, Some(false));
    assert_eq!(later.responses[0].status, 200);
    bg.stop();
}

/// Keeps the client's first flight: its datagrams until the server's first is delivered.
#[derive(Default)]
struct FirstFlight {
    datagrams: std::sync::Mutex<Vec<Vec<u8>>>,
    answered: std::sync::atomic::AtomicBool,
}

impl DatagramObserver for FirstFlight {
    fn datagram(&self, from: Side, _n: u64, bytes: &[u8]) -> Verdict {
        // A 0-RTT packet (long header, type 1) belongs to it even when seen late.
        let zero_rtt = bytes.first().is_some_and(|b| b & 0xb0 == 0x90);
        if from == Side::Client && (!self.answered.load(Ordering::SeqCst) || zero_rtt) {
            self.datagrams.lock().unwrap().push(bytes.to_vec());
        }
        Verdict::Forward
    }

    fn delivering(&self) {
        self.answered.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_replayed_first_flight_never_applies_its_post_again() {
    let dir = TempDir::new("h3-0rtt-replay");
    let certs = make_certs(&dir);
    // Three servers with one ticket key and one counter: a cluster behind one name, where a
    // replay is a new connection on each (one server would take a second copy for a
    // duplicate of the connection the first copy made).
    let count = Arc::new(AtomicUsize::new(0));
    let key = [42u8; 48];
    let servers: Vec<_> = (0..3)
        .map(|_| {
            let config = Config {
                ticket_key: Some(key),
                ..Config::default()
            };
            counting_with(&certs, config, count.clone())
        })
        .collect();
    let session = PathBuf::from(dir.path("session"));
    fetch(servers[0].addr(), &certs, &session, "GET", "/");
    let flight = Arc::new(FirstFlight::default());
    let relay = Relay::observed(servers[0].addr(), flight.clone(), Duration::ZERO).unwrap();
    let post = fetch(relay.addr(), &certs, &session, "POST", "/count");
    assert_eq!(post.early_data, Some(true));
    assert!(
        post.responses[0].too_early,
        "the 0-RTT POST was answered 425 first"
    );
    assert_eq!(post.responses[0].body, b"count 1\n");
    drop(relay);
    let datagrams = flight.datagrams.lock().unwrap().clone();
    assert!(
        datagrams.len() >= 2,
        "an Initial and 0-RTT packets: {}",
        datagrams.len()
    );
    // The first server may still hold the client's own connection (closing, then draining
    // for three PTOs) and route the replayed Initial to it, unanswered, until it is gone; on
    // a loaded machine one answer can also take longer than the wait. So the flight is sent
    // again every half second, up to 10 s, as a replayer would: what counts is that each
    // server starts a handshake for it and none applies the POST again.
    let mut answered = 0;
    for s in &servers {
        let replayer = UdpSocket::bind("127.0.0.1:0").unwrap();
        replayer
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 1500];
        for _ in 0..20 {
            for d in &datagrams {
                replayer.send_to(d, s.addr()).unwrap();
            }
            if replayer.recv_from(&mut buf).is_ok() {
                answered += 1;
                break;
            }
        }
    }
    assert_eq!(
        answered, 3,
        "every server ran a handshake for the replayed flight"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "a replay applied the POST again"
    );
    for s in servers {
        s.stop();
    }
}

#[test]
fn a_server_without_early_data_resumes_and_rejects_the_0rtt() {
    let dir = TempDir::new("h3-0rtt-off");
    let certs = make_certs(&dir);
    let config = Config {
        early_data: false,
        ..Config::default()
    };
    let (bg, count) = counting_server(&certs, config);
    let session = PathBuf::from(dir.path("session"));
    fetch(bg.addr(), &certs, &session, "GET", "/");
    // The POST went in 0-RTT, was dropped unread, and quiche sent it again in 1-RTT.
    let second = fetch(bg.addr(), &certs, &session, "POST", "/count");
    assert!(second.resumed);
    assert_eq!(second.early_data, Some(false));
    assert!(
        !second.responses[0].too_early,
        "never read from early data: no 425"
    );
    assert_eq!(second.responses[0].body, b"count 1\n");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    bg.stop();
}
