//! The ZeroMQ commands: `netlab zmq rep|req|pub|sub|ventilator|worker|sink|broker`.

use crate::cli::{self, CliError, Command, Flag, Matches, flag, runtime};
use netlab::zmq::broker::Broker;
use netlab::zmq::pipeline::{self, Sink, Ventilator};
use netlab::zmq::pirate::{LazyPirate, Retry};
use netlab::zmq::pubsub::{Publisher, Subscriber};
use netlab::zmq::reqrep;
use netlab::zmq::{Endpoint, Message};
use std::io::{self, BufRead, Write};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

const fn endpoint(name: &'static str, default: Option<&'static str>, help: &'static str) -> Flag {
    Flag {
        name,
        short: None,
        value: Some("tcp://HOST:PORT"),
        default,
        help,
    }
}

pub const REP: Command = Command {
    path: "netlab zmq rep",
    about: "a REP server: answers each request with the handler (echo)",
    flags: &[
        endpoint(
            "bind",
            Some("tcp://127.0.0.1:5555"),
            "bind here (port * or 0: the kernel picks one); not used when only --connect is given",
        ),
        endpoint(
            "connect",
            None,
            "connect here instead, as a worker behind `netlab zmq broker` (its backend)",
        ),
        flag("count", Some("N"), None, "exit after answering N requests"),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const REQ: Command = Command {
    path: "netlab zmq req",
    about: "a REQ client: sends each MESSAGE (or line of stdin), prints each reply",
    flags: &[
        endpoint(
            "connect",
            Some("tcp://127.0.0.1:5555"),
            "the REP server (or broker frontend) to ask",
        ),
        flag(
            "timeout",
            Some("MS"),
            Some("2500"),
            "wait at most this long for each reply",
        ),
        flag(
            "retries",
            Some("N"),
            Some("0"),
            "Lazy Pirate: after a timeout, reopen the socket and resend, up to N times",
        ),
        Flag {
            name: "same-socket",
            short: None,
            value: None,
            default: None,
            help: "retry on the same REQ socket instead (shows why Lazy Pirate reopens: EFSM)",
        },
    ],
    args: "[MESSAGE…]",
    min_args: 0,
    max_args: usize::MAX,
};

pub const PUB: Command = Command {
    path: "netlab zmq pub",
    about: "a publisher: each line of stdin is one message (its topic is the line's prefix)",
    flags: &[
        endpoint("bind", Some("tcp://127.0.0.1:5556"), "bind here"),
        flag(
            "subscribers",
            Some("N"),
            Some("0"),
            "first wait until N subscriptions arrived (XPUB sees them: no slow-joiner loss)",
        ),
        flag(
            "timeout",
            Some("MS"),
            Some("10000"),
            "give up waiting for the subscriptions after this long",
        ),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const SUB: Command = Command {
    path: "netlab zmq sub",
    about: "a subscriber: prints each message that starts with a --topic",
    flags: &[
        endpoint("connect", Some("tcp://127.0.0.1:5556"), "the publisher"),
        Flag {
            name: "topic",
            short: Some('t'),
            value: Some("PREFIX"),
            default: None,
            help: "subscribe to messages starting with PREFIX (repeatable; none: everything)",
        },
        flag("count", Some("N"), None, "exit after N messages"),
        flag(
            "timeout",
            Some("MS"),
            Some("10000"),
            "fail when no message comes for this long (0: wait forever)",
        ),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const VENTILATOR: Command = Command {
    path: "netlab zmq ventilator",
    about: "the pipeline's source: PUSHes --tasks tasks to the workers, tells the sink",
    flags: &[
        endpoint(
            "bind",
            Some("tcp://127.0.0.1:5557"),
            "bind here; workers connect",
        ),
        endpoint(
            "sink",
            Some("tcp://127.0.0.1:5558"),
            "the sink, told how many results to expect",
        ),
        flag("tasks", Some("N"), Some("10"), "how many tasks"),
        flag(
            "work",
            Some("MS"),
            Some("100"),
            "how long each task keeps a worker busy",
        ),
        flag(
            "workers",
            Some("N"),
            Some("1"),
            "first wait until N workers connected (else the first one gets everything)",
        ),
        flag(
            "timeout",
            Some("MS"),
            Some("10000"),
            "give up waiting for the workers after this long",
        ),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const WORKER: Command = Command {
    path: "netlab zmq worker",
    about: "a pipeline worker: PULLs tasks, works, PUSHes results to the sink",
    flags: &[
        endpoint("connect", Some("tcp://127.0.0.1:5557"), "the ventilator"),
        endpoint("sink", Some("tcp://127.0.0.1:5558"), "the sink"),
        Flag {
            name: "name",
            short: None,
            value: Some("NAME"),
            default: None,
            help: "how the sink names this worker (default: worker-PID)",
        },
        flag("count", Some("N"), None, "exit after N tasks"),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const SINK: Command = Command {
    path: "netlab zmq sink",
    about: "the pipeline's end: collects one batch of results, shows who did what",
    flags: &[
        endpoint("bind", Some("tcp://127.0.0.1:5558"), "bind here"),
        flag(
            "tasks",
            Some("N"),
            None,
            "how many results to expect (default: what the ventilator's BATCH says)",
        ),
        flag(
            "timeout",
            Some("MS"),
            Some("10000"),
            "fail when nothing arrives for this long",
        ),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const BROKER: Command = Command {
    path: "netlab zmq broker",
    about: "a ROUTER/DEALER broker between REQ clients and REP workers",
    flags: &[
        endpoint(
            "frontend",
            Some("tcp://127.0.0.1:5559"),
            "ROUTER for the clients (printed first)",
        ),
        endpoint(
            "backend",
            Some("tcp://127.0.0.1:5560"),
            "DEALER for the workers (printed second)",
        ),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

/// The commands of this area, for the top-level help.
pub const COMMANDS: &[&Command] = &[&REP, &REQ, &PUB, &SUB, &VENTILATOR, &WORKER, &SINK, &BROKER];

/// Runs `netlab zmq VERB …`.
pub fn run(tail: &[String]) -> Result<(), CliError> {
    let Some((verb, args)) = tail.split_first() else {
        return Err(CliError::Usage(
            "netlab zmq needs a verb: rep, req, pub, sub, ventilator, worker, sink or broker"
                .into(),
        ));
    };
    match verb.as_str() {
        "rep" => rep(&cli::parse(&REP, args)?),
        "req" => req(&cli::parse(&REQ, args)?),
        "pub" => publish(&cli::parse(&PUB, args)?),
        "sub" => subscribe(&cli::parse(&SUB, args)?),
        "ventilator" => ventilator(&cli::parse(&VENTILATOR, args)?),
        "worker" => worker(&cli::parse(&WORKER, args)?),
        "sink" => sink(&cli::parse(&SINK, args)?),
        "broker" => broker(&cli::parse(&BROKER, args)?),
        "-h" | "--help" => Err(CliError::Help(
            COMMANDS
                .iter()
                .map(|c| cli::help(c))
                .collect::<Vec<_>>()
                .join("\n"),
        )),
        other => Err(CliError::Usage(format!(
            "unknown verb '{other}': use netlab zmq rep, req, pub, sub, ventilator, worker, sink or broker"
        ))),
    }
}

/// An endpoint flag, or a usage error that shows the expected form.
fn endpoint_flag(cmd: &Command, m: &Matches, name: &str) -> Result<Endpoint, CliError> {
    let raw = m.get(name).unwrap_or_default();
    Endpoint::parse(raw)
        .map_err(|e| CliError::Usage(format!("--{name}: {e} (see {} --help)", cmd.path)))
}

fn optional(cmd: &Command, m: &Matches, name: &str) -> Result<Option<usize>, CliError> {
    match m.get(name) {
        Some(_) => m.number(cmd, name).map(Some),
        None => Ok(None),
    }
}

fn listening(endpoint: &str) {
    cli::say(format_args!("listening on {endpoint}"));
}

/// Writes a message's parts on one line, separated by spaces.
fn print_message(out: &mut impl Write, message: &Message) -> Result<(), CliError> {
    for (i, part) in message.iter().enumerate() {
        if i > 0 {
            out.write_all(b" ").map_err(runtime)?;
        }
        out.write_all(part).map_err(runtime)?;
    }
    out.write_all(b"\n").map_err(runtime)?;
    out.flush().map_err(runtime)
}

fn rep(m: &Matches) -> Result<(), CliError> {
    // --connect alone makes a worker; --bind (or its default) makes a server.
    let bind = if m.on("connect") && !m.on("bind") {
        None
    } else {
        Some(endpoint_flag(&REP, m, "bind")?)
    };
    let connect = match m.on("connect") {
        true => Some(endpoint_flag(&REP, m, "connect")?),
        false => None,
    };
    let count = optional(&REP, m, "count")?;
    let ctx = zmq::Context::new();
    let (mut sock, bound) =
        reqrep::rep_socket(&ctx, bind.as_ref(), connect.as_ref()).map_err(runtime)?;
    if let Some(real) = bound {
        listening(&real);
    }
    let mut handler = reqrep::echo;
    reqrep::serve(&mut sock, &mut handler, count, &AtomicBool::new(false)).map_err(runtime)?;
    Ok(())
}

fn req(m: &Matches) -> Result<(), CliError> {
    let endpoint = endpoint_flag(&REQ, m, "connect")?;
    let timeout = m.millis(&REQ, "timeout")?.max(Duration::from_millis(1));
    let retries: u32 = m.number(&REQ, "retries")?;
    let how = if m.on("same-socket") {
        Retry::SameSocket
    } else {
        Retry::Reopen
    };
    let messages: Box<dyn Iterator<Item = io::Result<String>>> = if m.args.is_empty() {
        Box::new(io::stdin().lock().lines())
    } else {
        Box::new(m.args.clone().into_iter().map(Ok))
    };
    let ctx = zmq::Context::new();
    // What Lazy Pirate did goes to stderr, so stdout holds only the replies.
    let mut client = LazyPirate::new(&ctx, &endpoint, timeout, retries, how, |what| {
        eprintln!("netlab zmq req: {what}");
    });
    let mut out = cli::Stdout;
    for message in messages {
        let message = message.map_err(runtime)?;
        let reply = client.request(&[message.as_bytes()]).map_err(runtime)?;
        print_message(&mut out, &reply)?;
    }
    Ok(())
}

fn publish(m: &Matches) -> Result<(), CliError> {
    let endpoint = endpoint_flag(&PUB, m, "bind")?;
    let subscribers: usize = m.number(&PUB, "subscribers")?;
    let timeout = m.millis(&PUB, "timeout")?;
    let ctx = zmq::Context::new();
    let mut publisher = Publisher::bind(&ctx, &endpoint, subscribers > 0).map_err(runtime)?;
    listening(publisher.endpoint());
    if subscribers > 0 {
        publisher
            .wait_for_subscriptions(subscribers, timeout)
            .map_err(runtime)?;
    }
    for line in io::stdin().lock().lines() {
        let line = line.map_err(runtime)?;
        publisher.publish(line.as_bytes()).map_err(runtime)?;
    }
    // Dropping the socket lingers (ZMQ_LINGER) until the last messages went out.
    Ok(())
}

fn subscribe(m: &Matches) -> Result<(), CliError> {
    let endpoint = endpoint_flag(&SUB, m, "connect")?;
    let topics = m.all("topic");
    let count = optional(&SUB, m, "count")?;
    let timeout = match m.millis(&SUB, "timeout")? {
        t if t.is_zero() => None,
        t => Some(t),
    };
    let ctx = zmq::Context::new();
    let mut sub = Subscriber::connect(&ctx, &endpoint, &topics).map_err(runtime)?;
    let mut out = cli::Stdout;
    let mut got = 0;
    while count.is_none_or(|n| got < n) {
        let Some(message) = sub.next(timeout).map_err(runtime)? else {
            return Err(CliError::Runtime(format!(
                "no message from {endpoint} for {} ms after {got} message(s) (is the publisher running, and does a --topic match? raise --timeout, or 0 to wait forever)",
                timeout.map(|t| t.as_millis()).unwrap_or_default()
            )));
        };
        print_message(&mut out, &message)?;
        got += 1;
    }
    Ok(())
}

fn ventilator(m: &Matches) -> Result<(), CliError> {
    let bind = endpoint_flag(&VENTILATOR, m, "bind")?;
    let sink = endpoint_flag(&VENTILATOR, m, "sink")?;
    let tasks: usize = m.number(&VENTILATOR, "tasks")?;
    let work: u64 = m.number(&VENTILATOR, "work")?;
    let workers: usize = m.number(&VENTILATOR, "workers")?;
    let timeout = m.millis(&VENTILATOR, "timeout")?;
    let ctx = zmq::Context::new();
    let mut vent = Ventilator::bind(&ctx, &bind).map_err(runtime)?;
    listening(vent.endpoint());
    let connected = vent.wait_for_workers(workers, timeout).map_err(runtime)?;
    cli::say(format_args!(
        "{connected} worker(s) connected: sending {tasks} tasks of {work} ms"
    ));
    Ventilator::start_batch(&ctx, &sink, tasks).map_err(runtime)?;
    for id in 1..=tasks {
        vent.send_task(id, work).map_err(runtime)?;
    }
    cli::say(format_args!("sent {tasks} tasks"));
    Ok(())
}

fn worker(m: &Matches) -> Result<(), CliError> {
    let tasks = endpoint_flag(&WORKER, m, "connect")?;
    let sink = endpoint_flag(&WORKER, m, "sink")?;
    let name = match m.get("name") {
        Some(n) if !n.is_empty() && !n.contains(' ') => n.to_string(),
        Some(n) => {
            return Err(CliError::Usage(format!(
                "--name '{n}': a worker name is one word (see {} --help)",
                WORKER.path
            )));
        }
        None => format!("worker-{}", std::process::id()),
    };
    let count = optional(&WORKER, m, "count")?;
    let ctx = zmq::Context::new();
    let stop = AtomicBool::new(false);
    let mut lines = TaskLines {
        name: name.clone(),
        held: String::new(),
    };
    pipeline::work(&ctx, &tasks, &sink, &name, count, &stop, &mut lines).map_err(runtime)?;
    Ok(())
}

/// The worker's line per task, held while tasks keep coming and printed together when none
/// came for 10 ms (or [`HELD_MAX`] bytes wait): one `write` per burst instead of one per
/// task.
struct TaskLines {
    name: String,
    held: String,
}

/// The most a worker holds of its lines before it prints them anyway.
const HELD_MAX: usize = 64 << 10;

impl pipeline::Report for TaskLines {
    fn task(&mut self, id: &str, ms: u64) {
        use std::fmt::Write;
        let _ = writeln!(self.held, "{}: task {id} ({ms} ms)", self.name);
        if self.held.len() >= HELD_MAX {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.held.is_empty() {
            cli::put(format_args!("{}", self.held));
            self.held.clear();
        }
    }
}

fn sink(m: &Matches) -> Result<(), CliError> {
    let bind = endpoint_flag(&SINK, m, "bind")?;
    let tasks = optional(&SINK, m, "tasks")?;
    let timeout = m.millis(&SINK, "timeout")?;
    let ctx = zmq::Context::new();
    let mut sink = Sink::bind(&ctx, &bind).map_err(runtime)?;
    listening(sink.endpoint());
    let tally = sink
        .collect(tasks, timeout, |id, worker| {
            cli::say(format_args!("task {id} done by {worker}"));
        })
        .map_err(runtime)?;
    let spread: Vec<String> = tally
        .per_worker
        .iter()
        .map(|(w, n)| format!("{w}: {n}"))
        .collect();
    cli::say(format_args!(
        "{} results in {} ms from {} worker(s) ({})",
        tally.results.len(),
        tally.elapsed.as_millis(),
        tally.per_worker.len(),
        spread.join(", ")
    ));
    Ok(())
}

fn broker(m: &Matches) -> Result<(), CliError> {
    let frontend = endpoint_flag(&BROKER, m, "frontend")?;
    let backend = endpoint_flag(&BROKER, m, "backend")?;
    let ctx = zmq::Context::new();
    let mut broker = Broker::bind(&ctx, &frontend, &backend).map_err(runtime)?;
    let (f, b) = broker.endpoints();
    listening(f);
    listening(b);
    broker.serve(&AtomicBool::new(false)).map_err(runtime)?;
    Ok(())
}
