//! `netlab tour`: runs every exchange on loopback, narrated, and exits 0 only if all worked.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn l4_section_runs_every_exchange_with_the_trace() {
    require("python3");
    let out = run_netlab(&["tour", "l4"], b"", &[], Duration::from_secs(60));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "listening on tcp://127.0.0.1:",
        "ESTABLISHED",
        "TIME-WAIT",
        "LISTEN",
        "echoed: one datagram",
        "netlab's Rust echo: Received b'hello from Python\\n'",
        "python3 echo-server.py: sent and received \"hello from Rust\\n\"",
        "tour finished",
    ] {
        assert!(
            stdout.contains(want),
            "{want:?} missing from the narration:\n{stdout}"
        );
    }
    for want in [
        "[l4] · bind(",
        "[l4] · accept()",
        "[l4] → write",
        "[l4] ← read",
        "[l4] → datagram",
    ] {
        assert!(
            stderr.contains(want),
            "{want:?} missing from the trace:\n{stderr}"
        );
    }
}

#[test]
fn l4_section_without_python3_says_so_and_fails_only_under_ci() {
    // No python3 on this PATH: the L4 tour needs nothing else from it.
    let env = [("PATH", "/nonexistent"), ("CI", "false")];
    let out = run_netlab(&["tour", "l4"], b"", &env, Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("python3 not found: the Python echo pair is left out"),
        "{stdout}"
    );
    let env = [("PATH", "/nonexistent"), ("CI", "true")];
    let out = run_netlab(&["tour", "l4"], b"", &env, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Python echo pair: python3 is not installed (run make deps)"),
        "{stderr}"
    );
}

#[test]
fn quiet_tour_and_unknown_section() {
    let out = run_netlab(
        &["tour", "--quiet", "l4"],
        b"",
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out.stderr).contains("[l4]"));
    let out = run_netlab(&["tour", "nosuch"], b"", &[], Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no section 'nosuch': choose one of l4"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn http1_section_runs_get_rest_soap_https_and_proxy() {
    let out = run_netlab(&["tour", "http1"], b"", &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "POST /api/notes: 201 Created",
        "DELETE /api/notes/1: 204",
        "<n:CreateNoteResponse>",
        "GET https://localhost/status/200: 200 OK",
        "Via: 1.1 netlab",
        "http1: every exchange succeeded",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    for want in [
        "[tls] · handshake complete: TLS 1.3, cipher suite TLS13_",
        "[http1] · body framing:",
        "reusing the kept-alive connection",
        "proxy: forwarding TRACE",
    ] {
        assert!(stderr.contains(want), "{want:?} missing from the trace");
    }
}

#[test]
fn zmq_section_shows_zmtp_frames_topics_and_workers() {
    let out = run_netlab(&["tour", "zmq"], b"", &[], Duration::from_secs(60));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "reply: hello, ZeroMQ",
        "reply: two | parts",
        "refused: a REQ socket sent a second request",
        "received: weather: sunny",
        "\"sports: 2-1\" never reached the subscriber",
        "worker-a: 3 tasks",
        "worker-b: 3 tasks",
        "gave up: no reply from",
        "=== zmq: every exchange succeeded",
    ] {
        assert!(
            stdout.contains(want),
            "{want:?} missing from the narration:\n{stdout}"
        );
    }
    for want in [
        "[zmtp] → #1 greeting signature=%xFF…%x7F version=3.1 mechanism=NULL",
        "READY Socket-Type=\"REQ\"",
        "(empty delimiter: the envelope ends here)",
        "SUBSCRIBE \"weather\"",
        "[zmq] · HANDSHAKE_SUCCEEDED",
        "[zmq] · CONNECT_RETRIED",
        "[zmq] → PUSH part 1/1",
    ] {
        assert!(
            stderr.contains(want),
            "{want:?} missing from the trace:\n{stderr}"
        );
    }
}

