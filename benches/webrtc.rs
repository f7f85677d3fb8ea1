//! `make bench` for WebRTC data channels, netlab next to aiortc in one run, each pair with
//! the same counterpart:
//! - throughput (MB/s echoed, reliable ordered channel, 16 KiB messages) and the time from
//!   offer to open, with aiortc as the offering client, against `netlab webrtc serve` and
//!   against an aiortc answerer;
//! - the same two numbers with netlab's Rust peer as the offering client;
//! - ICE: netlab's echo through `netlab turn serve` (the offerer gathers its relayed candidate
//!   only) next to the direct one, and the time to open per candidate type: host only, with a
//!   STUN server's server-reflexive candidate gathered (on loopback it equals the host one, so
//!   this measures the gathering), and relayed only;
//! - the floors under netlab's own echo: the same echo through sctp-proto alone (two
//!   associations in memory), and webrtc-dtls's AES-GCM alone on the records it needs;
//! - one way, as libdatachannel's benchmark measures (both peers in one process, one sends,
//!   the other counts), next to sctp-proto alone one way.
//!
//! Runs in a loopback-only network namespace of its own (needs root, like the interop tests).

mod common;
use common::*;
use netlab::http::uri::Url;
use netlab::http1::client::{Client, Options, Outgoing};
use netlab::webrtc::dcep::ChannelType;
use netlab::webrtc::dtls::Identity;
use netlab::webrtc::peer::{Config, Event, Message, Peer, TurnServer};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webrtc/aiortc_peer.py");
const MESSAGES: usize = 1000;
const SIZE: usize = 16 * 1024;
/// Alternating pairs per row: the time to open is short, a throughput run against aiortc
/// takes 10–20 s (aiortc echoes ~1 MB/s), and `make bench` must stay under 15 minutes.
const OPEN_PAIRS: usize = 5;
const TP_PAIRS: usize = 3;
/// The longest an aiortc run may take before it is killed and its row reported failed.
const OPEN_LIMIT: Duration = Duration::from_secs(40);
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn python() -> String {
    format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR"))
}

fn loopback_only() {
    use nix::sched::{CloneFlags, unshare};
    unshare(CloneFlags::CLONE_NEWNET).expect("the WebRTC bench runs as root (unshare -n)");
    let ok = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip link set lo up");
}

