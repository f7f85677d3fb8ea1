//! SCTP over DTLS (RFC 8261) carrying data channels (RFC 8831 §6): one association per
//! peer, one SCTP stream per channel, each message one SCTP user message, fragmented into
//! DATA chunks and reassembled by sctp-proto (RFC 9260 §6.9). The first message on a new
//! stream is DCEP ([`super::dcep`]).
//!
//! sctp-proto is sans-IO: it never reads a clock or a socket. [`run`] is the loop that drives
//! it, its steps numbered as they happen each time round:
//!
//! 1. send what SCTP has queued, one DTLS record per SCTP packet;
//! 2. pass events between the endpoint and the association;
//! 3. act on the association's events (established, a stream readable, lost);
//! 4. wait for a record, a command from the application, or SCTP's next timer;
//! 5. feed whichever came to SCTP (or act on the command).

use super::chunk;
use super::dcep::{self, ChannelType, Reliability, ppid};
use super::dtls::{Dtls, Wait};
use super::session::{Channel, Cmd, Event, IceFailure, Message, PeerError, SctpFailure};
use crate::trace::{self, Layer};
use bytes::Bytes;
use sctp_proto::{
    Association, AssociationError, AssociationHandle, ClientConfig, DatagramEvent, Endpoint,
    EndpointConfig, Event as SctpEvent, Payload, PayloadProtocolIdentifier as Ppi, ReliabilityType,
    ServerConfig, StreamEvent, TransportConfig,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedReceiver;

/// RFC 8261 §5 and the DTLS MTU: an SCTP packet must fit one DTLS record in one 1200-byte
/// datagram, less the DTLS record overhead and the IP and UDP headers (str0m's numbers).
pub const MAX_PACKET: u32 = 1200 - 48 - 40;

/// How long a SHUTDOWN we send may take before the loop ends anyway.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_millis(1000);

/// What the loop needs to know from the SDP.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The DTLS client opens the association (RFC 8261 §6.2 leaves it to either; the client
    /// is who Chrome expects) and uses even stream ids (RFC 8832 §6).
    pub dtls_client: bool,
    /// `a=sctp-port` of each side (RFC 8841 §5).
    pub local_port: u16,
    pub remote_port: u16,
    /// Our `a=max-message-size`, and theirs: the largest message we may send (RFC 8841 §6).
    pub max_receive: u32,
    pub max_send: u32,
    /// Lab 10: what answers a DATA_CHANNEL_OPEN.
    pub on_open: dcep::OnOpen,
}

/// sctp-proto wants a socket address for its association; over DTLS there is one peer.
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

struct ChannelState {
    channel: Channel,
    /// We sent DATA_CHANNEL_OPEN and wait for the ACK (RFC 8832 §6).
    awaiting_ack: bool,
}

fn transport(s: &Settings) -> TransportConfig {
    TransportConfig::default()
        .with_max_receive_message_size(s.max_receive)
        .with_max_send_message_size(s.max_send)
        // WebRTC keeps trying as long as DTLS and ICE say the path is there.
        .with_max_init_retransmits(None)
        .with_max_data_retransmits(None)
        .with_local_port(s.local_port)
        .with_remote_port(s.remote_port)
}

/// Sends each packet as one DTLS record; `true` if one was a SHUTDOWN COMPLETE (sctp-proto
/// stays in SHUTDOWN-SENT after sending it, so the loop watches for it itself).
fn send_packets(dtls: &Dtls, packets: Vec<Bytes>) -> Result<bool, PeerError> {
    let mut complete = false;
    for p in packets {
        // RFC 9260 §3.3.13: chunk type 14, the first chunk after the 12-byte common header.
        complete |= p.get(12) == Some(&14);
        if trace::is_on(Layer::Sctp) {
            for line in chunk::describe(&p) {
                trace::sent(Layer::Sctp, || line);
            }
        }
        dtls.send(&p).map_err(PeerError::Dtls)?;
    }
    Ok(complete)
}

fn reliability(ct: ChannelType) -> (ReliabilityType, u32) {
    match ct.reliability {
        Reliability::Reliable => (ReliabilityType::Reliable, 0),
        Reliability::Rexmit(n) => (ReliabilityType::Rexmit, n),
        Reliability::Timed(ms) => (ReliabilityType::Timed, ms),
    }
}

