//! Fuzz target: the SOAP 1.1 envelope of the notes service (src/http/services/soap.rs).
//! - Any body POSTed to /soap gets a 200 or a SOAP fault (500), whose body is a well-formed
//!   envelope: never a panic.
//! - A CreateNote whose text netlab's `escape` wrote stores that text exactly (XML keeps
//!   neither a control character nor a CR, so those texts are left out).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::http::message::Request;
use netlab::http::services::notes::Store;
use netlab::http::services::soap::{self, ENVELOPE_NS, NOTES_NS};

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
}

fn post(store: &Store, body: Vec<u8>) -> (u16, Vec<u8>) {
    let mut req = Request::new("POST", "/soap");
    req.headers
        .append("content-type", "text/xml; charset=utf-8");
    req.headers
        .append("soapaction", "\"urn:netlab:notes#CreateNote\"");
    req.body = body;
    let resp = soap::handle(store, &req);
    (resp.status, resp.body)
}

// The raw bytes are the POSTed body (so captured envelopes seed it); the same bytes, read
// as an `Input`, choose the text of a note.
fuzz_target!(|data: &[u8]| {
    let store = Store::new();
    let (status, body) = post(&store, data.to_vec());
    assert!(status == 200 || status == 500, "{status}");
    let text = std::str::from_utf8(&body).expect("the answer is UTF-8");
    let doc = roxmltree::Document::parse(text).expect("the answer is well-formed");
    assert_eq!(doc.root_element().tag_name().namespace(), Some(ENVELOPE_NS));

    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    if input
        .text
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n')
    {
        return;
    }
    let envelope = format!(
        "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"{ENVELOPE_NS}\" xmlns:n=\"{NOTES_NS}\"><soap:Body><n:CreateNote><n:text>{}</n:text></n:CreateNote></soap:Body></soap:Envelope>",
        soap::escape(&input.text)
    );
    let store = Store::new();
    let (status, _) = post(&store, envelope.into_bytes());
    assert_eq!(status, 200);
    let notes = store.list();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].1, input.text);
});
