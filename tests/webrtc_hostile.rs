//! Bad input to `netlab webrtc serve`, while one good peer keeps its channel open and
//! echoing throughout: malformed SDP (400 naming the rule, 415), wrong ICE credentials
//! (401 Binding Error), a wrong fingerprint (DTLS aborts, the error says so), garbage
//! datagrams on a session's socket (dropped), and a peer that vanishes mid-transfer (its
//! session ends on lost consent). Each in a loopback-only network namespace.

mod common;
#[path = "webrtc/netns.rs"]
mod netns;

use common::*;
use netlab::http::uri::Url;
use netlab::http1::client::{Client, Options, Outgoing};
use netlab::webrtc::dcep::ChannelType;
use netlab::webrtc::dtls::{DtlsError, Identity};
use netlab::webrtc::ice::{Checker, Credentials};
use netlab::webrtc::peer::{Config, Event, Message, Peer, PeerError};
use netlab::webrtc::sdp::{self, Kind};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use stun::error_code::ErrorCodeAttribute;
use stun::message::{Getter, Message as StunMessage};

fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut req = Outgoing::new("POST", Url::parse(url).unwrap());
    req.headers.set("Content-Type", content_type);
    req.body = body.to_vec();
    let resp = Client::new(Options::default()).send(&req).unwrap();
    (
        resp.status,
        String::from_utf8_lossy(&resp.body).into_owned(),
    )
}

/// A Rust peer connected to the server, its channel open.
fn good_peer(url: &str) -> (Peer, u16) {
    let offer = Peer::offer(&Identity::generate().unwrap(), Config::default()).unwrap();
    let (status, answer) = post(url, "application/sdp", offer.sdp.as_bytes());
    assert_eq!(status, 201, "{answer}");
    let mut peer = offer.accept(&answer).unwrap();
    let id = peer.open("good", ChannelType::RELIABLE);
    peer.wait_open(Duration::from_secs(15)).unwrap();
    (peer, id)
}

fn still_echoes(peer: &mut Peer, id: u16, text: &str) {
    peer.send(id, Message::Text(text.into())).unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match peer.recv(until.saturating_duration_since(Instant::now())) {
            Some(Event::Message(_, Message::Text(t))) if t == text => return,
            Some(Event::Ended(e)) => panic!("the good peer's session ended after {text:?}: {e:?}"),
            Some(_) => {}
            None => panic!("the good peer got no echo of {text:?}"),
        }
    }
}

/// A session made below the Peer API: an offer posted, the answer parsed, and a bare UDP
/// socket (5 s read timeout) to speak ICE — and worse — to the server's candidate.
struct Raw {
    socket: UdpSocket,
    target: SocketAddr,
    /// Our offer's ICE credentials, and the answer's.
    local: Credentials,
    remote: Credentials,
}

fn raw_session(url: &str) -> Raw {
    let offer = Peer::offer(&Identity::generate().unwrap(), Config::default()).unwrap();
    let ours = sdp::parse(&offer.sdp, Kind::Offer).unwrap();
    let (status, answer) = post(url, "application/sdp", offer.sdp.as_bytes());
    assert_eq!(status, 201);
    let theirs = sdp::parse(&answer, Kind::Answer).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    Raw {
        socket,
        target: theirs.candidates[0],
        local: Credentials {
            ufrag: ours.ice_ufrag,
            pwd: ours.ice_pwd,
        },
        remote: Credentials {
            ufrag: theirs.ice_ufrag,
            pwd: theirs.ice_pwd,
        },
    }
}

/// Whatever happened, the server never panicked (not even in a tokio task of webrtc-dtls).
fn no_panic(server: &mut Proc) {
    let log = server.stderr_so_far();
    assert!(!log.contains("panicked"), "{log}");
}

/// `netlab webrtc serve` with this consent timeout (ms), tracing STUN, DTLS and SCTP.
fn serve(consent_ms: &str) -> (Proc, String) {
    let mut server = spawn_netlab(
        &[
            "webrtc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--consent-timeout",
            consent_ms,
        ],
        &[("NETLAB_TRACE", "stun,dtls,sctp")],
    );
    let addr = server.listening();
    (server, format!("http://{addr}/webrtc"))
}

