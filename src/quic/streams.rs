//! The HTTP/3 streams of one server connection (RFC 9114 §4.1): HTTP/3 opened once QUIC is
//! up and its events polled (steps 6a and 6b of the loop in `server.rs`), a request's body
//! arriving in DATA frames (with the limits that keep one client from holding the server's memory),
//! and a response going out as flow control allows — HEADERS first, then DATA, continued
//! turn after turn of the loop in `server.rs` until quiche has taken it all.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use quiche::h3::NameValue;

use super::codes;
use super::early::{Early, Policy};
use super::h3;
use super::udp;
use crate::http::message::{FileBody, Request, Response};
use crate::trace::{self, Layer};

/// A request on its way in: fields received, body arriving.
pub(super) struct Incoming {
    pub(super) request: Request,
    /// A body over the limit was refused with 413: the rest is read and dropped.
    pub(super) refused: bool,
}

/// A response on its way out: quiche takes as much as flow control allows per call.
pub(super) struct Outgoing {
    pub(super) fields: Option<Vec<quiche::h3::Header>>,
    /// RFC 9218 urgency and incremental, from the request's Priority field.
    pub(super) priority: quiche::h3::Priority,
    /// The body in memory; for a file body, the chunk read last.
    pub(super) body: Vec<u8>,
    /// Bytes of `body` quiche has taken.
    pub(super) written: usize,
    /// A file body, read a chunk at a time once quiche has taken the one before.
    pub(super) file: Option<Reading>,
}

/// A file body on its way out: the file and how far it has been read.
pub(super) struct Reading {
    file: FileBody,
    read: u64,
}

/// The bytes of a file body read at once: the one buffer a streamed file holds (one copy
/// from the page cache per chunk, then quiche's own copy into its stream buffer).
const CHUNK: usize = 64 * 1024;

/// One client connection.
pub(super) struct Client {
    pub(super) conn: quiche::Connection,
    pub(super) http3: Option<quiche::h3::Connection>,
    pub(super) peer: SocketAddr,
    pub(super) id: String,
    pub(super) incoming: HashMap<u64, Incoming>,
    pub(super) outgoing: HashMap<u64, Outgoing>,
    pub(super) started: Instant,
    pub(super) requests: u64,
    /// Bytes of request bodies held for this connection's streams, all together.
    pub(super) buffered: usize,
    /// Its paths as the trace last showed them (`paths.rs`).
    pub(super) paths: super::paths::Watch,
    /// Its key log, for the key phase in the trace (`keylog.rs`).
    pub(super) keys: super::keylog::Keys,
}

/// The request-body bytes one connection may have buffered at once, across its streams (each
/// stream also has `max_body`): a client opening 128 streams cannot make the server hold
/// 128 bodies of the largest size.
pub(super) const MAX_BUFFERED: usize = 64 * 1024 * 1024;

/// Reads what arrived of a request body; over the limit → 413 and the rest is discarded.
pub(super) fn read_body(
    c: &mut Client,
    http3: &mut quiche::h3::Connection,
    stream: u64,
    max: usize,
) {
    let mut chunk = [0u8; 16 * 1024];
    let mut over = false;
    while let Ok(n) = http3.recv_body(&mut c.conn, stream, &mut chunk) {
        let Some(incoming) = c.incoming.get_mut(&stream) else {
            continue;
        };
        if incoming.refused {
            continue;
        }
        if incoming.request.body.len() + n > max || c.buffered + n > MAX_BUFFERED {
            incoming.refused = true;
            over = true;
            c.buffered = c.buffered.saturating_sub(incoming.request.body.len());
            incoming.request.body = Vec::new();
            continue;
        }
        incoming.request.body.extend_from_slice(&chunk[..n]);
        c.buffered += n;
    }
    if over {
        trace::event(Layer::H3, || {
            format!(
                "{}: stream {stream}: body over {max} bytes (or the connection's bodies over {MAX_BUFFERED}): 413",
                c.id
            )
        });
        let resp = Response::text(413, &format!("the body may be at most {max} bytes"));
        queue(c, http3, stream, "POST", resp);
    }
}

