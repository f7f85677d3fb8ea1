//! A small argument parser: each command declares its flags in a table, and `--help` is
//! generated from that table, so help and behaviour cannot drift apart.

use netlab::l4::accept::Threads;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// One flag of a command.
pub struct Flag {
    /// Long name without dashes: `addr` for `--addr`.
    pub name: &'static str,
    /// A one-letter alias (`-X`), if any.
    pub short: Option<char>,
    /// The value's placeholder (`HOST:PORT`); `None` for a switch.
    pub value: Option<&'static str>,
    /// The value used when the flag is absent.
    pub default: Option<&'static str>,
    pub help: &'static str,
}

/// A long flag without a short alias: what most commands' tables are made of.
pub const fn flag(
    name: &'static str,
    value: Option<&'static str>,
    default: Option<&'static str>,
    help: &'static str,
) -> Flag {
    Flag {
        name,
        short: None,
        value,
        default,
        help,
    }
}

/// A command: `netlab echo server`.
pub struct Command {
    pub path: &'static str,
    pub about: &'static str,
    pub flags: &'static [Flag],
    /// Positional arguments as shown in usage, e.g. `[MESSAGE…]`.
    pub args: &'static str,
    /// How many positional arguments it takes at least and at most.
    pub min_args: usize,
    pub max_args: usize,
}

/// How a command line failed, and with which exit status.
#[derive(Debug)]
pub enum CliError {
    /// `--help` was asked for: print it and exit 0.
    Help(String),
    /// Exit 2.
    Usage(String),
    /// Exit 1.
    Runtime(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Help(s) | CliError::Usage(s) | CliError::Runtime(s) => f.write_str(s),
        }
    }
}

/// The exit status of a command whose stdout was closed under it: 128 + SIGPIPE, what a
/// shell reports for a C program that SIGPIPE ended.
pub const CLOSED_STDOUT: u8 = 141;

/// Standard output for everything netlab prints. std's `println!` panics when the reader has
/// gone (`netlab tour | head`: EPIPE, since Rust ignores SIGPIPE); here a closed stdout ends
/// the program at once, quietly, with status 141, as SIGPIPE's default action would.
pub struct Stdout;

fn closed_ends_it<T>(result: io::Result<T>) -> io::Result<T> {
    if let Err(e) = &result {
        if e.kind() == io::ErrorKind::BrokenPipe {
            // Exiting here drops nothing: the tour's keys are removed first.
            netlab::guide::remove_temp_dirs();
            std::process::exit(CLOSED_STDOUT.into());
        }
    }
    result
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        closed_ends_it(io::stdout().write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        closed_ends_it(io::stdout().flush())
    }
}

