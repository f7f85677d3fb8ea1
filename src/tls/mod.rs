//! TLS for netlab (RFC 8446 for 1.3, RFC 5246 for 1.2) through rustls with the ring
//! provider: server and client configurations, ALPN (RFC 7301), certificate verification,
//! and the key log (`SSLKEYLOGFILE`) that lets Wireshark decrypt a capture.
//!
//! - [`certs`] makes the local CA and the localhost certificate.
//! - [`resumption`]: the server's session tickets and the client's session store (TLS 1.3
//!   resumption: a second visit without the certificate).
//! - [`server_config`] and [`client_config`] build what rustls needs.
//! - [`transport`] is the byte stream every TCP-based HTTP version runs on: plain TCP or
//!   TLS over TCP, read and written the same way.

pub mod certs;
pub mod resumption;
pub mod transport;

use crate::trace::{self, Layer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, ServerConfig,
    ServerConnection, SignatureScheme, StreamOwned,
};
use std::fmt;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use transport::Transport;

#[derive(Debug)]
pub enum TlsError {
    /// A PEM file that could not be read or held nothing usable.
    Pem {
        path: String,
        what: &'static str,
        reason: String,
    },
    /// rustls refused the configuration (key does not match, unsupported key type…).
    Config(rustls::Error),
    /// Making a certificate failed.
    Cert(certs::CertError),
    /// The handshake failed (certificate not trusted, wrong name, protocol mismatch…).
    Handshake(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Pem { path, what, reason } => {
                write!(f, "cannot load {what} from {path}: {reason}")
            }
            TlsError::Config(e) => write!(f, "TLS configuration: {e}"),
            TlsError::Cert(e) => write!(f, "{e}"),
            TlsError::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads every certificate of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_err = |reason: String| TlsError::Pem {
        path: path.display().to_string(),
        what: "certificates",
        reason,
    };
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Pem {
        path: path.display().to_string(),
        what: "a private key",
        reason: e.to_string(),
    })
}

/// A server configuration from PEM files, or from a CA and leaf made on the spot.
/// `alpn` lists the protocols offered, most preferred first (`http/1.1`, later `h2`).
pub fn server_config(
    cert_key: Option<(&Path, &Path)>,
    alpn: &[&[u8]],
) -> Result<(Arc<ServerConfig>, Option<certs::LocalPki>), TlsError> {
    let (chain, key, made) = match cert_key {
        Some((cert, key)) => (load_certs(cert)?, load_key(key)?, None),
        None => {
            let pki = certs::generate().map_err(TlsError::Cert)?;
            let chain = vec![CertificateDer::from(pki.leaf_der.clone())];
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key_der.clone()));
            (chain, key, Some(pki))
        }
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // Appends the session secrets to $SSLKEYLOGFILE when it is set (NSS key log format).
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    // Stateless tickets for TLS 1.3 resumption: the server keeps nothing per client. (With a
    // ticketer set, rustls does not use its session cache for TLS 1.3: a ticket that fails
    // to seal is not sent, and that client's next visit is a full handshake.)
    config.ticketer = resumption::Tickets::rotating().map_err(TlsError::Config)?;
    config.send_tls13_tickets = resumption::TICKETS_PER_HANDSHAKE;
    Ok((Arc::new(config), made))
}

/// Where Debian keeps the system's trusted CAs (curl's default too).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A client configuration. Trusts the system CAs plus `cacert`; with `insecure`, trusts any
/// certificate at all (as curl -k: for experiments only).
pub fn client_config(
    cacert: Option<&Path>,
    insecure: bool,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        if let Ok(system) = load_certs(Path::new(SYSTEM_CAS)) {
            roots.add_parsable_certificates(system);
        }
        if let Some(path) = cacert {
            for cert in load_certs(path)? {
                roots.add(cert).map_err(TlsError::Config)?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    // Tickets are kept per configuration: a client that reuses this one resumes.
    config.resumption = rustls::client::Resumption::store(resumption::Sessions::new());
    Ok(Arc::new(config))
}

/// Runs the server side of the handshake to completion, so that failures show here and not
/// as a mysterious first read. A client that stalls the handshake is dropped after `limit`
/// (a slow TLS client must not hold a thread forever).
pub fn accept(
    config: Arc<ServerConfig>,
    mut tcp: TcpStream,
    limit: Duration,
) -> Result<Transport, TlsError> {
    let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    tcp.set_read_timeout(Some(limit.max(Duration::from_millis(1))))
        .map_err(|e| TlsError::Handshake(e.to_string()))?;
    let mut conn = ServerConnection::new(config).map_err(TlsError::Config)?;
    trace::received(Layer::Tls, || format!("{peer}: waiting for ClientHello"));
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| TlsError::Handshake(e.to_string()))?;
    }
    trace::event(Layer::Tls, || {
        describe(
            &conn.protocol_version(),
            conn.negotiated_cipher_suite(),
            conn.alpn_protocol(),
            conn.server_name(),
        )
    });
    trace::event(Layer::Tls, || handshake_kind(&conn));
    Ok(Transport::TlsServer(Box::new(StreamOwned::new(conn, tcp))))
}

/// Runs the client side of the handshake: verifies the certificate for `host`.
pub fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    mut tcp: TcpStream,
) -> Result<Transport, TlsError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| TlsError::Handshake(format!("'{host}' is not a valid server name: {e}")))?;
    let mut conn = ClientConnection::new(config, name).map_err(TlsError::Config)?;
    // A server that never answers the ClientHello must not hang the client.
    if tcp.read_timeout().ok().flatten().is_none() {
        tcp.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| TlsError::Handshake(e.to_string()))?;
    }
    trace::sent(Layer::Tls, || format!("ClientHello (SNI {host})"));
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| TlsError::Handshake(e.to_string()))?;
    }
    trace::event(Layer::Tls, || {
        describe(
            &conn.protocol_version(),
            conn.negotiated_cipher_suite(),
            conn.alpn_protocol(),
            Some(host),
        )
    });
    trace::event(Layer::Tls, || handshake_kind(&conn));
    Ok(Transport::TlsClient(Box::new(StreamOwned::new(conn, tcp))))
}

/// "TLS 1.3: resumed (PSK)…" or "TLS 1.3: full handshake…", for the trace after a handshake.
pub fn handshake_kind(conn: &rustls::CommonState) -> String {
    let tls13 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
    resumption::describe(conn.handshake_kind(), tls13).to_string()
}

fn describe(
    v: &Option<rustls::ProtocolVersion>,
    suite: Option<rustls::SupportedCipherSuite>,
    alpn: Option<&[u8]>,
    sni: Option<&str>,
) -> String {
    let version = match v {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        Some(_) => "an older TLS",
        None => "no version",
    };
    format!(
        "handshake complete: {version}, cipher suite {}, ALPN {}, SNI {}",
        suite.and_then(|s| s.suite().as_str()).unwrap_or("unknown"),
        alpn.map(|a| String::from_utf8_lossy(a).into_owned())
            .unwrap_or_else(|| "none".into()),
        sni.unwrap_or("none")
    )
}

/// The verifier behind `--insecure`: accepts every certificate and signature.
#[derive(Debug)]
struct AcceptAnything;

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
