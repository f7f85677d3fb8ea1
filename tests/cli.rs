//! The CLI contract of docs/design.md: exit 0/1/2, one-line `error: …`, `--help` with defaults,
//! and never a panic, whatever the input.

mod common;
use common::*;
use std::net::TcpListener;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn assert_error(args: &[&str], code: i32, needle: &str) {
    let out = run_netlab(args, b"", &[], T);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "netlab {args:?}: stderr {err}"
    );
    assert!(err.starts_with("error: "), "netlab {args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(
        err.contains(needle),
        "netlab {args:?}: {err:?} lacks {needle:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    assert_error(&["frobnicate"], 2, "unknown command 'frobnicate'");
    assert_error(&["echo", "server", "--nope"], 2, "unknown flag --nope");
    assert_error(
        &["echo", "server", "--addr", "localhost"],
        2,
        "bad address 'localhost'",
    );
    assert_error(
        &["echo", "server", "--addr", "300.1.1.1:80"],
        2,
        "bad address",
    );
    assert_error(&["echo", "client", "--addr"], 2, "--addr needs a value");
    assert_error(
        &["echo", "client", "--timeout", "soon", "x"],
        2,
        "--timeout takes a number",
    );
    assert_error(&["echo", "dance"], 2, "unknown verb 'dance'");
    let serve = ["http", "serve", "--addr", "127.0.0.1:0"];
    assert_error(
        &[&serve[..], &["--loops", "0"]].concat(),
        2,
        "--loops takes 1 or more",
    );
    assert_error(
        &[&serve[..], &["--loops", "two"]].concat(),
        2,
        "--loops takes a number",
    );
    assert_error(
        &[&serve[..], &["--loops", "2", "--tls"]].concat(),
        2,
        "--loops serves plain HTTP",
    );
    assert_error(&["port"], 2, "needs PORT");
    assert_error(&["port", "0"], 2, "bad port '0'");
    assert_error(&["port", "70000"], 2, "bad port '70000'");
    assert_error(&["sockets", "--port", "http"], 2, "bad port 'http'");
    assert_error(
        &["--trace=l4,nope", "sockets"],
        2,
        "unknown trace layer 'nope'",
    );
    let out = run_netlab(&["sockets"], b"", &[("NETLAB_TRACE", "bogus")], T);
    assert_eq!(out.status.code(), Some(2));
    let out = run_netlab(&[], b"", &[], T);
    assert_eq!(out.status.code(), Some(2), "no command is a usage error");
    assert_error(&["http"], 2, "needs a verb");
    assert_error(&["http", "serve", "--role", "cloud"], 2, "--role cloud");
    assert_error(
        &["http", "serve", "--role", "gateway"],
        2,
        "needs --upstream",
    );
    assert_error(
        &["http", "serve", "--root", "/no/such/dir"],
        2,
        "not a directory",
    );
    assert_error(
        &["http", "serve", "--cert", "a.pem"],
        2,
        "--cert and --key go together",
    );
    assert_error(
        &["http", "serve", "--max-conns", "many"],
        2,
        "--max-conns takes a number",
    );
    assert_error(
        &["http", "serve", "--per-source", "0"],
        2,
        "--per-source takes 1 or more",
    );
    assert_error(&["http", "request"], 2, "needs URL");
    assert_error(
        &["http", "request", "--proxy", "nope", "http://127.0.0.1/"],
        2,
        "--proxy nope",
    );
    assert_error(
        &[
            "http",
            "request",
            "--cacert",
            "/no/such.pem",
            "https://127.0.0.1/",
        ],
        2,
        "no such file",
    );
    assert_error(&["http", "proxy", "--addr", "x"], 2, "bad address");
}

#[test]
fn runtime_errors_exit_1() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    assert_error(
        &["echo", "server", "--addr", &addr],
        1,
        "address already in use",
    );
    let out = run_netlab(&["echo", "server", "--addr", &addr], b"", &[], T);
    assert!(
        text(&out.stderr).contains("netlab port"),
        "points at the port tool"
    );
    drop(held);
    let port = free_tcp_port().to_string();
    let refused = format!("127.0.0.1:{port}");
    assert_error(
        &["echo", "client", "--addr", &refused, "hi"],
        1,
        "connection refused",
    );
    // A port nothing holds. Tests run in parallel, so a port free a moment ago may have
    // become some connection's ephemeral port: try a few.
    let free = (0..5).find_map(|_| {
        let p = free_tcp_port().to_string();
        let out = run_netlab(&["port", &p], b"", &[], T);
        (out.status.code() == Some(1)).then_some(p)
    });
    let free = free.expect("no free port found in five tries");
    assert_error(&["port", &free], 1, "nothing holds port");
    // Binding a privileged port as non-root, or an address that is not ours.
    assert_error(
        &["echo", "server", "--addr", "192.0.2.1:7"],
        1,
        "cannot bind 192.0.2.1:7",
    );
}