/// `println!` through [`Stdout`].
pub fn say(text: fmt::Arguments) {
    let mut out = Stdout;
    let _ = out.write_fmt(text);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// `print!` through [`Stdout`].
pub fn put(text: fmt::Arguments) {
    let mut out = Stdout;
    let _ = out.write_fmt(text);
    let _ = out.flush();
}

/// Any library error becomes a runtime failure (exit 1) with its own message.
pub fn runtime(e: impl fmt::Display) -> CliError {
    CliError::Runtime(e.to_string())
}

/// The parsed command line.
#[derive(Debug, Default)]
pub struct Matches {
    values: HashMap<&'static str, Vec<String>>,
    defaults: HashMap<&'static str, &'static str>,
    pub args: Vec<String>,
}

impl Matches {
    /// The flag's last value, or its default.
    pub fn get(&self, name: &str) -> Option<&str> {
        match self.values.get(name).and_then(|v| v.last()) {
            Some(v) => Some(v),
            None => self.defaults.get(name).copied(),
        }
    }

    /// Every value given for a repeatable flag (`-H a -H b`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.values
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Was the switch given?
    pub fn on(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The flag's value parsed as a number, or a usage error naming the flag.
    pub fn number<T: std::str::FromStr>(&self, cmd: &Command, name: &str) -> Result<T, CliError> {
        let raw = self.get(name).unwrap_or_default();
        raw.parse().map_err(|_| {
            CliError::Usage(format!(
                "--{name} takes a number, not '{raw}' (see {} --help)",
                cmd.path
            ))
        })
    }
}

impl Matches {
    /// The flag's value as a number of milliseconds.
    pub fn millis(&self, cmd: &Command, name: &str) -> Result<Duration, CliError> {
        Ok(Duration::from_millis(self.number::<u64>(cmd, name)?))
    }

    /// The flag's value as a number of milliseconds, at least one: a timeout of zero would
    /// mean "no timeout" to the socket calls it is given to.
    pub fn timeout(&self, cmd: &Command, name: &str) -> Result<Duration, CliError> {
        Ok(self.millis(cmd, name)?.max(Duration::from_millis(1)))
    }

    /// `--addr HOST:PORT` resolved to one address, or a usage error showing the form.
    pub fn addr(&self, cmd: &Command) -> Result<SocketAddr, CliError> {
        let raw = self.get("addr").unwrap_or_default();
        netlab::l4::echo::resolve(raw).map_err(|_| {
            CliError::Usage(format!(
                "bad address '{raw}': expected HOST:PORT such as 127.0.0.1:65432 (see {} --help)",
                cmd.path
            ))
        })
    }
}

/// What a verb runs once its flags are parsed.
pub type Verb = fn(&Matches) -> Result<(), CliError>;

/// `netlab AREA VERB [flags]`: finds the verb in `table`, parses its flags and runs it;
/// `--help` prints every verb's help, an unknown or missing verb is a usage error naming them.
pub fn dispatch(
    area: &str,
    table: &[(&str, &Command, Verb)],
    tail: &[String],
) -> Result<(), CliError> {
    let names: Vec<&str> = table.iter().map(|(n, _, _)| *n).collect();
    let listed = match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    match tail.split_first() {
        Some((verb, _)) if verb == "-h" || verb == "--help" => Err(CliError::Help(
            table
                .iter()
                .map(|(_, c, _)| help(c))
                .collect::<Vec<_>>()
                .join("\n"),
        )),
        Some((verb, args)) => match table.iter().find(|(n, _, _)| n == verb) {
            Some((_, cmd, run)) => run(&parse(cmd, args)?),
            None => Err(CliError::Usage(format!(
                "unknown verb '{verb}': use netlab {area} {listed}"
            ))),
        },
        None => Err(CliError::Usage(format!(
            "netlab {area} needs a verb: {listed}"
        ))),
    }
}

/// `--serial`, shared by every server: one connection at a time on the accept loop's own
/// thread, so a debugger's breakpoint stops the thread that accepted (see `l4::accept`).
pub const SERIAL: Flag = flag(
    "serial",
    None,
    None,
    "serve one connection at a time on the main thread (no thread per connection): for stepping through in a debugger",
);

impl Matches {
    /// `--serial` or not, as the accept loop's [`Threads`].
    pub fn threads(&self) -> Threads {
        if self.on("serial") {
            Threads::Serial
        } else {
            Threads::PerConnection
        }
    }
}

/// A port number from 1 to 65535, or a usage error.
pub fn port_number(cmd: &Command, raw: &str) -> Result<u16, CliError> {
    match raw.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(CliError::Usage(format!(
            "bad port '{raw}': expected a number from 1 to 65535 (see {} --help)",
            cmd.path
        ))),
    }
}

/// The one line a server prints on stdout when it is ready: `listening on tcp://127.0.0.1:PORT`
/// with the real port. Scripts and tests wait for it instead of sleeping.
pub fn listening(scheme: &str, addr: SocketAddr) {
    say(format_args!("listening on {scheme}://{addr}"));
}

/// The generated `--help` text.
pub fn help(cmd: &Command) -> String {
    let mut out = format!("{} — {}\n\nusage: {}", cmd.path, cmd.about, cmd.path);
    if !cmd.flags.is_empty() {
        out.push_str(" [flags]");
    }
    if !cmd.args.is_empty() {
        out.push(' ');
        out.push_str(cmd.args);
    }
    out.push_str("\n\nflags:\n");
    let mut rows: Vec<(String, String)> = cmd
        .flags
        .iter()
        .map(|f| {
            let mut left = match f.short {
                Some(c) => format!("-{c}, --{}", f.name),
                None => format!("    --{}", f.name),
            };
            if let Some(v) = f.value {
                left.push(' ');
                left.push_str(v);
            }
            let mut right = f.help.to_string();
            if let Some(d) = f.default {
                right.push_str(&format!(" (default: {d})"));
            }
            (left, right)
        })
        .collect();
    rows.push(("-h, --help".into(), "show this help".into()));
    rows.push((
        "    --trace".into(),
        "trace every layer to stderr (or NETLAB_TRACE=l4,http1,…)".into(),
    ));
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    for (l, r) in rows {
        out.push_str(&format!("  {l:<width$}  {r}\n"));
    }
    out
}

/// The flag that `word` names (`--name`, `--name=value`, `-X` or `-XPOST`), and its value
/// when the same word gives it.
fn flag_of<'c>(cmd: &'c Command, word: &str) -> Result<(&'c Flag, Option<String>), String> {
    if let Some(long) = word.strip_prefix("--") {
        let (name, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (long, None),
        };
        let flag = cmd
            .flags
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| format!("unknown flag --{name} for {}", cmd.path))?;
        return Ok((flag, inline));
    }
    // `-X` or `-XPOST`.
    let mut chars = word[1..].chars();
    let c = chars.next().unwrap_or('-');
    let rest: String = chars.collect();
    let flag = cmd
        .flags
        .iter()
        .find(|f| f.short == Some(c))
        .ok_or_else(|| format!("unknown flag -{c} for {}", cmd.path))?;
    Ok((flag, if rest.is_empty() { None } else { Some(rest) }))
}

