//! Reading whole HTTP/1.1 messages from a connection: the loop around the sans-IO parser.
//!
//! A `Reader` keeps the bytes received but not yet used. After one message, what is left is
//! the start of the next one (pipelining): nothing is ever read past a message and lost.
//! Every read has a deadline, so a slow or silent peer costs a bounded time.

use super::chunked::ChunkedDecoder;
use super::framing::BodyLength;
use super::head::{self, RequestHead, ResponseHead};
use super::parse::{self, Limits, ParseError, Status};
use crate::http::message::Headers;
use crate::tls::transport::Transport;
use crate::trace::{self, Dir, Layer};
use std::fmt;
use std::io::{self, Read};
use std::time::Instant;

/// Why a message could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed before sending anything of a new message (the normal end of a
    /// kept-alive connection).
    Closed,
    /// The peer closed in the middle of a message.
    Truncated,
    /// The deadline passed; `started` says whether part of the message had arrived.
    Timeout {
        started: bool,
    },
    /// The head broke a rule.
    Parse(ParseError),
    /// The chunked body broke a rule.
    Chunked(super::chunked::ChunkError),
    /// The body is larger than allowed.
    TooLarge {
        limit: usize,
    },
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Closed => f.write_str("the peer closed the connection"),
            ReadError::Truncated => {
                f.write_str("the peer closed the connection in the middle of a message")
            }
            ReadError::Timeout { .. } => f.write_str("timed out waiting for the peer"),
            ReadError::Parse(e) => write!(f, "{e}"),
            ReadError::Chunked(e) => write!(f, "{e}"),
            ReadError::TooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Bytes received from one connection and not yet consumed.
#[derive(Default)]
pub struct Reader {
    pub buf: Vec<u8>,
    /// The read timeout last set on the socket. Setting it is a system call, so it is set
    /// again only when it would let a read overrun the deadline (by more than `SLACK`) or is
    /// much shorter than the wait (needless wake-ups); a read that times out before the
    /// deadline just reads again.
    armed: Option<std::time::Duration>,
    /// Where each read lands before it joins `buf`: made once per connection (not zeroed
    /// again for every read), 2 KiB at first and doubled up to 64 KiB when reads fill it.
    chunk: Vec<u8>,
}

/// How far a read may overrun its deadline rather than re-arm the socket's timeout.
const SLACK: std::time::Duration = std::time::Duration::from_millis(10);

impl Reader {
    pub fn new() -> Reader {
        Reader::default()
    }

