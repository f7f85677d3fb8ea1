//! Lab 08 check: serves your `Counter` with netlab's gRPC server (h2c, in this process) and
//! calls it with a real gRPC client: grpcio, with stubs that grpcio-tools generates from
//! `lab.proto` when the check starts. Run: `make check LAB=08`.

#[path = "../common.rs"]
mod common;
#[path = "counter.rs"]
mod counter;
#[path = "solution.rs"]
mod solution;

common::wrong_solutions! {
    fn service(m) -> Arc<dyn Service> { Arc::new(m::Counter) }
    student counter, solution solution;
    swapped_fields fails [1, 2, 3]: "gives Total's sum and count each other's field numbers";
    collect_then_reply fails [3]: "reads the whole stream before answering any of it";
    ok_on_empty fails [5]: "answers an empty Add with OK and 0, not INVALID_ARGUMENT";
    sum_overflows fails [6]: "sums with +, which overflows instead of OUT_OF_RANGE";
    int64_not_sint64 fails [2, 3, 6]: "declares the numbers int64 where lab.proto says sint64 (ZigZag)";
    running_not_listed fails [3, 4]: "leaves Running out of methods(), so the server answers UNIMPLEMENTED";
}

use common::{Check, show};
use netlab::grpc::call::Service;
use netlab::http2::server::{Config, Security, spawn_app};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const LAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/labs/08-grpc-method");
const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");

/// The project's Python with grpcio and grpcio-tools, or the one line that says what to do.
fn python() -> Result<&'static str, String> {
    let ok = Command::new(PYTHON)
        .args(["-c", "import grpc, grpc_tools"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(PYTHON)
    } else {
        Err(format!(
            "error: the gRPC peer is missing ({PYTHON} with grpcio and grpcio-tools): run `make deps`"
        ))
    }
}

/// grpcio-tools' Python stubs for lab.proto, in a directory of their own.
fn stubs(python: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("netlab-lab08-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = Command::new(python)
        .args(["-m", "grpc_tools.protoc", "-I", LAB])
        .arg(format!("--python_out={}", dir.display()))
        .arg(format!("--grpc_python_out={}", dir.display()))
        .arg("lab.proto")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "grpc_tools.protoc failed on lab.proto: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(dir)
}

/// Runs client.py against the server; returns what it saw, case by case.
fn run_client(python: &str, stubs: &Path, target: &str) -> Result<HashMap<String, String>, String> {
    let child = Command::new(python)
        .arg(format!("{LAB}/client.py"))
        .arg(stubs)
        .arg(target)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the Python client: {e}"))?;
    // Every call of the client has a deadline (26 s in all), well within the check's limit.
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "the Python client failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// What the client saw: each case's line, or why it could not run.
type Seen = Result<HashMap<String, String>, String>;

fn line<'a>(seen: &'a Seen, case: &str) -> Result<&'a str, String> {
    let seen = seen.as_ref().map_err(Clone::clone)?;
    Ok(seen
        .get(case)
        .map(String::as_str)
        .unwrap_or("(no line from the client)"))
}

/// One case: what grpcio saw must be `want` exactly; `likely` names the probable cause.
fn exactly(seen: &Seen, case: &str, call: &str, want: &str, likely: &str) -> Result<(), String> {
    let got = line(seen, case)?;
    if got == want {
        Ok(())
    } else {
        let likely = likely_from(got, likely);
        Err(format!(
            "{call}: expected {}, grpcio saw {}\n      likely: {likely}",
            show(want),
            show(got)
        ))
    }
}

/// The likely cause when grpcio saw `got`: what the status itself says (a method not
/// listed, one not written, a panic) before the step's own guess `otherwise`.
fn likely_from<'a>(got: &str, otherwise: &'a str) -> &'a str {
    match got.split_once(':') {
        Some(("UNIMPLEMENTED", m)) if m.contains("this server has") => {
            "the server answered UNIMPLEMENTED before calling your service: is the method in methods()?"
        }
        Some(("UNIMPLEMENTED", _)) => {
            "your call() answered UNIMPLEMENTED: write this method's arm of the match on call.method"
        }
        Some(("UNKNOWN", _)) => "UNKNOWN is what a panic in the handler becomes",
        _ => otherwise,
    }
}

/// One error case: the status by name, and a message that says something; `likely` names
/// the probable cause when another status came.
fn status(seen: &Seen, case: &str, call: &str, code: &str, likely: &str) -> Result<(), String> {
    let got = line(seen, case)?;
    match got.split_once(": ") {
        Some((c, message)) if c == code && !message.trim().is_empty() => Ok(()),
        Some((c, _)) if c == code => Err(format!(
            "{call}: the status is {code}, but its message is empty: say what was wrong"
        )),
        _ => Err(format!(
            "{call}: expected the status {code} with a message, grpcio saw {}\n      likely: {}",
            show(got),
            likely_from(got, likely)
        )),
    }
}

