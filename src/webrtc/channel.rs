//! Data channels on an SCTP association (RFC 8831 §6): each channel is one SCTP stream id
//! used both ways, opened by DCEP ([`super::dcep`], RFC 8832 §6), carrying user messages
//! whose PPID says text or binary (RFC 8831 §6.6, §8), and closed by resetting its stream
//! (RFC 8831 §6.7). [`Channels`] is what the association loop ([`super::sctp`]) calls for
//! all of that: a command from the application, a stream with messages to read, a stream
//! the peer reset.

use super::dcep::{self, ChannelType, Open, Reliability};
use super::session::{Channel, ChannelCmd, Event, Message, PeerError, SctpFailure};
use crate::trace::{self, Layer};
use bytes::Bytes;
use sctp_proto::{Association, PayloadProtocolIdentifier as Ppi, ReliabilityType};
use std::collections::{BTreeSet, HashMap};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

/// Our stream ids free again after a reset, shared with the peer that picks the next id
/// (RFC 8831 §6.7: "the stream identifier can be reused").
pub type FreeIds = Arc<Mutex<BTreeSet<u16>>>;

struct ChannelState {
    channel: Channel,
    /// We sent DATA_CHANNEL_OPEN and wait for the ACK (RFC 8832 §6).
    awaiting_ack: bool,
}

/// The channels of one association, by stream id.
pub(super) struct Channels<'a> {
    open: HashMap<u16, ChannelState>,
    events: &'a Sender<Event>,
    /// RFC 8832 §6: the DTLS role decides which stream ids are ours.
    dtls_client: bool,
    /// Lab 10: what answers a DATA_CHANNEL_OPEN.
    on_open: dcep::OnOpen,
    free_ids: FreeIds,
}

impl<'a> Channels<'a> {
    pub(super) fn new(
        events: &'a Sender<Event>,
        dtls_client: bool,
        on_open: dcep::OnOpen,
        free_ids: FreeIds,
    ) -> Self {
        Channels {
            open: HashMap::new(),
            events,
            dtls_client,
            on_open,
            free_ids,
        }
    }

    /// Bytes queued on every channel and not yet acknowledged (SHUTDOWN waits for none).
    pub(super) fn buffered(&self, a: &mut Association) -> usize {
        self.open
            .keys()
            .filter_map(|id| a.stream(*id).ok().and_then(|s| s.buffered_amount().ok()))
            .sum()
    }

    /// A command from the application, on an established association.
    pub(super) fn command(
        &mut self,
        a: &mut Association,
        cmd: ChannelCmd,
    ) -> Result<(), PeerError> {
        match cmd {
            ChannelCmd::Open { id, open } => self.open_channel(a, id, open)?,
            ChannelCmd::Send { id, message } => {
                let (ppi, data) = payload(message);
                let result = a.stream(id).and_then(|mut s| s.write_sctp(&data, ppi));
                if let Err(e) = result {
                    let _ = self
                        .events
                        .send(Event::Error(format!("stream {id}: cannot send: {e}")));
                }
            }
            ChannelCmd::Close(id) => {
                if let Ok(mut s) = a.stream(id) {
                    trace::event(Layer::Sctp, || {
                        format!("RE-CONFIG: resetting stream {id} (closing its channel)")
                    });
                    let _ = s.close();
                }
                if let Some(c) = self.open.remove(&id) {
                    trace::event(Layer::Dcep, || {
                        format!("channel {:?} on stream {id}: closed by us", c.channel.label)
                    });
                    let _ = self.events.send(Event::Closed(id));
                }
            }
        }
        Ok(())
    }

    /// RFC 8832 §6: a new stream, DATA_CHANNEL_OPEN as its first message; the channel is
    /// open when the ACK comes back.
    fn open_channel(&mut self, a: &mut Association, id: u16, open: Open) -> Result<(), PeerError> {
        let (rel, val) = reliability(open.channel_type);
        let mut s = a.open_stream(id, Ppi::Dcep).map_err(|e| {
            PeerError::Sctp(SctpFailure::Stream {
                id,
                why: format!("cannot open: {e}"),
            })
        })?;
        let _ = s.set_reliability_params(open.channel_type.unordered, rel, val);
        trace::sent(Layer::Dcep, || describe_open(id, &open));
        let bytes = Bytes::from(dcep::encode_open(&open));
        s.write_sctp(&bytes, Ppi::Dcep).map_err(stream_error(id))?;
        let state = ChannelState {
            channel: Channel::from_open(id, open),
            awaiting_ack: true,
        };
        self.open.insert(id, state);
        Ok(())
    }

