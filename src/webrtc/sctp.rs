//! SCTP over DTLS (RFC 8261) carrying data channels (RFC 8831 §6): one association per
//! peer, one SCTP stream per channel, each message one SCTP user message, fragmented into
//! DATA chunks and reassembled by sctp-proto (RFC 9260 §6.9). The first message on a new
//! stream is DCEP ([`super::dcep`]).
//!
//! sctp-proto is sans-IO: it never reads a clock or a socket. [`run`] is the loop that drives
//! it: `Association::start` makes the endpoint (and, as the DTLS client, sends INIT), then
//! each time round, one method per step:
//!
//! 1. `Association::send_queued`: send what SCTP has queued, one DTLS record per SCTP
//!    packet;
//! 2. `Association::route_endpoint_events`: pass events from the association to the
//!    endpoint;
//! 3. `Association::handle_events`: act on the association's events (established, a stream
//!    readable or finished, lost); round again to 1 when one of them wrote;
//! 4. `Association::shutdown_when_drained`: once the application asked to close and
//!    everything queued is acknowledged, SHUTDOWN (round again to send it);
//! 5. `Association::wait`: wait for a DTLS record, a command, or SCTP's next timer;
//! 6. `Association::act`: feed the records to SCTP, carry out the commands, or tell SCTP
//!    its timer fired.
//!
//! The loop runs on the peer's association thread; the commands arrive through
//! [`super::dtls::WakeReceiver`], the one queue [`Dtls::wait`] can watch next to a record.

use super::channel::{Channels, FreeIds};
use super::chunk;
use super::dcep;
use super::dtls::{Dtls, DtlsError, Wait, WakeReceiver};
use super::session::{ChannelCmd, Cmd, Event, IceFailure, PeerError, SctpFailure};
use crate::trace::{self, Layer};
use bytes::Bytes;
use sctp_proto::{
    Association as SctpAssociation, AssociationError, AssociationHandle, ClientConfig,
    DatagramEvent, Endpoint, EndpointConfig, Event as SctpEvent, Payload, ServerConfig,
    StreamEvent, TransportConfig,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// The datagram a DTLS record travels in on a WebRTC path (RFC 8831 §5's advice; str0m's
/// number).
const DATAGRAM: u32 = 1200;
/// DTLS 1.2 record overhead with AES-GCM: header 13, explicit nonce 8, tag 16, and room to
/// spare (str0m's number).
const DTLS_OVERHEAD: u32 = 48;
/// IPv6 (40) is the larger of the IP headers; UDP's 8 fit in the spare of the line above.
const IP_HEADER: u32 = 40;
/// RFC 8261 §5: an SCTP packet must fit one DTLS record in one datagram.
pub const MAX_PACKET: u32 = DATAGRAM - DTLS_OVERHEAD - IP_HEADER;
/// RFC 9260 §3.1: the common header (ports, verification tag, checksum).
const COMMON_HEADER: usize = 12;
/// RFC 9260 §3.3.1: a DATA chunk's own header before the user data.
const DATA_CHUNK_HEADER: u32 = 16;
/// The user data one DATA chunk carries in a packet of [`MAX_PACKET`] bytes: a larger
/// message is fragmented (RFC 9260 §6.9).
pub const CHUNK_DATA: u32 = MAX_PACKET - COMMON_HEADER as u32 - DATA_CHUNK_HEADER;
/// RFC 9260 §3.3.13: the chunk type of SHUTDOWN COMPLETE.
const SHUTDOWN_COMPLETE: u8 = 14;

/// `a=sctp-port` (RFC 8841 §5): every WebRTC stack uses 5000, and so does netlab.
pub const PORT: u16 = 5000;

/// How long a SHUTDOWN we send may take before the loop ends anyway.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(1000);

/// The most commands carried out in one round: an echo of many messages is many commands,
/// and records must not starve behind them.
const COMMAND_BATCH: usize = 256;

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
    /// Our stream ids whose reset completed: [`super::peer::Peer::open`] takes the lowest.
    pub free_ids: FreeIds,
}

