//! Lab 06 check: starts a REP server with your `Store::handle` on a loopback port and plays
//! REQ clients against it (libzmq, as pyzmq is), odd inputs included. Run: `make check LAB=06`.

#[path = "../common.rs"]
mod common;
#[path = "kv.rs"]
mod kv;
#[path = "solution.rs"]
mod solution;

common::wrong_solutions! {
    fn handler_of(m) -> BoxedHandler {
        let mut store = m::Store::default();
        Box::new(move |request: &[Vec<u8>]| store.handle(request))
    }
    student kv, solution solution;
    text_values fails [5]: "keeps values as text, so the bytes 00 ff come back changed";
    any_case fails [7]: "accepts get and Put where the protocol says GET and PUT";
    no_key_limit fails [8]: "accepts the empty key and a key of a megabyte";
}

use common::Check;
use netlab::zmq::reqrep::{self, Client, PANIC_REPLY};
use netlab::zmq::{Endpoint, Message};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(3);

/// Either file's `Store::handle`, behind one type.
type BoxedHandler = Box<dyn FnMut(&[Vec<u8>]) -> Message + Send>;

/// `["PUT", "k", "v"]`, bytes escaped.
fn show(message: &[&[u8]]) -> String {
    let parts: Vec<String> = message
        .iter()
        .map(|p| netlab::trace::quoted(p, 40))
        .collect();
    format!("[{}]", parts.join(", "))
}

fn show_owned(message: &Message) -> String {
    let parts: Vec<&[u8]> = message.iter().map(Vec::as_slice).collect();
    show(&parts)
}

struct Lab {
    ctx: zmq::Context,
    endpoint: Endpoint,
}

impl Lab {
    fn client(&self) -> Result<Client, String> {
        Client::connect(&self.ctx, &self.endpoint, WAIT).map_err(|e| e.to_string())
    }

    /// Sends `request` on `client` and returns the reply, or says what went wrong.
    fn ask(&self, client: &mut Client, request: &[&[u8]]) -> Result<Message, String> {
        let reply = client.request(request).map_err(|e| {
            format!(
                "sent {} → no reply ({e}); does handle return for every request?",
                show(request)
            )
        })?;
        if reply.first().map(Vec::as_slice) == Some(PANIC_REPLY) {
            return Err(format!(
                "sent {} → your handler panicked (see the panic message above the report)",
                show(request)
            ));
        }
        Ok(reply)
    }

    /// Expects exactly `want` back.
    fn expect(&self, client: &mut Client, request: &[&[u8]], want: &[&[u8]]) -> Result<(), String> {
        let reply = self.ask(client, request)?;
        if reply.iter().map(Vec::as_slice).eq(want.iter().copied()) {
            Ok(())
        } else {
            Err(format!(
                "sent {} → expected {}, got {}",
                show(request),
                show(want),
                show_owned(&reply)
            ))
        }
    }

    /// Expects `ERR reason`: two parts, the first "ERR".
    fn expect_err(&self, client: &mut Client, request: &[&[u8]]) -> Result<(), String> {
        let reply = self.ask(client, request)?;
        match reply.as_slice() {
            [first, reason] if first == b"ERR" && !reason.is_empty() => Ok(()),
            _ => Err(format!(
                "sent {} → expected [\"ERR\", reason], got {}",
                show(request),
                show_owned(&reply)
            )),
        }
    }
}

