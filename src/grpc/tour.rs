//! The \[L7\] gRPC section of `netlab tour`: the four kinds of call against netlab's gRPC
//! server, then one operation done two ways — REST/JSON over HTTP/1.1 and gRPC/protobuf over
//! HTTP/2 — with the bytes each put on the wire and the time each took.

use super::client::{self, Options};
use super::exchange::{self, Exchange, Note, Summary, Topic};
use super::server;
use crate::guide::{Guide, TourError};
use crate::http::services::{app, notes::Store};
use crate::http::uri::Url;
use crate::http1::client::{Client, Options as H1Options, Outgoing as H1Outgoing};
use crate::http1::server as h1server;
use crate::http2::client::Options as H2Options;
use crate::http2::server::{self as h2server, Config, Security};
use crate::http2::tour::counted;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn base(g: &Guide, addr: std::net::SocketAddr) -> Result<Url, TourError> {
    Url::parse(&format!("http://{addr}/")).map_err(|e| g.fail("URL", e))
}

/// The steps of this section, in the order `run` takes them (`netlab tour --list`; the
/// guide checks that each `g.step` says the same).
pub const STEPS: &[&str] = &[
    "a gRPC server for netlab.Exchange (proto/netlab.proto), on HTTP/2 without TLS",
    "unary: Echo — one message each way, the status in the trailers",
    "server streaming: Subscribe — one request, three notes back on the same stream",
    "client streaming: Collect — three notes up, one summary back",
    "bidirectional: Chat — each note sent only after the answer to the last came back",
    "errors are statuses: a method the server does not have",
    "one operation two ways: REST/JSON over HTTP/1.1 vs gRPC/protobuf over HTTP/2",
];

/// The \[L7\] gRPC section.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    g.step("a gRPC server for netlab.Exchange (proto/netlab.proto), on HTTP/2 without TLS");
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| g.fail("bind", e))?;
    let grpc = h2server::spawn_app(
        l,
        server::app(Arc::new(Exchange)),
        Config::default(),
        Security::Cleartext,
    )
    .map_err(|e| g.fail("start", e))?;
    let url = base(g, grpc.addr())?;
    g.say(&format!("listening on {url}"));
    let opts = Options {
        h2: H2Options {
            h2c: true,
            ..H2Options::default()
        },
        deadline: Some(Duration::from_secs(10)),
        metadata: Vec::new(),
    };

    g.step("unary: Echo — one message each way, the status in the trailers");
    let note = Note {
        text: "hello gRPC".into(),
        seq: 1,
    };
    let back: Note =
        client::unary(&url, exchange::ECHO, &note, &opts).map_err(|e| g.fail("Echo", e))?;
    g.say(&format!(
        "Echo answered text={:?} seq={}",
        back.text, back.seq
    ));

    g.step("server streaming: Subscribe — one request, three notes back on the same stream");
    let mut got = Vec::new();
    client::server_stream::<Topic, Note>(
        &url,
        exchange::SUBSCRIBE,
        &Topic {
            name: "news".into(),
            count: 3,
        },
        &opts,
        &mut |n| got.push(n.text),
    )
    .map_err(|e| g.fail("Subscribe", e))?;
    g.say(&format!("Subscribe sent {}", got.join(", ")));

    g.step("client streaming: Collect — three notes up, one summary back");
    let notes: Vec<Note> = ["a", "bb", "ccc"]
        .iter()
        .map(|t| Note {
            text: t.to_string(),
            seq: 0,
        })
        .collect();
    let summary: Summary = client::client_stream(&url, exchange::COLLECT, &notes, &opts)
        .map_err(|e| g.fail("Collect", e))?;
    g.say(&format!(
        "Collect counted {} notes, {} bytes",
        summary.count, summary.bytes
    ));

    g.step("bidirectional: Chat — each note sent only after the answer to the last came back");
    let mut answers = Vec::new();
    client::bidi_turns::<Note, Note>(&url, exchange::CHAT, &notes, &opts, &mut |n| {
        answers.push(n.text)
    })
    .map_err(|e| g.fail("Chat", e))?;
    g.say(&format!("Chat answered {} in turn", answers.join(", ")));

    g.step("errors are statuses: a method the server does not have");
    match client::unary::<Note, Note>(&url, "/netlab.Exchange/Nope", &note, &opts) {
        Err(status) if status.code == super::status::Code::UNIMPLEMENTED => {
            g.say(&format!("the call ended with {status}"));
        }
        other => return Err(g.fail("UNIMPLEMENTED", format!("{other:?}"))),
    }

    g.step("one operation two ways: REST/JSON over HTTP/1.1 vs gRPC/protobuf over HTTP/2");
    rest_next_to_grpc(g, grpc.addr(), &note, &opts)?;
    grpc.stop();
    Ok(())
}

/// Step 7: the same note echoed by REST/JSON (HTTP/1.1) and by gRPC's Echo (HTTP/2), each
/// on a fresh connection through a relay that counts the bytes.
fn rest_next_to_grpc(
    g: &mut Guide,
    grpc: std::net::SocketAddr,
    note: &Note,
    opts: &Options,
) -> Result<(), TourError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| g.fail("bind", e))?;
    let rest = h1server::spawn(
        l,
        Arc::new(app::monolith(Store::new(), None)),
        h1server::Config::default(),
        Arc::new(h1server::plain),
    )
    .map_err(|e| g.fail("start REST", e))?;
    // REST: POST the note as JSON to /echo and read it back.
    let json = r#"{"text":"hello gRPC","seq":1}"#;
    let (front, counter) = counted(rest.addr()).map_err(|e| g.fail("relay", e))?;
    let t = Instant::now();
    {
        let mut c = Client::new(H1Options::default());
        let mut req = H1Outgoing::new(
            "POST",
            Url::parse(&format!("http://{front}/echo")).map_err(|e| g.fail("URL", e))?,
        );
        req.headers.append("Content-Type", "application/json");
        req.body = json.as_bytes().to_vec();
        let r = c.send(&req).map_err(|e| g.fail("REST", e))?;
        if r.body != json.as_bytes() {
            return Err(g.fail("REST", "the echo differs"));
        }
    }
    let rest_time = t.elapsed();
    let rest_bytes = counter.join().map_err(|_| g.fail("relay", "counter"))?;
    // gRPC: the same note through Echo.
    let (front, counter) = counted(grpc).map_err(|e| g.fail("relay", e))?;
    let t = Instant::now();
    let _: Note = client::unary(&base(g, front)?, exchange::ECHO, note, opts)
        .map_err(|e| g.fail("Echo", e))?;
    let grpc_time = t.elapsed();
    let grpc_bytes = counter.join().map_err(|_| g.fail("relay", "counter"))?;
    g.say(&format!(
        "the message itself: {} bytes of JSON, {} bytes of protobuf",
        json.len(),
        prost::Message::encode_to_vec(note).len()
    ));
    g.say(&format!(
        "on the wire, connection set-up included: REST {} bytes up / {} down in {} µs; gRPC {} up / {} down in {} µs",
        rest_bytes.up,
        rest_bytes.down,
        rest_time.as_micros(),
        grpc_bytes.up,
        grpc_bytes.down,
        grpc_time.as_micros()
    ));
    g.say("one call each: a round trip for TCP, one for the exchange (gRPC's client does not wait for the server's SETTINGS). gRPC's first call carries HTTP/2's preface and SETTINGS; on a kept connection its headers shrink (HPACK) while REST repeats its text head.");
    rest.stop();
    Ok(())
}
