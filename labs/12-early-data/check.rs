//! Lab 12 check: your early-data policy inside netlab's HTTP/3 server (`Config::early_policy`),
//! first on its own (a table of requests), then live: a returning client sends a GET, a POST
//! and a PUT in 0-RTT through a UDP relay that records its first flight, and the check replays
//! those flights to the server from new sockets. The server's state must change once per
//! request the client meant, never because of early data. Run: `make check LAB=12`.

#[path = "../common.rs"]
mod common;
#[path = "policy.rs"]
mod policy;
#[path = "solution.rs"]
mod solution;

use common::Check;
use netlab::http::fields::Headers;
use netlab::http::message::{Request, Response};
use netlab::http::uri::Url;
use netlab::l4::relay::Side;
use netlab::l4::udp_relay::{DatagramObserver, Relay, Verdict};
use netlab::quic::client::{self, Fetched, Options, Outcome};
use netlab::quic::config::{Identity, Transport};
use netlab::quic::early::{Early, Policy};
use netlab::quic::server::{self, Config};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

common::wrong_solutions! {
    fn policy_of(m) -> Policy { m::decide }
    student policy, solution solution;
    allow_all fails [1, 3, 4]: "answers everything from 0-RTT: a replayed POST is applied once per replay";
    deny_only_post fails [1, 3, 4]: "makes only POST wait: a PUT from early data is applied, and again on every replay";
    idempotent fails [1, 3, 4]: "answers the idempotent methods: PUT and DELETE change state, and a replay can undo a later change";
    by_path fails [1, 3, 4]: "decides by path (only /api/ waits): a POST elsewhere is applied from early data";
}

/// The server's state: a counter, and every state-changing request applied, in order.
#[derive(Default)]
struct State {
    count: i64,
    applied: Vec<String>,
}

/// POST /count adds one, PUT /count sets it to the body's number, GET /count reads it.
fn handler(state: Arc<Mutex<State>>) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    move |req: &Request| {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        match (req.method.as_str(), req.path()) {
            ("GET", "/count") => Response::text(200, &format!("count {}", s.count)),
            ("POST", "/count") => {
                s.count += 1;
                s.applied.push("POST /count".into());
                Response::text(200, &format!("count {}", s.count))
            }
            ("PUT", "/count") => match String::from_utf8_lossy(&req.body).trim().parse() {
                Ok(n) => {
                    s.count = n;
                    s.applied.push(format!("PUT /count {n}"));
                    Response::text(200, &format!("count {n}"))
                }
                Err(_) => Response::text(400, "PUT /count takes a number"),
            },
            ("GET", "/") => Response::text(200, "hello"),
            _ => Response::text(404, "no such thing"),
        }
    }
}

/// An observer for the relay: keeps the client's first flight (its Initial and its 0-RTT
/// packets): every datagram until the server's first one is delivered, and 0-RTT ones.
#[derive(Default)]
struct FirstFlight {
    datagrams: Mutex<Vec<Vec<u8>>>,
    answered: AtomicBool,
}

impl DatagramObserver for FirstFlight {
    fn datagram(&self, from: Side, _n: u64, bytes: &[u8]) -> Verdict {
        // A 0-RTT packet (long header, type 1 in QUIC v1) is part of the first flight even
        // when this thread sees it after the server's answer went the other way.
        let zero_rtt = bytes.first().is_some_and(|b| b & 0xb0 == 0x90);
        let first = !self.answered.load(Ordering::SeqCst) || zero_rtt;
        if from == Side::Client && first {
            if let Ok(mut d) = self.datagrams.lock() {
                d.push(bytes.to_vec());
            }
        }
        Verdict::Forward
    }

    fn delivering(&self) {
        self.answered.store(true, Ordering::SeqCst);
    }
}

/// How many servers answer for the site: the one the client visits and its siblings, with
/// the same ticket key and the same state, as a cluster behind one name. A flight replayed to
/// the server that still holds the replayed connection is a duplicate it ignores; replayed to
/// each of them, it is a new connection every time (and an anti-replay cache kept by one
/// server would not see the others' copies).
const REPLICAS: usize = 3;

/// Where the client goes and with what it was here before.
struct Visitor {
    ca: PathBuf,
    session: PathBuf,
}

