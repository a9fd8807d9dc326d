//! Silent peers: the SETTINGS and keep-alive timers drop a peer that stops answering.

use crate::peer::{handshaken_server, Peer, Sent};
use crate::wire::{self, frame};
use sallyport::proto::frame::{flags, kind, Frame, Ping, Settings, PREFACE};
use sallyport::proto::h2::{Config, ConnectionError, Keepalive};
use sallyport::proto::{Reason, Timestamp};
use std::time::Duration;

/// A peer that never acknowledges our SETTINGS is dropped after `settings_timeout`.
#[test]
fn peer_that_never_acks_settings_times_out() {
    let mut p = Peer::server(Config::default());
    let mut f = PREFACE.to_vec();
    f.extend(wire::settings(Settings::default()));
    p.feed(&f).unwrap();
    p.flush();
    let deadline = p.conn.poll_timeout().expect("a SETTINGS timer");
    assert_eq!(deadline, Timestamp::from_duration(Duration::from_secs(10)));
    let early = Timestamp::from_duration(Duration::from_millis(9_999));
    assert_eq!(p.conn.handle_timeout(early), Ok(()));
    assert!(p.flush().is_empty());
    let res = p.conn.handle_timeout(deadline);
    assert_eq!(res, Err(ConnectionError::SettingsTimeout));
    p.expect_goaway(&ConnectionError::SettingsTimeout, Reason::SETTINGS_TIMEOUT);
}

/// A peer that stops answering keep-alive PINGs is declared dead `max_missed` intervals after
/// the last byte it sent.
#[test]
fn peer_that_ignores_keepalive_is_dropped() {
    let secs = |n: u64| Timestamp::from_duration(Duration::from_secs(n));
    let mut p = handshaken_server(Config {
        keepalive: Some(Keepalive {
            interval: Duration::from_secs(1),
            max_missed: 2,
        }),
        ..Config::default()
    });
    // Answered PINGs keep it alive indefinitely.
    for n in 1..=5 {
        assert_eq!(p.conn.poll_timeout(), Some(secs(n)));
        p.now = secs(n);
        p.conn.handle_timeout(secs(n)).unwrap();
        let sent = p.flush();
        let payload = match &sent[..] {
            [Sent::Frame(Frame::Ping(Ping {
                ack: false,
                payload,
            }))] => *payload,
            other => panic!("{other:?}"),
        };
        p.feed(&frame(kind::PING, flags::ACK, 0, &payload)).unwrap();
        assert!(p.events().is_empty(), "keep-alive ACKs are not reported");
    }
    // Then silence from second 5: one more PING at 6, and the deadline at 5 + 2 intervals.
    p.conn.handle_timeout(secs(6)).unwrap();
    p.flush();
    assert_eq!(p.conn.poll_timeout(), Some(secs(7)));
    let res = p.conn.handle_timeout(secs(7));
    assert_eq!(res, Err(ConnectionError::KeepaliveTimeout));
    p.expect_goaway(&ConnectionError::KeepaliveTimeout, Reason::NO_ERROR);
}
