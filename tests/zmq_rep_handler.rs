//! The REP server as a library (what lab 06 builds on): a stateful closure as handler, and a
//! handler that panics on one request does not take the server down.

use netlab::zmq::reqrep::{self, Client, PANIC_REPLY};
use netlab::zmq::{Endpoint, Message};
use std::time::Duration;

#[test]
fn a_panicking_handler_gets_an_error_reply_and_the_server_serves_on() {
    let ctx = zmq::Context::new();
    let any = Endpoint::parse("tcp://127.0.0.1:*").unwrap();
    let mut count = 0;
    let handler = move |request: &[Vec<u8>]| -> Message {
        assert_ne!(request[0], b"boom", "the handler was told to panic");
        count += 1;
        vec![format!("{count}").into_bytes()]
    };
    let server = reqrep::spawn(&ctx, &any, handler).unwrap();
    let at = Endpoint::parse(server.endpoint()).unwrap();
    let mut client = Client::connect(&ctx, &at, Duration::from_secs(5)).unwrap();
    assert_eq!(client.request(&[b"a"]).unwrap(), vec![b"1".to_vec()]);
    assert_eq!(
        client.request(&[b"boom"]).unwrap(),
        vec![PANIC_REPLY.to_vec()]
    );
    assert_eq!(
        client.request(&[b"b"]).unwrap(),
        vec![b"2".to_vec()],
        "state kept"
    );
    drop(client);
    assert_eq!(server.stop().unwrap(), 3, "three requests answered");
}
