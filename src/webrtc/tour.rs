//! The WebRTC section of `netlab tour`: one Rust peer offers, another answers (both in this
//! process, over loopback UDP), and a channel carries text, binary, an empty message and one
//! larger than an SCTP packet, with every layer traced: SDP, STUN, DTLS, SCTP, DCEP.

use super::dcep::ChannelType;
use super::dtls::Identity;
use super::peer::{Config, Event, Message, Peer};
use super::signaling;
use crate::guide::{Guide, TourError};
use std::time::Duration;

/// The steps of this section, in the order `run` takes them.
pub const STEPS: &[&str] = &[
    "the offer and the answer: SDP for one data channel, no media",
    "the channel opens: an ICE check, a DTLS handshake, an SCTP association, DCEP OPEN and ACK",
    "messages: text, binary, an empty one, and one larger than an SCTP packet",
    "closing: SCTP SHUTDOWN, then DTLS close_notify",
];

/// Longer than SCTP's delayed acknowledgement (RFC 9260 §6.2 allows up to 500 ms;
/// sctp-proto waits 200 ms).
const SACK_DELAY: Duration = Duration::from_millis(300);

fn wait_message(g: &Guide, peer: &mut Peer) -> Result<Message, TourError> {
    loop {
        match peer.recv(Duration::from_secs(10)) {
            Some(Event::Message(_, m)) => return Ok(m),
            Some(Event::Ended(e)) => {
                return Err(g.fail("messages", format!("the session ended: {e:?}")));
            }
            Some(_) => {}
            None => return Err(g.fail("messages", "no echo within 10 s")),
        }
    }
}

/// The WebRTC section.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    g.step(STEPS[0]);
    let identity = Identity::generate().map_err(|e| g.fail("certificates", e))?;
    let client_config = Config {
        role: "client",
        ..Config::default()
    };
    let server_config = Config {
        role: "server",
        ..Config::default()
    };
    let offer = Peer::offer(&identity, client_config).map_err(|e| g.fail("offer", e))?;
    let other = Identity::generate().map_err(|e| g.fail("certificates", e))?;
    let (server, answer) =
        Peer::answer(&offer.sdp, &other, server_config).map_err(|e| g.fail("answer", e))?;
    g.say("the answer, as it would travel in the body of a 201 to POST /webrtc:");
    for line in answer.lines() {
        g.say(&format!("    {line}"));
    }
    g.say("a=setup:passive makes the answerer the DTLS server (the offer said actpass).");
    g.say("Both the offer (traced above) and this answer say a=ice-lite: a netlab peer answers");
    g.say("checks on one host candidate, all a browser or aiortc (full agents, who check) needs.");
    g.say("With two lite agents the offerer is controlling (RFC 8445 §6.1.1), so the offering");
    g.say("peer runs a small checker: it sends the Binding Request, with USE-CANDIDATE.");
    let echo = std::thread::spawn(move || signaling::echo(server));

    g.step(STEPS[1]);
    let mut client = offer.accept(&answer).map_err(|e| g.fail("answer", e))?;
    let id = client.open("tour", ChannelType::RELIABLE);
    let channel = client
        .wait_open(Duration::from_secs(15))
        .map_err(|e| g.fail("open", e))?;
    g.say(&format!(
        "channel {:?} open on SCTP stream {} (even: we are the DTLS client, RFC 8832 §6).",
        channel.label, channel.id
    ));

    g.step(STEPS[2]);
    let large: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    for m in [
        Message::Text("hello over SCTP".into()),
        Message::Binary(vec![0xde, 0xad, 0xbe, 0xef]),
        Message::Text(String::new()),
        Message::Binary(large),
    ] {
        client
            .send(id, m.clone())
            .map_err(|e| g.fail("messages", e))?;
        let back = wait_message(g, &mut client)?;
        if back != m {
            return Err(g.fail("messages", "an echo came back changed"));
        }
        let what = match &m {
            Message::Text(t) if t.is_empty() => {
                "an empty text message (one byte, PPID 56)".to_string()
            }
            Message::Text(t) => format!("text {t:?} (PPID 51)"),
            Message::Binary(b) if b.len() > 1100 => {
                format!(
                    "{} bytes of binary (PPID 53) in {} DATA chunks, reassembled (the trace shows the first and the last of each direction)",
                    b.len(),
                    b.len().div_ceil(super::sctp::CHUNK_DATA as usize)
                )
            }
            Message::Binary(b) => format!("{} bytes of binary (PPID 53)", b.len()),
        };
        // The echo's SACK is delayed (RFC 9260 §6.2): let it pass before the sentence that
        // ends this exchange, so its line stays with it.
        std::thread::sleep(SACK_DELAY);
        g.say(&format!("echoed unchanged: {what}"));
    }

    g.step(STEPS[3]);
    client.close();
    echo.join()
        .map_err(|_| g.fail("closing", "the echo peer panicked"))?;
    g.say("both sides closed: SHUTDOWN, SHUTDOWN-ACK, SHUTDOWN-COMPLETE inside DTLS, then close_notify (an encrypted alert: the trace names it on the side that sent it).");
    Ok(())
}
