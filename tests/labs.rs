//! Every lab check is meaningful: it passes on the reference solution, fails on the starter
//! file, and fails on each plausible wrong solution kept in `labs/NN-topic/wrong/`, at the
//! step that is there to catch that mistake.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::time::Duration;

/// Runs a lab's check with `args` (`--solution`, `--wrong NAME`, or none for the starter).
fn check(lab: &str, args: &[&str]) -> (Option<i32>, String) {
    let exe = examples_dir().join(lab);
    assert!(
        exe.exists(),
        "{} is missing: cargo test builds the examples",
        exe.display()
    );
    let out = run(
        exe.to_str().unwrap(),
        args,
        b"",
        &[],
        Duration::from_secs(90),
    );
    (out.status.code(), text(&out.stdout))
}

/// The numbers of the steps a report marks `✗`.
fn failed_steps(report: &str) -> BTreeSet<usize> {
    report
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("✗ step "))
        .filter_map(|rest| rest.split(':').next()?.parse().ok())
        .collect()
}

fn passes_on_solution_fails_on_starter(lab: &str, steps: usize) {
    let (code, report) = check(lab, &["--solution"]);
    assert_eq!(code, Some(0), "{lab} --solution:\n{report}");
    assert_eq!(report.matches("✓ step").count(), steps, "{report}");
    let (code, report) = check(lab, &[]);
    assert_eq!(code, Some(1), "{lab} on the starter must fail:\n{report}");
    assert!(
        report.contains("✗ step"),
        "a failing step is named:\n{report}"
    );
}

/// The names of the files in `labs/<dir>/wrong/` (without `.rs`).
fn wrong_files(dir: &str) -> BTreeSet<String> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("labs")
        .join(dir)
        .join("wrong");
    std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// A lab's own table of wrong solutions, as its check prints it with `--list-wrong`
/// (`NAME<TAB>STEPS<TAB>MISTAKE`): (name, the steps it must fail, the mistake).
fn wrong_table(lab: &str) -> Vec<(String, BTreeSet<usize>, String)> {
    let (code, listing) = check(lab, &["--list-wrong"]);
    assert_eq!(code, Some(0), "{lab} --list-wrong:\n{listing}");
    listing
        .lines()
        .map(|line| {
            let mut cols = line.split('\t');
            let (Some(name), Some(steps), Some(mistake), None) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                panic!("{lab} --list-wrong: not NAME<TAB>STEPS<TAB>MISTAKE: {line:?}");
            };
            let steps = steps
                .split(',')
                .map(|n| {
                    n.parse()
                        .unwrap_or_else(|_| panic!("a step number: {line:?}"))
                })
                .collect();
            (name.to_string(), steps, mistake.to_string())
        })
        .collect()
}

/// Every wrong solution the lab's check lists (`--list-wrong`) is a file of
/// `labs/<dir>/wrong/` and every file there is listed, with a one-line mistake; the check
/// fails each exactly at the steps its table names.
fn fails_on_its_wrong_solutions(lab: &str, dir: &str) {
    let table = wrong_table(lab);
    let listed: BTreeSet<String> = table.iter().map(|(n, _, _)| n.clone()).collect();
    assert_eq!(
        wrong_files(dir),
        listed,
        "labs/{dir}/wrong/ and the check's wrong_solutions! table differ"
    );
    for (name, steps, mistake) in &table {
        assert!(!steps.is_empty(), "{name}: which steps must fail?");
        assert!(
            !mistake.trim().is_empty(),
            "{name}: say the mistake in one line"
        );
        fails_exactly(lab, name, steps);
    }
    assert!(table.len() >= 2, "at least two wrong solutions per lab");
}

/// The check fails on `wrong/<name>.rs`, names that file, and fails exactly `steps`.
fn fails_exactly(lab: &str, name: &str, steps: &BTreeSet<usize>) {
    let (code, report) = check(lab, &["--wrong", name]);
    assert_eq!(
        code,
        Some(1),
        "{lab} must fail on wrong/{name}.rs:\n{report}"
    );
    assert!(
        report.contains(&format!("wrong/{name}.rs")),
        "the report names the file it checked:\n{report}"
    );
    assert_eq!(
        &failed_steps(&report),
        steps,
        "wrong/{name}.rs must fail exactly steps {steps:?}:\n{report}"
    );
}

