//! The one trace vocabulary used by every layer of netlab.
//!
//! A trace line is one protocol step, printed to stderr:
//!
//! ```text
//! [l4] · bind 127.0.0.1:0 → LISTEN 127.0.0.1:43211
//! [l4] → write 6 bytes to 127.0.0.1:51234
//! [l4] ← read 6 bytes from 127.0.0.1:51234
//! ```
//!
//! - `→` something this program sent,
//! - `←` something it received,
//! - `·` a state change or an event (bind, accept, close, a parser decision).
//!
//! Layers are switched on one by one with `NETLAB_TRACE=l4,http1` (or `all`), or all of them
//! with the global `--trace` flag. When a layer is off, the cost is one atomic load: the line
//! is built by a closure that is never called.
//!
//! Who printed a line: a thread that plays a role in an exchange (client, server, proxy,
//! tap, gateway) says so with [`role`], and its lines start with that name, so one message
//! seen by three programs reads as three points of view:
//!
//! ```text
//! client [http1] → request head, 88 bytes:
//! tap    [http1] → #1 request 1: GET /status/200 HTTP/1.1 (3 fields, Host: …); no body
//! server [http1] ← request head, 88 bytes:
//! ```
//!
//! Lines are written one at a time under one lock, in the order the steps happened in this
//! process; a sender writes its line before its bytes leave, so a `→` line comes before the
//! peer's `←` line for the same bytes. The tour asks for a summary ([`summarise`]): each kind
//! of line is shown once per section, a run of the same kind with other numbers becomes one
//! `… 9 more like "…", the last with …` line, and word-for-word repeats are only counted;
//! `netlab tour --full-trace`, and any `--trace` run outside the tour, print every line. `NETLAB_TRACE_TIME=1` also stamps each line with the time since the first one
//! (`+1.234ms`), to compare with a capture or another program's log.
//!
//! ```
//! use netlab::trace::{self, Layer};
//! trace::event(Layer::L4, || format!("bind {}", "127.0.0.1:0"));
//! ```

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A protocol layer that can be traced. The name in brackets is the one `NETLAB_TRACE` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// TCP and UDP sockets (std::net).
    L4,
    /// ZeroMQ sockets and messages.
    Zmq,
    /// ZMTP, ZeroMQ's wire protocol.
    Zmtp,
    /// HTTP/1.1 messages and the parser's steps.
    Http1,
    /// HTTP semantics every version shares: which route and handler answered.
    Http,
    /// TLS handshakes and certificates.
    Tls,
    /// HTTP/2 frames.
    H2,
    /// HPACK header compression.
    Hpack,
    /// gRPC messages and status.
    Grpc,
    /// QUIC datagrams, packet headers and connection state.
    Quic,
    /// HTTP/3 fields, data and streams.
    H3,
    /// STUN and ICE: connectivity checks, their answers, ICE state (src/webrtc/ice.rs); the
    /// STUN and TURN servers (src/webrtc/stun_server.rs, src/webrtc/turn.rs).
    Stun,
    /// DTLS: handshake messages, alerts, the fingerprint check (src/webrtc/dtls.rs).
    Dtls,
    /// SCTP chunks inside DTLS (INIT … COOKIE-ACK, DATA, SACK) and association state.
    Sctp,
    /// The Data Channel Establishment Protocol: OPEN, ACK, channel state (src/webrtc/dcep.rs).
    Dcep,
    /// SDP offers and answers, and the signaling that carries them.
    Sdp,
    /// The guided tour's own narration.
    Tour,
}

impl Layer {
    /// Every layer, in the order of the course.
    pub const ALL: [Layer; 17] = [
        Layer::L4,
        Layer::Zmq,
        Layer::Zmtp,
        Layer::Http1,
        Layer::Http,
        Layer::Tls,
        Layer::H2,
        Layer::Hpack,
        Layer::Grpc,
        Layer::Quic,
        Layer::H3,
        Layer::Stun,
        Layer::Dtls,
        Layer::Sctp,
        Layer::Dcep,
        Layer::Sdp,
        Layer::Tour,
    ];