#[test]
fn h2_section_compares_bytes_shows_hpack_multiplexing_and_push() {
    let out = run_netlab(&["tour", "h2"], b"", &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "HTTP/1.1: 88 bytes up",
        "each further request: HTTP/1.1 88 bytes up, HTTP/2 ",
        "/delay/600: 200 OK after ",
        "pushed with /push: /push/style.css, /push/app.js",
        "=== h2: every exchange succeeded",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    for want in [
        "client [h2] → connection preface",
        "server [h2] ← HEADERS stream=1",
        "(indexed 62, dynamic)",
        "server [h2] → PUSH_PROMISE stream=1",
    ] {
        assert!(stderr.contains(want), "{want:?} missing from the trace");
    }
}

#[test]
fn grpc_section_makes_all_four_calls_and_compares_with_rest() {
    let out = run_netlab(&["tour", "grpc"], b"", &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for want in [
        "Echo answered text=\"hello gRPC\" seq=1",
        "Subscribe sent news #1, news #2, news #3",
        "Collect counted 3 notes, 6 bytes",
        "Chat answered a, bb, ccc in turn",
        "UNIMPLEMENTED (12)",
        "29 bytes of JSON, 14 bytes of protobuf",
        "=== grpc: every exchange succeeded",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    for want in [
        "server [grpc] ← call /netlab.Exchange/Echo",
        "client [grpc] ← status OK (0)",
        "server [grpc] → status UNIMPLEMENTED (12)",
    ] {
        assert!(
            stderr.contains(want),
            "{want:?} missing from the trace:\n{stderr}"
        );
    }
}

#[test]
fn list_names_every_section_and_its_numbered_steps() {
    let out = run_netlab(&["tour", "--list"], b"", &[], Duration::from_secs(10));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for want in [
        "l4      [L4] socket programming",
        "   1  TCP echo server: socket → bind → listen, on a port the kernel picks",
        "   7  UDP echo: one datagram in, the same datagram out; no connection, no states",
        "zmq     [L7] ZeroMQ",
        "http1   [L7] HTTP/1.1",
        "   6  the proxy: absolute-form request, hop-by-hop fields stripped, Via added",
        "h2      [L7] HTTP/2",
        "grpc    [L7] gRPC",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    // --help names the sections too, and the unknown section no longer says "tour tour".
    let help = text(&run_netlab(&["tour", "--help"], b"", &[], Duration::from_secs(10)).stdout);
    assert!(
        help.contains("sections (netlab tour --list shows their steps):"),
        "{help}"
    );
    assert!(help.contains("  http1   [L7] HTTP/1.1"), "{help}");
    let out = run_netlab(&["tour", "nosuch"], b"", &[], Duration::from_secs(10));
    assert!(
        !text(&out.stderr).contains("tour tour"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn one_step_shows_that_step_only() {
    let out = run_netlab(&["tour", "l4", "3"], b"", &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("--- netlab sockets --port: the listener and both ends"));
    assert!(stdout.contains("ESTABLISHED"), "{stdout}");
    assert!(
        stdout.contains("tour finished: step 3 of l4 succeeded"),
        "{stdout}"
    );
    // Steps 1, 2 and 4… ran silently: neither their narration nor their trace shows.
    assert_eq!(stdout.matches("\n--- ").count(), 1, "{stdout}");
    assert!(!stdout.contains("echoed:"), "{stdout}");
    assert!(!stdout.contains("TIME-WAIT"), "{stdout}");
    assert!(!stderr.contains("[l4] → datagram"), "{stderr}");
    let out = run_netlab(&["tour", "l4", "8"], b"", &[], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no step '8' in section l4: choose 1 to 7"));
}

#[test]
fn pausing_opens_and_closes_each_section_and_stops_on_q() {
    // --pause does what a terminal does, reading Enter from stdin.
    let out = run_netlab(
        &["tour", "--pause", "--quiet", "l4"],
        b"\n\nq\n",
        &[],
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for want in [
        "This section shows: A TCP echo server and client",
        "--- [1/7] TCP echo server",
        "[step 2 of 7 next: Enter to go on, q then Enter to stop]",
        "--- [3/7] netlab sockets --port",
        "What was seen:\n  · TCP gave a byte stream",
        "tour stopped: the steps shown succeeded",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    assert!(
        !stdout.contains("--- [4/7]"),
        "q stops before step 4:\n{stdout}"
    );
    // Without --pause, through a pipe: no prompt, no intro, as before.
    let out = run_netlab(
        &["tour", "--quiet", "l4"],
        b"",
        &[],
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("Enter to go on") && !stdout.contains("This section shows"));
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    use std::process::{Command, Stdio};
    use std::time::Instant;
    for args in [
        vec!["tour", "--quiet"],
        vec!["tour", "--list"],
        vec!["--help"],
        vec!["sockets"],
    ] {
        let start = Instant::now();
        let mut child = Command::new(NETLAB)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before netlab writes a line: `netlab … | head -0`.
        drop(child.stdout.take());
        let out = run_wait(child, Duration::from_secs(30));
        let stderr = text(&out.stderr);
        let code = out.status.code();
        assert!(
            code == Some(141) || code == Some(0),
            "{args:?}: status {code:?}\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        if args == ["tour", "--quiet"] {
            // The whole tour takes far longer: it ended at its first line.
            assert_eq!(code, Some(141));
            assert!(start.elapsed() < Duration::from_secs(10));
        }
    }
}

/// Waits for a child started by hand, killing it (by PID) after `limit`.
fn run_wait(child: std::process::Child, limit: Duration) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("netlab did not end within {limit:?} after its stdout closed");
        }
    }
}

#[test]
fn make_tour_passes_section_and_step() {
    let out = run(
        "make",
        &["-n", "-s", "tour", "SECTION=http1", "STEP=2"],
        b"",
        &[],
        Duration::from_secs(20),
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l == "./target/debug/netlab tour http1 2"),
        "{stdout}"
    );
    let out = run(
        "make",
        &["-n", "-s", "tour"],
        b"",
        &[],
        Duration::from_secs(20),
    );
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.trim_end() == "./target/debug/netlab tour"),
        "{}",
        text(&out.stdout)
    );
}

/// `netlab tour ARGS` with the trace and the narration in one stream, in the order they
/// were written (as a reader sees them on a terminal).
fn merged(args: &str, limit: Duration) -> String {
    let script = format!("exec '{NETLAB}' tour --no-pause {args} 2>&1");
    let out = run("sh", &["-c", &script], b"", &[], limit);
    let all = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "netlab tour {args}:\n{all}");
    all
}

/// Each section's lines: from its `=== [` title to the next one.
fn sections(all: &str) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for line in all.lines() {
        if let Some(title) = line.strip_prefix("=== [") {
            out.push((title.chars().take(40).collect(), 0));
        }
        if let Some(last) = out.last_mut() {
            last.1 += 1;
        }
    }
    out
}

/// The lesson's length: a section a reader can follow is under 250 lines, trace included,
/// and the whole tour under 1,500. (The webrtc section passes once its own rework, done
/// beside this one, is merged.)
#[test]
fn every_section_is_under_250_lines_and_the_whole_tour_under_1500() {
    require("python3");
    let all = merged("", Duration::from_secs(600));
    let total = all.lines().count();
    let counts = sections(&all);
    assert_eq!(counts.len(), 8, "eight sections: {counts:?}");
    let (webrtc, others): (Vec<_>, Vec<_>) = counts
        .iter()
        .partition(|(title, _)| title.contains("WebRTC"));
    for (title, n) in &others {
        assert!(*n < 250, "section [{title}… has {n} lines: {counts:?}");
    }
    assert!(total < 1500, "the tour has {total} lines: {counts:?}");
    for (title, n) in &webrtc {
        assert!(*n < 250, "section [{title}… has {n} lines: {counts:?}");
    }
    // The summary shows its table, not the trace of its runs.
    let compare = &all[all.find("=== [summary]").unwrap()..];
    assert!(compare.contains("round trips"), "{compare}");
    assert!(!compare.contains("[quic] →"), "{compare}");
}

/// One trace line: who printed it, the layer, the arrow, and the text, with a QUIC loop's
/// connection id (`a1b2c3d4: `) set aside so both ends' lines of one frame compare equal.
fn parse(line: &str) -> Option<(&str, &str, &str, &str)> {
    let (role, rest) = line.split_once(" [")?;
    let (layer, rest) = rest.split_once("] ")?;
    let (arrow, text) = rest.split_once(' ')?;
    if !["→", "←"].contains(&arrow) || role.trim().contains(' ') {
        return None;
    }
    let text = match text.split_once(": ") {
        Some((id, rest)) if id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()) => rest,
        // `write 6 bytes to A: "…"` and `read 6 bytes from B: "…"` are one step of L4.
        Some((head, rest))
            if layer == "l4" && (head.starts_with("write ") || head.starts_with("read ")) =>
        {
            rest
        }
        Some((head, rest)) if layer == "l4" && head.starts_with("datagram of ") => rest,
        _ => text,
    };
    Some((role.trim(), layer, arrow, text))
}

/// Every frame received in `layers` was printed as sent, by the other end, before: a sent
/// line first, for every role (the sender prints before its bytes leave).
fn assert_sent_before_received(all: &str, layers: &[&str]) {
    let lines: Vec<(&str, &str, &str, &str)> = all.lines().filter_map(parse).collect();
    let mut checked = 0;
    for (i, &(role, layer, arrow, text)) in lines.iter().enumerate() {
        if arrow != "←" || !layers.contains(&layer) || text.starts_with('…') {
            continue;
        }
        let sent = lines
            .iter()
            .position(|&(r, l, a, t)| r != role && l == layer && a == "→" && t == text);
        if let Some(j) = sent {
            checked += 1;
            assert!(
                j < i,
                "{role} [{layer}] ← {text}\nis printed before the other end's → line:\n{}",
                all
            );
        }
    }
    assert!(checked >= 5, "only {checked} frames matched:\n{all}");
}

#[test]
fn l4_section_prints_each_write_before_its_read() {
    require("python3");
    let all = merged("l4", Duration::from_secs(120));
    assert_sent_before_received(&all, &["l4"]);
}

#[test]
fn h2_section_prints_each_frame_sent_before_received() {
    let all = merged("h2", Duration::from_secs(120));
    assert_sent_before_received(&all, &["h2"]);
    let preface = |who: &str| all.find(&format!("{who} [h2] ")).unwrap_or(usize::MAX);
    assert!(preface("client") < preface("server"), "{all}");
}

#[test]
fn h3_section_prints_each_frame_sent_before_received() {
    let all = merged("h3", Duration::from_secs(120));
    assert_sent_before_received(&all, &["h2", "h3"]);
    let sent = all
        .find("client [h2] → connection preface")
        .expect("preface sent");
    let got = all
        .find("server [h2] ← connection preface")
        .expect("preface received");
    assert!(sent < got, "{all}");
    // Each step's connection closes inside that step, before the next heading.
    let steps: Vec<&str> = all.split("\n--- ").collect();
    assert_eq!(steps.len(), 4, "{all}");
    for step in &steps[1..3] {
        assert!(step.contains("closed by the client"), "{step}");
    }
    // Short connection IDs (4 bytes and …), named once per datagram, keep them readable:
    // no 16-byte ID in full, and no line over 230 characters (once over 300).
    let full_id = |l: &str| {
        l.split(|c: char| !c.is_ascii_hexdigit())
            .any(|w| w.len() >= 32)
    };
    for line in all.lines().filter(|l| l.contains("[quic]")) {
        let n = line.chars().count();
        assert!(!full_id(line), "a connection ID in full: {line}");
        // The longest: Initial + Handshake + 1-RTT coalesced in one datagram.
        assert!(n <= 230, "a line of {n} characters: {line}");
        assert!(
            !line.contains("(key phase, packet number + payload protected)"),
            "{line}"
        );
    }
    assert!(
        all.contains("(key phase + packet number masked, frames encrypted)"),
        "{all}"
    );
}

/// `netlab tour h3 | head`, and Ctrl-C: the section's certificate and key go with it.
#[test]
fn a_tour_cut_short_leaves_no_keys_behind() {
    use std::io::BufRead;
    for how in ["closed pipe", "SIGINT"] {
        let tmp = TempDir::new("tour-keys");
        let mut p = spawn_netlab(&["tour", "--no-pause", "h3"], &[("TMPDIR", &tmp.path(""))]);
        let mut out = p.stdout.take().expect("stdout");
        let mut line = String::new();
        while !line.contains("HTTP/3 on udp") {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "{how}: no HTTP/3 line"
            );
        }
        let dir = tmp.0.join(format!("netlab-tour-h3-{}", p.pid()));
        assert!(
            dir.join("key.pem").exists(),
            "{how}: the key is where it was expected"
        );
        match how {
            "closed pipe" => drop(out),
            _ => {
                let _ = std::process::Command::new("kill")
                    .args(["-INT", &p.pid().to_string()])
                    .status();
            }
        }
        let status = p.wait_exit(Duration::from_secs(30)).expect("netlab ended");
        let want = if how == "SIGINT" { 130 } else { 141 };
        assert_eq!(status.code(), Some(want), "{how}");
        assert!(!dir.exists(), "{how}: {} is left behind", dir.display());
    }
}

#[test]
fn help_aligns_every_section() {
    let help = text(&run_netlab(&["tour", "--help"], b"", &[], Duration::from_secs(10)).stdout);
    let list = text(&run_netlab(&["tour", "--list"], b"", &[], Duration::from_secs(10)).stdout);
    let column = |text: &str, name: &str| {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap();
        line.find('[').unwrap()
    };
    for text in [&help, &list] {
        assert_eq!(column(text, "compare"), column(text, "l4"), "{text}");
    }
}

/// `--full-trace` prints every line, as `netlab --trace` does outside the tour.
#[test]
fn full_trace_keeps_every_repeat() {
    let short = merged("h2", Duration::from_secs(120));
    let full = merged("--full-trace h2", Duration::from_secs(120));
    assert!(short.contains(" more like \""), "{short}");
    assert!(short.contains("more trace lines left out"), "{short}");
    assert!(
        !full.contains(" more like \"") && !full.contains("left out"),
        "{full}"
    );
    assert!(full.lines().count() > short.lines().count() + 200);
}
