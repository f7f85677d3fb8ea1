//! The DTLS key log: the line Wireshark needs to decrypt a data channel, written to
//! `$SSLKEYLOGFILE` in the NSS key log format TLS and QUIC use too:
//!
//! ```text
//! CLIENT_RANDOM <client hello's random, 64 hex digits> <master secret, 96 hex digits>
//! ```
//!
//! DTLS 1.2 derives every record key from the master secret and the two hello randoms (RFC
//! 5246 §6.3), so these two values are enough: tshark then shows the SCTP chunks and the
//! DCEP messages inside the DTLS records of a capture.
//!
//! webrtc-dtls has no key log callback. What it does offer is its connection state, exported
//! for resuming a connection elsewhere (`State::marshal_binary`, bincode 1 with its default
//! options: fixed-width little-endian integers, a `u64` length before each `Vec`). The fields
//! come in the order of the crate's `SerializedState`, and the two we need are near the start:
//!
//! ```text
//! offset  size  field
//!      0     2  local epoch
//!      2     2  remote epoch
//!      4    32  local random          (ours: the client random when we are the DTLS client)
//!     36    32  remote random
//!     68     2  cipher suite
//!     70     8  master secret length  (48)
//!     78    48  master secret
//! ```
//!
//! This decoder is checked against tshark by `tests/webrtc_keylog.rs`: if a new webrtc-dtls
//! changed the layout, the capture would stop decrypting and the test would say so.

use std::fmt;
use std::io::Write;

const RANDOM: usize = 32;
const LOCAL_RANDOM: usize = 4;
const REMOTE_RANDOM: usize = LOCAL_RANDOM + RANDOM;
const SECRET_LEN: usize = REMOTE_RANDOM + RANDOM + 2;
const SECRET: usize = SECRET_LEN + 8;
/// RFC 5246 §8.1: the master secret is always 48 bytes.
const MASTER_SECRET: usize = 48;

/// Why no key log line could be made from a serialized state.
#[derive(Debug, PartialEq, Eq)]
pub enum KeylogError {
    /// Fewer bytes than the fields need.
    Short(usize),
    /// The master secret's length is not 48: not the layout this decoder knows.
    Layout(u64),
}

impl fmt::Display for KeylogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeylogError::Short(n) => write!(f, "connection state of {n} bytes is too short"),
            KeylogError::Layout(n) => {
                write!(
                    f,
                    "master secret of {n} bytes: not webrtc-dtls's known layout"
                )
            }
        }
    }
}

/// The `CLIENT_RANDOM` line for a connection state; `client` says whether this side was the
/// DTLS client (then the local random is the client random).
pub fn line(state: &[u8], client: bool) -> Result<String, KeylogError> {
    if state.len() < SECRET {
        return Err(KeylogError::Short(state.len()));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&state[SECRET_LEN..SECRET]);
    let len = u64::from_le_bytes(len);
    if len != MASTER_SECRET as u64 {
        return Err(KeylogError::Layout(len));
    }
    if state.len() < SECRET + MASTER_SECRET {
        return Err(KeylogError::Short(state.len()));
    }
    let at = if client { LOCAL_RANDOM } else { REMOTE_RANDOM };
    Ok(format!(
        "CLIENT_RANDOM {} {}",
        hex(&state[at..at + RANDOM]),
        hex(&state[SECRET..SECRET + MASTER_SECRET])
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `line` to `$SSLKEYLOGFILE`; does nothing when it is unset. A file that cannot
/// be written is reported, not fatal (the data channel works without a key log).
pub fn append(line: &str) -> Result<bool, std::io::Error> {
    let Some(path) = std::env::var_os("SSLKEYLOGFILE") else {
        return Ok(false);
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    Ok(true)
}

/// Whether a key log is wanted at all (so the state is exported only then).
pub fn wanted() -> bool {
    std::env::var_os("SSLKEYLOGFILE").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state laid out as webrtc-dtls serializes it: epochs, randoms, suite, secret.
    fn state(secret_len: u64) -> Vec<u8> {
        let mut s = vec![1, 0, 1, 0];
        s.extend([0xAA; 32]);
        s.extend([0xBB; 32]);
        s.extend([0x2B, 0xC0]);
        s.extend(secret_len.to_le_bytes());
        s.extend([0xCC; 48]);
        s.extend([0u8; 40]);
        s
    }

    #[test]
    fn the_client_random_is_ours_when_we_were_the_client() {
        let as_client = line(&state(48), true).unwrap();
        assert_eq!(
            as_client,
            format!("CLIENT_RANDOM {} {}", "aa".repeat(32), "cc".repeat(48))
        );
        let as_server = line(&state(48), false).unwrap();
        assert!(as_server.starts_with(&format!("CLIENT_RANDOM {} ", "bb".repeat(32))));
    }

    #[test]
    fn an_unknown_layout_is_refused_not_guessed() {
        assert_eq!(line(&state(32), true), Err(KeylogError::Layout(32)));
        assert_eq!(line(&[0; 20], true), Err(KeylogError::Short(20)));
        let cut = &state(48)[..100];
        assert_eq!(line(cut, true), Err(KeylogError::Short(100)));
    }
}