/// Runs the association until it ends. `Ok` when it was closed on purpose (by either side).
pub fn run(
    dtls: &Dtls,
    settings: &Settings,
    cmds: &mut UnboundedReceiver<Cmd>,
    events: &Sender<Event>,
) -> Result<(), PeerError> {
    let mut endpoint_config = EndpointConfig::new();
    endpoint_config.max_payload_size(MAX_PACKET - 12 - 16);
    let mut server_config = ServerConfig::new();
    server_config.transport = Arc::new(transport(settings));
    // Always a ServerConfig: an INIT reaching an endpoint without one panics in sctp-proto,
    // and Chrome and aiortc send INIT even when they are the DTLS server.
    let mut endpoint = Endpoint::new(Arc::new(endpoint_config), Some(Arc::new(server_config)));
    let mut assoc: Option<(AssociationHandle, Association)> = None;
    if settings.dtls_client {
        let mut config = ClientConfig::new();
        config.transport = Arc::new(transport(settings));
        let a = endpoint
            .connect(config, PEER)
            .map_err(|e| PeerError::Sctp(SctpFailure::Start { why: e.to_string() }))?;
        trace::event(Layer::Sctp, || {
            "COOKIE-WAIT: sending INIT (we are the DTLS client)".into()
        });
        assoc = Some(a);
    } else {
        trace::event(Layer::Sctp, || {
            "CLOSED: waiting for the peer's INIT (we are the DTLS server)".into()
        });
    }
    let mut channels: HashMap<u16, ChannelState> = HashMap::new();
    let mut queued: Vec<Cmd> = Vec::new();
    let mut established = false;
    // When we asked for SHUTDOWN: the peer has this long to complete it (it may have vanished).
    let mut closing: Option<Instant> = None;
    let mut shutdown_sent = false;
    loop {
        let now = Instant::now();
        // 1. Send what SCTP has queued: the endpoint's answers (INIT-ACK, COOKIE-ACK for a new
        //    association), then the association's own packets.
        while let Some(t) = endpoint.poll_transmit() {
            if let Payload::RawEncode(packets) = t.payload {
                send_packets(dtls, packets)?;
            }
        }
        if let Some((handle, a)) = assoc.as_mut() {
            let mut complete = false;
            while let Some(t) = a.poll_transmit(now) {
                if let Payload::RawEncode(packets) = t.payload {
                    complete |= send_packets(dtls, packets)?;
                }
            }
            if complete {
                trace::event(Layer::Sctp, || "CLOSED: SHUTDOWN-COMPLETE sent".into());
                return Ok(());
            }
            // 2. Endpoint events go to the endpoint only once the association is closed:
            //    sctp-proto says "drained" as soon as SHUTDOWN starts, and an endpoint told so
            //    no longer routes the SHUTDOWN-ACK that follows.
            while let Some(ev) = a.poll_endpoint_event() {
                if a.is_closed() {
                    if let Some(back) = endpoint.handle_event(*handle, ev) {
                        a.handle_event(back);
                    }
                }
            }
            // 3. The association's events; after any that wrote, round again from 1 to send
            //    it. (Not after every event: each poll_transmit costs sctp-proto a scan of
            //    everything in flight.)
            let mut wrote = false;
            while let Some(ev) = a.poll() {
                match ev {
                    SctpEvent::Connected => {
                        wrote = true;
                        established = true;
                        trace::event(Layer::Sctp, || "ESTABLISHED".into());
                        for cmd in queued.drain(..) {
                            command(a, cmd, &mut channels, events)?;
                        }
                    }
                    SctpEvent::HandshakeFailed { reason } => {
                        return Err(PeerError::Sctp(SctpFailure::Handshake {
                            why: reason.to_string(),
                        }));
                    }
                    SctpEvent::AssociationLost { reason } => {
                        // SHUTDOWN COMPLETE received: sctp-proto closes with this reason.
                        let graceful = matches!(reason, AssociationError::AssociationClosed);
                        trace::event(Layer::Sctp, || {
                            if graceful {
                                "CLOSED: SHUTDOWN-COMPLETE received (or ABORT)".into()
                            } else {
                                format!("CLOSED: {reason}")
                            }
                        });
                        if closing.is_some() || graceful {
                            return Ok(());
                        }
                        return Err(PeerError::Sctp(SctpFailure::Lost {
                            why: reason.to_string(),
                        }));
                    }
                    SctpEvent::Stream(StreamEvent::Opened { .. }) => {
                        while a.accept_stream().is_some() {}
                    }
                    SctpEvent::Stream(StreamEvent::Readable { id }) => {
                        wrote |= read_stream(a, id, settings, &mut channels, events)?;
                    }
                    SctpEvent::Stream(StreamEvent::Finished { id }) => {
                        if let Some(c) = channels.remove(&id) {
                            trace::event(Layer::Dcep, || {
                                format!("channel {:?} on stream {id}: closed", c.channel.label)
                            });
                            let _ = events.send(Event::Closed(id));
                        }
                    }
                    _ => {}
                }
            }
            // A server's association is CLOSED until COOKIE-ECHO (RFC 9260 §5.1): only a
            // shutdown we asked for ends the loop here.
            if closing.is_some() && a.is_closed() {
                trace::event(Layer::Sctp, || "CLOSED: shutdown complete".into());
                return Ok(());
            }
            if wrote {
                continue;
            }
            // SHUTDOWN only once every queued message is acknowledged: sctp-proto sends
            // SHUTDOWN at once when nothing is in flight, even with DATA still queued.
            if closing.is_some() && !shutdown_sent && established {
                let queued_bytes: usize = channels
                    .keys()
                    .filter_map(|id| a.stream(*id).ok().and_then(|s| s.buffered_amount().ok()))
                    .sum();
                if queued_bytes == 0 {
                    trace::event(Layer::Sctp, || {
                        "SHUTDOWN-PENDING: closing the association".into()
                    });
                    let _ = a.shutdown();
                    shutdown_sent = true;
                    continue;
                }
            }
        }
        // 4. Wait for a DTLS record, a command, or SCTP's next timer (RTO, delayed SACK).
        if closing.is_some_and(|t| Instant::now() >= t) {
            trace::event(Layer::Sctp, || "CLOSED: no SHUTDOWN-ACK in time".into());
            return Ok(());
        }
        let deadline = match (assoc.as_ref().and_then(|(_, a)| a.poll_timeout()), closing) {
            (Some(t), Some(c)) => Some(t.min(c)),
            (t, c) => t.or(c),
        };
        let woke = dtls.wait(cmds, deadline);
        // 5. Feed SCTP what came.
        match woke {
            Wait::Records(records) => {
                for record in records {
                    feed(&mut endpoint, &mut assoc, record);
                }
            }
            Wait::Woken(Cmd::Lost(ms)) => {
                return Err(PeerError::Ice(IceFailure::ConsentLost { ms }));
            }
            Wait::Woken(Cmd::Shutdown) => {
                closing = Some(Instant::now() + SHUTDOWN_WAIT);
                if !established {
                    return Ok(());
                }
            }
            Wait::Woken(cmd) => {
                // Commands already queued behind this one go in the same round (an echo of
                // many messages is many commands), up to a bound so records are not starved.
                let mut batch = vec![cmd];
                while batch.len() < 256 {
                    match cmds.try_recv() {
                        Ok(Cmd::Shutdown) => {
                            closing = Some(Instant::now() + SHUTDOWN_WAIT);
                            break;
                        }
                        Ok(Cmd::Lost(ms)) => {
                            return Err(PeerError::Ice(IceFailure::ConsentLost { ms }));
                        }
                        Ok(c) => batch.push(c),
                        Err(_) => break,
                    }
                }
                for cmd in batch {
                    match assoc.as_mut() {
                        Some((_, a)) if established => command(a, cmd, &mut channels, events)?,
                        _ => queued.push(cmd),
                    }
                }
                if closing.is_some() && !established {
                    return Ok(());
                }
            }
            Wait::Timeout => {
                if let Some((_, a)) = assoc.as_mut() {
                    a.handle_timeout(Instant::now());
                }
            }
            Wait::Closed(why) => {
                // close_notify after SCTP's SHUTDOWN (ours or theirs) is the normal end.
                if closing.is_some()
                    || assoc
                        .as_ref()
                        .is_some_and(|(_, a)| a.is_closing() || a.is_closed())
                {
                    trace::event(Layer::Sctp, || "CLOSED: DTLS closed after SHUTDOWN".into());
                    return Ok(());
                }
                return Err(PeerError::Dtls(super::dtls::DtlsError::Closed(why)));
            }
        }
    }
}

