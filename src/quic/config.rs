//! What a QUIC endpoint is set up with before its first packet: TLS 1.3 inside QUIC
//! (RFC 9001) with ALPN `h3` (RFC 9114 §3.1), and the transport parameters each side
//! announces in its handshake (RFC 9000 §18.2): idle timeout, datagram size, flow-control
//! windows, stream limits.
//!
//! quiche reads certificates only from PEM files; netlab also makes them in memory (rcgen,
//! `tls::certs`), so the TLS context is built with BoringSSL's own API (the `boring` crate)
//! from PEM bytes and handed to quiche. quiche's client does not verify the server unless
//! told: [`client`] turns verification on unless `--insecure` says otherwise.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use boring::pkey::PKey;
use boring::ssl::{SslContextBuilder, SslMethod};
use boring::x509::X509;

/// The largest UDP payload either side sends or accepts: under the 1500-byte Ethernet MTU
/// with room for IPv6 and UDP headers; QUIC itself needs only 1200 (RFC 9000 §14).
pub const MAX_DATAGRAM: usize = 1350;

/// How many connection IDs of ours the peer may hold at once (the transport parameter
/// active_connection_id_limit, RFC 9000 §18.2): one in use, the others spares for a new
/// path (`paths.rs`).
pub const ACTIVE_CID_LIMIT: u64 = 4;

/// Why an endpoint could not be set up.
#[derive(Debug)]
pub enum SetupError {
    /// A certificate or key file could not be read or parsed.
    Pem { path: String, reason: String },
    /// BoringSSL refused a certificate, key or setting.
    Tls(String),
    /// quiche refused a setting.
    Quic(quiche::Error),
    /// quiche's HTTP/3 layer refused its configuration.
    Http3(quiche::h3::Error),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Pem { path, reason } => write!(f, "{path}: {reason}"),
            SetupError::Tls(e) => write!(f, "TLS set-up: {e}"),
            SetupError::Quic(e) => write!(f, "QUIC set-up: {e}"),
            SetupError::Http3(e) => write!(f, "HTTP/3 set-up: {e}"),
        }
    }
}

impl std::error::Error for SetupError {}

impl From<boring::error::ErrorStack> for SetupError {
    fn from(e: boring::error::ErrorStack) -> SetupError {
        SetupError::Tls(e.to_string())
    }
}

impl From<quiche::Error> for SetupError {
    fn from(e: quiche::Error) -> SetupError {
        SetupError::Quic(e)
    }
}

/// A server's certificate chain and private key, as PEM.
pub struct Identity {
    pub chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl Identity {
    /// From `--cert FILE --key FILE`.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Identity, SetupError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| SetupError::Pem {
                path: p.display().to_string(),
                reason: e.to_string(),
            })
        };
        Ok(Identity {
            chain_pem: read(cert)?,
            key_pem: read(key)?,
        })
    }

    /// From a CA and leaf made by `tls::certs` (in memory or by `netlab cert`).
    pub fn from_pki(pki: &crate::tls::certs::LocalPki) -> Identity {
        Identity {
            chain_pem: pki.leaf_pem.as_bytes().to_vec(),
            key_pem: pki.leaf_key_pem.as_bytes().to_vec(),
        }
    }
}

/// Settings that differ between runs (the CLI's flags).
#[derive(Clone, Debug)]
pub struct Transport {
    /// max_idle_timeout (RFC 9000 §10.1): silence after which the connection is dropped.
    pub idle_timeout: Duration,
    /// Where to write one qlog file per connection (`--qlog DIR`).
    pub qlog_dir: Option<PathBuf>,
}

impl Default for Transport {
    fn default() -> Transport {
        Transport {
            idle_timeout: Duration::from_secs(30),
            qlog_dir: None,
        }
    }
}

/// The transport parameters both roles announce (RFC 9000 §18.2).
fn transport_parameters(config: &mut quiche::Config, t: &Transport) -> Result<(), SetupError> {
    config.set_application_protos(quiche::h3::APPLICATION_PROTOCOL)?;
    config.set_max_idle_timeout(t.idle_timeout.as_millis() as u64);
    config.set_max_recv_udp_payload_size(MAX_DATAGRAM);
    config.set_max_send_udp_payload_size(MAX_DATAGRAM);
    // Flow control (RFC 9000 §4): how much the peer may send before we read it. Large
    // enough that a loopback transfer is limited by congestion control, not by windows.
    config.set_initial_max_data(16 * 1024 * 1024);
    config.set_initial_max_stream_data_bidi_local(4 * 1024 * 1024);
    config.set_initial_max_stream_data_bidi_remote(4 * 1024 * 1024);
    config.set_initial_max_stream_data_uni(1024 * 1024);
    // Stream limits (RFC 9000 §4.6): requests in parallel, and HTTP/3's unidirectional
    // control and QPACK streams.
    config.set_initial_max_streams_bidi(128);
    config.set_initial_max_streams_uni(16);
    // Migration (RFC 9000 §9): the client may move to a new address; each side holds a
    // few of the other's connection IDs, spares for a new path (`paths.rs`).
    config.set_disable_active_migration(false);
    config.set_active_connection_id_limit(ACTIVE_CID_LIMIT);
    // The key log is always on: the trace reads the key phase of 1-RTT packets with it
    // (`keylog.rs`), and `$SSLKEYLOGFILE` gets a copy when set.
    config.log_keys();
    Ok(())
}

