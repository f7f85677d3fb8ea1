//! Signaling: how offer and answer travel. WebRTC leaves it to the application (RFC 8825
//! §3); netlab uses the shape of WHIP (RFC 9725 §4.2): the offer is the body of
//! `POST /webrtc` (`Content-Type: application/sdp`), the answer comes back in a `201 Created`
//! with a `Location`. Candidates found after the SDP (trickle ICE, RFC 8838) are PATCHed to
//! that `Location` as RFC 8840 sdpfrags, and ours come back in the PATCH's response.
//!
//! The same server relays offers and answers between two browser tabs (a room by name), so
//! a student can watch two browsers connect to each other while this server only signals;
//! a room keeps the candidates either side trickles after its SDP, for the other to fetch:
//!
//! ```text
//!  tab A: POST /rooms/R/offer  (SDP)     tab B: GET /rooms/R/offer  → 200 SDP | 204 not yet
//!  tab A: GET /rooms/R/answer → 204…200  tab B: POST /rooms/R/answer (SDP)
//!  A: POST /rooms/R/candidates/offer     B: GET /rooms/R/candidates/offer?from=N → 200 | 204
//!  A: GET /rooms/R/candidates/answer?from=N → 200 | 204   B: POST /rooms/R/candidates/answer
//! ```
//!
//! Handlers only ([`crate::http::handler`]): the HTTP/1.1 server of [`crate::http1::server`]
//! runs them. What a data channel does once open is the [`Session`] function given here.

