//! The key phase of 1-RTT packets, read as Wireshark reads it: with the key log.
//!
//! A short header's key-phase bit and packet number are hidden by header protection
//! (RFC 9001 §5.4): a mask computed from a sample of the encrypted payload with the "quic hp"
//! key. That key is derived from the connection's traffic secrets, which the TLS stack writes
//! to a key log (NSS format, `SSLKEYLOGFILE`). So the trace does what Wireshark does with a
//! key log: it keeps this connection's lines in memory, derives the header-protection key of
//! each direction (HKDF-Expand-Label, RFC 8446 §7.1), removes the mask, and shows
//! `pn=N key phase 0`. A key update (RFC 9001 §6) changes the packet keys but not the
//! header-protection key, so the phase can be followed across updates: the trace marks
//! where it flips.
//!
//! Which cipher suite the connection uses is not in the key log; a secret of 48 bytes
//! means AES-256-GCM, one of 32 AES-128-GCM or ChaCha20-Poly1305. The first 1-RTT packet of
//! each direction settles it: the suite whose packet key opens it (an AEAD check that
//! cannot pass by chance) is the one.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ring::aead::{self, quic};
use ring::hkdf;

use super::packet::{self, Form};

/// The most key-log bytes kept per connection: its lines are a few hundred bytes.
const MAX_LOG: usize = 4096;

/// One connection's key log, kept in memory (and passed on to `$SSLKEYLOGFILE`), and what
/// the trace derived from it.
#[derive(Clone, Default)]
pub struct Keys {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    log: Vec<u8>,
    client: Option<Direction>,
    server: Option<Direction>,
}

/// What the trace knows of one direction's 1-RTT packets.
struct Direction {
    hp: quic::HeaderProtectionKey,
    largest: Option<u64>,
    phase: Option<bool>,
}

/// What quiche's key-log callback writes to: memory, and the file if there is one.
struct Tee {
    keys: Keys,
    file: Option<std::fs::File>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut inner) = self.keys.inner.lock() {
            if inner.log.len() + buf.len() <= MAX_LOG {
                inner.log.extend_from_slice(buf);
            }
        }
        if let Some(f) = &mut self.file {
            f.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// A cipher suite, as far as the trace needs it.
struct Suite {
    hkdf: hkdf::Algorithm,
    hp: &'static quic::Algorithm,
    aead: &'static aead::Algorithm,
}

/// The suites whose secrets are `len` bytes long.
fn suites(len: usize) -> Vec<Suite> {
    let s = |hkdf, hp, aead| Suite { hkdf, hp, aead };
    match len {
        32 => vec![
            s(hkdf::HKDF_SHA256, &quic::AES_128, &aead::AES_128_GCM),
            s(hkdf::HKDF_SHA256, &quic::CHACHA20, &aead::CHACHA20_POLY1305),
        ],
        48 => vec![s(hkdf::HKDF_SHA384, &quic::AES_256, &aead::AES_256_GCM)],
        _ => Vec::new(),
    }
}

/// An output length for ring's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", len) (RFC 8446 §7.1; RFC 9001 §5.1 for the labels).
fn expand_label(alg: hkdf::Algorithm, secret: &[u8], label: &str, len: usize) -> Option<Vec<u8>> {
    let prk = hkdf::Prk::new_less_safe(alg, secret);
    let full = format!("tls13 {label}");
    let info: [&[u8]; 4] = [
        &(len as u16).to_be_bytes(),
        &[full.len() as u8],
        full.as_bytes(),
        &[0],
    ];
    let okm = prk.expand(&info, Len(len)).ok()?;
    let mut out = vec![0u8; len];
    okm.fill(&mut out).ok()?;
    Some(out)
}

/// A 1-RTT packet with its header protection removed.
struct Unmasked {
    /// The header as sent before protection (the AEAD's associated data).
    header: Vec<u8>,
    truncated: u64,
    pn_bits: u32,
    phase: bool,
}

/// Removes header protection from the short-header packet `p` (RFC 9001 §5.4.1).
fn unmask(hp: &quic::HeaderProtectionKey, p: &[u8], dcid_len: usize) -> Option<Unmasked> {
    let pn_offset = 1 + dcid_len;
    let sample = p.get(pn_offset + 4..pn_offset + 4 + 16)?;
    let mask = hp.new_mask(sample).ok()?;
    let first = p[0] ^ (mask[0] & 0x1f);
    let pn_len = usize::from(first & 0x03) + 1;
    let mut header = p.get(..pn_offset + pn_len)?.to_vec();
    header[0] = first;
    let mut truncated = 0u64;
    for i in 0..pn_len {
        header[pn_offset + i] ^= mask[1 + i];
        truncated = (truncated << 8) | u64::from(header[pn_offset + i]);
    }
    Some(Unmasked {
        header,
        truncated,
        pn_bits: 8 * pn_len as u32,
        phase: first & 0x04 != 0,
    })
}

/// The full packet number from its truncated form (RFC 9000 §A.3).
fn full_pn(largest: Option<u64>, truncated: u64, bits: u32) -> u64 {
    let expected = largest.map_or(0, |l| l + 1);
    let win = 1u64 << bits;
    let hwin = win / 2;
    let candidate = (expected & !(win - 1)) | truncated;
    if candidate + hwin <= expected && candidate < (1 << 62) - win {
        candidate + win
    } else if candidate > expected + hwin && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// Whether `suite`'s phase-0 packet key for `secret` opens packet `p`, number `pn` (so the
/// suite is right).
fn opens(suite: &Suite, secret: &[u8], p: &[u8], u: &Unmasked, pn: u64) -> bool {
    let key_len = suite.aead.key_len();
    let (Some(key), Some(iv)) = (
        expand_label(suite.hkdf, secret, "quic key", key_len),
        expand_label(suite.hkdf, secret, "quic iv", 12),
    ) else {
        return false;
    };
    let Ok(key) = aead::UnboundKey::new(suite.aead, &key) else {
        return false;
    };
    let key = aead::LessSafeKey::new(key);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&iv);
    for (n, b) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= b;
    }
    let mut payload = p[u.header.len()..].to_vec();
    key.open_in_place(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::from(&u.header[..]),
        &mut payload,
    )
    .is_ok()
}

