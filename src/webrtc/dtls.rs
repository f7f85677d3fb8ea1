//! DTLS 1.2 for a data channel (RFC 6347; its use in WebRTC: RFC 8827 §6.5, RFC 8842):
//! mutual certificates, each side checked against the SHA-256 fingerprint the other put in
//! its SDP (that check, not a CA, is what authenticates the peer), extended master secret
//! (RFC 7627) required.
//!
//! webrtc-dtls is async (tokio). This file is the blocking facade DESIGN.md §4 asks for: it
//! owns one current-thread runtime per peer and is the only place netlab touches tokio for
//! WebRTC. The runtime runs only while the peer's own thread is inside [`Dtls::handshake`],
//! [`Dtls::send`] or [`Dtls::wait`]: no hidden thread. Records come in through a channel the
//! socket loop fills, and go out with `send_to` on the peer's one UDP socket.
//!
//! webrtc-dtls has no key log, so a capture cannot be decrypted: the trace shows the SCTP
//! plaintext at this boundary instead ([`super::chunk`]).

use super::record;
use crate::trace::{self, Layer};
use async_trait::async_trait;
use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{Receiver, UnboundedReceiver, error::TryRecvError};
use webrtc_dtls::config::{ClientAuthType, Config, ExtendedMasterSecretType};
use webrtc_dtls::conn::DTLSConn;
use webrtc_dtls::crypto::{Certificate, CryptoPrivateKey, CryptoPrivateKeyKind};
use webrtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use webrtc_util::conn::Conn;

/// This peer's certificate and its fingerprint for `a=fingerprint:sha-256`.
#[derive(Clone)]
pub struct Identity {
    certificate: Certificate,
    pub fingerprint: [u8; 32],
}

/// One way DTLS failed, named for the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DtlsError {
    /// Making the certificate (rcgen) or loading its key (ring).
    Certificate(String),
    /// RFC 8842 §5: the peer's certificate does not hash to the SDP's fingerprint.
    Fingerprint { expected: String, got: String },
    /// The handshake failed (an alert, a bad message, the peer's verdict on ours).
    Handshake(String),
    /// No handshake within the time allowed (the peer never answered).
    Timeout(Duration),
    /// The association ended (close_notify, a fatal alert, or the socket loop stopped).
    Closed(String),
}

impl fmt::Display for DtlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtlsError::Certificate(e) => write!(f, "DTLS certificate: {e}"),
            DtlsError::Fingerprint { expected, got } => write!(
                f,
                "DTLS: the peer's certificate has fingerprint {got}, not the {expected} of its SDP (RFC 8842 §5): handshake aborted"
            ),
            DtlsError::Handshake(e) => write!(f, "DTLS handshake failed: {e}"),
            DtlsError::Timeout(d) => {
                write!(f, "DTLS handshake: no answer within {} ms", d.as_millis())
            }
            DtlsError::Closed(e) => write!(f, "DTLS closed: {e}"),
        }
    }
}

impl std::error::Error for DtlsError {}

/// SHA-256 of a DER certificate (RFC 8122 §5).
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Identity {
    /// A fresh self-signed ECDSA P-256 certificate (RFC 8827 §6.5: WebRTC certificates are
    /// self-signed; the fingerprint in the SDP is what the other side trusts).
    pub fn generate() -> Result<Identity, DtlsError> {
        let broken = |e: String| DtlsError::Certificate(e);
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| broken(e.to_string()))?;
        let params = rcgen::CertificateParams::new(vec!["netlab-webrtc".to_string()])
            .map_err(|e| broken(e.to_string()))?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| broken(e.to_string()))?;
        // webrtc-dtls wants ring's key type (it was built against rcgen 0.13): PKCS#8 between.
        let pkcs8 = key.serialize_der();
        let ring_key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &pkcs8,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| broken(e.to_string()))?;
        let der = cert.der().to_vec();
        Ok(Identity {
            fingerprint: fingerprint(&der),
            certificate: Certificate {
                certificate: vec![der.into()],
                private_key: CryptoPrivateKey {
                    kind: CryptoPrivateKeyKind::Ecdsa256(ring_key),
                    serialized_der: pkcs8,
                },
            },
        })
    }
}