#[test]
fn every_command_has_help_with_defaults() {
    for (args, flag) in [
        (vec!["echo", "server", "--help"], "--addr HOST:PORT"),
        (vec!["echo", "client", "-h"], "(default: 5000)"),
        (vec!["sockets", "--help"], "--listening"),
        (vec!["port", "--help"], "(default: 3000)"),
        (vec!["tour", "--help"], "[SECTION]"),
        (vec!["--help"], "echo server"),
        (vec!["echo", "--help"], "netlab echo client"),
        (vec!["http", "serve", "--help"], "(default: 127.0.0.1:8080)"),
        (vec!["http", "request", "--help"], "-X, --request METHOD"),
        (vec!["http", "proxy", "--help"], "(default: 127.0.0.1:8888)"),
        (vec!["cert", "--help"], "(default: netlab-certs)"),
        (vec!["http", "--help"], "netlab http proxy"),
    ] {
        let out = run_netlab(&args, b"", &[], T);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = text(&out.stdout);
        assert!(help.contains(flag), "{args:?}: {help}");
    }
    let out = run_netlab(&["echo", "server", "--help"], b"", &[], T);
    assert!(text(&out.stdout).contains("(default: 127.0.0.1:65432)"));
}

#[test]
fn the_http2_and_grpc_commands_keep_the_contract() {
    assert_error(&["h2"], 2, "netlab h2 needs a verb: serve or get");
    assert_error(
        &["h2", "put"],
        2,
        "unknown verb 'put': use netlab h2 serve or get",
    );
    assert_error(
        &["h2", "serve", "--h2c", "--cert", "x.pem"],
        2,
        "--h2c is cleartext",
    );
    assert_error(
        &["h2", "get", "http://127.0.0.1:1/"],
        2,
        "http:// URLs need --h2c",
    );
    assert_error(
        &[
            "h2",
            "get",
            "--h2c",
            "http://127.0.0.1:1/a",
            "http://127.0.0.2:1/b",
        ],
        2,
        "one connection serves one origin",
    );
    // Nobody listens on port 1: a runtime failure, not a panic.
    assert_error(
        &["h2", "get", "--h2c", "http://127.0.0.1:1/"],
        1,
        "cannot connect to 127.0.0.1:1",
    );
    assert_error(&["grpc"], 2, "netlab grpc needs a verb: serve or call");
    assert_error(
        &["grpc", "call", "--addr", "127.0.0.1:1", "Echo", "hi"],
        1,
        "UNAVAILABLE (14)",
    );
    assert_error(
        &["grpc", "call", "Subscribe", "news", "many"],
        2,
        "COUNT 'many' is not a number",
    );
    assert_error(&["grpc", "call", "Echo"], 2, "Echo takes one TEXT");
    for help in [
        &["h2", "serve", "--help"][..],
        &["h2", "get", "--help"],
        &["grpc", "call", "--help"],
    ] {
        let out = run_netlab(help, b"", &[], T);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            text(&out.stdout).contains("(default: "),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn a_zero_consent_timeout_is_a_usage_error() {
    let out = run_netlab(
        &[
            "webrtc",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--consent-timeout",
            "0",
        ],
        b"",
        &[],
        std::time::Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("error: --consent-timeout"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_stun_and_turn_commands_keep_the_contract() {
    assert_error(&["stun"], 2, "netlab stun needs a verb");
    assert_error(&["turn", "relay"], 2, "unknown verb 'relay'");
    let serve = ["turn", "serve", "--addr", "127.0.0.1:0"];
    assert_error(
        &[&serve[..], &["--user", "nopassword"]].concat(),
        2,
        "--user takes NAME:PASS",
    );
    assert_error(
        &[&serve[..], &["--allow", "10.0.0.0/40"]].concat(),
        2,
        "--allow: \"10.0.0.0/40\" is not ADDR/PREFIX",
    );
    assert_error(
        &[&serve[..], &["--max-per-user", "many"]].concat(),
        2,
        "--max-per-user takes a number",
    );
    let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    assert_error(&["stun", "serve", "--addr", &addr], 1, "cannot bind");
    // --help lists every flag with its default, and the README's usage line names each.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (verb, defaults) in [
        ("stun", &["--addr 127.0.0.1:3478"][..]),
        (
            "turn",
            &[
                "--addr 127.0.0.1:3479",
                "--user netlab:netlab",
                "--realm netlab",
                "--allow CIDR",
                "--max-per-user 10",
                "--max-allocations 100",
                "--nonce-lifetime 600",
            ][..],
        ),
    ] {
        let out = run_netlab(&[verb, "serve", "--help"], b"", &[], T);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        let usage = readme
            .lines()
            .find(|l| l.starts_with(&format!("netlab {verb} serve ")))
            .expect("a usage line in the README");
        for d in defaults {
            let (flag, value) = d.split_once(' ').unwrap();
            assert!(help.contains(flag), "{verb}: {help}");
            if value != "CIDR" {
                assert!(
                    help.contains(&format!("(default: {value})")),
                    "{verb} {flag}: {help}"
                );
            }
            assert!(
                usage.contains(d),
                "README's {verb} usage lacks {d}: {usage}"
            );
        }
    }
}
