//! Extended CONNECT (RFC 8441): the server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, the
//! client sends `:protocol` only after seeing it, and the stream then carries raw bytes both
//! ways like a CONNECT tunnel.

use super::*;
use crate::proto::frame::Settings;
use crate::proto::hpack::Field;

fn enabled() -> Config {
    Config {
        enable_connect_protocol: true,
        ..Config::default()
    }
}

fn websocket_head(path: &str) -> RequestHead {
    let mut head = RequestHead::new("CONNECT", "http", "chat.virtual:80", path);
    head.protocol = Some(Bytes::from_static(b"websocket"));
    head.fields.push(field("sec-websocket-version", "13"));
    head
}

fn settings_frame(s: Settings) -> BytesMut {
    let mut raw = BytesMut::new();
    Frame::Settings(SettingsFrame {
        ack: false,
        settings: s,
    })
    .encode(&mut raw);
    raw
}

#[test]
fn websocket_stream_carries_bytes_both_ways() {
    let mut p = Pair::new(Config::default(), enabled());
    assert!(p.client.peer_settings_received());
    assert!(p.client.peer_enables_connect_protocol());
    // The server's own view: the client did not enable it (only servers advertise it).
    assert!(!p.server.peer_enables_connect_protocol());
    let id = p
        .client
        .send_request(&websocket_head("/chat?room=1"), false)
        .unwrap();
    p.client
        .send_data(id, Bytes::from_static(b"\x81\x85hello"), false)
        .unwrap();
    p.pump();
    let events: Vec<Event> = p.s_events.drain(..).collect();
    let Some(Event::Request {
        head,
        end_stream: false,
        ..
    }) = events.first()
    else {
        panic!("expected an open request, got {events:?}");
    };
    assert!(!head.is_connect(), "extended CONNECT is not a TCP tunnel");
    assert_eq!(head.protocol.as_deref(), Some(&b"websocket"[..]));
    assert_eq!(head.path.as_deref(), Some(&b"/chat?room=1"[..]));
    assert_eq!(
        head.get("sec-websocket-version").map(|v| &v[..]),
        Some(&b"13"[..])
    );
    assert!(matches!(&events[1],
        Event::Data { data, end_stream: false, .. } if &data[..] == b"\x81\x85hello"));
    p.server
        .send_response(id, &ResponseHead::new(200), false)
        .unwrap();
    p.server
        .send_data(id, Bytes::from_static(b"\x81\x05hello"), false)
        .unwrap();
    p.pump();
    assert!(p.c_events.iter().any(|e| matches!(e,
        Event::Response { stream_id, head, end_stream: false } if *stream_id == id && head.status == 200)));
    assert_eq!(p.client_body(id), b"\x81\x05hello");
    // Half-close from each side ends the stream cleanly.
    p.client.send_data(id, Bytes::new(), true).unwrap();
    p.server.send_data(id, Bytes::new(), true).unwrap();
    p.pump();
    assert_eq!(p.client.open_streams(), 0);
    assert_eq!(p.server.open_streams(), 0);
}

#[test]
fn client_waits_for_the_servers_permission() {
    // Before the server's SETTINGS arrive its parameters are the defaults: no `:protocol`.
    let mut fresh = Connection::new(Role::Client, Config::default(), Timestamp::ZERO);
    assert!(!fresh.peer_settings_received());
    assert_eq!(
        fresh.send_request(&websocket_head("/"), false),
        Err(StreamError::InvalidHead(
            "peer did not enable extended CONNECT"
        ))
    );
    // A server that does not advertise it never gets one.
    let mut p = Pair::new(Config::default(), Config::default());
    assert!(p.client.peer_settings_received());
    assert!(!p.client.peer_enables_connect_protocol());
    assert!(matches!(
        p.client.send_request(&websocket_head("/"), false),
        Err(StreamError::InvalidHead(_))
    ));
    // Ordinary requests are unaffected.
    p.request("/plain", true);
}

#[test]
fn server_that_did_not_enable_it_refuses_the_stream() {
    let mut p = Pair::new(Config::default(), Config::default());
    // A client that ignores the server's SETTINGS.
    p.client.peer_connect_protocol = true;
    let id = p
        .client
        .send_request(&websocket_head("/chat"), false)
        .unwrap();
    p.pump();
    assert!(
        !p.s_events
            .iter()
            .any(|e| matches!(e, Event::Request { .. })),
        "no request may reach the application"
    );
    assert!(p.c_events.iter().any(|e| matches!(e,
        Event::Reset { stream_id, reason, remote: true }
            if *stream_id == id && *reason == Reason::PROTOCOL_ERROR)));
    // The connection itself survives: a stream error, not a connection error.
    assert!(p.server.error().is_none());
    p.request("/after", true);
    p.pump();
}

#[test]
fn protocol_only_with_the_connect_method() {
    let mut p = Pair::new(Config::default(), enabled());
    let mut get = RequestHead::new("GET", "http", "chat.virtual:80", "/");
    get.protocol = Some(Bytes::from_static(b"websocket"));
    let id = p.client.send_request(&get, true).unwrap();
    p.pump();
    assert!(!p
        .s_events
        .iter()
        .any(|e| matches!(e, Event::Request { .. })));
    assert!(p.c_events.iter().any(|e| matches!(e,
        Event::Reset { stream_id, reason, .. } if *stream_id == id && *reason == Reason::PROTOCOL_ERROR)));
}

#[test]
fn extended_connect_heads_need_scheme_and_path() {
    let f = |n: &str, v: &str| Field {
        name: Bytes::copy_from_slice(n.as_bytes()),
        value: Bytes::copy_from_slice(v.as_bytes()),
        sensitive: false,
    };
    let list = |extra: &[(&str, &str)]| {
        let mut l = vec![
            f(":method", "CONNECT"),
            f(":protocol", "websocket"),
            f(":authority", "chat.virtual"),
        ];
        l.extend(extra.iter().map(|(n, v)| f(n, v)));
        l
    };
    let ok = RequestHead::from_fields(list(&[(":scheme", "http"), (":path", "/c")]), true);
    assert!(ok.is_ok_and(|h| !h.is_connect()));
    for (extra, why) in [
        (&[(":scheme", "http")][..], ":path"),
        (&[(":path", "/c")][..], ":scheme"),
    ] {
        let e = RequestHead::from_fields(list(extra), true).unwrap_err();
        assert!(e.contains(why), "{extra:?}: {e}");
    }
    // Without the setting, `:protocol` is malformed however complete the head.
    let e = RequestHead::from_fields(list(&[(":scheme", "http"), (":path", "/c")]), false);
    assert_eq!(e.unwrap_err(), ":protocol without extended CONNECT");
}

#[test]
fn a_server_may_not_withdraw_the_setting() {
    let mut p = Pair::new(Config::default(), enabled());
    // Repeating the value is fine.
    let mut again = settings_frame(Settings {
        enable_connect_protocol: Some(true),
        ..Default::default()
    });
    p.client.recv(&mut again, p.now).unwrap();
    assert!(p.client.peer_enables_connect_protocol());
    let mut off = settings_frame(Settings {
        enable_connect_protocol: Some(false),
        ..Default::default()
    });
    let err = p.client.recv(&mut off, p.now).unwrap_err();
    assert!(
        matches!(err, ConnectionError::Protocol { reason, .. } if reason == Reason::PROTOCOL_ERROR),
        "{err}"
    );
}
