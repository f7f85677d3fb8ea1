//! Lab 03 — a plausible wrong solution, kept so that the check is proved to catch it:
//! "be liberal in what you accept" — a line may end with a bare LF as well as CRLF. RFC 9112
//! §7.1 says CRLF, and a decoder in front of another one must not accept what the other
//! refuses (that disagreement is how request smuggling starts).
//! `make check LAB=03 WRONG=bare_lf_accepted` shows the failure.

#[derive(Default)]
pub struct Decoder {
    pending: Vec<u8>,
    /// Data bytes still expected in the current chunk, then its CRLF.
    in_chunk: Option<usize>,
    /// After the last chunk: reading trailer lines until the empty one.
    in_trailers: bool,
    done: bool,
}

/// The largest chunk-size accepted: 16 hex digits fill 64 bits.
const MAX_DIGITS: usize = 16;

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Splits one CRLF-terminated line off the front of `pending`, if a whole one is there.
    fn line(&mut self) -> Result<Option<Vec<u8>>, String> {
        let Some(lf) = self.pending.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        // WRONG: a bare LF is taken as a line end too.
        let cr = usize::from(lf > 0 && self.pending[lf - 1] == b'\r');
        let line: Vec<u8> = self.pending.drain(..=lf).take(lf - cr).collect();
        if line.contains(&b'\r') {
            return Err("bare CR inside a line".into());
        }
        Ok(Some(line))
    }

    pub fn feed(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<bool, String> {
        if self.done {
            return Ok(true);
        }
        self.pending.extend_from_slice(input);
        loop {
            if let Some(left) = self.in_chunk {
                // chunk-data, then CRLF.
                let take = left.min(self.pending.len());
                body.extend(self.pending.drain(..take));
                if take < left {
                    self.in_chunk = Some(left - take);
                    return Ok(false);
                }
                if self.pending.len() < 2 {
                    self.in_chunk = Some(0);
                    return Ok(false);
                }
                if &self.pending[..2] != b"\r\n" {
                    return Err("chunk-data must be followed by CRLF".into());
                }
                self.pending.drain(..2);
                self.in_chunk = None;
                continue;
            }
            let Some(line) = self.line()? else {
                return Ok(false);
            };
            if self.in_trailers {
                if line.is_empty() {
                    self.done = true;
                    return Ok(true);
                }
                // A trailer field: name ":" value, the name a token.
                let colon = line
                    .iter()
                    .position(|&b| b == b':')
                    .ok_or("a trailer field needs a colon")?;
                if colon == 0
                    || !line[..colon]
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
                {
                    return Err("bad trailer field name".into());
                }
                continue;
            }
            // chunk-size [ chunk-ext ]
            let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
            if digits == 0 {
                return Err(format!(
                    "chunk-size must start with a hex digit: {:?}",
                    String::from_utf8_lossy(&line)
                ));
            }
            if digits > MAX_DIGITS {
                return Err("chunk-size too large".into());
            }
            let rest = &line[digits..];
            let ext = rest
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .map(|i| &rest[i..])
                .unwrap_or(&[]);
            if !ext.is_empty() && ext[0] != b';' {
                return Err(format!(
                    "unexpected text after chunk-size: {:?}",
                    String::from_utf8_lossy(rest)
                ));
            }
            let hex =
                std::str::from_utf8(&line[..digits]).map_err(|_| "chunk-size is not ASCII")?;
            let size = u64::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
            if size == 0 {
                self.in_trailers = true;
            } else {
                self.in_chunk = Some(usize::try_from(size).map_err(|_| "chunk too large")?);
            }
        }
    }
}