impl Visitor {
    /// One request on one connection to `to`, resuming the stored session (0-RTT).
    fn visit(
        &self,
        to: SocketAddr,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<Outcome, String> {
        let opts = Options {
            cacert: Some(self.ca.clone()),
            transport: Transport {
                idle_timeout: Duration::from_secs(5),
                qlog_dir: None,
            },
            timeout: Duration::from_secs(10),
            method: method.into(),
            body: (!body.is_empty()).then(|| body.as_bytes().to_vec()),
            session: Some(self.session.clone()),
            ..Options::default()
        };
        let url = Url::parse(&format!("https://localhost:{}{path}", to.port()))
            .map_err(|e| e.to_string())?;
        client::fetch(&[url], &opts).map_err(|e| format!("{method} {path}: {e}"))
    }

    /// [`visit`] through a relay that records the first flight; the flight too.
    fn recorded(
        &self,
        server: SocketAddr,
        method: &str,
        body: &str,
    ) -> Result<(Outcome, Vec<Vec<u8>>), String> {
        let flight = Arc::new(FirstFlight::default());
        let relay = Relay::observed(server, flight.clone(), Duration::ZERO)
            .map_err(|e| format!("cannot start the relay: {e}"))?;
        let outcome = self.visit(relay.addr(), method, "/count", body)?;
        drop(relay);
        let datagrams = flight
            .datagrams
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default();
        Ok((outcome, datagrams))
    }
}

/// The only response of an outcome.
fn only(o: &Outcome) -> Result<&Fetched, String> {
    o.responses
        .first()
        .ok_or_else(|| "no response came".to_string())
}

/// Step 1's table: request → what the policy must say.
const TABLE: &[(&str, &str, Early)] = &[
    ("GET", "/", Early::Answer),
    ("GET", "/count", Early::Answer),
    ("HEAD", "/count", Early::Answer),
    ("OPTIONS", "*", Early::Answer),
    ("TRACE", "/", Early::Answer),
    ("POST", "/count", Early::TooEarly),
    ("POST", "/search?q=quic", Early::TooEarly),
    ("PUT", "/count", Early::TooEarly),
    ("DELETE", "/count", Early::TooEarly),
    ("PATCH", "/count", Early::TooEarly),
    ("POST", "/api/items", Early::TooEarly),
    ("BREW", "/pot", Early::TooEarly),
];

fn table(decide: Policy, source: &str) -> Result<(), String> {
    // The default server configuration holds netlab's own policy: this lab is about
    // writing one, so handing that one over is not an answer.
    if source.contains("early_policy") || source.contains("Config::default") {
        return Err("expected a policy written in this file; it borrows netlab's own (the early_policy of a default server Config)\n      likely: the lab's point is which methods a replay must not reach; decide here, then read src/quic/early.rs to compare".into());
    }
    let fields = Headers::default();
    let wrong: Vec<String> = TABLE
        .iter()
        .filter(|(m, t, want)| decide(m, t, &fields) != *want)
        .map(|(m, t, want)| {
            let why = match want {
                Early::Answer => "safe (RFC 9110 §9.2.1): answer it, that is what 0-RTT is for",
                Early::TooEarly => "not safe: a replay would do it again; 425 Too Early",
            };
            format!("{m} {t}: {why}")
        })
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "wrong for {} of {}: {}",
            wrong.len(),
            TABLE.len(),
            wrong.join("; ")
        ))
    }
}

/// Step 2: a GET on a second visit is answered from early data.
fn early_get(v: &Visitor, server: SocketAddr) -> Result<(), String> {
    let first = v.visit(server, "GET", "/", "")?;
    if first.early_data.is_some() {
        return Err("the first visit already had a session: the check's own mistake".into());
    }
    let second = v.visit(server, "GET", "/count", "")?;
    if second.early_data != Some(true) {
        return Err(format!(
            "the second visit's 0-RTT was not accepted ({:?})",
            second.early_data
        ));
    }
    let r = only(&second)?;
    if r.too_early {
        return Err("GET /count, sent in 0-RTT, was answered 425 Too Early: a GET is safe, answer it from early data (that is what 0-RTT is for)".into());
    }
    match (r.status, r.body.as_slice()) {
        (200, b"count 0\n") => Ok(()),
        (s, b) => Err(format!(
            "GET /count: expected 200 \"count 0\", came {s} {:?}",
            String::from_utf8_lossy(b)
        )),
    }
}

