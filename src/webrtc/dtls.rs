//! DTLS 1.2 for a data channel (RFC 6347; its use in WebRTC: RFC 8827 §6.5, RFC 8842):
//! mutual certificates, each side checked against the SHA-256 fingerprint the other put in
//! its SDP (that check, not a CA, is what authenticates the peer), extended master secret
//! (RFC 7627) required.
//!
//! webrtc-dtls is async (tokio). This file is the blocking facade docs/design.md asks for
//! (principle 4): it owns one current-thread runtime per peer and is the only file of
//! `src/webrtc/` that names tokio. The runtime runs only while the peer's own thread is inside
//! [`Dtls::handshake`], [`Dtls::send`] or [`Dtls::wait`]: no hidden thread. Two queues cross
//! the border, and this file owns their types so the loops never see tokio:
//!
//! - [`records`]: datagrams from the socket loop to DTLS ([`RecordSender`] →
//!   [`RecordReceiver`]), bounded; webrtc-dtls reads it from inside the runtime;
//! - [`wake`]: commands from the application and the socket loop to the association loop
//!   ([`WakeSender`] → [`WakeReceiver`]), which [`Dtls::wait`] watches together with the
//!   DTLS connection and SCTP's timer in one `select!`. That is why it is a tokio channel: a
//!   std channel cannot be awaited next to a record.
//!
//! Records go out with `send_to` on the peer's one UDP socket.
//!
//! webrtc-dtls has no key log of its own: when `$SSLKEYLOGFILE` is set, [`Dtls::handshake`]
//! writes the connection's `CLIENT_RANDOM` line itself ([`super::keylog`]), so tshark and
//! Wireshark decrypt a capture down to SCTP and DCEP. The trace shows the same SCTP
//! plaintext at this boundary ([`super::chunk`]).

use super::record;
use crate::trace::{self, Layer};
use async_trait::async_trait;
use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{Receiver, Sender, UnboundedReceiver, UnboundedSender};
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

/// A bounded queue of datagrams from the socket loop to DTLS: beyond `capacity` waiting,
/// [`RecordSender::offer`] says `Full` and the datagram is dropped, as a full socket buffer
/// would drop it.
pub fn records(capacity: usize) -> (RecordSender, RecordReceiver) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
    (RecordSender(tx), RecordReceiver(rx))
}

/// The socket loop's end of [`records`].
pub struct RecordSender(Sender<Vec<u8>>);

/// What became of a datagram offered to DTLS.
pub enum Offered {
    Queued,
    /// DTLS is behind: the datagram was dropped.
    Full,
    /// The association loop has ended.
    Closed,
}

impl RecordSender {
    /// Queues a datagram without waiting.
    pub fn offer(&self, datagram: Vec<u8>) -> Offered {
        match self.0.try_send(datagram) {
            Ok(()) => Offered::Queued,
            Err(TrySendError::Full(_)) => Offered::Full,
            Err(TrySendError::Closed(_)) => Offered::Closed,
        }
    }
}

/// DTLS's end of [`records`]: given to [`Dtls::handshake`].
pub struct RecordReceiver(Receiver<Vec<u8>>);

/// An unbounded queue that wakes the association loop out of [`Dtls::wait`].
pub fn wake<T>() -> (WakeSender<T>, WakeReceiver<T>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (WakeSender(tx), WakeReceiver(rx))
}

/// The sending end of [`wake`]; any thread may hold a clone.
pub struct WakeSender<T>(UnboundedSender<T>);

impl<T> Clone for WakeSender<T> {
    fn clone(&self) -> Self {
        WakeSender(self.0.clone())
    }
}

impl<T> WakeSender<T> {
    /// Queues `t`; gives it back when the association loop has gone.
    pub fn send(&self, t: T) -> Result<(), T> {
        self.0.send(t).map_err(|e| e.0)
    }
}

/// The association loop's end of [`wake`].
pub struct WakeReceiver<T>(UnboundedReceiver<T>);

