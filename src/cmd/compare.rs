//! `netlab compare`: the same exchange over every transport, as a table (or JSON); with
//! `--loss`, parallel streams over HTTP/1.1, HTTP/2 and HTTP/3 on a lossy path; with
//! `--rebind`, a download over HTTPS, HTTP/2 and HTTP/3 while the client's address changes.

use crate::cli::{self, CliError, Command, Matches, flag, runtime};
use netlab::compare::{self, exchange::Kind, exchange::Servers, hol, rebind};
use std::process::Stdio;

pub const COMPARE: Command = Command {
    path: "netlab compare",
    about: "one exchange over every transport, side by side; --loss: head-of-line blocking on a lossy path; --rebind: a download while the client's address changes",
    flags: &[
        flag(
            "size",
            Some("BYTES"),
            Some("4000000"),
            "the bulk transfer: this many bytes there and back (with --rebind: the file's size, at least 100000); at most 8388608 (8 MiB, the HTTP/1.1 server's body limit)",
        ),
        flag("json", None, None, "print JSON instead of a table"),
        flag(
            "rebind",
            None,
            None,
            "download a --size file over HTTPS, HTTP/2 and HTTP/3 (netlab's servers; ngtcp2's gtlsserver too for HTTP/3, when installed) while the client's address changes halfway, and say what became of each connection",
        ),
        flag(
            "loss",
            Some("PERCENT"),
            None,
            "parallel downloads on a path (a network namespace of its own) that drops this share of the servers' packets",
        ),
        flag(
            "streams",
            Some("N"),
            Some("4"),
            "with --loss: parallel streams (connections, for HTTP/1.1)",
        ),
        flag(
            "stream-size",
            Some("BYTES"),
            Some("1000000"),
            "with --loss: bytes per stream",
        ),
        flag(
            "stall-ms",
            Some("MS"),
            Some("20"),
            "with --loss: a gap of at least this long in one stream counts as a stall",
        ),
        flag(
            "svg",
            Some("FILE"),
            None,
            "with --loss: write the chart (bytes over time per stream, one panel per version)",
        ),
    ],
    args: "",
    min_args: 0,
    max_args: 0,
};

pub const COMMANDS: &[&Command] = &[&COMPARE];

/// Set in the copy of this command that runs inside the namespace.
const INSIDE: &str = "NETLAB_COMPARE_INSIDE_NAMESPACE";

pub fn run(tail: &[String]) -> Result<(), CliError> {
    let m = cli::parse(&COMPARE, tail)?;
    if m.get("loss").is_some() {
        return lossy(&m);
    }
    if m.on("rebind") {
        return rebind(&m);
    }
    let size: usize = m.number(&COMPARE, "size")?;
    compare::check_size(size).map_err(|e| CliError::Usage(e.to_string()))?;
    let servers = Servers::start().map_err(runtime)?;
    let mut rows = Vec::new();
    for kind in Kind::ALL {
        rows.push(compare::measure(kind, &servers, size).map_err(runtime)?);
    }
    let blocks = compare::h2_header_blocks(&servers).map_err(runtime)?;
    if m.on("json") {
        let mut v = compare::json(&rows, size);
        v["http2_header_blocks_of_two_identical_gets"] = serde_json::json!(blocks);
        cli::put(format_args!("{v:#}\n"));
    } else {
        cli::put(format_args!("{}", compare::table(&rows, size)));
        if let [first, second, ..] = blocks[..] {
            cli::put(format_args!(
                "HTTP/2 header block of a GET: {first} bytes; the same GET again on the connection: {second} bytes (HPACK names the fields by their index in its dynamic table).\n"
            ));
        }
    }
    Ok(())
}

/// `--rebind`: the file downloaded with and without a change of the client's address.
fn rebind(m: &Matches) -> Result<(), CliError> {
    let size: usize = m.number(&COMPARE, "size")?;
    rebind::check_size(size).map_err(|e| CliError::Usage(e.to_string()))?;
    let mut site = rebind::Site::start(size).map_err(runtime)?;
    let (rows, no_reference) = rebind::measure_all(&mut site).map_err(runtime)?;
    if m.on("json") {
        let mut v = rebind::json(&rows, size);
        v["reference_row_missing"] = serde_json::json!(no_reference);
        cli::put(format_args!("{v:#}\n"));
    } else {
        cli::put(format_args!("{}", rebind::table(&rows, size)));
        if let Some(why) = no_reference {
            cli::put(format_args!("No row for ngtcp2's server: {why}\n"));
        }
    }
    Ok(())
}

fn lossy(m: &Matches) -> Result<(), CliError> {
    let loss: f64 = m.number(&COMPARE, "loss")?;
    if !(0.5..=50.0).contains(&loss) {
        return Err(CliError::Usage(
            "--loss: a percentage from 0.5 to 50".into(),
        ));
    }
    let setup = hol::Setup {
        loss,
        streams: m.number(&COMPARE, "streams")?,
        size: m.number(&COMPARE, "stream-size")?,
    };
    if setup.streams == 0 || setup.streams > 16 {
        return Err(CliError::Usage("--streams: 1 to 16".into()));
    }
    if std::env::var_os(INSIDE).is_none() {
        // Make the namespace and run this very command inside it.
        let can = std::process::Command::new("unshare")
            .args(["-n", "true"])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !can {
            return Err(CliError::Runtime(
                "--loss needs a network namespace of its own, and this user cannot make one (root and unshare(1) are needed)".into(),
            ));
        }
        let me = std::env::current_exe().map_err(runtime)?;
        // exec, not spawn: unshare(1) then becomes this very process (same PID), so whoever
        // started the command can stop it, namespace and all, by that PID.
        use std::os::unix::process::CommandExt;
        let e = std::process::Command::new("unshare")
            .arg("-n")
            .arg(me)
            .args(std::env::args().skip(1))
            .env(INSIDE, "1")
            .exec();
        return Err(CliError::Runtime(format!("cannot run unshare: {e}")));
    }
    let stall_ms: f64 = m.number(&COMPARE, "stall-ms")?;
    let runs = hol::run_here(setup).map_err(runtime)?;
    if m.on("json") {
        let v: Vec<serde_json::Value> = runs
            .iter()
            .map(|a| {
                serde_json::json!({
                    "version": a.version,
                    "done_ms": hol::finish_ms(a),
                    "stalls": hol::stalls(a, stall_ms).len(),
                    "shared_stall_fraction": hol::shared(a, stall_ms),
                    "streams": a.streams,
                })
            })
            .collect();
        cli::put(format_args!(
            "{:#}\n",
            serde_json::json!({ "loss_percent": loss, "runs": v })
        ));
    } else {
        cli::put(format_args!(
            "{} streams of {} bytes each; every {}th packet from the servers dropped ({loss} %):\n{}",
            setup.streams,
            setup.size,
            (100.0 / loss).round(),
            hol::summary(&runs, stall_ms)
        ));
    }
    if let Some(path) = m.get("svg") {
        let title = format!(
            "{} parallel downloads of {} bytes, {loss} % of the servers' packets dropped",
            setup.streams, setup.size
        );
        std::fs::write(path, compare::svg::chart(&runs, &title, stall_ms))
            .map_err(|e| CliError::Runtime(format!("cannot write {path}: {e}")))?;
        eprintln!("chart written to {path}");
    }
    Ok(())
}
