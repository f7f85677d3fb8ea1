//! Byte fixtures for the ZMTP decoder, written from RFC 37's grammar (not captured from a
//! peer: the tap test in tests/ checks real libzmq traffic).

use super::*;

/// A NULL greeting: signature, version 3.1, mechanism, as-server, filler.
pub fn greeting(mechanism: &str, as_server: u8) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
    let mut mech = mechanism.as_bytes().to_vec();
    mech.resize(20, 0);
    g.extend_from_slice(&mech);
    g.push(as_server);
    g.extend_from_slice(&[0; 31]);
    g
}

/// A command frame (short form) with `name` and `data`.
pub fn command(name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    let mut f = vec![COMMAND, body.len() as u8];
    f.extend_from_slice(&body);
    f
}

/// One metadata property: name, 4-octet size, value.
pub fn property(name: &str, value: &[u8]) -> Vec<u8> {
    let mut p = vec![name.len() as u8];
    p.extend_from_slice(name.as_bytes());
    p.extend_from_slice(&(value.len() as u32).to_be_bytes());
    p.extend_from_slice(value);
    p
}

#[test]
fn greeting_complete() {
    let g = greeting("NULL", 0);
    assert_eq!(g.len(), GREETING_LEN);
    assert_eq!(
        parse_greeting(&g),
        Ok(Status::Complete(
            Greeting {
                major: 3,
                minor: 1,
                mechanism: "NULL".into(),
                as_server: false
            },
            64
        ))
    );
    // "A peer MUST accept higher protocol versions as valid"; trailing bytes are not ours.
    let mut g4 = greeting("CURVE", 1);
    g4[10] = 4;
    g4.extend_from_slice(&[COMMAND, 0]);
    let Ok(Status::Complete(got, 64)) = parse_greeting(&g4) else {
        panic!("a 4.x greeting is valid")
    };
    assert_eq!(
        (got.major, got.mechanism.as_str(), got.as_server),
        (4, "CURVE", true)
    );
}

#[test]
fn greeting_partial_at_every_length() {
    let g = greeting("NULL", 0);
    for n in 0..GREETING_LEN {
        assert_eq!(parse_greeting(&g[..n]), Ok(Status::Partial), "{n} octets");
    }
}