impl<T> WakeReceiver<T> {
    /// What is already queued, without waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        self.0.try_recv().ok()
    }
}

/// The datagram transport webrtc-dtls reads and writes through: inbound records from the
/// socket loop's channel, outbound with `send_to` on the shared socket.
struct Transport {
    inbound: tokio::sync::Mutex<Receiver<Vec<u8>>>,
    socket: UdpSocket,
    remote: SocketAddr,
    relay: Option<Wrap>,
    /// [`Dtls::close`] has begun: an alert this side sends now is its close_notify.
    closing: AtomicBool,
    /// An encrypted alert came in: webrtc-dtls answers it with one of its own.
    alerted: AtomicBool,
    /// While [`Dtls::send`] runs: the datagrams webrtc-dtls wrote, held to go out together
    /// in one `sendmmsg` when it ends. `None` the rest of the time: they go out at once.
    held: Mutex<Option<Vec<Vec<u8>>>>,
}

impl Transport {
    /// Starts holding datagrams (`true`), or stops and gives back those held.
    fn hold(&self, on: bool) -> Vec<Vec<u8>> {
        let Ok(mut held) = self.held.lock() else {
            return Vec::new();
        };
        let before = std::mem::replace(&mut *held, on.then(Vec::new));
        before.unwrap_or_default()
    }

    /// Sends what [`Dtls::send`] held: to the peer, or on a relayed pair each datagram
    /// wrapped by the TURN client for the TURN server (sent straight to the peer, it would
    /// come from an address the peer never checked and be dropped there).
    fn send_held(&self, held: &[Vec<u8>]) -> std::io::Result<()> {
        let Some(wrap) = &self.relay else {
            return send_all(&self.socket, self.remote, held);
        };
        let wrapped: Vec<(Vec<u8>, SocketAddr)> = held.iter().map(|d| wrap(d)).collect();
        // One TURN server: consecutive datagrams to the same address go out together.
        for run in wrapped.chunk_by(|a, b| a.1 == b.1) {
            let datagrams: Vec<Vec<u8>> = run.iter().map(|(d, _)| d.clone()).collect();
            send_all(&self.socket, run[0].1, &datagrams)?;
        }
        Ok(())
    }

    fn trace_records(&self, sent: bool, datagram: &[u8]) {
        if !trace::is_on(Layer::Dtls) {
            return;
        }
        let why = match (sent, self.closing.load(Ordering::Relaxed)) {
            (true, true) => Some(Sent::Closing),
            (true, false) if self.alerted.load(Ordering::Relaxed) => Some(Sent::Answer),
            _ => None,
        };
        for r in record::describe(datagram) {
            if !sent && r.starts_with(ENCRYPTED_ALERT) {
                self.alerted.store(true, Ordering::Relaxed);
            }
            trace_record(sent, why, r);
        }
    }
}

/// Datagrams to one address. Each run of equal size (the last of a run may be shorter: the
/// end of a message) goes in one `sendmsg` with UDP GSO (`UDP_SEGMENT`, udp(7)): the kernel
/// carries the run through its stack as one buffer and cuts it into the same datagrams at
/// the end, where a `sendmmsg` walked every datagram through it alone; on loopback the cut
/// comes last of all, at the receiving socket, and a socket that asked for `UDP_GRO` (the
/// peer's socket loop) takes the run in one read. What goes on the wire is unchanged.
/// Datagrams that make no run (a SACK alone) go together in `sendmmsg`.
fn send_all(socket: &UdpSocket, to: SocketAddr, datagrams: &[Vec<u8>]) -> std::io::Result<()> {
    if !gso() {
        return send_each(socket, to, datagrams);
    }
    let (mut at, mut singles) = (0, 0);
    while at < datagrams.len() {
        let run = gso_run(&datagrams[at..]);
        if run > 1 {
            send_each(socket, to, &datagrams[singles..at])?;
            gso_send(socket, to, &datagrams[at..at + run])?;
            singles = at + run;
        }
        at += run;
    }
    send_each(socket, to, &datagrams[singles..])
}

