//! Connection errors against the server role: each one gets exactly one GOAWAY with the right
//! code, and the connection stays dead.

use crate::hp;
use crate::peer::{count_requests, goaways, handshaken_server, rsts, Peer};
use crate::wire::{
    self, cont, data, frame, headers, priority, push_promise, raw, rst, settings_ack, settings_raw,
    window_update,
};
use sallyport::proto::frame::{flags, kind, Settings, PREFACE};
use sallyport::proto::h2::{Config, ConnectionError, Event, ResponseHead};
use sallyport::proto::{Reason, StreamId};

#[test]
fn bad_preface() {
    let mut p = Peer::server(Config::default());
    let res = p.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let err = res.expect_err("bad preface");
    assert!(matches!(
        err,
        ConnectionError::Protocol {
            reason: Reason::PROTOCOL_ERROR,
            ..
        }
    ));
    // §3.4: the GOAWAY may be omitted; if sent it must say PROTOCOL_ERROR.
    let sent = p.flush();
    for g in goaways(&sent) {
        assert_eq!(g.reason, Reason::PROTOCOL_ERROR);
    }
    assert!(goaways(&sent).len() <= 1);
    assert!(p.feed(PREFACE).is_err());
}

#[test]
fn partial_preface_waits() {
    let mut p = Peer::server(Config::default());
    p.feed(&PREFACE[..10]).unwrap();
    p.feed(&PREFACE[10..]).unwrap();
    p.feed(&wire::settings(Settings::default())).unwrap();
    assert!(p.conn.error().is_none());
}

#[test]
fn first_frame_not_settings() {
    let mut p = Peer::server(Config::default());
    let mut f = PREFACE.to_vec();
    f.extend(wire::ping([0; 8]));
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn first_frame_settings_ack() {
    let mut p = Peer::server(Config::default());
    let mut f = PREFACE.to_vec();
    f.extend(settings_ack());
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

/// A frame over our SETTINGS_MAX_FRAME_SIZE is refused from its header alone, before its
/// payload is buffered.
#[test]
fn frame_larger_than_max_frame_size() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    let res = p.feed(&raw((64 << 10) + 1, kind::DATA, 0, 1, &[]));
    p.expect_protocol(res, Reason::FRAME_SIZE_ERROR);
}

#[test]
fn huge_frame_header_is_not_buffered() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&raw(0xff_ffff, kind::HEADERS, 0, 1, b"abc"));
    assert!(
        p.inbuf.capacity() < (1 << 20),
        "reserved {}",
        p.inbuf.capacity()
    );
    p.expect_protocol(res, Reason::FRAME_SIZE_ERROR);
}

#[test]
fn data_on_stream_zero() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&frame(kind::DATA, 0, 0, b"x"));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn data_on_idle_stream() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&data(1, b"x", false));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn headers_with_even_stream_id_from_client() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(2, true);
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

/// §5.1.1: a new stream id must exceed every id the peer used; a lower never-used id is an
/// "unexpected stream identifier": connection error PROTOCOL_ERROR.
#[test]
fn stream_id_going_backwards() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(5, false);
    p.feed(&f).unwrap();
    let f = p.request(3, false);
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

/// §5.1: frames after END_STREAM on a closed stream: connection error STREAM_CLOSED.
#[test]
fn headers_on_closed_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, true);
    p.feed(&f).unwrap();
    p.conn
        .send_response(StreamId::new(1), &ResponseHead::new(200), true)
        .unwrap();
    p.flush();
    assert_eq!(p.conn.open_streams(), 0);
    let f = p.request(1, true);
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::STREAM_CLOSED);
}

#[test]
fn push_promise_from_client() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    let block = hp::request("/pushed", &[]);
    let res = p.feed(&push_promise(1, 2, &block));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn window_update_overflows_connection_window() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&window_update(0, 0x7fff_ffff));
    p.expect_protocol(res, Reason::FLOW_CONTROL_ERROR);
}

#[test]
fn window_update_zero_on_connection() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0]));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn initial_window_size_overflows_open_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    // The stream's send window reaches exactly 2^31-1 ...
    p.feed(&window_update(1, 0x7fff_ffff - 65_535)).unwrap();
    assert!(p.flush().is_empty());
    // ... and a larger initial window pushes it over.
    let res = p.feed(&wire::settings(Settings {
        initial_window_size: Some(65_536),
        ..Settings::default()
    }));
    p.expect_protocol(res, Reason::FLOW_CONTROL_ERROR);
}

