//! `--session FILE`: the client's memory of a server, between runs. After a handshake quiche
//! hands over the session (`Connection::session()`: BoringSSL's serialized session with the
//! server's ticket, then the server's transport parameters, each behind a length); on the
//! next visit `Connection::set_session` offers the ticket (resumption, RFC 8446 §2.2) and
//! restores the transport parameters, which 0-RTT needs: flow-control limits for the early
//! requests come from the last visit (RFC 9000 §7.4.1).
//!
//! A missing, unreadable or corrupt file is no error: the client traces why and makes a full
//! handshake. A ticket the server no longer accepts is found out by the server (full
//! handshake, early data rejected); quiche then sends the rejected requests again in 1-RTT.

use std::path::Path;

use crate::trace::{self, Layer};

/// The stored session, if there is one to offer.
pub(super) fn load(path: &Path, id: &str) -> Option<Vec<u8>> {
    let shown = path.display();
    match std::fs::read(path) {
        Ok(bytes) if !bytes.is_empty() => Some(bytes),
        Ok(_) => {
            trace::event(Layer::Quic, || {
                format!("{id}: session file {shown} is empty: full handshake")
            });
            None
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            trace::event(Layer::Quic, || {
                format!(
                    "{id}: no session in {shown} yet: full handshake (the session is stored after it)"
                )
            });
            None
        }
        Err(e) => {
            trace::event(Layer::Quic, || {
                format!("{id}: cannot read session file {shown}: {e}: full handshake")
            });
            None
        }
    }
}

/// Replaces the file with `bytes` atomically (a temporary file renamed over it): a reader,
/// or a run that stops half-way, sees the old session or the new one, never half of one.
pub(super) fn store(path: &Path, bytes: &[u8], id: &str) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    let shown = path.display();
    match written {
        Ok(()) => trace::event(Layer::Quic, || {
            format!(
                "{id}: session stored in {shown} ({} bytes: ticket and transport parameters)",
                bytes.len()
            )
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            trace::event(Layer::Quic, || {
                format!("{id}: cannot store the session in {shown}: {e}")
            });
        }
    }
}
