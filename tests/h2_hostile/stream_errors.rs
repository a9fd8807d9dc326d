//! Stream errors: RST_STREAM with the right code, and the connection goes on.

use crate::hp;
use crate::peer::{count_requests, handshaken_server, rsts};
use crate::wire::{cont, data, frame, headers, window_update};
use bytes::Bytes;
use sallyport::proto::frame::{flags, kind};
use sallyport::proto::h2::{Config, Event};
use sallyport::proto::{Reason, StreamId};

/// Each malformed head gets RST_STREAM(PROTOCOL_ERROR); no request reaches the application and
/// the connection goes on.
#[test]
fn malformed_request_heads_are_stream_errors() {
    let get: [(&[u8], &[u8]); 4] = [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"example.test"),
        (b":path", b"/"),
    ];
    let with = |extra: (&'static [u8], &'static [u8])| {
        let mut v = get.to_vec();
        v.push(extra);
        hp::block(&v)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("uppercase name", with((b"X-Upper", b"v"))),
        ("connection header", with((b"connection", b"keep-alive"))),
        (
            "transfer-encoding",
            with((b"transfer-encoding", b"chunked")),
        ),
        ("te other than trailers", with((b"te", b"gzip"))),
        ("CR LF in value", with((b"x-smuggle", b"a\r\nb: c"))),
        ("NUL in value", with((b"x", b"a\0b"))),
        ("leading space", with((b"x", b" a"))),
        ("two content-lengths", {
            let mut v = get.to_vec();
            v.push((b"content-length", b"1"));
            v.push((b"content-length", b"1"));
            hp::block(&v)
        }),
        (
            "content-length not a number",
            with((b"content-length", b"1x")),
        ),
        (
            "missing :path",
            hp::block(&[
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", b"example.test"),
            ]),
        ),
        ("duplicate :path", with((b":path", b"/again"))),
        ("pseudo after regular", {
            let mut v = vec![(&b"x"[..], &b"y"[..])];
            v.extend_from_slice(&get);
            hp::block(&v)
        }),
        ("response pseudo-header", with((b":status", b"200"))),
        ("userinfo in :authority", {
            let mut v = get.to_vec();
            v[2] = (b":authority", b"user@example.test");
            hp::block(&v)
        }),
        (
            "host differs from :authority",
            with((b"host", b"other.test")),
        ),
        ("empty name", with((b"", b"v"))),
        ("space in name", with((b"a b", b"v"))),
    ];
    let mut p = handshaken_server(Config::default());
    let mut id = 1;
    for (what, block) in cases {
        p.feed(&headers(id, &block, true, true))
            .unwrap_or_else(|e| panic!("{what}: connection error {e}"));
        assert_eq!(
            count_requests(&p.events()),
            0,
            "{what} reached the application"
        );
        assert_eq!(
            rsts(&p.flush()),
            vec![(id, Reason::PROTOCOL_ERROR)],
            "{what}"
        );
        id += 2;
    }
    p.expect_usable(id);
}

#[test]
fn content_length_mismatch() {
    let mut p = handshaken_server(Config::default());
    // Body shorter than announced.
    let b = p.request_block("/", &[("content-length", "10")]);
    p.feed(&headers(1, &b, false, true)).unwrap();
    p.feed(&data(1, b"12345", true)).unwrap();
    // Body longer than announced.
    let b = p.request_block("/", &[("content-length", "3")]);
    p.feed(&headers(3, &b, false, true)).unwrap();
    p.feed(&data(3, b"12345", false)).unwrap();
    // END_STREAM on the head although a body is announced.
    let b = p.request_block("/", &[("content-length", "3")]);
    p.feed(&headers(5, &b, true, true)).unwrap();
    assert_eq!(
        rsts(&p.flush()),
        vec![
            (1, Reason::PROTOCOL_ERROR),
            (3, Reason::PROTOCOL_ERROR),
            (5, Reason::PROTOCOL_ERROR)
        ]
    );
    let ev = p.events();
    assert!(
        ev.iter().all(|e| !matches!(e, Event::Data { .. })),
        "{ev:?}"
    );
    assert_eq!(p.conn.open_streams(), 0);
    // A matching one works.
    let b = p.request_block("/", &[("content-length", "5")]);
    p.feed(&headers(7, &b, false, true)).unwrap();
    p.feed(&data(7, b"12345", true)).unwrap();
    assert!(p.flush().is_empty());
    let ev = p.events();
    assert!(ev.contains(&Event::Data {
        stream_id: StreamId::new(7),
        data: Bytes::from_static(b"12345"),
        end_stream: true
    }));
}

