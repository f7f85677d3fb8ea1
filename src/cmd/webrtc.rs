//! The WebRTC commands: `netlab webrtc serve` (the page, the signaling, an echo peer) and
//! `netlab webrtc connect` (the Rust peer as offerer), `netlab webrtc partial` (partial
//! reliability measured on a lossy path).

use super::http::bind;
use crate::cli::{self, CliError, Command, Flag, Matches, flag, runtime};
use netlab::http::message::Headers;
use netlab::http::uri::Url;
use netlab::http1::client::{Client, Options, Outgoing};
use netlab::http1::server::{self, Config as HttpConfig};
use netlab::trace::{self, Layer};
use netlab::webrtc::dcep::{ChannelType, Reliability};
use netlab::webrtc::dtls::Identity;
use netlab::webrtc::partial;
use netlab::webrtc::peer::{Config, Event, IceMode, Message, Peer, Trickle, TurnServer};
use netlab::webrtc::sdp;
use netlab::webrtc::signaling::{self, TraceLog};
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The ICE flags `serve` and `connect` share (the peer's `ice_config` reads them).
const ICE_FLAG: Flag = flag(
    "ice",
    Some("full|lite"),
    None,
    "the ICE agent: full (gathers, checks, nominates) or lite (answers checks); default full when offering or given --stun/--turn",
);
const STUN_FLAG: Flag = flag(
    "stun",
    Some("HOST:PORT"),
    None,
    "a STUN server for a server-reflexive candidate (netlab stun serve)",
);
const TURN_FLAG: Flag = flag(
    "turn",
    Some("turn:HOST:PORT"),
    None,
    "a TURN server for a relayed candidate (netlab turn serve)",
);
const TURN_USER_FLAG: Flag = flag(
    "turn-user",
    Some("NAME"),
    Some("netlab"),
    "the TURN server's user name (long-term credentials)",
);
const TURN_PASS_FLAG: Flag = flag(
    "turn-pass",
    Some("PASS"),
    Some("netlab"),
    "the TURN server's password",
);
const IP_FLAG: Flag = flag(
    "ip",
    Some("IP"),
    Some("127.0.0.1"),
    "the address the peer's UDP socket binds (0.0.0.0: every interface, a host candidate each)",
);
const RELAY_ONLY_FLAG: Flag = flag(
    "relay-only",
    None,
    None,
    "gather only the relayed candidate (iceTransportPolicy relay): all traffic through the TURN server",
);

pub const SERVE: Command = Command {
    path: "netlab webrtc serve",
    about: "a page with a data channel to a Rust echo peer; offers by POST /webrtc (WHIP-style), and a two-tab relay",
    flags: &[
        flag(
            "addr",
            Some("HOST:PORT"),
            Some("127.0.0.1:8090"),
            "address of the HTTP server (port 0: the kernel picks)",
        ),
        flag(
            "consent-timeout",
            Some("MS"),
            Some("30000"),
            "end a session after this long without a word from its peer (RFC 7675)",
        ),
        flag(
            "no-page-trace",
            None,
            None,
            "do not trace for the page (GET /trace): what make bench measures",
        ),
        ICE_FLAG,
        STUN_FLAG,
        TURN_FLAG,
        TURN_USER_FLAG,
        TURN_PASS_FLAG,
        IP_FLAG,
        RELAY_ONLY_FLAG,
        flag(
            "trickle",
            Some("on|off"),
            Some("on"),
            "on: answer a trickling offer with the host candidates and hand the STUN and TURN servers' ones back in the responses to its PATCHes (RFC 8838); off: gather them all first",
        ),
        cli::SERIAL,
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const CONNECT: Command = Command {
    path: "netlab webrtc connect",
    about: "the Rust peer offers to URL (POST, application/sdp), opens a channel, sends each MESSAGE and prints what comes back",
    flags: &[
        flag("label", Some("L"), Some("chat"), "the channel's label"),
        flag(
            "room",
            Some("NAME"),
            None,
            "offer into room NAME of the netlab webrtc serve at URL (its origin) and wait for a browser tab to answer",
        ),
        flag(
            "unordered",
            None,
            None,
            "an unordered channel (DATA_CHANNEL_RELIABLE_UNORDERED)",
        ),
        flag(
            "binary",
            None,
            None,
            "send the messages as binary instead of text",
        ),
        flag(
            "timeout",
            Some("MS"),
            Some("15000"),
            "give up when a step takes longer",
        ),
        ICE_FLAG,
        STUN_FLAG,
        TURN_FLAG,
        TURN_USER_FLAG,
        TURN_PASS_FLAG,
        IP_FLAG,
        RELAY_ONLY_FLAG,
        flag(
            "trickle",
            Some("on|off"),
            Some("on"),
            "on: offer with the host candidates and send the STUN and TURN servers' ones as found (RFC 8838), PATCHed to the session or, with --room, POSTed to the room; off: gather them all first",
        ),
    ],
    args: "URL [MESSAGE…]",
    min_args: 1,
    max_args: usize::MAX,
};

pub const PARTIAL: Command = Command {
    path: "netlab webrtc partial",
    about: "partial reliability on a lossy path: the same timestamped messages on a reliable ordered channel and an unordered maxRetransmits=0 one, through the impairing relay; the age of the freshest message on each",
    flags: &[
        flag(
            "loss",
            Some("PERCENT"),
            Some("5"),
            "datagrams lost each way while messages flow",
        ),
        flag(
            "delay",
            Some("MS"),
            Some("20"),
            "held back each way by the relay",
        ),
        flag(
            "rate",
            Some("N"),
            Some("50"),
            "messages per second on each channel",
        ),
        flag(
            "seconds",
            Some("S"),
            Some("5"),
            "how long messages are sent",
        ),
        flag("size", Some("BYTES"), Some("200"), "bytes per message"),
        flag("seed", Some("N"), Some("1"), "picks the datagrams lost"),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const COMMANDS: &[&Command] = &[&SERVE, &CONNECT, &PARTIAL];

pub fn run(tail: &[String]) -> Result<(), CliError> {
    cli::dispatch(
        "webrtc",
        &[
            ("serve", &SERVE, serve),
            ("connect", &CONNECT, connect),
            ("partial", &PARTIAL, partial),
        ],
        tail,
    )
}

/// `netlab webrtc partial`: the run of [`partial::run`], its table on stdout.
fn partial(m: &Matches) -> Result<(), CliError> {
    let settings = partial::Settings {
        loss: m.number(&PARTIAL, "loss")?,
        delay: m.millis(&PARTIAL, "delay")?,
        rate: m.number(&PARTIAL, "rate")?,
        duration: Duration::from_secs(m.number(&PARTIAL, "seconds")?),
        size: m.number(&PARTIAL, "size")?,
        seed: m.number(&PARTIAL, "seed")?,
    };
    let report = partial::run(settings).map_err(|e| match e {
        partial::PartialError::Settings(why) => CliError::Usage(why),
        e => runtime(e),
    })?;
    print!("{}", partial::table(&report));
    Ok(())
}

const LAYERS: [Layer; 6] = [
    Layer::Sdp,
    Layer::Stun,
    Layer::Dtls,
    Layer::Sctp,
    Layer::Dcep,
    Layer::Http,
];

fn serve(m: &Matches) -> Result<(), CliError> {
    let listener = bind(&SERVE, m)?;
    let identity = Identity::generate().map_err(runtime)?;
    // The page shows the Rust side's trace: the WebRTC layers are traced into a log the
    // page polls, and to stderr only when asked for (--trace, NETLAB_TRACE).
    let asked = LAYERS.iter().any(|l| trace::is_on(*l));
    let page_trace = !m.on("no-page-trace");
    let mut log = TraceLog::default();
    log.echo = asked;
    if page_trace {
        if !asked {
            trace::enable("sdp,stun,dtls,sctp,dcep").map_err(runtime)?;
        }
        trace::capture(Some(Box::new(log.clone())));
    }
    let consent_timeout = m.millis(&SERVE, "consent-timeout")?;
    if consent_timeout.is_zero() {
        // Every session would end the moment its peer's address was locked.
        return Err(CliError::Usage(
            "--consent-timeout must be at least 1 ms (RFC 7675 suggests 30000)".into(),
        ));
    }
    let config = ice_config(
        &SERVE,
        m,
        Config {
            consent_timeout,
            trickle: trickle_flag(&SERVE, m)?,
            ..Config::default()
        },
    )?;
    let router = signaling::router(
        identity,
        config,
        Arc::new(signaling::echo),
        page_trace.then_some(log),
    );
    cli::listening("http", listener.local_addr().map_err(runtime)?);
    server::serve(
        listener,
        Arc::new(router),
        HttpConfig {
            threads: m.threads(),
            ..HttpConfig::default()
        },
        Arc::new(server::plain),
        Arc::new(AtomicBool::new(false)),
    );
    Ok(())
}

/// `--trickle on|off` (on by default).
fn trickle_flag(cmd: &Command, m: &Matches) -> Result<bool, CliError> {
    match m.get("trickle") {
        None | Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => Err(CliError::Usage(format!(
            "{}: --trickle {other}: on or off",
            cmd.path
        ))),
    }
}

/// `--ice`, `--stun`, `--turn`, `--turn-user`, `--turn-pass` into the peer's config.
fn ice_config(cmd: &Command, m: &Matches, mut config: Config) -> Result<Config, CliError> {
    if let Some(ip) = m.get("ip") {
        config.ip = ip
            .parse()
            .map_err(|_| CliError::Usage(format!("{}: --ip {ip}: not an IP address", cmd.path)))?;
    }
    config.ice = match m.get("ice") {
        None => IceMode::Auto,
        Some("full") => IceMode::Full,
        Some("lite") => IceMode::Lite,
        Some(other) => {
            return Err(CliError::Usage(format!(
                "{}: --ice {other}: full or lite",
                cmd.path
            )));
        }
    };
    let resolve = |flag: &str, v: &str| {
        v.to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| CliError::Usage(format!("{}: --{flag} {v}: not HOST:PORT", cmd.path)))
    };
    config.stun = m.get("stun").map(|v| resolve("stun", v)).transpose()?;
    if let Some(v) = m.get("turn") {
        // RFC 7065's URI: turn:host:port (UDP, the only transport here).
        let hostport = v.strip_prefix("turn:").unwrap_or(v);
        config.turn = Some(TurnServer {
            addr: resolve("turn", hostport)?,
            user: m.get("turn-user").unwrap_or("netlab").to_string(),
            pass: m.get("turn-pass").unwrap_or("netlab").to_string(),
        });
    }
    config.relay_only = m.on("relay-only");
    if config.relay_only && config.turn.is_none() {
        return Err(CliError::Usage(format!(
            "{}: --relay-only needs --turn",
            cmd.path
        )));
    }
    if config.ice == IceMode::Lite && (config.stun.is_some() || config.turn.is_some()) {
        return Err(CliError::Usage(format!(
            "{}: --ice lite gathers nothing: --stun and --turn need the full agent",
            cmd.path
        )));
    }
    Ok(config)
}

/// POSTs the offer, returns the answer and the session's URL (the `Location` of the 201,
/// where candidates are trickled): the signaling half of `connect`.
pub fn post_offer(
    url: &str,
    offer: &str,
    timeout: Duration,
) -> Result<(String, Option<Url>), CliError> {
    let parsed = Url::parse(url).map_err(|e| CliError::Usage(format!("{url}: {e}")))?;
    let mut req = Outgoing::new("POST", parsed.clone());
    let mut headers = Headers::new();
    headers.set("Content-Type", "application/sdp");
    req.headers = headers;
    req.body = offer.as_bytes().to_vec();
    let mut client = Client::new(Options {
        timeout,
        ..Options::default()
    });
    let resp = client
        .send(&req)
        .map_err(|e| CliError::Runtime(format!("signaling: POST {url}: {e}")))?;
    if resp.status != 201 && resp.status != 200 {
        return Err(CliError::Runtime(format!(
            "signaling: POST {url} answered {} {}: {}",
            resp.status,
            resp.reason,
            String::from_utf8_lossy(&resp.body).trim()
        )));
    }
    let session = resp
        .headers
        .get("Location")
        .and_then(|l| session_url(&parsed, l));
    let answer = String::from_utf8(resp.body)
        .map_err(|_| CliError::Runtime("signaling: the answer is not UTF-8".into()))?;
    Ok((answer, session))
}

/// The session's URL from a `Location`: absolute, or a path on the server of the offer.
fn session_url(offer_url: &Url, location: &str) -> Option<Url> {
    if location.starts_with('/') {
        let mut u = offer_url.clone();
        u.target = location.to_string();
        return Some(u);
    }
    Url::parse(location).ok()
}

/// Trickle ICE's signaling half (RFC 8840's sdpfrag), on its own thread while the channel
/// opens on the pairs already there:
/// - ours: each candidate the peer finds after the offer goes out at once, then
///   `a=end-of-candidates`;
/// - theirs: when the answer trickles too (`a=ice-options:trickle`, no
///   `a=end-of-candidates`), its candidates are fetched every `POLL` until their end.
///
/// Both over the signaling the SDP took ([`Via`]). Ends when both ends are known, the
/// session or room is gone, `stop` is set, or after `timeout`.
struct Trickling {
    via: Via,
    /// The fragment's head: our ice-ufrag and ice-pwd, the media section (RFC 8840).
    head: String,
    ours: Option<Receiver<Option<String>>>,
    theirs: Option<Trickle>,
    client: Client,
    /// The first PATCH went: later ones without news of ours wait `POLL` first.
    asked: bool,
}

/// How often an offerer with nothing to send asks for the answerer's candidates.
const POLL: Duration = Duration::from_millis(50);

/// Where trickled candidates travel: the way the offer went.
enum Via {
    /// WHIP-style (RFC 9725 §4.3): ours PATCHed to the session's URL, theirs handed back in
    /// the PATCH's response (200 with an sdpfrag; an empty fragment asks for them).
    Session(Url),
    /// A room of the relay: ours POSTed to `/rooms/R/candidates/offer`, theirs fetched from
    /// `/rooms/R/candidates/answer?from=N`, N the lines already had.
    Room { post: Url, poll: Url, had: usize },
}

impl Via {
    /// The room `room` of the server at `origin`, for the offerer's side.
    fn room(origin: &str, room: &str) -> Result<Via, CliError> {
        let base = origin.trim_end_matches('/');
        let url = |side: &str| {
            let u = format!("{base}/rooms/{room}/candidates/{side}");
            Url::parse(&u).map_err(|e| CliError::Usage(format!("{u}: {e}")))
        };
        Ok(Via::Room {
            post: url("offer")?,
            poll: url("answer")?,
            had: 0,
        })
    }
}

impl Trickling {
    fn new(via: Via, offer: &str, timeout: Duration) -> Trickling {
        let head: String = offer
            .lines()
            .filter(|l| l.starts_with("a=ice-ufrag:") || l.starts_with("a=ice-pwd:"))
            .map(|l| format!("{l}\r\n"))
            .collect::<String>()
            + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n";
        Trickling {
            via,
            head,
            ours: None,
            theirs: None,
            client: Client::new(Options {
                timeout,
                ..Options::default()
            }),
            asked: false,
        }
    }

    fn spawn(
        mut self,
        stop: Arc<AtomicBool>,
        timeout: Duration,
    ) -> Result<JoinHandle<()>, CliError> {
        std::thread::Builder::new()
            .name("webrtc-trickle".into())
            .spawn(move || {
                let _role = trace::default_role("client");
                let until = Instant::now() + timeout;
                while (self.ours.is_some() || self.theirs.is_some())
                    && !stop.load(Ordering::Relaxed)
                    && Instant::now() < until
                {
                    let lines = self.ours_found();
                    if lines.is_empty() && self.theirs.is_none() {
                        continue;
                    }
                    self.exchange(&lines);
                }
            })
            .map_err(|e| CliError::Runtime(format!("cannot start the trickle thread: {e}")))
    }

    /// Our candidates found within `POLL`, as fragment lines (none: the wait timed out).
    fn ours_found(&mut self) -> Vec<String> {
        let Some(rx) = &self.ours else {
            if std::mem::replace(&mut self.asked, true) {
                std::thread::sleep(POLL);
            }
            return Vec::new();
        };
        let first = match rx.recv_timeout(POLL) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) => return Vec::new(),
            Err(RecvTimeoutError::Disconnected) => {
                self.ours = None;
                return Vec::new();
            }
        };
        let found: Vec<Option<String>> = std::iter::once(first).chain(rx.try_iter()).collect();
        if found.contains(&None) {
            self.ours = None;
        }
        found
            .into_iter()
            .map(|c| match c {
                Some(c) => format!("a=candidate:{c}"),
                None => "a=end-of-candidates".to_string(),
            })
            .collect()
    }

    /// Our lines (maybe none) out, and the answerer's candidates in: one PATCH to a session
    /// (its 200 carries theirs), or a POST and a GET to a room.
    fn exchange(&mut self, lines: &[String]) {
        match &self.via {
            Via::Session(url) => {
                let url = url.clone();
                self.send("PATCH", url, lines);
            }
            Via::Room { post, poll, had } => {
                let (post, poll, had) = (post.clone(), poll.clone(), *had);
                if !lines.is_empty() {
                    self.send("POST", post, lines);
                }
                if self.theirs.is_some() {
                    let mut poll = poll;
                    poll.target = format!("{}?from={had}", poll.target);
                    self.send("GET", poll, &[]);
                }
            }
        }
    }

    /// One request: our lines as an sdpfrag (none: a GET, or a PATCH that only asks), and
    /// the answerer's candidates in a 200's body passed to the peer. A refusal is traced
    /// (the candidate is lost, the others serve).
    fn send(&mut self, method: &str, url: Url, lines: &[String]) {
        let target = url.target.clone();
        let mut req = Outgoing::new(method, url);
        if method != "GET" {
            req.headers
                .set("Content-Type", "application/trickle-ice-sdpfrag");
            let body: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
            req.body = format!("{}{body}", self.head).into_bytes();
        }
        for line in lines {
            trace::sent(Layer::Sdp, || {
                format!("{method} {target} (trickled): {line}")
            });
        }
        let resp = match self.client.send(&req) {
            Ok(resp) => resp,
            Err(e) => {
                trace::event(Layer::Sdp, || format!("{method} {target} failed: {e}"));
                return;
            }
        };
        if !lines.is_empty() || resp.status != 204 {
            trace::received(Layer::Sdp, || {
                let body = String::from_utf8_lossy(&resp.body);
                let first = if resp.status == 200 { "" } else { body.trim() };
                format!("{method} {target}: {} {} {first}", resp.status, resp.reason)
            });
        }
        match resp.status {
            // The session (or room) is gone: nothing more to send or to get.
            404 => {
                self.ours = None;
                self.theirs = None;
            }
            200 => self.theirs_found(&String::from_utf8_lossy(&resp.body), &target),
            _ => {}
        }
    }

    /// The answerer's candidates from a 200's sdpfrag, to the peer's agent.
    fn theirs_found(&mut self, frag: &str, target: &str) {
        let Some(theirs) = &self.theirs else {
            return;
        };
        let how = match self.via {
            Via::Session(_) => "in the response to PATCH",
            Via::Room { .. } => "through the room, GET",
        };
        let mut ended = false;
        let mut taken = 0;
        for line in frag.lines().map(str::trim) {
            let candidate = match line.strip_prefix("a=candidate:") {
                Some(c) => Some(c.to_string()),
                None if line == "a=end-of-candidates" => None,
                None => continue,
            };
            trace::received(Layer::Sdp, || {
                format!("{line} (the answerer's, trickled {how} {target})")
            });
            taken += 1;
            ended |= candidate.is_none();
            ended |= !theirs.send(candidate);
        }
        if let Via::Room { had, .. } = &mut self.via {
            *had += taken;
        }
        if ended {
            self.theirs = None;
        }
    }
}

/// The relay's half: POST the offer to /rooms/NAME/offer, then poll /rooms/NAME/answer
/// (200 with the SDP, 204 while no tab has answered) until `timeout`.
fn room_offer(
    origin: &str,
    room: &str,
    offer: &str,
    timeout: Duration,
) -> Result<String, CliError> {
    let base = origin.trim_end_matches('/');
    let url = |which: &str| format!("{base}/rooms/{room}/{which}");
    let parse = |u: &str| Url::parse(u).map_err(|e| CliError::Usage(format!("{u}: {e}")));
    let mut client = Client::new(Options {
        timeout,
        ..Options::default()
    });
    let mut req = Outgoing::new("POST", parse(&url("offer"))?);
    req.headers.set("Content-Type", "application/sdp");
    req.body = offer.as_bytes().to_vec();
    let resp = client
        .send(&req)
        .map_err(|e| CliError::Runtime(format!("signaling: POST {}: {e}", url("offer"))))?;
    if resp.status != 204 {
        return Err(CliError::Runtime(format!(
            "signaling: POST {} answered {} {}",
            url("offer"),
            resp.status,
            resp.reason
        )));
    }
    // On stderr: stdout carries only the messages received.
    eprintln!("offered in room {room:?}: open {base}/ in a browser and join it");
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        let resp = client
            .send(&Outgoing::new("GET", parse(&url("answer"))?))
            .map_err(|e| CliError::Runtime(format!("signaling: GET {}: {e}", url("answer"))))?;
        if resp.status == 200 {
            return String::from_utf8(resp.body)
                .map_err(|_| CliError::Runtime("signaling: the answer is not UTF-8".into()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(CliError::Runtime(format!(
        "signaling: no tab answered in room {room:?} within {} ms",
        timeout.as_millis()
    )))
}

/// What trickles after the offer and answer: our candidates (`ours`, when we gather after
/// the offer) and the answerer's (when its answer says more follow). `None`: nothing.
fn trickle_both_ways(
    via: Via,
    offer: &str,
    answer: &str,
    ours: Option<Receiver<Option<String>>>,
    peer: &Peer,
    timeout: Duration,
) -> Option<Trickling> {
    let theirs = sdp::parse(answer, sdp::Kind::Answer)
        .ok()
        .filter(|d| d.trickle && !d.end_of_candidates)
        .map(|_| peer.trickle());
    if ours.is_none() && theirs.is_none() {
        return None;
    }
    let mut t = Trickling::new(via, offer, timeout);
    t.ours = ours;
    t.theirs = theirs;
    Some(t)
}

fn connect(m: &Matches) -> Result<(), CliError> {
    let url = m.args.first().map(String::as_str).unwrap_or("");
    let timeout = m.timeout(&CONNECT, "timeout")?;
    let identity = Identity::generate().map_err(runtime)?;
    let trickle = trickle_flag(&CONNECT, m)?;
    let config = ice_config(
        &CONNECT,
        m,
        Config {
            ice_timeout: timeout,
            dtls_timeout: timeout,
            role: "client",
            trickle,
            ..Config::default()
        },
    )?;
    let mut offer = Peer::offer(&identity, config).map_err(runtime)?;
    let offer_sdp = offer.sdp.clone();
    let (answer, session) = match m.get("room") {
        Some(room) => (room_offer(url, room, &offer.sdp, timeout)?, None),
        None => post_offer(url, &offer.sdp, timeout)?,
    };
    let ours = offer.trickled.take();
    let mut peer = offer.accept(&answer).map_err(runtime)?;
    let stop = Arc::new(AtomicBool::new(false));
    let via = match (m.get("room"), session) {
        (Some(room), _) => Some(Via::room(url, room)?),
        (None, Some(session)) => Some(Via::Session(session)),
        (None, None) => None,
    };
    let trickling = match via {
        Some(via) => trickle_both_ways(via, &offer_sdp, &answer, ours, &peer, timeout)
            .map(|t| t.spawn(stop.clone(), timeout))
            .transpose()?,
        None => {
            if ours.is_some() {
                trace::event(Layer::Sdp, || {
                    "the answer came without a Location: candidates found later stay unsent".into()
                });
            }
            None
        }
    };
    let channel_type = ChannelType {
        unordered: m.on("unordered"),
        reliability: Reliability::Reliable,
    };
    let id = peer.open(m.get("label").unwrap_or("chat"), channel_type);
    let channel = peer.wait_open(timeout).map_err(runtime)?;
    trace::event(Layer::Dcep, || {
        format!("channel {:?} open on stream {}", channel.label, channel.id)
    });
    let messages = &m.args[1..];
    for text in messages {
        let message = if m.on("binary") {
            Message::Binary(text.as_bytes().to_vec())
        } else {
            Message::Text(text.clone())
        };
        peer.send(id, message).map_err(runtime)?;
    }
    // Print what comes back: as many messages as were sent (an echo), each on its own line.
    let until = Instant::now() + timeout;
    let mut got = 0;
    while got < messages.len() {
        let left = until.saturating_duration_since(Instant::now());
        match peer.recv(left) {
            Some(Event::Message(_, Message::Text(t))) => {
                cli::say(format_args!("{t}"));
                got += 1;
            }
            Some(Event::Message(_, Message::Binary(b))) => {
                cli::say(format_args!("{}", String::from_utf8_lossy(&b)));
                got += 1;
            }
            Some(Event::Ended(e)) => {
                return Err(CliError::Runtime(match e {
                    Some(e) => e.to_string(),
                    None => "the peer closed the session".into(),
                }));
            }
            Some(_) => {}
            None => {
                return Err(CliError::Runtime(format!(
                    "data channel: {got} of {} messages came back within {} ms",
                    messages.len(),
                    timeout.as_millis()
                )));
            }
        }
    }
    peer.close();
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = trickling {
        let _ = t.join();
    }
    Ok(())
}