#[test]
fn malformed_offers_get_400_naming_the_rule_and_the_server_goes_on() {
    netns::enter();
    let (mut server, url) = serve("2000");
    let (mut good, id) = good_peer(&url);
    let offer = Peer::offer(&Identity::generate().unwrap(), Config::default())
        .unwrap()
        .sdp;
    let pwd = offer
        .lines()
        .find(|l| l.starts_with("a=ice-pwd:"))
        .unwrap()
        .to_string();
    let cases: [(&str, String, u16, &str); 5] = [
        (
            "application/sdp",
            "hello".into(),
            400,
            "must begin with v=0",
        ),
        ("text/plain", offer.clone(), 415, "application/sdp"),
        (
            "application/sdp",
            offer.replace(&pwd, "a=ice-pwd:short"),
            400,
            "a=ice-pwd has 5 characters",
        ),
        (
            "application/sdp",
            offer
                .replace("UDP/DTLS/SCTP webrtc-datachannel", "UDP/TLS/RTP/SAVPF 111")
                .replace("m=application", "m=audio"),
            400,
            "no audio or video",
        ),
        (
            "application/sdp",
            offer.replace("a=fingerprint:sha-256 ", "a=fingerprint:sha-256 ZZ"),
            400,
            "32 hex pairs",
        ),
    ];
    for (ct, body, want_status, want_text) in cases {
        let (status, text) = post(&url, ct, body.as_bytes());
        assert_eq!(status, want_status, "{text}");
        assert!(text.contains(want_text), "{want_text}: {text}");
        still_echoes(&mut good, id, want_text);
    }
    let (status, _) = post(&url, "application/sdp", &[0xff, 0xfe, 0x00]);
    assert_eq!(status, 400, "not UTF-8");
    still_echoes(&mut good, id, "after all");
    no_panic(&mut server);
}

#[test]
fn wrong_ice_credentials_get_401_and_garbage_is_dropped() {
    netns::enter();
    let (mut server, url) = serve("2000");
    let (mut good, id) = good_peer(&url);
    let Raw {
        socket,
        target,
        local,
        remote,
    } = raw_session(&url);
    let wrong = Credentials {
        ufrag: remote.ufrag,
        pwd: "not-the-password-of-that-answer".into(),
    };
    let req = Checker::new(local, wrong, 7)
        .poll_request(Instant::now(), [9; 12])
        .unwrap()
        .unwrap();
    socket.send_to(&req, target).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = socket
        .recv_from(&mut buf)
        .expect("a Binding Error Response");
    let mut m = StunMessage::new();
    m.unmarshal_binary(&buf[..n]).unwrap();
    assert_eq!(m.typ.to_string(), "Binding error response");
    let mut e = ErrorCodeAttribute::default();
    e.get_from(&m).unwrap();
    assert_eq!(e.code.0, 401, "{}", String::from_utf8_lossy(&e.reason));
    // Garbage of every first byte on the same session socket: dropped, never answered.
    for first in [0u8, 1, 5, 22, 23, 64, 128, 200, 255] {
        let mut junk = vec![first; 64];
        junk[1] = 0x42;
        socket.send_to(&junk, target).unwrap();
    }
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    assert!(socket.recv_from(&mut buf).is_err(), "garbage got an answer");
    still_echoes(&mut good, id, "after garbage");
    no_panic(&mut server);
}

