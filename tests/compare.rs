//! `netlab compare`: the figures come from real runs and make sense — every transport carries
//! the note and its bulk whole, HTTP/3 needs fewer round trips than HTTPS over TCP, a second
//! visit answers in 1 round trip over HTTP/3 (0-RTT) and without the certificate over HTTPS
//! (resumed), a repeated HTTP/2 request's header block is smaller than the first — and on a
//! lossy path (a network
//! namespace with nftables, the same drops every run) HTTP/2's streams stall together while
//! HTTP/3's do not.

mod common;
use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(180);

fn row<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["transport"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {v:#}"))
}

#[test]
fn the_table_is_measured_and_makes_sense() {
    let out = run_netlab(&["compare", "--json", "--size", "300000"], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let note = v["note_bytes"].as_u64().unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 10, "{v:#}");
    // The TCP echo carries the note and nothing else, each way.
    let tcp = row(&v, "TCP echo");
    assert_eq!(
        (tcp["bytes_up"].as_u64(), tcp["bytes_down"].as_u64()),
        (Some(note), Some(note))
    );
    assert_eq!(tcp["round_trips"], 2, "SYN, then the note: {tcp}");
    for r in v["rows"].as_array().unwrap() {
        assert!(r["bytes_down"].as_u64().unwrap() >= note, "{r}");
        assert!(r["bulk_mb_per_s"].as_f64().unwrap() > 0.0, "{r}");
        // A second visit GETs the note (it goes down only), and over QUIC in 0-RTT: the
        // request leaves in the first flight (see `second_visits`).
        if r["second_visit"] == false {
            assert!(r["bytes_up"].as_u64().unwrap() >= note, "{r}");
            assert!(r["round_trips"].as_u64().unwrap() >= 2, "{r}");
        }
    }
    // Every protocol on top of TCP adds bytes of its own.
    for name in [
        "ZeroMQ REQ/REP",
        "HTTP/1.1",
        "HTTPS (HTTP/1.1 + TLS)",
        "HTTP/2 + TLS",
        "gRPC (HTTP/2 cleartext)",
    ] {
        assert!(
            row(&v, name)["bytes_up"].as_u64() > tcp["bytes_up"].as_u64(),
            "{name}"
        );
    }
    // TLS costs a round trip over TCP; QUIC folds it into its own handshake.
    let https = row(&v, "HTTPS (HTTP/1.1 + TLS)")["round_trips"]
        .as_u64()
        .unwrap();
    let h1 = row(&v, "HTTP/1.1")["round_trips"].as_u64().unwrap();
    let h3 = row(&v, "HTTP/3 (QUIC)")["round_trips"].as_u64().unwrap();
    assert_eq!(https, h1 + 1, "{v:#}");
    assert!(h3 < https, "HTTP/3 {h3} round trips, HTTPS {https}");
    second_visits(&v);
    // A data channel opens in steps, each a round trip of its own: ICE, DTLS (with its
    // cookie exchange), SCTP's four-way handshake, DCEP, then the note.
    let webrtc = row(&v, "WebRTC data channel")["round_trips"]
        .as_u64()
        .unwrap();
    assert!(webrtc >= 6, "WebRTC {webrtc} round trips");
    // HPACK: the same GET again costs fewer header bytes than the first.
    let blocks = v["http2_header_blocks_of_two_identical_gets"]
        .as_array()
        .unwrap();
    assert_eq!(blocks.len(), 2, "{v:#}");
    assert!(blocks[1].as_u64() < blocks[0].as_u64(), "{blocks:?}");
}

/// The second visits (each exchange checked the answer against the bytes it asked for:
/// the bodies are equal, or the run would have failed). HTTP/3's request leaves in its
/// first flight, 0-RTT, and is answered one round trip later. TLS 1.3 makes one round trip
/// before the request, resumed or not (PSK or certificate, the ServerHello and Finished
/// come back either way): what resumption saves is the certificate and its signature, in
/// bytes and in time, not a round trip.
fn second_visits(v: &serde_json::Value) {
    let zero_rtt = row(v, "HTTP/3 (0-RTT)");
    assert_eq!(zero_rtt["second_visit"], true, "{zero_rtt}");
    assert_eq!(zero_rtt["round_trips"], 1, "0-RTT: {zero_rtt}");
    let h3 = row(v, "HTTP/3 (QUIC)")["round_trips"].as_u64().unwrap();
    assert!(h3 > 1, "{h3}");
    let full = row(v, "HTTPS (HTTP/1.1 + TLS)");
    let resumed = row(v, "HTTPS (resumed)");
    assert_eq!(resumed["round_trips"], full["round_trips"], "{v:#}");
    assert_eq!(
        resumed["round_trips"], 3,
        "TCP, TLS, the request: {resumed}"
    );
    // The full handshake's certificate chain is some hundreds of bytes that a resumed one
    // does not send; the GET answered brings the note only (as the POST's echo did).
    let (full_down, resumed_down) = (
        full["bytes_down"].as_u64().unwrap(),
        resumed["bytes_down"].as_u64().unwrap(),
    );
    assert!(
        resumed_down + 300 < full_down,
        "resumed {resumed_down} bytes down, full {full_down}"
    );
}

#[test]
fn the_text_table_names_every_transport() {
    let out = run_netlab(&["compare", "--size", "100000"], b"", &[], T);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    for name in [
        "TCP echo",
        "ZeroMQ REQ/REP",
        "HTTP/1.1",
        "HTTPS",
        "HTTP/2 + TLS",
        "gRPC",
        "HTTP/3 (QUIC)",
        "HTTPS (resumed)",
        "HTTP/3 (0-RTT)",
        "(1 TCP)",
        "HPACK",
    ] {
        assert!(t.contains(name), "{name} missing:\n{t}");
    }
}

fn namespaces_work() -> bool {
    let ok = std::process::Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            "ip link set lo up && nft list tables && tc qdisc show dev lo",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no network namespace with nftables and tc here (needs root): under CI=true this is a failure"
        );
        eprintln!("skipped: cannot make a network namespace here (needs root)");
    }
    ok
}

