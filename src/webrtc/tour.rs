//! The WebRTC section of the tour: one Rust peer offers, another answers (in this process,
//! over loopback UDP), and a channel carries text, binary, an empty message and one larger
//! than an SCTP packet, with every layer traced: SDP, STUN, DTLS, SCTP, DCEP.
