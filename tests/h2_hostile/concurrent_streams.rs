//! SETTINGS_MAX_CONCURRENT_STREAMS: excess streams are refused and budgeted, and stream lookups
//! stay cheap whatever ids the peer picks.

use crate::hp;
use crate::peer::{count_requests, handshaken_server, rsts};
use crate::wire::{headers, window_update};
use sallyport::proto::h2::{Config, Event, Flood, ResponseHead};
use sallyport::proto::{Reason, StreamId};

#[test]
fn excess_streams_are_refused_and_hpack_stays_in_sync() {
    let mut p = handshaken_server(Config {
        max_concurrent_streams: 4,
        ..Config::default()
    });
    // Every request carries a unique field the attacker's encoder inserts into its table.
    let mut f = Vec::new();
    for id in [1u32, 3, 5, 7, 9, 11] {
        let tag = format!("tag-{id}");
        let block = p.request_block("/", &[("x-tag", &tag)]);
        f.extend(headers(id, &block, true, true));
    }
    p.feed(&f).unwrap();
    assert_eq!(count_requests(&p.events()), 4);
    assert_eq!(p.conn.open_streams(), 4);
    let sent = p.flush();
    assert_eq!(
        rsts(&sent),
        vec![(9, Reason::REFUSED_STREAM), (11, Reason::REFUSED_STREAM)]
    );
    // Finish one stream, then reuse the refused request's field: the encoder sends it as an
    // index into entries inserted by the refused blocks.
    p.conn
        .send_response(StreamId::new(1), &ResponseHead::new(204), true)
        .unwrap();
    p.flush();
    let block = p.request_block("/", &[("x-tag", "tag-11")]);
    assert!(
        block.len() < 12,
        "the encoder should index everything: {block:?}"
    );
    p.feed(&headers(13, &block, true, true)).unwrap();
    match &p.events()[..] {
        [Event::Request {
            stream_id, head, ..
        }] => {
            assert_eq!(stream_id.value(), 13);
            assert_eq!(head.get("x-tag").map(|v| &v[..]), Some(&b"tag-11"[..]));
        }
        other => panic!("{other:?}"),
    }
}

/// Thousands of streams over the limit: open streams stay at the limit and the refusals are
/// budgeted.
#[test]
fn stream_open_flood_is_bounded() {
    let mut p = handshaken_server(Config {
        max_concurrent_streams: 4,
        ..Config::default()
    });
    let mut f = Vec::new();
    for i in 0..5000u32 {
        f.extend(p.request(1 + 2 * i, false));
    }
    let res = p.feed(&f);
    assert_eq!(p.conn.open_streams(), 4);
    let sent = p.flush_keep(&res);
    assert_eq!(rsts(&sent).len(), 200);
    p.expect_flood_after_flush(res, Flood::LocalResets, sent);
}

/// Stream ids are chosen by the peer, and `IdHasher` is an unkeyed multiplicative hash whose
/// low bits (what hashbrown uses to pick a bucket) depend only on the id's low bits: ids
/// `1 + k * 2^21` all land in one probe chain. Bounded by MAX_CONCURRENT_STREAMS, but every
/// frame lookup then walks ~64 groups. Timing-based, so not run by default:
/// `cargo test --release --test h2_hostile -- --ignored --nocapture`.
#[test]
#[ignore]
fn stream_id_hash_collisions_cost() {
    let mut times = Vec::new();
    for stride in [2u32, 1 << 21] {
        let mut p = handshaken_server(Config::default());
        let ids: Vec<u32> = (0..1024u32).map(|i| 1 + i * stride).collect();
        let mut f = Vec::new();
        for &id in &ids {
            f.extend(headers(id, &hp::request("/", &[]), false, true));
        }
        p.feed(&f).unwrap();
        assert_eq!(p.conn.open_streams(), 1024);
        let mut w = Vec::new();
        for _ in 0..50 {
            for &id in &ids {
                w.extend(window_update(id, 1));
            }
        }
        let t0 = std::time::Instant::now();
        p.feed(&w).unwrap();
        let took = t0.elapsed();
        eprintln!("stride {stride}: {} WINDOW_UPDATE in {took:?}", 50 * 1024);
        times.push(took);
    }
    let ratio = times[1].as_secs_f64() / times[0].as_secs_f64();
    assert!(
        ratio < 3.0,
        "colliding stream ids make each frame {ratio:.1}x slower"
    );
}
