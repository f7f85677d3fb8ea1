//! Partial reliability on a lossy path (`netlab webrtc partial`, src/webrtc/partial.rs):
//! two netlab peers in one process, through the impairing UDP relay (5 % loss each way,
//! seed 1, 20 ms delay), send the same timestamped messages at 50 a second on a reliable
//! ordered channel and on an unordered maxRetransmits=0 one. No namespace, no other peer.

use netlab::webrtc::partial::{self, Settings};
use std::time::Duration;

#[test]
fn the_unreliable_channel_keeps_fresher_messages_and_loses_some_under_loss() {
    netlab::trace::enable_from_env().unwrap();
    let settings = Settings {
        loss: 5,
        delay: Duration::from_millis(20),
        seed: 1,
        ..Settings::default()
    };
    let r = partial::run(settings).unwrap();
    let table = partial::table(&r);
    assert!(
        r.path.lost[0] > 0,
        "the relay lost none of the sender's datagrams:\n{table}"
    );
    // Both directions of the claim. The reliable channel delivers everything, but a lost
    // chunk holds back every later message on its stream until it is retransmitted...
    assert_eq!(r.reliable.delivered, r.reliable.sent, "{table}");
    // ...while the unordered channel without retransmissions gave some messages up
    // (FORWARD-TSN) and delivered the next ones as they came: its freshest message is younger.
    assert!(
        r.telemetry.delivered < r.telemetry.sent,
        "the unreliable channel lost nothing on a lossy path:\n{table}"
    );
    assert!(
        r.telemetry.delivered * 10 > r.telemetry.sent * 8,
        "most messages arrive all the same:\n{table}"
    );
    assert!(
        r.telemetry.age_p99 < r.reliable.age_p99,
        "the unreliable channel's 99th percentile age is not below the reliable one's:\n{table}"
    );
    // Never younger than the path's own delay.
    assert!(r.telemetry.age_p50 >= settings.delay, "{table}");
}
