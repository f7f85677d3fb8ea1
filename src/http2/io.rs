//! The async pieces the HTTP/2 server and client share: a byte stream that shows its frames
//! in the trace, and a body sent as flow control allows. Both ends run them on a
//! current-thread tokio runtime of their own (see [`super::server`] and [`super::client`]).

use super::tap::Conversation;
use crate::l4::relay::Side;
use crate::trace::{self, Dir, Layer};
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Starts blocking work (a handler) on the handler pool ([`super::pool`]), off the
/// connection's thread, so that it holds back its own stream only. Its answer comes on the
/// receiver (an error if the work ended without one).
pub fn start_blocking<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> tokio::sync::oneshot::Receiver<R> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    super::pool::spawn(move || {
        let _ = tx.send(work());
    });
    rx
}

/// [`start_blocking`], waiting for the answer (`None` if there is none).
pub async fn run_blocking<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Option<R> {
    start_blocking(work).await.ok()
}

/// Sends a body as DATA frames, each as large as the peer's windows allow (RFC 9113 §5.2),
/// the last with END_STREAM when `end` (gRPC sends trailers after it instead). Waiting for
/// capacity is what keeps a fast sender from overrunning a slow receiver; the receiver
/// gives capacity back as it reads.
pub async fn send_data(
    stream: &mut h2::SendStream<Bytes>,
    mut rest: Bytes,
    end: bool,
) -> Result<(), h2::Error> {
    while !rest.is_empty() {
        stream.reserve_capacity(rest.len());
        let granted = std::future::poll_fn(|cx| stream.poll_capacity(cx)).await;
        let n = match granted {
            Some(Ok(n)) if n > 0 => n.min(rest.len()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e),
            // The stream was closed under us: nothing more can be sent.
            None => return Ok(()),
        };
        let chunk = rest.split_to(n);
        stream.send_data(chunk, end && rest.is_empty())?;
    }
    Ok(())
}

/// Reads a whole body, giving each chunk's capacity back at once so the peer may send more
/// (RFC 9113 §6.9). Stops with an error past `max` bytes.
pub async fn read_body(body: &mut h2::RecvStream, max: usize) -> Result<Vec<u8>, BodyError> {
    read_body_each(body, max, |_| {}).await
}

/// [`read_body`], telling `each` how many bytes every DATA frame brought.
pub async fn read_body_each(
    body: &mut h2::RecvStream,
    max: usize,
    mut each: impl FnMut(usize),
) -> Result<Vec<u8>, BodyError> {
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(BodyError::H2)?;
        let _ = body.flow_control().release_capacity(chunk.len());
        if data.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        each(chunk.len());
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The stream was reset or the connection failed.
    H2(h2::Error),
    /// More bytes than allowed.
    TooLarge(usize),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::H2(e) => write!(f, "{e}"),
            BodyError::TooLarge(max) => write!(f, "the body is larger than {max} bytes"),
        }
    }
}

/// A byte stream that shows its frames: what it reads and writes goes through a
/// [`Conversation`] (the tap's decoder), whose lines are printed from this end's point of
/// view. When the `h2` and `hpack` layers are off, it decodes nothing.
pub struct Traced<T> {
    inner: T,
    /// Which side of the connection this end is.
    me: Side,
    conversation: Option<Conversation>,
    /// Bytes taken (and traced) by `poll_write` but not yet written to `inner`.
    pending: Vec<u8>,
}

impl<T> Traced<T> {
    pub fn new(inner: T, me: Side) -> Traced<T> {
        let on = trace::is_on(Layer::H2) || trace::is_on(Layer::Hpack);
        Traced {
            inner,
            me,
            conversation: on.then(Conversation::default),
            pending: Vec::new(),
        }
    }

    fn show(&mut self, from: Side, bytes: &[u8]) {
        let me = self.me;
        let Some(c) = self.conversation.as_mut() else {
            return;
        };
        for line in c.feed(from, bytes) {
            // The conversation speaks as a tap (client → server); this end sent what came
            // from its own side and received the rest.
            let dir = match line.dir {
                Dir::Event => Dir::Event,
                _ if from == me => Dir::Sent,
                _ => Dir::Received,
            };
            trace::step(line.layer.unwrap_or(Layer::H2), dir, || line.text.clone());
        }
    }

    fn peer(&self) -> Side {
        match self.me {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Traced<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            if self.conversation.is_some() {
                let new = buf.filled()[before..].to_vec();
                let peer = self.peer();
                self.show(peer, &new);
            }
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> Traced<T> {
    /// Writes out what an earlier `poll_write` took and traced.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Traced<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.conversation.is_none() {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        }
        // The frames are traced before their bytes leave: traced after the write, the
        // peer's thread could print "← HEADERS" before this one printed "→ HEADERS". So
        // the bytes are taken whole, shown, and written from here (flush finishes them).
        ready!(self.poll_drain(cx))?;
        let me = self.me;
        self.show(me, buf);
        self.pending.extend_from_slice(buf);
        if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A byte stream with some bytes already read from it put back in front: the server reads
/// the client's preface itself, to answer a wrong one, then hands `h2` the whole stream.
pub struct Prefixed<T> {
    first: Vec<u8>,
    inner: T,
}

impl<T> Prefixed<T> {
    pub fn new(first: &[u8], inner: T) -> Prefixed<T> {
        Prefixed {
            first: first.to_vec(),
            inner,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.first.is_empty() {
            let n = self.first.len().min(buf.remaining());
            buf.put_slice(&self.first[..n]);
            self.first.drain(..n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
