//! netlab's STUN and TURN servers: RFC 5769's test vectors against the codec they share with
//! ICE; real clients (aioice's STUN and TURN clients, the `stun` crate, two aiortc peers
//! restricted to relayed candidates); and hostile clients, each refusal traced with its code
//! while a good client keeps being served. Everything runs in a loopback-only network
//! namespace: a relay asked to reach 8.8.8.8 could not, even if it tried.

mod common;
#[path = "webrtc/netns.rs"]
mod netns;

use common::*;
use netlab::webrtc::stun_codec::{self, parse_xor_address, xor_address};
use netlab::webrtc::turn;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use stun::agent::TransactionId;
use stun::attributes::*;
use stun::error_code::ErrorCodeAttribute;
use stun::integrity::MessageIntegrity;
use stun::message::*;
use stun::textattrs::TextAttribute;
use stun::xoraddr::XorMappedAddress;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/stun_turn/peers.py");

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// RFC 5769 §2.1: a Binding Request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME
// "evtj:h6vY", MESSAGE-INTEGRITY (short-term, password "VOkJxbRl1RmTxUk/WvJxBt") and
// FINGERPRINT.
const SAMPLE_REQUEST: &str = "
    000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74
    002400046e0001ff80290008932ff9b151263b36000600096576746a3a683676592020200008
    00149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf";
// §2.2: the IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853.
const SAMPLE_IPV4: &str = "
    0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200008
    0001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96";
// §2.3: the IPv6 response, XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const SAMPLE_IPV6: &str = "
    010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200014
    0002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275
    bfe3ed4180280004c8fb0b4c";
// §2.4: a request with long-term credentials: USERNAME "マトリックス", NONCE, REALM
// "example.org", password "TheMatrIX" (after SASLprep); no FINGERPRINT.
const SAMPLE_LONG_TERM: &str = "
    000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe3
    82b90000001500 1c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b
    6578616d706c652e6f726700000800 14f67024656dd64a3e02b8e0712e85c9a28ca89666";
const SHORT_TERM_PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";

#[test]
fn rfc5769_request_fingerprint_and_short_term_integrity_verify() {
    let bytes = hex(SAMPLE_REQUEST);
    let mut m = stun_codec::decode(&bytes, true).expect("FINGERPRINT verifies");
    assert_eq!(m.typ, BINDING_REQUEST);
    MessageIntegrity::new_short_term_integrity(SHORT_TERM_PASSWORD.into())
        .check(&mut m)
        .expect("MESSAGE-INTEGRITY verifies");
    assert!(
        MessageIntegrity::new_short_term_integrity("wrong".into())
            .check(&mut m)
            .is_err()
    );
    // One bit flipped inside SOFTWARE: FINGERPRINT catches it.
    let mut bent = bytes.clone();
    bent[30] ^= 1;
    assert!(matches!(
        stun_codec::decode(&bent, false),
        Err(stun_codec::CodecError::Fingerprint)
    ));
}

#[test]
fn rfc5769_xor_mapped_addresses_decode_and_encode_byte_for_byte() {
    for (sample, want, len) in [
        (SAMPLE_IPV4, "192.0.2.1:32853", 8),
        (
            SAMPLE_IPV6,
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
            20,
        ),
    ] {
        let bytes = hex(sample);
        let mut m = stun_codec::decode(&bytes, true).expect("FINGERPRINT verifies");
        MessageIntegrity::new_short_term_integrity(SHORT_TERM_PASSWORD.into())
            .check(&mut m)
            .expect("MESSAGE-INTEGRITY verifies");
        let value = m.get(ATTR_XORMAPPED_ADDRESS).unwrap();
        assert_eq!(value.len(), len);
        let want: SocketAddr = want.parse().unwrap();
        let tid = &m.transaction_id.0;
        assert_eq!(parse_xor_address(&value, tid), Some(want));
        assert_eq!(xor_address(want, tid), value);
    }
    assert_eq!(parse_xor_address(&[0, 1, 2], &[0; 12]), None);
    assert_eq!(
        parse_xor_address(&[0, 1, 0, 0, 1, 2, 3, 4, 5], &[0; 12]),
        None
    );
}

