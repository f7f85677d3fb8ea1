//! The \[L7\] ZeroMQ section of `netlab tour`: REQ/REP through the tap (so the ZMTP frames
//! show), PUB/SUB with a topic filter (through the tap too: the SUBSCRIBE goes up, only
//! matching messages come down), a pipeline with two workers, and Lazy Pirate giving up on
//! a server that is not there. Everything runs in this process on ports the kernel picks.

use super::ZmqError;
use super::endpoint::Endpoint;
use super::pipeline::{self, Sink, Ventilator};
use super::pirate::{LazyPirate, Retry};
use super::pubsub::{Publisher, Subscriber};
use super::reqrep::{self, Client};
use super::zmtp_tap;
use crate::guide::{Guide, TourError};
use crate::l4::background::Background;
use crate::tap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn any_port() -> Endpoint {
    Endpoint {
        host: "127.0.0.1".into(),
        port: None,
    }
}

/// `tcp://127.0.0.1:PORT` → the socket address the tap relays to.
fn socket_addr(endpoint: &str) -> Option<SocketAddr> {
    endpoint.strip_prefix("tcp://")?.parse().ok()
}

fn via(addr: SocketAddr) -> Endpoint {
    Endpoint {
        host: addr.ip().to_string(),
        port: Some(addr.port()),
    }
}

/// Starts a ZMTP tap in front of `endpoint`.
fn tap_in_front(g: &Guide, endpoint: &str) -> Result<Background, TourError> {
    let target =
        socket_addr(endpoint).ok_or_else(|| g.fail("tap", format!("no address in {endpoint}")))?;
    tap::spawn(SocketAddr::from(([127, 0, 0, 1], 0)), target, zmtp_tap::new)
        .map_err(|e| g.fail("tap", e))
}

/// The steps of this section, in the order `run` takes them (`netlab tour --list`; the
/// guide checks that each `g.step` says the same).
pub const STEPS: &[&str] = &[
    "REQ/REP: a REP server (echo handler), and a tap that decodes ZMTP in front of it",
    "REQ → tap → REP: greeting, READY (Socket-Type), then each message as frames",
    "REQ sends twice: libzmq refuses (EFSM), since REQ must alternate send and recv",
    "PUB/SUB: a publisher (XPUB, to see subscriptions), a subscriber to \"weather\" via the tap",
    "waiting for the subscription before publishing (the cure for the slow joiner)",
    "publishing three messages; the publisher filters, so only two cross the wire",
    "PUSH/PULL pipeline: a sink, a ventilator, and two workers",
    "the ventilator waits for both workers (else the first to connect gets every task)",
    "the sink collects the results: PUSH dealt the tasks round robin",
    "Lazy Pirate against a port where nothing listens: retry once, then give up",
];

/// The \[L7\] ZeroMQ section of `netlab tour`.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    let ctx = zmq::Context::new();
    req_rep(g, &ctx)?;
    pub_sub(g, &ctx)?;
    pipeline(g, &ctx)?;
    lazy_pirate(g, &ctx)
}

fn req_rep(g: &mut Guide, ctx: &zmq::Context) -> Result<(), TourError> {
    g.step("REQ/REP: a REP server (echo handler), and a tap that decodes ZMTP in front of it");
    let server =
        reqrep::spawn(ctx, &any_port(), reqrep::echo).map_err(|e| g.fail("REP bind", e))?;
    g.say(&format!("listening on {}", server.endpoint()));
    let tap = tap_in_front(g, server.endpoint())?;
    g.say(&format!(
        "tap on tcp://{} → {}",
        tap.addr(),
        server.endpoint()
    ));

    g.step("REQ → tap → REP: greeting, READY (Socket-Type), then each message as frames");
    let mut client =
        Client::connect(ctx, &via(tap.addr()), WAIT).map_err(|e| g.fail("REQ connect", e))?;
    for request in [&[&b"hello, ZeroMQ"[..]][..], &[b"two", b"parts"]] {
        let reply = client
            .request(request)
            .map_err(|e| g.fail("REQ/REP exchange", e))?;
        if reply != request {
            return Err(g.fail(
                "REQ/REP exchange",
                format!("sent {request:?}, got {reply:?}"),
            ));
        }
        let shown: Vec<String> = reply
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        g.say(&format!("reply: {}", shown.join(" | ")));
    }
    g.say(
        "the application saw whole messages; on the wire each got an empty delimiter frame first",
    );

    g.step("REQ sends twice: libzmq refuses (EFSM), since REQ must alternate send and recv");
    client
        .send_only(&[b"first"])
        .map_err(|e| g.fail("first send", e))?;
    match client.send_only(&[b"second"]) {
        Err(ZmqError::SendTwice) => g.say(&format!("refused: {}", ZmqError::SendTwice)),
        other => return Err(g.fail("REQ sends twice", format!("expected EFSM, got {other:?}"))),
    }
    drop(client);
    drop(tap);
    server.stop().map_err(|e| g.fail("REP stop", e))?;
    Ok(())
}

