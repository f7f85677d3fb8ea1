//! Lab 06 — the file you edit: the handler of a key-value service over REQ/REP.
//!
//! Each request is one ZeroMQ message of one or more parts (frames); each reply too. The
//! protocol (README.md has the full table):
//!
//! - `PUT key value` → `OK`
//! - `GET key`       → `OK value`, or `NOT_FOUND`
//! - `DEL key`       → `OK`, or `NOT_FOUND`
//! - anything else (unknown or lower-case command, wrong number of parts, an empty key,
//!   a key longer than 255 bytes) → `ERR reason`: two parts, the reason is yours to word.
//!
//! Keys and values are bytes, not text: one part may hold spaces, newlines or zero bytes.
//! The REP server calls `handle` once per request, from one thread, and sends what it
//! returns. If `handle` panics, the client gets `ERR handler panicked` and the check
//! tells you which request did it.
//!
//! Check your work with `make check LAB=06`.

use netlab::zmq::Message;
use std::collections::HashMap;

/// The store: every key and its value, for as long as the server runs.
#[derive(Default)]
pub struct Store {
    pub map: HashMap<Vec<u8>, Vec<u8>>,
}

impl Store {
    /// Answers one request.
    pub fn handle(&mut self, request: &[Vec<u8>]) -> Message {
        // TODO: look at request[0] (the command) and the parts after it, per the table.
        let _ = (&self.map, request);
        vec![b"ERR".to_vec(), b"not implemented yet".to_vec()]
    }
}