/// Puts a response on its stream: HEADERS now, DATA as flow control allows.
pub(super) fn queue(
    c: &mut Client,
    http3: &mut quiche::h3::Connection,
    stream: u64,
    method: &str,
    resp: Response,
) {
    queue_with(
        c,
        http3,
        stream,
        method,
        resp,
        quiche::h3::Priority::default(),
    );
}

/// [`queue`], with the stream's RFC 9218 priority (quiche schedules streams by it).
pub(super) fn queue_with(
    c: &mut Client,
    http3: &mut quiche::h3::Connection,
    stream: u64,
    method: &str,
    resp: Response,
    priority: quiche::h3::Priority,
) {
    let (fields, with_body) = h3::response_fields(method, &resp);
    let (body, file) = if with_body {
        let file = resp.file.map(|file| Reading { file, read: 0 });
        (resp.body, file)
    } else {
        (Vec::new(), None)
    };
    c.outgoing.insert(
        stream,
        Outgoing {
            fields: Some(fields),
            priority,
            body,
            written: 0,
            file,
        },
    );
    push_response(c, http3, stream);
}

/// Sends as much of a queued response as quiche takes now; keeps the rest for later turns.
/// A file body goes a chunk at a time: the next is read once quiche has taken the last.
pub(super) fn push_response(c: &mut Client, http3: &mut quiche::h3::Connection, stream: u64) {
    if !push_fields(c, http3, stream) {
        return;
    }
    let Some(out) = c.outgoing.get_mut(&stream) else {
        return;
    };
    let total = out
        .file
        .as_ref()
        .map_or(out.body.len() as u64, |r| r.file.len());
    loop {
        if out.written == out.body.len() {
            match next_chunk(out) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return file_failed(c, stream, &e),
            }
        }
        let fin = out.file.as_ref().is_none_or(|r| r.read == r.file.len());
        match http3.send_body(&mut c.conn, stream, &out.body[out.written..], fin) {
            Ok(n) => out.written += n,
            Err(quiche::h3::Error::Done) => return,
            Err(e) => {
                // The client stopped the stream (STOP_SENDING) or it failed: drop the rest.
                trace::event(Layer::H3, || {
                    format!("{}: stream {stream}: body stopped: {e}", c.id)
                });
                c.outgoing.remove(&stream);
                return;
            }
        }
    }
    if total > 0 {
        trace::sent(Layer::H3, || {
            format!("{}: DATA stream={stream} {total} bytes in all (FIN)", c.id)
        });
    }
    c.outgoing.remove(&stream);
}

/// A file body that could not be read to its end: Content-Length is out already, so the
/// stream can only be reset.
fn file_failed(c: &mut Client, stream: u64, e: &std::io::Error) {
    trace::event(Layer::H3, || {
        format!(
            "{}: stream {stream}: reading the file failed: {e}: stream reset",
            c.id
        )
    });
    let _ = c
        .conn
        .stream_shutdown(stream, quiche::Shutdown::Write, codes::H3_INTERNAL_ERROR);
    c.outgoing.remove(&stream);
}

/// The next chunk of a file body into `out.body`: `false` when there is none (a body in
/// memory, or the whole file read); an error when the file ends before its announced length.
fn next_chunk(out: &mut Outgoing) -> std::io::Result<bool> {
    let Some(reading) = &mut out.file else {
        return Ok(false);
    };
    let left = reading.file.len() - reading.read;
    if left == 0 {
        return Ok(false);
    }
    out.body.resize(left.min(CHUNK as u64) as usize, 0);
    let n = reading.file.read_at(&mut out.body, reading.read)?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the file is shorter than announced",
        ));
    }
    out.body.truncate(n);
    out.written = 0;
    reading.read += n as u64;
    Ok(true)
}

/// A queued response's HEADERS, unless already sent: `true` when its body may follow.
fn push_fields(c: &mut Client, http3: &mut quiche::h3::Connection, stream: u64) -> bool {
    let Some(out) = c.outgoing.get_mut(&stream) else {
        return false;
    };
    let Some(fields) = &out.fields else {
        return true;
    };
    let fin = out.body.is_empty() && out.file.is_none();
    match http3.send_response_with_priority(&mut c.conn, stream, fields, &out.priority, fin) {
        Ok(()) => {
            trace::sent(Layer::H3, || {
                format!(
                    "{}: HEADERS stream={stream} {}{}",
                    c.id,
                    h3::describe(fields),
                    if fin { " (FIN)" } else { "" }
                )
            });
            out.fields = None;
            true
        }
        // Not enough credit for the fields yet: the next turn tries again.
        Err(quiche::h3::Error::StreamBlocked) | Err(quiche::h3::Error::Done) => false,
        Err(e) => {
            trace::event(Layer::H3, || {
                format!("{}: stream {stream}: cannot respond: {e}", c.id)
            });
            c.outgoing.remove(&stream);
            false
        }
    }
}