#[test]
fn a_wrong_fingerprint_aborts_dtls_with_an_error_that_says_so() {
    netns::enter();
    let (mut server, url) = serve("2000");
    let (mut good, id) = good_peer(&url);
    // The answer's fingerprint is changed on the way: our side must refuse the server.
    let offer = Peer::offer(&Identity::generate().unwrap(), Config::default()).unwrap();
    let (_, answer) = post(&url, "application/sdp", offer.sdp.as_bytes());
    let fp = answer
        .lines()
        .find(|l| l.starts_with("a=fingerprint:sha-256 "))
        .unwrap();
    let forged = format!(
        "a=fingerprint:sha-256 {}",
        sdp::fingerprint_hex(&[0xAA; 32])
    );
    let mut peer = offer.accept(&answer.replace(fp, &forged)).unwrap();
    peer.open("x", ChannelType::RELIABLE);
    match peer.wait_open(Duration::from_secs(15)) {
        Err(PeerError::Dtls(DtlsError::Fingerprint { expected, .. })) => {
            assert!(expected.starts_with("AA:AA"))
        }
        other => panic!("expected a fingerprint error, got {other:?}"),
    }
    // And the offer's fingerprint changed on the way: the server refuses us, and says so.
    let offer = Peer::offer(&Identity::generate().unwrap(), Config::default()).unwrap();
    let fp = offer
        .sdp
        .lines()
        .find(|l| l.starts_with("a=fingerprint:sha-256 "))
        .unwrap()
        .to_string();
    let forged_offer = offer.sdp.replace(&fp, &forged);
    let (_, answer) = post(&url, "application/sdp", forged_offer.as_bytes());
    let mut peer = offer.accept(&answer).unwrap();
    peer.open("x", ChannelType::RELIABLE);
    let err = peer.wait_open(Duration::from_secs(15)).unwrap_err();
    assert!(matches!(err, PeerError::Dtls(_)), "{err}");
    let log = server.stderr_until(&["does NOT match a=fingerprint"], Duration::from_secs(5));
    assert!(log.contains("does NOT match a=fingerprint"), "{log}");
    still_echoes(&mut good, id, "after forged fingerprints");
    no_panic(&mut server);
}

#[test]
fn a_peer_that_vanishes_mid_transfer_ends_its_session_only() {
    netns::enter();
    let (mut server, url) = serve("2000");
    let (mut good, id) = good_peer(&url);
    // The good peer's own consent checks come every 5 s (RFC 7675 §5.1), longer than this
    // server's 2 s consent timeout: left idle while the victim connects and vanishes, its
    // session was ended too (a close_notify) whenever that took over 2 s. It keeps talking,
    // so only the victim's silence is measured.
    let stop = Arc::new(AtomicBool::new(false));
    let keeper = {
        let stop = stop.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                still_echoes(&mut good, id, "keepalive");
                thread::sleep(Duration::from_millis(300));
            }
            good
        })
    };
    let big = "x".repeat(20000);
    let many: Vec<&str> = std::iter::repeat_n(big.as_str(), 80).collect();
    let mut args = vec!["webrtc", "connect", url.as_str()];
    args.extend(many);
    let mut victim = spawn_netlab(&args, &[("NETLAB_TRACE", "dcep")]);
    victim.stderr_until(&["open on stream"], Duration::from_secs(15));
    // SIGKILL mid-transfer: no SHUTDOWN, no close_notify, nothing more on the wire.
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    let want = "session ended: ICE: consent lost";
    let log = server.stderr_until(&[want], Duration::from_secs(10));
    assert!(
        log.contains(want),
        "the server did not end that session: {log}"
    );
    stop.store(true, Ordering::Relaxed);
    let mut good = keeper.join().expect("the good peer kept its session");
    still_echoes(&mut good, id, "after a vanished peer");
    no_panic(&mut server);
}

#[test]
fn garbage_dtls_from_an_ice_checked_peer_ends_only_its_session() {
    netns::enter();
    let (mut server, url) = serve("2000");
    let (mut good, id) = good_peer(&url);
    let Raw {
        socket,
        target,
        local,
        remote,
    } = raw_session(&url);
    // A correct check: the server locks this socket's address as the peer's.
    let mut checker = Checker::new(local, remote, 7);
    let req = checker
        .poll_request(Instant::now(), [5; 12])
        .unwrap()
        .unwrap();
    socket.send_to(&req, target).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(
        checker.on_response(&buf[..n]),
        Ok(true),
        "a verified Binding Success"
    );
    // Then DTLS records that are not: a handshake header with nonsense, truncated records,
    // an application_data record in epoch 0, a huge length.
    let junk: [&[u8]; 5] = [
        &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3],
        &[22, 0xfe, 0xfd, 0, 0],
        &[23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 4, 9, 9, 9, 9],
        &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 1],
        &[21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 3, 0, 2, 2, 40],
    ];
    for j in junk {
        socket.send_to(j, target).unwrap();
    }
    still_echoes(&mut good, id, "after garbage DTLS");
    // The broken session ends (its handshake cannot complete) with a DTLS error, in time.
    let log = server.stderr_until(&["session ended: DTLS"], Duration::from_secs(15));
    assert!(log.contains("session ended: DTLS"), "{log}");
    still_echoes(&mut good, id, "after its session ended");
    no_panic(&mut server);
}