/// aiortc as the offering client: (open ms, MB/s) from `aiortc_peer.py offer URL N`, or
/// NaN for a run that failed or overran `limit` (the child is killed then): a stalled run
/// becomes a failed row, not a bench that never ends.
fn aiortc_client(url: &str, n: usize, limit: Duration) -> (f64, f64) {
    let mut child = Command::new(python())
        .args([SCRIPT, "offer", url, &n.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aiortc (run make deps)");
    let out = read_to_end(child.stdout.take().expect("stdout"));
    let err = read_to_end(child.stderr.take().expect("stderr"));
    let start = Instant::now();
    let overran = loop {
        if child.try_wait().ok().flatten().is_some() {
            break false;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break true;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (text, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let num = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                let why = if overran {
                    "overran its limit"
                } else {
                    "failed"
                };
                eprintln!("bench: aiortc offering to {url} {why}, no {prefix:?}: {text}{err}");
                f64::NAN
            })
    };
    (num("open "), if n > 0 { num("throughput ") } else { 0.0 })
}

/// Reads a pipe to its end on a thread of its own (so the child never blocks on a full pipe).
fn read_to_end(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

fn post(url: &str, sdp: &str) -> String {
    let mut req = Outgoing::new("POST", Url::parse(url).expect("url"));
    req.headers.set("Content-Type", "application/sdp");
    req.body = sdp.as_bytes().to_vec();
    let resp = Client::new(Options::default())
        .send(&req)
        .expect("POST the offer");
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    String::from_utf8(resp.body).expect("answer")
}

/// netlab's peer as the offering client: (open ms, MB/s echoed).
fn netlab_client(url: &str, n: usize) -> (f64, f64) {
    netlab_client_with(url, n, Config::default())
}

/// The same with ICE settings of its own (STUN, TURN, relay only).
fn netlab_client_with(url: &str, n: usize, config: Config) -> (f64, f64) {
    let identity = Identity::generate().expect("certificate");
    let t0 = Instant::now();
    let offer = Peer::offer(&identity, config).expect("offer");
    let answer = post(url, &offer.sdp);
    let mut peer = offer.accept(&answer).expect("answer");
    let id = peer.open("bench", ChannelType::RELIABLE);
    if let Err(e) = peer.wait_open(Duration::from_secs(15)) {
        eprintln!("bench: netlab offering to {url}: the channel did not open: {e}");
        return (f64::NAN, f64::NAN);
    }
    let open_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let mut mbps = 0.0;
    if n > 0 {
        let payload = vec![0x5au8; SIZE];
        let t1 = Instant::now();
        for _ in 0..n {
            peer.send(id, Message::Binary(payload.clone()))
                .expect("send");
        }
        let mut bytes = 0;
        let mut got = 0;
        while got < n {
            match peer.recv(Duration::from_secs(60)) {
                Some(Event::Message(_, Message::Binary(b))) => {
                    bytes += b.len();
                    got += 1;
                }
                Some(Event::Ended(e)) => {
                    eprintln!("bench: netlab offering to {url}: session ended: {e:?}");
                    return (open_ms, f64::NAN);
                }
                Some(_) => {}
                None => {
                    eprintln!("bench: netlab offering to {url}: echoes stopped at {got} of {n}");
                    return (open_ms, f64::NAN);
                }
            }
        }
        mbps = bytes as f64 / t1.elapsed().as_secs_f64() / 1e6;
    }
    peer.close();
    (open_ms, mbps)
}

/// The floor under the data channel: the same transfer (`n` × `size`, reliable ordered, one
/// stream; echoed, or one way) with nothing but sctp-proto, two associations in one thread
/// handing their packets to each other in memory: no DTLS, no socket, no thread hop. The
/// settings are the peer's (`src/webrtc/sctp.rs`): packets of `sctp::MAX_PACKET` bytes, the
/// SDP's 256 KiB message limit. MB/s echoed (or received), as the netlab rows count them.
fn sctp_alone(n: usize, size: usize, echo: bool) -> f64 {
    use bytes::Bytes;
    use sctp_proto::{
        ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Event as SctpEvent, Payload,
        PayloadProtocolIdentifier as Ppi, ServerConfig, StreamEvent, TransportConfig,
    };
    use std::sync::Arc;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 5000));
    let transport = || {
        Arc::new(
            TransportConfig::default()
                .with_max_receive_message_size(262_144)
                .with_max_send_message_size(262_144)
                .with_max_init_retransmits(None),
        )
    };
    let mut endpoint_config = EndpointConfig::new();
    endpoint_config.max_payload_size(netlab::webrtc::sctp::CHUNK_DATA);
    let endpoint_config = Arc::new(endpoint_config);
    let mut server_config = ServerConfig::new();
    server_config.transport = transport();
    let server_config = Some(Arc::new(server_config));
    // [client, server]: each endpoint and its association (the server's from the INIT).
    let mut ends = [
        Endpoint::new(endpoint_config.clone(), server_config.clone()),
        Endpoint::new(endpoint_config, server_config),
    ];
    let mut client_config = ClientConfig::new();
    client_config.transport = transport();
    let (h, a) = ends[0].connect(client_config, addr).expect("connect");
    let mut assocs = [Some((h, a)), None];
    let payload = Bytes::from(vec![0x5au8; size]);
    let (mut sent, mut echoed, mut bytes) = (false, 0, 0);
    let mut start = Instant::now();
    let give_up = Instant::now() + Duration::from_secs(60);
    while echoed < n && Instant::now() < give_up {
        let now = Instant::now();
        let mut moved = false;
        for side in 0..2 {
            // Every packet this side has, to the other side's endpoint.
            let mut packets = Vec::new();
            while let Some(t) = ends[side].poll_transmit() {
                if let Payload::RawEncode(p) = t.payload {
                    packets.extend(p);
                }
            }
            if let Some((_, a)) = assocs[side].as_mut() {
                while let Some(t) = a.poll_transmit(now) {
                    if let Payload::RawEncode(p) = t.payload {
                        packets.extend(p);
                    }
                }
            }
            moved |= !packets.is_empty();
            let other = 1 - side;
            for p in packets {
                match ends[other].handle(now, addr, None, None, p) {
                    Some((_, DatagramEvent::AssociationEvent(ev))) => {
                        if let Some((_, a)) = assocs[other].as_mut() {
                            a.handle_event(ev);
                        }
                    }
                    Some((h, DatagramEvent::NewAssociation(a))) => assocs[other] = Some((h, a)),
                    None => {}
                }
            }
        }
        // The events: the client sends everything once connected, the server echoes each
        // message, the client counts the echoes.
        for (side, assoc) in assocs.iter_mut().enumerate() {
            let Some((_, a)) = assoc.as_mut() else {
                continue;
            };
            while let Some(ev) = a.poll() {
                moved = true;
                match ev {
                    SctpEvent::Connected if side == 0 && !sent => {
                        sent = true;
                        start = Instant::now();
                        let mut s = a.open_stream(0, Ppi::Binary).expect("stream");
                        for _ in 0..n {
                            s.write_sctp(&payload, Ppi::Binary).expect("write");
                        }
                    }
                    SctpEvent::Stream(StreamEvent::Opened { .. }) => {
                        while a.accept_stream().is_some() {}
                    }
                    SctpEvent::Stream(StreamEvent::Readable { id }) => {
                        let mut s = a.stream(id).expect("stream");
                        while let Ok(Some(chunks)) = s.read_sctp() {
                            // Copied out, as the peer hands a message to its application.
                            let mut buf = vec![0u8; chunks.len()];
                            let got = chunks.read(&mut buf).unwrap_or(0);
                            if side == 1 && echo {
                                let _ = s.write_sctp(&Bytes::from(buf), chunks.ppi);
                            } else {
                                echoed += 1;
                                bytes += got;
                            }
                        }
                    }
                    _ => {}
                }
            }
            while a.poll_endpoint_event().is_some() {}
        }
        // Nothing moved: only a timer (the delayed SACK) can go on, as in the peer's loop.
        if !moved {
            let next = assocs
                .iter()
                .flatten()
                .filter_map(|(_, a)| a.poll_timeout())
                .min();
            if let Some(t) = next {
                std::thread::sleep(t.saturating_duration_since(Instant::now()));
                let now = Instant::now();
                for (_, a) in assocs.iter_mut().flatten() {
                    a.handle_timeout(now);
                }
            }
        }
    }
    if echoed < n {
        eprintln!("bench: sctp-proto alone stalled at {echoed} of {n} messages");
        return f64::NAN;
    }
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// libdatachannel's own benchmark, netlab's way: both peers in this process, one sending
/// `n` × `size` on a reliable ordered channel, the other counting; MB/s received, from the
/// first send to the last message in.
fn one_way(n: usize, size: usize) -> f64 {
    let fail = |why: String| {
        eprintln!("bench: one-way transfer: {why}");
        f64::NAN
    };
    let (a, b) = match (Identity::generate(), Identity::generate()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return fail("no certificate".into()),
    };
    let Ok(offer) = Peer::offer(&a, Config::default()) else {
        return fail("no offer".into());
    };
    let (mut receiver, answer) = match Peer::answer(&offer.sdp, &b, Config::default()) {
        Ok(x) => x,
        Err(e) => return fail(format!("no answer: {e}")),
    };
    let mut sender = match offer.accept(&answer) {
        Ok(p) => p,
        Err(e) => return fail(format!("answer refused: {e}")),
    };
    let id = sender.open("bench", ChannelType::RELIABLE);
    if let Err(e) = sender.wait_open(Duration::from_secs(15)) {
        return fail(format!("the channel did not open: {e}"));
    }
    let payload = vec![0x5au8; size];
    let start = Instant::now();
    for _ in 0..n {
        if sender.send(id, Message::Binary(payload.clone())).is_err() {
            return fail("send failed".into());
        }
    }
    let (mut got, mut bytes) = (0, 0);
    while got < n {
        match receiver.recv(Duration::from_secs(60)) {
            Some(Event::Message(_, Message::Binary(m))) => {
                got += 1;
                bytes += m.len();
            }
            Some(Event::Ended(e)) => return fail(format!("session ended: {e:?}")),
            Some(_) => {}
            None => return fail(format!("stopped at {got} of {n}")),
        }
    }
    let mbps = bytes as f64 / start.elapsed().as_secs_f64() / 1e6;
    sender.close();
    receiver.close();
    mbps
}

/// The other floor: webrtc-dtls's AES-128-GCM alone on every record the echo needs (each
/// SCTP packet of `sctp::MAX_PACKET` bytes sealed by its sender and opened by its receiver,
/// there and back), one thread, no SCTP and no socket. MB/s echoed.
fn dtls_records_alone(n: usize, size: usize) -> f64 {
    use webrtc_dtls::content::ContentType;
    use webrtc_dtls::crypto::crypto_gcm::CryptoGcm;
    use webrtc_dtls::record_layer::record_layer_header::{
        PROTOCOL_VERSION1_2, RECORD_LAYER_HEADER_SIZE, RecordLayerHeader,
    };
    let (key, iv) = ([7u8; 16], [9u8; 4]);
    let (ours, theirs) = (
        CryptoGcm::new(&key, &iv, &key, &iv),
        CryptoGcm::new(&key, &iv, &key, &iv),
    );
    let packet = netlab::webrtc::sctp::MAX_PACKET as usize;
    let chunk = netlab::webrtc::sctp::CHUNK_DATA as usize;
    let records = n * size.div_ceil(chunk) * 2;
    let mut header = RecordLayerHeader {
        content_type: ContentType::ApplicationData,
        protocol_version: PROTOCOL_VERSION1_2,
        epoch: 1,
        sequence_number: 0,
        content_len: packet as u16,
    };
    let mut raw = Vec::with_capacity(RECORD_LAYER_HEADER_SIZE + packet);
    let start = Instant::now();
    let mut opened = 0;
    for i in 0..records {
        header.sequence_number = i as u64;
        raw.clear();
        header.marshal(&mut raw).expect("header");
        raw.resize(RECORD_LAYER_HEADER_SIZE + packet, 0x5a);
        let sealed = ours.encrypt(&header, &raw).expect("seal");
        opened += theirs.decrypt(&sealed).expect("open").len();
    }
    let took = start.elapsed().as_secs_f64();
    assert!(opened >= records * packet);
    (n * size) as f64 / took / 1e6
}

fn main() {
    // `NETLAB_BENCH_FLOORS=1`: the two floors alone, printed (no peers, no namespace, no
    // table written): a quick look at what the chosen crates allow.
    if std::env::var_os("NETLAB_BENCH_FLOORS").is_some() {
        let sctp = sctp_alone(MESSAGES, SIZE, true);
        let records = dtls_records_alone(MESSAGES, SIZE);
        let one = sctp_alone(MESSAGES, SIZE, false);
        println!("sctp-proto alone, one way: {one:.1} MB/s");
        println!(
            "netlab → netlab, one way: {:.1} MB/s",
            one_way(MESSAGES, SIZE)
        );
        println!(
            "sctp-proto alone: {sctp:.1} MB/s echoed ({:.1} ms/MB)",
            1000.0 / sctp
        );
        println!(
            "webrtc-dtls AES-GCM alone: {records:.1} MB/s echoed ({:.1} ms/MB)",
            1000.0 / records
        );
        return;
    }
    loopback_only();
    let ours = Server::netlab(&[
        "webrtc",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--no-page-trace",
    ]);
    let theirs = Server::program(&python(), &[SCRIPT, "answer"]);
    let (ours_url, theirs_url) = (
        format!("http://{}/webrtc", ours.addr),
        format!("http://{}/webrtc", theirs.addr),
    );

    // Every row: medians of alternating pairs, netlab's side then the other.
    let aiortc_open = |url: &str| aiortc_client(url, 0, OPEN_LIMIT).0;
    let aiortc_tp = |url: &str| aiortc_client(url, MESSAGES, RUN_LIMIT).1;
    let (a_open_ours, a_open_theirs) = alternating(
        OPEN_PAIRS,
        || aiortc_open(&ours_url),
        || aiortc_open(&theirs_url),
    );
    let (n_open_ours, n_open_theirs) = alternating(
        OPEN_PAIRS,
        || netlab_client(&ours_url, 0).0,
        || netlab_client(&theirs_url, 0).0,
    );
    let (a_tp_ours, a_tp_theirs) =
        alternating(TP_PAIRS, || aiortc_tp(&ours_url), || aiortc_tp(&theirs_url));
    let (n_tp_ours, n_tp_theirs) = alternating(
        TP_PAIRS,
        || netlab_client(&ours_url, MESSAGES).1,
        || netlab_client(&theirs_url, MESSAGES).1,
    );
    drop(theirs);

    // ICE: the relay against direct, and the time to open per candidate type.
    let stun = Server::netlab(&["stun", "serve", "--addr", "127.0.0.1:0"]);
    let turn = Server::netlab(&["turn", "serve", "--addr", "127.0.0.1:0"]);
    let with_stun = Config {
        stun: Some(stun.addr),
        ..Config::default()
    };
    let relay_only = Config {
        turn: Some(TurnServer {
            addr: turn.addr,
            user: "netlab".into(),
            pass: "netlab".into(),
        }),
        relay_only: true,
        ..Config::default()
    };
    let open_with = |config: &Config| netlab_client_with(&ours_url, 0, config.clone()).0;
    let (open_relay, open_host) = alternating(
        OPEN_PAIRS,
        || open_with(&relay_only),
        || open_with(&Config::default()),
    );
    let (open_srflx, open_host_2) = alternating(
        OPEN_PAIRS,
        || open_with(&with_stun),
        || open_with(&Config::default()),
    );
    let (tp_relay, tp_direct) = alternating(
        TP_PAIRS,
        || netlab_client_with(&ours_url, MESSAGES, relay_only.clone()).1,
        || netlab_client(&ours_url, MESSAGES).1,
    );
    // The floors: netlab's direct echo next to the same echo through sctp-proto alone, and
    // next to webrtc-dtls's record encryption alone.
    let (tp_ours, tp_sctp) = alternating(
        TP_PAIRS,
        || netlab_client(&ours_url, MESSAGES).1,
        || sctp_alone(MESSAGES, SIZE, true),
    );
    let (tp_ours_2, tp_records) = alternating(
        TP_PAIRS,
        || netlab_client(&ours_url, MESSAGES).1,
        || dtls_records_alone(MESSAGES, SIZE),
    );
    let (tp_one_way, tp_sctp_one_way) = alternating(
        TP_PAIRS,
        || one_way(MESSAGES, SIZE),
        || sctp_alone(MESSAGES, SIZE, false),
    );
    drop(turn);
    drop(stun);
    drop(ours);

    let rows = vec![
        Row::higher_is_better(
            &format!(
                "data channel echo, 1000 × 16 KiB reliable ordered, aiortc offering (MB/s, median of {TP_PAIRS} alternating pairs)"
            ),
            a_tp_ours,
            a_tp_theirs,
            "aiortc answerer",
        ),
        Row::lower_is_better(
            &format!(
                "offer to open, aiortc offering (ms, median of {OPEN_PAIRS} alternating pairs)"
            ),
            a_open_ours,
            a_open_theirs,
            "aiortc answerer",
        ),
        Row::higher_is_better(
            &format!(
                "data channel echo, 1000 × 16 KiB reliable ordered, netlab offering (MB/s, median of {TP_PAIRS} alternating pairs)"
            ),
            n_tp_ours,
            n_tp_theirs,
            "aiortc answerer",
        ),
        Row::lower_is_better(
            &format!(
                "offer to open, netlab offering (ms, median of {OPEN_PAIRS} alternating pairs)"
            ),
            n_open_ours,
            n_open_theirs,
            "aiortc answerer",
        ),
        Row::higher_is_better(
            &format!(
                "data channel echo through netlab's TURN relay (relayed candidate only), netlab offering (MB/s, median of {TP_PAIRS} alternating pairs)"
            ),
            tp_relay,
            tp_direct,
            "direct (host pair)",
        ),
        Row::lower_is_better(
            &format!(
                "offer to open, relayed candidate only (ms, median of {OPEN_PAIRS} alternating pairs)"
            ),
            open_relay,
            open_host,
            "host candidates only",
        ),
        Row::lower_is_better(
            &format!(
                "offer to open, host + server-reflexive from netlab's STUN server (ms, median of {OPEN_PAIRS} alternating pairs)"
            ),
            open_srflx,
            open_host_2,
            "host candidates only",
        ),
        Row::higher_is_better(
            &format!(
                "data channel echo, 1000 × 16 KiB reliable ordered, netlab ↔ netlab, two processes (MB/s, median of {TP_PAIRS} alternating pairs)"
            ),
            tp_ours,
            tp_sctp,
            "sctp-proto alone: two associations in memory, one thread",
        ),
        Row::higher_is_better(
            &format!(
                "the same echo, netlab ↔ netlab (MB/s, median of {TP_PAIRS} alternating pairs)"
            ),
            tp_ours_2,
            tp_records,
            "webrtc-dtls AES-GCM alone: seal + open of its records, one thread",
        ),
        Row::higher_is_better(
            &format!(
                "one way, 1000 × 16 KiB reliable ordered, netlab → netlab in one process, as libdatachannel's benchmark (MB/s received, median of {TP_PAIRS} alternating pairs)"
            ),
            tp_one_way,
            tp_sctp_one_way,
            "sctp-proto alone, one way",
        ),
    ];
    write_table(
        "webrtc",
        &format!("WebRTC data channels — {}", machine()),
        &rows,
    );
}
