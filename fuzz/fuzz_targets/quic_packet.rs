//! Fuzz target: QUIC packet headers (src/quic/packet.rs), as the trace reads every datagram.
//! No input panics; the packets of a datagram lie end to end inside it, each decodes alone
//! to the same header, and connection IDs are at most 20 bytes in version 1 (RFC 9000 §17.2).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::quic::packet::{self, Form, MAX_CID_LEN, VERSION_1};

fuzz_target!(|data: &[u8]| {
    let Some((&n, bytes)) = data.split_first() else {
        return;
    };
    let short_dcid_len = usize::from(n % 21);
    let _ = packet::describe_datagram(bytes, short_dcid_len);
    let Ok(headers) = packet::decode_datagram(bytes, short_dcid_len) else {
        return;
    };
    let mut at = 0;
    for h in &headers {
        assert!(h.size > 0 && at + h.size <= bytes.len(), "{h:?} at {at}");
        assert_eq!(packet::decode(&bytes[at..], short_dcid_len).as_ref(), Ok(h));
        if h.version == VERSION_1 || matches!(h.form, Form::Short { .. }) {
            assert!(h.dcid.len() <= MAX_CID_LEN && h.scid.len() <= MAX_CID_LEN);
        }
        let _ = h.to_string();
        at += h.size;
    }
});