use super::dtls::Identity;
use super::ice::candidate::Candidate;
use super::peer::{Config, Peer, PeerError, Trickle};
use crate::http::message::{Request, Response};
use crate::http::router::Router;
use crate::l4::share::{Permit, Shares};
use crate::trace::{self, Layer};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What runs a peer once answered, in a thread of its own (the echo, a lab's check …).
pub type Session = Arc<dyn Fn(Peer) + Send + Sync>;

/// The page a student opens: a chat with the Rust echo peer, the Rust side's trace, and
/// the two-tab room.
pub const PAGE: &str = include_str!("page.html");

/// Sessions at once; more offers get 503.
pub const MAX_SESSIONS: usize = 64;

/// Sessions one source address may hold at once, a quarter of [`MAX_SESSIONS`]: an offer
/// costs nothing to send, and a session that never sees an ICE check holds its place until
/// it expires (~10 s), so without a share one address could lock everyone else out.
pub const PER_SOURCE: usize = MAX_SESSIONS / 4;

/// The largest SDP accepted (a data-channel offer is about 600 bytes).
const MAX_SDP: usize = 64 * 1024;

/// Trace lines kept for the page (`GET /trace?from=N`), the newest last.
#[derive(Clone, Default)]
pub struct TraceLog {
    lines: Arc<Mutex<(u64, Vec<String>)>>,
    /// Also write each line to stderr (the user asked for `--trace`).
    pub echo: bool,
}

const KEEP: usize = 2000;

impl Write for TraceLog {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.echo {
            std::io::stderr().lock().write_all(b)?;
        }
        if let Ok(mut g) = self.lines.lock() {
            for line in String::from_utf8_lossy(b).lines() {
                g.0 += 1;
                g.1.push(line.to_string());
            }
            let len = g.1.len();
            if len > KEEP {
                g.1.drain(..len - KEEP);
            }
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl TraceLog {
    /// Lines numbered from `from` on (1-based), and the number of the last line.
    pub fn since(&self, from: u64) -> (u64, Vec<String>) {
        let Ok(g) = self.lines.lock() else {
            return (0, Vec::new());
        };
        let (last, lines) = (&g.0, &g.1);
        let first = last + 1 - lines.len() as u64;
        let skip = from.saturating_sub(first) as usize;
        (*last, lines.iter().skip(skip).cloned().collect())
    }
}

/// Rooms of the two-tab relay at once, and one source address's share of them: a room
/// lasts until its answer is collected, so without a share one address could hold every
/// room for good.
pub const MAX_ROOMS: usize = 100;
pub const ROOMS_PER_SOURCE: usize = MAX_ROOMS / 4;

/// Rooms of the two-tab relay: name → room, and the places they hold.
#[derive(Clone)]
struct Rooms {
    map: Arc<Mutex<HashMap<String, Room>>>,
    places: Shares,
}

impl Default for Rooms {
    fn default() -> Rooms {
        Rooms {
            map: Arc::default(),
            places: Shares::new(MAX_ROOMS, ROOMS_PER_SOURCE),
        }
    }
}

/// One room: the offer, the answer once posted, the place its offer's poster holds, and the
/// candidates each side trickles after its SDP.
struct Room {
    offer: Option<String>,
    answer: Option<String>,
    by: IpAddr,
    place: Permit,
    /// The offerer's trickled candidates (`[0]`) and the answerer's (`[1]`).
    trickled: [Trickled; 2],
    /// When the answer was collected, if the room stays for the candidates after it.
    collected: Option<Instant>,
}

impl Room {
    fn new(offer: String, by: IpAddr, place: Permit) -> Room {
        Room {
            offer: Some(offer),
            answer: None,
            by,
            place,
            trickled: Default::default(),
            collected: None,
        }
    }

    /// Either side said it trickles (RFC 8838 §5.1, `a=ice-options:trickle`): its
    /// candidates may still come after the answer is collected.
    fn trickles(&self) -> bool {
        [&self.offer, &self.answer].iter().any(|sdp| {
            sdp.as_deref()
                .is_some_and(|s| s.contains("a=ice-options:trickle"))
        })
    }

    /// Its work is done: the answer collected, and each side has read the other's end of
    /// candidates (or a trickling room has waited [`LINGER`] for them).
    fn done(&self, now: Instant) -> bool {
        match self.collected {
            None => false,
            Some(at) => {
                now.duration_since(at) >= LINGER || self.trickled.iter().all(|t| t.end_read)
            }
        }
    }
}

/// How long a trickling room stays after its answer is collected, at most, for the
/// candidates that follow: both sides' ICE has given up long before.
const LINGER: Duration = Duration::from_secs(30);

/// The candidate lines one side of a room trickled (`a=candidate:…`, `a=end-of-candidates`),
/// in order.
#[derive(Default)]
struct Trickled {
    lines: Vec<String>,
    bytes: usize,
    ended: bool,
    /// The other side has fetched the end.
    end_read: bool,
}

/// The routes of `netlab webrtc serve`.
pub fn router(
    identity: Identity,
    config: Config,
    session: Session,
    log: Option<TraceLog>,
) -> Router {
    let next = Arc::new(AtomicU64::new(1));
    let live = Shares::new(MAX_SESSIONS, PER_SOURCE);
    let sessions = Sessions::default();
    let trickles = sessions.clone();
    let rooms = Rooms::default();
    let (r1, r2, r3, r4) = (rooms.clone(), rooms.clone(), rooms.clone(), rooms);
    let mut router = Router::new()
        .get("/", |_: &Request| {
            Response::with_body(200, "text/html; charset=utf-8", PAGE)
        })
        .post("/webrtc", move |req: &Request| {
            offer(req, &identity, &config, &session, &next, &live, &sessions)
        })
        .route("PATCH", "/webrtc/{id}", move |req: &Request| {
            trickle(req, &trickles)
        })
        .post("/rooms/{name}/{which}", move |req: &Request| {
            room_post(req, &r1)
        })
        .get("/rooms/{name}/{which}", move |req: &Request| {
            room_get(req, &r2)
        })
        .post("/rooms/{name}/candidates/{side}", move |req: &Request| {
            room_trickle(req, &r3)
        })
        .get("/rooms/{name}/candidates/{side}", move |req: &Request| {
            room_candidates(req, &r4)
        });
    if let Some(log) = log {
        router = router.get("/trace", move |req: &Request| {
            let from = req
                .query()
                .and_then(|q| q.strip_prefix("from="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let (last, lines) = log.since(from);
            let body = format!("{last}\n{}", lines.join("\n"));
            Response::with_body(200, "text/plain; charset=utf-8", body)
                .header("Cache-Control", "no-store")
        });
    }
    router
}

/// The running sessions' trickle handles, by the number in their `Location`.
type Sessions = Arc<Mutex<HashMap<u64, Handle>>>;

/// What a PATCH reaches of a session: where the offerer's candidates go, and, when our
/// answer trickles, the candidates our peer found since (handed back in the PATCH's
/// response, RFC 9725 §4.3: the offerer polls for them).
#[derive(Clone)]
struct Handle {
    theirs: Trickle,
    ours: Option<Ours>,
    /// The offerer signalled its end of candidates: more get 400. A lock, held from the check
    /// to the hand-over, so that two PATCHes at once cannot pass a candidate after an end.
    ended: Arc<Mutex<bool>>,
}

/// Our candidates found after the answer, waiting for the offerer's next PATCH, and the
/// head of the fragment that carries them (our ice-ufrag, ice-pwd, the mid: RFC 8840).
#[derive(Clone)]
struct Ours {
    head: String,
    found: Arc<Mutex<Receiver<Option<String>>>>,
}

impl Ours {
    fn new(answer: &str, found: Receiver<Option<String>>) -> Ours {
        let mut head: String = answer
            .lines()
            .filter(|l| l.starts_with("a=ice-ufrag:") || l.starts_with("a=ice-pwd:"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        let mid = answer.lines().find(|l| l.starts_with("a=mid:"));
        head.push_str("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
        head.push_str(&format!("{}\r\n", mid.unwrap_or("a=mid:0")));
        Ours {
            head,
            found: Arc::new(Mutex::new(found)),
        }
    }

    /// The candidates found since the last PATCH, as an sdpfrag; `None` when there are none.
    fn fragment(&self) -> Option<String> {
        let found = self.found.lock().ok()?;
        let lines: Vec<String> = found.try_iter().map(fragment_line).collect();
        if lines.is_empty() {
            return None;
        }
        Some(format!("{}{}", self.head, lines.concat()))
    }
}

/// The largest trickle body: a few candidates (RFC 8840 fragments are small).
const MAX_FRAGMENT: usize = 16 * 1024;

/// `415` for a body that is no sdpfrag, `413` for one too large to be a few candidates.
fn not_a_fragment(req: &Request) -> Option<Response> {
    if req.media_type().as_deref() != Some("application/trickle-ice-sdpfrag") {
        return Some(Response::text(
            415,
            "candidates are trickled as Content-Type: application/trickle-ice-sdpfrag (RFC 8840)",
        ));
    }
    if req.body.len() > MAX_FRAGMENT {
        return Some(Response::text(
            413,
            "a trickle fragment of more than 16 KiB",
        ));
    }
    None
}

/// A candidate (`Some`) or the end (`None`) as its sdpfrag line.
fn fragment_line(c: Option<String>) -> String {
    match c {
        Some(c) => format!("a=candidate:{c}\r\n"),
        None => "a=end-of-candidates\r\n".to_string(),
    }
}

/// `PATCH /webrtc/<n>` with `application/trickle-ice-sdpfrag` (RFC 8840, RFC 9725 §4.3):
/// candidates the offerer found after its offer, and `a=end-of-candidates`, passed to the
/// session's ICE agent. `204` when taken, or `200` with our own candidates found since when
/// our answer trickles; a candidate no agent could use, or one after the offerer's
/// `a=end-of-candidates`, gets `400` with the reason (nothing of that fragment is taken); an
/// unknown session `404`.
fn trickle(req: &Request, sessions: &Sessions) -> Response {
    if let Some(refused) = not_a_fragment(req) {
        return refused;
    }
    let id = req
        .path()
        .rsplit('/')
        .next()
        .and_then(|n| n.parse::<u64>().ok());
    let handle = id.and_then(|id| sessions.lock().ok()?.get(&id).cloned());
    let Some(handle) = handle else {
        return Response::text(404, "no such WebRTC session (ended, or never started)");
    };
    let text = String::from_utf8_lossy(&req.body);
    let Ok(mut ended) = handle.ended.lock() else {
        return Response::text(500, "the WebRTC session's state is unusable");
    };
    let lines = match fragment_lines(&text, *ended) {
        Ok(lines) => lines,
        Err(refused) => return refused,
    };
    *ended |= lines.contains(&None);
    trace::received(Layer::Sdp, || {
        format!("PATCH trickle fragment: {} candidate line(s)", lines.len())
    });
    if !lines.into_iter().all(|l| handle.theirs.send(l)) {
        return Response::text(404, "the WebRTC session has ended");
    }
    drop(ended);
    // Our own candidates found since, if our answer trickles.
    if let Some(frag) = handle.ours.as_ref().and_then(Ours::fragment) {
        trace::sent(Layer::Sdp, || {
            // Less the head's three: a=ice-ufrag, a=ice-pwd, a=mid.
            let n = frag
                .lines()
                .filter(|l| l.starts_with("a="))
                .count()
                .saturating_sub(3);
            format!("200 to the PATCH: {n} line(s) of our own trickled candidates")
        });
        return Response::with_body(200, "application/trickle-ice-sdpfrag", frag)
            .header("Access-Control-Allow-Origin", "*");
    }
    Response::new(204).header("Access-Control-Allow-Origin", "*")
}

/// The candidates (`Some`) and ends (`None`) of an sdpfrag, in order; or the `400` that
/// refuses the whole fragment: a candidate no agent could use, or one after the end the
/// offerer signalled (`ended`: in an earlier PATCH), since it said no more would come.
fn fragment_lines(text: &str, mut ended: bool) -> Result<Vec<Option<String>>, Response> {
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim) {
        if line == "a=end-of-candidates" {
            ended = true;
            lines.push(None);
        }
        let Some(c) = line.strip_prefix("a=candidate:") else {
            continue;
        };
        if let Some(why) = refusal(c, ended) {
            trace::received(Layer::Sdp, || {
                format!("trickled candidate refused: {why}: 400")
            });
            return Err(Response::text(400, &format!("a=candidate:{c}: {why}")));
        }
        lines.push(Some(c.to_string()));
    }
    Ok(lines)
}

/// Why a trickled candidate is refused, if it is.
fn refusal(candidate: &str, ended: bool) -> Option<String> {
    match Candidate::parse(candidate) {
        Err(e) => Some(e.to_string()),
        Ok(_) if ended => {
            Some("after a=end-of-candidates: the offerer said no more would come (RFC 8838)".into())
        }
        Ok(_) => None,
    }
}

/// The session has ended: trickles to it now get 404.
fn forget(sessions: &Sessions, n: u64) {
    if let Ok(mut map) = sessions.lock() {
        map.remove(&n);
    }
}

fn is_sdp(req: &Request) -> bool {
    req.media_type().as_deref() == Some("application/sdp")
}

/// `POST /webrtc`: an offer in, `201 Created` and the answer out (RFC 9725 §4.2); a bad
/// offer gets `400` naming what is wrong; a wrong media type `415`.
fn offer(
    req: &Request,
    identity: &Identity,
    config: &Config,
    session: &Session,
    next: &AtomicU64,
    live: &Shares,
    sessions: &Sessions,
) -> Response {
    if !is_sdp(req) {
        return Response::text(
            415,
            "the offer must be sent as Content-Type: application/sdp (RFC 9725 §4.2)",
        );
    }
    if req.body.len() > MAX_SDP {
        return Response::text(413, "an SDP offer of more than 64 KiB");
    }
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return Response::text(400, "the offer is not UTF-8 (RFC 8866 §5)");
    };
    // A session holds a UDP socket and two threads: a small server takes so many at once,
    // and each source address a share of them. The place is checked and taken at once, so
    // two offers cannot both get the last one; the permit gives it back however this ends
    // (a refused offer, a failed thread, the session's end). A request without a peer (a
    // test's) counts as one unknown source.
    let source = req
        .peer
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip());
    let count = match live.try_take(source) {
        Ok(permit) => permit,
        Err(why) => {
            trace::event(Layer::Sdp, || {
                format!("offer from {source} refused: {why}: 503 with Retry-After")
            });
            return Response::text(
                503,
                &format!("{why}: no WebRTC session for this offer now; try again later"),
            )
            .header("Retry-After", "5");
        }
    };
    let n = next.fetch_add(1, Ordering::Relaxed);
    match Peer::answer(text, identity, config.clone()) {
        Ok((mut peer, answer)) => {
            let session = session.clone();
            let handle = Handle {
                theirs: peer.trickle(),
                ours: peer.take_gathered().map(|rx| Ours::new(&answer, rx)),
                ended: Arc::default(),
            };
            if let Ok(mut map) = sessions.lock() {
                map.insert(n, handle);
            }
            let done = sessions.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("webrtc-session-{n}"))
                .spawn(move || {
                    let _count = count;
                    session(peer);
                    forget(&done, n);
                });
            if spawned.is_err() {
                forget(sessions, n);
                return Response::text(503, "cannot start a session thread");
            }
            Response::with_body(201, "application/sdp", answer)
                .header("Location", &format!("/webrtc/{n}"))
                .header("Access-Control-Allow-Origin", "*")
        }
        Err(e @ PeerError::Sdp(_)) => {
            trace::event(Layer::Sdp, || format!("offer rejected: {e}"));
            Response::text(400, &e.to_string())
        }
        // The offer was fine; this server could not take it (no socket, no thread).
        Err(e) => Response::text(503, &e.to_string()),
    }
}

/// `/rooms/<name>/<offer|answer>` → (name, which), or a 404 saying what exists.
fn room_path(req: &Request) -> Result<(String, bool), Response> {
    let parts: Vec<&str> = req.path().trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["rooms", name, "offer"] if !name.is_empty() && name.len() <= 64 => {
            Ok((name.to_string(), true))
        }
        ["rooms", name, "answer"] if !name.is_empty() && name.len() <= 64 => {
            Ok((name.to_string(), false))
        }
        _ => Err(Response::text(
            404,
            "use /rooms/<name>/offer or /rooms/<name>/answer",
        )),
    }
}

/// A tab posts its offer (a new room, replacing an old one) or its answer.
fn room_post(req: &Request, rooms: &Rooms) -> Response {
    let (name, is_offer) = match room_path(req) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !is_sdp(req) {
        return Response::text(415, "send SDP as Content-Type: application/sdp");
    }
    if req.body.len() > MAX_SDP {
        return Response::text(413, "an SDP of more than 64 KiB");
    }
    let Ok(text) = String::from_utf8(req.body.clone()) else {
        return Response::text(400, "the SDP is not UTF-8");
    };
    let Ok(mut map) = rooms.map.lock() else {
        return Response::text(500, "rooms unavailable");
    };
    sweep(&mut map);
    // A new offer takes a room's place (a small server: 100 rooms, 25 per address); one
    // that replaces the poster's own room keeps its place.
    let source = req
        .peer
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip());
    let place = match map.remove(&name) {
        Some(own) if is_offer && own.by == source => Some(own.place),
        Some(other) => {
            map.insert(name.clone(), other);
            None
        }
        None => None,
    };
    let place = match place {
        Some(p) => Some(p),
        None if !is_offer => None,
        None => match rooms.places.try_take(source) {
            Ok(p) => Some(p),
            Err(why) => {
                trace::event(Layer::Sdp, || {
                    format!("room {name:?}: offer from {source} refused: {why}: 503")
                });
                return Response::text(503, &format!("{why}: no room for this offer now"))
                    .header("Retry-After", "5");
            }
        },
    };
    trace::event(Layer::Sdp, || {
        format!(
            "room {name:?}: {} relayed ({} bytes)",
            if is_offer { "offer" } else { "answer" },
            text.len()
        )
    });
    match place {
        Some(place) => {
            map.insert(name, Room::new(text, source, place));
        }
        None => match map.get_mut(&name) {
            Some(room) if room.offer.is_some() => room.answer = Some(text),
            _ => return Response::text(409, "no offer in this room to answer"),
        },
    }
    Response::new(204)
}

/// A tab polls for the other's SDP: 200 with it, or 204 while there is none yet.
fn room_get(req: &Request, rooms: &Rooms) -> Response {
    let (name, is_offer) = match room_path(req) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(mut rooms) = rooms.map.lock() else {
        return Response::text(500, "rooms unavailable");
    };
    sweep(&mut rooms);
    let found = rooms.get(&name).and_then(|r| {
        if is_offer {
            r.offer.clone()
        } else {
            r.answer.clone()
        }
    });
    match found {
        Some(sdp) => {
            // Once the answer is collected the room has done its work, unless candidates
            // are still to trickle through it.
            if !is_offer {
                collected(&mut rooms, &name);
            }
            Response::with_body(200, "application/sdp", sdp).header("Cache-Control", "no-store")
        }
        None => Response::new(204).header("Cache-Control", "no-store"),
    }
}

/// The answer of room `name` was collected: a room without trickling goes at once (its
/// place back to its offerer), a trickling one once its candidates are through.
fn collected(rooms: &mut HashMap<String, Room>, name: &str) {
    let Some(room) = rooms.get_mut(name) else {
        return;
    };
    if !room.trickles() {
        rooms.remove(name);
        return;
    }
    room.collected.get_or_insert_with(Instant::now);
    if room.done(Instant::now()) {
        rooms.remove(name);
    }
}

/// Rooms whose work is done go (checked whenever the rooms are used: no timer thread).
fn sweep(rooms: &mut HashMap<String, Room>) {
    let now = Instant::now();
    rooms.retain(|_, r| !r.done(now));
}

/// `/rooms/<name>/candidates/<offer|answer>` → (name, the side's index: 0 the offerer's, 1
/// the answerer's), or a 404 saying what exists.
fn candidates_path(req: &Request) -> Result<(String, usize), Response> {
    let parts: Vec<&str> = req.path().trim_matches('/').split('/').collect();
    let side = match parts.as_slice() {
        ["rooms", name, "candidates", side] if !name.is_empty() && name.len() <= 64 => {
            match *side {
                "offer" => 0,
                "answer" => 1,
                _ => usize::MAX,
            }
        }
        _ => usize::MAX,
    };
    match side {
        0 | 1 => Ok((parts[1].to_string(), side)),
        _ => Err(Response::text(
            404,
            "use /rooms/<name>/candidates/offer or /rooms/<name>/candidates/answer",
        )),
    }
}

const SIDES: [&str; 2] = ["offerer", "answerer"];

/// `POST /rooms/<name>/candidates/<offer|answer>` with an sdpfrag (RFC 8840): the candidates
/// that side found after its SDP, and its `a=end-of-candidates`, kept in order for the other
/// side to fetch. `204` when taken; `400` (nothing of the fragment taken) for a candidate no
/// agent could use or one after that side's end, as a session's PATCH gets; `404` for a
/// room without an offer; `413` past a side's 64 KiB of candidates; `415` for another type.
fn room_trickle(req: &Request, rooms: &Rooms) -> Response {
    let (name, side) = match candidates_path(req) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(refused) = not_a_fragment(req) {
        return refused;
    }
    in_room(rooms, &name, |room| {
        let t = &mut room.trickled[side];
        take_fragment(t, &req.body, &name, side)
    })
}

/// Runs `f` on room `name`, which goes once its work is done; `404` for no such room.
fn in_room(rooms: &Rooms, name: &str, f: impl FnOnce(&mut Room) -> Response) -> Response {
    let Ok(mut map) = rooms.map.lock() else {
        return Response::text(500, "rooms unavailable");
    };
    sweep(&mut map);
    let Some(room) = map.get_mut(name) else {
        return Response::text(404, "no such room (no offer in it, or its work is done)");
    };
    let resp = f(room);
    if room.done(Instant::now()) {
        map.remove(name);
    }
    resp
}

/// A side's fragment, its lines kept after the ones before; or why it is refused.
fn take_fragment(t: &mut Trickled, body: &[u8], name: &str, side: usize) -> Response {
    let lines = match fragment_lines(&String::from_utf8_lossy(body), t.ended) {
        Ok(lines) => lines,
        Err(refused) => return refused,
    };
    let lines: Vec<String> = lines.into_iter().map(fragment_line).collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    if t.bytes + bytes > MAX_SDP {
        return Response::text(413, "this side has trickled 64 KiB of candidates already");
    }
    trace::event(Layer::Sdp, || {
        format!(
            "room {name:?}: {} trickled line(s) from the {} kept for the other side",
            lines.len(),
            SIDES[side]
        )
    });
    t.ended |= lines.iter().any(|l| l.starts_with("a=end-of-candidates"));
    t.bytes += bytes;
    t.lines.extend(lines);
    Response::new(204)
}

/// `GET /rooms/<name>/candidates/<offer|answer>?from=N`: that side's candidate lines after
/// its N-th (the asker counts the lines it has), `200` with them as an sdpfrag, `204` when
/// there are none yet; `404` for an unknown room.
fn room_candidates(req: &Request, rooms: &Rooms) -> Response {
    let (name, side) = match candidates_path(req) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let from: usize = req
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("from=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    in_room(rooms, &name, |room| {
        let t = &mut room.trickled[side];
        let news: String = t.lines.iter().skip(from).map(String::as_str).collect();
        if news.is_empty() {
            return Response::new(204).header("Cache-Control", "no-store");
        }
        t.end_read |= t.ended;
        Response::with_body(200, "application/trickle-ice-sdpfrag", news)
            .header("Cache-Control", "no-store")
    })
}

/// The session of `netlab webrtc serve`: every channel echoes each message unchanged (text
/// stays text, binary stays binary), until the peer ends the session.
pub fn echo(mut peer: Peer) {
    use super::peer::Event;
    loop {
        match peer.recv(std::time::Duration::from_secs(3600)) {
            Some(Event::Message(id, m)) => {
                // A message over the other side's a=max-message-size is refused (and
                // traced); any other error means the association loop has stopped, and
                // its Ended event follows.
                let _ = peer.send(id, m);
            }
            Some(Event::Ended(_)) => break,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, content_type: Option<&str>, body: &str) -> Request {
        let mut r = Request::new(method, path);
        if let Some(ct) = content_type {
            r.headers.set("Content-Type", ct);
        }
        r.body = body.as_bytes().to_vec();
        r
    }

    #[test]
    fn a_source_gets_its_share_of_sessions_and_a_refused_or_bad_offer_gives_its_place_back() {
        let identity = Identity::generate().unwrap();
        let config = Config::default();
        let session: Session = Arc::new(|_| {});
        let next = AtomicU64::new(0);
        let sdp = Some("application/sdp");
        let from = |a: &str| {
            let mut r = req("POST", "/webrtc", sdp, "v=0");
            r.peer = Some(format!("{a}:5000").parse().unwrap());
            r
        };
        let live = Shares::new(2, 1);
        let held = live.try_take("127.0.0.2".parse().unwrap()).unwrap();
        // The flooding source holds its share: 503, with the reason, and nothing taken.
        let r = offer(
            &from("127.0.0.2"),
            &identity,
            &config,
            &session,
            &next,
            &live,
            &Sessions::default(),
        );
        assert_eq!(r.status, 503);
        assert_eq!(r.headers.get("retry-after"), Some("5"));
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(
            body.contains("source 127.0.0.2 holds 1 of 2 places"),
            "{body}"
        );
        assert_eq!(live.taken(), 1);
        // Another source is not refused: its bad offer takes the last place for a moment
        // and gives it back.
        let r = offer(
            &from("127.0.0.3"),
            &identity,
            &config,
            &session,
            &next,
            &live,
            &Sessions::default(),
        );
        assert_eq!(r.status, 400);
        assert_eq!(live.taken(), 1);
        drop(held);
        assert_eq!(live.taken(), 0);
    }

    #[test]
    fn trickled_candidates_reach_the_session_and_impossible_ones_get_400() {
        let sessions = Sessions::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = Handle {
            theirs: Trickle::from_sender(tx),
            ours: None,
            ended: Arc::default(),
        };
        sessions.lock().unwrap().insert(7, handle);
        let frag = Some("application/trickle-ice-sdpfrag");
        let body = "a=ice-ufrag:abcd\r\na=ice-pwd:x\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n";
        let r = trickle(&req("PATCH", "/webrtc/7", frag, body), &sessions);
        assert_eq!(r.status, 204);
        assert_eq!(
            rx.try_recv().unwrap().as_deref(),
            Some("1 1 udp 2130706431 127.0.0.1 5000 typ host")
        );
        assert_eq!(rx.try_recv().unwrap(), None);
        let bad = "a=candidate:1 1 udp 2130706431 127.0.0.1 0 typ host\r\n";
        let r = trickle(&req("PATCH", "/webrtc/7", frag, bad), &sessions);
        assert_eq!(r.status, 400);
        assert!(String::from_utf8_lossy(&r.body).contains("port 0"));
        assert!(
            rx.try_recv().is_err(),
            "nothing of a refused fragment is taken"
        );
        // The first PATCH ended the candidates: a good one after that is refused too, and an
        // empty fragment (asking for ours) is still fine.
        let late = "a=candidate:2 1 udp 2130706431 127.0.0.1 5001 typ host\r\n";
        let r = trickle(&req("PATCH", "/webrtc/7", frag, late), &sessions);
        assert_eq!(r.status, 400);
        assert!(String::from_utf8_lossy(&r.body).contains("after a=end-of-candidates"));
        assert!(rx.try_recv().is_err());
        let r = trickle(&req("PATCH", "/webrtc/7", frag, ""), &sessions);
        assert_eq!(r.status, 204);
        // In one fragment, a candidate after its own end is refused as well.
        let (tx2, rx2) = std::sync::mpsc::channel();
        let handle = Handle {
            theirs: Trickle::from_sender(tx2),
            ours: None,
            ended: Arc::default(),
        };
        sessions.lock().unwrap().insert(9, handle);
        let r = trickle(
            &req(
                "PATCH",
                "/webrtc/9",
                frag,
                &format!("a=end-of-candidates\r\n{late}"),
            ),
            &sessions,
        );
        assert_eq!(r.status, 400);
        assert!(rx2.try_recv().is_err());
        assert_eq!(
            trickle(&req("PATCH", "/webrtc/8", frag, body), &sessions).status,
            404
        );
        assert_eq!(
            trickle(
                &req("PATCH", "/webrtc/7", Some("application/sdp"), body),
                &sessions
            )
            .status,
            415
        );
    }

    #[test]
    fn our_trickled_candidates_go_back_in_the_patch_response() {
        let sessions = Sessions::default();
        let (tx, _rx) = std::sync::mpsc::channel();
        let (ours_tx, ours_rx) = std::sync::mpsc::channel();
        let answer = "v=0\r\na=mid:0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n";
        let handle = Handle {
            theirs: Trickle::from_sender(tx),
            ours: Some(Ours::new(answer, ours_rx)),
            ended: Arc::default(),
        };
        sessions.lock().unwrap().insert(3, handle);
        let frag = Some("application/trickle-ice-sdpfrag");
        // Nothing found yet: 204.
        let r = trickle(&req("PATCH", "/webrtc/3", frag, ""), &sessions);
        assert_eq!(r.status, 204);
        ours_tx
            .send(Some("1 1 udp 16777215 127.0.0.1 6000 typ relay".into()))
            .unwrap();
        ours_tx.send(None).unwrap();
        let r = trickle(&req("PATCH", "/webrtc/3", frag, ""), &sessions);
        assert_eq!(r.status, 200);
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\na=candidate:1 1 udp 16777215 127.0.0.1 6000 typ relay\r\na=end-of-candidates\r\n"
        );
        // Each candidate goes back once.
        let r = trickle(&req("PATCH", "/webrtc/3", frag, ""), &sessions);
        assert_eq!(r.status, 204);
    }

    #[test]
    fn a_room_relays_one_offer_and_one_answer() {
        let rooms = Rooms::default();
        let sdp = Some("application/sdp");
        assert_eq!(
            room_get(&req("GET", "/rooms/a/offer", None, ""), &rooms).status,
            204
        );
        assert_eq!(
            room_post(&req("POST", "/rooms/a/answer", sdp, "v=0"), &rooms).status,
            409,
            "no offer yet"
        );
        assert_eq!(
            room_post(&req("POST", "/rooms/a/offer", sdp, "v=0 offer"), &rooms).status,
            204
        );
        let got = room_get(&req("GET", "/rooms/a/offer", None, ""), &rooms);
        assert_eq!(
            (got.status, got.body.as_slice()),
            (200, b"v=0 offer".as_slice())
        );
        assert_eq!(
            room_get(&req("GET", "/rooms/a/answer", None, ""), &rooms).status,
            204
        );
        assert_eq!(
            room_post(&req("POST", "/rooms/a/answer", sdp, "v=0 answer"), &rooms).status,
            204
        );
        let got = room_get(&req("GET", "/rooms/a/answer", None, ""), &rooms);
        assert_eq!(
            (got.status, got.body.as_slice()),
            (200, b"v=0 answer".as_slice())
        );
        // Collected: the room is gone.
        assert_eq!(
            room_get(&req("GET", "/rooms/a/offer", None, ""), &rooms).status,
            204
        );
    }

    #[test]
    fn a_room_relays_trickled_candidates_in_order_from_a_line_on() {
        let rooms = Rooms::default();
        let sdp = Some("application/sdp");
        let frag = Some("application/trickle-ice-sdpfrag");
        let cand = |n: u16| {
            format!(
                "a=candidate:{n} 1 udp 1694498815 203.0.113.10 {n} typ srflx raddr 10.0.1.2 rport 5000\r\n"
            )
        };
        let post = |side: &str, body: &str| {
            room_trickle(
                &req("POST", &format!("/rooms/t/candidates/{side}"), frag, body),
                &rooms,
            )
        };
        let get = |side: &str, from: usize| {
            let r = room_candidates(
                &req(
                    "GET",
                    &format!("/rooms/t/candidates/{side}?from={from}"),
                    None,
                    "",
                ),
                &rooms,
            );
            (r.status, String::from_utf8_lossy(&r.body).into_owned())
        };
        assert_eq!(post("offer", &cand(4000)).status, 404, "no room yet");
        assert_eq!(get("offer", 0).0, 404);
        let offer = "v=0\r\na=ice-options:trickle\r\n";
        assert_eq!(
            room_post(&req("POST", "/rooms/t/offer", sdp, offer), &rooms).status,
            204
        );
        assert_eq!(get("offer", 0).0, 204, "none yet");
        assert_eq!(post("offer", &cand(4000)).status, 204);
        assert_eq!(
            post(
                "offer",
                &format!("a=ice-ufrag:x\r\n{}a=end-of-candidates\r\n", cand(4001))
            )
            .status,
            204
        );
        assert_eq!(
            get("offer", 0),
            (
                200,
                format!("{}{}a=end-of-candidates\r\n", cand(4000), cand(4001))
            )
        );
        assert_eq!(
            get("offer", 1),
            (200, format!("{}a=end-of-candidates\r\n", cand(4001)))
        );
        assert_eq!(get("offer", 3).0, 204, "nothing after the third line");
        // After its end, and an impossible one: 400, nothing taken.
        let late = post("offer", &cand(4002));
        assert_eq!(late.status, 400);
        assert!(String::from_utf8_lossy(&late.body).contains("after a=end-of-candidates"));
        let bad = "a=candidate:1 1 udp 2130706431 127.0.0.1 0 typ host\r\n";
        assert_eq!(post("answer", bad).status, 400);
        assert_eq!(get("answer", 0).0, 204);
        assert_eq!(
            room_trickle(
                &req("POST", "/rooms/t/candidates/answer", sdp, &cand(1)),
                &rooms
            )
            .status,
            415
        );
        assert_eq!(
            room_candidates(&req("GET", "/rooms/t/candidates/other", None, ""), &rooms).status,
            404
        );
        // The answer is collected: a trickling room stays until each side has the other's end.
        let answer = "v=0\r\na=ice-options:trickle\r\n";
        assert_eq!(
            room_post(&req("POST", "/rooms/t/answer", sdp, answer), &rooms).status,
            204
        );
        assert_eq!(
            room_get(&req("GET", "/rooms/t/answer", None, ""), &rooms).status,
            200
        );
        assert_eq!(get("offer", 2).0, 200, "the room is still there");
        assert_eq!(post("answer", "a=end-of-candidates\r\n").status, 204);
        assert_eq!(get("answer", 0), (200, "a=end-of-candidates\r\n".into()));
        // Both ends read: the room's work is done.
        assert_eq!(get("offer", 3).0, 404);
    }

    #[test]
    fn one_address_gets_a_quarter_of_the_rooms() {
        let rooms = Rooms::default();
        let post = |from: &str, room: &str| {
            let mut r = req(
                "POST",
                &format!("/rooms/{room}/offer"),
                Some("application/sdp"),
                "v=0",
            );
            r.peer = Some(format!("{from}:5000").parse().unwrap());
            room_post(&r, &rooms)
        };
        for n in 0..ROOMS_PER_SOURCE {
            assert_eq!(post("127.0.0.2", &format!("r{n}")).status, 204);
        }
        let refused = post("127.0.0.2", "one-more");
        assert_eq!(refused.status, 503);
        let body = String::from_utf8_lossy(&refused.body).into_owned();
        assert!(
            body.contains("source 127.0.0.2 holds 25 of 100 places"),
            "{body}"
        );
        // Its own room may be offered again; another address still finds rooms.
        assert_eq!(post("127.0.0.2", "r0").status, 204);
        assert_eq!(post("127.0.0.3", "theirs").status, 204);
        // A collected answer frees the room's place.
        let mut answer = req("POST", "/rooms/r1/answer", Some("application/sdp"), "v=0 a");
        answer.peer = Some("127.0.0.4:1".parse().unwrap());
        assert_eq!(room_post(&answer, &rooms).status, 204);
        assert_eq!(
            room_get(&req("GET", "/rooms/r1/answer", None, ""), &rooms).status,
            200
        );
        assert_eq!(post("127.0.0.2", "one-more").status, 204);
    }

    #[test]
    fn rooms_refuse_what_they_cannot_relay() {
        let rooms = Rooms::default();
        assert_eq!(
            room_post(
                &req("POST", "/rooms/a/offer", Some("text/plain"), "x"),
                &rooms
            )
            .status,
            415
        );
        assert_eq!(
            room_get(&req("GET", "/rooms/a/other", None, ""), &rooms).status,
            404
        );
        let long = format!("/rooms/{}/offer", "n".repeat(65));
        assert_eq!(room_get(&req("GET", &long, None, ""), &rooms).status, 404);
        let big = "x".repeat(MAX_SDP + 1);
        assert_eq!(
            room_post(
                &req("POST", "/rooms/a/offer", Some("application/sdp"), &big),
                &rooms
            )
            .status,
            413
        );
    }

    #[test]
    fn the_trace_log_hands_out_lines_from_a_number_on() {
        let mut log = TraceLog::default();
        let _ = log.write(b"one\ntwo\n");
        let _ = log.write(b"three\n");
        assert_eq!(
            log.since(0),
            (3, vec!["one".into(), "two".into(), "three".into()])
        );
        assert_eq!(log.since(3), (3, vec!["three".into()]));
        assert_eq!(log.since(4), (3, vec![]));
    }
}
