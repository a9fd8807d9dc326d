//! A hostile server: connection errors, floods and bombs against the client role.

use crate::hp;
use crate::hpack_bomb::BOMB_VALUE;
use crate::peer::{rsts, Peer};
use crate::wire::{self, headers, push_promise};
use sallyport::proto::frame::Settings;
use sallyport::proto::h2::{Config, Event, Flood, RequestHead};
use sallyport::proto::{Reason, StreamId};

fn client_with_request() -> (Peer, StreamId) {
    let mut p = Peer::client(Config::default());
    p.handshake(Settings::default());
    let id = p
        .conn
        .send_request(&RequestHead::new("GET", "https", "example.test", "/"), true)
        .unwrap();
    p.flush();
    (p, id)
}

fn response_block(p: &mut Peer, status: &str) -> Vec<u8> {
    p.block(&[(":status", status)])
}

#[test]
fn client_rejects_push_promise() {
    let (mut p, id) = client_with_request();
    let block = hp::request("/pushed", &[]);
    let res = p.feed(&push_promise(id.value(), 2, &block));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn client_rejects_server_opened_stream() {
    let (mut p, _) = client_with_request();
    let block = response_block(&mut p, "200");
    let res = p.feed(&headers(2, &block, true, true));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn client_rejects_headers_on_idle_own_stream() {
    let (mut p, _) = client_with_request();
    let block = response_block(&mut p, "200");
    let res = p.feed(&headers(5, &block, true, true));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

/// RFC 9113 §6.5.2: "A client MUST treat receipt of a SETTINGS frame with
/// SETTINGS_ENABLE_PUSH set to 1 as a connection error of type PROTOCOL_ERROR."
#[test]
fn client_rejects_enable_push_from_server() {
    let mut p = Peer::client(Config::default());
    p.flush();
    let res = p.feed(&wire::settings(Settings {
        enable_push: Some(true),
        ..Settings::default()
    }));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn client_ping_flood() {
    let (mut p, _) = client_with_request();
    let attack: Vec<u8> = (0..1000u64)
        .flat_map(|i| wire::ping(i.to_be_bytes()))
        .collect();
    let res = p.feed(&attack);
    p.expect_flood(res, Flood::Pings);
}

/// A response HPACK bomb: the client resets that stream; the connection survives.
#[test]
fn client_survives_response_hpack_bomb() {
    let mut p = Peer::client(Config::default());
    p.handshake(Settings::default());
    let head = RequestHead::new("GET", "https", "example.test", "/");
    let a = p.conn.send_request(&head, true).unwrap();
    let b = p.conn.send_request(&head, true).unwrap();
    p.flush();
    let mut bomb_block = hp::block(&[(b":status", b"200")]);
    for _ in 0..4000 {
        hp::indexed(&mut bomb_block, 62);
    }
    let mut first = hp::block(&[(b":status", b"100")]);
    hp::insert(&mut first, b"x-bomb", &[b'a'; BOMB_VALUE]);
    p.feed(&headers(a.value(), &first, false, true)).unwrap();
    p.events();
    p.feed(&headers(a.value(), &bomb_block, true, true))
        .expect("a bomb is a stream error");
    let ev = p.events();
    assert!(
        matches!(&ev[..], [Event::Reset { stream_id, remote: false, .. }] if *stream_id == a),
        "{ev:?}"
    );
    assert_eq!(rsts(&p.flush()).len(), 1);
    let mut ok = hp::block(&[(b":status", b"200")]);
    hp::indexed(&mut ok, 62);
    p.feed(&headers(b.value(), &ok, true, true)).unwrap();
    match &p.events()[..] {
        [Event::Response { head, .. }] => {
            assert_eq!(head.status, 200);
            assert_eq!(head.get("x-bomb").map(|v| v.len()), Some(BOMB_VALUE));
        }
        other => panic!("{other:?}"),
    }
}
