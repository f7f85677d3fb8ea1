//! Every lab check is meaningful: it passes on the reference solution and fails on the
//! starter file, naming the step that failed.

mod common;
use common::*;
use std::time::Duration;

fn check(lab: &str, solution: bool) -> (Option<i32>, String) {
    let exe = examples_dir().join(lab);
    assert!(
        exe.exists(),
        "{} is missing: cargo test builds the examples",
        exe.display()
    );
    let args: &[&str] = if solution { &["--solution"] } else { &[] };
    let out = run(
        exe.to_str().unwrap(),
        args,
        b"",
        &[],
        Duration::from_secs(60),
    );
    (out.status.code(), text(&out.stdout))
}

fn passes_on_solution_fails_on_starter(lab: &str, steps: usize) {
    let (code, report) = check(lab, true);
    assert_eq!(code, Some(0), "{lab} --solution:\n{report}");
    assert_eq!(report.matches("✓ step").count(), steps, "{report}");
    let (code, report) = check(lab, false);
    assert_eq!(code, Some(1), "{lab} on the starter must fail:\n{report}");
    assert!(
        report.contains("✗ step"),
        "a failing step is named:\n{report}"
    );
}

#[test]
fn lab01_echo_handler() {
    passes_on_solution_fails_on_starter("lab01", 9);
}

#[test]
fn lab02_socket_states() {
    passes_on_solution_fails_on_starter("lab02", 4);
    let (_, report) = check("lab02", false);
    assert!(
        report.contains("CLOSE-WAIT"),
        "the starter's failure shows the CLOSE-WAIT sockets:\n{report}"
    );
}

#[test]
fn lab03_chunked_decoding() {
    passes_on_solution_fails_on_starter("lab03", 13);
}

#[test]
fn lab04_resource_handler() {
    passes_on_solution_fails_on_starter("lab04", 10);
}

#[test]
fn lab05_rest_and_soap() {
    passes_on_solution_fails_on_starter("lab05", 8);
}

#[test]
fn lab06_zmq_kv() {
    passes_on_solution_fails_on_starter("lab06", 9);
}