#[test]
fn data_exceeding_stream_window() {
    let mut p = handshaken_server(Config {
        initial_stream_window: 16_384,
        ..Config::default()
    });
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&data(1, &[0; 16_000], false)).unwrap();
    p.feed(&data(1, &[0; 385], false)).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::FLOW_CONTROL_ERROR)]);
    let ev = p.events();
    assert!(ev.contains(&Event::Reset {
        stream_id: StreamId::new(1),
        reason: Reason::FLOW_CONTROL_ERROR,
        remote: false
    }));
    // The connection goes on: a new stream can use its full window.
    let f = p.request(3, false);
    p.feed(&f).unwrap();
    p.feed(&data(3, &[0; 16_384], true)).unwrap();
    assert!(p.conn.error().is_none());
}

#[test]
fn window_update_overflowing_stream_window() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&window_update(1, 0x7fff_ffff)).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::FLOW_CONTROL_ERROR)]);
    assert_eq!(p.conn.open_streams(), 0);
    p.expect_usable(3);
}

#[test]
fn window_update_zero_on_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&frame(kind::WINDOW_UPDATE, 0, 1, &[0, 0, 0, 0]))
        .unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::PROTOCOL_ERROR)]);
    p.expect_usable(3);
}

#[test]
fn headers_after_end_stream_on_half_closed_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, true);
    p.feed(&f).unwrap();
    let b = p.block(&[("x-late", "1")]);
    p.feed(&headers(1, &b, true, true)).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::STREAM_CLOSED)]);
    p.expect_usable(3);
}

#[test]
fn trailers_without_end_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    let b = p.block(&[("x-trailer", "1")]);
    p.feed(&headers(1, &b, false, true)).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::PROTOCOL_ERROR)]);
    p.expect_usable(3);
}

#[test]
fn priority_with_bad_length_is_stream_error() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&frame(kind::PRIORITY, 0, 1, &[0; 4])).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::FRAME_SIZE_ERROR)]);
    p.expect_usable(3);
}

/// Self-dependent HEADERS opening a new stream, with its block split over CONTINUATION: still
/// decoded (HPACK in sync), whichever error is chosen.
#[test]
fn self_dependent_new_stream_with_continuation_keeps_hpack_in_sync() {
    let mut p = handshaken_server(Config::default());
    let mut block = hp::request("/", &[]);
    hp::insert(&mut block, b"x-dep", b"kept");
    let (a, b) = block.split_at(10);
    let mut payload = 3u32.to_be_bytes().to_vec();
    payload.push(15);
    payload.extend_from_slice(a);
    let mut f = frame(
        kind::HEADERS,
        flags::PRIORITY | flags::END_STREAM,
        3,
        &payload,
    );
    f.extend(cont(3, b, true));
    let res = p.feed(&f);
    if res.is_err() {
        p.expect_protocol(res, Reason::PROTOCOL_ERROR);
        return;
    }
    assert_eq!(rsts(&p.flush()), vec![(3, Reason::PROTOCOL_ERROR)]);
    assert_eq!(count_requests(&p.events()), 0);
    let mut b = hp::request("/next", &[]);
    hp::indexed(&mut b, 62);
    p.feed(&headers(5, &b, true, true)).unwrap();
    match &p.events()[..] {
        [Event::Request { head, .. }] => {
            assert_eq!(head.get("x-dep").map(|v| &v[..]), Some(&b"kept"[..]))
        }
        other => panic!("HPACK out of sync: {other:?}"),
    }
}
