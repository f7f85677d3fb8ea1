//! Step-through recipes: every step of scripts/debug/steps.tsv (the table behind
//! `make debug STEP=NAME` and docs/debugging.md) runs under rust-gdb in batch mode, and its
//! breakpoint must be hit and print the request or frame with the fields the table expects.

mod common;
use common::*;
use std::time::Duration;

const TABLE: &str = include_str!("../scripts/debug/steps.tsv");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/debug/run.sh");

struct Step<'a> {
    name: &'a str,
    brk: &'a str,
    expect: Vec<&'a str>,
}

fn steps() -> Vec<Step<'static>> {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 8, "a row of steps.tsv has 8 columns: {l}");
            Step {
                name: c[0],
                brk: c[3],
                expect: c[6].split('|').collect(),
            }
        })
        .collect()
}

fn run_step(name: &str) -> String {
    let out = run(
        SCRIPT,
        &[name, "--batch"],
        b"",
        &[("NETLAB", NETLAB), ("LIMIT", "60")],
        Duration::from_secs(120),
    );
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "step {name}:\n{all}");
    all
}

fn check(step: &Step) {
    let out = run_step(step.name);
    // The breakpoint on the step's function was hit (gdb names the function it stopped in).
    let function = step.brk.split(" if ").next().unwrap();
    assert!(
        out.contains("hit Breakpoint 1, ") || out.contains("\nBreakpoint 1, "),
        "step {}: breakpoint never hit:\n{out}",
        step.name
    );
    assert!(
        out.contains(&format!("Breakpoint 1, {function} (")),
        "step {}: stopped elsewhere than {function}:\n{out}",
        step.name
    );
    for want in &step.expect {
        assert!(
            out.contains(want),
            "step {}: {want:?} missing from what gdb printed:\n{out}",
            step.name
        );
    }
    // Killed at the end: nothing of the step keeps running.
    assert!(
        out.contains("killed]"),
        "step {}: not killed:\n{out}",
        step.name
    );
}

fn step(name: &str) -> Step<'static> {
    steps()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in steps.tsv"))
}

#[test]
fn http1_parse_stops_in_parse_request_on_the_main_thread() {
    require("gdb");
    check(&step("http1-parse"));
}

#[test]
fn http1_handler_shows_the_request_the_handler_gets() {
    require("gdb");
    check(&step("http1-handler"));
}

#[test]
fn zmtp_shows_the_ready_command_as_text() {
    require("gdb");
    check(&step("zmtp"));
}

#[test]
fn h2_frame_shows_the_clients_headers_frame() {
    require("gdb");
    check(&step("h2-frame"));
}

#[test]
fn hpack_shows_the_decoded_fields() {
    require("gdb");
    check(&step("hpack"));
}

#[test]
fn grpc_frame_shows_the_length_prefixed_message() {
    require("gdb");
    check(&step("grpc-frame"));
}

#[test]
fn poll_loop_shows_a_ready_connection_on_the_loops_thread() {
    require("gdb");
    check(&step("poll-loop"));
}

#[test]
fn stun_shows_a_binding_request_and_the_reply() {
    require("gdb");
    check(&step("stun"));
}

#[test]
fn dtls_shows_the_handshake_result() {
    require("gdb");
    check(&step("dtls"));
}

#[test]
fn sctp_shows_a_user_message_from_its_data_chunk() {
    require("gdb");
    check(&step("sctp"));
}

#[test]
fn dcep_shows_an_open_and_its_answer() {
    require("gdb");
    check(&step("dcep"));
}

#[test]
fn quic_datagram_shows_the_clients_initial_before_quiche() {
    require("gdb");
    check(&step("quic-datagram"));
}

#[test]
fn every_step_is_tested_and_documented() {
    let tested = include_str!("debug.rs");
    let guide = include_str!("../docs/debugging.md");
    for s in steps() {
        assert!(
            tested.contains(&format!("step(\"{}\")", s.name)),
            "step {} has no test here",
            s.name
        );
        assert!(
            guide.contains(&format!("STEP={}", s.name)),
            "step {} is not in docs/debugging.md",
            s.name
        );
    }
}

#[test]
fn an_unknown_step_names_the_known_ones() {
    let out = run(SCRIPT, &["nosuch"], b"", &[], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("no step 'nosuch': choose one of http1-parse http1-handler"),
        "{err}"
    );
}

#[test]
fn serial_echo_server_serves_on_the_accept_loops_thread() {
    // Two clients in turn; the trace says where each was served.
    let mut server = spawn_netlab(
        &[
            "--trace=l4",
            "echo",
            "server",
            "--serial",
            "--addr",
            "127.0.0.1:0",
        ],
        &[],
    );
    let addr = server.listening();
    for word in ["one", "two"] {
        let out = run_netlab(
            &["echo", "client", "--addr", &addr.to_string(), word],
            b"",
            &[],
            Duration::from_secs(10),
        );
        assert_eq!(text(&out.stdout), format!("{word}\n"));
    }
    let err = server.stderr_so_far();
    assert_eq!(
        err.matches("served on the accept loop's thread (serial)")
            .count(),
        2,
        "{err}"
    );
}

#[test]
fn launch_json_has_the_same_targets_as_the_table() {
    let launch: serde_json::Value =
        serde_json::from_str(include_str!("../.vscode/launch.json")).expect("launch.json parses");
    let confs = launch["configurations"].as_array().expect("configurations");
    let table = steps();
    assert_eq!(confs.len(), table.len(), "one configuration per step");
    for (c, s) in confs.iter().zip(&table) {
        let name = c["name"].as_str().unwrap();
        assert!(name.starts_with(&format!("netlab {}: ", s.name)), "{name}");
        assert_eq!(c["type"], "lldb", "CodeLLDB's type");
        let function = s.brk.split(" if ").next().unwrap();
        let set = c["preRunCommands"][0].as_str().unwrap();
        assert!(
            set.starts_with(&format!("breakpoint set -n {function}")),
            "{name}: {set}"
        );
    }
}