/// How a connection ended, with its statistics.
pub(super) fn closed(c: &Client) -> String {
    let why = if c.conn.is_timed_out() {
        "idle timeout".to_string()
    } else if let Some(e) = c.conn.peer_error() {
        format!(
            "closed by the client: {}",
            codes::describe_close(e.is_app, e.error_code, &e.reason)
        )
    } else if let Some(e) = c.conn.local_error() {
        format!(
            "closed by us: {}",
            codes::describe_close(e.is_app, e.error_code, &e.reason)
        )
    } else {
        "closed".to_string()
    };
    format!(
        "{}: {why}; {} request(s); {}",
        c.id,
        c.requests,
        udp::stats(&c.conn)
    )
}

/// 6a: HTTP/3 on a connection whose handshake is done (or in 0-RTT); `false` when the
/// connection cannot go on (not up yet, or HTTP/3 failed and the connection is closing).
pub(super) fn open_http3(c: &mut Client, config: &quiche::h3::Config) -> bool {
    if c.http3.is_some() {
        return true;
    }
    if !(c.conn.is_established() || c.conn.is_in_early_data()) {
        return false;
    }
    match quiche::h3::Connection::with_transport(&mut c.conn, config) {
        Ok(h) => {
            trace::event(Layer::H3, || {
                format!(
                    "{}: HTTP/3 ready (control stream, QPACK encoder and decoder streams, SETTINGS sent)",
                    c.id
                )
            });
            c.http3 = Some(h);
            true
        }
        Err(e) => {
            trace::event(Layer::H3, || format!("{}: HTTP/3 set-up failed: {e}", c.id));
            let _ = c.conn.close(
                true,
                codes::H3_GENERAL_PROTOCOL_ERROR,
                b"HTTP/3 set-up failed",
            );
            false
        }
    }
}

/// 6b: every HTTP/3 event of one connection until `Done`; the requests now complete.
pub(super) fn events(
    c: &mut Client,
    http3: &mut quiche::h3::Connection,
    max_body: usize,
    policy: Policy,
) -> Vec<(u64, Request)> {
    let mut ready = Vec::new();
    loop {
        match http3.poll(&mut c.conn) {
            Ok((stream, quiche::h3::Event::Headers { list, more_frames })) => {
                let done = request_fields(c, http3, stream, &list, more_frames, policy);
                ready.extend(done.map(|r| (stream, r)));
            }
            Ok((stream, quiche::h3::Event::Data)) => read_body(c, http3, stream, max_body),
            Ok((stream, quiche::h3::Event::Finished)) => {
                ready.extend(request_finished(c, stream).map(|r| (stream, r)));
            }
            Ok((stream, quiche::h3::Event::Reset(code))) => request_reset(c, stream, code),
            Ok((_, quiche::h3::Event::PriorityUpdate)) => {}
            Ok((id, quiche::h3::Event::GoAway)) => {
                trace::received(Layer::H3, || format!("{}: GOAWAY id={id}", c.id));
            }
            Err(quiche::h3::Error::Done) => break,
            Err(e) => {
                // quiche has closed the connection with the matching H3 error code.
                trace::event(Layer::H3, || format!("{}: HTTP/3 error: {e}", c.id));
                break;
            }
        }
    }
    ready
}

