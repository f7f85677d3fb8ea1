//! Local certificates, the mkcert idea: a private certificate authority (CA) that you tell
//! your clients to trust, and a leaf certificate it signs for `localhost`, `127.0.0.1` and
//! `::1` (RFC 5280 profile; names in subjectAltName, RFC 6125 §6).
//!
//! The CA is kept once made: re-running `netlab cert` issues a new leaf from the same CA, so
//! clients that trust `ca.pem` go on trusting. Keys are ECDSA P-256.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
};
use std::fmt;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The file names `netlab cert` writes.
pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca-key.pem";
pub const LEAF_CERT: &str = "localhost.pem";
pub const LEAF_KEY: &str = "localhost-key.pem";

#[derive(Debug)]
pub enum CertError {
    /// rcgen refused the parameters or could not make a key.
    Generate(rcgen::Error),
    /// A file could not be read or written.
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An existing ca-key.pem that is not a PEM private key.
    BadCaKey(PathBuf),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::Generate(e) => write!(f, "cannot generate the certificate: {e}"),
            CertError::File { path, source } => write!(f, "{}: {source}", path.display()),
            CertError::BadCaKey(p) => write!(
                f,
                "{} is not a PEM private key (delete it to make a new CA)",
                p.display()
            ),
        }
    }
}

impl std::error::Error for CertError {}

impl From<rcgen::Error> for CertError {
    fn from(e: rcgen::Error) -> CertError {
        CertError::Generate(e)
    }
}

/// A CA and a leaf, as DER (for rustls) and PEM (for files and other programs).
pub struct LocalPki {
    pub ca_pem: String,
    pub ca_key_pem: String,
    pub ca_der: Vec<u8>,
    pub leaf_pem: String,
    pub leaf_key_pem: String,
    pub leaf_der: Vec<u8>,
    /// PKCS#8 DER of the leaf's private key.
    pub leaf_key_der: Vec<u8>,
    /// base64(SHA-256(SubjectPublicKeyInfo)) of the leaf: the pin browsers accept
    /// (`--ignore-certificate-errors-spki-list`, HPKP's pin-sha256).
    pub leaf_spki_sha256: String,
}

/// The CA's parameters. The name is fixed, so a leaf signed later by the same key chains to
/// the `ca.pem` written earlier.
fn ca_params() -> Result<CertificateParams, CertError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "netlab");
    dn.push(DnType::CommonName, "netlab local CA");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2034, 1, 1);
    Ok(p)
}

fn leaf_params() -> Result<CertificateParams, CertError> {
    let mut p = CertificateParams::new(vec!["localhost".to_string()])?;
    for ip in ["127.0.0.1", "::1"] {
        if let Ok(addr) = ip.parse::<IpAddr>() {
            p.subject_alt_names.push(SanType::IpAddress(addr));
        }
    }
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    p.distinguished_name = dn;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.use_authority_key_identifier_extension = true;
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2034, 1, 1);
    Ok(p)
}

/// Issues a leaf from a CA key (new or kept) and returns both.
fn issue(ca_key: KeyPair, ca_pem: Option<String>) -> Result<LocalPki, CertError> {
    let ca_params = ca_params()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_pem = ca_pem.unwrap_or_else(|| ca_cert.pem());
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params()?.signed_by(&leaf_key, &issuer)?;
    Ok(LocalPki {
        ca_der: pem_to_der(&ca_pem).unwrap_or_else(|| ca_cert.der().to_vec()),
        ca_pem,
        ca_key_pem,
        leaf_pem: leaf.pem(),
        leaf_key_pem: leaf_key.serialize_pem(),
        leaf_der: leaf.der().to_vec(),
        leaf_key_der: leaf_key.serialize_der(),
        leaf_spki_sha256: spki_pin(&leaf_key.subject_public_key_info()),
    })
}

/// A fresh CA and leaf, in memory only (a server started with `--tls` and no files).
pub fn generate() -> Result<LocalPki, CertError> {
    issue(KeyPair::generate()?, None)
}

/// Makes (or keeps) the CA in `dir` and issues a new leaf; writes the four PEM files.
/// Returns the material and whether the CA was new.
pub fn ensure_dir(dir: &Path) -> Result<(LocalPki, bool), CertError> {
    let file = |name: &str| dir.join(name);
    let io = |path: PathBuf| move |source| CertError::File { path, source };
    fs::create_dir_all(dir).map_err(io(dir.to_path_buf()))?;
    let (ca_cert_path, ca_key_path) = (file(CA_CERT), file(CA_KEY));
    let (pki, new_ca) = if ca_cert_path.exists() && ca_key_path.exists() {
        let key_pem = fs::read_to_string(&ca_key_path).map_err(io(ca_key_path.clone()))?;
        let key =
            KeyPair::from_pem(&key_pem).map_err(|_| CertError::BadCaKey(ca_key_path.clone()))?;
        let ca_pem = fs::read_to_string(&ca_cert_path).map_err(io(ca_cert_path.clone()))?;
        (issue(key, Some(ca_pem))?, false)
    } else {
        (generate()?, true)
    };
    let mut writes = vec![
        (file(LEAF_CERT), &pki.leaf_pem),
        (file(LEAF_KEY), &pki.leaf_key_pem),
    ];
    if new_ca {
        writes.push((ca_cert_path, &pki.ca_pem));
        writes.push((ca_key_path, &pki.ca_key_pem));
    }
    for (path, text) in writes {
        fs::write(&path, text).map_err(io(path.clone()))?;
        restrict(&path);
    }
    Ok((pki, new_ca))
}

/// Private keys should not be world-readable; certificates may be, but one mode is simpler.
fn restrict(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if path.to_string_lossy().ends_with("key.pem") {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
        }
    }
}

/// The body of the first PEM block, decoded.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64_decode(&body)
}

/// base64(SHA-256(SPKI)).
pub fn spki_pin(spki_der: &[u8]) -> String {
    base64(ring::digest::digest(&ring::digest::SHA256, spki_der).as_ref())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` on a bad character.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode("Zm9v!"), None);
    }

    #[test]
    fn keeps_the_ca_and_reissues_the_leaf() {
        let dir = std::env::temp_dir().join(format!("netlab-cert-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (first, new1) = ensure_dir(&dir).unwrap();
        let (second, new2) = ensure_dir(&dir).unwrap();
        assert!(new1 && !new2);
        assert_eq!(first.ca_pem, second.ca_pem, "the CA is kept");
        assert_ne!(first.leaf_pem, second.leaf_pem, "a new leaf is issued");
        assert_eq!(
            second.ca_der,
            pem_to_der(&fs::read_to_string(dir.join(CA_CERT)).unwrap()).unwrap()
        );
        assert_eq!(first.leaf_spki_sha256.len(), 44);
        let _ = fs::remove_dir_all(&dir);
    }
}