/// Step 5 for one record: the endpoint routes it to the association, or makes a new one
/// from an INIT.
fn feed(
    endpoint: &mut Endpoint,
    assoc: &mut Option<(AssociationHandle, Association)>,
    record: Vec<u8>,
) {
    if trace::is_on(Layer::Sctp) {
        for line in chunk::describe(&record) {
            trace::received(Layer::Sctp, || line);
        }
    }
    let now = Instant::now();
    match endpoint.handle(now, PEER, None, None, Bytes::from(record)) {
        Some((h, DatagramEvent::AssociationEvent(ev))) => {
            if let Some((handle, a)) = assoc.as_mut() {
                if *handle == h {
                    a.handle_event(ev);
                }
            }
        }
        Some((h, DatagramEvent::NewAssociation(a))) => {
            if assoc.is_none() {
                trace::event(Layer::Sctp, || "INIT received: a new association".into());
                *assoc = Some((h, a));
            } else {
                // Both sides sent INIT (RFC 9260 §5.2.1); ours goes on, theirs is dropped.
                trace::event(Layer::Sctp, || {
                    "a second INIT (both sides opened): keeping ours".into()
                });
            }
        }
        None => {}
    }
}

/// A command from the application, on an established association.
fn command(
    a: &mut Association,
    cmd: Cmd,
    channels: &mut HashMap<u16, ChannelState>,
    events: &Sender<Event>,
) -> Result<(), PeerError> {
    match cmd {
        Cmd::Open { id, open } => {
            let (rel, val) = reliability(open.channel_type);
            let bytes = dcep::encode_open(&open);
            let mut s = a.open_stream(id, Ppi::Dcep).map_err(|e| {
                PeerError::Sctp(SctpFailure::Stream {
                    id,
                    why: format!("cannot open: {e}"),
                })
            })?;
            let _ = s.set_reliability_params(open.channel_type.unordered, rel, val);
            trace::sent(Layer::Dcep, || {
                format!(
                    "DATA_CHANNEL_OPEN stream={id} label={:?} protocol={:?} type={} priority={}",
                    open.label, open.protocol, open.channel_type, open.priority
                )
            });
            s.write_sctp(&Bytes::from(bytes), Ppi::Dcep).map_err(|e| {
                PeerError::Sctp(SctpFailure::Stream {
                    id,
                    why: e.to_string(),
                })
            })?;
            channels.insert(
                id,
                ChannelState {
                    channel: Channel {
                        id,
                        label: open.label,
                        protocol: open.protocol,
                        channel_type: open.channel_type,
                    },
                    awaiting_ack: true,
                },
            );
        }
        Cmd::Send { id, message } => {
            let (ppi, data) = match &message {
                // RFC 8831 §6.6: an empty message is one byte with the "empty" PPID.
                Message::Text(t) if t.is_empty() => (Ppi::StringEmpty, vec![0]),
                Message::Binary(b) if b.is_empty() => (Ppi::BinaryEmpty, vec![0]),
                Message::Text(t) => (Ppi::String, t.as_bytes().to_vec()),
                Message::Binary(b) => (Ppi::Binary, b.clone()),
            };
            let result = match a.stream(id) {
                Ok(mut s) => s.write_sctp(&Bytes::from(data), ppi).map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                let _ = events.send(Event::Error(format!("stream {id}: cannot send: {e}")));
            }
        }
        Cmd::Close(id) => {
            if let Ok(mut s) = a.stream(id) {
                trace::event(Layer::Sctp, || {
                    format!("RE-CONFIG: resetting stream {id} (closing its channel)")
                });
                let _ = s.close();
            }
            if channels.remove(&id).is_some() {
                let _ = events.send(Event::Closed(id));
            }
        }
        Cmd::Shutdown => {}
        Cmd::Lost(ms) => return Err(PeerError::Ice(IceFailure::ConsentLost { ms })),
    }
    Ok(())
}

