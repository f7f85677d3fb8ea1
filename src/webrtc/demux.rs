//! RFC 7983 §7 (updated by RFC 9443): one UDP socket carries STUN, DTLS and RTP at once, and
//! the first byte of each datagram says which.
//!
//! ```text
//!                  +----------------+
//!                  |        [0..3] -+--> STUN
//!                  |      [20..63] -+--> DTLS
//!  datagram ---->  |    [128..191] -+--> RTP/RTCP (a data channel has none: dropped)
//!                  |         other -+--> dropped
//!                  +----------------+
//! ```
//!
//! A wire function, no I/O: the socket loop in [`super::peer`] calls [`classify`] on each
//! datagram it reads.

/// What a datagram's first byte says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// STUN (RFC 8489): ICE connectivity and consent checks.
    Stun,
    /// A DTLS record (RFC 6347): the handshake, then SCTP inside application data.
    Dtls,
    /// RTP or RTCP: media, which a data-channel-only session never negotiated.
    Rtp,
    /// Anything else (ZRTP, TURN channels, garbage): RFC 7983 says drop it.
    Unknown,
}

/// Sorts one datagram by its first byte (RFC 7983 §7, RFC 9443 §3).
pub fn classify(datagram: &[u8]) -> Kind {
    match datagram.first() {
        // "If the value of the first byte is in the range 0 to 3, then forward to STUN."
        Some(0..=3) => Kind::Stun,
        // "If the value is in the range 20 to 63 (inclusive), forward to DTLS."
        Some(20..=63) => Kind::Dtls,
        // "If the value is in the range 128 to 191 (inclusive), forward to RTP/RTCP."
        Some(128..=191) => Kind::Rtp,
        _ => Kind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_byte_picks_the_protocol() {
        let table: &[(&[u8], Kind)] = &[
            (&[0x00, 0x01], Kind::Stun), // Binding Request
            (&[0x01, 0x01], Kind::Stun), // Binding Success
            (&[3], Kind::Stun),
            (&[4], Kind::Unknown),
            (&[19], Kind::Unknown),
            (&[20], Kind::Dtls),             // change_cipher_spec
            (&[22, 0xfe, 0xfd], Kind::Dtls), // handshake, DTLS 1.2
            (&[23], Kind::Dtls),             // application_data
            (&[63], Kind::Dtls),
            (&[64], Kind::Unknown), // TURN channel
            (&[127], Kind::Unknown),
            (&[128], Kind::Rtp),
            (&[0x80, 0x60], Kind::Rtp),
            (&[191], Kind::Rtp),
            (&[192], Kind::Unknown),
            (&[255], Kind::Unknown),
            (&[], Kind::Unknown),
        ];
        for (datagram, want) in table {
            assert_eq!(classify(datagram), *want, "first byte of {datagram:?}");
        }
    }
}
