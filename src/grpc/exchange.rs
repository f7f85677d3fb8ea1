//! The `netlab.Exchange` service of proto/netlab.proto: its messages as prost structs
//! (written by hand, field for field, so no protoc is needed) and its four methods, one of
//! each kind of call:
//!
//! | method | request | response | kind |
//! |---|---|---|---|
//! | Echo | Note | Note | unary |
//! | Subscribe | Topic | stream Note | server streaming |
//! | Collect | stream Note | Summary | client streaming |
//! | Chat | stream Note | stream Note | bidirectional |

use super::call::{Call, Describe, Service};
use super::status::{Code, Status};

/// `message Note { string text = 1; uint64 seq = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Note {
    #[prost(string, tag = "1")]
    pub text: String,
    #[prost(uint64, tag = "2")]
    pub seq: u64,
}

/// `message Topic { string name = 1; uint32 count = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Topic {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(uint32, tag = "2")]
    pub count: u32,
}

/// `message Summary { uint64 count = 1; uint64 bytes = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(uint64, tag = "1")]
    pub count: u64,
    #[prost(uint64, tag = "2")]
    pub bytes: u64,
}

impl Describe for Note {
    fn describe(&self) -> String {
        format!(
            "Note text={} seq={}",
            crate::trace::quoted(self.text.as_bytes(), 60),
            self.seq
        )
    }
}

impl Describe for Topic {
    fn describe(&self) -> String {
        format!(
            "Topic name={} count={}",
            crate::trace::quoted(self.name.as_bytes(), 60),
            self.count
        )
    }
}

impl Describe for Summary {
    fn describe(&self) -> String {
        format!("Summary count={} bytes={}", self.count, self.bytes)
    }
}

pub const ECHO: &str = "/netlab.Exchange/Echo";
pub const SUBSCRIBE: &str = "/netlab.Exchange/Subscribe";
pub const COLLECT: &str = "/netlab.Exchange/Collect";
pub const CHAT: &str = "/netlab.Exchange/Chat";

/// Echo: the note it got.
pub fn echo(note: Note) -> Result<Note, Status> {
    Ok(note)
}

/// Subscribe: `count` notes on the topic, seq 1..count.
pub fn subscribe(
    topic: &Topic,
    send: &mut dyn FnMut(Note) -> Result<(), Status>,
) -> Result<(), Status> {
    if topic.count > 100_000 {
        return Err(Status::new(
            Code::OUT_OF_RANGE,
            "count may be at most 100000",
        ));
    }
    for seq in 1..=u64::from(topic.count) {
        send(Note {
            text: format!("{} #{seq}", topic.name),
            seq,
        })?;
    }
    Ok(())
}

/// Collect: how many notes, and how many bytes of text, arrived.
pub fn collect(notes: &mut dyn Iterator<Item = Result<Note, Status>>) -> Result<Summary, Status> {
    let mut summary = Summary::default();
    for note in notes {
        let note = note?;
        summary.count += 1;
        summary.bytes += note.text.len() as u64;
    }
    Ok(summary)
}

/// The service: routes each call to its method by `:path`.
pub struct Exchange;

impl Service for Exchange {
    fn methods(&self) -> &[&'static str] {
        &[ECHO, SUBSCRIBE, COLLECT, CHAT]
    }

    fn call(&self, call: &mut Call) -> Result<(), Status> {
        match call.method.as_str() {
            ECHO => {
                let note: Note = call.one()?;
                call.send(&echo(note)?)
            }
            SUBSCRIBE => {
                let topic: Topic = call.one()?;
                subscribe(&topic, &mut |note| call.send(&note))
            }
            COLLECT => {
                let mut incoming = std::iter::from_fn(|| call.recv::<Note>().transpose());
                let summary = collect(&mut incoming)?;
                call.send(&summary)
            }
            // Chat: each note answered as it arrives, not after the client has finished.
            CHAT => {
                while let Some(note) = call.recv::<Note>()? {
                    call.send(&note)?;
                }
                Ok(())
            }
            other => Err(unimplemented(other, self.methods())),
        }
    }
}

/// The status for a `:path` no method answers.
pub fn unimplemented(path: &str, methods: &[&str]) -> Status {
    Status::new(
        Code::UNIMPLEMENTED,
        format!("no method {path}; this server has {}", methods.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn messages_encode_as_protobuf_fields() {
        // field 1 (text), wire type 2 (length-delimited): 0x0a, length, bytes; field 2
        // (seq), wire type 0 (varint): 0x10, 300 as a varint (0xac 0x02).
        let n = Note {
            text: "hi".into(),
            seq: 300,
        };
        assert_eq!(
            n.encode_to_vec(),
            [0x0a, 0x02, b'h', b'i', 0x10, 0xac, 0x02]
        );
        assert_eq!(
            Note::decode(&[0x0a, 0x02, b'h', b'i', 0x10, 0xac, 0x02][..]).unwrap(),
            n
        );
        // Default values are not sent at all (proto3).
        assert!(Summary::default().encode_to_vec().is_empty());
    }

    #[test]
    fn the_methods_as_plain_functions() {
        let mut got = Vec::new();
        subscribe(
            &Topic {
                name: "news".into(),
                count: 3,
            },
            &mut |n| {
                got.push((n.text, n.seq));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            got,
            [
                ("news #1".into(), 1),
                ("news #2".into(), 2),
                ("news #3".into(), 3)
            ]
        );
        let notes = vec![
            Ok(Note {
                text: "ab".into(),
                seq: 0,
            }),
            Ok(Note {
                text: "cde".into(),
                seq: 0,
            }),
        ];
        assert_eq!(
            collect(&mut notes.into_iter()).unwrap(),
            Summary { count: 2, bytes: 5 }
        );
    }
}
