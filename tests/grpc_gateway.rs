//! The microservices example with gRPC between the gateway and the notes service: the
//! gateway's REST and SOAP interfaces are the monolith's own, each operation on a note a
//! `netlab.Notes` gRPC call (`--upstream grpc://…`). The answers are the monolith's; the
//! trace shows the calls; a notes service that is down makes 502.

mod common;
use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn curl(args: &[&str]) -> String {
    require("curl");
    let mut all = vec!["-sS", "-i", "--max-time", "10"];
    all.extend_from_slice(args);
    let out = run("curl", &all, b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The Date differs from server to server: leave it out.
    text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("Date: "))
        .collect::<Vec<_>>()
        .join("\n")
}

const SOAP_CREATE: &str = r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n="urn:netlab:notes"><soap:Body><n:CreateNote><n:text>by SOAP</n:text></n:CreateNote></soap:Body></soap:Envelope>"#;

#[test]
fn a_gateway_over_grpc_answers_like_the_monolith() {
    let mut notes = spawn_netlab(
        &["grpc", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "grpc")],
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
            &format!("grpc://{naddr}"),
        ],
        &[("NETLAB_TRACE", "grpc")],
    );
    let gaddr = gw.listening();
    let (_mono, maddr) = http_server(&[]);
    let json = ["-H", "Content-Type: application/json"];
    let steps: Vec<Vec<&str>> = vec![
        [&json[..], &["-d", r#"{"text":"over gRPC"}"#, "/api/notes"]].concat(),
        vec!["/api/notes/1"],
        [
            &json[..],
            &["-X", "PUT", "-d", r#"{"text":"edited"}"#, "/api/notes/1"],
        ]
        .concat(),
        vec!["/api/notes"],
        vec!["/api/notes/7"],
        vec!["-X", "DELETE", "/api/notes/1"],
        vec!["-X", "DELETE", "/api/notes/1"],
        vec![
            "-H",
            "Content-Type: text/xml; charset=utf-8",
            "-H",
            "SOAPAction: \"urn:netlab:notes#CreateNote\"",
            "--data-binary",
            SOAP_CREATE,
            "/soap",
        ],
    ];
    for step in &steps {
        let (path, flags) = step.split_last().unwrap();
        let via_gw = curl(&[flags, &[format!("http://{gaddr}{path}").as_str()]].concat());
        let mono = curl(&[flags, &[format!("http://{maddr}{path}").as_str()]].concat());
        assert_eq!(
            via_gw, mono,
            "the gateway over gRPC and the monolith differ on {step:?}"
        );
    }
    let gw_trace = gw.stderr_until(&["gateway [grpc] ← status NOT_FOUND (5)"], T);
    for want in [
        "gateway [grpc] → call /netlab.Notes/Create",
        "gateway [grpc] → message 1: NoteText text=\"over gRPC\"",
        "gateway [grpc] ← message 1: StoredNote id=1 text=\"over gRPC\"",
        "gateway [grpc] → call /netlab.Notes/Update",
        "gateway [grpc] → call /netlab.Notes/List",
        "gateway [grpc] ← status NOT_FOUND (5): no note with id 7",
    ] {
        assert!(
            gw_trace.contains(want),
            "{want:?} missing from:\n{gw_trace}"
        );
    }
    let service_trace = notes.stderr_until(&["server [grpc] ← call /netlab.Notes/Delete"], T);
    assert!(
        service_trace.contains("server [grpc] ← call /netlab.Notes/Create"),
        "{service_trace}"
    );
    // The notes service down: 502 for the notes, the gateway's own routes still answer.
    drop(notes);
    let answer = curl(&[&format!("http://{gaddr}/api/notes")]);
    assert!(answer.starts_with("HTTP/1.1 502 Bad Gateway"), "{answer}");
    assert!(
        answer.contains("the notes service failed: UNAVAILABLE (14)"),
        "{answer}"
    );
    let answer = curl(&[&format!("http://{gaddr}/status/200")]);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[test]
fn grpcio_reaches_the_notes_service() {
    let (stubs, python) = grpc_stubs();
    let mut server = spawn_netlab(&["grpc", "serve", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let script = r#"
import sys
sys.path.insert(0, sys.argv[1])
import grpc, netlab_pb2 as pb, netlab_pb2_grpc as rpc
s = rpc.NotesStub(grpc.insecure_channel(sys.argv[2], options=[("grpc.enable_http_proxy", 0)]))
n = s.Create(pb.NoteText(text="from Python"), timeout=10)
print(n.id, n.text)
print(s.Get(pb.NoteId(id=n.id), timeout=10).text)
print([x.text for x in s.List(pb.Empty(), timeout=10).notes])
try:
    s.Get(pb.NoteId(id=99), timeout=10)
except grpc.RpcError as e:
    print(e.code().name, e.details())
"#;
    let out = run(
        &python,
        &["-c", script, &stubs.path(""), &addr.to_string()],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "1 from Python\nfrom Python\n['from Python']\nNOT_FOUND no note with id 99\n"
    );
}
