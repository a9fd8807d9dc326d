//! Floods: rapid reset, made-you-reset, control-frame floods, and a peer that never reads.

use crate::hp;
use crate::peer::{count_requests, generous, handshaken_server, rsts, Sent};
use crate::wire::{self, data, headers, priority, rst, unknown};
use sallyport::proto::frame::{Frame, Ping, Settings, SettingsFrame, HEADER_LEN};
use sallyport::proto::h2::{Config, Event, Flood};
use sallyport::proto::{Reason, StreamId};
use std::time::Duration;

// ========================================================================= rapid reset

/// CVE-2023-44487: HEADERS + RST_STREAM, thousands of times at one instant.
#[test]
fn rapid_reset_burst_is_calmed() {
    let mut p = handshaken_server(Config::default());
    let mut attack = Vec::new();
    for i in 0..5000u32 {
        let id = 1 + 2 * i;
        attack.extend(p.request(id, false));
        attack.extend(rst(id, Reason::CANCEL));
    }
    let res = p.feed(&attack);
    // The burst is 200: the 201st RST_STREAM trips, and nothing after it is even parsed.
    let events = p.events();
    assert_eq!(count_requests(&events), 201);
    assert!(p.conn.open_streams() <= 1, "{}", p.conn.open_streams());
    assert!(p.inbuf.len() > attack.len() * 9 / 10, "kept parsing");
    let g = p.expect_flood(res, Flood::PeerResets);
    assert_eq!(g.last_stream_id.value(), 401);
    // The attacker never read: all we queued for it is the GOAWAY.
    assert!(p.sent_total <= 64, "{} bytes queued", p.sent_total);
}

/// The same pattern at a sustainable rate (a client legitimately cancelling a lot) never trips.
#[test]
fn resets_within_budget_rate_are_tolerated() {
    let mut p = handshaken_server(Config::default());
    // 150 at once (within the burst of 200), then 2000 more at ~90/s (the refill is 100/s).
    for i in 0..2150u32 {
        if i >= 150 {
            p.advance(Duration::from_micros(11_112));
        }
        let id = 1 + 2 * i;
        let mut f = p.request(id, false);
        f.extend(rst(id, Reason::CANCEL));
        p.feed(&f)
            .unwrap_or_else(|e| panic!("pair {i} tripped: {e}"));
        let ev = p.events();
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(matches!(
            ev[1],
            Event::Reset {
                reason: Reason::CANCEL,
                remote: true,
                ..
            }
        ));
        assert_eq!(p.conn.open_streams(), 0);
    }
    assert!(p.conn.error().is_none());
    assert!(p.flush().is_empty(), "resets provoke no output");
    p.expect_usable(1 + 2 * 2150);
}

// ========================================================================= made-you-reset

/// The peer provokes stream errors: DATA on streams it already ended.
#[test]
fn made_you_reset_data_after_end_stream() {
    let mut p = handshaken_server(Config::default());
    let mut attack = Vec::new();
    for i in 0..2000u32 {
        let id = 1 + 2 * i;
        attack.extend(p.request(id, true));
        attack.extend(data(id, b"x", false));
    }
    let res = p.feed(&attack);
    let events = p.events();
    assert_eq!(count_requests(&events), 201);
    let local_resets = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Reset {
                    reason: Reason::STREAM_CLOSED,
                    remote: false,
                    ..
                }
            )
        })
        .count();
    assert_eq!(local_resets, 200);
    assert!(p.conn.open_streams() <= 1);
    let sent = p.flush_keep(&res);
    let r = rsts(&sent);
    assert_eq!(r.len(), 200);
    assert!(r.iter().all(|&(_, reason)| reason == Reason::STREAM_CLOSED));
    // 200 RST_STREAM + GOAWAY is all a non-reading attacker made us queue.
    assert!(p.sent_total <= 200 * 13 + 64, "{}", p.sent_total);
    p.expect_flood_after_flush(res, Flood::LocalResets, sent);
}

/// The peer provokes stream errors with malformed request heads.
#[test]
fn made_you_reset_malformed_heads() {
    let mut p = handshaken_server(Config::default());
    let mut attack = Vec::new();
    for i in 0..2000u32 {
        let block = hp::request("/", &[(b"X-Upper", b"v")]);
        attack.extend(headers(1 + 2 * i, &block, true, true));
    }
    let res = p.feed(&attack);
    assert_eq!(count_requests(&p.events()), 0);
    assert_eq!(p.conn.open_streams(), 0);
    let sent = p.flush_keep(&res);
    let r = rsts(&sent);
    assert_eq!(r.len(), 200);
    assert!(r
        .iter()
        .all(|&(_, reason)| reason == Reason::PROTOCOL_ERROR));
    p.expect_flood_after_flush(res, Flood::LocalResets, sent);
}

// ========================================================================= control-frame floods

