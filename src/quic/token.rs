//! The address-validation token a server puts in a Retry (RFC 9000 §8.1.2, §17.2.5).
//!
//! A Retry makes the client prove it can receive at the address it claims before the server
//! spends memory on it: the client must echo the token in its next Initial. The server keeps
//! no state between the two, so everything it needs later is in the token, and the token must
//! be unforgeable: "the token MUST be ... integrity protected" (RFC 9000 §8.1.4). Here it is
//!
//! ```text
//! issued (8 bytes, seconds) | ODCID length (1) | ODCID | HMAC-SHA256 (32 bytes)
//! ```
//!
//! where the HMAC covers the client's address and port, the time and the original
//! destination connection ID, under a key only this server process knows. A token from
//! another address, a changed byte or an old token is refused. Time is passed in (seconds),
//! so tests can age a token without waiting.

use ring::hmac;
use std::fmt;
use std::net::SocketAddr;

/// How long a Retry token stays valid: the client answers a Retry at once, so a few seconds
/// cover a slow path and still make a captured token useless soon.
pub const LIFETIME_SECS: u64 = 10;

const MAC_LEN: usize = 32;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Shorter than its fields, or a length that does not fit.
    Malformed,
    /// The HMAC does not match: forged, changed, or minted for another address.
    Forged,
    /// Older than [`LIFETIME_SECS`] (or from the future).
    Expired { age_secs: i64 },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed => write!(f, "malformed address-validation token"),
            TokenError::Forged => write!(
                f,
                "token not minted by this server for this address (HMAC mismatch)"
            ),
            TokenError::Expired { age_secs } => write!(
                f,
                "token expired ({age_secs} s old, valid for {LIFETIME_SECS} s)"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// Mints and checks tokens with one secret key.
pub struct Minter {
    key: hmac::Key,
}

impl Minter {
    /// A minter with a fresh random key (tokens die with the process).
    pub fn new() -> Result<Minter, ring::error::Unspecified> {
        let rng = ring::rand::SystemRandom::new();
        Ok(Minter {
            key: hmac::Key::generate(hmac::HMAC_SHA256, &rng)?,
        })
    }

    /// A minter with a given key: tests use a fixed one.
    pub fn with_key(secret: &[u8]) -> Minter {
        Minter {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// What the HMAC covers: the client's address and port, the time, the ODCID.
    fn signed_input(peer: &SocketAddr, issued: u64, odcid: &[u8]) -> Vec<u8> {
        let mut input = Vec::with_capacity(16 + 2 + 8 + odcid.len());
        match peer {
            SocketAddr::V4(a) => input.extend_from_slice(&a.ip().octets()),
            SocketAddr::V6(a) => input.extend_from_slice(&a.ip().octets()),
        }
        input.extend_from_slice(&peer.port().to_be_bytes());
        input.extend_from_slice(&issued.to_be_bytes());
        input.extend_from_slice(odcid);
        input
    }

    /// The token for a client at `peer` whose first Initial went to `odcid`, at time `now`.
    pub fn mint(&self, peer: &SocketAddr, odcid: &[u8], now: u64) -> Vec<u8> {
        let mut t = Vec::with_capacity(9 + odcid.len() + MAC_LEN);
        t.extend_from_slice(&now.to_be_bytes());
        t.push(odcid.len() as u8);
        t.extend_from_slice(odcid);
        let input = Minter::signed_input(peer, now, odcid);
        t.extend_from_slice(hmac::sign(&self.key, &input).as_ref());
        t
    }

    /// Checks a token echoed by `peer` at time `now`; returns the original destination
    /// connection ID it carries (the server must send it back as a transport parameter,
    /// RFC 9000 §7.3, so the client knows nobody tampered with the Retry).
    pub fn validate(
        &self,
        peer: &SocketAddr,
        token: &[u8],
        now: u64,
    ) -> Result<Vec<u8>, TokenError> {
        let issued: [u8; 8] = token
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(TokenError::Malformed)?;
        let issued = u64::from_be_bytes(issued);
        let n = usize::from(*token.get(8).ok_or(TokenError::Malformed)?);
        let odcid = token.get(9..9 + n).ok_or(TokenError::Malformed)?;
        let mac = token.get(9 + n..).ok_or(TokenError::Malformed)?;
        if mac.len() != MAC_LEN {
            return Err(TokenError::Malformed);
        }
        let input = Minter::signed_input(peer, issued, odcid);
        // Constant-time comparison inside ring.
        hmac::verify(&self.key, &input, mac).map_err(|_| TokenError::Forged)?;
        let age = now as i64 - issued as i64;
        if !(0..=LIFETIME_SECS as i64).contains(&age) {
            return Err(TokenError::Expired { age_secs: age });
        }
        Ok(odcid.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_token_comes_back_with_its_odcid() {
        let m = Minter::with_key(b"k");
        let a = addr("127.0.0.1:5000");
        let t = m.mint(&a, &[1, 2, 3, 4], 100);
        assert_eq!(m.validate(&a, &t, 105), Ok(vec![1, 2, 3, 4]));
        assert_eq!(t.len(), 8 + 1 + 4 + 32);
    }

    #[test]
    fn refused_tokens() {
        let m = Minter::with_key(b"k");
        let a = addr("127.0.0.1:5000");
        let t = m.mint(&a, &[9; 8], 100);
        // Another port, another host: the address is inside the HMAC.
        assert_eq!(
            m.validate(&addr("127.0.0.1:5001"), &t, 100),
            Err(TokenError::Forged)
        );
        assert_eq!(
            m.validate(&addr("127.0.0.2:5000"), &t, 100),
            Err(TokenError::Forged)
        );
        // A flipped bit anywhere.
        for i in 0..t.len() {
            let mut bad = t.clone();
            bad[i] ^= 1;
            assert!(m.validate(&a, &bad, 100).is_err(), "byte {i}");
        }
        // Another server's key.
        assert_eq!(
            Minter::with_key(b"other").validate(&a, &t, 100),
            Err(TokenError::Forged)
        );
        // Too old, or from the future.
        assert_eq!(
            m.validate(&a, &t, 100 + LIFETIME_SECS + 1),
            Err(TokenError::Expired { age_secs: 11 })
        );
        assert_eq!(
            m.validate(&a, &t, 99),
            Err(TokenError::Expired { age_secs: -1 })
        );
        // Truncated at every length.
        for n in 0..t.len() {
            assert!(m.validate(&a, &t[..n], 100).is_err(), "length {n}");
        }
        assert_eq!(m.validate(&a, b"quiche", 100), Err(TokenError::Malformed));
    }
}