#[test]
fn lab01_echo_handler() {
    passes_on_solution_fails_on_starter("lab01", 10);
    fails_on_its_wrong_solutions("lab01", "01-echo-handler");
}

#[test]
fn lab01_failure_shows_lengths_not_runs_of_x() {
    let (_, report) = check("lab01", &["--wrong", "limit_1000"]);
    assert!(
        report.contains(r#""x" × 1024 + "\n" in 5 writes"#),
        "a long input is summarised with its length:\n{report}"
    );
    assert!(!report.contains(&"x".repeat(80)), "{report}");
}

#[test]
fn lab02_socket_states() {
    passes_on_solution_fails_on_starter("lab02", 4);
    let (_, report) = check("lab02", &[]);
    assert!(
        report.contains("CLOSE-WAIT"),
        "the starter's failure shows the CLOSE-WAIT sockets:\n{report}"
    );
    fails_on_its_wrong_solutions("lab02", "02-socket-states");
}

#[test]
fn lab03_chunked_decoding() {
    passes_on_solution_fails_on_starter("lab03", 14);
    fails_on_its_wrong_solutions("lab03", "03-chunked");
}

#[test]
fn lab04_resource_handler() {
    passes_on_solution_fails_on_starter("lab04", 13);
    fails_on_its_wrong_solutions("lab04", "04-handler");
}

#[test]
fn lab04_failure_shows_the_body_as_sent() {
    let (_, report) = check("lab04", &["--wrong", "if_match_put_only"]);
    // The body "N\n", quoted and escaped, not trimmed to N.
    assert!(
        report.contains(r#"got 200 with body ""#) && report.contains(r#"\n""#),
        "{report}"
    );
}

#[test]
fn lab05_rest_and_soap() {
    passes_on_solution_fails_on_starter("lab05", 8);
    fails_on_its_wrong_solutions("lab05", "05-rest-soap");
}

#[test]
fn lab06_zmq_kv() {
    passes_on_solution_fails_on_starter("lab06", 9);
    fails_on_its_wrong_solutions("lab06", "06-zmq-kv");
}

#[test]
fn lab07_hpack() {
    passes_on_solution_fails_on_starter("lab07", 13);
    fails_on_its_wrong_solutions("lab07", "07-hpack");
}

#[test]
fn lab07_failure_shows_the_rfc_table() {
    let (_, report) = check("lab07", &["--wrong", "no_plus_32"]);
    // The table as RFC 7541 Appendix C prints it, and the rule that was broken.
    assert!(
        report.contains("[1] (s =  55) custom-key: \"custom-header\"")
            && report.contains("Table size: 55")
            && report.contains("name + value + 32 (§4.1)"),
        "{report}"
    );
}

#[test]
fn lab08_grpc_method() {
    passes_on_solution_fails_on_starter("lab08", 7);
    fails_on_its_wrong_solutions("lab08", "08-grpc-method");
}

#[test]
fn lab09_quic_loop() {
    passes_on_solution_fails_on_starter("lab09", 5);
    fails_on_its_wrong_solutions("lab09", "09-quic-loop");
}

#[test]
fn lab11_poll_loop() {
    passes_on_solution_fails_on_starter("lab11", 7);
    fails_on_its_wrong_solutions("lab11", "11-poll-loop");
}

#[test]
fn lab12_early_data() {
    passes_on_solution_fails_on_starter("lab12", 4);
    fails_on_its_wrong_solutions("lab12", "12-early-data");
}

/// Lab 13's step 9 makes network namespaces, and the test of it without root drops to
/// nobody: these tests run as root (CI does), as tests/nat.rs.
fn root() {
    assert!(
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))),
        "lab 13's check makes network namespaces in step 9: run the lab 13 tests as root"
    );
}

#[test]
fn lab13_ice_pairs() {
    root();
    passes_on_solution_fails_on_starter("lab13", 9);
    fails_on_its_wrong_solutions("lab13", "13-ice-pairs");
}

