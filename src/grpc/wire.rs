//! The gRPC wire format on HTTP/2, written out (grpc/doc/PROTOCOL-HTTP2.md): how a call's
//! messages travel in DATA frames, and how a deadline travels in a header. Sans-IO.
//!
//! ```text
//! Length-Prefixed-Message → Compressed-Flag Message-Length Message
//! Compressed-Flag → 0 / 1          ; 1 byte: 1 means compressed with grpc-encoding
//! Message-Length  → {length of Message}  ; 4 bytes, big-endian
//! ```
//!
//! DATA frame boundaries have nothing to do with message boundaries: one frame may hold
//! several messages, one message may span several frames. [`Deframer`] puts them back.

use super::status::{Code, Status};
use std::time::Duration;

/// The 5-byte prefix.
pub const PREFIX: usize = 5;

/// The largest message accepted (grpc's default receive limit is 4 MiB).
pub const MAX_MESSAGE: usize = 4 << 20;

/// Frames one message: flag 0 (not compressed), length, bytes.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX + message.len());
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// Collects DATA payloads and yields whole messages.
#[derive(Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    /// Adds bytes as they arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, Status> {
        if self.buf.len() < PREFIX {
            return Ok(None);
        }
        let flag = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if flag == 1 {
            // No grpc-encoding was negotiated: a compressed message cannot be read.
            return Err(Status::new(
                Code::INTERNAL,
                "a compressed message, but no grpc-encoding was agreed",
            ));
        }
        if flag > 1 {
            return Err(Status::new(
                Code::INTERNAL,
                format!("Compressed-Flag {flag}: only 0 and 1 exist"),
            ));
        }
        if len > MAX_MESSAGE {
            return Err(Status::new(
                Code::RESOURCE_EXHAUSTED,
                format!("a message of {len} bytes, more than the {MAX_MESSAGE} allowed"),
            ));
        }
        if self.buf.len() < PREFIX + len {
            return Ok(None);
        }
        let message = self.buf[PREFIX..PREFIX + len].to_vec();
        self.buf.drain(..PREFIX + len);
        Ok(Some(message))
    }

    /// Bytes of an unfinished message: at the end of the stream, an error.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// `grpc-timeout` → TimeoutValue TimeoutUnit: at most 8 digits, then H, M, S, m, u or n.
pub fn parse_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A deadline as `grpc-timeout`, in the smallest unit that keeps it within 8 digits.
pub fn format_timeout(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 100_000_000 {
        format!("{}m", ms.max(1))
    } else {
        format!("{}S", d.as_secs().min(99_999_999))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_across_frames_and_several_per_frame() {
        let mut wire = frame(b"one");
        wire.extend(frame(b""));
        wire.extend(frame(&[7u8; 300]));
        // Every way of cutting the bytes into two DATA frames gives the same three messages.
        for cut in 0..wire.len() {
            let mut d = Deframer::default();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                d.push(part);
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(
                got,
                [b"one".to_vec(), vec![], vec![7u8; 300]],
                "cut at {cut}"
            );
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn a_bad_prefix_is_an_error_with_its_status() {
        let mut d = Deframer::default();
        d.push(&[1, 0, 0, 0, 1, 9]);
        assert_eq!(d.next_message().unwrap_err().code, Code::INTERNAL);
        let mut d = Deframer::default();
        d.push(&[0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(d.next_message().unwrap_err().code, Code::RESOURCE_EXHAUSTED);
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("1500m"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("123456789m"), None, "9 digits");
        assert_eq!(parse_timeout("10x"), None);
        assert_eq!(parse_timeout("m"), None);
        assert_eq!(parse_timeout(""), None);
        assert_eq!(format_timeout(Duration::from_millis(250)), "250m");
        assert_eq!(
            parse_timeout(&format_timeout(Duration::from_secs(200_000))),
            Some(Duration::from_secs(200_000))
        );
    }
}