fn pub_sub(g: &mut Guide, ctx: &zmq::Context) -> Result<(), TourError> {
    g.step("PUB/SUB: a publisher (XPUB, to see subscriptions), a subscriber to \"weather\" via the tap");
    let mut publisher =
        Publisher::bind(ctx, &any_port(), true).map_err(|e| g.fail("PUB bind", e))?;
    g.say(&format!("listening on {}", publisher.endpoint()));
    let tap = tap_in_front(g, publisher.endpoint())?;
    let mut sub = Subscriber::connect(ctx, &via(tap.addr()), &["weather"])
        .map_err(|e| g.fail("SUB connect", e))?;

    g.step("waiting for the subscription before publishing (the cure for the slow joiner)");
    publisher
        .wait_for_subscriptions(1, WAIT)
        .map_err(|e| g.fail("subscription", e))?;

    g.step("publishing three messages; the publisher filters, so only two cross the wire");
    for line in ["sports: 2-1", "weather: sunny", "weather: rain"] {
        publisher
            .publish(line.as_bytes())
            .map_err(|e| g.fail("publish", e))?;
    }
    for want in ["weather: sunny", "weather: rain"] {
        let got = sub.next(Some(WAIT)).map_err(|e| g.fail("subscribe", e))?;
        match got.as_deref() {
            Some([part]) if part == want.as_bytes() => g.say(&format!("received: {want}")),
            other => {
                return Err(g.fail("topic filter", format!("expected {want:?}, got {other:?}")));
            }
        }
    }
    if let Some(extra) = sub
        .next(Some(Duration::from_millis(200)))
        .map_err(|e| g.fail("subscribe", e))?
    {
        return Err(g.fail(
            "topic filter",
            format!("a message off the topic arrived: {extra:?}"),
        ));
    }
    g.say("\"sports: 2-1\" never reached the subscriber");
    drop(sub);
    drop(tap);
    Ok(())
}

fn pipeline(g: &mut Guide, ctx: &zmq::Context) -> Result<(), TourError> {
    g.step("PUSH/PULL pipeline: a sink, a ventilator, and two workers");
    let mut sink = Sink::bind(ctx, &any_port()).map_err(|e| g.fail("sink bind", e))?;
    let mut vent = Ventilator::bind(ctx, &any_port()).map_err(|e| g.fail("ventilator bind", e))?;
    g.say(&format!(
        "sink on {}, ventilator on {}",
        sink.endpoint(),
        vent.endpoint()
    ));
    let tasks_at = Endpoint::parse(vent.endpoint()).map_err(|e| g.fail("endpoint", e))?;
    let sink_at = Endpoint::parse(sink.endpoint()).map_err(|e| g.fail("endpoint", e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = ["worker-a", "worker-b"]
        .into_iter()
        .map(|name| {
            let (ctx, tasks, results, stop) =
                (ctx.clone(), tasks_at.clone(), sink_at.clone(), stop.clone());
            thread::spawn(move || {
                pipeline::work(&ctx, &tasks, &results, name, None, &stop, &mut ())
            })
        })
        .collect();

    g.step("the ventilator waits for both workers (else the first to connect gets every task)");
    vent.wait_for_workers(2, WAIT)
        .map_err(|e| g.fail("workers", e))?;
    Ventilator::start_batch(ctx, &sink_at, 6).map_err(|e| g.fail("batch", e))?;
    for id in 1..=6 {
        vent.send_task(id, 50).map_err(|e| g.fail("task", e))?;
    }

    g.step("the sink collects the results: PUSH dealt the tasks round robin");
    let tally = sink
        .collect(None, WAIT, |_, _| {})
        .map_err(|e| g.fail("sink", e));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        let _ = w.join();
    }
    let tally = tally?;
    for (worker, n) in &tally.per_worker {
        g.say(&format!("{worker}: {n} tasks"));
    }
    g.say(&format!(
        "6 tasks of 50 ms in {} ms: two workers share the work",
        tally.elapsed.as_millis()
    ));
    if tally.results.len() != 6 || tally.per_worker.len() != 2 {
        return Err(g.fail(
            "pipeline",
            format!("expected 6 results from 2 workers, got {tally:?}"),
        ));
    }
    Ok(())
}

fn lazy_pirate(g: &mut Guide, ctx: &zmq::Context) -> Result<(), TourError> {
    g.step("Lazy Pirate against a port where nothing listens: retry once, then give up");
    // A port that was free a moment ago: nothing answers there.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| g.fail("free port", e))?;
    let nowhere = Endpoint {
        host: "127.0.0.1".into(),
        port: Some(port),
    };
    let mut said = Vec::new();
    let result = LazyPirate::new(
        ctx,
        &nowhere,
        Duration::from_millis(300),
        1,
        Retry::Reopen,
        |what| said.push(what.to_string()),
    )
    .request(&[b"anyone?"]);
    for line in &said {
        g.say(line);
    }
    match result {
        Err(e @ ZmqError::GaveUp { .. }) => {
            g.say(&format!("gave up: {e}"));
            Ok(())
        }
        other => Err(g.fail("Lazy Pirate", format!("expected to give up, got {other:?}"))),
    }
}
