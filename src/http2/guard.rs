//! RFC 9113's own answer to a frame of the wrong size, given before `h2` sees the frame.
//!
//! The `h2` crate answers a SETTINGS of 5 bytes, a PING of 7, a WINDOW_UPDATE or RST_STREAM
//! not of 4, a GOAWAY under 8 and a short HEADERS with GOAWAY(PROTOCOL_ERROR), and a PRIORITY
//! not of 5 the same way, where the RFC names FRAME_SIZE_ERROR (§4.2, §6) and, for PRIORITY,
//! a stream error only; a SETTINGS_INITIAL_WINDOW_SIZE over 2^31−1 with PROTOCOL_ERROR
//! where §6.5.2 names FLOW_CONTROL_ERROR; and a header block it cannot decode with
//! PROTOCOL_ERROR where §4.3 names COMPRESSION_ERROR. The server's byte stream goes through
//! this guard on its way to `h2`: it reads each frame header the client sends
//! ([`frame::size_rule`]), each SETTINGS frame's values and each header block (with its own
//! HPACK checker, [`super::hpack::Checker`], in step with `h2`'s decoder), keeps a frame
//! that breaks a rule from `h2`, and
//! writes the RFC's answer itself:
//!
//! ```text
//! client ──bytes──▶ Traced (the trace) ──▶ Guard ──frames that pass──▶ h2
//!                                            │
//!   connection error: GOAWAY(FRAME_SIZE_ERROR, FLOW_CONTROL_ERROR or COMPRESSION_ERROR),
//!                     close                             (h2 reads the end of the stream)
//!   stream error:     RST_STREAM(FRAME_SIZE_ERROR)      (h2 reads the stream reset instead)
//! ```
//!
//! A frame larger than SETTINGS_MAX_FRAME_SIZE (§4.2) is left to `h2`, which answers it
//! with FRAME_SIZE_ERROR already. Two pieces: [`Screen`] ([`super::screen`]), sans-IO (client
//! bytes in, the bytes `h2` may read and the answers out), and [`Guard`] here, the async byte
//! stream around it, which writes the answers between two of `h2`'s frames.

use super::frame::{self, HEADER_LEN, Header, Scope};
use super::screen::{Answer, Screen};
use crate::trace::{self, Layer};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where the server's own frames end: the guard writes its answer between two of `h2`'s
/// frames, never inside one.
#[derive(Default)]
struct Boundary {
    head: Vec<u8>,
    left: usize,
}

impl Boundary {
    fn at_edge(&self) -> bool {
        self.head.is_empty() && self.left == 0
    }

    /// How many bytes may be written before the next edge is known or reached.
    fn room(&self) -> usize {
        if self.head.is_empty() {
            self.left
        } else {
            HEADER_LEN - self.head.len()
        }
    }

    fn wrote(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.left > 0 {
                let n = self.left.min(bytes.len());
                self.left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (HEADER_LEN - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if let Some(h) = Header::parse(&self.head) {
                self.left = h.length as usize;
                self.head.clear();
            }
        }
    }
}

/// The server's byte stream with the [`Screen`] between the client and `h2`.
pub struct Guard<T> {
    inner: T,
    peer: SocketAddr,
    screen: Screen,
    /// Client bytes screened, not yet read by `h2`.
    ready: Vec<u8>,
    /// Answers not yet written.
    answers: Vec<u8>,
    /// An answer is being written: `h2`'s bytes wait until it is out.
    answering: bool,
    out: Boundary,
    /// After a connection error, once the GOAWAY is out: shut down, then nothing more.
    shut: bool,
    /// Where the client's bytes are read into: one buffer for the connection, not 16 KiB
    /// zeroed on the stack at every read (a profile showed the memset).
    chunk: Box<[u8]>,
}

impl<T> Guard<T> {
    /// `inner` starts with the client preface (the server reads it again through the trace).
    pub fn new(inner: T, peer: SocketAddr) -> Guard<T> {
        Guard {
            inner,
            peer,
            screen: Screen::new(true),
            ready: Vec::new(),
            answers: Vec::new(),
            answering: false,
            out: Boundary::default(),
            shut: false,
            chunk: vec![0u8; 16 * 1024].into_boxed_slice(),
        }
    }

