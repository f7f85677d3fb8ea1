//! Lab 06 — a plausible wrong solution, kept so that the check is proved to catch it:
//! "be liberal": `get`, `Put` and `PUT` are all accepted. README.md (and the starter's
//! table) says a lower-case command is an error: the protocol is exact.
//! `make check LAB=06 WRONG=any_case` shows the failure.

use netlab::zmq::Message;
use std::collections::HashMap;

/// The longest key accepted, in bytes.
pub const MAX_KEY: usize = 255;

#[derive(Default)]
pub struct Store {
    pub map: HashMap<Vec<u8>, Vec<u8>>,
}

fn reply(parts: &[&[u8]]) -> Message {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn err(reason: &str) -> Message {
    reply(&[b"ERR", reason.as_bytes()])
}

impl Store {
    pub fn handle(&mut self, request: &[Vec<u8>]) -> Message {
        // Split the command from its arguments; an empty message has no command at all.
        let Some((command, args)) = request.split_first() else {
            return err("empty request");
        };
        // WRONG: the protocol names its commands in capitals only.
        let command = command.to_ascii_uppercase();
        let arity = match command.as_slice() {
            b"PUT" => 2,
            b"GET" | b"DEL" => 1,
            _ => return err("unknown command (use PUT, GET or DEL, in capitals)"),
        };
        if args.len() != arity {
            return err("wrong number of parts");
        }
        // Every command names a key first: check it once, here.
        let key = &args[0];
        if key.is_empty() {
            return err("empty key");
        }
        if key.len() > MAX_KEY {
            return err("key longer than 255 bytes");
        }
        match command.as_slice() {
            b"PUT" => {
                self.map.insert(key.clone(), args[1].clone());
                reply(&[b"OK"])
            }
            b"GET" => match self.map.get(key) {
                Some(value) => reply(&[b"OK", value]),
                None => reply(&[b"NOT_FOUND"]),
            },
            _ => match self.map.remove(key) {
                Some(_) => reply(&[b"OK"]),
                None => reply(&[b"NOT_FOUND"]),
            },
        }
    }
}
