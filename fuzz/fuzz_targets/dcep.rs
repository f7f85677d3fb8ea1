//! Fuzz target: DCEP, RFC 8832 (src/webrtc/dcep.rs), through the default `on_open` of
//! `webrtc::peer::Config` (the decoder itself stays crate-private: it is lab 10's answer).
//! - Any message is an OPEN and its ACK, or one error, never a panic.
//! - decode(encode(open)) == open for every OPEN netlab writes (label and protocol of up to
//!   65535 bytes: longer ones are cut on the wire, and the W3C API refuses them).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::webrtc::dcep::{self, ACK, ChannelType, Open, Reliability};
use netlab::webrtc::peer::Config;

#[derive(Arbitrary, Debug)]
struct Input {
    unordered: bool,
    reliability: (u8, u32),
    priority: u16,
    label: String,
    protocol: String,
}

// The raw bytes go to the decoder as they are (so captured traffic seeds it); the same
// bytes, read as an `Input`, choose what to encode.
fuzz_target!(|data: &[u8]| {
    let on_open = Config::default().on_open;
    if let Ok((_, reply)) = on_open(data) {
        assert_eq!(reply, [ACK]);
    }
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let reliability = match input.reliability.0 % 3 {
        0 => Reliability::Reliable,
        1 => Reliability::Rexmit(input.reliability.1),
        _ => Reliability::Timed(input.reliability.1),
    };
    let open = Open {
        channel_type: ChannelType {
            unordered: input.unordered,
            reliability,
        },
        priority: input.priority,
        label: input.label,
        protocol: input.protocol,
    };
    if open.label.len() > usize::from(u16::MAX) || open.protocol.len() > usize::from(u16::MAX) {
        return;
    }
    let wire = dcep::encode_open(&open);
    let (decoded, reply) = on_open(&wire).expect("netlab's own OPEN decodes");
    assert_eq!(decoded, open);
    assert_eq!(reply, [ACK]);
});
