//! Lab 03 — the file you edit: a decoder for the chunked transfer coding (RFC 9112 §7.1).
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! last-chunk   = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
//! ```
//!
//! The bytes arrive in pieces of any size — one byte, half a size line, three chunks at once —
//! through repeated calls of `feed`. Today this decoder only works when the whole body
//! arrives in one piece and has neither extensions nor trailers, and it accepts input the
//! RFC forbids. See README.md for what to add. Check with `make check LAB=03`.

/// Decodes one chunked body.
#[derive(Default)]
pub struct Decoder {
    /// Bytes received so far.
    pending: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Takes the next piece of input. Appends decoded data to `body` (each byte once, in
    /// order) and returns `Ok(true)` when the body is complete: the last chunk, the trailer
    /// section and the final CRLF have all arrived. `Ok(false)` asks for more bytes.
    /// `Err(reason)` when the input breaks the grammar.
    pub fn feed(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<bool, String> {
        self.pending.extend_from_slice(input);
        let mut at = 0;
        loop {
            // TODO: a size line may not have arrived yet; chunk-ext; only CRLF ends a line.
            let Some(nl) = self.pending[at..].iter().position(|&b| b == b'\n') else {
                return Ok(false);
            };
            let line = String::from_utf8_lossy(&self.pending[at..at + nl])
                .trim()
                .to_string();
            let size = usize::from_str_radix(&line, 16)
                .map_err(|e| format!("bad chunk-size {line:?}: {e}"))?;
            at += nl + 1;
            if size == 0 {
                // TODO: trailer fields, and the final CRLF.
                return Ok(true);
            }
            // TODO: the chunk data may not all be here yet; the CRLF after it must be checked.
            body.extend_from_slice(&self.pending[at..at + size]);
            at += size + 2;
        }
    }
}
