//! Long-term credentials (RFC 8489 §9.2): the server knows each user's password, the client
//! proves it knows it too by MESSAGE-INTEGRITY keyed with MD5(username ":" realm ":" password)
//! (§9.2.2), and a NONCE the server chose stops a captured request from being replayed
//! forever: once the nonce is stale, the client must ask again (438, §9.2.4).
//!
//! The nonce carries its own birth time and an HMAC over it with a key that lives only in this
//! process, so the server keeps no table of nonces: `<millis since start, hex>-<tag, hex>`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use stun::attributes::{ATTR_MESSAGE_INTEGRITY, ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
use stun::integrity::MessageIntegrity;
use stun::message::Message;
use stun::textattrs::TextAttribute;

use super::Refusal;

/// Who may allocate, and the nonces they must use.
pub struct Auth {
    pub realm: String,
    users: HashMap<String, String>,
    key: ring::hmac::Key,
    started: Instant,
    nonce_lifetime: Duration,
}

/// A request whose credentials verified: who sent it, and the key its response is signed with
/// (RFC 8489 §9.2.4: "the response MUST include MESSAGE-INTEGRITY, using the same key").
pub struct Verified {
    pub user: String,
    pub key: MessageIntegrity,
}

impl Auth {
    /// Fails only when the system has no random numbers for the nonce key.
    pub fn new(
        realm: &str,
        users: &[(String, String)],
        nonce_lifetime: Duration,
    ) -> Result<Auth, ring::error::Unspecified> {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)?;
        Ok(Auth {
            realm: realm.to_string(),
            users: users.iter().cloned().collect(),
            key,
            started: Instant::now(),
            nonce_lifetime,
        })
    }

    /// A fresh nonce, valid for `nonce_lifetime` from `now`.
    pub fn nonce(&self, now: Instant) -> String {
        let born = now.saturating_duration_since(self.started).as_millis() as u64;
        format!("{born:x}-{}", self.tag(born))
    }

    fn tag(&self, born: u64) -> String {
        let tag = ring::hmac::sign(&self.key, &born.to_be_bytes());
        tag.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Is `nonce` one of ours, and young enough?
    fn fresh(&self, nonce: &str, now: Instant) -> bool {
        let Some((born, tag)) = nonce.split_once('-') else {
            return false;
        };
        let Ok(born) = u64::from_str_radix(born, 16) else {
            return false;
        };
        let age = now
            .saturating_duration_since(self.started)
            .saturating_sub(Duration::from_millis(born));
        tag == self.tag(born) && age < self.nonce_lifetime
    }

    /// RFC 8489 §9.2.4's checks, in its order: MESSAGE-INTEGRITY present (else 401), USERNAME,
    /// REALM and NONCE present (else 400), NONCE fresh (else 438), USERNAME known (else 401),
    /// MESSAGE-INTEGRITY right (else 401).
    pub fn verify(&self, m: &Message, now: Instant) -> Result<Verified, Refusal> {
        if !m.contains(ATTR_MESSAGE_INTEGRITY) {
            return Err(Refusal::NoCredentials);
        }
        let text = |t| TextAttribute::get_from_as(m, t).map(|a| a.text).ok();
        let (Some(user), Some(_realm), Some(nonce)) =
            (text(ATTR_USERNAME), text(ATTR_REALM), text(ATTR_NONCE))
        else {
            return Err(Refusal::IncompleteCredentials);
        };
        if !self.fresh(&nonce, now) {
            return Err(Refusal::StaleNonce);
        }
        let Some(password) = self.users.get(&user) else {
            return Err(Refusal::UnknownUser(user));
        };
        // The key is made with our realm: a client that sent another one fails here.
        let key = MessageIntegrity::new_long_term_integrity(
            user.clone(),
            self.realm.clone(),
            password.clone(),
        );
        key.check(&mut m.clone())
            .map_err(|_| Refusal::WrongIntegrity(user.clone()))?;
        Ok(Verified { user, key })
    }
}
