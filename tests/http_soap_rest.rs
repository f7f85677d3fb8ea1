//! REST next to SOAP on the same notes, with zeep (a SOAP client that knows only the WSDL)
//! as the SOAP peer; and the same API served by a monolith and by a gateway in front of a
//! notes service.

mod common;
use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

#[test]
fn zeep_calls_every_operation_from_the_wsdl_alone() {
    let (_p, addr) = http_server(&[]);
    let script = format!(
        r#"
import zeep, zeep.exceptions
c = zeep.Client("http://{addr}/soap?wsdl")
n = c.service.CreateNote(text="written by zeep")
assert (n.id, n.text) == (1, "written by zeep"), n
assert c.service.GetNote(id=1).text == "written by zeep"
c.service.CreateNote(text="second <&> note")
notes = c.service.ListNotes()
assert [(x.id, x.text) for x in notes] == [(1, "written by zeep"), (2, "second <&> note")], notes
assert c.service.UpdateNote(id=1, text="edited").text == "edited"
assert c.service.DeleteNote(id=2) is True
try:
    c.service.GetNote(id=2)
    raise SystemExit("expected a fault")
except zeep.exceptions.Fault as f:
    assert "no note with id 2" in f.message, f.message
print("ok")
"#
    );
    let out = run(&venv_python(), &["-c", &script], b"", &[], T);
    assert_eq!(text(&out.stdout).trim(), "ok", "{}", text(&out.stderr));
    // The note zeep changed is the note REST sees: one store, two interfaces.
    let out = run_netlab(
        &["http", "request", &format!("http://{addr}/api/notes")],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout).trim(), r#"[{"id":1,"text":"edited"}]"#);
}

#[test]
fn soap_faults_for_bad_envelopes_over_the_wire() {
    let (_p, addr) = http_server(&[]);
    let soap = format!("http://{addr}/soap");
    let cases = [
        ("<not xml", "not well-formed"),
        ("<Envelope/>", "SOAP 1.1 Envelope"),
        (
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Frobnicate/></s:Body></s:Envelope>"#,
            "unknown operation",
        ),
    ];
    for (body, fault) in cases {
        let out = run_netlab(
            &[
                "http",
                "request",
                "-i",
                "-H",
                "Content-Type: text/xml",
                "-H",
                "SOAPAction: x",
                "-d",
                body,
                &soap,
            ],
            b"",
            &[],
            T,
        );
        let answer = text(&out.stdout);
        assert!(
            answer.starts_with("HTTP/1.1 500")
                && answer.contains("<faultcode>")
                && answer.contains(fault),
            "{answer}"
        );
    }
    let out = run_netlab(
        &[
            "http",
            "request",
            "-H",
            "Content-Type: text/xml",
            "-d",
            "<x/>",
            &soap,
        ],
        b"",
        &[],
        T,
    );
    assert!(text(&out.stdout).contains("SOAPAction header field is required"));
}

#[test]
fn the_gateway_adds_a_hop_and_serves_the_same_api() {
    let mut notes = spawn_netlab(
        &["http", "serve", "--addr", "127.0.0.1:0", "--role", "notes"],
        &[],
    );
    let naddr = notes.listening();
    let mut gw = spawn_netlab(
        &[
            "http",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--role",
            "gateway",
            "--upstream",
            &format!("http://{naddr}"),
        ],
        &[("NETLAB_TRACE", "http1")],
    );
    let gaddr = gw.listening();
    let api = format!("http://{gaddr}/api/notes");
    let out = run_netlab(
        &[
            "http",
            "request",
            "-i",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"text":"via the gateway"}"#,
            &api,
        ],
        b"",
        &[],
        T,
    );
    let answer = text(&out.stdout);
    assert!(
        answer.starts_with("HTTP/1.1 201 Created") && answer.contains("Location: /api/notes/1"),
        "{answer}"
    );
    // The note lives in the notes service.
    let out = run_netlab(
        &["http", "request", &format!("http://{naddr}/api/notes/1")],
        b"",
        &[],
        T,
    );
    assert_eq!(
        text(&out.stdout).trim(),
        r#"{"id":1,"text":"via the gateway"}"#
    );
    // The gateway's own routes answer without a hop; its trace shows the hop for notes.
    let out = run_netlab(
        &["http", "request", &format!("http://{gaddr}/status/200")],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "200 OK\n");
    let trace = gw.stderr_so_far();
    assert!(
        trace.contains("gateway: POST /api/notes → notes service at"),
        "{trace}"
    );
    assert!(
        trace.contains("gateway: notes service answered 201 Created"),
        "{trace}"
    );
    // The service down: the gateway answers 502 and keeps serving its own routes.
    drop(notes);
    let out = run_netlab(&["http", "request", "-i", &api], b"", &[], T);
    assert!(
        text(&out.stdout).starts_with("HTTP/1.1 502"),
        "{}",
        text(&out.stdout)
    );
    let out = run_netlab(
        &["http", "request", &format!("http://{gaddr}/status/200")],
        b"",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "200 OK\n");
}