#[test]
fn greeting_errors_name_the_rule() {
    assert_eq!(parse_greeting(b"G"), Err(ZmtpError::SignatureStart(b'G')));
    assert_eq!(
        parse_greeting(b"GET / HTTP/1.1\r\n"),
        Err(ZmtpError::SignatureStart(b'G'))
    );
    let g = greeting("NULL", 0);
    let broken = |at: usize, byte: u8| {
        let mut b = g.clone();
        b[at] = byte;
        parse_greeting(&b)
    };
    assert_eq!(broken(9, 0x7E), Err(ZmtpError::SignatureEnd(0x7E)));
    assert_eq!(broken(10, 2), Err(ZmtpError::OldVersion { major: 2 }));
    assert_eq!(broken(13, b'u'), Err(ZmtpError::MechanismChar(b'u')));
    assert_eq!(broken(32, 2), Err(ZmtpError::AsServer(2)));
    assert_eq!(broken(40, 1), Err(ZmtpError::Filler));
    // The padding is "not significant": anything goes there.
    assert!(matches!(broken(3, 0xAB), Ok(Status::Complete(..))));
    // An error shows as soon as its octet arrives, before the greeting is whole.
    assert_eq!(
        parse_greeting(&[0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        Err(ZmtpError::SignatureEnd(1))
    );
}

#[test]
fn frame_headers_short_and_long() {
    let h = |flags, size| FrameHeader { flags, size };
    assert_eq!(
        parse_frame_header(&[0x00, 5, b'h']),
        Ok(Status::Complete(h(0, 5), 2))
    );
    assert_eq!(
        parse_frame_header(&[MORE, 0]),
        Ok(Status::Complete(h(MORE, 0), 2))
    );
    assert_eq!(
        parse_frame_header(&[COMMAND, 255]),
        Ok(Status::Complete(h(COMMAND, 255), 2))
    );
    let long = [LONG, 0, 0, 0, 0, 0, 0, 1, 0x2C];
    assert_eq!(
        parse_frame_header(&long),
        Ok(Status::Complete(h(LONG, 300), 9))
    );
    for n in 0..long.len() {
        assert_eq!(parse_frame_header(&long[..n]), Ok(Status::Partial), "{n}");
    }
    assert_eq!(parse_frame_header(&[0x00]), Ok(Status::Partial));
    let head = h(LONG | MORE, 1);
    assert!(head.more() && head.long() && !head.command());
    assert_eq!(head.flag_names(), "0x03(MORE|LONG)");
    assert_eq!(h(0, 0).flag_names(), "0x00");
}

#[test]
fn frame_header_errors() {
    assert_eq!(
        parse_frame_header(&[0x08, 0]),
        Err(ZmtpError::ReservedFlags(0x08))
    );
    assert_eq!(
        parse_frame_header(&[0xFF]),
        Err(ZmtpError::ReservedFlags(0xFF))
    );
    assert_eq!(
        parse_frame_header(&[COMMAND | MORE, 0]),
        Err(ZmtpError::CommandMore)
    );
    let huge = [LONG, 0x80, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(parse_frame_header(&huge), Err(ZmtpError::LongSize(1 << 63)));
}

#[test]
fn ready_with_metadata() {
    let mut data = property("Socket-Type", b"REQ");
    data.extend(property("Identity", b""));
    let frame = command("READY", &data);
    let Ok(Status::Complete(h, n)) = parse_frame_header(&frame) else {
        panic!("header")
    };
    assert!(h.command());
    let cmd = parse_command(&frame[n..]).unwrap();
    assert_eq!(cmd.name, "READY");
    assert_eq!(
        interpret(cmd),
        Ok(Known::Ready(vec![
            Property {
                name: "Socket-Type",
                value: b"REQ"
            },
            Property {
                name: "Identity",
                value: b""
            },
        ]))
    );
}

#[test]
fn other_commands() {
    let body = |f: &[u8]| f[2..].to_vec();
    let sub = body(&command("SUBSCRIBE", b"weather"));
    assert_eq!(
        interpret(parse_command(&sub).unwrap()),
        Ok(Known::Subscribe(b"weather"))
    );
    let cancel = body(&command("CANCEL", b""));
    assert_eq!(
        interpret(parse_command(&cancel).unwrap()),
        Ok(Known::Cancel(b""))
    );
    let ping = body(&command("PING", &[0, 100, b'c', b'x']));
    assert_eq!(
        interpret(parse_command(&ping).unwrap()),
        Ok(Known::Ping {
            ttl: 100,
            context: b"cx"
        })
    );
    let pong = body(&command("PONG", b"cx"));
    assert_eq!(
        interpret(parse_command(&pong).unwrap()),
        Ok(Known::Pong(b"cx"))
    );
    let error = body(&command("ERROR", b"\x06denied"));
    assert_eq!(
        interpret(parse_command(&error).unwrap()),
        Ok(Known::Error(b"denied"))
    );
    let hello = body(&command("HELLO", b"\x01\x00"));
    assert!(
        matches!(interpret(parse_command(&hello).unwrap()), Ok(Known::Other(c)) if c.name == "HELLO")
    );
}

#[test]
fn command_and_metadata_errors() {
    assert_eq!(parse_command(b""), Err(ZmtpError::CommandNameEmpty));
    assert_eq!(parse_command(b"\x00data"), Err(ZmtpError::CommandNameEmpty));
    assert_eq!(
        parse_command(b"\x09READY"),
        Err(ZmtpError::CommandNameTruncated)
    );
    assert_eq!(
        parse_command(b"\x05READ1"),
        Err(ZmtpError::CommandNameChar(b'1'))
    );
    assert_eq!(parse_metadata(b"\x00"), Err(ZmtpError::PropertyNameEmpty));
    assert_eq!(
        parse_metadata(b"\x05Sock"),
        Err(ZmtpError::PropertyTruncated)
    );
    assert_eq!(
        parse_metadata(b"\x02a b\x00\x00\x00\x00"),
        Err(ZmtpError::PropertyNameChar(b' '))
    );
    assert_eq!(
        parse_metadata(b"\x01a\x00\x00"),
        Err(ZmtpError::PropertyTruncated)
    );
    assert_eq!(
        parse_metadata(b"\x01a\x00\x00\x00\x05abc"),
        Err(ZmtpError::PropertyTruncated)
    );
    assert_eq!(
        parse_metadata(b"\x01a\xff\xff\xff\xff"),
        Err(ZmtpError::PropertyValueSize(u32::MAX))
    );
    let ready = |d: &[u8]| {
        let mut b = vec![5];
        b.extend_from_slice(b"READY");
        b.extend_from_slice(d);
        b
    };
    assert_eq!(
        interpret(parse_command(&ready(b"\x00")).unwrap()),
        Err(ZmtpError::PropertyNameEmpty)
    );
    let ping = [4, b'P', b'I', b'N', b'G', 0];
    assert_eq!(
        interpret(parse_command(&ping).unwrap()),
        Err(ZmtpError::PingTtl)
    );
    let mut long_ping = ping.to_vec();
    long_ping.extend_from_slice(&[0; 18]);
    assert_eq!(
        interpret(parse_command(&long_ping).unwrap()),
        Err(ZmtpError::PingContext(17))
    );
    let error = [5, b'E', b'R', b'R', b'O', b'R', 9, b'x'];
    assert_eq!(
        interpret(parse_command(&error).unwrap()),
        Err(ZmtpError::ErrorReasonTruncated)
    );
    // Every error says something a reader can act on.
    assert!(
        ZmtpError::SignatureStart(b'G')
            .to_string()
            .contains("--proto")
    );
}

#[test]
fn subscriptions_the_zmtp_3_0_way() {
    assert_eq!(legacy_subscription(b"\x01news"), Some((true, &b"news"[..])));
    assert_eq!(legacy_subscription(b"\x00"), Some((false, &b""[..])));
    assert_eq!(legacy_subscription(b"news"), None);
    assert_eq!(legacy_subscription(b""), None);
}

#[test]
fn socket_pairs() {
    assert_eq!(compatible("REQ", "REP"), Some(true));
    assert_eq!(compatible("REQ", "ROUTER"), Some(true));
    assert_eq!(compatible("REQ", "PULL"), Some(false));
    assert_eq!(compatible("SUB", "XPUB"), Some(true));
    assert_eq!(compatible("RADIO", "DISH"), None);
}

/// Deterministic pseudo-random bytes (no rand crate): garbage must give errors, not panics.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

#[test]
fn garbage_never_panics() {
    for seed in 0..2000 {
        let g = garbage(seed, (seed % 97) as usize);
        let _ = parse_greeting(&g);
        let _ = parse_frame_header(&g);
        if let Ok(cmd) = parse_command(&g) {
            let _ = interpret(cmd);
        }
        let _ = parse_metadata(&g);
        // Garbage after a valid greeting start still only errors.
        let mut after = greeting("NULL", 0);
        after.truncate((seed % 64) as usize);
        after.extend_from_slice(&g);
        let _ = parse_greeting(&after);
    }
}