/// The traffic secret of one direction in an NSS key log.
fn secret(log: &[u8], by_client: bool) -> Option<Vec<u8>> {
    let label = if by_client {
        "CLIENT_TRAFFIC_SECRET_0"
    } else {
        "SERVER_TRAFFIC_SECRET_0"
    };
    let text = std::str::from_utf8(log).ok()?;
    let line = text.lines().rev().find(|l| l.starts_with(label))?;
    let hex = line.split_whitespace().nth(2)?;
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Keys {
    /// The trace's note for a datagram sent by the client (`by_client`) or the server: its
    /// 1-RTT packet's number and key phase, the flip marked; empty when it is not one 1-RTT
    /// packet alone, or there is no key yet.
    pub fn note(&self, datagram: &[u8], dcid_len: usize, by_client: bool) -> String {
        let Some(p) = lone_short(datagram, dcid_len) else {
            return String::new();
        };
        let Ok(mut inner) = self.inner.lock() else {
            return String::new();
        };
        if side(&mut inner, by_client).is_none() {
            let found = settle(&inner.log, by_client, p, dcid_len);
            *side(&mut inner, by_client) = found;
        }
        let Some(d) = side(&mut inner, by_client).as_mut() else {
            return String::new();
        };
        let Some(u) = unmask(&d.hp, p, dcid_len) else {
            return String::new();
        };
        let pn = full_pn(d.largest, u.truncated, u.pn_bits);
        d.largest = Some(d.largest.map_or(pn, |l| l.max(pn)));
        let flip = match d.phase.replace(u.phase) {
            Some(before) if before != u.phase => format!(
                " — KEY UPDATE: key phase {} → {} (RFC 9001 §6)",
                u8::from(before),
                u8::from(u.phase)
            ),
            _ => String::new(),
        };
        format!(
            "; key log unmasks it: 1-RTT pn={pn} key phase {}{flip}",
            u8::from(u.phase)
        )
    }
}

fn side(inner: &mut Inner, by_client: bool) -> &mut Option<Direction> {
    if by_client {
        &mut inner.client
    } else {
        &mut inner.server
    }
}

/// The header-protection key of one direction, once the key log has its secret and a
/// packet has shown which suite it is.
fn settle(log: &[u8], by_client: bool, p: &[u8], dcid_len: usize) -> Option<Direction> {
    let secret = secret(log, by_client)?;
    for suite in suites(secret.len()) {
        let Some(hp) = expand_label(suite.hkdf, &secret, "quic hp", suite.hp.key_len()) else {
            continue;
        };
        let Ok(hp) = quic::HeaderProtectionKey::new(suite.hp, &hp) else {
            continue;
        };
        // Only a phase-0 packet can be opened with the first secret's key; the first 1-RTT
        // packets have small numbers, sent whole.
        if let Some(u) = unmask(&hp, p, dcid_len) {
            let pn = full_pn(None, u.truncated, u.pn_bits);
            if !u.phase && opens(&suite, &secret, p, &u, pn) {
                return Some(Direction {
                    hp,
                    largest: None,
                    phase: None,
                });
            }
        }
    }
    None
}

/// The datagram's packet when it is one short-header packet alone. A 1-RTT packet coalesced
/// behind handshake packets (RFC 9000 §12.2) belongs to the handshake, where the phase is
/// always 0, and its trace line is long enough already: it gets no note.
fn lone_short(datagram: &[u8], dcid_len: usize) -> Option<&[u8]> {
    let packets = packet::decode_datagram(datagram, dcid_len).ok()?;
    match packets.as_slice() {
        [only] if matches!(only.form, Form::Short { .. }) => datagram.get(..only.size),
        _ => None,
    }
}

/// Keeps this connection's key log in memory for [`Keys::note`], and appends it to
/// `$SSLKEYLOGFILE` when that is set (so tshark and Wireshark can decrypt a capture).
pub fn capture(conn: &mut quiche::Connection) -> Keys {
    let keys = Keys::default();
    let file = std::env::var_os("SSLKEYLOGFILE").and_then(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    });
    conn.set_keylog(Box::new(Tee {
        keys: keys.clone(),
        file,
    }));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9001 §A.5: the ChaCha20-Poly1305 short-header example, unmasked.
    #[test]
    fn the_rfc_9001_chacha20_example_unmasks_to_pn_654360564() {
        let secret = hex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
        let packet = hex("4cfe4189655e5cd55c41f69080575d7999c25a5bfb");
        let suite = &suites(32)[1];
        let hp = expand_label(suite.hkdf, &secret, "quic hp", 32).unwrap();
        assert_eq!(
            hp,
            hex("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4")
        );
        let hp = quic::HeaderProtectionKey::new(suite.hp, &hp).unwrap();
        let u = unmask(&hp, &packet, 0).unwrap();
        assert_eq!(u.header, hex("4200bff4"));
        assert!(!u.phase);
        let pn = full_pn(Some(654_360_563), u.truncated, u.pn_bits);
        assert_eq!(pn, 654_360_564);
        assert!(opens(suite, &secret, &packet, &u, pn));
        assert!(!opens(suite, &secret, &packet, &u, pn + 1));
        // The other 32-byte suite does not open it: that is how the suite is told apart.
        assert!(!opens(&suites(32)[0], &secret, &packet, &u, pn));
    }

    #[test]
    fn a_packet_number_is_recovered_across_its_window() {
        // RFC 9000 §A.3's example: largest 0xa82f30ea, 16 bits 0x9b32 → 0xa82f9b32.
        assert_eq!(full_pn(Some(0xa82f30ea), 0x9b32, 16), 0xa82f9b32);
        assert_eq!(full_pn(None, 3, 8), 3);
        assert_eq!(full_pn(Some(255), 0, 8), 256);
    }

    #[test]
    fn the_secret_of_each_direction_is_read_from_nss_lines() {
        let log = b"CLIENT_HANDSHAKE_TRAFFIC_SECRET aa 0102\nCLIENT_TRAFFIC_SECRET_0 aa 0a0b\nSERVER_TRAFFIC_SECRET_0 aa 0c0d\n";
        assert_eq!(secret(log, true), Some(vec![0x0a, 0x0b]));
        assert_eq!(secret(log, false), Some(vec![0x0c, 0x0d]));
        assert_eq!(secret(b"CLIENT_TRAFFIC_SECRET_0 aa zz\n", true), None);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
