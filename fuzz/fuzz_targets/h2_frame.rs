//! Fuzz target: HTTP/2 frames (src/http2/frame.rs) and the h2 tap (src/http2/tap.rs).
//! - Every frame in the input decodes to a frame or its error, never a panic.
//! - The header netlab writes (`frame::emit`) reads back the same; a decoded SETTINGS,
//!   PING, WINDOW_UPDATE, RST_STREAM or GOAWAY written back is its payload again.
//! - The tap gives the same lines whether the bytes arrive whole or cut anywhere.
#![no_main]

#[path = "../common/split.rs"]
mod split;

use libfuzzer_sys::fuzz_target;
use netlab::http2::frame::{self, Frame, HEADER_LEN, Header, PREFACE};
use netlab::l4::relay::Side;

/// The payload of a fixed-shape frame, written back from its decoded form (§6).
fn rewrite(f: &Frame) -> Option<Vec<u8>> {
    Some(match f {
        Frame::Settings(list) => list
            .iter()
            .flat_map(|(id, v)| [&id.to_be_bytes()[..], &v.to_be_bytes()].concat())
            .collect(),
        Frame::Ping(b) => b.to_vec(),
        Frame::WindowUpdate(n) => n.to_be_bytes().to_vec(),
        Frame::RstStream(code) => code.0.to_be_bytes().to_vec(),
        Frame::GoAway {
            last_stream,
            code,
            debug,
        } => [&last_stream.to_be_bytes()[..], &code.0.to_be_bytes(), debug].concat(),
        _ => return None,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Some(h) = Header::parse(rest) {
        let end = (HEADER_LEN + h.length as usize).min(rest.len());
        let payload = &rest[HEADER_LEN..end];
        let written = frame::emit(h.kind, h.flags, h.stream, payload);
        let again = Header::parse(&written).unwrap();
        assert_eq!(
            (again.kind, again.flags, again.stream),
            (h.kind, h.flags, h.stream)
        );
        assert_eq!(again.length as usize, payload.len());
        let parsed = frame::parse(&again, payload);
        if let Ok(f) = &parsed {
            let _ = frame::describe(&again, f);
            if let Some(back) = rewrite(f) {
                // The reserved bit of a 31-bit field is dropped on reading (§6.8, §6.9).
                let mut expected = payload.to_vec();
                if matches!(f, Frame::WindowUpdate(_) | Frame::GoAway { .. }) {
                    expected[0] &= 0x7f;
                }
                assert_eq!(back, expected, "{f:?}");
            }
        }
        rest = &rest[end..];
    }
    let cut = data.first().map_or(0, |&b| usize::from(b) * 7);
    split::same_lines_when_cut(netlab::http2::tap::new, Side::Server, data, cut);
    let client = [PREFACE, data].concat();
    split::same_lines_when_cut(netlab::http2::tap::new, Side::Client, &client, cut);
});