#[test]
fn rfc5769_long_term_key_is_md5_of_user_realm_password() {
    let bytes = hex(SAMPLE_LONG_TERM);
    assert!(
        stun_codec::decode(&bytes, true).is_err(),
        "it has no FINGERPRINT"
    );
    let mut m = stun_codec::decode(&bytes, false).unwrap();
    let user = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}";
    assert_eq!(
        TextAttribute::get_from_as(&m, ATTR_USERNAME).unwrap().text,
        user
    );
    let key = |pass: &str| {
        MessageIntegrity::new_long_term_integrity(user.into(), "example.org".into(), pass.into())
    };
    key("TheMatrIX")
        .check(&mut m)
        .expect("long-term MESSAGE-INTEGRITY verifies");
    assert!(key("thematrix").check(&mut m).is_err());
}

/// A TURN client made of the `stun` crate's messages: what the hostile tests send.
struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    user: String,
    pass: String,
    realm: String,
    nonce: String,
}

impl Client {
    fn new(server: SocketAddr, user: &str, pass: &str) -> Client {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        Client {
            sock,
            server,
            user: user.into(),
            pass: pass.into(),
            realm: String::new(),
            nonce: String::new(),
        }
    }

    /// One transaction: `attrs` raw, credentials if `auth`, FINGERPRINT; the answer.
    fn once(&self, method: Method, attrs: &[(AttrType, Vec<u8>)], auth: bool) -> Message {
        self.once_as(TransactionId::new(), method, attrs, auth)
    }

    /// `once` with a chosen transaction id (a retransmission reuses it).
    fn once_as(
        &self,
        tid: TransactionId,
        method: Method,
        attrs: &[(AttrType, Vec<u8>)],
        auth: bool,
    ) -> Message {
        let user = TextAttribute::new(ATTR_USERNAME, self.user.clone());
        let realm = TextAttribute::new(ATTR_REALM, self.realm.clone());
        let nonce = TextAttribute::new(ATTR_NONCE, self.nonce.clone());
        let key = MessageIntegrity::new_long_term_integrity(
            self.user.clone(),
            self.realm.clone(),
            self.pass.clone(),
        );
        let setters: Vec<&dyn Setter> = if auth {
            vec![&user, &realm, &nonce]
        } else {
            vec![]
        };
        let typ = MessageType::new(method, CLASS_REQUEST);
        let bytes = stun_codec::build(typ, tid, attrs, &setters, auth.then_some(&key)).unwrap();
        self.sock.send_to(&bytes, self.server).unwrap();
        let mut buf = [0u8; 2048];
        loop {
            let (n, _) = self.sock.recv_from(&mut buf).expect("an answer");
            let m = stun_codec::decode(&buf[..n], false).expect("a STUN answer");
            if m.transaction_id == tid {
                return m;
            }
        }
    }

    /// A transaction with the challenge answered: 401 or 438 teach REALM and NONCE, once.
    fn request(&mut self, method: Method, attrs: &[(AttrType, Vec<u8>)]) -> Message {
        let auth = !self.nonce.is_empty();
        let m = self.once(method, attrs, auth);
        if matches!(code(&m), Some(401 | 438)) {
            self.learn(&m);
            return self.once(method, attrs, true);
        }
        m
    }

    fn learn(&mut self, m: &Message) {
        self.realm = TextAttribute::get_from_as(m, ATTR_REALM).unwrap().text;
        self.nonce = TextAttribute::get_from_as(m, ATTR_NONCE).unwrap().text;
    }

    fn allocate(&mut self) -> Message {
        self.request(
            METHOD_ALLOCATE,
            &[(ATTR_REQUESTED_TRANSPORT, vec![17, 0, 0, 0])],
        )
    }

    fn relayed(&self, m: &Message) -> SocketAddr {
        let v = m
            .get(ATTR_XOR_RELAYED_ADDRESS)
            .expect("XOR-RELAYED-ADDRESS");
        parse_xor_address(&v, &m.transaction_id.0).unwrap()
    }

    fn peer_attr(peer: SocketAddr, tid: &TransactionId) -> (AttrType, Vec<u8>) {
        (ATTR_XOR_PEER_ADDRESS, xor_address(peer, &tid.0))
    }

