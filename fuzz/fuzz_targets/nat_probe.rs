//! Fuzz target: the NAT behaviour probe's reading of Binding answers
//! (src/webrtc/behavior.rs, `netlab webrtc nat`). The datagram is decoded by the `stun`
//! crate; netlab picks the answer to its own transaction and reads XOR-MAPPED-ADDRESS.
//! - Any datagram, for any transaction id, never panics.
//! - A Binding success carrying XOR-MAPPED-ADDRESS for our transaction id gives back that
//!   address; the same answer for another transaction is no answer (RFC 8489 §6.3.3), and
//!   a success without the attribute is `NoMappedAddress`, not an address.
//! - The probe's own request is STUN with a valid FINGERPRINT.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::webrtc::behavior::{self, ProbeError};
use netlab::webrtc::stun_codec::{self, xor_address};
use std::net::{IpAddr, SocketAddr};
use stun::agent::TransactionId;
use stun::attributes::ATTR_XORMAPPED_ADDRESS;
use stun::message::BINDING_SUCCESS;

#[derive(Arbitrary, Debug)]
struct Input {
    tid: [u8; 12],
    other: [u8; 12],
    v6: bool,
    ip: [u8; 16],
    port: u16,
    with_address: bool,
}

// The raw bytes are an answer (so captured answers seed it); the same bytes, read as an
// `Input`, choose an answer to write.
fuzz_target!(|data: &[u8]| {
    let tid: [u8; 12] = data
        .get(8..20)
        .map_or([0; 12], |t| t.try_into().unwrap_or([0; 12]));
    let _ = behavior::mapped(data, tid);
    let _ = behavior::mapped(data, [0; 12]);

    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let request = behavior::request(input.tid).expect("a Binding request is always written");
    assert!(stun_codec::decode(&request, true).is_ok());
    let ip = if input.v6 {
        IpAddr::from(input.ip)
    } else {
        IpAddr::from([input.ip[0], input.ip[1], input.ip[2], input.ip[3]])
    };
    let mapped = SocketAddr::new(ip, input.port);
    let attrs: Vec<_> = if input.with_address {
        vec![(ATTR_XORMAPPED_ADDRESS, xor_address(mapped, &input.tid))]
    } else {
        Vec::new()
    };
    let answer =
        stun_codec::build(BINDING_SUCCESS, TransactionId(input.tid), &attrs, &[], None).unwrap();
    let read = behavior::mapped(&answer, input.tid);
    if input.with_address {
        assert_eq!(read.ok(), Some(Some(mapped)));
    } else {
        assert!(matches!(read, Err(ProbeError::NoMappedAddress)), "{read:?}");
    }
    if input.other != input.tid {
        assert!(matches!(behavior::mapped(&answer, input.other), Ok(None)));
    }
});
