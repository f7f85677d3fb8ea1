//! Lab 06 — a plausible wrong solution, kept so that the check is proved to catch it:
//! every key is accepted, the empty one and one of a megabyte included. README.md refuses
//! both: an empty key is almost always a client bug, and a bound on what a client makes the
//! server keep is part of every protocol. `make check LAB=06 WRONG=no_key_limit` shows the
//! failure.

use netlab::zmq::Message;
use std::collections::HashMap;

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
        let arity = match command.as_slice() {
            b"PUT" => 2,
            b"GET" | b"DEL" => 1,
            _ => return err("unknown command (use PUT, GET or DEL, in capitals)"),
        };
        if args.len() != arity {
            return err("wrong number of parts");
        }
        // WRONG: no check of the key at all.
        let key = &args[0];
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