/// Parses `argv` (the words after the command path) against the command's table.
pub fn parse(cmd: &Command, argv: &[String]) -> Result<Matches, CliError> {
    let mut m = Matches::default();
    for f in cmd.flags {
        if let Some(d) = f.default {
            m.defaults.insert(f.name, d);
        }
    }
    let usage = |msg: String| CliError::Usage(format!("{msg} (see {} --help)", cmd.path));
    let mut i = 0;
    let mut only_args = false;
    while i < argv.len() {
        let word = &argv[i];
        i += 1;
        if only_args || word == "-" || !word.starts_with('-') {
            m.args.push(word.clone());
            continue;
        }
        if word == "--" {
            only_args = true;
            continue;
        }
        if word == "-h" || word == "--help" {
            return Err(CliError::Help(help(cmd)));
        }
        let (flag, inline) = flag_of(cmd, word).map_err(usage)?;
        let value = match (flag.value, inline) {
            (None, None) => String::new(),
            (None, Some(_)) => return Err(usage(format!("--{} takes no value", flag.name))),
            (Some(_), Some(v)) => v,
            (Some(placeholder), None) => {
                let v = argv.get(i).ok_or_else(|| {
                    usage(format!("--{} needs a value: {placeholder}", flag.name))
                })?;
                i += 1;
                v.clone()
            }
        };
        m.values.entry(flag.name).or_default().push(value);
    }
    if m.args.len() < cmd.min_args {
        return Err(usage(format!("{} needs {}", cmd.path, cmd.args)));
    }
    if m.args.len() > cmd.max_args {
        return Err(usage(format!(
            "unexpected argument '{}' for {}",
            m.args[cmd.max_args], cmd.path
        )));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: Command = Command {
        path: "netlab test",
        about: "a test",
        flags: &[
            Flag {
                name: "addr",
                short: None,
                value: Some("HOST:PORT"),
                default: Some("127.0.0.1:1"),
                help: "where",
            },
            Flag {
                name: "udp",
                short: None,
                value: None,
                default: None,
                help: "UDP",
            },
            Flag {
                name: "header",
                short: Some('H'),
                value: Some("LINE"),
                default: None,
                help: "a header",
            },
        ],
        args: "[WORD…]",
        min_args: 0,
        max_args: 2,
    };

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_values_and_defaults() {
        let m = parse(&CMD, &words("a --udp --addr 1.2.3.4:5 b")).unwrap();
        assert_eq!(m.get("addr"), Some("1.2.3.4:5"));
        assert!(m.on("udp"));
        assert_eq!(m.args, ["a", "b"]);
        let m = parse(&CMD, &words("--addr=x:1 -H a -Hb")).unwrap();
        assert_eq!(m.get("addr"), Some("x:1"));
        assert_eq!(m.all("header"), ["a", "b"]);
        let m = parse(&CMD, &[]).unwrap();
        assert_eq!(m.get("addr"), Some("127.0.0.1:1"));
        assert!(!m.on("udp"));
        let m = parse(&CMD, &words("-- --udp")).unwrap();
        assert_eq!(m.args, ["--udp"]);
    }

    #[test]
    fn usage_errors() {
        for bad in ["--nope", "-Z", "--addr", "--udp=1", "a b c"] {
            match parse(&CMD, &words(bad)) {
                Err(CliError::Usage(msg)) => assert!(msg.contains("--help"), "{msg}"),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn help_lists_flags_with_defaults() {
        let Err(CliError::Help(h)) = parse(&CMD, &words("--help")) else {
            panic!("no help")
        };
        assert!(h.contains("--addr HOST:PORT"), "{h}");
        assert!(h.contains("(default: 127.0.0.1:1)"), "{h}");
        assert!(h.contains("-H, --header LINE"), "{h}");
        assert!(h.contains("--trace"), "{h}");
    }
}
