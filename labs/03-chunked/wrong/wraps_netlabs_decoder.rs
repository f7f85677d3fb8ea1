//! Lab 03 — a plausible wrong solution, kept so that the check is proved to catch it:
//! every byte handed to netlab's own `ChunkedDecoder` (it is public: the HTTP/1.1 tap and the
//! fuzz target use it). It decodes correctly, but the lab is writing the decoder, so the
//! check's last step refuses a file that calls it. `make check LAB=03 WRONG=wraps_netlabs_decoder`.

use netlab::http1::chunked::ChunkedDecoder;

/// Decodes one chunked body.
#[derive(Default)]
pub struct Decoder {
    inner: ChunkedDecoder,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Takes the next piece of input; `Ok(true)` once the body is complete.
    pub fn feed(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<bool, String> {
        let mut at = 0;
        while at < input.len() && !self.inner.is_done() {
            let used = self
                .inner
                .decode(&input[at..], body)
                .map_err(|e| e.to_string())?;
            if used == 0 {
                break;
            }
            at += used;
        }
        Ok(self.inner.is_done())
    }
}