    /// XOR-PEER-ADDRESS depends on the transaction id, so these requests build their own.
    fn with_peer(
        &mut self,
        method: Method,
        peer: SocketAddr,
        extra: &[(AttrType, Vec<u8>)],
    ) -> Message {
        // The crate's XorMappedAddress setter XORs with the message's own id.
        let xor = XorMappedAddress {
            ip: peer.ip(),
            port: peer.port(),
        };
        let tid = TransactionId::new();
        let user = TextAttribute::new(ATTR_USERNAME, self.user.clone());
        let realm = TextAttribute::new(ATTR_REALM, self.realm.clone());
        let nonce = TextAttribute::new(ATTR_NONCE, self.nonce.clone());
        let key = MessageIntegrity::new_long_term_integrity(
            self.user.clone(),
            self.realm.clone(),
            self.pass.clone(),
        );
        let mut m = Message::new();
        m.typ = MessageType::new(method, CLASS_REQUEST);
        m.transaction_id = tid;
        m.write_header();
        xor.add_to_as(&mut m, ATTR_XOR_PEER_ADDRESS).unwrap();
        for (t, v) in extra {
            m.add(*t, v);
        }
        for s in [
            &user as &dyn Setter,
            &realm,
            &nonce,
            &key,
            &stun::fingerprint::FINGERPRINT,
        ] {
            s.add_to(&mut m).unwrap();
        }
        self.sock.send_to(&m.raw, self.server).unwrap();
        let mut buf = [0u8; 2048];
        loop {
            let (n, _) = self.sock.recv_from(&mut buf).expect("an answer");
            let r = stun_codec::decode(&buf[..n], false).expect("a STUN answer");
            if r.transaction_id == tid {
                return r;
            }
        }
    }

    /// A Send indication: DATA to `peer` (no answer is due).
    fn send_indication(&self, peer: SocketAddr, data: &[u8]) {
        let tid = TransactionId::new();
        let typ = MessageType::new(METHOD_SEND, CLASS_INDICATION);
        let attrs = [Self::peer_attr(peer, &tid), (ATTR_DATA, data.to_vec())];
        let bytes = stun_codec::build(typ, tid, &attrs, &[], None).unwrap();
        self.sock.send_to(&bytes, self.server).unwrap();
    }

    /// The next datagram from the server, raw.
    fn next(&self) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        let (n, _) = self
            .sock
            .recv_from(&mut buf)
            .expect("a datagram from the server");
        buf[..n].to_vec()
    }
}

/// The ERROR-CODE of an error response; `None` for a success.
fn code(m: &Message) -> Option<u16> {
    if m.typ.class != CLASS_ERROR_RESPONSE {
        return None;
    }
    let mut e = ErrorCodeAttribute::default();
    e.get_from(m).expect("ERROR-CODE");
    Some(e.code.0)
}

/// A UDP echo peer on loopback, in a thread.
fn echo_peer() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    addr
}