#[test]
fn netlab_client_reuses_sends_chunked_and_reports_errors() {
    let (_p, addr) = http_server(&[]);
    let u = |p: &str| format!("http://{addr}{p}");
    let out = run_netlab(
        &["http", "request", &u("/status/200"), &u("/status/201")],
        b"",
        &[("NETLAB_TRACE", "http1")],
        T,
    );
    assert_eq!(text(&out.stdout), "200 OK\n201 Created\n");
    let trace = text(&out.stderr);
    assert_eq!(trace.matches("TCP connect to").count(), 1, "{trace}");
    assert!(
        trace.contains("reusing the kept-alive connection"),
        "{trace}"
    );
    let out = run_netlab(
        &[
            "http",
            "request",
            "--chunked",
            "-H",
            "Content-Type: text/plain",
            "-d",
            "sent in chunks",
            &u("/echo"),
        ],
        b"",
        &[("NETLAB_TRACE", "http1")],
        T,
    );
    assert_eq!(text(&out.stdout), "sent in chunks");
    assert!(text(&out.stderr).contains("Transfer-Encoding: chunked"));
    let out = run_netlab(
        &[
            "http",
            "request",
            "-d",
            "@-",
            "-H",
            "Content-Type: text/plain",
            &u("/echo"),
        ],
        b"from stdin",
        &[],
        T,
    );
    assert_eq!(text(&out.stdout), "from stdin");
    let out = run_netlab(&["http", "request", "-v", &u("/status/404")], b"", &[], T);
    assert_eq!(
        out.status.code(),
        Some(0),
        "an HTTP error is not a transport failure"
    );
    assert!(
        text(&out.stderr).contains("> GET /status/404 HTTP/1.1")
            && text(&out.stderr).contains("< HTTP/1.1 404 Not Found")
    );
    let out = run_netlab(&["http", "request", "-f", &u("/status/404")], b"", &[], T);
    assert_eq!(out.status.code(), Some(1));
    let dead = free_tcp_port();
    let out = run_netlab(
        &["http", "request", &format!("http://127.0.0.1:{dead}/")],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: cannot connect to 127.0.0.1:"),
        "{}",
        text(&out.stderr)
    );
    for bad in ["ftp://x/", "http://", "http://a:99999/", "not a url"] {
        let out = run_netlab(&["http", "request", bad], b"", &[], T);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
    }
    let out = run_netlab(&["http", "request", "-H", "no colon", &u("/")], b"", &[], T);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn server_trace_shows_parser_steps_and_reuse() {
    let mut p = spawn_netlab(
        &["http", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "http1")],
    );
    let addr = p.listening();
    run_netlab(
        &[
            "http",
            "request",
            &format!("http://{addr}/status/200"),
            &format!("http://{addr}/status/200"),
        ],
        b"",
        &[],
        T,
    );
    let wants = [
        "[http1] ← request head, ",
        "[http1] ←   GET /status/200 HTTP/1.1\\r\\n",
        "[http1] ← request-line: method=GET target=/status/200 version=HTTP/1.1",
        "[http1] ← field Host: 127.0.0.1:",
        "[http1] · body framing: no body",
        "[http1] → response head, ",
        "request 2 reuses the connection (keep-alive)",
    ];
    let trace = p.stderr_until(&wants, T);
    for want in wants {
        assert!(trace.contains(want), "{want:?} missing:\n{trace}");
    }
}