/// Reads every complete message of stream `id`: DCEP, or a user message of an open channel.
/// `true` when a DCEP message was handled (its reply, or a reset, waits to be sent).
fn read_stream(
    a: &mut Association,
    id: u16,
    settings: &Settings,
    channels: &mut HashMap<u16, ChannelState>,
    events: &Sender<Event>,
) -> Result<bool, PeerError> {
    let mut wrote = false;
    loop {
        let chunks = match a.stream(id).and_then(|mut s| s.read_sctp()) {
            Ok(Some(c)) => c,
            Ok(None) | Err(_) => return Ok(wrote),
        };
        let mut buf = vec![0u8; chunks.len()];
        let n = chunks.read(&mut buf).unwrap_or(0);
        buf.truncate(n);
        let ppi = chunks.ppi;
        match ppi {
            Ppi::Dcep => {
                wrote = true;
                dcep_message(a, id, &buf, settings, channels, events)?
            }
            Ppi::String | Ppi::Binary | Ppi::StringEmpty | Ppi::BinaryEmpty => {
                // RFC 8832 §6: the opener may send before the ACK arrives, so any known channel.
                if !channels.contains_key(&id) {
                    trace::event(Layer::Dcep, || {
                        format!("stream {id}: a message on no open channel, dropped")
                    });
                    continue;
                }
                let message = match ppi {
                    Ppi::String => Message::Text(String::from_utf8_lossy(&buf).into_owned()),
                    Ppi::Binary => Message::Binary(buf),
                    Ppi::StringEmpty => Message::Text(String::new()),
                    _ => Message::Binary(Vec::new()),
                };
                let _ = events.send(Event::Message(id, message));
            }
            other => {
                trace::event(Layer::Sctp, || {
                    format!("stream {id}: PPID {other} is not a data channel's, dropped")
                });
            }
        }
    }
}

