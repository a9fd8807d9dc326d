//! CONTINUATION floods: a header block is capped in frames and bytes before it is buffered.

use crate::hp;
use crate::peer::handshaken_server;
use crate::wire::{cont, headers};
use sallyport::proto::frame::HEADER_LEN;
use sallyport::proto::h2::{Config, Event, Flood};

/// CVE-2024-27316: endless CONTINUATION; the frame-count cap (16) trips first.
#[test]
fn continuation_flood_frame_cap() {
    let mut p = handshaken_server(Config::default());
    let mut attack = headers(1, &[b'a'; 100], false, false);
    let first = attack.len();
    for _ in 0..10_000 {
        attack.extend(cont(1, &[b'a'; 100], false));
    }
    let res = p.feed(&attack);
    let consumed = attack.len() - p.inbuf.len();
    assert_eq!(
        consumed,
        first + 17 * (HEADER_LEN + 100),
        "consumed {consumed}"
    );
    assert_eq!(p.conn.open_streams(), 0);
    p.expect_flood(res, Flood::HeaderBlock);
    assert!(p.sent_total <= 64);
}

/// The byte cap trips before more than `max_header_block_size` is buffered.
#[test]
fn continuation_flood_byte_cap() {
    let cap = 64 << 10;
    let mut p = handshaken_server(Config {
        max_continuation_frames: 1_000_000,
        max_header_block_size: cap,
        ..Config::default()
    });
    let frag = vec![b'a'; 16_000];
    let mut attack = headers(1, &frag, false, false);
    for _ in 0..1000 {
        attack.extend(cont(1, &frag, false));
    }
    let res = p.feed(&attack);
    let consumed = attack.len() - p.inbuf.len();
    let frames = consumed / (HEADER_LEN + frag.len());
    // 4 fragments = 64 000 bytes fit; the 5th would make 80 000 > 65 536.
    assert_eq!(frames, 5, "consumed {consumed}");
    assert!((frames - 1) * frag.len() <= cap as usize);
    p.expect_flood(res, Flood::HeaderBlock);
}

/// Empty CONTINUATION frames: still capped by the frame count.
#[test]
fn continuation_flood_empty_frames() {
    let mut p = handshaken_server(Config::default());
    let mut attack = headers(1, b"\x00\x01", false, false);
    for _ in 0..10_000 {
        attack.extend(cont(1, b"", false));
    }
    let res = p.feed(&attack);
    assert!(p.inbuf.len() >= (10_000 - 17) * HEADER_LEN);
    p.expect_flood(res, Flood::HeaderBlock);
}

/// Empty CONTINUATION frames with the count cap lifted: the empty-frame budget stops them.
#[test]
fn continuation_flood_empty_frames_uncapped_count() {
    let mut p = handshaken_server(Config {
        max_continuation_frames: u32::MAX,
        ..Config::default()
    });
    let mut attack = headers(1, b"\x00\x01", false, false);
    let first = attack.len();
    for _ in 0..10_000 {
        attack.extend(cont(1, b"", false));
    }
    let res = p.feed(&attack);
    let consumed = attack.len() - p.inbuf.len();
    assert_eq!(consumed, first + 201 * HEADER_LEN);
    p.expect_flood(res, Flood::EmptyFrames);
}

/// A first fragment already over the block cap is refused before it is buffered.
#[test]
fn header_block_first_fragment_over_cap() {
    let mut p = handshaken_server(Config {
        max_header_block_size: 4096,
        ..Config::default()
    });
    let res = p.feed(&headers(1, &[b'a'; 8000], false, false));
    p.expect_flood(res, Flood::HeaderBlock);
}

/// A large but legitimate block split over CONTINUATION frames within the caps is accepted.
#[test]
fn continuation_within_caps_is_fine() {
    let mut p = handshaken_server(Config::default());
    let big = vec![b'b'; 40_000];
    let block = hp::request("/big", &[(b"x-big", &big)]);
    let (a, rest) = block.split_at(16_000);
    let (b, c) = rest.split_at(16_000);
    let mut f = headers(1, a, true, false);
    f.extend(cont(1, b, false));
    f.extend(cont(1, c, true));
    p.feed(&f).expect("legit CONTINUATION");
    let ev = p.events();
    match &ev[..] {
        [Event::Request { head, .. }] => {
            assert_eq!(head.get("x-big").map(|v| v.len()), Some(40_000))
        }
        other => panic!("{other:?}"),
    }
}
