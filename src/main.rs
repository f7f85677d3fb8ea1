//! The `netlab` command: parses arguments, calls the library, prints. No protocol logic here.
//!
//! Exit status: 0 success, 1 runtime failure, 2 usage error; errors are one line `error: …`.

mod cli;
mod cmd;

use cli::{CliError, Command, Flag, Matches, runtime};
use netlab::{tour, trace};
use std::io;
use std::process::ExitCode;

const TOUR: Command = Command {
    path: "netlab tour",
    about: "run every exchange of the course on loopback, step by step (trace on)",
    flags: &[Flag {
        name: "quiet",
        short: Some('q'),
        value: None,
        default: None,
        help: "no trace, only the narration",
    }],
    args: "[SECTION]",
    min_args: 0,
    max_args: 1,
};

/// Every area's commands, in the order of the course, for `netlab --help`.
fn all_commands() -> Vec<&'static Command> {
    let mut all: Vec<&'static Command> = Vec::new();
    all.extend_from_slice(cmd::l4::COMMANDS);
    all.extend_from_slice(cmd::zmq::COMMANDS);
    all.push(&cmd::tap::TAP);
    all.extend_from_slice(cmd::http::COMMANDS);
    all.extend_from_slice(cmd::h2::COMMANDS);
    all.extend_from_slice(cmd::grpc::COMMANDS);
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
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(CliError::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(CliError::Runtime(msg)) => {
            eprintln!("error: {msg}");
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
        "zmq" => cmd::zmq::run(tail),
        "tap" => cmd::tap::run(tail),
        "tour" => tour_cmd(&cli::parse(&TOUR, tail)?),
        other => Err(CliError::Usage(format!(
            "unknown command '{other}' (see netlab --help)"
        ))),
    }
}

fn tour_cmd(m: &Matches) -> Result<(), CliError> {
    if !m.on("quiet") && std::env::var_os("NETLAB_TRACE").is_none() {
        trace::enable_all();
    }
    tour::run(m.args.first().map(String::as_str), Box::new(io::stdout())).map_err(runtime)?;
    println!("\ntour finished: every exchange succeeded");
    Ok(())
}
