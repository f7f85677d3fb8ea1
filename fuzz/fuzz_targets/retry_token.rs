//! Fuzz target: QUIC Retry tokens (src/quic/token.rs), which a client echoes back. Any bytes
//! are refused without a panic; a token minted for an address and an original connection ID
//! validates there within its lifetime, and with any byte changed or from another address
//! never does.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::quic::token::Minter;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[derive(Arbitrary, Debug)]
struct Input {
    ip: u32,
    port: u16,
    odcid: [u8; 20],
    odcid_len: u8,
    issued: u32,
    later: u8,
    flip: (u16, u8),
}

// The raw bytes go to the validator as they are; the same bytes, read as an `Input`, choose
// what to mint.
fuzz_target!(|data: &[u8]| {
    let minter = Minter::with_key(b"netlab fuzz key");
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4433);
    let _ = minter.validate(&peer, data, 1_700_000_000);
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(input.ip)), input.port);
    // RFC 9000 §17.2: a connection ID is at most 20 bytes; times are Unix seconds.
    let odcid = &input.odcid[..usize::from(input.odcid_len % 21)];
    let issued = u64::from(input.issued);
    let token = minter.mint(&peer, odcid, issued);
    let now = issued + u64::from(input.later % 8);
    assert_eq!(minter.validate(&peer, &token, now).as_deref(), Ok(odcid));
    let other = SocketAddr::new(peer.ip(), peer.port().wrapping_add(1));
    assert!(minter.validate(&other, &token, now).is_err());
    let (at, by) = (usize::from(input.flip.0) % token.len(), input.flip.1);
    if by != 0 {
        let mut bad = token.clone();
        bad[at] ^= by;
        assert!(
            minter.validate(&peer, &bad, now).is_err(),
            "changed at {at}"
        );
    }
});