/// The network namespaces whose names say process `pid` made them (src/l4/netns.rs).
fn namespaces_of(pid: u32) -> BTreeSet<String> {
    let prefix = format!("netlab-{pid}-");
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Lab 13's step 9 makes `netlab nat`'s topology (root only, as tests/nat.rs: CI runs as
/// root). A failing wrong solution leaves no namespace behind, and neither does Ctrl-C in
/// the middle of the step.
#[test]
fn lab13_nat_step_removes_its_namespaces_when_it_fails_and_on_ctrl_c() {
    root();
    let exe = examples_dir().join("lab13");
    let exe = exe.to_str().unwrap();
    let mut failing = spawn(exe, &["--wrong", "best_even_if_invalid"]);
    let status = failing.wait_exit(Duration::from_secs(90)).expect("exits");
    assert_eq!(status.code(), Some(1));
    assert!(
        namespaces_of(failing.pid()).is_empty(),
        "removed after a failed step 9"
    );

    // no_relay spends ~5 s in step 9 waiting for a nomination that never comes.
    let mut run = spawn(exe, &["--wrong", "no_relay"]);
    let start = std::time::Instant::now();
    while namespaces_of(run.pid()).len() < 5 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "step 9 made its five namespaces"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &run.pid().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()));
    let status = run
        .wait_exit(Duration::from_secs(10))
        .expect("exits on SIGINT");
    let mut said = String::new();
    let _ = std::io::Read::read_to_string(run.stdout.as_mut().unwrap(), &mut said);
    assert_eq!(
        status.code(),
        Some(128 + 2),
        "exits as SIGINT would:\n{said}"
    );
    assert!(
        !said.contains("✗ step 9"),
        "no failure for what Ctrl-C removed:\n{said}"
    );
    assert!(namespaces_of(run.pid()).is_empty(), "removed on Ctrl-C");
}

/// Without root, step 9 is not run, says so and how to run it, and the lab is not passed
/// (8 of 9, exit 1) while every other step still runs; under CI=true it is a failure.
#[test]
fn lab13_without_root_the_nat_step_is_not_run_and_the_lab_not_passed() {
    root();
    require("setpriv");
    let exe = examples_dir().join("lab13");
    let as_nobody = [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        exe.to_str().unwrap(),
        "--solution",
    ];
    let files = TempDir::new("lab13-not-run");
    let open = std::os::unix::fs::PermissionsExt::from_mode(0o777);
    std::fs::set_permissions(&files.0, open).expect("nobody may write there");
    let (xml, json) = (files.path("lab13.xml"), files.path("lab13.json"));
    let args = [&as_nobody[..], &["--junit", &xml, "--json", &json]].concat();
    for ci in ["false", "true"] {
        let out = run(
            "setpriv",
            &args,
            b"",
            &[("CI", ci)],
            Duration::from_secs(90),
        );
        let report = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "CI={ci}:\n{report}");
        assert_eq!(report.matches("✓ step").count(), 8, "{report}");
        assert!(
            report.contains("lab result: 8 of 9 steps passed"),
            "{report}"
        );
        assert!(report.contains("needs root"), "{report}");
        assert!(
            report.contains("sudo env \"PATH=$PATH\" make check LAB=13"),
            "{report}"
        );
        if ci == "true" {
            assert_eq!(failed_steps(&report), BTreeSet::from([9]), "{report}");
        } else {
            assert!(failed_steps(&report).is_empty(), "{report}");
            assert!(report.contains("– step 9: live across NATs"), "{report}");
            assert!(report.contains("step 9 not run: needs root"), "{report}");
            // For a grader: skipped in JUnit, 0 of 1 in the JSON, 8 of 9 in all.
            let xml = std::fs::read_to_string(&xml).expect("JUnit written");
            assert!(xml.contains("skipped=\"1\""), "{xml}");
            assert!(
                xml.contains("<skipped message=\"not run: needs root"),
                "{xml}"
            );
            let text = std::fs::read_to_string(&json).expect("JSON written");
            let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(doc["score"], 8, "{doc}");
            assert_eq!(doc["max_score"], 9, "{doc}");
            assert_eq!(doc["tests"][8]["score"], 0, "{doc}");
        }
    }
}

#[test]
fn lab10_dcep() {
    passes_on_solution_fails_on_starter("lab10", 9);
    fails_on_its_wrong_solutions("lab10", "10-dcep");
}

#[test]
fn an_unknown_wrong_solution_is_a_usage_error() {
    let (code, _) = check("lab04", &["--wrong", "no_such_file"]);
    assert_eq!(code, Some(2));
}