#[test]
fn an_idle_session_outlives_the_consent_timeout_while_checks_flow() {
    // RFC 7675: consent is the peer's checks, not its data. A session that sends nothing for
    // longer than the server's consent timeout (7 s here) lives on, because the Rust peer's
    // consent checks (every 5 s) keep coming and being answered.
    netns::enter();
    let (mut server, url) = serve("7000");
    let (mut peer, id) = good_peer(&url);
    let _ = server.stderr_so_far(); // the lines up to the open
    std::thread::sleep(Duration::from_secs(12));
    still_echoes(&mut peer, id, "after 12 s of silence");
    let idle = server.stderr_so_far();
    assert!(!idle.contains("consent lost"), "{idle}");
    // stderr_so_far hands out the lines since its last call: these are the idle time's.
    let checks = idle.matches("Binding Success to").count();
    assert!(
        checks >= 2,
        "consent checks answered while idle: {checks}\n{idle}"
    );
    no_panic(&mut server);
}

#[test]
fn an_offer_flood_from_one_address_fills_its_share_and_others_are_still_served() {
    netns::enter();
    let mut server = spawn_netlab(
        &["webrtc", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "sdp")],
    );
    let addr = server.listening();
    let url = format!("http://{addr}/webrtc");
    // 70 unauthenticated offers from 127.0.0.2 (all of 127/8 is loopback), as fast as they
    // go: sessions that will never see an ICE check, each holding a place until it expires.
    let offer = Peer::offer(&Identity::generate().unwrap(), Config::default())
        .unwrap()
        .sdp;
    let request = format!(
        "POST /webrtc HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{offer}",
        offer.len()
    );
    let status = |answer: &[u8]| -> u16 {
        let text = String::from_utf8_lossy(answer);
        text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
    };
    let started = Instant::now();
    let answers: Vec<Vec<u8>> = (0..70)
        .map(|_| exchange_from("127.0.0.2", addr, request.as_bytes()))
        .collect();
    let took = started.elapsed();
    let created = answers.iter().filter(|a| status(a) == 201).count();
    let refused: Vec<&Vec<u8>> = answers.iter().filter(|a| status(a) == 503).collect();
    assert_eq!(
        (created, refused.len()),
        (16, 54),
        "the flood's 70 offers ({} ms): 16 of 64 places for one address",
        took.as_millis()
    );
    let last = String::from_utf8_lossy(refused[0]).into_owned();
    assert!(last.contains("\r\nRetry-After: 5\r\n"), "{last}");
    assert!(
        last.contains("source 127.0.0.2 holds 16 of 64 places"),
        "{last}"
    );
    // Meanwhile another address's offer is answered…
    let other = exchange_from("127.0.0.3", addr, request.as_bytes());
    assert_eq!(status(&other), 201, "{}", String::from_utf8_lossy(&other));
    // …and a real peer (from 127.0.0.1) connects and echoes, while the flood's sessions
    // still hold their places.
    let (mut good, id) = good_peer(&url);
    still_echoes(&mut good, id, "served during the flood");
    let log = server.stderr_until(
        &["source 127.0.0.2 holds 16 of 64 places"],
        Duration::from_secs(5),
    );
    assert!(log.contains("offer from 127.0.0.2 refused"), "{log}");
    eprintln!(
        "70 offers from one address in {} ms: 16 sessions, 54 refused",
        took.as_millis()
    );
    no_panic(&mut server);
}
