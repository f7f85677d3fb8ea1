//! Fuzz target: gRPC's 5-byte message framing (src/grpc/wire.rs).
//! - Messages netlab frames come out of the deframer as they went in, however the bytes
//!   are cut into DATA frames.
//! - Any bytes, pushed whole or cut in two, give the same messages and the same error.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::grpc::wire::{Deframer, frame};

#[derive(Arbitrary, Debug)]
struct Input {
    messages: Vec<Vec<u8>>,
    cut: u16,
}

/// Pushes `pieces` one after the other, taking messages after each, until an error.
fn deframe(pieces: &[&[u8]]) -> (Vec<Vec<u8>>, Option<String>, usize) {
    let mut d = Deframer::default();
    let mut out = Vec::new();
    for p in pieces {
        d.push(p);
        loop {
            match d.next_message() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(format!("{e:?}")), d.pending()),
            }
        }
    }
    (out, None, d.pending())
}

// The raw bytes go to the decoder as they are (so captured traffic seeds it); the same
// bytes, read as an `Input`, choose what to encode.
fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |&b| usize::from(b)) % (data.len() + 1);
    let whole = deframe(&[data]);
    let split = deframe(&[&data[..cut], &data[cut..]]);
    assert_eq!(whole.0, split.0);
    assert_eq!(whole.1, split.1);
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let stream: Vec<u8> = input.messages.iter().flat_map(|m| frame(m)).collect();
    let cut = usize::from(input.cut) % (stream.len() + 1);
    let (got, err, pending) = deframe(&[&stream[..cut], &stream[cut..]]);
    assert_eq!((got, err, pending), (input.messages.clone(), None, 0));
});
