//! Lab 06 — a plausible wrong solution, kept so that the check is proved to catch it:
//! values are stored as text (`String::from_utf8_lossy`), which is fine for `blue` and
//! turns the bytes `\x00\xff` into `\x00` and U+FFFD. A ZeroMQ part is bytes, not text.
//! `make check LAB=06 WRONG=text_values` shows the failure.

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
                // WRONG: a value is bytes; a lossy round trip through String changes them.
                let text = String::from_utf8_lossy(&args[1]).into_owned();
                self.map.insert(key.clone(), text.into_bytes());
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
