//! Rust to Rust in one process: one netlab peer offers, another answers (over loopback
//! UDP, no other peer involved), and a reliable channel carries text, binary, empty
//! messages of both kinds and one message larger than one SCTP packet, each echoed back.

use netlab::webrtc::dcep::{ChannelType, Reliability};
use netlab::webrtc::dtls::Identity;
use netlab::webrtc::peer::{Config, Event, Message, Peer, PeerError};
use netlab::webrtc::signaling::echo;
use std::time::Duration;

fn next_message(peer: &mut Peer) -> (u16, Message) {
    loop {
        match peer.recv(Duration::from_secs(10)) {
            Some(Event::Message(id, m)) => return (id, m),
            Some(Event::Ended(e)) => panic!("session ended: {e:?}"),
            Some(_) => {}
            None => panic!("no message within 10 s"),
        }
    }
}

fn pair() -> (Peer, std::thread::JoinHandle<()>) {
    // NETLAB_TRACE=stun,dtls,sctp,dcep cargo test --test webrtc_rust shows every step.
    netlab::trace::enable_from_env().unwrap();
    let offer = Peer::offer(
        &Identity::generate().unwrap(),
        Config {
            role: "client",
            ..Config::default()
        },
    )
    .unwrap();
    let (server, answer) = Peer::answer(
        &offer.sdp,
        &Identity::generate().unwrap(),
        Config {
            role: "server",
            ..Config::default()
        },
    )
    .unwrap();
    assert!(
        !server.dtls_client,
        "the answerer says setup:passive and is the DTLS server"
    );
    let echo = std::thread::spawn(move || echo(server));
    let client = offer.accept(&answer).unwrap();
    assert!(client.dtls_client);
    (client, echo)
}

#[test]
fn text_binary_empty_and_large_messages_round_trip() {
    let (mut client, echo_thread) = pair();
    let id = client.open("chat", ChannelType::RELIABLE);
    assert_eq!(
        id % 2,
        0,
        "the DTLS client opens even streams (RFC 8832 §6)"
    );
    let channel = client.wait_open(Duration::from_secs(15)).unwrap();
    assert_eq!((channel.id, channel.label.as_str()), (id, "chat"));
    let large: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let messages = [
        Message::Text("hello".into()),
        Message::Binary(vec![0, 1, 2, 255]),
        Message::Text(String::new()),
        Message::Binary(Vec::new()),
        Message::Text("é ünïcode ✓".into()),
        Message::Binary(large),
    ];
    for m in &messages {
        client.send(id, m.clone()).unwrap();
    }
    for want in &messages {
        let (got_id, got) = next_message(&mut client);
        assert_eq!(got_id, id);
        assert_eq!(
            &got, want,
            "echoed unchanged, in order, text as text and binary as binary"
        );
    }
    client.close();
    echo_thread.join().unwrap();
}

#[test]
fn two_channels_of_different_types_are_kept_apart() {
    let (mut client, echo_thread) = pair();
    let a = client.open("ordered", ChannelType::RELIABLE);
    let b = client.open(
        "unordered",
        ChannelType {
            unordered: true,
            reliability: Reliability::Rexmit(3),
        },
    );
    let mut opened = [
        client.wait_open(Duration::from_secs(15)).unwrap(),
        client.wait_open(Duration::from_secs(15)).unwrap(),
    ];
    opened.sort_by_key(|c| c.id);
    assert_eq!(opened[0].id, a);
    assert_eq!(opened[1].label, "unordered");
    assert!(opened[1].channel_type.unordered);
    client.send(b, Message::Text("on b".into())).unwrap();
    assert_eq!(next_message(&mut client), (b, Message::Text("on b".into())));
    client.send(a, Message::Text("on a".into())).unwrap();
    assert_eq!(next_message(&mut client), (a, Message::Text("on a".into())));
    client.close();
    echo_thread.join().unwrap();
}