#[test]
fn aioice_and_the_stun_crate_learn_their_mapped_address() {
    netns::enter();
    let py = python_with("aioice");
    let mut server = spawn_netlab(&["stun", "serve", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let out = run(
        &py,
        &[SCRIPT, "stun", &addr.port().to_string()],
        b"",
        &[],
        Duration::from_secs(30),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "aioice: {stdout}\n{}",
        text(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("mapped "))
        .expect("a mapped line");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words[1], words[3],
        "the mapped address is the client's own: {line}"
    );
    assert!(stdout.contains("software netlab"), "{stdout}");

    // The `stun` crate as a second client: its own Binding Request and decoder.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut req = Message::new();
    req.build(&[
        Box::new(TransactionId::new()),
        Box::new(BINDING_REQUEST),
        Box::new(stun::fingerprint::FINGERPRINT),
    ])
    .unwrap();
    sock.send_to(&req.raw, addr).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    let mut resp = Message::new();
    resp.unmarshal_binary(&buf[..n]).unwrap();
    assert_eq!(resp.typ, BINDING_SUCCESS);
    assert_eq!(resp.transaction_id, req.transaction_id);
    stun::fingerprint::FINGERPRINT
        .check(&resp)
        .expect("FINGERPRINT");
    let mut mapped = XorMappedAddress::default();
    mapped.get_from(&resp).unwrap();
    assert_eq!(
        SocketAddr::new(mapped.ip, mapped.port),
        sock.local_addr().unwrap()
    );

    let me = sock.local_addr().unwrap();
    let success = format!("[stun] → Binding Success XOR-MAPPED-ADDRESS={me}");
    let trace = server.stderr_until(&[&success], Duration::from_secs(5));
    assert!(
        trace.contains(&format!("[stun] ← Binding Request from {me}")),
        "{trace}"
    );
    assert!(
        trace.contains(&format!("[stun] → Binding Success XOR-MAPPED-ADDRESS={me}")),
        "{trace}"
    );
}

#[test]
fn the_stun_server_drops_garbage_and_answers_420_and_400() {
    netns::enter();
    let mut server = spawn_netlab(&["stun", "serve", "--addr", "127.0.0.1:0"], &[]);
    let addr = server.listening();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 1500];
    // Garbage and a Binding indication: no answer.
    sock.send_to(b"\xffnot stun at all", addr).unwrap();
    let tid = TransactionId::new();
    let ind = stun_codec::build(
        MessageType::new(METHOD_BINDING, CLASS_INDICATION),
        tid,
        &[],
        &[],
        None,
    )
    .unwrap();
    sock.send_to(&ind, addr).unwrap();
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "garbage and indications get no answer"
    );
    // An unknown comprehension-required attribute (0x0031): 420 with UNKNOWN-ATTRIBUTES.
    let tid = TransactionId::new();
    let bytes = stun_codec::build(
        BINDING_REQUEST,
        tid,
        &[(AttrType(0x0031), vec![1, 2, 3, 4])],
        &[],
        None,
    )
    .unwrap();
    sock.send_to(&bytes, addr).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    let m = stun_codec::decode(&buf[..n], true).unwrap();
    assert_eq!(code(&m), Some(420));
    assert_eq!(m.get(ATTR_UNKNOWN_ATTRIBUTES).unwrap(), vec![0x00, 0x31]);
    // An unknown comprehension-optional attribute (0x8031) is ignored: success.
    let tid = TransactionId::new();
    let bytes = stun_codec::build(
        BINDING_REQUEST,
        tid,
        &[(AttrType(0x8031), vec![1])],
        &[],
        None,
    )
    .unwrap();
    sock.send_to(&bytes, addr).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(
        stun_codec::decode(&buf[..n], true).unwrap().typ,
        BINDING_SUCCESS
    );
    // Allocate is not this server's: 400.
    let tid = TransactionId::new();
    let bytes = stun_codec::build(
        MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST),
        tid,
        &[],
        &[],
        None,
    )
    .unwrap();
    sock.send_to(&bytes, addr).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(
        code(&stun_codec::decode(&buf[..n], true).unwrap()),
        Some(400)
    );
    let trace = server.stderr_until(
        &["Binding Error 400", "Binding Error 420"],
        Duration::from_secs(5),
    );
    assert!(trace.contains("dropped: not a STUN message"), "{trace}");
    assert!(trace.contains("not a request: no answer"), "{trace}");
}

#[test]
fn aioice_allocates_and_echoes_through_the_relay_and_refreshes() {
    netns::enter();
    let py = python_with("aioice");
    let mut server = spawn_netlab(
        &[
            "turn",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--user",
            "ana:s3cret",
        ],
        &[],
    );
    let addr = server.listening();
    let port = addr.port().to_string();
    let out = run(
        &py,
        &[SCRIPT, "turn", &port, "ana", "s3cret"],
        b"",
        &[],
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "aioice: {stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("echo hello 2 through the relay"),
        "{stdout}"
    );
    assert!(stdout.contains("echo 7 odd bytes"), "{stdout}");
    assert!(stdout.contains("refreshed LIFETIME=600"), "{stdout}");
    let relayed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("relayed "))
        .unwrap()
        .to_string();
    let trace = server.stderr_until(
        &["Refresh Success LIFETIME=0 (deleted)"],
        Duration::from_secs(10),
    );
    for want in [
        "Allocate Error 401 Unauthorized",
        "Allocate Request from",
        &format!("XOR-RELAYED-ADDRESS={relayed}"),
        "ChannelBind Success channel 0x4000",
        "→ ChannelData 0x4000 to",
        "Refresh Success LIFETIME=600",
        "Refresh Success LIFETIME=0 (deleted)",
    ] {
        assert!(trace.contains(want), "{want:?} missing:\n{trace}");
    }
    // The relayed port went back to the kernel: it can be bound again.
    assert!(UdpSocket::bind(&relayed).is_ok(), "{relayed} still held");
}