#[test]
fn on_a_lossy_path_http2_streams_stall_together_and_http3_streams_do_not() {
    if !namespaces_work() {
        return;
    }
    let dir = TempDir::new("compare-hol");
    let svg = dir.path("hol.svg");
    let out = run_netlab(
        &[
            "compare",
            "--loss",
            "2",
            "--streams",
            "4",
            "--stream-size",
            "600000",
            "--json",
            "--svg",
            &svg,
        ],
        b"",
        &[],
        T,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let run = |version: &str| {
        v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["version"] == version)
            .unwrap_or_else(|| panic!("no {version}"))
            .clone()
    };
    for version in ["HTTP/1.1", "HTTP/2", "HTTP/3"] {
        let r = run(version);
        let streams = r["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 4);
        for s in streams {
            let last = s.as_array().unwrap().last().unwrap();
            assert_eq!(
                last[1].as_u64(),
                Some(600_000),
                "{version}: a stream did not arrive whole"
            );
        }
    }
    let (h2, h3) = (run("HTTP/2"), run("HTTP/3"));
    // Margins wide enough for a loaded 2-core machine: the measured runs give HTTP/2
    // 40–60 stalls of ≥ 20 ms, over 90 % of them shared by every stream, and HTTP/3 none.
    let (h2_stalls, h3_stalls) = (
        h2["stalls"].as_u64().unwrap(),
        h3["stalls"].as_u64().unwrap(),
    );
    assert!(
        h2_stalls >= 5,
        "HTTP/2 stalled only {h2_stalls} times: {h2}"
    );
    assert!(
        h3_stalls < h2_stalls,
        "HTTP/3 {h3_stalls} stalls, HTTP/2 {h2_stalls}"
    );
    let shared2 = h2["shared_stall_fraction"].as_f64().unwrap();
    let shared3 = h3["shared_stall_fraction"].as_f64().unwrap();
    assert!(
        shared2 > 0.7,
        "HTTP/2's streams stalled together only {shared2:.2} of the time"
    );
    // A loaded machine can pause the client process itself for 20 ms, which stalls every
    // stream at once whatever the version; such pauses are few, while HTTP/2's head-of-line
    // stalls are many. So HTTP/3's shared stalls are counted, not taken as a fraction of
    // its few stalls: at most a quarter of HTTP/2's, or 3.
    let together2 = shared2 * h2_stalls as f64;
    let together3 = shared3 * h3_stalls as f64;
    assert!(
        together3 <= (together2 / 4.0).max(3.0),
        "HTTP/3's streams stalled together {together3:.0} times ({shared3:.2} of {h3_stalls}), HTTP/2's {together2:.0}"
    );
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.starts_with("<svg") && chart.matches("<polyline").count() == 12,
        "{chart}"
    );
}

#[test]
fn without_a_namespace_the_lossy_run_says_so_in_one_line() {
    // No unshare(1) on this PATH: as on a machine where the user cannot make a namespace.
    let out = run_netlab(
        &["compare", "--loss", "2"],
        b"",
        &[("PATH", "/nonexistent")],
        T,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: --loss needs a network namespace"),
        "{err}"
    );
    // And a loss out of range is a usage error.
    let out = run_netlab(&["compare", "--loss", "90"], b"", &[], T);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn a_bulk_over_the_servers_body_limit_is_a_usage_error_that_states_it() {
    // The HTTP/1.1 server refuses a body over 8 MiB: said before any server starts, not
    // met as a broken pipe mid-upload.
    let out = run_netlab(&["compare", "--size", "20000000"], b"", &[], T);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: --size 20000000: at most 8388608 bytes"),
        "{err}"
    );
    // And --help names the limit.
    let out = run_netlab(&["compare", "--help"], b"", &[], T);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("at most 8388608"),
        "{}",
        text(&out.stdout)
    );
}