    /// Reads more bytes, waiting at most until `deadline`. Returns 0 at end of stream.
    fn fill(&mut self, conn: &mut Transport, deadline: Instant) -> Result<usize, ReadError> {
        // Small at first: an idle kept-alive connection holds it, and a thousand of them
        // add up; it grows when reads fill it (a body arriving).
        if self.chunk.is_empty() {
            self.chunk = vec![0u8; 2 * 1024];
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadError::Timeout {
                    started: !self.buf.is_empty(),
                });
            }
            let rearm = match self.armed {
                None => true,
                Some(t) => t > left + SLACK || t < left / 2,
            };
            if rearm {
                conn.set_read_timeout(Some(left)).map_err(ReadError::Io)?;
                self.armed = Some(left);
            }
            match conn.read(&mut self.chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&self.chunk[..n]);
                    if n == self.chunk.len() && n < 64 * 1024 {
                        self.chunk.resize(n * 2, 0);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Timed out: at the deadline, or earlier on a shorter timeout set before.
                Err(e) if crate::l4::conn::is_timeout(&e) => continue,
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Reads a request head. `first_byte_deadline` bounds the wait for the first byte (the
    /// keep-alive idle time); once a byte is in, `head_deadline` bounds the whole head.
    pub fn request_head(
        &mut self,
        conn: &mut Transport,
        limits: &Limits,
        first_byte_deadline: Instant,
        head_time: std::time::Duration,
    ) -> Result<RequestHead, ReadError> {
        let mut head_deadline = None;
        loop {
            // Nothing yet: wait, idle, for the first byte of the next request.
            if self.buf.is_empty() {
                if self.fill(conn, first_byte_deadline)? == 0 {
                    return Err(ReadError::Closed);
                }
                continue;
            }
            // A byte is in: the whole head must come within `head_time` of it.
            let deadline = *head_deadline.get_or_insert_with(|| Instant::now() + head_time);
            if let Status::Complete((head, n)) =
                parse::parse_request(&self.buf, limits).map_err(ReadError::Parse)?
            {
                head::trace(Dir::Received, &self.buf[..n], "request head");
                self.buf.drain(..n);
                return Ok(head);
            }
            if self.fill(conn, deadline)? == 0 {
                return Err(ReadError::Truncated);
            }
        }
    }

    /// Reads a response head (1xx interim responses included: the caller loops over them).
    pub fn response_head(
        &mut self,
        conn: &mut Transport,
        limits: &Limits,
        deadline: Instant,
    ) -> Result<ResponseHead, ReadError> {
        loop {
            if !self.buf.is_empty() {
                if let Status::Complete((head, n)) =
                    parse::parse_response(&self.buf, limits).map_err(ReadError::Parse)?
                {
                    head::trace(Dir::Received, &self.buf[..n], "response head");
                    self.buf.drain(..n);
                    return Ok(head);
                }
            }
            if self.fill(conn, deadline)? == 0 {
                return Err(if self.buf.is_empty() {
                    ReadError::Closed
                } else {
                    ReadError::Truncated
                });
            }
        }
    }

    /// Reads a body framed as `length` says, at most `max` bytes. Returns the body and the
    /// trailer fields (chunked only). A timeout here is always in a started message: its
    /// head is in, even when no byte of the body has come (→ 408 from a server).
    pub fn body(
        &mut self,
        conn: &mut Transport,
        length: BodyLength,
        max: usize,
        deadline: Instant,
    ) -> Result<(Vec<u8>, Headers), ReadError> {
        self.body_inner(conn, length, max, deadline)
            .map_err(|e| match e {
                ReadError::Timeout { .. } => ReadError::Timeout { started: true },
                e => e,
            })
    }

    fn body_inner(
        &mut self,
        conn: &mut Transport,
        length: BodyLength,
        max: usize,
        deadline: Instant,
    ) -> Result<(Vec<u8>, Headers), ReadError> {
        match length {
            BodyLength::None => Ok((Vec::new(), Headers::new())),
            BodyLength::Fixed(n) => {
                if n > max as u64 {
                    return Err(ReadError::TooLarge { limit: max });
                }
                let n = n as usize;
                while self.buf.len() < n {
                    if self.fill(conn, deadline)? == 0 {
                        return Err(ReadError::Truncated);
                    }
                }
                let body: Vec<u8> = self.buf.drain(..n).collect();
                trace_fixed_body(&body);
                Ok((body, Headers::new()))
            }
            BodyLength::Chunked => {
                let mut decoder = ChunkedDecoder::default();
                if trace::is_on(Layer::Http1) {
                    decoder = decoder.keeping_sizes();
                }
                let mut body = Vec::new();
                loop {
                    let used = decoder
                        .decode(&self.buf, &mut body)
                        .map_err(ReadError::Chunked)?;
                    self.buf.drain(..used);
                    if body.len() > max {
                        return Err(ReadError::TooLarge { limit: max });
                    }
                    if decoder.is_done() {
                        trace_chunked_body(&decoder, &body);
                        return Ok((body, decoder.trailers().clone()));
                    }
                    if self.fill(conn, deadline)? == 0 {
                        return Err(ReadError::Truncated);
                    }
                }
            }
            BodyLength::UntilClose => {
                loop {
                    if self.buf.len() > max {
                        return Err(ReadError::TooLarge { limit: max });
                    }
                    if self.fill(conn, deadline)? == 0 {
                        break;
                    }
                }
                let body = std::mem::take(&mut self.buf);
                trace::received(Layer::Http1, || {
                    format!(
                        "body {} bytes (until the server closed): {}",
                        body.len(),
                        trace::quoted(&body, 60)
                    )
                });
                Ok((body, Headers::new()))
            }
        }
    }
}

/// The trace of a body framed by Content-Length, once it is all in.
pub(super) fn trace_fixed_body(body: &[u8]) {
    trace::received(Layer::Http1, || {
        format!(
            "body {} bytes (Content-Length): {}",
            body.len(),
            trace::quoted(body, 60)
        )
    });
}

/// The trace of a chunked body, once its last-chunk and trailers are in.
pub(super) fn trace_chunked_body(decoder: &ChunkedDecoder, body: &[u8]) {
    trace::received(Layer::Http1, || {
        format!(
            "body {} bytes in {} chunks of {} bytes (the 0 is the last-chunk), {} trailer field(s): {}",
            body.len(),
            decoder.chunks,
            decoder.describe_sizes(),
            decoder.trailers().len(),
            trace::quoted(body, 60)
        )
    });
}