    /// Traces each answer and queues its bytes.
    fn queue(&mut self, answers: Vec<Answer>) {
        let peer = self.peer;
        for a in answers {
            let code = a.code;
            let answer = match a.scope {
                Scope::Connection => format!("GOAWAY {code}, then close"),
                Scope::Stream(id) => format!("RST_STREAM {code} on stream {id}"),
            };
            trace::event(Layer::H2, || {
                format!(
                    "{peer}: {} stream={} length={}: {}; answered by netlab (h2 would say PROTOCOL_ERROR): {answer}",
                    frame::kind_name(a.header.kind),
                    a.header.stream,
                    a.header.length,
                    a.rule
                )
            });
            self.answers.extend_from_slice(&a.bytes);
        }
    }
}

fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "connection closed after netlab's GOAWAY",
    )
}

impl<T: AsyncWrite + Unpin> Guard<T> {
    /// Writes the queued answers when the server's output is between two frames. Ready when
    /// none is left; after a connection error, also shuts the stream down.
    fn poll_answers(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.answers.is_empty() && (self.answering || self.out.at_edge()) {
            self.answering = true;
            while !self.answers.is_empty() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.answers))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.answers.drain(..n);
            }
            self.answering = false;
        }
        if self.screen.closed() && self.answers.is_empty() && !self.shut {
            ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
            ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
            self.shut = true;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = &mut *self;
        loop {
            // 1. Answers due go out first; after a connection error `h2` reads what came
            //    before the bad frame, then the end.
            if me.screen.closed() && me.ready.is_empty() {
                if !me.answers.is_empty() && !me.answering && !me.out.at_edge() {
                    // `h2` is inside a frame: its next write finishes it, then the GOAWAY.
                    return Poll::Pending;
                }
                ready!(me.poll_answers(cx))?;
                return Poll::Ready(Ok(()));
            }
            // Stream errors' answers: best effort here, or with h2's next write or flush.
            if let Poll::Ready(Err(e)) = me.poll_answers(cx) {
                return Poll::Ready(Err(e));
            }
            // 2. Screened bytes, as many as fit.
            if !me.ready.is_empty() {
                let n = me.ready.len().min(buf.remaining());
                buf.put_slice(&me.ready[..n]);
                me.ready.drain(..n);
                return Poll::Ready(Ok(()));
            }
            // 3. More from the client, through the screen.
            let mut read = ReadBuf::new(&mut me.chunk);
            ready!(Pin::new(&mut me.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            let answers = me.screen.feed(read.filled(), &mut me.ready);
            me.queue(answers);
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        ready!(me.poll_answers(cx))?;
        if me.shut {
            return Poll::Ready(Err(closed_error()));
        }
        // With an answer waiting, `h2` writes up to the end of its current frame only.
        let limit = if me.answers.is_empty() {
            buf.len()
        } else {
            me.out.room().min(buf.len())
        };
        let n = ready!(Pin::new(&mut me.inner).poll_write(cx, &buf[..limit]))?;
        me.out.wrote(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_answers(cx))?;
        if self.shut {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_answers(cx))?;
        if self.shut {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::frame::{emit, kind};

    #[test]
    fn the_boundary_tracks_the_servers_frames() {
        let mut b = Boundary::default();
        let f = emit(kind::DATA, 0, 1, b"hello");
        b.wrote(&f[..4]);
        assert_eq!(b.room(), 5);
        b.wrote(&f[4..10]);
        assert!(!b.at_edge());
        assert_eq!(b.room(), 4);
        b.wrote(&f[10..]);
        assert!(b.at_edge());
    }
}