#[test]
fn data_beyond_connection_window() {
    let mut p = handshaken_server(Config {
        connection_window: 65_535,
        initial_stream_window: 1 << 20,
        ..Config::default()
    });
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&data(1, &[0; 40_000], false)).unwrap();
    let res = p.feed(&data(1, &[0; 40_000], false));
    p.expect_protocol(res, Reason::FLOW_CONTROL_ERROR);
}

#[test]
fn invalid_hpack_index_zero() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&headers(1, &[0x80], true, true));
    p.expect_protocol(res, Reason::COMPRESSION_ERROR);
}

#[test]
fn invalid_hpack_index_out_of_range() {
    let mut p = handshaken_server(Config::default());
    let mut b = Vec::new();
    hp::indexed(&mut b, 62 + 500);
    let res = p.feed(&headers(1, &b, true, true));
    p.expect_protocol(res, Reason::COMPRESSION_ERROR);
}

#[test]
fn invalid_hpack_table_size_update_above_settings() {
    let mut p = handshaken_server(Config::default());
    let mut b = Vec::new();
    hp::int(&mut b, 1 << 20, 5, 0x20);
    b.extend(hp::request("/", &[]));
    let res = p.feed(&headers(1, &b, true, true));
    p.expect_protocol(res, Reason::COMPRESSION_ERROR);
}

#[test]
fn invalid_hpack_truncated_literal() {
    let mut p = handshaken_server(Config::default());
    let mut b = hp::request("/", &[]);
    b.extend_from_slice(&[0x00, 0x05, b'a']);
    let res = p.feed(&headers(1, &b, true, true));
    p.expect_protocol(res, Reason::COMPRESSION_ERROR);
}

#[test]
fn frame_interleaved_in_header_block() {
    for intruder in [
        wire::ping([0; 8]),
        data(1, b"x", false),
        cont(3, b"", true),
        priority(3, 0),
        headers(3, &hp::request("/", &[]), true, true),
    ] {
        let mut p = handshaken_server(Config::default());
        let block = hp::request("/", &[]);
        let mut f = headers(1, &block[..4], true, false);
        f.extend(intruder);
        let res = p.feed(&f);
        p.expect_protocol(res, Reason::PROTOCOL_ERROR);
    }
}