    /// The peer reset stream `id` (RFC 8831 §6.7): its channel is closed.
    pub(super) fn finished(&mut self, id: u16) {
        if let Some(c) = self.open.remove(&id) {
            trace::event(Layer::Dcep, || {
                format!(
                    "channel {:?} on stream {id}: closed by the peer (its stream reset)",
                    c.channel.label
                )
            });
            let _ = self.events.send(Event::Closed(id));
        }
    }

    /// RFC 6525 §5.2.2: both directions of stream `id` are reset. One of our ids may carry a
    /// new channel now (the peer's ids are the peer's to reuse).
    pub(super) fn reset_complete(&mut self, id: u16) {
        let ours = id % 2 == dcep::first_stream(self.dtls_client) % 2;
        trace::event(Layer::Sctp, || {
            format!("stream {id}: reset both ways, its id is free again")
        });
        if ours && let Ok(mut free) = self.free_ids.lock() {
            free.insert(id);
        }
    }

    /// The reset of stream `id` did not complete (RFC 6525 §5.2.2: the peer denied it, or
    /// it was never answered): the id stays taken, the rest of the association goes on.
    pub(super) fn reset_failed(&mut self, id: u16, why: &str) {
        trace::event(Layer::Sctp, || format!("stream {id}: reset failed: {why}"));
        let _ = self
            .events
            .send(Event::Error(format!("stream {id}: reset failed: {why}")));
    }

    /// Every complete message of stream `id`: DCEP, or a user message of an open channel.
    /// `true` when a DCEP message was handled (its reply, or a reset, waits to be sent).
    pub(super) fn read_stream(&mut self, a: &mut Association, id: u16) -> Result<bool, PeerError> {
        let mut wrote = false;
        while let Some((ppi, buf)) = next_message(a, id) {
            match ppi {
                Ppi::Dcep => {
                    wrote = true;
                    self.dcep_message(a, id, &buf)?;
                }
                Ppi::String | Ppi::Binary | Ppi::StringEmpty | Ppi::BinaryEmpty => {
                    self.user_message(id, ppi, buf)
                }
                other => trace::event(Layer::Sctp, || {
                    format!("stream {id}: PPID {other} is not a data channel's, dropped")
                }),
            }
        }
        Ok(wrote)
    }

    /// A user message (RFC 8831 §6.6), for the application.
    fn user_message(&self, id: u16, ppi: Ppi, buf: Vec<u8>) {
        // RFC 8832 §6: the opener may send before the ACK arrives, so any known channel.
        if !self.open.contains_key(&id) {
            trace::event(Layer::Dcep, || {
                format!("stream {id}: a message on no open channel, dropped")
            });
            return;
        }
        let message = match ppi {
            Ppi::String => Message::Text(String::from_utf8_lossy(&buf).into_owned()),
            Ppi::Binary => Message::Binary(buf),
            // The one byte of an empty message is ignored (RFC 8831 §6.6).
            Ppi::StringEmpty => Message::Text(String::new()),
            _ => Message::Binary(Vec::new()),
        };
        let _ = self.events.send(Event::Message(id, message));
    }

    /// A DCEP message (PPID 50): the ACK to our OPEN, or the peer's OPEN.
    fn dcep_message(&mut self, a: &mut Association, id: u16, buf: &[u8]) -> Result<(), PeerError> {
        if buf.first() == Some(&dcep::ACK) {
            trace::received(Layer::Dcep, || format!("DATA_CHANNEL_ACK stream={id}"));
            self.acknowledged(id);
            return Ok(());
        }
        // "The DTLS client MUST use streams with an even stream identifier, the DTLS server
        // MUST use streams with an odd stream identifier" (RFC 8832 §6): an OPEN from the
        // peer comes on the peer's parity, and never on a stream already in use.
        let peers_parity = dcep::first_stream(!self.dtls_client) % 2;
        let why = if self.open.contains_key(&id) {
            "the stream is already in use"
        } else if id % 2 != peers_parity {
            "the peer opened it on our parity (RFC 8832 §6)"
        } else {
            return self.peer_opened(a, id, buf);
        };
        trace::event(Layer::Dcep, || {
            format!("DATA_CHANNEL_OPEN on stream {id} ignored: {why}")
        });
        Ok(())
    }