/// The datagram transport webrtc-dtls reads and writes through: inbound records from the
/// socket loop's channel, outbound with `send_to` on the shared socket.
struct Transport {
    inbound: tokio::sync::Mutex<Receiver<Vec<u8>>>,
    socket: UdpSocket,
    remote: SocketAddr,
}

fn trace_records(sent: bool, datagram: &[u8]) {
    if !trace::is_on(Layer::Dtls) {
        return;
    }
    for r in record::describe(datagram) {
        // Application data is SCTP: the sctp layer shows it decrypted.
        if r.starts_with("application_data") {
            continue;
        }
        if sent {
            trace::sent(Layer::Dtls, || r.clone());
        } else {
            trace::received(Layer::Dtls, || r.clone());
        }
    }
}

#[async_trait]
impl Conn for Transport {
    async fn connect(&self, _: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }
    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        // Cancel-safe: a record is taken off the channel only when this future completes.
        let mut rx = self.inbound.lock().await;
        match rx.recv().await {
            Some(d) => {
                trace_records(false, &d);
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
            None => Err(webrtc_util::Error::Other(
                "the socket loop has stopped".into(),
            )),
        }
    }
    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let n = self.recv(buf).await?;
        Ok((n, self.remote))
    }
    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        trace_records(true, buf);
        // A UDP send does not block for long: the kernel queues or drops the datagram.
        Ok(self.socket.send_to(buf, self.remote)?)
    }
    async fn send_to(&self, buf: &[u8], _: SocketAddr) -> webrtc_util::Result<usize> {
        self.send(buf).await
    }
    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(self.remote)
    }
    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// What [`Dtls::wait`] woke up for.
pub enum Wait<T> {
    /// Decrypted records, one SCTP packet each: the first that came, and any others already
    /// waiting (up to [`BATCH`]), so SCTP is polled once for all of them.
    Records(Vec<Vec<u8>>),
    /// Something arrived on the wake-up channel (a command from the application).
    Woken(T),
    /// The deadline passed.
    Timeout,
    /// The association is over; the reason.
    Closed(String),
}

/// The most records one [`Dtls::wait`] returns.
pub const BATCH: usize = 64;

/// An established DTLS association.
pub struct Dtls {
    runtime: tokio::runtime::Runtime,
    conn: DTLSConn,
}

/// What a handshake needs.
pub struct Handshake<'a> {
    pub identity: &'a Identity,
    /// The fingerprint from the other side's SDP.
    pub remote_fingerprint: [u8; 32],
    /// RFC 8842 §5.3: this side is the DTLS client (`a=setup:active`).
    pub client: bool,
    pub socket: UdpSocket,
    pub remote: SocketAddr,
    pub inbound: Receiver<Vec<u8>>,
    pub timeout: Duration,
}