#[test]
fn continuation_without_headers() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    let res = p.feed(&cont(1, &hp::request("/", &[]), true));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn rst_stream_on_idle_stream() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&rst(7, Reason::CANCEL));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn malformed_fixed_size_frames() {
    let cases: Vec<(Vec<u8>, Reason)> = vec![
        (frame(kind::PING, 0, 0, &[0; 7]), Reason::FRAME_SIZE_ERROR),
        (frame(kind::PING, 0, 1, &[0; 8]), Reason::PROTOCOL_ERROR),
        (
            frame(kind::SETTINGS, 0, 0, &[0; 5]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (frame(kind::SETTINGS, 0, 1, &[]), Reason::PROTOCOL_ERROR),
        (
            frame(kind::SETTINGS, flags::ACK, 0, &[0; 6]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (
            frame(kind::RST_STREAM, 0, 1, &[0; 3]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (
            frame(kind::RST_STREAM, 0, 0, &[0; 4]),
            Reason::PROTOCOL_ERROR,
        ),
        (
            frame(kind::WINDOW_UPDATE, 0, 0, &[0; 5]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (frame(kind::GOAWAY, 0, 0, &[0; 7]), Reason::FRAME_SIZE_ERROR),
        (frame(kind::GOAWAY, 0, 1, &[0; 8]), Reason::PROTOCOL_ERROR),
        (frame(kind::PRIORITY, 0, 0, &[0; 5]), Reason::PROTOCOL_ERROR),
        // Padding as long as the payload.
        (
            frame(kind::DATA, flags::PADDED, 1, &[4, 0, 0, 0]),
            Reason::PROTOCOL_ERROR,
        ),
        (
            frame(
                kind::HEADERS,
                flags::PADDED | flags::END_HEADERS,
                3,
                &[2, 0x82],
            ),
            Reason::PROTOCOL_ERROR,
        ),
    ];
    for (i, (f, reason)) in cases.into_iter().enumerate() {
        let mut p = handshaken_server(Config::default());
        let open = p.request(1, false);
        p.feed(&open).unwrap();
        let res = p.feed(&f);
        assert!(res.is_err(), "case {i} accepted");
        p.expect_protocol(res, reason);
    }
}

#[test]
fn invalid_settings_values() {
    let cases = [
        ((0x2u16, 2u32), Reason::PROTOCOL_ERROR),
        ((0x4, 0x8000_0000), Reason::FLOW_CONTROL_ERROR),
        ((0x5, 16_383), Reason::PROTOCOL_ERROR),
        ((0x5, 1 << 24), Reason::PROTOCOL_ERROR),
        ((0x8, 2), Reason::PROTOCOL_ERROR),
    ];
    for (param, reason) in cases {
        let mut p = handshaken_server(Config::default());
        let res = p.feed(&settings_raw(&[param]));
        p.expect_protocol(res, reason);
    }
    // Unknown identifiers are ignored.
    let mut p = handshaken_server(Config::default());
    p.feed(&settings_raw(&[(0x99, 7), (0x7, 1)])).unwrap();
}

/// A graceful GOAWAY followed by a connection error: the second GOAWAY must not raise the
/// last stream id (§6.8 "MUST NOT increase"), or the client will not retry streams we ignored.
#[test]
fn error_after_graceful_goaway_keeps_last_stream_id() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    assert_eq!(count_requests(&p.events()), 1);
    p.conn.go_away(Reason::NO_ERROR, p.now);
    let sent = p.flush();
    let g = goaways(&sent);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].last_stream_id.value(), 1);
    // The client had stream 3 in flight: ignored, as §6.8 allows.
    let f = p.request(3, true);
    p.feed(&f).unwrap();
    assert_eq!(count_requests(&p.events()), 0);
    // Then a protocol error.
    let res = p.feed(&data(0x7fff_0001, b"x", false));
    assert!(res.is_err());
    let sent = p.flush();
    let g = goaways(&sent);
    assert_eq!(g.len(), 1, "{sent:?}");
    assert_eq!(g[0].reason, Reason::PROTOCOL_ERROR);
    assert!(
        g[0].last_stream_id.value() <= 1,
        "second GOAWAY raised last_stream_id to {} (stream 3 was never processed)",
        g[0].last_stream_id.value()
    );
}

/// HEADERS that depends on itself is a stream error (§5.3.1), but its header block must still
/// be decoded: the HPACK context is shared by the connection (§4.3).
#[test]
fn self_dependent_headers_keep_hpack_in_sync() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.events();
    // Trailers on stream 1 that insert an entry, with a priority on itself.
    let mut block = Vec::new();
    hp::insert(&mut block, b"x-trailer", b"inserted");
    let mut payload = 1u32.to_be_bytes().to_vec();
    payload.push(15);
    payload.extend(&block);
    let f = frame(
        kind::HEADERS,
        flags::PRIORITY | flags::END_HEADERS | flags::END_STREAM,
        1,
        &payload,
    );
    let res = p.feed(&f);
    if res.is_ok() {
        // A stream error was chosen: the entry must now be index 62.
        let sent = p.flush();
        assert_eq!(rsts(&sent), vec![(1, Reason::PROTOCOL_ERROR)]);
        p.events();
        let mut b = hp::request("/next", &[]);
        hp::indexed(&mut b, 62);
        let res = p.feed(&headers(3, &b, true, true));
        assert!(
            res.is_ok(),
            "HPACK out of sync after the stream error: {res:?}"
        );
        match &p.events()[..] {
            [Event::Request { head, .. }] => {
                assert_eq!(
                    head.get("x-trailer").map(|v| &v[..]),
                    Some(&b"inserted"[..])
                )
            }
            other => panic!("HPACK out of sync: {other:?}"),
        }
    } else {
        // Treating it as a connection error is allowed (§5.4.1).
        p.expect_protocol(res, Reason::PROTOCOL_ERROR);
    }
}