/// Datagrams in one GSO send at most (the kernel's UDP_MAX_SEGMENTS is 64 or more), and its
/// bytes at most (one UDP send carries 65,507 bytes over IPv4).
const GSO_SEGMENTS: usize = 64;
const GSO_BYTES: usize = 60_000;

/// Set the first time the kernel refuses a GSO send: from then on, `sendmmsg` only.
static GSO_REFUSED: AtomicBool = AtomicBool::new(false);

/// Whether runs go out with GSO. Not while `$SSLKEYLOGFILE` is set: a capture on loopback
/// sees what the kernel was handed, one datagram of up to 60 KB that Wireshark cannot read
/// as DTLS records; without GSO every datagram shows as it goes on the wire.
fn gso() -> bool {
    !super::keylog::wanted() && !GSO_REFUSED.load(Ordering::Relaxed)
}

/// How many of `datagrams` make one GSO send: those of the first one's size, then at most
/// one shorter, within the kernel's limits.
fn gso_run(datagrams: &[Vec<u8>]) -> usize {
    let size = datagrams[0].len();
    let (mut n, mut bytes) = (1, size);
    while let Some(next) = datagrams.get(n) {
        if n == GSO_SEGMENTS || bytes + next.len() > GSO_BYTES || next.len() > size {
            break;
        }
        n += 1;
        bytes += next.len();
        if next.len() < size {
            break;
        }
    }
    n
}

/// One run in one `sendmsg`, the size of its first datagram in the control message.
fn gso_send(socket: &UdpSocket, to: SocketAddr, run: &[Vec<u8>]) -> std::io::Result<()> {
    use nix::errno::Errno;
    use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrStorage, sendmsg};
    use std::os::fd::AsRawFd;
    let segment = run[0].len() as u16;
    let bytes = run.concat();
    let cmsg = [ControlMessage::UdpGsoSegments(&segment)];
    let addr = SockaddrStorage::from(to);
    let iov = [std::io::IoSlice::new(&bytes)];
    let sent = loop {
        match sendmsg(
            socket.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::empty(),
            Some(&addr),
        ) {
            Err(Errno::EINTR) => continue,
            other => break other,
        }
    };
    match sent {
        Ok(_) => Ok(()),
        // This kernel or device cannot segment: never again, and these go one by one.
        Err(Errno::EIO | Errno::EINVAL | Errno::EOPNOTSUPP | Errno::ENOPROTOOPT) => {
            GSO_REFUSED.store(true, Ordering::Relaxed);
            send_each(socket, to, run)
        }
        Err(e) => Err(e.into()),
    }
}

/// Datagrams to one address in as few `sendmmsg` calls as the kernel takes (one, unless it
/// stops part way).
fn send_each(socket: &UdpSocket, to: SocketAddr, datagrams: &[Vec<u8>]) -> std::io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
    use std::os::fd::AsRawFd;
    let to = SockaddrStorage::from(to);
    let mut rest = datagrams;
    while !rest.is_empty() {
        let slices: Vec<[std::io::IoSlice; 1]> =
            rest.iter().map(|d| [std::io::IoSlice::new(d)]).collect();
        let addrs = vec![Some(to); rest.len()];
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(rest.len(), None);
        let no_cmsgs: [ControlMessage; 0] = [];
        let sent = sendmmsg(
            socket.as_raw_fd(),
            &mut headers,
            &slices,
            &addrs,
            no_cmsgs,
            MsgFlags::empty(),
        )?
        .count();
        if sent == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        rest = &rest[sent..];
    }
    Ok(())
}

/// How [`record::describe`] shows an alert after the handshake.
const ENCRYPTED_ALERT: &str = "Alert (encrypted";

/// Why this side sends an alert, when it knows.
#[derive(Clone, Copy)]
enum Sent {
    /// From [`Dtls::close`]: close_notify.
    Closing,
    /// webrtc-dtls answers an alert it received: close_notify with close_notify (RFC 5246
    /// §7.2.1), any other by sending it back.
    Answer,
}