fn main() {
    let (mut check, subject) = Check::start(
        "06 (key-value over REQ/REP)",
        "labs/06-zmq-kv/kv.rs",
        WRONG,
        Duration::from_secs(60),
    );
    let ctx = zmq::Context::new();
    let any = Endpoint {
        host: "127.0.0.1".into(),
        port: None,
    };
    let bind = match check.listen_addr("127.0.0.1:5555").rsplit_once(':') {
        Some((host, port)) if port != "0" => Endpoint {
            host: host.into(),
            port: port.parse().ok(),
        },
        _ => any.clone(),
    };
    // The same server loop for both files: only the handler differs.
    let handler = handler_of(&subject);
    let server = match reqrep::spawn(&ctx, &bind, handler) {
        Ok(s) => s,
        Err(e) => {
            println!("cannot start the server: {e}");
            std::process::exit(1);
        }
    };
    check.serve(
        server.endpoint(),
        &[&format!(
            ".venv/bin/python -c \"import zmq; s = zmq.Context().socket(zmq.REQ); s.connect('{}'); s.send_multipart([b'PUT', b'colour', b'blue']); print(s.recv_multipart()); s.send_multipart([b'GET', b'colour']); print(s.recv_multipart())\"",
            server.endpoint()
        )],
    );
    let lab = Lab {
        ctx: ctx.clone(),
        endpoint: Endpoint::parse(server.endpoint()).unwrap_or(any),
    };

    check.step("PUT then GET gives the value back", || {
        let mut c = lab.client()?;
        lab.expect(&mut c, &[b"PUT", b"colour", b"blue"], &[b"OK"])?;
        lab.expect(&mut c, &[b"GET", b"colour"], &[b"OK", b"blue"])
    });
    check.step("GET of a key never stored is NOT_FOUND", || {
        let mut c = lab.client()?;
        lab.expect(&mut c, &[b"GET", b"nothing-here"], &[b"NOT_FOUND"])
    });
    check.step("a second PUT replaces the value", || {
        let mut c = lab.client()?;
        lab.expect(&mut c, &[b"PUT", b"size", b"small"], &[b"OK"])?;
        lab.expect(&mut c, &[b"PUT", b"size", b"large"], &[b"OK"])?;
        lab.expect(&mut c, &[b"GET", b"size"], &[b"OK", b"large"])
    });
    check.step("DEL removes a key; a second DEL is NOT_FOUND", || {
        let mut c = lab.client()?;
        lab.expect(&mut c, &[b"PUT", b"gone", b"soon"], &[b"OK"])?;
        lab.expect(&mut c, &[b"DEL", b"gone"], &[b"OK"])?;
        lab.expect(&mut c, &[b"GET", b"gone"], &[b"NOT_FOUND"])?;
        lab.expect(&mut c, &[b"DEL", b"gone"], &[b"NOT_FOUND"])
    });
    check.step(
        "keys and values are bytes: spaces, newlines, zero bytes, an empty value, 1 MiB",
        || {
            let mut c = lab.client()?;
            let big = vec![b'z'; 1 << 20];
            let cases: [(&[u8], &[u8]); 4] = [
                (b"two words", b"line one\nline two"),
                // Not UTF-8 either: a part is bytes, not text.
                (b"\x00\xff", b"\x00\xff\xfe\x01"),
                (b"empty", b""),
                (b"big", &big),
            ];
            for (key, value) in cases {
                lab.expect(&mut c, &[b"PUT", key, value], &[b"OK"])?;
                lab.expect(&mut c, &[b"GET", key], &[b"OK", value])?;
            }
            Ok(())
        },
    );
    check.step("a wrong number of parts is ERR", || {
        let mut c = lab.client()?;
        let bad: [&[&[u8]]; 5] = [
            &[b"GET"],
            &[b"PUT", b"k"],
            &[b"PUT", b"k", b"v", b"extra"],
            &[b"DEL"],
            &[b"GET", b"a", b"b"],
        ];
        for request in bad {
            lab.expect_err(&mut c, request)?;
        }
        Ok(())
    });
    check.step("an unknown, lower-case or empty command is ERR", || {
        let mut c = lab.client()?;
        let bad: [&[&[u8]]; 4] = [
            &[b"get", b"colour"],
            &[b"FETCH", b"colour"],
            &[b""],
            &[b"", b"x"],
        ];
        for request in bad {
            lab.expect_err(&mut c, request)?;
        }
        Ok(())
    });
    check.step("an empty key, or one longer than 255 bytes, is ERR", || {
        let mut c = lab.client()?;
        let long = vec![b'k'; 256];
        lab.expect_err(&mut c, &[b"PUT", b"", b"v"])?;
        lab.expect_err(&mut c, &[b"GET", b""])?;
        lab.expect_err(&mut c, &[b"PUT", &long, b"v"])?;
        let longest = vec![b'k'; 255];
        lab.expect(&mut c, &[b"PUT", &longest, b"ok"], &[b"OK"])
    });
    check.step(
        "one store for all: a value PUT by one client is read by another",
        || {
            let mut writer = lab.client()?;
            let mut reader = lab.client()?;
            lab.expect(&mut writer, &[b"PUT", b"shared", b"yes"], &[b"OK"])?;
            lab.expect(&mut reader, &[b"GET", b"shared"], &[b"OK", b"yes"])?;
            // After all the odd requests above, the first key is still there.
            lab.expect(&mut reader, &[b"GET", b"colour"], &[b"OK", b"blue"])
        },
    );
    drop(server);
    check.finish();
}