/// A request's fields (or its trailers): the request, when no body follows.
fn request_fields(
    c: &mut Client,
    http3: &mut quiche::h3::Connection,
    stream: u64,
    list: &[quiche::h3::Header],
    more_frames: bool,
    policy: Policy,
) -> Option<Request> {
    trace::received(Layer::H3, || {
        format!("{}: HEADERS stream={stream} {}", c.id, h3::describe(list))
    });
    // A second HEADERS on a request stream is its trailer section (RFC 9114 §4.1).
    if let Some(incoming) = c.incoming.get_mut(&stream) {
        for f in list {
            incoming.request.trailers.append_latin1(f.name(), f.value());
        }
        return None;
    }
    let request = match h3::request(list) {
        Ok(request) => request,
        Err(e) => {
            trace::event(Layer::H3, || {
                format!("{}: stream {stream}: malformed request: {e}", c.id)
            });
            let resp = Response::text(400, &format!("malformed HTTP/3 request: {e}"));
            queue(c, http3, stream, "GET", resp);
            return None;
        }
    };
    c.requests += 1;
    let refused = too_early(c, http3, stream, &request, policy);
    if !more_frames {
        return (!refused).then_some(request);
    }
    // A refused request's body is read and dropped (as for 413).
    let incoming = Incoming { request, refused };
    c.incoming.insert(stream, incoming);
    None
}

/// A request whose fields were read from 0-RTT (the handshake not yet complete, so anyone
/// who recorded the client's first flight could have sent it): `policy` decides; `true`
/// when it was answered 425 and must not reach the handler (RFC 8470 §5.2).
fn too_early(
    c: &mut Client,
    http3: &mut quiche::h3::Connection,
    stream: u64,
    request: &Request,
    policy: Policy,
) -> bool {
    if !c.conn.is_in_early_data() {
        return false;
    }
    let decision = policy(&request.method, &request.target, &request.headers);
    trace::event(Layer::H3, || {
        format!(
            "{}: stream {stream}: {} {} read from 0-RTT: {}",
            c.id,
            request.method,
            request.target,
            decision.describe()
        )
    });
    if decision == Early::Answer {
        return false;
    }
    let resp = Response::text(
        425,
        "sent in 0-RTT early data, which can be replayed: send it again after the handshake",
    );
    queue(c, http3, stream, &request.method, resp);
    true
}

/// The end of a request stream: the request, unless its body was refused (413 is queued).
fn request_finished(c: &mut Client, stream: u64) -> Option<Request> {
    let incoming = c.incoming.remove(&stream)?;
    c.buffered = c.buffered.saturating_sub(incoming.request.body.len());
    trace::received(Layer::H3, || {
        format!(
            "{}: stream {stream} finished: request body {} bytes",
            c.id,
            incoming.request.body.len()
        )
    });
    (!incoming.refused).then_some(incoming.request)
}

/// The client reset a request stream: forget what it had sent and what we meant to answer.
fn request_reset(c: &mut Client, stream: u64, code: u64) {
    trace::received(Layer::H3, || {
        format!(
            "{}: stream {stream} reset by the client: {}",
            c.id,
            codes::application(code)
        )
    });
    if let Some(gone) = c.incoming.remove(&stream) {
        c.buffered = c.buffered.saturating_sub(gone.request.body.len());
    }
    c.outgoing.remove(&stream);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_in_chunks_that_shrinks_or_is_replaced_midway_is_an_error() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("netlab-h3-chunks-{}", std::process::id()));
        let data: Vec<u8> = (0..CHUNK * 2 + 5).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let outgoing = || Outgoing {
            fields: None,
            priority: quiche::h3::Priority::default(),
            body: Vec::new(),
            written: 0,
            file: Some(Reading {
                file: FileBody::open(&path).unwrap(),
                read: 0,
            }),
        };
        // Whole: three chunks, the bytes in order, then none.
        let mut out = outgoing();
        let mut got = Vec::new();
        while next_chunk(&mut out).unwrap() {
            got.extend_from_slice(&out.body);
        }
        assert!(got == data);
        // Shrunk after the first chunk: the next read ends early, an error (a stream reset
        // for the loop, never a short body with FIN).
        let mut out = outgoing();
        assert!(next_chunk(&mut out).unwrap());
        std::fs::write(&path, &data[..CHUNK]).unwrap();
        let e = next_chunk(&mut out).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        // Replaced by another file of the same length: an error too.
        std::fs::write(&path, &data).unwrap();
        let mut out = outgoing();
        assert!(next_chunk(&mut out).unwrap());
        let other = dir.join(format!("netlab-h3-chunks-other-{}", std::process::id()));
        std::fs::write(&other, &data).unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(next_chunk(&mut out).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
