//! The session-ticket key (RFC 8446 §4.6.1): the key that encrypts the tickets this server
//! hands out, so that a returning client can resume (and send 0-RTT) without the server
//! keeping any state per client.
//!
//! BoringSSL takes one 48-byte key (`SSL_CTX_set_tlsext_ticket_keys`: 16 bytes of key
//! name, 16 of HMAC key, 16 of AES key) through quiche's `Config::set_ticket_key`. Keeping
//! the previous key alive next to the new one needs a ticket callback, which the `boring`
//! crate offers only as an `unsafe fn`; netlab has no `unsafe`, so a rotation retires the
//! old key at once: a ticket is accepted until the next rotation, then the client falls back
//! to a full handshake. The lifetime a ticket announces is BoringSSL's default for TLS 1.3
//! (2 days, `SSL_DEFAULT_SESSION_PSK_DHE_TIMEOUT`), but the key's period bounds it first.
//! Rotation matters for forward secrecy: whoever steals a key can decrypt the 0-RTT data of
//! every ticket made with it.

use std::time::{Duration, Instant};

use crate::trace::{self, Layer};

/// A ticket key's length for BoringSSL: key name, HMAC key, AES key.
pub const KEY_LEN: usize = 48;

/// The key in use, and when the next one takes over.
pub(super) struct Tickets {
    period: Duration,
    next: Instant,
    /// How many keys this server has used (the trace names them by number).
    generation: u64,
}

impl Tickets {
    /// Installs `first` (or a random key) in `quic`, to be replaced every `period`.
    pub(super) fn start(
        quic: &mut quiche::Config,
        first: Option<[u8; KEY_LEN]>,
        period: Duration,
    ) -> Result<Tickets, quiche::Error> {
        let key = match first {
            Some(k) => k,
            None => random()?,
        };
        quic.set_ticket_key(&key)?;
        let hours = period.as_secs_f64() / 3600.0;
        trace::event(Layer::Quic, || {
            format!(
                "session tickets: key 1 ({}), a new key every {hours:.1} h; a ticket is good until then",
                if first.is_some() { "given" } else { "random" }
            )
        });
        Ok(Tickets {
            period,
            next: Instant::now() + period,
            generation: 1,
        })
    }

    /// When the loop must wake up to rotate, even if no datagram comes.
    pub(super) fn deadline(&self) -> Instant {
        self.next
    }

    /// A new random key when the period is over; tickets under the old one stop working.
    pub(super) fn rotate_if_due(&mut self, quic: &mut quiche::Config) {
        if Instant::now() < self.next {
            return;
        }
        let installed = random().and_then(|key| quic.set_ticket_key(&key));
        self.next = Instant::now() + self.period;
        match installed {
            Ok(()) => {
                self.generation += 1;
                let n = self.generation;
                trace::event(Layer::Quic, || {
                    format!(
                        "session tickets: key {n} in use; tickets under key {} no longer resume",
                        n - 1
                    )
                });
            }
            Err(e) => trace::event(Layer::Quic, || {
                format!("session tickets: no new key ({e}); the old one stays")
            }),
        }
    }
}

/// 48 random bytes.
fn random() -> Result<[u8; KEY_LEN], quiche::Error> {
    let mut key = [0u8; KEY_LEN];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| quiche::Error::TlsFail)?;
    Ok(key)
}