impl Dtls {
    /// Runs the whole handshake (webrtc-dtls returns only when it is done or failed).
    pub fn handshake(h: Handshake) -> Result<Dtls, DtlsError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| DtlsError::Handshake(format!("cannot start the runtime: {e}")))?;
        let expected = h.remote_fingerprint;
        // The callback is the only check of the peer (insecure_skip_verify turns off the CA
        // path); it records a mismatch so the error can say what happened.
        let mismatch: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let seen = mismatch.clone();
        let verify = Arc::new(
            // The first argument holds the peer's certificates as sent; the second the
            // CA-verified chains, empty here.
            move |certs: &[Vec<u8>], _: &[rustls::pki_types::CertificateDer<'static>]| {
                let Some(first) = certs.first() else {
                    return Err(webrtc_dtls::Error::Other(
                        "the peer sent no certificate".into(),
                    ));
                };
                let got = fingerprint(first);
                trace::event(Layer::Dtls, || {
                    format!(
                        "peer certificate sha-256 {}: {}",
                        super::sdp::fingerprint_hex(&got),
                        if got == expected {
                            "matches a=fingerprint"
                        } else {
                            "does NOT match a=fingerprint"
                        }
                    )
                });
                if got == expected {
                    Ok(())
                } else {
                    if let Ok(mut m) = seen.lock() {
                        *m = Some(super::sdp::fingerprint_hex(&got));
                    }
                    Err(webrtc_dtls::Error::Other(
                        "certificate fingerprint mismatch".into(),
                    ))
                }
            },
        );
        let config = Config {
            certificates: vec![h.identity.certificate.clone()],
            extended_master_secret: ExtendedMasterSecretType::Require,
            // Without it the server never asks for (and never checks) the client's certificate.
            client_auth: ClientAuthType::RequireAnyClientCert,
            insecure_skip_verify: true,
            verify_peer_certificate: Some(verify),
            // Browsers and aiortc offer use_srtp even for data only; a server that offers no
            // profile aborts the handshake (ErrServerNoMatchingSrtpProfile).
            srtp_protection_profiles: vec![
                SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
                SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
            ],
            ..Config::default()
        };
        let transport = Arc::new(Transport {
            inbound: tokio::sync::Mutex::new(h.inbound),
            socket: h.socket,
            remote: h.remote,
        });
        trace::event(Layer::Dtls, || {
            format!(
                "handshake as {} with {}",
                if h.client {
                    "client (a=setup:active)"
                } else {
                    "server (a=setup:passive)"
                },
                h.remote
            )
        });
        let started = Instant::now();
        let result = runtime.block_on(async {
            tokio::time::timeout(h.timeout, DTLSConn::new(transport, config, h.client, None)).await
        });
        match result {
            Ok(Ok(conn)) => {
                trace::event(Layer::Dtls, || {
                    format!(
                        "handshake complete in {} ms: DTLS 1.2, mutual certificates, extended master secret",
                        started.elapsed().as_millis()
                    )
                });
                Ok(Dtls { runtime, conn })
            }
            Ok(Err(e)) => {
                let got = mismatch.lock().ok().and_then(|m| m.clone());
                let err = match got {
                    Some(got) => DtlsError::Fingerprint {
                        expected: super::sdp::fingerprint_hex(&expected),
                        got,
                    },
                    None => DtlsError::Handshake(e.to_string()),
                };
                trace::event(Layer::Dtls, || format!("handshake failed: {err}"));
                Err(err)
            }
            Err(_) => Err(DtlsError::Timeout(h.timeout)),
        }
    }

    /// Sends one record of application data (one SCTP packet).
    pub fn send(&self, data: &[u8]) -> Result<(), DtlsError> {
        self.runtime
            .block_on(self.conn.write(data, None))
            .map(|_| ())
            .map_err(|e| DtlsError::Closed(e.to_string()))
    }

    /// Waits for a record, something on `wake`, or `deadline`, whichever comes first.
    pub fn wait<T>(&self, wake: &mut UnboundedReceiver<T>, deadline: Option<Instant>) -> Wait<T> {
        // Commands already queued first, without entering the runtime.
        match wake.try_recv() {
            Ok(t) => return Wait::Woken(t),
            Err(TryRecvError::Disconnected) | Err(TryRecvError::Empty) => {}
        }
        let mut buf = vec![0u8; 1 << 16];
        let far = Instant::now() + Duration::from_secs(3600);
        let sleep_until = tokio::time::Instant::from_std(deadline.unwrap_or(far));
        self.runtime.block_on(async {
            let first = tokio::select! {
                r = self.conn.read(&mut buf, None) => match r {
                    Ok(n) => buf[..n].to_vec(),
                    Err(e) => return Wait::Closed(e.to_string()),
                },
                t = wake.recv() => return match t {
                    Some(t) => Wait::Woken(t),
                    // The application dropped its handle: nothing will wake us but the peer.
                    None => Wait::Closed("the application has gone".into()),
                },
                _ = tokio::time::sleep_until(sleep_until) => return Wait::Timeout,
            };
            // Records already waiting are taken now. Each time round, webrtc-dtls's own task
            // gets its turn (yield_now) to decrypt the next one; then `biased` polls the read
            // first, and the ready future answers at once when no record is waiting.
            let mut records = vec![first];
            while records.len() < BATCH {
                tokio::task::yield_now().await;
                tokio::select! {
                    biased;
                    r = self.conn.read(&mut buf, None) => match r {
                        Ok(n) => records.push(buf[..n].to_vec()),
                        Err(_) => break,
                    },
                    _ = std::future::ready(()) => break,
                }
            }
            Wait::Records(records)
        })
    }

    /// Sends close_notify (RFC 5246 §7.2.1).
    pub fn close(&self) {
        let _ = self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(200), self.conn.close()).await
        });
        trace::sent(Layer::Dtls, || "close_notify".into());
    }
}