/// sctp-proto wants a socket address for its association; over DTLS there is one peer.
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), PORT);

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

/// What a step tells the loop.
#[derive(PartialEq, Eq)]
enum Next {
    /// Go on to the next step.
    Go,
    /// Something was written: round again from step 1 to send it.
    Again,
    /// The association is over, on purpose.
    Done,
}

/// Runs the association until it ends. `Ok` when it was closed on purpose (by either side).
pub fn run(
    dtls: &Dtls,
    settings: &Settings,
    cmds: &mut WakeReceiver<Cmd>,
    events: &Sender<Event>,
) -> Result<(), PeerError> {
    let mut a = Association::start(dtls, settings, events)?;
    loop {
        let now = Instant::now();
        // 1. Send what SCTP has queued.
        if a.send_queued(now)? == Next::Done {
            return Ok(());
        }
        // 2. Events from the association to the endpoint.
        a.route_endpoint_events();
        // 3. The association's events.
        match a.handle_events()? {
            Next::Done => return Ok(()),
            Next::Again => continue,
            Next::Go => {}
        }
        // 4. SHUTDOWN, once asked for and drained.
        if a.shutdown_when_drained() {
            continue;
        }
        // 5. Wait for a record, a command or the timer.
        let Some(woke) = a.wait(cmds) else {
            return Ok(());
        };
        // 6. Act on what came.
        if a.act(woke, cmds)? == Next::Done {
            return Ok(());
        }
    }
}

/// Everything the loop keeps between rounds.
struct Association<'a> {
    dtls: &'a Dtls,
    endpoint: Endpoint,
    /// None until INIT is sent (DTLS client) or received (DTLS server).
    assoc: Option<(AssociationHandle, SctpAssociation)>,
    /// The data channels on its streams.
    channels: Channels<'a>,
    /// Channel commands that came before the association was established.
    queued: Vec<ChannelCmd>,
    established: bool,
    /// When we asked for SHUTDOWN: the peer has until then to complete it (it may have
    /// vanished).
    closing: Option<Instant>,
    shutdown_sent: bool,
    /// The trace of SCTP packets, fragmented messages folded.
    fold: chunk::Fold,
}