    /// The name used in brackets and in `NETLAB_TRACE`.
    pub fn name(self) -> &'static str {
        match self {
            Layer::L4 => "l4",
            Layer::Zmq => "zmq",
            Layer::Zmtp => "zmtp",
            Layer::Http1 => "http1",
            Layer::Http => "http",
            Layer::Tls => "tls",
            Layer::H2 => "h2",
            Layer::Hpack => "hpack",
            Layer::Grpc => "grpc",
            Layer::Quic => "quic",
            Layer::H3 => "h3",
            Layer::Stun => "stun",
            Layer::Dtls => "dtls",
            Layer::Sctp => "sctp",
            Layer::Dcep => "dcep",
            Layer::Sdp => "sdp",
            Layer::Tour => "tour",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Which way a step went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// `→` sent by this program.
    Sent,
    /// `←` received by this program.
    Received,
    /// `·` a state change or an event.
    Event,
}

impl Dir {
    fn arrow(self) -> &'static str {
        match self {
            Dir::Sent => "→",
            Dir::Received => "←",
            Dir::Event => "·",
        }
    }
}

/// A `NETLAB_TRACE` value that names no layer.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownLayer(pub String);

impl fmt::Display for UnknownLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Layer::ALL.iter().map(|l| l.name()).collect();
        write!(
            f,
            "unknown trace layer '{}': use all or a comma-separated list of {}",
            self.0,
            names.join(",")
        )
    }
}

impl std::error::Error for UnknownLayer {}

static ENABLED: AtomicU32 = AtomicU32::new(0);

type Sink = Box<dyn Write + Send>;
/// Where lines go: stderr unless a test or a lab check captured them.
static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Parses a `NETLAB_TRACE` value: `all`, `none`, or `l4,http1,…` (spaces allowed).
/// Returns the set of layers as a bit mask.
pub fn parse_spec(spec: &str) -> Result<u32, UnknownLayer> {
    let mut mask = 0;
    for word in spec.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let word = word.to_ascii_lowercase();
        match word.as_str() {
            "all" | "1" | "yes" | "on" => mask |= all_mask(),
            "none" | "0" | "off" => {}
            _ => match Layer::ALL.iter().find(|l| l.name() == word) {
                Some(layer) => mask |= layer.bit(),
                None => return Err(UnknownLayer(word)),
            },
        }
    }
    Ok(mask)
}

fn all_mask() -> u32 {
    Layer::ALL.iter().fold(0, |m, l| m | l.bit())
}

/// Switches on the layers named by `spec` (added to those already on).
pub fn enable(spec: &str) -> Result<(), UnknownLayer> {
    let mask = parse_spec(spec)?;
    ENABLED.fetch_or(mask, Ordering::Relaxed);
    Ok(())
}

/// Switches on every layer (the `--trace` flag).
pub fn enable_all() {
    ENABLED.fetch_or(all_mask(), Ordering::Relaxed);
}

/// Switches every layer off.
pub fn disable_all() {
    ENABLED.store(0, Ordering::Relaxed);
}

/// The layers on now, as a mask for [`restore`]: the tour silences the steps it runs only
/// to set up the one asked for, then puts the trace back.
pub fn layers() -> u32 {
    ENABLED.load(Ordering::Relaxed)
}

/// Switches on exactly the layers of `mask` (from [`layers`]).
pub fn restore(mask: u32) {
    ENABLED.store(mask, Ordering::Relaxed);
}

/// Reads `NETLAB_TRACE` (and `NETLAB_TRACE_TIME`) from the environment, if set.
pub fn enable_from_env() -> Result<(), UnknownLayer> {
    if std::env::var("NETLAB_TRACE_TIME").is_ok_and(|v| !v.is_empty() && v != "0") {
        stamp_times(true);
    }
    match std::env::var("NETLAB_TRACE") {
        Ok(spec) => enable(&spec),
        Err(_) => Ok(()),
    }
}

/// Is this layer being traced? Call it before doing costly work just for the trace.
pub fn is_on(layer: Layer) -> bool {
    ENABLED.load(Ordering::Relaxed) & layer.bit() != 0
}

