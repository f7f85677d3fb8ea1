//! PUSH/PULL: a pipeline that spreads tasks over workers (RFC 30/PIPELINE), the ZeroMQ
//! guide's ventilator → workers → sink.
//!
//! ```text
//!  ventilator (PUSH, bind) ──tasks──▶ worker × N (PULL … PUSH) ──results──▶ sink (PULL, bind)
//!       └──────────────── "BATCH n" (PUSH, connect) ──────────────────────────▲
//! ```
//!
//! PUSH hands each message to one peer, in turn (round robin over the peers connected *now*);
//! PULL takes messages from all its peers fairly. A worker that connects late misses the tasks
//! already handed out: the pipeline's slow joiner. The ventilator can therefore wait until
//! `n` workers completed their handshake ([`Ventilator::wait_for_workers`]).
//!
//! Messages are text, one part each: `BATCH <count>` (ventilator → sink), `<id> <ms>` (a task:
//! work for `ms` milliseconds), `<id> <worker>` (a result).

use super::endpoint::Endpoint;
use super::socket::{Socket, ZmqError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How often a waiting worker looks at its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// How long a worker with lines unsaid waits for the next task before it shows them. Asking
/// libzmq whether a task is queued, without waiting, costs a `poll` each time, as much as the
/// `write` it would save.
const FLUSH_AFTER: Duration = Duration::from_millis(10);

/// The longest a task may ask a worker to work: a bad task must not park a worker for hours.
pub const MAX_TASK_MS: u64 = 60_000;

/// A task: `<id> <ms>`. `None` for anything else.
pub fn parse_task(bytes: &[u8]) -> Option<(String, u64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (id, ms) = text.split_once(' ')?;
    Some((id.to_string(), ms.trim().parse().ok()?))
}

/// The ventilator: hands out tasks.
pub struct Ventilator {
    sock: Socket,
    endpoint: String,
}

impl Ventilator {
    /// Binds the PUSH socket workers connect to.
    pub fn bind(ctx: &zmq::Context, endpoint: &Endpoint) -> Result<Ventilator, ZmqError> {
        let mut sock = Socket::new(ctx, zmq::PUSH)?;
        let endpoint = sock.bind(endpoint)?;
        Ok(Ventilator { sock, endpoint })
    }

    /// `tcp://HOST:PORT` with the real port.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Waits until `n` workers have connected (ZMTP handshake done), at most `timeout`.
    pub fn wait_for_workers(&mut self, n: usize, timeout: Duration) -> Result<usize, ZmqError> {
        self.sock.wait_for_peers(n, timeout)
    }

    /// Tells the sink how many results to expect, over a PUSH socket connected to it.
    pub fn start_batch(ctx: &zmq::Context, sink: &Endpoint, tasks: usize) -> Result<(), ZmqError> {
        let mut to_sink = Socket::new(ctx, zmq::PUSH)?;
        to_sink.connect(sink)?;
        to_sink.send(&[format!("BATCH {tasks}")])
        // Dropped here: ZMQ_LINGER lets the message go out before the socket closes.
    }

    /// Hands one task to the next worker in turn.
    pub fn send_task(&mut self, id: usize, ms: u64) -> Result<(), ZmqError> {
        self.sock.send(&[format!("{id} {ms}")])
    }
}

/// What a worker says as it goes: the CLI prints a line per task, the tour nothing.
pub trait Report {
    /// A task came: its id and the milliseconds it asks for.
    fn task(&mut self, id: &str, ms: u64);
    /// The worker is idle or about to work: what it said should be seen now. Between, lines
    /// may wait in a buffer: a `write` per task, to a terminal or a pipe, cost a pipelined
    /// worker more than the task itself.
    fn flush(&mut self) {}
}

/// Says nothing (the tour's workers).
impl Report for () {
    fn task(&mut self, _: &str, _: u64) {}
}

/// A worker: pulls tasks, works, pushes results. Returns how many tasks it did: `count`
/// of them, or as many as came until `stop` was set. `report` hears of each task.
pub fn work(
    ctx: &zmq::Context,
    tasks: &Endpoint,
    sink: &Endpoint,
    name: &str,
    count: Option<usize>,
    stop: &AtomicBool,
    report: &mut impl Report,
) -> Result<usize, ZmqError> {
    let mut input = Socket::new(ctx, zmq::PULL)?;
    input.connect(tasks)?;
    let mut output = Socket::new(ctx, zmq::PUSH)?;
    output.connect(sink)?;
    let mut done = 0;
    // Something was reported and not yet flushed.
    let mut unsaid = false;
    while count.is_none_or(|n| done < n) && !stop.load(Ordering::SeqCst) {
        // 1. The next task, from whichever ventilator has one. While lines wait unsaid,
        //    only briefly: when none comes, the worker is idle and shows them.
        let wait = if unsaid { FLUSH_AFTER } else { STOP_CHECK };
        let Some(message) = input.recv(Some(wait))? else {
            report.flush();
            unsaid = false;
            continue;
        };
        // 2. "Work": sleep as long as the task says. A malformed task is reported as done
        //    with no work, so the sink's count still adds up.
        let part = message.first().map(Vec::as_slice).unwrap_or_default();
        let (id, ms) =
            parse_task(part).unwrap_or_else(|| (String::from_utf8_lossy(part).into(), 0));
        report.task(&id, ms);
        unsaid = true;
        if ms > 0 {
            report.flush();
            unsaid = false;
            thread::sleep(Duration::from_millis(ms.min(MAX_TASK_MS)));
        }
        // 3. The result goes to the sink.
        output.send(&[format!("{id} {name}")])?;
        done += 1;
    }
    report.flush();
    Ok(done)
}

/// What the sink saw: each result in arrival order, and how many each worker did.
#[derive(Debug, Default)]
pub struct Tally {
    pub results: Vec<(String, String)>,
    pub per_worker: BTreeMap<String, usize>,
    pub elapsed: Duration,
}

/// The sink: collects results.
pub struct Sink {
    sock: Socket,
    endpoint: String,
}

impl Sink {
    /// Binds the PULL socket that the ventilator and the workers connect to.
    pub fn bind(ctx: &zmq::Context, endpoint: &Endpoint) -> Result<Sink, ZmqError> {
        let mut sock = Socket::new(ctx, zmq::PULL)?;
        let endpoint = sock.bind(endpoint)?;
        Ok(Sink { sock, endpoint })
    }

    /// `tcp://HOST:PORT` with the real port.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Collects one batch: waits for `BATCH n` (which may come after some results, since it
    /// travels on a different connection), then for n results. `expected` replaces the
    /// BATCH message when known. Each wait is bounded by `timeout`.
    pub fn collect(
        &mut self,
        expected: Option<usize>,
        timeout: Duration,
        mut on_result: impl FnMut(&str, &str),
    ) -> Result<Tally, ZmqError> {
        let mut tally = Tally::default();
        let mut expected = expected;
        let mut start: Option<Instant> = None;
        while expected.is_none_or(|n| tally.results.len() < n) {
            let Some(message) = self.sock.recv(Some(timeout))? else {
                let what = match expected {
                    Some(n) => format!(
                        "sink on {}: {} of {n} results arrived",
                        self.endpoint,
                        tally.results.len()
                    ),
                    None => format!(
                        "sink on {}: waiting for BATCH from a ventilator",
                        self.endpoint
                    ),
                };
                return Err(ZmqError::Timeout {
                    what,
                    ms: timeout.as_millis(),
                });
            };
            start.get_or_insert_with(Instant::now);
            let text =
                String::from_utf8_lossy(message.first().map(Vec::as_slice).unwrap_or_default())
                    .into_owned();
            if let Some(n) = text
                .strip_prefix("BATCH ")
                .and_then(|n| n.trim().parse().ok())
            {
                expected = Some(n);
                continue;
            }
            let (id, worker) = text.split_once(' ').unwrap_or((text.as_str(), "?"));
            on_result(id, worker);
            *tally.per_worker.entry(worker.to_string()).or_default() += 1;
            tally.results.push((id.to_string(), worker.to_string()));
        }
        tally.elapsed = start.map(|s| s.elapsed()).unwrap_or_default();
        Ok(tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_parse_or_not() {
        assert_eq!(parse_task(b"3 100"), Some(("3".into(), 100)));
        assert_eq!(parse_task(b"3"), None);
        assert_eq!(parse_task(b"3 soon"), None);
        assert_eq!(parse_task(&[0xff, b' ', b'1']), None);
    }
}