#[test]
fn two_aiortc_peers_open_a_data_channel_through_the_relay_only() {
    netns::enter();
    let py = python_with("aiortc");
    let mut server = spawn_netlab(
        &["turn", "serve", "--addr", "127.0.0.1:0", "--user", "rtc:pw"],
        &[],
    );
    let addr = server.listening();
    let out = run(
        &py,
        &[SCRIPT, "aiortc", &addr.port().to_string(), "rtc", "pw"],
        b"",
        &[],
        Duration::from_secs(90),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "aiortc: {stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("offer candidates: relay\n"), "{stdout}");
    assert!(stdout.contains("answer candidates: relay\n"), "{stdout}");
    assert!(
        stdout.contains("channel open") && stdout.contains("echoed 3 messages"),
        "{stdout}"
    );
    assert!(stdout.contains("pair relay -> relay"), "{stdout}");
    let trace = server.stderr_so_far();
    assert_eq!(trace.matches("Allocate Success").count(), 2, "{trace}");
    assert!(trace.contains("→ ChannelData 0x4000 to"), "{trace}");
}

#[test]
fn permissions_send_and_data_indications_in_process() {
    netns::enter();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = turn::Config {
        users: vec![("u".into(), "p".into())],
        ..turn::Config::default()
    };
    let server = turn::spawn(socket, config).unwrap();
    let peer = echo_peer();
    let mut c = Client::new(server.addr(), "u", "p");
    let m = c.allocate();
    assert_eq!(
        m.typ,
        MessageType::new(METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE)
    );
    let relayed = c.relayed(&m);
    // The response is signed with the user's long-term key (RFC 8489 §9.2.4).
    let key = MessageIntegrity::new_long_term_integrity("u".into(), c.realm.clone(), "p".into());
    key.check(&mut m.clone()).expect("a signed response");
    // No permission yet: a Send indication is dropped, nothing comes back.
    c.send_indication(peer, b"too early");
    c.sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        c.sock.recv_from(&mut buf).is_err(),
        "no permission, no relay"
    );
    c.sock
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let m = c.with_peer(METHOD_CREATE_PERMISSION, peer, &[]);
    assert_eq!(code(&m), None, "CreatePermission for loopback");
    c.send_indication(peer, b"hello by indication");
    let back = stun_codec::decode(&c.next(), false).expect("a Data indication");
    assert_eq!(back.typ, MessageType::new(METHOD_DATA, CLASS_INDICATION));
    assert_eq!(back.get(ATTR_DATA).unwrap(), b"hello by indication");
    let from = parse_xor_address(
        &back.get(ATTR_XOR_PEER_ADDRESS).unwrap(),
        &back.transaction_id.0,
    );
    assert_eq!(from, Some(peer));
    // The peer saw the relayed address as the sender: a second socket of the peer's host
    // sending to the relayed address is heard too (permissions are per IP, §9).
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    other.send_to(b"from another port", relayed).unwrap();
    let back = stun_codec::decode(&c.next(), false).unwrap();
    assert_eq!(back.get(ATTR_DATA).unwrap(), b"from another port");
    server.stop();
}