impl<'a> Association<'a> {
    /// Before the loop: the endpoint, and as the DTLS client the association (INIT queued).
    fn start(
        dtls: &'a Dtls,
        settings: &'a Settings,
        events: &'a Sender<Event>,
    ) -> Result<Association<'a>, PeerError> {
        let mut endpoint_config = EndpointConfig::new();
        endpoint_config.max_payload_size(CHUNK_DATA);
        let mut server_config = ServerConfig::new();
        server_config.transport = Arc::new(transport(settings));
        // Always a ServerConfig: an INIT reaching an endpoint without one panics in
        // sctp-proto, and Chrome and aiortc send INIT even when they are the DTLS server.
        let mut endpoint = Endpoint::new(Arc::new(endpoint_config), Some(Arc::new(server_config)));
        let assoc = if settings.dtls_client {
            let mut config = ClientConfig::new();
            config.transport = Arc::new(transport(settings));
            let a = endpoint
                .connect(config, PEER)
                .map_err(|e| PeerError::Sctp(SctpFailure::Start { why: e.to_string() }))?;
            trace::event(Layer::Sctp, || {
                "COOKIE-WAIT: sending INIT (we are the DTLS client)".into()
            });
            Some(a)
        } else {
            trace::event(Layer::Sctp, || {
                "CLOSED: waiting for the peer's INIT (we are the DTLS server)".into()
            });
            None
        };
        Ok(Association {
            dtls,
            endpoint,
            assoc,
            channels: Channels::new(
                events,
                settings.dtls_client,
                settings.on_open,
                settings.free_ids.clone(),
            ),
            queued: Vec::new(),
            established: false,
            closing: None,
            shutdown_sent: false,
            fold: chunk::Fold::default(),
        })
    }

    /// Step 1: the endpoint's packets (INIT-ACK, COOKIE-ACK for a new association), then the
    /// association's own, all handed to DTLS at once (one pass through its runtime, one
    /// system call: see [`Dtls::send`]). `Done` after sending SHUTDOWN COMPLETE.
    fn send_queued(&mut self, now: Instant) -> Result<Next, PeerError> {
        let mut packets = Vec::new();
        while let Some(t) = self.endpoint.poll_transmit() {
            if let Payload::RawEncode(p) = t.payload {
                packets.extend(p);
            }
        }
        if let Some((_, a)) = self.assoc.as_mut() {
            while let Some(t) = a.poll_transmit(now) {
                if let Payload::RawEncode(p) = t.payload {
                    packets.extend(p);
                }
            }
        }
        if packets.is_empty() {
            return Ok(Next::Go);
        }
        if send_packets(self.dtls, &mut self.fold, &packets)? {
            trace::event(Layer::Sctp, || "CLOSED: SHUTDOWN-COMPLETE sent".into());
            return Ok(Next::Done);
        }
        Ok(Next::Go)
    }

    /// Step 2. Endpoint events go to the endpoint only once the association is closed:
    /// sctp-proto says "drained" as soon as SHUTDOWN starts, and an endpoint told so no
    /// longer routes the SHUTDOWN-ACK that follows.
    fn route_endpoint_events(&mut self) {
        let Some((handle, a)) = self.assoc.as_mut() else {
            return;
        };
        while let Some(ev) = a.poll_endpoint_event() {
            if !a.is_closed() {
                continue;
            }
            if let Some(back) = self.endpoint.handle_event(*handle, ev) {
                a.handle_event(back);
            }
        }
    }

    /// Step 3: every event the association has. `Again` after any that wrote (not after
    /// every event: each poll_transmit costs sctp-proto a scan of everything in flight).
    fn handle_events(&mut self) -> Result<Next, PeerError> {
        let mut next = Next::Go;
        while let Some(ev) = self.assoc.as_mut().and_then(|(_, a)| a.poll()) {
            match self.on_event(ev)? {
                Next::Done => return Ok(Next::Done),
                Next::Again => next = Next::Again,
                Next::Go => {}
            }
        }
        // A server's association is CLOSED until COOKIE-ECHO (RFC 9260 §5.1): only a
        // shutdown we asked for ends the loop here.
        let closed = self.assoc.as_ref().is_some_and(|(_, a)| a.is_closed());
        if self.closing.is_some() && closed {
            trace::event(Layer::Sctp, || "CLOSED: shutdown complete".into());
            return Ok(Next::Done);
        }
        Ok(next)
    }

    /// Step 3 for one event.
    fn on_event(&mut self, ev: SctpEvent) -> Result<Next, PeerError> {
        match ev {
            SctpEvent::Connected => {
                self.established = true;
                trace::event(Layer::Sctp, || "ESTABLISHED".into());
                for cmd in std::mem::take(&mut self.queued) {
                    self.channel_command(cmd)?;
                }
                Ok(Next::Again)
            }
            SctpEvent::HandshakeFailed { reason } => Err(PeerError::Sctp(SctpFailure::Handshake {
                why: reason.to_string(),
            })),
            SctpEvent::AssociationLost { reason } => self.lost(reason),
            SctpEvent::Stream(StreamEvent::Opened { .. }) => {
                if let Some((_, a)) = self.assoc.as_mut() {
                    while a.accept_stream().is_some() {}
                }
                Ok(Next::Go)
            }
            SctpEvent::Stream(StreamEvent::Readable { id }) => {
                let Some((_, a)) = self.assoc.as_mut() else {
                    return Ok(Next::Go);
                };
                // A DCEP message was answered (or its stream reset): round again to send it.
                let wrote = self.channels.read_stream(a, id)?;
                Ok(if wrote { Next::Again } else { Next::Go })
            }
            SctpEvent::Stream(StreamEvent::Finished { id }) => {
                self.channels.finished(id);
                Ok(Next::Go)
            }
            // RFC 6525 §5.2.2: both directions of the stream are reset; a new channel may
            // take its id (RFC 8831 §6.7).
            SctpEvent::Stream(StreamEvent::ResetComplete { id }) => {
                self.channels.reset_complete(id);
                Ok(Next::Go)
            }
            SctpEvent::Stream(StreamEvent::ResetFailed { id, reason }) => {
                self.channels.reset_failed(id, &format!("{reason:?}"));
                Ok(Next::Go)
            }
            _ => Ok(Next::Go),
        }
    }

    /// The association ended: on purpose when SHUTDOWN COMPLETE came (sctp-proto closes with
    /// AssociationClosed) or we were closing; lost otherwise.
    fn lost(&self, reason: AssociationError) -> Result<Next, PeerError> {
        let graceful = matches!(reason, AssociationError::AssociationClosed);
        trace::event(Layer::Sctp, || {
            if graceful {
                "CLOSED: SHUTDOWN-COMPLETE received (or ABORT)".into()
            } else {
                format!("CLOSED: {reason}")
            }
        });
        if self.closing.is_some() || graceful {
            return Ok(Next::Done);
        }
        Err(PeerError::Sctp(SctpFailure::Lost {
            why: reason.to_string(),
        }))
    }

    /// Step 4. SHUTDOWN only once every queued message is acknowledged: sctp-proto sends
    /// SHUTDOWN at once when nothing is in flight, even with DATA still queued. `true` when
    /// SHUTDOWN was started.
    fn shutdown_when_drained(&mut self) -> bool {
        if self.closing.is_none() || self.shutdown_sent || !self.established {
            return false;
        }
        let Some((_, a)) = self.assoc.as_mut() else {
            return false;
        };
        let queued_bytes = self.channels.buffered(a);
        if queued_bytes > 0 {
            return false;
        }
        trace::event(Layer::Sctp, || {
            "SHUTDOWN-PENDING: closing the association".into()
        });
        let _ = a.shutdown();
        self.shutdown_sent = true;
        true
    }

    /// Step 5: a DTLS record, a command, or SCTP's next timer (RTO, delayed SACK), whichever
    /// comes first. `None` when our SHUTDOWN has had its time.
    fn wait(&self, cmds: &mut WakeReceiver<Cmd>) -> Option<Wait<Cmd>> {
        if self.closing.is_some_and(|t| Instant::now() >= t) {
            trace::event(Layer::Sctp, || "CLOSED: no SHUTDOWN-ACK in time".into());
            return None;
        }
        let timer = self.assoc.as_ref().and_then(|(_, a)| a.poll_timeout());
        let deadline = match (timer, self.closing) {
            (Some(t), Some(c)) => Some(t.min(c)),
            (t, c) => t.or(c),
        };
        Some(self.dtls.wait(cmds, deadline))
    }

    /// Step 6: what `Association::wait` brought.
    fn act(&mut self, woke: Wait<Cmd>, cmds: &mut WakeReceiver<Cmd>) -> Result<Next, PeerError> {
        match woke {
            Wait::Records(records) => {
                for record in records {
                    self.feed(record);
                }
                Ok(Next::Go)
            }
            Wait::Woken(cmd) => self.commands(cmd, cmds),
            Wait::Timeout => {
                if let Some((_, a)) = self.assoc.as_mut() {
                    a.handle_timeout(Instant::now());
                }
                Ok(Next::Go)
            }
            Wait::Closed(why) => self.dtls_closed(why),
        }
    }

    /// Step 6 for one record: the endpoint routes it to the association, or makes a new one
    /// from an INIT.
    fn feed(&mut self, record: Vec<u8>) {
        if trace::is_on(Layer::Sctp) {
            for line in self.fold.describe(&record, false) {
                trace::received(Layer::Sctp, || line);
            }
        }
        let now = Instant::now();
        match self
            .endpoint
            .handle(now, PEER, None, None, Bytes::from(record))
        {
            Some((h, DatagramEvent::AssociationEvent(ev))) => match self.assoc.as_mut() {
                Some((handle, a)) if *handle == h => a.handle_event(ev),
                _ => {}
            },
            Some((h, DatagramEvent::NewAssociation(a))) if self.assoc.is_none() => {
                trace::event(Layer::Sctp, || "INIT received: a new association".into());
                self.assoc = Some((h, a));
            }
            Some((_, DatagramEvent::NewAssociation(_))) => {
                // Both sides sent INIT (RFC 9260 §5.2.1); ours goes on, theirs is dropped.
                trace::event(Layer::Sctp, || {
                    "a second INIT (both sides opened): keeping ours".into()
                });
            }
            None => {}
        }
    }

    /// Step 6 for commands: this one and those already queued behind it, up to
    /// [`COMMAND_BATCH`]. The one place Shutdown and Lost are handled.
    fn commands(&mut self, first: Cmd, cmds: &mut WakeReceiver<Cmd>) -> Result<Next, PeerError> {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(cmd) = next {
            match cmd {
                Cmd::Lost(ms) => return Err(PeerError::Ice(IceFailure::ConsentLost { ms })),
                Cmd::Shutdown => {
                    self.closing = Some(Instant::now() + SHUTDOWN_WAIT);
                    // Nothing to shut down before the association exists.
                    return Ok(if self.established {
                        Next::Go
                    } else {
                        Next::Done
                    });
                }
                Cmd::Channel(c) if self.established => self.channel_command(c)?,
                Cmd::Channel(c) => self.queued.push(c),
            }
            taken += 1;
            next = if taken < COMMAND_BATCH {
                cmds.try_recv()
            } else {
                None
            };
        }
        Ok(Next::Go)
    }

    /// A channel command, on an established association.
    fn channel_command(&mut self, cmd: ChannelCmd) -> Result<(), PeerError> {
        match self.assoc.as_mut() {
            Some((_, a)) => self.channels.command(a, cmd),
            None => Ok(()),
        }
    }

    /// DTLS ended. close_notify after SCTP's SHUTDOWN (ours or theirs) is the normal end.
    fn dtls_closed(&self, why: String) -> Result<Next, PeerError> {
        let shutting = self
            .assoc
            .as_ref()
            .is_some_and(|(_, a)| a.is_closing() || a.is_closed());
        if self.closing.is_some() || shutting {
            trace::event(Layer::Sctp, || "CLOSED: DTLS closed after SHUTDOWN".into());
            return Ok(Next::Done);
        }
        Err(PeerError::Dtls(DtlsError::Closed(why)))
    }
}

/// Sends each packet as one DTLS record; `true` if one was a SHUTDOWN COMPLETE (sctp-proto
/// stays in SHUTDOWN-SENT after sending it, so the loop watches for it itself).
fn send_packets(dtls: &Dtls, fold: &mut chunk::Fold, packets: &[Bytes]) -> Result<bool, PeerError> {
    let mut complete = false;
    for p in packets {
        // The first chunk's type follows the common header.
        complete |= p.get(COMMON_HEADER) == Some(&SHUTDOWN_COMPLETE);
        if trace::is_on(Layer::Sctp) {
            for line in fold.describe(p, true) {
                trace::sent(Layer::Sctp, || line);
            }
        }
    }
    dtls.send(packets).map_err(PeerError::Dtls)?;
    Ok(complete)
}
