//! Admission (RFC 9000 §6, §8.1, §14.1): what step 2 of the server's loop
//! (`src/quic/server.rs`) does with a datagram for no known connection. One step after
//! another, each of which may turn it away; the last makes the connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::{CID_LEN, Server};
use crate::quic::config::{self, MAX_DATAGRAM};
use crate::quic::keylog;
use crate::quic::packet::{self, Form, LongType};
use crate::quic::streams::Client;
use crate::quic::udp;
use crate::trace::{self, Layer};

/// The smallest datagram that may carry a client's first Initial (RFC 9000 §14.1; see
/// [`big_enough`]).
const MIN_INITIAL_DATAGRAM: usize = 1200;

impl Server {
    /// A datagram for no known connection: admission, one step after another, each of which
    /// may turn it away (`None`, traced):
    ///
    /// 2a. only an Initial (or a packet of a version we do not speak) may start a connection;
    /// 2b. its datagram is at least 1200 bytes (RFC 9000 §14.1);
    /// 2c. a version we speak, or else Version Negotiation (RFC 9000 §6);
    /// 2d. fewer connections than the cap (`--max-connections`), and fewer handshakes in
    ///     progress from this address than its share ([`crate::quic::handshakes`]);
    /// 2e. address validation: with `--retry`, a first Initial gets a Retry, the second must
    ///     bring back a valid token (RFC 9000 §8.1.2);
    /// 2f. the destination connection ID is one we issued;
    /// 2g. accept: quiche's connection, the key log and qlog, the client's entry.
    pub(super) fn new_connection(
        &mut self,
        header: &packet::Header,
        datagram_len: usize,
        from: SocketAddr,
    ) -> Option<Vec<u8>> {
        // 2a.
        may_start(header)?;
        // 2b.
        big_enough(datagram_len)?;
        // 2c.
        self.version_spoken(header, from)?;
        // 2d.
        self.under_cap()?;
        self.under_share(from)?;
        // 2e.
        let (scid, odcid) = self.validated(header, from)?;
        // 2f.
        issued(&scid)?;
        // 2g.
        self.accept(header, scid, odcid, from)
    }

    /// 2c: a version we do not speak gets Version Negotiation: the versions we speak, then
    /// the client picks.
    fn version_spoken(&self, header: &packet::Header, from: SocketAddr) -> Option<()> {
        if quiche::version_is_supported(header.version) {
            return Some(());
        }
        let scid_in = quiche::ConnectionId::from_ref(&header.scid);
        let dcid_in = quiche::ConnectionId::from_ref(&header.dcid);
        let mut out = [0u8; MAX_DATAGRAM];
        let n = quiche::negotiate_version(&scid_in, &dcid_in, &mut out).ok()?;
        trace::sent(Layer::Quic, || {
            format!(
                "Version Negotiation to {from}: version 0x{:08x} not spoken, offering 0x{:08x}",
                header.version,
                quiche::PROTOCOL_VERSION
            )
        });
        udp::send(&self.socket, &out[..n], from);
        None
    }

    /// 2d: beyond the cap, an Initial is dropped (the client tries again, or gives up).
    fn under_cap(&self) -> Option<()> {
        if self.clients.len() < self.config.max_connections {
            return Some(());
        }
        trace::event(Layer::Quic, || {
            format!(
                "dropped: {} connections already open (--max-connections)",
                self.clients.len()
            )
        });
        None
    }

    /// 2d: this address's share of the handshakes in progress, or its Initial is dropped.
    fn under_share(&self, from: SocketAddr) -> Option<()> {
        let in_progress = self.clients.values().filter(|c| !c.conn.is_established());
        let peers = in_progress.map(|c| c.peer);
        crate::quic::handshakes::admit(from, peers, self.config.max_connections)
            .map_err(|why| {
                trace::event(Layer::Quic, || {
                    format!("dropped Initial from {from}: {why} in handshakes in progress")
                })
            })
            .ok()
    }