/// X25519 only: BoringSSL's default adds a post-quantum key share that makes the
/// ClientHello span two Initial packets; one key share keeps every capture readable.
const CURVES: &str = "X25519";

/// A server's configuration with its certificate.
pub fn server(identity: &Identity, t: &Transport) -> Result<quiche::Config, SetupError> {
    let mut tls = SslContextBuilder::new(SslMethod::tls())?;
    let mut chain = X509::stack_from_pem(&identity.chain_pem)?.into_iter();
    let leaf = chain
        .next()
        .ok_or_else(|| SetupError::Tls("no certificate".into()))?;
    tls.set_certificate(&leaf)?;
    for extra in chain {
        tls.add_extra_chain_cert(extra)?;
    }
    let key = PKey::private_key_from_pem(&identity.key_pem)?;
    tls.set_private_key(&key)?;
    tls.check_private_key()?;
    tls.set_curves_list(CURVES)?;
    let mut config = quiche::Config::with_boring_ssl_ctx_builder(quiche::PROTOCOL_VERSION, tls)?;
    transport_parameters(&mut config, t)?;
    Ok(config)
}

/// Where Debian keeps the system's trusted CAs (as for TCP + TLS in `tls::client_config`).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A client's configuration: trusts the system CAs and `cacert`, and verifies the server's
/// certificate and name unless `insecure` (as `curl -k`: for experiments only). A server
/// named by an IP address (`ip`) sends no SNI, so its certificate must list that address.
pub fn client(
    cacert: Option<&Path>,
    insecure: bool,
    ip: Option<IpAddr>,
    t: &Transport,
) -> Result<quiche::Config, SetupError> {
    let mut tls = SslContextBuilder::new(SslMethod::tls())?;
    tls.set_curves_list(CURVES)?;
    if let Some(ip) = ip {
        // quiche checks the name only through SNI (set_host_name), and an address is no
        // name: the certificate's iPAddress entries are checked instead (RFC 6125 §6.2.1).
        tls.cert_store_mut().verify_param_mut().set_ip(ip)?;
    }
    // The system's CAs are read and parsed once per process (a few milliseconds each time).
    static SYSTEM: std::sync::OnceLock<Vec<X509>> = std::sync::OnceLock::new();
    let system = SYSTEM.get_or_init(|| {
        std::fs::read(SYSTEM_CAS)
            .ok()
            .and_then(|pem| X509::stack_from_pem(&pem).ok())
            .unwrap_or_default()
    });
    let mut trusted: Vec<X509> = system.clone();
    if let Some(path) = cacert {
        let pem = std::fs::read(path).map_err(|e| SetupError::Pem {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let certs = X509::stack_from_pem(&pem).map_err(|e| SetupError::Pem {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if certs.is_empty() {
            return Err(SetupError::Pem {
                path: path.display().to_string(),
                reason: "no CERTIFICATE block".into(),
            });
        }
        trusted.extend(certs);
    }
    for ca in trusted {
        // A CA listed twice (system + --cacert) is not an error worth stopping for.
        let _ = tls.cert_store_mut().add_cert(ca);
    }
    let mut config = quiche::Config::with_boring_ssl_ctx_builder(quiche::PROTOCOL_VERSION, tls)?;
    // "verify_peer is off by default" in quiche: the client must ask for it.
    config.verify_peer(!insecure);
    transport_parameters(&mut config, t)?;
    Ok(config)
}

/// Writes this connection's qlog (JSON-SEQ, RFC 7464; qvis opens it) to
/// `DIR/<role>-<connection id>.sqlog`, and returns the file's name.
pub fn qlog(conn: &mut quiche::Connection, dir: &Path, role: &str, id: &str) -> Option<PathBuf> {
    let _ = std::fs::create_dir_all(dir);
    let path = dir.join(format!("{role}-{id}.sqlog"));
    let file = std::fs::File::create(&path).ok()?;
    conn.set_qlog(
        Box::new(std::io::BufWriter::new(file)),
        format!("netlab h3 {role}"),
        format!("netlab {role}, connection {id}"),
    );
    Some(path)
}
