//! The `netlab` command: parses arguments, calls the library, prints. No protocol logic here.
//!
//! Exit status: 0 success, 1 runtime failure, 2 usage error; errors are one line `error: …`.

mod cli;
mod cmd;

use cli::{CliError, Command, Flag, Matches, runtime};
use netlab::guide::Guide;
use netlab::{tour, trace};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

const TOUR: Command = Command {
    path: "netlab tour",
    about: "run every exchange of the course on loopback, step by step (trace on)",
    flags: &[
        Flag {
            name: "quiet",
            short: Some('q'),
            value: None,
            default: None,
            help: "no trace, only the narration",
        },
        Flag {
            name: "full-trace",
            short: None,
            value: None,
            default: None,
            help: "every trace line in full (by default a repeat is left out and a run summed up)",
        },
        Flag {
            name: "list",
            short: None,
            value: None,
            default: None,
            help: "name the sections and their steps, and run nothing",
        },
        Flag {
            name: "no-pause",
            short: None,
            value: None,
            default: None,
            help: "on a terminal too, run straight through (as through a pipe)",
        },
        Flag {
            name: "pause",
            short: None,
            value: None,
            default: None,
            help: "pause before each step even when stdout is not a terminal (Enter from stdin)",
        },
    ],
    args: "[SECTION] [STEP]",
    min_args: 0,
    max_args: 2,
};

/// `netlab tour --help`: the flags, then the sections to choose from.
fn tour_help() -> String {
    let mut out = cli::help(&TOUR);
    out.push_str("\nsections (netlab tour --list shows their steps):\n");
    let width = tour::name_width();
    for s in tour::SECTIONS {
        out.push_str(&format!("  {:<width$} {}\n", s.name, s.title));
    }
    out.push_str(
        "\nOn a terminal the tour pauses before each step (Enter to go on); through a pipe it\n\
         runs straight through. netlab tour SECTION STEP runs one step (the steps before it\n\
         run silently to set it up).\n",
    );
    out
}

/// Every area's commands, in the order of the course, for `netlab --help`.
fn all_commands() -> Vec<&'static Command> {
    let mut all: Vec<&'static Command> = Vec::new();
    all.extend_from_slice(cmd::l4::COMMANDS);
    all.extend_from_slice(cmd::zmq::COMMANDS);
    all.push(&cmd::tap::TAP);
    all.extend_from_slice(cmd::http::COMMANDS);
    all.extend_from_slice(cmd::h2::COMMANDS);
    all.extend_from_slice(cmd::grpc::COMMANDS);
    all.extend_from_slice(cmd::h3::COMMANDS);
    all.extend_from_slice(cmd::compare::COMMANDS);
    all.extend_from_slice(cmd::webrtc::COMMANDS);
    all.extend_from_slice(cmd::stun::COMMANDS);
    all.extend_from_slice(cmd::nat::COMMANDS);
    all.push(&TOUR);
    all
}
fn top_help() -> String {
    let mut out = String::from(
        "netlab — network programming, one layer at a time\n\nusage: netlab [--trace] <command> [flags]\n\ncommands:\n",
    );
    for c in all_commands() {
        let name = c.path.trim_start_matches("netlab ");
        out.push_str(&format!("  {name:<16} {}\n", c.about));
    }
    out.push_str(
        "\nEvery command takes --help. The trace (one line per protocol step, on stderr) is\n\
         switched on with --trace or NETLAB_TRACE=all|l4,http1,…\n",
    );
    out
}