    /// DATA_CHANNEL_ACK for a channel we opened: it is open now.
    fn acknowledged(&mut self, id: u16) {
        let Some(c) = self.open.get_mut(&id).filter(|c| c.awaiting_ack) else {
            return;
        };
        c.awaiting_ack = false;
        trace::event(Layer::Dcep, || {
            format!("channel {:?} on stream {id}: open", c.channel.label)
        });
        let _ = self.events.send(Event::Open(c.channel.clone()));
    }

    /// The peer's DATA_CHANNEL_OPEN, answered by `on_open` (lab 10): the reply goes back on
    /// the same stream and the channel is open; an error resets the stream (RFC 8832 has no
    /// error message).
    fn peer_opened(&mut self, a: &mut Association, id: u16, buf: &[u8]) -> Result<(), PeerError> {
        let (open, reply) = match (self.on_open)(buf) {
            Ok(answer) => answer,
            Err(e) => {
                trace::received(Layer::Dcep, || {
                    format!("stream {id}: bad DCEP message: {e}; resetting the stream")
                });
                if let Ok(mut s) = a.stream(id) {
                    let _ = s.close();
                }
                let _ = self.events.send(Event::Error(format!("stream {id}: {e}")));
                return Ok(());
            }
        };
        trace::received(Layer::Dcep, || describe_open(id, &open));
        let (rel, val) = reliability(open.channel_type);
        if let Ok(mut s) = a.stream(id) {
            let _ = s.set_reliability_params(open.channel_type.unordered, rel, val);
            if !reply.is_empty() {
                trace::sent(Layer::Dcep, || describe_reply(id, &reply));
                s.write_sctp(&Bytes::from(reply), Ppi::Dcep)
                    .map_err(stream_error(id))?;
            }
        }
        let channel = Channel::from_open(id, open);
        trace::event(Layer::Dcep, || {
            format!("channel {:?} on stream {id}: open", channel.label)
        });
        let state = ChannelState {
            channel: channel.clone(),
            awaiting_ack: false,
        };
        self.open.insert(id, state);
        let _ = self.events.send(Event::Open(channel));
        Ok(())
    }
}

/// The next complete message of stream `id`, with its PPID.
fn next_message(a: &mut Association, id: u16) -> Option<(Ppi, Vec<u8>)> {
    let chunks = a.stream(id).and_then(|mut s| s.read_sctp()).ok()??;
    let mut buf = vec![0u8; chunks.len()];
    let n = chunks.read(&mut buf).unwrap_or(0);
    buf.truncate(n);
    Some((chunks.ppi, buf))
}

/// RFC 8832 §5.1's Channel Type as sctp-proto's reliability settings (RFC 3758).
fn reliability(ct: ChannelType) -> (ReliabilityType, u32) {
    match ct.reliability {
        Reliability::Reliable => (ReliabilityType::Reliable, 0),
        Reliability::Rexmit(n) => (ReliabilityType::Rexmit, n),
        Reliability::Timed(ms) => (ReliabilityType::Timed, ms),
    }
}

/// The one trace text of a DATA_CHANNEL_OPEN, sent or received.
fn describe_open(id: u16, open: &Open) -> String {
    format!(
        "DATA_CHANNEL_OPEN stream={id} label={:?} protocol={:?} type={} priority={}",
        open.label, open.protocol, open.channel_type, open.priority
    )
}

/// What `on_open` replied, for the trace.
fn describe_reply(id: u16, reply: &[u8]) -> String {
    if reply == [dcep::ACK] {
        format!("DATA_CHANNEL_ACK stream={id}")
    } else {
        format!("{} bytes in reply on stream {id}", reply.len())
    }
}

fn stream_error(id: u16) -> impl Fn(sctp_proto::Error) -> PeerError {
    move |e| {
        PeerError::Sctp(SctpFailure::Stream {
            id,
            why: e.to_string(),
        })
    }
}

/// A message as SCTP carries it: its PPID and its bytes.
fn payload(message: Message) -> (Ppi, Bytes) {
    match message {
        // RFC 8831 §6.6: an empty message is one byte with the "empty" PPID.
        Message::Text(t) if t.is_empty() => (Ppi::StringEmpty, Bytes::from_static(&[0])),
        Message::Binary(b) if b.is_empty() => (Ppi::BinaryEmpty, Bytes::from_static(&[0])),
        Message::Text(t) => (Ppi::String, Bytes::from(t.into_bytes())),
        Message::Binary(b) => (Ppi::Binary, Bytes::from(b)),
    }
}