#[test]
fn hostile_clients_are_refused_with_their_codes_and_a_good_client_is_still_served() {
    netns::enter();
    let mut server = spawn_netlab(
        &[
            "turn",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--user",
            "good:pw",
            "--user",
            "greedy:pw",
            "--user",
            "other:pw",
            "--max-per-user",
            "2",
            "--max-allocations",
            "4",
            "--nonce-lifetime",
            "2",
        ],
        &[],
    );
    let addr = server.listening();
    let peer = echo_peer();

    // No credentials: 401 with REALM and NONCE, and no MESSAGE-INTEGRITY on it.
    let anon = Client::new(addr, "good", "pw");
    let m = anon.once(
        METHOD_ALLOCATE,
        &[(ATTR_REQUESTED_TRANSPORT, vec![17, 0, 0, 0])],
        false,
    );
    assert_eq!(code(&m), Some(401));
    assert!(
        m.contains(ATTR_REALM) && m.contains(ATTR_NONCE) && !m.contains(ATTR_MESSAGE_INTEGRITY)
    );

    // A wrong password, an unknown user: 401 again, however often they try.
    let mut wrong = Client::new(addr, "good", "not-the-password");
    assert_eq!(code(&wrong.allocate()), Some(401));
    let mut nobody = Client::new(addr, "nobody", "pw");
    assert_eq!(code(&nobody.allocate()), Some(401));
    // A USERNAME that tries to forge a trace line is quoted, not printed raw.
    let mut forger = Client::new(addr, "x\n[stun] · allocation granted", "pw");
    assert_eq!(code(&forger.allocate()), Some(401));

    // A nonce the server never gave: 438 with a new one.
    let mut forged = Client::new(addr, "good", "pw");
    forged.realm = "netlab".into();
    forged.nonce = "0-0000000000000000".into();
    let m = forged.once(
        METHOD_ALLOCATE,
        &[(ATTR_REQUESTED_TRANSPORT, vec![17, 0, 0, 0])],
        true,
    );
    assert_eq!(code(&m), Some(438));
    assert!(m.contains(ATTR_NONCE));

    // The good client: an allocation, a permission, the relay works.
    let mut good = Client::new(addr, "good", "pw");
    let m = good.allocate();
    assert_eq!(code(&m), None, "the good client allocates");
    // Another Allocate from the same 5-tuple: 437.
    assert_eq!(code(&good.allocate()), Some(437));
    // TCP is not relayed: 442 (from another client, which has no allocation yet).
    let mut tcp = Client::new(addr, "good", "pw");
    let m = tcp.request(
        METHOD_ALLOCATE,
        &[(ATTR_REQUESTED_TRANSPORT, vec![6, 0, 0, 0])],
    );
    assert_eq!(code(&m), Some(442));
    // Refresh without an allocation: 437.
    assert_eq!(code(&tcp.request(METHOD_REFRESH, &[])), Some(437));
    // An attribute the server must understand but does not: 420.
    let m = good.request(METHOD_REFRESH, &[(AttrType(0x0031), vec![0; 4])]);
    assert_eq!(code(&m), Some(420));

    // The open relay abuse: a permission to 8.8.8.8 is 403, and a Send to it is dropped.
    let outside: SocketAddr = "8.8.8.8:53".parse().unwrap();
    assert_eq!(
        code(&good.with_peer(METHOD_CREATE_PERMISSION, outside, &[])),
        Some(403)
    );
    assert_eq!(
        code(&good.with_peer(
            METHOD_CHANNEL_BIND,
            outside,
            &[(ATTR_CHANNEL_NUMBER, vec![0x40, 0x01, 0, 0])]
        )),
        Some(403)
    );
    good.send_indication(outside, b"amplify me");
    // A channel number outside 0x4000-0x4FFF: 400.
    let m = good.with_peer(
        METHOD_CHANNEL_BIND,
        peer,
        &[(ATTR_CHANNEL_NUMBER, vec![0x30, 0x00, 0, 0])],
    );
    assert_eq!(code(&m), Some(400));

    // ChannelData for a channel never bound, garbage, a short ChannelData: dropped.
    good.sock
        .send_to(&[0x40, 0x02, 0x00, 0x04, 1, 2, 3, 4], addr)
        .unwrap();
    good.sock
        .send_to(&[0x40, 0x00, 0x00, 0x40, 1], addr)
        .unwrap();
    good.sock.send_to(b"\x99 garbage", addr).unwrap();
    good.sock.send_to(&[0x00, 0x01, 0x00], addr).unwrap();

    // The flood: "greedy" may hold 2 allocations (486 beyond), the server 4 (508 beyond).
    let mut greedy: Vec<Client> = (0..3).map(|_| Client::new(addr, "greedy", "pw")).collect();
    let codes: Vec<Option<u16>> = greedy.iter_mut().map(|c| code(&c.allocate())).collect();
    assert_eq!(codes, [None, None, Some(486)]);
    let mut second = Client::new(addr, "good", "pw");
    assert_eq!(code(&second.allocate()), None, "the 4th allocation");
    let mut fifth = Client::new(addr, "other", "pw");
    assert_eq!(code(&fifth.allocate()), Some(508));

    // Through it all the good client is served: a channel to the echo peer, data both ways.
    let m = good.with_peer(
        METHOD_CHANNEL_BIND,
        peer,
        &[(ATTR_CHANNEL_NUMBER, vec![0x40, 0x01, 0, 0])],
    );
    assert_eq!(code(&m), None);
    good.sock
        .send_to(
            &[
                0x40, 0x01, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o', 0, 0, 0,
            ],
            addr,
        )
        .unwrap();
    assert_eq!(
        good.next(),
        [0x40, 0x01, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o']
    );

    // The nonce goes stale after 2 s: 438, then the client retries with the new one.
    std::thread::sleep(Duration::from_millis(2100));
    let m = good.once(METHOD_REFRESH, &[], true);
    assert_eq!(code(&m), Some(438));
    good.learn(&m);
    assert_eq!(code(&good.once(METHOD_REFRESH, &[], true)), None);

    let trace = server.stderr_until(&["Refresh Success LIFETIME=600"], Duration::from_secs(5));
    for want in [
        "Allocate Error 401 Unauthorized",
        "no user \"nobody\"",
        "does not verify with \"good\"'s key",
        "Allocate Error 438 Stale Nonce",
        "Allocate Error 437 Allocation Mismatch",
        "Allocate Error 442 Unsupported Transport Protocol",
        "Refresh Error 437 Allocation Mismatch",
        "Refresh Error 420 Unknown Attribute",
        "CreatePermission Error 403 Forbidden",
        "peer 8.8.8.8 is outside the allowed addresses",
        "ChannelBind Error 403 Forbidden",
        "ChannelBind Error 400 Bad Request",
        "to 8.8.8.8:53 dropped: no permission for 8.8.8.8",
        "ChannelData 0x4002 from",
        "dropped: channel not bound",
        "dropped: its length field exceeds",
        "dropped: first byte 153 is neither STUN nor ChannelData",
        "dropped: not a STUN message",
        "Allocate Error 486 Allocation Quota Reached",
        "Allocate Error 508 Insufficient Capacity",
        "Refresh Error 438 Stale Nonce",
        "USERNAME=\"x\\n[stun] · allocation granted\"",
    ] {
        assert!(trace.contains(want), "{want:?} missing:\n{trace}");
    }
    assert!(
        !trace.contains("→ 8.8.8.8"),
        "nothing was relayed to 8.8.8.8:\n{trace}"
    );
}

#[test]
fn an_allocation_expires_and_frees_its_port() {
    netns::enter();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = turn::Config {
        default_lifetime: Duration::from_millis(600),
        max_lifetime: Duration::from_millis(600),
        ..turn::Config::default()
    };
    let server = turn::spawn(socket, config).unwrap();
    let mut c = Client::new(server.addr(), "netlab", "netlab");
    let m = c.allocate();
    let relayed = c.relayed(&m);
    assert!(
        UdpSocket::bind(relayed).is_err(),
        "the relayed port is held"
    );
    std::thread::sleep(Duration::from_millis(900));
    assert!(
        UdpSocket::bind(relayed).is_ok(),
        "the expired allocation's port is free"
    );
    // And the client's allocation is gone: 437.
    assert_eq!(code(&c.request(METHOD_REFRESH, &[])), Some(437));
    server.stop();
}

#[test]
fn chromium_reaches_the_rust_peer_through_the_relay_only() {
    netns::enter();
    require("node");
    require("chromium");
    let module = concat!(env!("CARGO_MANIFEST_DIR"), "/node_modules/playwright-core");
    assert!(
        std::path::Path::new(module).exists(),
        "playwright-core is missing: run `make deps` (npm install, no browser download)"
    );
    let mut page = spawn_netlab(
        &["webrtc", "serve", "--addr", "127.0.0.1:0"],
        &[("NETLAB_TRACE", "stun")],
    );
    let page_addr = page.listening();
    let mut relay = spawn_netlab(
        &[
            "turn",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--user",
            "chromium:pw",
        ],
        &[],
    );
    let turn_addr = relay.listening();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/stun_turn/chromium_relay.js"
    );
    let out = run(
        "node",
        &[
            script,
            &format!("http://{page_addr}/"),
            &turn_addr.port().to_string(),
            "chromium",
            "pw",
        ],
        b"",
        &[],
        Duration::from_secs(90),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "chromium: {stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("\"local\":\"relay\""), "{stdout}");
    let trace = relay.stderr_until(&["→ ChannelData 0x4000 to"], Duration::from_secs(10));
    let relayed = trace
        .lines()
        .find_map(|l| l.split("XOR-RELAYED-ADDRESS=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no allocation:\n{trace}"))
        .to_string();
    for want in [
        "Allocate Error 401 Unauthorized",
        "Allocate Success",
        "CreatePermission Success permission for 127.0.0.1",
        "ChannelBind Success channel 0x4000",
    ] {
        assert!(trace.contains(want), "{want:?} missing:\n{trace}");
    }
    // The Rust peer's ICE-lite side was checked from the relayed address, not from Chromium.
    let checks = page.stderr_until(
        &[&format!("Binding Request from {relayed}")],
        Duration::from_secs(5),
    );
    assert!(
        checks.contains(&format!("Binding Request from {relayed}")),
        "{checks}"
    );
}

