//! `quic_interop`: the QUIC interop runner's cases against aioquic and ngtcp2, both roles,
//! offline (`make interop`). Prints the matrix and writes it to `--out FILE`.
//!
//! ```text
//! quic_interop [--cases a,b,...] [--columns 1,3] [--out FILE]
//! ```
//!
//! netlab is the `netlab` binary next to this example's folder (cargo builds both into the
//! same target directory: `cargo build --bin netlab --example quic_interop`).

#[path = "mod.rs"]
mod interop;

use interop::{COLUMNS, Settings, cases};
use std::time::Instant;

fn main() {
    // NETLAB_TRACE=l4 shows the relay's impairments (which datagram was lost or corrupted).
    let _ = netlab::trace::enable_from_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut only: Option<Vec<String>> = None;
    let mut out = None;
    let mut columns: Vec<usize> = (1..=COLUMNS.len()).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--cases", Some(v)) => only = Some(v.split(',').map(String::from).collect()),
            ("--out", Some(v)) => out = Some(v.clone()),
            ("--columns", Some(v)) => {
                columns = v.split(',').filter_map(|c| c.parse().ok()).collect()
            }
            _ => {
                eprintln!("usage: quic_interop [--cases a,b,...] [--columns 1,3] [--out FILE]");
                std::process::exit(2);
            }
        }
    }
    let exe = std::env::current_exe().expect("own path");
    let netlab = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("netlab"))
        .filter(|p| p.exists());
    let Some(netlab) = netlab else {
        eprintln!(
            "error: no netlab binary next to {}: cargo build --bin netlab",
            exe.display()
        );
        std::process::exit(1);
    };
    let s = Settings::new(netlab);
    let missing = s.missing();
    if !missing.is_empty() {
        eprintln!(
            "error: missing peers: {} (make deps installs them)",
            missing.join(", ")
        );
        std::process::exit(1);
    }
    let started = Instant::now();
    let mut rows = Vec::new();
    for case in cases::all() {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == case.name))
        {
            continue;
        }
        let mut cells = Vec::new();
        for (i, (role, peer, title)) in COLUMNS.into_iter().enumerate() {
            let t = Instant::now();
            let cell = if columns.contains(&(i + 1)) {
                interop::run_cell(&s, &case, peer, role)
            } else {
                interop::Cell::Gap("not run (--columns)".into())
            };
            eprintln!(
                "{:<20} {title:<26} {:>6.1} s  {}",
                case.name,
                t.elapsed().as_secs_f64(),
                cell.show()
            );
            cells.push(cell);
        }
        rows.push((case.name.to_string(), cells));
    }
    let matrix = interop::render(&rows);
    let passed = rows
        .iter()
        .flat_map(|(_, c)| c)
        .filter(|c| **c == interop::Cell::Pass)
        .count();
    let total = rows.len() * COLUMNS.len();
    let footer = format!(
        "\n{passed} of {total} cells ✓, in {:.0} s.\n",
        started.elapsed().as_secs_f64()
    );
    print!("{matrix}{footer}");
    if let Some(path) = out {
        if let Some(dir) = std::path::Path::new(&path).parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&path, format!("{matrix}{footer}")) {
            eprintln!("error: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
}
