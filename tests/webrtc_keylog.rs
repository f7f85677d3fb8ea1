//! SSLKEYLOGFILE for the data channel: each side of a netlab WebRTC session appends the DTLS
//! connection's CLIENT_RANDOM line, and tshark, given either side's key log, decrypts a capture
//! of the session down to SCTP and DCEP (`scripts/dtls-sctp.py` lifts the decrypted SCTP
//! packets into a file of their own: Debian's tshark 4.0 cannot hand DTLS data to SCTP).
//! Without the right key nothing decrypts.

mod common;
use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Decrypts `capture` with `keys` into SCTP; returns (DCEP lines, PPID 51 payloads as hex),
/// or None when the script found nothing to decrypt.
fn decrypted(dir: &TempDir, capture: &str, keys: &str) -> Option<(String, String)> {
    let sctp = dir.path("sctp.pcap");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/dtls-sctp.py");
    let out = run("python3", &[script, capture, keys, &sctp], b"", &[], T);
    if out.status.code() != Some(0) {
        return None;
    }
    let field = |filter: &str, fields: &[&str]| {
        let mut args = vec!["-r", &sctp, "-Y", filter, "-T", "fields"];
        for f in fields {
            args.extend(["-e", f]);
        }
        text(&run("tshark", &args, b"", &[], T).stdout)
    };
    Some((
        field("rtcdc", &["rtcdc.message_type", "rtcdc.label"]),
        field("sctp.data_payload_proto_id == 51", &["data.data"]),
    ))
}

#[test]
fn tshark_decrypts_a_data_channel_into_sctp_and_dcep_with_either_sides_key_log() {
    require("tshark");
    require("text2pcap");
    let dir = TempDir::new("webrtc-keylog");
    let (server_keys, client_keys) = (dir.path("server.keys"), dir.path("client.keys"));
    let mut server = spawn_netlab(
        &["webrtc", "serve", "--addr", "127.0.0.1:0"],
        &[("SSLKEYLOGFILE", &server_keys)],
    );
    let addr = server.listening();
    // The session's UDP ports are picked at ICE time: capture all UDP on loopback (the
    // script finds this session's DTLS by the ClientHello random in the key log).
    let capture_file = dir.path("webrtc.pcapng");
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tshark = capture("udp", &capture_file, || {
        let _ = probe.send_to(b"probe", ("127.0.0.1", free_udp_port()));
    });
    let url = format!("http://{addr}/webrtc");
    let out = run_netlab(
        &["webrtc", "connect", &url, "hello", "world"],
        b"",
        &[("SSLKEYLOGFILE", &client_keys)],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\nworld\n");
    std::thread::sleep(Duration::from_millis(300));
    stop_capture(tshark);
    drop(server);

    let (client_log, server_log) = (
        std::fs::read_to_string(&client_keys).unwrap(),
        std::fs::read_to_string(&server_keys).unwrap(),
    );
    assert!(client_log.starts_with("CLIENT_RANDOM "), "{client_log}");
    // Both sides name the same DTLS connection by the same client random and secret.
    assert_eq!(client_log, server_log);
    for keys in [&client_keys, &server_keys] {
        let (dcep, payloads) = decrypted(&dir, &capture_file, keys)
            .unwrap_or_else(|| panic!("nothing decrypted with {keys}"));
        // DATA_CHANNEL_OPEN (3) with the channel's label, then DATA_CHANNEL_ACK (2).
        assert!(dcep.contains("3\tchat"), "{keys}: DCEP seen:\n{dcep}");
        assert!(dcep.lines().any(|l| l.starts_with('2')), "{keys}: {dcep}");
        // The messages, as WebRTC String (PPID 51): "hello" and "world", both ways.
        assert!(
            payloads.contains("68656c6c6f") && payloads.contains("776f726c64"),
            "{keys}: PPID 51 payloads:\n{payloads}"
        );
    }
    // The wrong secret for the same connection decrypts nothing.
    let wrong = dir.path("wrong.keys");
    let random = client_log.split_whitespace().nth(1).unwrap();
    std::fs::write(
        &wrong,
        format!("CLIENT_RANDOM {random} {}\n", "00".repeat(48)),
    )
    .unwrap();
    assert_eq!(decrypted(&dir, &capture_file, &wrong), None);
}