#[test]
fn a_message_over_the_peers_max_message_size_is_refused_and_the_channel_goes_on() {
    netlab::trace::enable_from_env().unwrap();
    let offer = Peer::offer(&Identity::generate().unwrap(), Config::default()).unwrap();
    // The answerer says a=max-message-size:4096 (RFC 8841 §6): the offerer may not send more.
    let small = Config {
        max_message_size: 4096,
        ..Config::default()
    };
    let (server, answer) = Peer::answer(&offer.sdp, &Identity::generate().unwrap(), small).unwrap();
    assert!(answer.contains("a=max-message-size:4096\r\n"));
    let echo_thread = std::thread::spawn(move || echo(server));
    let mut client = offer.accept(&answer).unwrap();
    let id = client.open("small", ChannelType::RELIABLE);
    client.wait_open(Duration::from_secs(15)).unwrap();
    assert_eq!(client.max_send, 4096);
    // Refused before it reaches SCTP, with the size and the peer's limit in one line.
    let refused = client.send(id, Message::Binary(vec![1; 5000])).unwrap_err();
    assert_eq!(
        refused,
        PeerError::TooLarge {
            size: 5000,
            max: 4096
        }
    );
    assert_eq!(
        refused.to_string(),
        "message of 5000 bytes not sent: the peer's a=max-message-size is 4096 (RFC 8841 §6)"
    );
    // Nothing went out and nothing ended: the next message within the limit is echoed.
    client.send(id, Message::Binary(vec![2; 4096])).unwrap();
    assert_eq!(
        next_message(&mut client),
        (id, Message::Binary(vec![2; 4096]))
    );
    client.close();
    echo_thread.join().unwrap();
}

#[test]
fn closing_a_channel_resets_its_stream_on_both_sides_the_other_goes_on_and_its_id_is_reused() {
    let offer = Peer::offer(&Identity::generate().unwrap(), Config::default()).unwrap();
    let (mut server, answer) = Peer::answer(
        &offer.sdp,
        &Identity::generate().unwrap(),
        Config::default(),
    )
    .unwrap();
    // The answerer reports what it sees, and echoes.
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let answerer = std::thread::spawn(move || {
        while let Some(e) = server.recv(Duration::from_secs(10)) {
            match e {
                Event::Message(id, m) => {
                    let _ = server.send(id, m);
                }
                Event::Closed(id) => {
                    let _ = seen_tx.send(id);
                }
                Event::Ended(_) => break,
                _ => {}
            }
        }
    });
    let mut client = offer.accept(&answer).unwrap();
    let a = client.open("a", ChannelType::RELIABLE);
    let b = client.open("b", ChannelType::RELIABLE);
    client.wait_open(Duration::from_secs(15)).unwrap();
    client.wait_open(Duration::from_secs(15)).unwrap();
    client.close_channel(a);
    // RFC 8831 §6.7: closing is an SCTP stream reset (RE-CONFIG), seen by the other side.
    assert_eq!(seen_rx.recv_timeout(Duration::from_secs(10)), Ok(a));
    client.send(b, Message::Text("still here".into())).unwrap();
    assert_eq!(
        next_message(&mut client),
        (b, Message::Text("still here".into()))
    );
    // Once both directions of the stream are reset (a round trip on loopback, given ample
    // time here), its id is free: the next channel takes the lowest free id, as Chromium's
    // and aiortc's do, and works.
    std::thread::sleep(Duration::from_millis(500));
    let c = client.open("c", ChannelType::RELIABLE);
    assert_eq!(c, a, "the freed id is taken again");
    assert_eq!(
        client.wait_open(Duration::from_secs(15)).unwrap().label,
        "c"
    );
    client.send(c, Message::Text("on c".into())).unwrap();
    assert_eq!(next_message(&mut client), (c, Message::Text("on c".into())));
    let d = client.open("d", ChannelType::RELIABLE);
    assert_eq!(d, b + 2, "then the next id never used");
    client.close();
    answerer.join().unwrap();
}