fn dcep_message(
    a: &mut Association,
    id: u16,
    buf: &[u8],
    settings: &Settings,
    channels: &mut HashMap<u16, ChannelState>,
    events: &Sender<Event>,
) -> Result<(), PeerError> {
    if buf.first() == Some(&dcep::ACK) {
        trace::received(Layer::Dcep, || format!("DATA_CHANNEL_ACK stream={id}"));
        if let Some(c) = channels.get_mut(&id) {
            if c.awaiting_ack {
                c.awaiting_ack = false;
                trace::event(Layer::Dcep, || {
                    format!("channel {:?} on stream {id}: open", c.channel.label)
                });
                let _ = events.send(Event::Open(c.channel.clone()));
            }
        }
        return Ok(());
    }
    // "The DTLS client MUST use streams with an even stream identifier, the DTLS server
    // MUST use streams with an odd stream identifier" (RFC 8832 §6): an OPEN from the peer
    // comes on the peer's parity, and never on a stream already in use.
    let peers_parity = dcep::first_stream(!settings.dtls_client);
    if id % 2 != peers_parity % 2 || channels.contains_key(&id) {
        trace::event(Layer::Dcep, || {
            let why = if channels.contains_key(&id) {
                "the stream is already in use"
            } else {
                "the peer opened it on our parity (RFC 8832 §6)"
            };
            format!("DATA_CHANNEL_OPEN on stream {id} ignored: {why}")
        });
        return Ok(());
    }
    match (settings.on_open)(buf) {
        Ok((open, reply)) => {
            trace::received(Layer::Dcep, || {
                format!(
                    "DATA_CHANNEL_OPEN stream={id} label={:?} protocol={:?} type={} priority={}",
                    open.label, open.protocol, open.channel_type, open.priority
                )
            });
            let (rel, val) = reliability(open.channel_type);
            if let Ok(mut s) = a.stream(id) {
                let _ = s.set_reliability_params(open.channel_type.unordered, rel, val);
                if !reply.is_empty() {
                    trace::sent(Layer::Dcep, || {
                        if reply == [dcep::ACK] {
                            format!("DATA_CHANNEL_ACK stream={id}")
                        } else {
                            format!("{} bytes in reply on stream {id}", reply.len())
                        }
                    });
                    s.write_sctp(&Bytes::from(reply), Ppi::Dcep).map_err(|e| {
                        PeerError::Sctp(SctpFailure::Stream {
                            id,
                            why: e.to_string(),
                        })
                    })?;
                }
            }
            let channel = Channel {
                id,
                label: open.label,
                protocol: open.protocol,
                channel_type: open.channel_type,
            };
            trace::event(Layer::Dcep, || {
                format!("channel {:?} on stream {id}: open", channel.label)
            });
            channels.insert(
                id,
                ChannelState {
                    channel: channel.clone(),
                    awaiting_ack: false,
                },
            );
            let _ = events.send(Event::Open(channel));
        }
        Err(e) => {
            // RFC 8832 has no error message: the stream is reset, which closes the channel.
            trace::received(Layer::Dcep, || {
                format!("stream {id}: bad DCEP message: {e}; resetting the stream")
            });
            if let Ok(mut s) = a.stream(id) {
                let _ = s.close();
            }
            let _ = events.send(Event::Error(format!("stream {id}: {e}")));
        }
    }
    Ok(())
}

/// The SCTP user-message PPID as a number, for tests that look at the wire.
pub fn ppid_of(m: &Message) -> u32 {
    match m {
        Message::Text(t) if t.is_empty() => ppid::STRING_EMPTY,
        Message::Binary(b) if b.is_empty() => ppid::BINARY_EMPTY,
        Message::Text(_) => ppid::STRING,
        Message::Binary(_) => ppid::BINARY,
    }
}