#[test]
fn a_retransmitted_allocate_gets_its_answer_again_and_the_server_is_no_peer() {
    netns::enter();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = turn::spawn(socket, turn::Config::default()).unwrap();
    let mut c = Client::new(server.addr(), "netlab", "netlab");
    let challenge = c.once(METHOD_ALLOCATE, &[], false);
    c.learn(&challenge);
    let udp = [(ATTR_REQUESTED_TRANSPORT, vec![17, 0, 0, 0])];
    let tid = TransactionId::new();
    let first = c.once_as(tid, METHOD_ALLOCATE, &udp, true);
    // Its answer "lost": the same request again, same transaction id.
    let again = c.once_as(tid, METHOD_ALLOCATE, &udp, true);
    assert_eq!(code(&first), None);
    assert_eq!(
        code(&again),
        None,
        "a retransmission is not a second allocation"
    );
    assert_eq!(c.relayed(&first), c.relayed(&again));
    // A new transaction asking for a second allocation on the same 5-tuple: 437.
    assert_eq!(code(&c.once(METHOD_ALLOCATE, &udp, true)), Some(437));
    // The server's own address is loopback, but relaying to it would loop: 403.
    let m = c.with_peer(METHOD_CREATE_PERMISSION, server.addr(), &[]);
    assert_eq!(code(&m), Some(403));
    server.stop();
}