fn main() {
    let (mut check, subject) = Check::start(
        "08 (a gRPC service: one unary method, one stream)",
        "labs/08-grpc-method/counter.rs",
        WRONG,
        Duration::from_secs(40),
    );
    let python = python().unwrap_or_else(|e| {
        println!("{e}");
        std::process::exit(1)
    });
    let stubs = stubs(python).unwrap_or_else(|e| {
        println!("error: {e}");
        std::process::exit(1)
    });
    let listener = TcpListener::bind(check.listen_addr("127.0.0.1:50051")).unwrap_or_else(|e| {
        println!("cannot bind: {e}");
        std::process::exit(1)
    });
    let app = netlab::grpc::server::app(service(&subject));
    let config = Config {
        http1: check.http_config(),
        ..Config::default()
    };
    let server = spawn_app(listener, app, config, Security::Cleartext).unwrap_or_else(|e| {
        println!("cannot start the gRPC server: {e}");
        std::process::exit(1)
    });
    check.serve(
        &format!("http://{}", server.addr()),
        &[&format!(
            "{python} labs/08-grpc-method/client.py {} {}   (grpcio makes every call of the check; stubs generated from lab.proto)",
            stubs.display(),
            server.addr()
        )],
    );
    // One run of the client makes every call; each step then judges one of them.
    let seen = run_client(python, &stubs, &server.addr().to_string());
    let _ = std::fs::remove_dir_all(&stubs);

    check.step(
        "Add: the sum and the count of the values, and the label back",
        || {
            exactly(
                &seen,
                "add",
                "Add(values=[1, 2, 3, 4], label=\"four\")",
                "sum=10 count=4 label=four",
                "compare your structs with lab.proto, field by field: the number of each field and its type (sint64 is ZigZag-encoded: read as int64, 1 is 2)",
            )
        },
    );
    check.step(
        "Add: every field with lab.proto's number and type (sint64 values, negative ones too): the reply's bytes are protobuf's",
        || {
            let got = line(&seen, "fields")?;
            match got.split_once(" (expected ") {
                Some((bytes, want)) if want.strip_suffix(')') == Some(bytes) => Ok(()),
                Some((bytes, want)) => Err(format!(
                    "Add(values=[-5, 7, -2**40], label=\"mixed\") answered the bytes {bytes}; protobuf encodes Total(sum={}, count=3, label=\"mixed\") as {} (each field: tag = number << 3 | wire type)\n      likely: a field with another number or type than lab.proto's (sint64, not int64: negative numbers are ZigZag-encoded)",
                    -5 + 7 - (1i64 << 40),
                    want.trim_end_matches(')')
                )),
                None => Err(format!("Add(values=[-5, 7, -2**40], label=\"mixed\"): grpcio saw {}", show(got))),
            }
        },
    );
    check.step(
        "Running: one total per number, each sent as its number arrives (the client waits for each answer before sending the next)",
        || {
            exactly(
                &seen,
                "running",
                "Running(5, 7, -2), in turns",
                "5/1 12/2 10/3",
                "a total missing: send each as soon as its number is in (call.send inside the loop over call.recv), for the client sends its next number only after it has the last total; totals wrong: compare Number and Total with lab.proto (field numbers, sint64)",
            )
        },
    );
    check.step(
        "Running: an empty stream gets no totals and the status OK",
        || {
            exactly(
                &seen,
                "empty",
                "Running() with no numbers",
                "0 totals, OK",
                "no number, no total: send only inside the loop, and end with Ok(())",
            )
        },
    );
    check.step(
        "Add with no values: INVALID_ARGUMENT, with a message that says why",
        || {
            status(
                &seen,
                "invalid",
                "Add(values=[])",
                "INVALID_ARGUMENT",
                "an empty values list is the caller's mistake: return Err(Status::new(Code::INVALID_ARGUMENT, why)) before summing",
            )
        },
    );
    check.step(
        "Add past the range of sint64: OUT_OF_RANGE, not a panic (UNKNOWN) or a wrapped sum",
        || {
            status(
                &seen,
                "overflow",
                "Add(values=[2**63 - 1, 1])",
                "OUT_OF_RANGE",
                "sum with checked_add and answer OUT_OF_RANGE when it returns None (UNKNOWN means the handler panicked on overflow; OK means the sum wrapped)",
            )
        },
    );
    check.step("a method lab.proto does not have: UNIMPLEMENTED", || {
        status(
            &seen,
            "unknown",
            "/netlab.lab.Counter/Multiply",
            "UNIMPLEMENTED",
            "a method not in methods() is answered by the server itself; one in the list but not in your match needs Err(Status::new(Code::UNIMPLEMENTED, …))",
        )
    });
    server.stop();
    check.finish();
}
