//! Fuzz target: the SCTP chunk walker the WebRTC trace uses (src/webrtc/chunk.rs). Any
//! packet, described alone or folded into a conversation, is described, never trusted:
//! no panic, and a packet gets at least one line when described alone (unless it is a
//! common header and less than one chunk header: no chunk, nothing to say).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::webrtc::chunk::{self, Fold};

fuzz_target!(|data: &[u8]| {
    let lines = chunk::describe(data);
    assert!(!lines.is_empty() || (12..16).contains(&data.len()));
    // The same bytes as a conversation: packets of up to 255 bytes, alternately sent and
    // received, the length of each given by its first byte.
    let mut fold = Fold::default();
    let mut rest = data;
    let mut sent = true;
    while let Some((&n, tail)) = rest.split_first() {
        let (packet, after) = tail.split_at(usize::from(n).min(tail.len()));
        let _ = fold.describe(packet, sent);
        sent = !sent;
        rest = after;
    }
});