/// A small deterministic generator (xorshift64*): the same "random" input on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn authenticated_nonsense_never_stops_the_server() {
    netns::enter();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = turn::spawn(socket, turn::Config::default()).unwrap();
    let addr = server.addr();
    let mut fuzz = Client::new(addr, "netlab", "netlab");
    assert_eq!(code(&fuzz.allocate()), None);
    let methods = [
        METHOD_ALLOCATE,
        METHOD_REFRESH,
        METHOD_CREATE_PERMISSION,
        METHOD_CHANNEL_BIND,
        METHOD_SEND,
        METHOD_CONNECT,
    ];
    let attrs = [
        ATTR_LIFETIME,
        ATTR_REQUESTED_TRANSPORT,
        ATTR_XOR_PEER_ADDRESS,
        ATTR_CHANNEL_NUMBER,
        ATTR_DATA,
        ATTR_DONT_FRAGMENT,
        AttrType(0x8031),
    ];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut answered = 0;
    for i in 0..1500 {
        let method = methods[rng.below(methods.len() as u64) as usize];
        let mut list = Vec::new();
        for _ in 0..rng.below(4) {
            let t = attrs[rng.below(attrs.len() as u64) as usize];
            let len = [0, 1, 2, 4, 8, 20, 7][rng.below(7) as usize];
            list.push((t, rng.bytes(len)));
        }
        if i % 5 == 0 {
            // ChannelData with any number and any length field.
            let mut cd = vec![0x40 | rng.below(16) as u8, rng.next() as u8];
            let len = 2 + rng.below(40) as usize;
            cd.extend(rng.bytes(len));
            fuzz.sock.send_to(&cd, addr).unwrap();
            continue;
        }
        let class = if method == METHOD_SEND {
            CLASS_INDICATION
        } else {
            CLASS_REQUEST
        };
        let tid = TransactionId::new();
        let user = TextAttribute::new(ATTR_USERNAME, fuzz.user.clone());
        let realm = TextAttribute::new(ATTR_REALM, fuzz.realm.clone());
        let nonce = TextAttribute::new(ATTR_NONCE, fuzz.nonce.clone());
        let key = MessageIntegrity::new_long_term_integrity(
            fuzz.user.clone(),
            fuzz.realm.clone(),
            fuzz.pass.clone(),
        );
        let typ = MessageType::new(method, class);
        let bytes =
            stun_codec::build(typ, tid, &list, &[&user, &realm, &nonce], Some(&key)).unwrap();
        fuzz.sock.send_to(&bytes, addr).unwrap();
        if class == CLASS_REQUEST {
            // Every request gets an answer, success or error: none is lost to a panic.
            let m = loop {
                let m = stun_codec::decode(&fuzz.next(), false);
                if let Ok(m) = m {
                    if m.transaction_id == tid {
                        break m;
                    }
                }
            };
            assert!(m.typ.class == CLASS_SUCCESS_RESPONSE || code(&m).is_some());
            answered += 1;
        }
    }
    assert!(answered > 800, "{answered} requests answered");
    // And a fresh client is served as if nothing happened.
    let peer = echo_peer();
    let mut good = Client::new(addr, "netlab", "netlab");
    assert_eq!(code(&good.allocate()), None);
    let m = good.with_peer(
        METHOD_CHANNEL_BIND,
        peer,
        &[(ATTR_CHANNEL_NUMBER, vec![0x4f, 0xff, 0, 0])],
    );
    assert_eq!(code(&m), None);
    good.sock
        .send_to(&[0x4f, 0xff, 0x00, 0x02, b'o', b'k'], addr)
        .unwrap();
    assert_eq!(good.next(), [0x4f, 0xff, 0x00, 0x02, b'o', b'k']);
    server.stop();
}
