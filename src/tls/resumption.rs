//! TLS 1.3 session resumption (RFC 8446 §2.2, §4.6.1, §4.2.11): a second visit skips the
//! certificate and the signature, and keys the session from a pre-shared key (PSK) that an
//! earlier connection left behind in a NewSessionTicket.
//!
//! - Server: [`Tickets`] issues stateless tickets with rustls's ring `Ticketer` (the session's
//!   state encrypted under a key only the server holds, ChaCha20-Poly1305). Its key is
//!   replaced every 6 hours and the one before still decrypts, so a ticket is accepted for at
//!   most 12 hours (the lifetime each NewSessionTicket states). A ticket that does not
//!   decrypt — forged, expired, or sealed by another server's key — only costs a full
//!   handshake: the PSK is ignored and the certificate is sent.
//! - Client: [`Sessions`] is rustls's in-memory store, with the trace added. Each ticket is
//!   used once (RFC 8446 §C.4: a reused ticket links two connections to an observer), so a
//!   server sends two and each second visit takes one.
//!
//! rustls 0.23 keeps a client's session in memory only: a `Tls13ClientSessionValue` has no
//! public constructor nor encoding, and it points back at the `ClientConfig`'s certificate
//! verifier, so a session cannot be written to a file and read back by another process.
//! A second visit therefore happens in one process, with one `ClientConfig`.
//!
//! No 0-RTT over TLS/TCP: early data is replayable (§8), and HTTP/1.1 over TCP has no way to
//! say "425 Too Early" before the request has been acted on by a server we did not write.

use crate::trace::{self, Layer};
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore};
use rustls::pki_types::ServerName;
use rustls::server::ProducesTickets;
use rustls::{HandshakeKind, NamedGroup};
use std::sync::Arc;

/// How many tickets the server sends after each full handshake (rustls's default): two
/// connections may resume in parallel, each with a ticket of its own.
pub const TICKETS_PER_HANDSHAKE: usize = 2;

/// How many servers' tickets a client keeps (rustls's default).
const SESSIONS_KEPT: usize = 256;

/// The server's ticketer, traced: each ticket sealed, each offered ticket opened or refused.
#[derive(Debug)]
pub struct Tickets {
    inner: Arc<dyn ProducesTickets>,
}

impl Tickets {
    /// rustls's ring `Ticketer`: keys rotated every 6 h, each ticket valid for 12 h.
    pub fn rotating() -> Result<Arc<dyn ProducesTickets>, rustls::Error> {
        Ok(Arc::new(Tickets {
            inner: rustls::crypto::ring::Ticketer::new()?,
        }))
    }
}

impl ProducesTickets for Tickets {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let sealed = self.inner.encrypt(plain);
        if let Some(t) = &sealed {
            trace::sent(Layer::Tls, || {
                format!(
                    "NewSessionTicket ({} bytes, lifetime {} s): the session sealed under the server's ticket key",
                    t.len(),
                    self.lifetime()
                )
            });
        }
        sealed
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let opened = self.inner.decrypt(cipher);
        trace::received(Layer::Tls, || match &opened {
            Some(_) => format!(
                "ClientHello offers a ticket ({} bytes): it opens, so its PSK may resume the session",
                cipher.len()
            ),
            None => format!(
                "ClientHello offers a ticket ({} bytes) that does not open (forged, expired or another key's): full handshake",
                cipher.len()
            ),
        });
        opened
    }
}

/// The client's session store: rustls's memory cache, with every ticket traced as it is
/// kept and as it is offered again.
#[derive(Debug)]
pub struct Sessions {
    inner: ClientSessionMemoryCache,
}

impl Sessions {
    pub fn new() -> Arc<Sessions> {
        Arc::new(Sessions {
            inner: ClientSessionMemoryCache::new(SESSIONS_KEPT),
        })
    }
}

impl ClientSessionStore for Sessions {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group)
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(server_name, value)
    }

    fn tls12_session(
        &self,
        server_name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name)
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        trace::received(Layer::Tls, || {
            format!(
                "NewSessionTicket: kept in memory for a next visit to {}",
                server_name.to_str()
            )
        });
        self.inner.insert_tls13_ticket(server_name, value)
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        let taken = self.inner.take_tls13_ticket(server_name);
        if taken.is_some() {
            trace::event(Layer::Tls, || {
                format!(
                    "a ticket from an earlier visit to {}: offered as a PSK in the ClientHello",
                    server_name.to_str()
                )
            });
        }
        taken
    }
}

/// What kind of handshake took place, as the trace says it.
pub fn describe(kind: Option<HandshakeKind>, tls13: bool) -> &'static str {
    match (kind, tls13) {
        (Some(HandshakeKind::Resumed), true) => {
            "TLS 1.3: resumed (PSK): no certificate, no signature, keys from the ticket's secret and a new (EC)DHE share"
        }
        (Some(HandshakeKind::Resumed), false) => "TLS 1.2: resumed (session ticket or ID)",
        (Some(HandshakeKind::FullWithHelloRetryRequest), _) => {
            "full handshake, after a HelloRetryRequest (one more round trip)"
        }
        (Some(HandshakeKind::Full), true) => {
            "TLS 1.3: full handshake: certificate sent and verified"
        }
        (Some(HandshakeKind::Full), false) => "full handshake: certificate sent and verified",
        (None, _) => "handshake kind unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_names_each_kind_of_handshake() {
        assert!(describe(Some(HandshakeKind::Resumed), true).starts_with("TLS 1.3: resumed (PSK)"));
        assert!(describe(Some(HandshakeKind::Full), true).starts_with("TLS 1.3: full handshake"));
    }

    #[test]
    fn a_forged_ticket_does_not_open() {
        let t = Tickets::rotating().expect("a ticketer");
        let sealed = t.encrypt(b"session state").expect("sealed");
        assert_eq!(t.decrypt(&sealed).as_deref(), Some(&b"session state"[..]));
        let mut forged = sealed.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(t.decrypt(&forged), None);
        // Another server's key (a ticketer of its own) cannot open it either.
        let other = Tickets::rotating().expect("a ticketer");
        assert_eq!(other.decrypt(&sealed), None);
        assert_eq!(t.lifetime(), 12 * 60 * 60);
    }
}