/// Step 3: a POST and a PUT in 0-RTT get 425, then are applied once after the handshake;
/// their first flights are kept for step 4.
fn early_writes(
    v: &Visitor,
    server: SocketAddr,
    state: &Mutex<State>,
    flights: &mut Vec<Vec<Vec<u8>>>,
) -> Result<(), String> {
    // Both visits first (step 4 replays both flights), then what they got.
    let mut got = Vec::new();
    for (method, body, want) in [("POST", "", "count 1\n"), ("PUT", "5", "count 5\n")] {
        let (outcome, flight) = v.recorded(server, method, body)?;
        flights.push(flight);
        got.push((method, want, outcome));
    }
    for (method, want, outcome) in &got {
        if outcome.early_data != Some(true) {
            return Err(format!(
                "{method} /count: the 0-RTT was not accepted ({:?})",
                outcome.early_data
            ));
        }
        let r = only(outcome)?;
        if !r.too_early {
            return Err(format!(
                "{method} /count, sent in 0-RTT, was answered from early data: it changes state, and whoever recorded the packets can replay it; answer 425 Too Early"
            ));
        }
        if r.status != 200 || r.body != want.as_bytes() {
            return Err(format!(
                "{method} /count sent again after the handshake: expected 200 {want:?}, came {} {:?}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
    }
    let applied = state.lock().map(|s| s.applied.clone()).unwrap_or_default();
    if applied != ["POST /count", "PUT /count 5"] {
        return Err(format!(
            "the server applied {applied:?}, expected each request once: [\"POST /count\", \"PUT /count 5\"]"
        ));
    }
    Ok(())
}

/// Step 4: each recorded first flight replayed from a new socket to every replica.
fn replays(
    servers: &[SocketAddr],
    state: &Mutex<State>,
    flights: &[Vec<Vec<u8>>],
) -> Result<(), String> {
    if flights.len() != 2 || flights.iter().any(|f| f.len() < 2) {
        return Err(
            "step 3 recorded no complete first flight (an Initial and 0-RTT packets) to replay"
                .into(),
        );
    }
    let before = state.lock().map(|s| s.applied.clone()).unwrap_or_default();
    let mut answered = 0;
    // The client's own connections are closed and gone before the first replay.
    std::thread::sleep(Duration::from_millis(300));
    for server in servers {
        for flight in flights {
            answered += replay(*server, flight)?;
        }
    }
    // What a replayed request made a handler do is done by now.
    std::thread::sleep(Duration::from_millis(500));
    if answered == 0 {
        return Err(
            "no server answered a replayed flight: the check's replay did not reach them".into(),
        );
    }
    let after = state.lock().map(|s| s.applied.clone()).unwrap_or_default();
    if after != before {
        let extra = &after[before.len().min(after.len())..];
        return Err(format!(
            "{} replays of the recorded first flights made the servers apply {extra:?} again: requests read from early data were handed to the handler",
            servers.len() * flights.len()
        ));
    }
    Ok(())
}

/// Sends one recorded flight from a new socket; 1 when the server answered it.
fn replay(server: SocketAddr, flight: &[Vec<u8>]) -> Result<usize, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    for d in flight {
        socket.send_to(d, server).map_err(|e| e.to_string())?;
    }
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1500];
    Ok(usize::from(socket.recv_from(&mut buf).is_ok()))
}

fn main() {
    let (mut check, subject) = Check::start(
        "12 (early data: what may be answered from 0-RTT)",
        "labs/12-early-data/policy.rs",
        WRONG,
        Duration::from_secs(60),
    );
    let decide = policy_of(&subject);
    // The code only: the starter's comments name `Config::early_policy` to say where it runs.
    let source: String = common::source_of("labs/12-early-data/policy.rs", &subject, WRONG)
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let pki = netlab::tls::certs::generate().unwrap_or_else(|e| {
        println!("error: cannot make a certificate: {e}");
        std::process::exit(1)
    });
    let dir = std::env::temp_dir().join(format!("netlab-lab12-{}", std::process::id()));
    let ca = dir.join("ca.pem");
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&ca, &pki.ca_pem)) {
        println!("error: {}: {e}", ca.display());
        std::process::exit(1)
    }
    let state = Arc::new(Mutex::new(State::default()));
    let mut key = [0u8; 48];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key).is_err() {
        println!("error: no random numbers for the ticket key");
        std::process::exit(1)
    }
    // The replicas: one socket each, the same ticket key, the same state.
    let mut servers = Vec::new();
    for n in 0..REPLICAS {
        let at = if n == 0 {
            check.listen_addr("127.0.0.1:4433")
        } else {
            "127.0.0.1:0".to_string()
        };
        let socket = UdpSocket::bind(&at).unwrap_or_else(|e| {
            println!("cannot bind {at}: {e}");
            std::process::exit(1)
        });
        let config = Config {
            early_policy: decide,
            ticket_key: Some(key),
            ..Config::default()
        };
        let h = Arc::new(handler(state.clone()));
        let server =
            server::spawn(socket, Identity::from_pki(&pki), h, config).unwrap_or_else(|e| {
                println!("cannot start the HTTP/3 server: {e}");
                std::process::exit(1)
            });
        servers.push(server);
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr()).collect();
    let addr = addrs[0];
    check.serve(
        &format!("https://localhost:{}/count (HTTP/3, UDP)", addr.port()),
        &[
            &format!("netlab h3 get --cacert {} --session /tmp/lab12.session https://localhost:{}/count   (the first visit stores a session)", ca.display(), addr.port()),
            &format!("NETLAB_TRACE=quic,h3 netlab h3 get --cacert {} --session /tmp/lab12.session -X POST -d '' https://localhost:{}/count   (the second sends its POST in 0-RTT)", ca.display(), addr.port()),
        ],
    );
    let visitor = Visitor {
        ca: ca.clone(),
        session: dir.join("session"),
    };
    let mut flights = Vec::new();
    check.step(
        "the policy on its own: safe methods answered, every other method 425",
        || table(decide, &source),
    );
    check.step(
        "a returning client's GET, sent in 0-RTT, is answered from early data",
        || early_get(&visitor, addr),
    );
    check.step(
        "a POST and a PUT sent in 0-RTT are answered 425, then applied once after the handshake",
        || early_writes(&visitor, addr, &state, &mut flights),
    );
    check.step(
        "their recorded first flights, replayed from new sockets to the server and its two replicas, change nothing",
        || replays(&addrs, &state, &flights),
    );
    let _ = std::fs::remove_dir_all(&dir);
    check.finish()
}