/// One record's line. After the handshake an alert is encrypted, so only its sender can
/// name it, and only when it knows why it sends one.
fn trace_record(sent: bool, why: Option<Sent>, r: String) {
    // Application data is SCTP: the sctp layer shows it decrypted.
    if r.starts_with("application_data") {
        return;
    }
    let r = match why {
        Some(Sent::Closing) if r.starts_with(ENCRYPTED_ALERT) => {
            r.replacen("Alert (", "Alert close_notify (", 1)
        }
        Some(Sent::Answer) if r.starts_with(ENCRYPTED_ALERT) => r.replacen(
            "bytes)",
            "bytes): webrtc-dtls's answer to the alert it received, close_notify for close_notify",
            1,
        ),
        _ => r,
    };
    if sent {
        trace::sent(Layer::Dtls, || r);
    } else {
        trace::received(Layer::Dtls, || r);
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
                self.trace_records(false, &d);
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
        self.trace_records(true, buf);
        if let Some(held) = self.held.lock().ok().as_mut().and_then(|h| h.as_mut()) {
            held.push(buf.to_vec());
            return Ok(buf.len());
        }
        // A UDP send does not block for long: the kernel queues or drops the datagram.
        if let Some(wrap) = &self.relay {
            let (bytes, server) = wrap(buf);
            self.socket.send_to(&bytes, server)?;
            return Ok(buf.len());
        }
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
    transport: Arc<Transport>,
    /// Where [`Dtls::wait`] reads a record: room for the largest, allocated once (a fresh
    /// 64 KiB each wait was a page fault or a memset each time).
    read_buf: Mutex<Vec<u8>>,
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
    pub inbound: RecordReceiver,
    pub timeout: Duration,
    /// On a relayed ICE pair, how a record is wrapped for the TURN server.
    pub relay: Option<Wrap>,
}

/// Wraps an outgoing record for a TURN server (RFC 8656 ChannelData or a Send indication):
/// the bytes to send, and the server's address. Records arrive unwrapped by the socket loop.
pub type Wrap = Arc<dyn Fn(&[u8]) -> (Vec<u8>, SocketAddr) + Send + Sync>;

/// The peer-certificate check webrtc-dtls calls: SHA-256 of the first certificate against
/// the SDP's fingerprint (RFC 8842 §5). The fingerprint that came is written to `seen`, so
/// the result (or the error) can say which it was.
type Verify = Arc<
    dyn Fn(
            &[Vec<u8>],
            &[rustls::pki_types::CertificateDer<'static>],
        ) -> Result<(), webrtc_dtls::Error>
        + Send
        + Sync,
>;

fn verifier(expected: [u8; 32], seen: Arc<Mutex<Option<[u8; 32]>>>) -> Verify {
    // The first argument holds the peer's certificates as sent; the second the CA-verified
    // chains, empty here.
    Arc::new(
        move |certs: &[Vec<u8>], _: &[rustls::pki_types::CertificateDer<'static>]| {
            let Some(first) = certs.first() else {
                return Err(webrtc_dtls::Error::Other(
                    "the peer sent no certificate".into(),
                ));
            };
            let got = fingerprint(first);
            let verdict = if got == expected {
                "matches"
            } else {
                "does NOT match"
            };
            trace::event(Layer::Dtls, || {
                format!(
                    "peer certificate sha-256 {}: {verdict} a=fingerprint",
                    super::sdp::fingerprint_hex(&got)
                )
            });
            if let Ok(mut m) = seen.lock() {
                *m = Some(got);
            }
            if got == expected {
                return Ok(());
            }
            Err(webrtc_dtls::Error::Other(
                "certificate fingerprint mismatch".into(),
            ))
        },
    )
}

/// webrtc-dtls's settings for WebRTC.
fn config(identity: &Identity, verify: Verify) -> Config {
    Config {
        certificates: vec![identity.certificate.clone()],
        extended_master_secret: ExtendedMasterSecretType::Require,
        // Without it the server never asks for (and never checks) the client's certificate.
        client_auth: ClientAuthType::RequireAnyClientCert,
        // The callback is the only check of the peer: this turns off the CA path.
        insecure_skip_verify: true,
        verify_peer_certificate: Some(verify),
        // Browsers and aiortc offer use_srtp even for data only; a server that offers no
        // profile aborts the handshake (ErrServerNoMatchingSrtpProfile).
        srtp_protection_profiles: vec![
            SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
        ],
        ..Config::default()
    }
}

/// What a completed handshake established (`make debug STEP=dtls` stops where it is
/// reported).
#[derive(Debug)]
pub struct Established {
    /// RFC 8842 §5.3: this side was the DTLS client.
    pub client: bool,
    pub remote: SocketAddr,
    pub millis: u128,
    /// SHA-256 of the peer's certificate: equal to its SDP's `a=fingerprint`, or there
    /// would be no handshake.
    pub peer_fingerprint: [u8; 32],
}

/// The handshake's result, in the trace.
fn established(e: &Established) {
    trace::event(Layer::Dtls, || {
        format!(
            "handshake complete in {} ms: DTLS 1.2, mutual certificates, extended master secret",
            e.millis
        )
    });
}

/// Why a handshake failed: the fingerprint check's verdict when it said no, else what
/// webrtc-dtls said.
fn failed(e: webrtc_dtls::Error, expected: [u8; 32], seen: Option<[u8; 32]>) -> DtlsError {
    let err = match seen {
        Some(got) if got != expected => DtlsError::Fingerprint {
            expected: super::sdp::fingerprint_hex(&expected),
            got: super::sdp::fingerprint_hex(&got),
        },
        _ => DtlsError::Handshake(e.to_string()),
    };
    trace::event(Layer::Dtls, || format!("handshake failed: {err}"));
    err
}

/// Appends this connection's secrets to `$SSLKEYLOGFILE` (see [`super::keylog`]); a
/// failure is traced, never fatal.
fn key_log(runtime: &tokio::runtime::Runtime, conn: &DTLSConn, client: bool) {
    let state = runtime.block_on(async { conn.connection_state().await.marshal_binary().await });
    let written = match state {
        Ok(bytes) => super::keylog::line(&bytes, client)
            .map_err(|e| e.to_string())
            .and_then(|l| super::keylog::append(&l).map_err(|e| e.to_string())),
        Err(e) => Err(e.to_string()),
    };
    match written {
        Ok(_) => trace::event(Layer::Dtls, || {
            "key log: CLIENT_RANDOM line appended to $SSLKEYLOGFILE".to_string()
        }),
        Err(e) => trace::event(Layer::Dtls, || format!("key log not written: {e}")),
    }
}

impl Dtls {
    /// Runs the whole handshake (webrtc-dtls returns only when it is done or failed).
    pub fn handshake(h: Handshake) -> Result<Dtls, DtlsError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| DtlsError::Handshake(format!("cannot start the runtime: {e}")))?;
        let expected = h.remote_fingerprint;
        let seen: Arc<Mutex<Option<[u8; 32]>>> = Arc::new(Mutex::new(None));
        let config = config(h.identity, verifier(expected, seen.clone()));
        let relayed = h.relay.is_some();
        let transport = Arc::new(Transport {
            inbound: tokio::sync::Mutex::new(h.inbound.0),
            socket: h.socket,
            remote: h.remote,
            relay: h.relay,
            closing: AtomicBool::new(false),
            alerted: AtomicBool::new(false),
            held: Mutex::new(None),
        });
        trace::event(Layer::Dtls, || {
            let role = if h.client {
                "client (a=setup:active)"
            } else {
                "server (a=setup:passive)"
            };
            format!(
                "handshake as {role} with {}{}",
                h.remote,
                if relayed {
                    " through the TURN relay"
                } else {
                    ""
                }
            )
        });
        let started = Instant::now();
        let result = runtime.block_on(async {
            tokio::time::timeout(
                h.timeout,
                DTLSConn::new(transport.clone(), config, h.client, None),
            )
            .await
        });
        let peer_fingerprint = seen.lock().ok().and_then(|m| *m);
        let conn = match result {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(failed(e, expected, peer_fingerprint)),
            Err(_) => return Err(DtlsError::Timeout(h.timeout)),
        };
        established(&Established {
            client: h.client,
            remote: h.remote,
            millis: started.elapsed().as_millis(),
            peer_fingerprint: peer_fingerprint.unwrap_or_default(),
        });
        if super::keylog::wanted() {
            key_log(&runtime, &conn, h.client);
        }
        Ok(Dtls {
            runtime,
            conn,
            transport,
            read_buf: Mutex::new(vec![0u8; 1 << 16]),
        })
    }

    /// Sends records of application data, one per SCTP packet: all of them in one pass
    /// through the runtime, and their datagrams in one system call (`sendmmsg`), where a
    /// `block_on` and a `sendto` each had cost as much as the encryption.
    pub fn send<P: AsRef<[u8]>>(&self, packets: &[P]) -> Result<(), DtlsError> {
        self.transport.hold(true);
        let written = self.runtime.block_on(async {
            for p in packets {
                self.conn.write(p.as_ref(), None).await?;
            }
            Ok::<(), webrtc_dtls::Error>(())
        });
        let held = self.transport.hold(false);
        written.map_err(|e| DtlsError::Closed(e.to_string()))?;
        self.transport
            .send_held(&held)
            .map_err(|e| DtlsError::Closed(e.to_string()))
    }

    /// Waits for a record, something on `wake`, or `deadline`, whichever comes first.
    pub fn wait<T>(&self, wake: &mut WakeReceiver<T>, deadline: Option<Instant>) -> Wait<T> {
        // Commands already queued first, without entering the runtime.
        if let Some(t) = wake.try_recv() {
            return Wait::Woken(t);
        }
        let wake = &mut wake.0;
        let Ok(mut buf) = self.read_buf.lock() else {
            return Wait::Closed("the read buffer's lock was poisoned".into());
        };
        let buf = &mut *buf;
        let far = Instant::now() + Duration::from_secs(3600);
        let sleep_until = tokio::time::Instant::from_std(deadline.unwrap_or(far));
        self.runtime.block_on(async {
            let first = tokio::select! {
                r = self.conn.read(buf, None) => match r {
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
                    r = self.conn.read(buf, None) => match r {
                        Ok(n) => records.push(buf[..n].to_vec()),
                        Err(_) => break,
                    },
                    _ = std::future::ready(()) => break,
                }
            }
            Wait::Records(records)
        })
    }

    /// Sends close_notify (RFC 5246 §7.2.1); the trace names it on its record.
    pub fn close(&self) {
        self.transport.closing.store(true, Ordering::Relaxed);
        let _ = self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(200), self.conn.close()).await
        });
    }
}

#[cfg(test)]
mod tests {
    use super::gso_run;

    fn sizes(s: &[usize]) -> Vec<Vec<u8>> {
        s.iter().map(|n| vec![0u8; *n]).collect()
    }

    #[test]
    fn a_gso_run_is_equal_datagrams_then_at_most_one_shorter() {
        // A message's packets, its short last one, then the next message's.
        assert_eq!(gso_run(&sizes(&[1149, 1149, 1149, 300, 1149])), 4);
        // A larger datagram cannot follow: the kernel cuts at the first one's size.
        assert_eq!(gso_run(&sizes(&[300, 1149])), 1);
        assert_eq!(gso_run(&sizes(&[80])), 1);
        // At most 64 datagrams, and at most GSO_BYTES in one send.
        assert_eq!(gso_run(&sizes(&[100; 100])), 64);
        assert_eq!(gso_run(&sizes(&[1149; 64])), 52);
    }
}