fn main() -> ExitCode {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    match run(&mut argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Help(text)) => {
            cli::put(format_args!("{text}"));
            ExitCode::SUCCESS
        }
        // A closed stderr is no reason to panic either.
        Err(CliError::Usage(msg)) => {
            let _ = writeln!(io::stderr(), "error: {msg}");
            ExitCode::from(2)
        }
        Err(CliError::Runtime(msg)) => {
            let _ = writeln!(io::stderr(), "error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(argv: &mut Vec<String>) -> Result<(), CliError> {
    // The global trace switch may stand anywhere; take it out before the command parses.
    trace::enable_from_env().map_err(|e| CliError::Usage(format!("NETLAB_TRACE: {e}")))?;
    let mut rest = Vec::new();
    for word in argv.drain(..) {
        if word == "--trace" {
            trace::enable_all();
        } else if let Some(spec) = word.strip_prefix("--trace=") {
            trace::enable(spec).map_err(|e| CliError::Usage(e.to_string()))?;
        } else {
            rest.push(word);
        }
    }
    let (head, tail) = match rest.split_first() {
        Some((h, t)) => (h.as_str(), t),
        None => {
            return Err(CliError::Usage(format!(
                "no command given\n\n{}",
                top_help()
            )));
        }
    };
    match head {
        "-h" | "--help" | "help" => Err(CliError::Help(top_help())),
        "echo" | "sockets" | "port" => cmd::l4::run(head, tail),
        "http" | "cert" => cmd::http::run(head, tail),
        "h2" => cmd::h2::run(tail),
        "grpc" => cmd::grpc::run(tail),
        "h3" => cmd::h3::run(tail),
        "compare" => cmd::compare::run(tail),
        "webrtc" => cmd::webrtc::run(tail),
        "stun" | "turn" => cmd::stun::run(head, tail),
        "nat" => cmd::nat::run(tail),
        "zmq" => cmd::zmq::run(tail),
        "tap" => cmd::tap::run(tail),
        "tour" => match cli::parse(&TOUR, tail) {
            Err(CliError::Help(_)) => Err(CliError::Help(tour_help())),
            parsed => tour_cmd(&parsed?),
        },
        other => Err(CliError::Usage(format!(
            "unknown command '{other}' (see netlab --help)"
        ))),
    }
}

/// The step asked of `netlab tour SECTION STEP`, checked against the section's steps.
fn tour_step(section: Option<&str>, raw: Option<&String>) -> Result<Option<usize>, CliError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let s = tour::find(section.unwrap_or_default()).map_err(CliError::Runtime)?;
    match raw.parse::<usize>() {
        Ok(n) if (1..=s.steps.len()).contains(&n) => Ok(Some(n)),
        _ => Err(CliError::Usage(format!(
            "no step '{raw}' in section {}: choose 1 to {} (netlab tour --list)",
            s.name,
            s.steps.len()
        ))),
    }
}

fn tour_cmd(m: &Matches) -> Result<(), CliError> {
    if m.on("list") {
        cli::put(format_args!("{}", tour::list()));
        return Ok(());
    }
    let section = m.args.first().map(String::as_str);
    if let Some(name) = section {
        // Exit 1, as a failed section does: the tour was asked for something it cannot show.
        tour::find(name).map_err(CliError::Runtime)?;
    }
    let step = tour_step(section, m.args.get(1))?;
    if !m.on("quiet") && std::env::var_os("NETLAB_TRACE").is_none() {
        trace::enable_all();
    }
    trace::full(m.on("full-trace"));
    // Before any thread starts: a tour cut short by a signal still removes its keys.
    netlab::guide::remove_temp_dirs_on_signals();
    let mut guide = Guide::new(Box::new(cli::Stdout));
    // Pause for a reader at a terminal; a pipe, --no-pause or one step runs straight through.
    let terminal = io::stdout().is_terminal() && io::stdin().is_terminal();
    if step.is_none() && !m.on("no-pause") && (m.on("pause") || terminal) {
        guide = guide.pausing(Box::new(io::BufReader::new(io::stdin())));
    }
    if let Some(n) = step {
        guide = guide.only_step(n);
    }
    tour::run(section, &mut guide).map_err(runtime)?;
    if guide.quit() {
        cli::say(format_args!("\ntour stopped: the steps shown succeeded"));
    } else if let Some(n) = step {
        cli::say(format_args!(
            "\ntour finished: step {n} of {} succeeded (the steps before it ran silently)",
            section.unwrap_or_default()
        ));
    } else {
        cli::say(format_args!("\ntour finished: every exchange succeeded"));
    }
    Ok(())
}
