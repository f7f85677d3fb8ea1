//! The course's own Python echo pair (scripts/python/echo-server.py and echo-client.py)
//! talks to netlab's Rust echo in both directions, byte for byte.

mod common;
use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn script(name: &str) -> String {
    format!("{}/scripts/python/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Text with a space, UTF-8 beyond ASCII, and a tab: what one line may hold.
const MESSAGES: [&str; 3] = ["hello from rust", "héllo ✓", "a\ttab"];

#[test]
fn netlab_echo_client_against_the_python_echo_server() {
    require("python3");
    let server_py = script("echo-server.py");
    let mut server = spawn("python3", &[&server_py, "127.0.0.1", "0"]);
    let addr = server.listening();
    let mut args = vec!["echo", "client", "--addr"];
    let a = addr.to_string();
    args.push(&a);
    args.extend(MESSAGES);
    let out = run_netlab(&args, b"", &[("NETLAB_TRACE", "l4")], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // What the Python server sent back is exactly what netlab wrote, line by line.
    let want: String = MESSAGES.iter().map(|m| format!("{m}\n")).collect();
    assert_eq!(out.stdout, want.as_bytes());
    let trace = text(&out.stderr);
    assert!(
        trace.contains(&format!(
            "[l4] → write 16 bytes to {addr}: \"hello from rust\\n\""
        )),
        "{trace}"
    );
    // The Python server saw one connection, from netlab's client.
    let mut line = String::new();
    use std::io::BufRead;
    server
        .stdout
        .as_mut()
        .unwrap()
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("Connected by ('127.0.0.1', "), "{line}");
}

#[test]
fn python_echo_client_against_netlab_echo_server() {
    require("python3");
    let mut server = spawn_netlab(
        &["echo", "server", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "l4")],
    );
    let addr = server.listening();
    let client_py = script("echo-client.py");
    let port = addr.port().to_string();
    let mut args = vec![client_py.as_str(), "127.0.0.1", &port];
    args.extend(MESSAGES);
    let out = run("python3", &args, b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Python prints the bytes it received as a bytes literal: UTF-8 escaped, \n and \t too.
    assert_eq!(
        text(&out.stdout),
        "Received b'hello from rust\\n'\n\
         Received b'h\\xc3\\xa9llo \\xe2\\x9c\\x93\\n'\n\
         Received b'a\\ttab\\n'\n"
    );
    // And netlab's server traced the same bytes coming in and going out.
    let trace = server.stderr_until(&["a\\ttab\\n"], T);
    assert!(
        trace.contains(": \"hello from rust\\n\""),
        "the server trace shows the bytes:\n{trace}"
    );
    assert!(
        trace.contains("[l4] ← read 16 bytes from 127.0.0.1:"),
        "{trace}"
    );
}