/// The `<testcase>` elements of a JUnit file: (name, failure message if it failed). A
/// minimal reading of the XML the checks write: one element per line.
fn junit_cases(xml: &str) -> Vec<(String, Option<String>)> {
    let attr = |line: &str, name: &str| -> Option<String> {
        let start = line.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + line[start..].find('"')?;
        Some(
            line[start..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&#10;", "\n")
                .replace("&amp;", "&"),
        )
    };
    let mut cases: Vec<(String, Option<String>)> = Vec::new();
    for line in xml.lines().map(str::trim) {
        if line.starts_with("<testcase ") {
            cases.push((attr(line, "name").expect("a testcase has a name"), None));
        } else if line.starts_with("<failure ") {
            let last = cases.last_mut().expect("a failure inside a testcase");
            last.1 = Some(attr(line, "message").expect("a failure has a message"));
        }
    }
    cases
}

#[test]
fn lab04_writes_junit_and_json_on_the_solution_and_the_starter() {
    let dir = TempDir::new("lab-report");
    let exe = examples_dir().join("lab04");
    let exe = exe.to_str().unwrap();
    for (args, code) in [(vec!["--solution"], 0), (vec![], 1)] {
        let (xml, json) = (dir.path("r.xml"), dir.path("r.json"));
        let mut all = args.clone();
        all.extend(["--junit", &xml, "--json", &json]);
        let out = run(exe, &all, b"", &[], Duration::from_secs(60));
        let report = text(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{report}");
        let xml = std::fs::read_to_string(&xml).expect("the JUnit file");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON file"))
                .expect("JSON that parses");
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert!(
            xml.contains("<testsuite name=\"lab04\" tests=\"13\""),
            "{xml}"
        );
        let cases = junit_cases(&xml);
        let tests = json["tests"].as_array().expect("tests[]");
        assert_eq!(cases.len(), 13, "{xml}");
        assert_eq!(tests.len(), 13);
        assert_eq!(json["max_score"], 13);
        // Both files say what the narrative said, step by step, with the same messages.
        let failed = failed_steps(&report);
        for (i, ((name, failure), t)) in cases.iter().zip(tests).enumerate() {
            let n = i + 1;
            assert!(name.starts_with(&format!("step {n}: ")), "{name}");
            assert_eq!(t["name"], name.as_str());
            assert_eq!(
                failure.is_some(),
                failed.contains(&n),
                "step {n}:\n{report}"
            );
            assert_eq!(
                t["status"],
                if failure.is_some() {
                    "failed"
                } else {
                    "passed"
                }
            );
            if let Some(why) = failure {
                assert!(report.contains(why.as_str()), "{why:?} not in:\n{report}");
                assert_eq!(t["output"], why.as_str());
                assert_eq!(t["score"], 0);
            }
        }
        let passed = 13 - failed.len();
        assert_eq!(json["score"], passed);
        assert!(report.contains(&format!("lab result: {passed} of 13 steps passed")));
        if code == 1 {
            assert!(passed < 13 && !failed.is_empty());
        }
    }
}

#[test]
fn lab04_serve_answers_a_client_on_the_given_port() {
    let exe = examples_dir().join("lab04");
    let mut lab = spawn(
        exe.to_str().unwrap(),
        &["--serve", "127.0.0.1:0", "--solution"],
    );
    let addr = lab.listening();
    let answer = raw_exchange(
        addr,
        b"POST /counter HTTP/1.1\r\nHost: lab\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    );
    let answer = text(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("1\n"), "{answer}");
    // Serving, not checking: no step ran, no watchdog counts down.
    assert!(lab.wait_exit(Duration::from_millis(300)).is_none());
}

#[test]
fn lab02_serve_answers_a_client_on_the_given_port() {
    let exe = examples_dir().join("lab02");
    let mut lab = spawn(
        exe.to_str().unwrap(),
        &["--serve", "127.0.0.1:0", "--solution"],
    );
    let addr = lab.listening();
    let answer = raw_exchange(addr, b"hello\nQUIT\n", Duration::from_secs(10));
    assert_eq!(text(&answer), "got 5 bytes\nBYE\n");
}

#[test]
fn a_lab_with_no_handler_to_serve_says_so() {
    let (code, _) = check("lab07", &["--serve"]);
    assert_eq!(code, Some(2));
    // Per lab, what `--serve` says to run instead (besides the debugger, which all name).
    let instead: &[(&str, &[&str])] = &[
        ("lab07", &["NETLAB_TRACE=hpack netlab h2 serve --h2c"]),
        (
            "lab03",
            &[
                "NETLAB_TRACE=http1 netlab http serve",
                "Transfer-Encoding: chunked",
            ],
        ),
        // Lab 09's functions run inside netlab's client: there is no server of theirs.
        (
            "lab09",
            &["make check LAB=09", "NETLAB_TRACE=quic,h3 netlab h3 serve"],
        ),
        // Lab 13's policy is called by an ICE agent the check drives.
        (
            "lab13",
            &["make check LAB=13", "src/webrtc/ice/priority.rs"],
        ),
    ];
    for (lab, words) in instead {
        let exe = examples_dir().join(lab);
        let out = run(
            exe.to_str().unwrap(),
            &["--serve"],
            b"",
            &[],
            Duration::from_secs(30),
        );
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{lab}: {said}");
        assert!(
            said.contains("has no handler a client can call")
                && said.contains("step through the check itself")
                && words.iter().all(|w| said.contains(w)),
            "{lab}: {said}"
        );
    }
}

#[test]
fn the_watchdog_stands_down_when_asked_and_under_a_debugger() {
    let exe = examples_dir().join("lab04");
    let exe = exe.to_str().unwrap();
    let out = run(exe, &["--solution"], b"", &[], Duration::from_secs(60));
    assert!(!text(&out.stdout).contains("no time limit"));
    let out = run(
        exe,
        &["--solution"],
        b"",
        &[("NETLAB_NO_WATCHDOG", "1")],
        Duration::from_secs(60),
    );
    assert!(
        text(&out.stdout)
            .contains("(no time limit: under a debugger, or NETLAB_NO_WATCHDOG is set)")
    );
    // Under gdb, TracerPid is gdb's PID: the check sees it without being told.
    require("gdb");
    require("rust-gdb");
    let out = run(
        "rust-gdb",
        // The recipe of labs/README.md: break in the lab's handler, look, go on.
        &[
            "-batch",
            "-x",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/debug/netlab.gdb"),
            "-ex",
            "break lab04::solution::handle",
            "-ex",
            "run",
            "-ex",
            "p req.method",
            "-ex",
            "delete",
            "-ex",
            "continue",
            "--args",
            exe,
            "--solution",
        ],
        b"",
        &[],
        Duration::from_secs(90),
    );
    let all = text(&out.stdout);
    assert!(all.contains("(no time limit: under a debugger"), "{all}");
    assert!(
        all.contains("hit Breakpoint 1, lab04::solution::handle ("),
        "{all}"
    );
    assert!(all.contains("$1 = \"GET\""), "{all}");
    assert!(all.contains("lab result: 13 of 13 steps passed"), "{all}");
}

#[test]
fn grade_prints_steps_passed_per_lab_and_keeps_the_files() {
    let dir = TempDir::new("grade");
    // The examples are built by cargo test already: CARGO=true skips grade.sh's build.
    let out = run(
        concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/grade.sh"),
        &[],
        b"",
        &[("CARGO", "true"), ("OUT", &dir.0.to_string_lossy())],
        Duration::from_secs(600),
    );
    let table = text(&out.stdout);
    // The starters fail, so the grade is not full and the exit status says so.
    assert_eq!(out.status.code(), Some(1), "{table}{}", text(&out.stderr));
    let (mut passed, mut total) = (0, 0);
    for n in [
        "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13",
    ] {
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path(&format!("lab{n}.json"))).expect("labNN.json"),
        )
        .expect("JSON");
        let (p, t) = (
            json["score"].as_u64().unwrap(),
            json["max_score"].as_u64().unwrap(),
        );
        assert!(t > 0 && p < t, "lab {n}: {p} of {t} on the starter");
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{n} ")))
            .unwrap_or_else(|| panic!("no row for lab {n}:\n{table}"));
        assert!(row.contains(&format!("{p:>3} / {t}")), "{row} vs {p}/{t}");
        assert!(std::path::Path::new(&dir.path(&format!("lab{n}.xml"))).exists());
        passed += p;
        total += t;
    }
    let all = table
        .lines()
        .find(|l| l.starts_with("all "))
        .expect("a total row");
    assert!(
        all.trim_end().ends_with(&format!("{passed:>3} / {total}")),
        "{all}"
    );
}
