//! Fuzz target: ZMTP 3 (src/zmq/zmtp.rs) and the zmtp tap (src/zmq/zmtp_tap.rs).
//! - The greeting, frame header, command, metadata and known-command decoders never panic,
//!   and a complete greeting or header is found again in any longer input.
//! - Frames written by RFC 23's grammar (netlab sends none itself: libzmq does; the target
//!   writes them) decode to their flags and size, short or long.
//! - The tap gives the same lines whether a stream arrives whole or cut anywhere.
#![no_main]

#[path = "../common/split.rs"]
mod split;

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::l4::relay::Side;
use netlab::zmq::zmtp::{self, COMMAND, LONG, MORE, Status};

#[derive(Arbitrary, Debug)]
struct Input {
    more: bool,
    command: bool,
    long: bool,
    size: u64,
}

// The raw bytes go to the decoder as they are (so captured traffic seeds it); the same
// bytes, read as an `Input`, choose what to encode.
fuzz_target!(|data: &[u8]| {
    if let Ok(Status::Complete(g, n)) = zmtp::parse_greeting(data) {
        assert_eq!(zmtp::parse_greeting(&data[..n]), Ok(Status::Complete(g, n)));
    }
    if let Ok(Status::Complete(h, n)) = zmtp::parse_frame_header(data) {
        assert_eq!(
            zmtp::parse_frame_header(&data[..n]),
            Ok(Status::Complete(h, n))
        );
        let body = &data[n..data.len().min(n.saturating_add(h.size as usize))];
        if let Ok(cmd) = zmtp::parse_command(body) {
            let _ = zmtp::parse_metadata(cmd.data);
            let _ = zmtp::interpret(cmd);
        }
        let _ = zmtp::legacy_subscription(body);
    }

    let cut = data.first().map_or(0, |&b| usize::from(b) * 3);
    split::same_lines_when_cut(netlab::zmq::zmtp_tap::new, Side::Client, data, cut);
    split::same_lines_when_cut(netlab::zmq::zmtp_tap::new, Side::Server, data, cut);
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };

    // A frame header as RFC 23 writes it: flags, then a 1-octet or 8-octet size.
    let size = input.size & (i64::MAX as u64);
    let long = input.long || size > 255;
    let flags = if input.command {
        COMMAND
    } else if input.more {
        MORE
    } else {
        0
    } | if long { LONG } else { 0 };
    let mut written = vec![flags];
    if long {
        written.extend_from_slice(&size.to_be_bytes());
    } else {
        written.push(size as u8);
    }
    match zmtp::parse_frame_header(&written) {
        Ok(Status::Complete(h, n)) => {
            assert_eq!((h.flags, h.size, n), (flags, size, written.len()));
        }
        other => panic!("{written:?} decoded as {other:?}"),
    }
});
