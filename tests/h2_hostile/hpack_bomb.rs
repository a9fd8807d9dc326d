//! HPACK bombs: a small header block that decodes to megabytes.

use crate::hp;
use crate::peer::{count_requests, handshaken_server, heads, rsts};
use crate::wire::headers;
use bytes::Bytes;
use sallyport::proto::h2::{Config, Event, Flood, ResponseHead};
use sallyport::proto::hpack::Decoder;
use sallyport::proto::{Reason, StreamId};

pub const BOMB_VALUE: usize = 4000;

/// Block 1: a request that inserts a 4000-byte value (dynamic index 62).
fn bomb_seed() -> Vec<u8> {
    let mut b = hp::request("/seed", &[]);
    hp::insert(&mut b, b"x-bomb", &[b'a'; BOMB_VALUE]);
    b
}

/// Block 2: a request referencing index 62 `refs` times.
fn bomb(refs: usize) -> Vec<u8> {
    let mut b = hp::request("/bomb", &[]);
    for _ in 0..refs {
        hp::indexed(&mut b, 62);
    }
    b
}

/// Block 3: a normal request referencing index 62 once (checks the table is in sync).
fn bomb_after() -> Vec<u8> {
    let mut b = hp::request("/after", &[]);
    hp::indexed(&mut b, 62);
    b
}

/// CVE-2016-6581: 4000 one-byte references to a 4 KB entry decode to 16 MB.
#[test]
fn hpack_bomb_gets_431_and_connection_survives() {
    let mut p = handshaken_server(Config::default());
    p.feed(&headers(1, &bomb_seed(), true, true)).unwrap();
    let ev = p.events();
    assert!(
        matches!(&ev[..], [Event::Request { head, .. }] if head.get("x-bomb").map(|v| v.len()) == Some(BOMB_VALUE))
    );
    p.conn
        .send_response(StreamId::new(1), &ResponseHead::new(200), true)
        .unwrap();
    p.flush();
    assert_eq!(p.conn.open_streams(), 0);

    let block = bomb(4000);
    assert!(block.len() < 4100);
    p.feed(&headers(3, &block, true, true))
        .expect("a bomb is a stream error");
    assert_eq!(count_requests(&p.events()), 0);
    assert_eq!(p.conn.open_streams(), 0);
    let sent = p.flush();
    let h = heads(&sent);
    assert_eq!(h.len(), 1, "{sent:?}");
    assert_eq!(h[0].0, 3);
    assert_eq!(h[0].1, vec![(":status".to_owned(), "431".to_owned())]);
    assert!(h[0].2, "431 ends the stream");
    // RFC 9113 §8.1: the rest of the request is refused with RST_STREAM(NO_ERROR).
    assert_eq!(rsts(&sent), vec![(3, Reason::NO_ERROR)]);
    assert!(p.sent_total < 200, "{}", p.sent_total);

    // HPACK state is in sync: index 62 is still the 4000-byte entry.
    p.feed(&headers(5, &bomb_after(), true, true)).unwrap();
    let ev = p.events();
    match &ev[..] {
        [Event::Request {
            stream_id, head, ..
        }] => {
            assert_eq!(stream_id.value(), 5);
            assert_eq!(head.get("x-bomb").map(|v| v.len()), Some(BOMB_VALUE));
        }
        other => panic!("{other:?}"),
    }
}

/// The decoder itself never holds more than the header-list limit while decoding a bomb.
#[test]
fn hpack_bomb_decoder_memory_is_bounded() {
    let limit = 64 << 10;
    let mut d = Decoder::new(4096);
    let mut out = Vec::new();
    d.decode(&Bytes::from(bomb_seed()), limit, &mut out)
        .unwrap();
    out.clear();
    out.shrink_to_fit();
    let err = d.decode(&Bytes::from(bomb(4000)), limit, &mut out);
    assert!(err.is_err());
    assert!(!err.unwrap_err().is_connection_fatal());
    assert!(out.is_empty());
    // At most limit / 4038 ≈ 16 fields were ever admitted; the Vec never grew toward 4000.
    assert!(
        out.capacity() <= 64,
        "list grew to {} entries",
        out.capacity()
    );
    d.decode(&Bytes::from(bomb_after()), limit, &mut out)
        .unwrap();
    assert_eq!(out.len(), 5);
}

/// Repeated bombs: each costs a local-reset token, output stays small, the budget ends it.
#[test]
fn hpack_bomb_repeated_is_bounded() {
    let mut p = handshaken_server(Config::default());
    let mut attack = headers(1, &bomb_seed(), true, true);
    for i in 1..1000u32 {
        attack.extend(headers(1 + 2 * i, &bomb(100), true, true));
    }
    let res = p.feed(&attack);
    assert!(p.conn.open_streams() <= 1);
    let sent = p.flush_keep(&res);
    assert_eq!(heads(&sent).len(), 200);
    assert!(p.sent_total < 200 * 40 + 64, "{}", p.sent_total);
    p.expect_flood_after_flush(res, Flood::LocalResets, sent);
}