    /// 2e: our connection ID, and with `--retry` the original DCID a valid token vouches for.
    fn validated(
        &self,
        header: &packet::Header,
        from: SocketAddr,
    ) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        if !self.config.retry {
            return Some((self.derive_cid(&header.dcid), None));
        }
        let token: &[u8] = match &header.form {
            Form::Long { token, .. } => token,
            _ => &[],
        };
        if token.is_empty() {
            self.retry(header, from);
            return None;
        }
        let odcid = self.token_valid(header, token, from)?;
        Some((header.dcid.clone(), Some(odcid)))
    }

    /// 2e, first Initial: a stateless Retry (RFC 9000 §8.1.2): no state kept, a token that
    /// proves the address, and a new connection ID the client must use.
    fn retry(&self, header: &packet::Header, from: SocketAddr) {
        let scid_in = quiche::ConnectionId::from_ref(&header.scid);
        let dcid_in = quiche::ConnectionId::from_ref(&header.dcid);
        let new_cid = self.derive_cid(&header.dcid);
        let new_scid = quiche::ConnectionId::from_ref(&new_cid);
        let token = self.minter.mint(&from, &header.dcid, unix_now());
        let mut out = [0u8; MAX_DATAGRAM];
        let Ok(n) = quiche::retry(
            &scid_in,
            &dcid_in,
            &new_scid,
            &token,
            header.version,
            &mut out,
        ) else {
            return;
        };
        trace::sent(Layer::Quic, || {
            format!(
                "Retry to {from}: new scid={}, address-validation token {} bytes (HMAC over address, original dcid, time)",
                packet::cid(&new_cid),
                token.len()
            )
        });
        udp::send(&self.socket, &out[..n], from);
    }

    /// 2e, second Initial: its token, checked; the original DCID it was minted for.
    fn token_valid(
        &self,
        header: &packet::Header,
        token: &[u8],
        from: SocketAddr,
    ) -> Option<Vec<u8>> {
        match self.minter.validate(&from, token, unix_now()) {
            // The token must come back to the connection ID the Retry handed out with it
            // (derived from the original DCID), not be replayed toward another.
            Ok(odcid) if header.dcid != self.derive_cid(&odcid) => {
                trace::event(Layer::Quic, || {
                    format!(
                        "dropped Initial from {from}: a valid token sent to dcid={}, not to the one its Retry gave",
                        packet::cid(&header.dcid)
                    )
                });
                None
            }
            Ok(odcid) => {
                trace::event(Layer::Quic, || {
                    format!(
                        "{from}: Retry token valid: address validated, original dcid={}",
                        packet::cid(&odcid)
                    )
                });
                Some(odcid)
            }
            Err(e) => {
                // "If a server receives a client Initial that contains an invalid Retry
                // token ... it MUST discard the packet" or close with INVALID_TOKEN
                // (RFC 9000 §8.1.2): this server discards.
                trace::event(Layer::Quic, || format!("dropped Initial from {from}: {e}"));
                None
            }
        }
    }

    /// 2g: quiche's connection for an admitted Initial, with its key log, qlog and entry.
    fn accept(
        &mut self,
        header: &packet::Header,
        scid: Vec<u8>,
        odcid: Option<Vec<u8>>,
        from: SocketAddr,
    ) -> Option<Vec<u8>> {
        let scid_ref = quiche::ConnectionId::from_ref(&scid);
        let odcid_ref = odcid.as_ref().map(|o| quiche::ConnectionId::from_ref(o));
        let accepted = quiche::accept(
            &scid_ref,
            odcid_ref.as_ref(),
            self.local,
            from,
            &mut self.quic,
        );
        let mut conn = match accepted {
            Ok(c) => c,
            Err(e) => {
                trace::event(Layer::Quic, || format!("could not accept {from}: {e}"));
                return None;
            }
        };
        let id = packet::hex(&scid[..4]);
        let keys = keylog::capture(&mut conn);
        if let Some(dir) = &self.config.transport.qlog_dir {
            let dir: PathBuf = dir.clone();
            if let Some(path) = config::qlog(&mut conn, &dir, "server", &packet::hex(&scid)) {
                trace::event(Layer::Quic, || format!("{id}: qlog → {}", path.display()));
            }
        }
        trace::event(Layer::Quic, || {
            format!(
                "{id}: new connection from {from}, our scid={}, client's scid={}",
                packet::cid(&scid),
                packet::cid(&header.scid)
            )
        });
        self.routes.insert(scid.clone(), scid.clone());
        self.clients.insert(
            scid.clone(),
            Client {
                conn,
                http3: None,
                peer: from,
                id,
                incoming: HashMap::new(),
                outgoing: HashMap::new(),
                started: Instant::now(),
                requests: 0,
                buffered: 0,
                paths: Default::default(),
                keys,
            },
        );
        Some(scid)
    }
}

/// 2a: only an Initial, or a packet of a version we do not speak (2c answers it), may start
/// a connection. A short header for a connection we do not know (it closed, or never was) is
/// dropped: a stateless reset (RFC 9000 §10.3) is not sent by this server.
fn may_start(header: &packet::Header) -> Option<()> {
    let initial = matches!(
        header.form,
        Form::Long {
            ty: LongType::Initial,
            ..
        }
    );
    if initial || matches!(header.form, Form::OtherVersion) {
        return Some(());
    }
    trace::event(Layer::Quic, || {
        format!(
            "dropped: no connection for dcid={}",
            packet::cid(&header.dcid)
        )
    });
    None
}

/// 2b: "A server MUST discard an Initial packet that is carried in a UDP datagram with a
/// payload that is smaller than ... 1200 bytes" (RFC 9000 §14.1).
fn big_enough(datagram_len: usize) -> Option<()> {
    if datagram_len >= MIN_INITIAL_DATAGRAM {
        return Some(());
    }
    trace::event(Layer::Quic, || {
        format!(
            "dropped: a first datagram of {datagram_len} bytes, under the 1200 an Initial needs (RFC 9000 §14.1)"
        )
    });
    None
}

/// 2f: a token-bearing Initial names as its DCID the connection ID our Retry gave; any other
/// length is not one of ours.
fn issued(scid: &[u8]) -> Option<()> {
    if scid.len() == CID_LEN {
        return Some(());
    }
    trace::event(Layer::Quic, || {
        format!(
            "dropped: a token-bearing Initial to a dcid we never issued ({})",
            packet::cid(scid)
        )
    });
    None
}

/// Seconds since 1970: the clock of Retry tokens.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