thread_local! {
    static ROLE: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Restores the thread's previous role when dropped.
pub struct RoleGuard(Option<&'static str>);

impl Drop for RoleGuard {
    fn drop(&mut self) {
        ROLE.with(|r| r.set(self.0));
    }
}

/// From now until the guard drops, this thread's lines start with `name` (`server`).
pub fn role(name: &'static str) -> RoleGuard {
    RoleGuard(ROLE.with(|r| r.replace(Some(name))))
}

/// Like [`role`], but only when the thread has no role yet: a client used inside a proxy
/// or a gateway keeps that role.
pub fn default_role(name: &'static str) -> RoleGuard {
    let before = current_role();
    ROLE.with(|r| r.set(Some(before.unwrap_or(name))));
    RoleGuard(before)
}

/// This thread's role, for threads it starts to inherit (the accept loop, the relay).
pub fn current_role() -> Option<&'static str> {
    ROLE.with(Cell::get)
}

static STAMP: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

/// Stamps every line with the time since the first one (`NETLAB_TRACE_TIME=1`).
pub fn stamp_times(on: bool) {
    STAMP.store(on, Ordering::Relaxed);
}

/// Formats one trace line (without the newline): `[layer] → message`, after the thread's
/// role if it has one (`server [http1] → …`).
pub fn format_line(layer: Layer, dir: Dir, message: &str) -> String {
    let mut line = String::new();
    if STAMP.load(Ordering::Relaxed) {
        let t = START.get_or_init(Instant::now).elapsed();
        line.push_str(&format!("+{:.3}ms ", t.as_secs_f64() * 1000.0));
    }
    if let Some(r) = current_role() {
        line.push_str(&format!("{r:<6} "));
    }
    line.push_str(&format!("[{}] {} {}", layer.name(), dir.arrow(), message));
    line
}

/// Sends trace lines to `sink` instead of stderr (a lab check shows them in its report);
/// `None` goes back to stderr.
pub fn capture(sink: Option<Box<dyn Write + Send>>) {
    if let Ok(mut guard) = SINK.lock() {
        *guard = sink;
    }
}

/// Prints one step if its layer is on. `message` is only called when it is.
pub fn step(layer: Layer, dir: Dir, message: impl FnOnce() -> String) {
    if !is_on(layer) {
        return;
    }
    let message = message();
    // The summary's lock is taken before the sink's and held while writing, so a run's
    // summary and the line that ended it come out in the order they were decided.
    with_runs(|runs, lines| match runs.as_mut() {
        Some(runs) => runs.line(layer, dir, &message, lines),
        None => lines.push(format_line(layer, dir, &message)),
    });
    LAST_LINE.store(elapsed_ms(), Ordering::Relaxed);
}

/// Writes finished lines to the sink, each with its newline, in one write.
fn write_lines(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    // One write per line, under one lock, so threads never interleave inside a line.
    // A poisoned lock only means another thread panicked while tracing: keep going.
    let mut guard = SINK.lock().unwrap_or_else(|e| e.into_inner());
    let _ = match guard.as_mut() {
        Some(sink) => sink.write_all(text.as_bytes()),
        None => std::io::stderr().lock().write_all(text.as_bytes()),
    };
}

/// Milliseconds since this process first asked (for [`settle`]'s idea of "quiet").
fn elapsed_ms() -> u64 {
    let start = EPOCH.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

static EPOCH: OnceLock<Instant> = OnceLock::new();
/// When the last line was written, in [`elapsed_ms`].
static LAST_LINE: AtomicU64 = AtomicU64::new(0);

/// Waits until no line has been written for `quiet`, or `limit` has passed. The tour calls
/// it before a step's heading: a server thread notices a close only after the client has
/// returned, and its "closed" line belongs to the step that closed it, not to the next one.
pub fn settle(quiet: Duration, limit: Duration) {
    let started = Instant::now();
    let quiet_ms = u64::try_from(quiet.as_millis()).unwrap_or(u64::MAX);
    while started.elapsed() < limit {
        let since = elapsed_ms().saturating_sub(LAST_LINE.load(Ordering::Relaxed));
        if since >= quiet_ms {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every line in full, even where [`summarise`] is asked for (`netlab tour --full-trace`).
static FULL: AtomicBool = AtomicBool::new(false);

/// Keeps every line in full from now on: [`summarise`] then changes nothing.
pub fn full(on: bool) {
    FULL.store(on, Ordering::Relaxed);
}

/// Summarised runs, when [`summarise`] switched them on (the tour); `None` prints every line.
static RUNS: Mutex<Option<Runs>> = Mutex::new(None);

/// Summarises repeated lines from now on (`true`) or prints every line again (`false`,
/// after writing what is pending). The tour shows each kind of step once: the first line
/// of a kind is printed, the next ones of the same kind (the same text once numbers and
/// hex are set aside, from the same role, layer and direction) are counted, and when a
/// line of a new kind comes, one line says how many there were and what changed from the
/// first to the last. A `--trace` run outside the tour prints every line in full.
pub fn summarise(on: bool) {
    with_runs(|runs, lines| {
        if let Some(r) = runs.as_mut() {
            r.flush(lines);
        }
        *runs = (on && !FULL.load(Ordering::Relaxed)).then(Runs::default);
    });
}

/// The runs counted so far are written now (the narration is about to speak of them).
pub fn summary_flush() {
    with_runs(|runs, lines| {
        if let Some(r) = runs.as_mut() {
            r.flush(lines);
        }
    });
}

/// A step ends: the runs are written, and how many lines were left out as repeats.
pub fn summary_step() {
    summary_end(false);
}

/// A new section begins: the runs counted so far are written, and every kind of line will
/// be shown once again.
pub fn summary_break() {
    summary_end(true);
}

fn summary_end(forget: bool) {
    with_runs(|runs, lines| {
        if let Some(r) = runs.as_mut() {
            r.flush(lines);
            r.tally(lines);
            if forget {
                r.seen.clear();
                r.shown.clear();
                r.sent_blocks.clear();
            }
        }
    });
}

/// Runs `f` on the summary's state with the lock held, then writes the lines it gave, still
/// holding it (a line traced meanwhile waits, and lands after them).
fn with_runs(f: impl FnOnce(&mut Option<Runs>, &mut Vec<String>)) {
    let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let mut lines = Vec::new();
    f(&mut runs, &mut lines);
    write_lines(&lines);
}

/// The kinds of line shown since the last break, and the repeats being counted.
#[derive(Default)]
struct Runs {
    /// Kind (see [`shape`]) → the message of the line that showed it.
    seen: HashMap<String, String>,
    /// Every line shown in full (role, layer, arrow and message): shown again, it says
    /// nothing new, and is only counted.
    shown: HashSet<String>,
    /// Lines of a kind already shown, with other numbers, not yet written, in the order
    /// their first one came.
    pending: Vec<Run>,
    /// Lines left out since the last break because they repeated one shown, word for word.
    repeats: usize,
    /// The indented lines of sent blocks (a head's lines, a header block's fields), by
    /// layer: the receiving end's copy of them says nothing new.
    sent_blocks: HashSet<String>,
}

/// Held lines of one kind, and the thread's role that printed them.
struct Run {
    kind: String,
    layer: Layer,
    dir: Dir,
    role: Option<&'static str>,
    first: String,
    last: String,
    count: usize,
}

impl Runs {
    fn line(&mut self, layer: Layer, dir: Dir, message: &str, out: &mut Vec<String>) {
        let role = current_role();
        let who = format!("{} {} {}", role.unwrap_or(""), layer.name(), dir.arrow());
        // 1. Word for word a line shown before, or a line of a block received as the
        //    other end printed it when sending (a field of a head, of a header block):
        //    counted, not shown.
        let block = format!("{} {message}", layer.name());
        let echo = dir == Dir::Received && self.sent_blocks.contains(&block);
        if dir == Dir::Sent && message.starts_with("  ") {
            self.sent_blocks.insert(block);
        }
        if echo || self.shown.contains(&format!("{who} {message}")) {
            self.repeats += 1;
            return;
        }
        let kind = format!("{who} {}", shape(message));
        // 2. A new kind of line: what was held is written, then the line.
        let Some(first) = self.seen.get(&kind) else {
            self.flush(out);
            out.push(format_line(layer, dir, message));
            self.shown.insert(format!("{who} {message}"));
            self.seen.insert(kind, message.to_string());
            return;
        };
        // 3. A kind shown before, with other numbers: held, to be summed up.
        match self.pending.iter_mut().find(|r| r.kind == kind) {
            Some(run) => {
                run.count += 1;
                run.last = message.to_string();
            }
            None => self.pending.push(Run {
                first: first.clone(),
                kind,
                layer,
                dir,
                role,
                last: message.to_string(),
                count: 1,
            }),
        }
    }

    /// Writes what was held: a single line as it was, a run as one line, and the count of
    /// word-for-word repeats; each with the role of the thread that printed it.
    fn flush(&mut self, out: &mut Vec<String>) {
        for run in std::mem::take(&mut self.pending) {
            let _as = RoleGuard(ROLE.with(|r| r.replace(run.role)));
            if run.count == 1 {
                out.push(format_line(run.layer, run.dir, &run.last));
                let who = format!(
                    "{} {} {}",
                    run.role.unwrap_or(""),
                    run.layer.name(),
                    run.dir.arrow()
                );
                self.shown.insert(format!("{who} {}", run.last));
            } else {
                out.push(format_line(run.layer, run.dir, &run_summary(&run)));
            }
        }
    }

    /// One line for the lines left out word for word, at the end of a step.
    fn tally(&mut self, out: &mut Vec<String>) {
        if self.repeats > 0 {
            let _none = RoleGuard(ROLE.with(|c| c.replace(None)));
            let text = format!(
                "{} more trace lines left out: each repeated, word for word, a line shown above in this section",
                std::mem::take(&mut self.repeats)
            );
            out.push(format_line(Layer::Tour, Dir::Event, &text));
        }
    }
}

/// The kind of a trace message: every word that holds a digit (a count, a number, an
/// address, a connection ID in hex) becomes `#`, so that `DATA stream=3 length=16384` and
/// `DATA stream=5 length=912` are one kind.
fn shape(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let end_word = |word: &mut String, out: &mut String| {
        if word.bytes().any(|b| b.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            end_word(&mut word, &mut out);
            out.push(c);
        }
    }
    end_word(&mut word, &mut out);
    out
}

/// `… 9 more like "DATA stream=1 length=16384", the last with stream=19 length=912`: the
/// words that changed, as the last line has them.
fn run_summary(run: &Run) -> String {
    let head = format!("… {} more like \"{}\"", run.count, cut(&run.first, 50));
    let a: Vec<&str> = run.first.split_whitespace().collect();
    let b: Vec<&str> = run.last.split_whitespace().collect();
    let changed: Vec<String> = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x != y)
        .map(|(_, y)| cut(y, 24))
        .collect();
    // A changed word inside quotes would show half a quotation: the last line then.
    let quoted = changed.iter().any(|w| w.contains('"'));
    match changed.len() {
        _ if a.len() != b.len() || quoted => {
            format!("{head}, the last: {}", cut(&run.last, 70))
        }
        0 => format!("{head}, each the same"),
        1..=3 => format!("{head}, the last with {}", changed.join(" ")),
        _ => format!("{head}, the last: {}", cut(&run.last, 70)),
    }
}

/// At most `max` characters of `s`, `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// `[layer] → …`: something this program sent.
pub fn sent(layer: Layer, message: impl FnOnce() -> String) {
    step(layer, Dir::Sent, message)
}

/// `[layer] ← …`: something this program received.
pub fn received(layer: Layer, message: impl FnOnce() -> String) {
    step(layer, Dir::Received, message)
}

/// `[layer] · …`: a state change or an event.
pub fn event(layer: Layer, message: impl FnOnce() -> String) {
    step(layer, Dir::Event, message)
}

/// Shows at most `max` bytes as text a reader can follow: printable ASCII as is,
/// `\r` `\n` `\t` escaped, anything else as `\xNN`, and `…` when cut.
pub fn preview(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        out.push('…');
    }
    out
}

/// A run of one byte at least this long is summarised (`"x" × 1024`) by [`quoted`].
const RUN: usize = 16;

/// One byte escaped as [`preview`] escapes it, and `"` too: [`quoted`] puts values in quotes.
fn escape_into(out: &mut String, b: u8) {
    match b {
        b'\r' => out.push_str("\\r"),
        b'\n' => out.push_str("\\n"),
        b'\t' => out.push_str("\\t"),
        b'\\' => out.push_str("\\\\"),
        b'"' => out.push_str("\\\""),
        0x20..=0x7e => out.push(b as char),
        _ => out.push_str(&format!("\\x{b:02x}")),
    }
}

/// Bytes as a report shows a value: in double quotes and escaped (`"1\n"`), a run of one
/// repeated byte summarised (`"x" × 1024` instead of 80 × `x`), and, when more than `max`
/// bytes would be shown, cut with the real length (`"GET /…"… (255 bytes)`).
///
/// ```
/// use netlab::trace::quoted;
/// assert_eq!(quoted(b"1\n", 80), r#""1\n""#);
/// let mut line = vec![b'x'; 1024];
/// line.push(b'\n');
/// assert_eq!(quoted(&line, 80), r#""x" × 1024 + "\n""#);
/// assert_eq!(quoted(b"abcdef", 3), r#""abc"… (6 bytes)"#);
/// ```
pub fn quoted(bytes: &[u8], max: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut literal = String::new();
    // Bytes shown so far; a summarised run counts as a few, so many runs are cut too.
    let mut shown = 0;
    let mut at = 0;
    while at < bytes.len() && shown < max {
        let b = bytes[at];
        let run = bytes[at..].iter().take_while(|&&c| c == b).count();
        if run >= RUN {
            if !literal.is_empty() {
                parts.push(format!("\"{}\"", std::mem::take(&mut literal)));
            }
            let mut one = String::new();
            escape_into(&mut one, b);
            parts.push(format!("\"{one}\" × {run}"));
            shown += 4;
            at += run;
        } else {
            escape_into(&mut literal, b);
            shown += 1;
            at += 1;
        }
    }
    if !literal.is_empty() || parts.is_empty() {
        parts.push(format!("\"{literal}\""));
    }
    let mut out = parts.join(" + ");
    if at < bytes.len() {
        out.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn line_format_uses_brackets_and_arrows() {
        assert_eq!(
            format_line(Layer::H2, Dir::Received, "HEADERS stream=1"),
            "[h2] ← HEADERS stream=1"
        );
        assert_eq!(
            format_line(Layer::L4, Dir::Sent, "write 6 bytes"),
            "[l4] → write 6 bytes"
        );
        assert_eq!(
            format_line(Layer::Sctp, Dir::Event, "ESTABLISHED"),
            "[sctp] · ESTABLISHED"
        );
    }

    #[test]
    fn a_role_labels_the_lines_of_its_thread_until_the_guard_drops() {
        std::thread::spawn(|| {
            let outer = role("server");
            assert_eq!(
                format_line(Layer::Http1, Dir::Received, "request head"),
                "server [http1] ← request head"
            );
            {
                let _inner = default_role("client");
                assert_eq!(current_role(), Some("server"), "a role is kept");
                let _proxy = role("proxy");
                assert_eq!(
                    format_line(Layer::Http1, Dir::Sent, "x"),
                    "proxy  [http1] → x"
                );
            }
            assert_eq!(current_role(), Some("server"));
            drop(outer);
            assert_eq!(current_role(), None);
            let _c = default_role("client");
            assert_eq!(current_role(), Some("client"));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(parse_spec("all").unwrap(), all_mask());
        assert_eq!(parse_spec("").unwrap(), 0);
        assert_eq!(parse_spec("none").unwrap(), 0);
        assert_eq!(parse_spec("l4").unwrap(), Layer::L4.bit());
        assert_eq!(
            parse_spec(" L4 , http1,").unwrap(),
            Layer::L4.bit() | Layer::Http1.bit()
        );
        let err = parse_spec("l4,tcp").unwrap_err();
        assert_eq!(err, UnknownLayer("tcp".into()));
        assert!(err.to_string().contains("l4,zmq,zmtp,http1"), "{err}");
    }

    #[test]
    fn every_layer_has_its_own_bit_and_name() {
        let mut seen = 0u32;
        for l in Layer::ALL {
            assert_eq!(seen & l.bit(), 0, "{l:?} shares a bit");
            seen |= l.bit();
            assert_eq!(parse_spec(l.name()).unwrap(), l.bit());
        }
    }

    #[test]
    fn preview_escapes_and_cuts() {
        assert_eq!(preview(b"GET / HTTP/1.1\r\n", 64), "GET / HTTP/1.1\\r\\n");
        assert_eq!(preview(&[0, 0xff, b'a'], 64), "\\x00\\xffa");
        assert_eq!(preview(b"abcdef", 3), "abc…");
    }

    #[test]
    fn quoted_shows_quotes_runs_and_real_length() {
        assert_eq!(quoted(b"", 80), r#""""#);
        assert_eq!(quoted(b"1\n", 80), r#""1\n""#);
        assert_eq!(quoted(b"say \"hi\"", 80), r#""say \"hi\"""#);
        assert_eq!(quoted(&[b'x'; 1025], 80), r#""x" × 1025"#);
        let mut v = b"ab".to_vec();
        v.extend([b'x'; 20]);
        v.extend(b"\r\n");
        assert_eq!(quoted(&v, 80), r#""ab" + "x" × 20 + "\r\n""#);
        // Fifteen of a kind is not a run: shown as is.
        assert_eq!(quoted(&[b'y'; 15], 80), format!("\"{}\"", "y".repeat(15)));
        let long: Vec<u8> = (0..255u8).map(|i| b'a' + i % 26).collect();
        let shown = quoted(&long, 10);
        assert_eq!(shown, r#""abcdefghij"… (255 bytes)"#);
        // No run of 80 × x, whatever the input.
        assert!(!quoted(&[b'x'; 4096], 80).contains(&"x".repeat(80)));
    }

    /// Feeds `lines` (role, layer, dir, message) to one summary, in one thread per role
    /// change, and returns what it wrote, the step's tally included.
    fn summed(lines: &[(&'static str, Layer, Dir, &str)]) -> Vec<String> {
        let mut runs = Runs::default();
        let mut out = Vec::new();
        for &(who, layer, dir, message) in lines {
            let _r = role(who);
            runs.line(layer, dir, message, &mut out);
        }
        runs.flush(&mut out);
        runs.tally(&mut out);
        out
    }

    #[test]
    fn the_first_line_of_a_kind_is_shown_and_a_run_of_more_is_one_line() {
        let mut lines = vec![(
            "client",
            Layer::Quic,
            Dir::Sent,
            "datagram 1200 bytes: Initial",
        )];
        let pn: Vec<String> = (1..=5)
            .map(|i| format!("datagram {} bytes: 1-RTT pn={i}", 1300 + i))
            .collect();
        for m in &pn {
            lines.push(("client", Layer::Quic, Dir::Sent, m));
        }
        lines.push(("client", Layer::Quic, Dir::Event, "closed"));
        let out = summed(&lines);
        assert_eq!(
            out,
            [
                "client [quic] → datagram 1200 bytes: Initial",
                "client [quic] → datagram 1301 bytes: 1-RTT pn=1",
                "client [quic] → … 4 more like \"datagram 1301 bytes: 1-RTT pn=1\", the last with 1305 pn=5",
                "client [quic] · closed",
            ]
        );
    }

    #[test]
    fn a_single_variant_is_shown_whole_and_word_for_word_repeats_are_counted() {
        let out = summed(&[
            ("client", Layer::Http1, Dir::Sent, "request head, 88 bytes:"),
            ("client", Layer::Http1, Dir::Sent, "  Host: a\\r\\n"),
            (
                "server",
                Layer::Http1,
                Dir::Received,
                "request head, 88 bytes:",
            ),
            ("server", Layer::Http1, Dir::Received, "  Host: a\\r\\n"),
            (
                "client",
                Layer::Http1,
                Dir::Sent,
                "request head, 141 bytes:",
            ),
            ("client", Layer::Http1, Dir::Sent, "  Host: a\\r\\n"),
            ("client", Layer::Http1, Dir::Sent, "  Content-Length: 17"),
        ]);
        assert_eq!(
            out,
            [
                "client [http1] → request head, 88 bytes:",
                "client [http1] →   Host: a\\r\\n",
                "server [http1] ← request head, 88 bytes:",
                // The receiver's copy of the sender's field is left out (counted below).
                "client [http1] → request head, 141 bytes:",
                "client [http1] →   Content-Length: 17",
                "[tour] · 2 more trace lines left out: each repeated, word for word, a line shown above in this section",
            ]
        );
    }

    #[test]
    fn shapes_set_numbers_and_hex_aside() {
        assert_eq!(
            shape("DATA stream=3 length=16384"),
            "DATA stream=# length=#"
        );
        assert_eq!(shape("dcid=a1b2c3d4… spin=0"), "dcid=#… spin=#");
        assert_eq!(shape("GET /status/200 HTTP/1.1"), "GET /status/# HTTP/#.#");
    }

    // The global switch is process-wide, so filtering, the off state and capture are
    // checked in one test (tests run in parallel threads).
    #[test]
    fn off_by_default_then_filtered_by_layer() {
        let buf = Buf::default();
        capture(Some(Box::new(buf.clone())));
        let mut called = false;
        step(Layer::Quic, Dir::Event, || {
            called = true;
            "x".into()
        });
        assert!(
            !called,
            "the message closure must not run while the layer is off"
        );
        enable("quic,dcep").unwrap();
        sent(Layer::Quic, || "Initial pn=0".into());
        received(Layer::H3, || "not shown".into());
        event(Layer::Dcep, || "DATA_CHANNEL_OPEN".into());
        ENABLED.fetch_and(!(Layer::Quic.bit() | Layer::Dcep.bit()), Ordering::Relaxed);
        capture(None);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "[quic] → Initial pn=0\n[dcep] · DATA_CHANNEL_OPEN\n");
    }
}