#[test]
fn ping_flood() {
    let mut p = handshaken_server(Config::default());
    let attack: Vec<u8> = (0..5000u32)
        .flat_map(|i| wire::ping(u64::from(i).to_be_bytes()))
        .collect();
    let res = p.feed(&attack);
    let sent = p.flush_keep(&res);
    let acks = sent
        .iter()
        .filter(|s| matches!(s, Sent::Frame(Frame::Ping(Ping { ack: true, .. }))))
        .count();
    assert_eq!(acks, 20, "burst of 20");
    assert!(p.sent_total <= 20 * 17 + 64);
    p.expect_flood_after_flush(res, Flood::Pings, sent);
}

#[test]
fn pings_within_rate_are_answered() {
    let mut p = handshaken_server(Config::default());
    for i in 0..300u64 {
        p.advance(Duration::from_millis(250)); // 4/s, the refill is 5/s
        p.feed(&wire::ping(i.to_be_bytes())).unwrap();
        let sent = p.flush();
        assert!(
            matches!(&sent[..], [Sent::Frame(Frame::Ping(Ping { ack: true, payload }))] if *payload == i.to_be_bytes())
        );
    }
}

#[test]
fn settings_flood() {
    let mut p = handshaken_server(Config::default());
    let attack: Vec<u8> = (0..5000)
        .flat_map(|_| wire::settings(Settings::default()))
        .collect();
    let res = p.feed(&attack);
    let sent = p.flush_keep(&res);
    let acks = sent
        .iter()
        .filter(|s| {
            matches!(
                s,
                Sent::Frame(Frame::Settings(SettingsFrame { ack: true, .. }))
            )
        })
        .count();
    // The handshake SETTINGS took one token of the burst of 20.
    assert_eq!(acks, 19);
    p.expect_flood_after_flush(res, Flood::Settings, sent);
}

#[test]
fn empty_data_flood() {
    let mut p = handshaken_server(Config::default());
    let mut attack = p.request(1, false);
    for _ in 0..5000 {
        attack.extend(data(1, b"", false));
    }
    let res = p.feed(&attack);
    assert!(p.inbuf.len() >= (5000 - 201) * HEADER_LEN);
    p.expect_flood(res, Flood::EmptyFrames);
}

#[test]
fn priority_flood() {
    let mut p = handshaken_server(Config::default());
    let attack: Vec<u8> = (0..5000u32).flat_map(|i| priority(1 + 2 * i, 0)).collect();
    let res = p.feed(&attack);
    assert_eq!(p.conn.open_streams(), 0);
    p.expect_flood(res, Flood::EmptyFrames);
}

#[test]
fn unknown_frame_flood() {
    let mut p = handshaken_server(Config::default());
    let attack: Vec<u8> = (0..5000).flat_map(|_| unknown(0x21, 0, b"junk")).collect();
    let res = p.feed(&attack);
    p.expect_flood(res, Flood::EmptyFrames);
}

/// Empty DATA frames on a stream we reset carry no progress either, yet the codec drops them
/// before charging the empty-frame budget.
#[test]
fn empty_data_flood_on_reset_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.conn.reset(StreamId::new(1), Reason::CANCEL);
    p.flush();
    let attack: Vec<u8> = (0..5000).flat_map(|_| data(1, b"", false)).collect();
    let res = p.feed(&attack);
    p.expect_flood(res, Flood::EmptyFrames);
}

// ========================================================================= peer that never reads

/// PINGs within budget, but the peer never reads our ACKs: the pending-control cap trips.
#[test]
fn never_reading_peer_hits_pending_control_cap() {
    let cap: u32 = 64 << 10;
    let mut p = handshaken_server(Config {
        ping_budget: generous(1_000_000),
        max_pending_control_bytes: cap,
        ..Config::default()
    });
    let mut res = Ok(());
    let mut sent_pings = 0;
    for i in 0..100_000u64 {
        res = p.feed(&wire::ping(i.to_be_bytes()));
        sent_pings += 1;
        if res.is_err() {
            break;
        }
    }
    // 17 bytes per ACK: 3855 fit, the 3856th goes over.
    assert_eq!(sent_pings, cap as usize / 17 + 1);
    let sent = p.flush_keep(&res);
    assert!(
        p.sent_total <= cap as usize + 17 + 64,
        "queued {} bytes for a peer that never reads",
        p.sent_total
    );
    p.expect_flood_after_flush(res, Flood::PendingControl, sent);
}

/// The same PING volume from a peer that reads is fine.
#[test]
fn reading_peer_is_not_limited_by_pending_cap() {
    let mut p = handshaken_server(Config {
        ping_budget: generous(1_000_000),
        max_pending_control_bytes: 4096,
        ..Config::default()
    });
    for batch in 0..50u64 {
        let pings: Vec<u8> = (0..200u64)
            .flat_map(|i| wire::ping((batch * 1000 + i).to_be_bytes()))
            .collect();
        p.feed(&pings).unwrap();
        assert_eq!(p.flush().len(), 200);
    }
}
