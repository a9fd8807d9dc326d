//! Deterministic simulations: a client and a server connection joined in memory, driven by a
//! fake clock. No threads, no sockets, no real time: every run is identical.

use super::*;
use crate::proto::frame::{Frame, SettingsFrame, WindowUpdate};
use crate::proto::{Reason, StreamId, Timestamp};
use bytes::{Bytes, BytesMut};
use std::time::Duration;

mod extended_connect;

struct Pair {
    client: Connection,
    server: Connection,
    now: Timestamp,
    c_in: BytesMut,
    s_in: BytesMut,
    c_events: Vec<Event>,
    s_events: Vec<Event>,
}

fn drain(conn: &mut Connection, into: &mut BytesMut) -> usize {
    let mut out = Vec::new();
    let n = conn.poll_transmit(&mut out, usize::MAX);
    for chunk in out {
        into.extend_from_slice(&chunk);
    }
    n
}

impl Pair {
    fn new(client: Config, server: Config) -> Pair {
        let now = Timestamp::ZERO;
        let mut p = Pair {
            client: Connection::new(Role::Client, client, now),
            server: Connection::new(Role::Server, server, now),
            now,
            c_in: BytesMut::new(),
            s_in: BytesMut::new(),
            c_events: Vec::new(),
            s_events: Vec::new(),
        };
        p.pump();
        p
    }

    /// Moves bytes both ways until neither side has anything to send.
    fn pump(&mut self) {
        for _ in 0..10_000 {
            let a = drain(&mut self.client, &mut self.s_in);
            if !self.s_in.is_empty() {
                self.server.recv(&mut self.s_in, self.now).unwrap();
            }
            let b = drain(&mut self.server, &mut self.c_in);
            if !self.c_in.is_empty() {
                self.client.recv(&mut self.c_in, self.now).unwrap();
            }
            while let Some(e) = self.client.poll_event() {
                self.c_events.push(e);
            }
            while let Some(e) = self.server.poll_event() {
                self.s_events.push(e);
            }
            if a == 0 && b == 0 {
                return;
            }
        }
        panic!("pump did not settle");
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now.saturating_add(d);
    }

    fn request(&mut self, path: &str, end: bool) -> StreamId {
        self.client
            .send_request(&RequestHead::new("GET", "http", "erp:80", path), end)
            .unwrap()
    }

    /// Body bytes the client received on `id`, releasing them as an application would.
    fn client_body(&mut self, id: StreamId) -> Vec<u8> {
        let mut body = Vec::new();
        for e in &self.c_events {
            if let Event::Data {
                stream_id, data, ..
            } = e
            {
                if *stream_id == id {
                    body.extend_from_slice(data);
                }
            }
        }
        body
    }
}

fn pattern(n: usize) -> Bytes {
    (0..n)
        .map(|i| (i * 7 % 251) as u8)
        .collect::<Vec<_>>()
        .into()
}

#[test]
fn handshake_settles_and_clears_the_settings_timer() {
    let p = Pair::new(Config::default(), Config::default());
    assert!(p.client.local_settings_acked && p.server.local_settings_acked);
    assert_eq!(p.client.poll_timeout(), None);
    assert_eq!(p.server.poll_timeout(), None);
    assert_eq!(p.client.peer_max_frame_size, 64 << 10);
}

#[test]
fn request_response_with_body_and_trailers() {
    let mut p = Pair::new(Config::default(), Config::default());
    let id = p.request("/orders", false);
    p.client
        .send_data(id, Bytes::from_static(b"hello"), false)
        .unwrap();
    p.client
        .send_trailers(id, vec![field("x-check", "1")])
        .unwrap();
    p.pump();
    let kinds: Vec<_> = p.s_events.drain(..).collect();
    assert!(
        matches!(&kinds[0], Event::Request { head, end_stream: false, .. }
        if head.path.as_deref() == Some(&b"/orders"[..]))
    );
    assert!(
        matches!(&kinds[1], Event::Data { data, end_stream: false, .. } if &data[..] == b"hello")
    );
    assert!(
        matches!(&kinds[2], Event::Trailers { trailers, .. } if &trailers[0].value[..] == b"1")
    );
    let mut resp = ResponseHead::new(200);
    resp.fields.push(field("content-length", "3"));
    p.server.send_response(id, &resp, false).unwrap();
    p.server
        .send_data(id, Bytes::from_static(b"abc"), true)
        .unwrap();
    p.pump();
    assert!(matches!(&p.c_events[0], Event::Response { head, .. } if head.status == 200));
    assert_eq!(p.client_body(id), b"abc");
    assert_eq!(p.client.open_streams(), 0);
    assert_eq!(p.server.open_streams(), 0);
}

#[test]
fn flow_control_stalls_at_the_window_and_resumes_on_release() {
    let server = Config {
        initial_stream_window: 20_000,
        connection_window: 65_535,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), server);
    let id = p.request("/upload", false);
    let body = pattern(200_000);
    p.client.send_data(id, body.clone(), true).unwrap();
    p.pump();
    let received = |p: &Pair| -> usize {
        p.s_events
            .iter()
            .map(|e| match e {
                Event::Data { data, .. } => data.len(),
                _ => 0,
            })
            .sum()
    };
    // Without releases the peer stops exactly at the stream window.
    assert_eq!(received(&p), 20_000);
    let mut got = Vec::new();
    for _ in 0..1000 {
        let chunks: Vec<Bytes> = p
            .s_events
            .drain(..)
            .filter_map(|e| match e {
                Event::Data { data, .. } => Some(data),
                _ => None,
            })
            .collect();
        if chunks.is_empty() {
            break;
        }
        for c in chunks {
            p.server.release_capacity(id, c.len());
            got.extend_from_slice(&c);
        }
        p.pump();
    }
    assert_eq!(got, body);
}

#[test]
fn initial_window_change_applies_to_open_streams() {
    let mut p = Pair::new(Config::default(), Config::default());
    let id = p.request("/x", true);
    p.pump();
    p.server
        .send_response(id, &ResponseHead::new(200), false)
        .unwrap();
    p.pump();
    // The "client" announces a zero initial window: the server's open stream drops to
    // 0 and may go negative; nothing flows until a WINDOW_UPDATE.
    let mut raw = BytesMut::new();
    let s = crate::proto::frame::Settings {
        initial_window_size: Some(0),
        ..Default::default()
    };
    Frame::Settings(SettingsFrame {
        ack: false,
        settings: s,
    })
    .encode(&mut raw);
    p.server.recv(&mut raw, p.now).unwrap();
    p.server.send_data(id, pattern(1000), true).unwrap();
    let mut out = Vec::new();
    p.server.poll_transmit(&mut out, usize::MAX);
    let sent: usize = out.iter().map(Bytes::len).sum();
    assert_eq!(sent, 9, "only the SETTINGS ACK may leave");
    Frame::WindowUpdate(WindowUpdate {
        stream_id: id,
        increment: 400,
    })
    .encode(&mut raw);
    p.server.recv(&mut raw, p.now).unwrap();
    out.clear();
    p.server.poll_transmit(&mut out, usize::MAX);
    let sent: usize = out.iter().map(Bytes::len).sum();
    assert_eq!(sent, 9 + 400);
}

#[test]
fn keepalive_declares_a_silent_peer_dead_after_max_missed() {
    let client = Config {
        keepalive: Some(Keepalive {
            interval: Duration::from_secs(5),
            max_missed: 3,
        }),
        ..Config::default()
    };
    let mut p = Pair::new(client.clone(), Config::default());
    // An answering peer keeps the connection alive indefinitely.
    for _ in 0..10 {
        p.advance(Duration::from_secs(5));
        p.client.handle_timeout(p.now).unwrap();
        p.pump();
    }
    // A silent one is declared dead exactly 3 intervals after its last byte, wherever in the
    // PING cycle it fell silent; the timer asks to be woken then.
    for offset_ms in [1, 2500, 4999] {
        let mut p = Pair::new(client.clone(), Config::default());
        p.advance(Duration::from_millis(offset_ms));
        p.client.handle_timeout(p.now).unwrap();
        // The server's last bytes: the answer to an application PING at this instant.
        p.client.ping(*b"lastword");
        p.pump();
        let silent_since = p.now;
        let mut outcome = Ok(());
        let mut wakeups = 0;
        while outcome.is_ok() && wakeups < 20 {
            let at = p.client.poll_timeout().expect("keep-alive timer armed");
            p.now = at;
            outcome = p.client.handle_timeout(p.now);
            wakeups += 1;
        }
        assert_eq!(outcome, Err(ConnectionError::KeepaliveTimeout));
        assert_eq!(
            p.now.as_duration() - silent_since.as_duration(),
            Duration::from_secs(15),
            "dead exactly 3 intervals after the last byte (silent from {offset_ms} ms)"
        );
    }
}

#[test]
fn unacknowledged_settings_time_out() {
    let mut server = Connection::new(Role::Server, Config::default(), Timestamp::ZERO);
    let deadline = server.poll_timeout().unwrap();
    assert_eq!(deadline.as_duration(), Duration::from_secs(10));
    server
        .handle_timeout(Timestamp::from_duration(Duration::from_secs(9)))
        .unwrap();
    assert_eq!(
        server.handle_timeout(deadline),
        Err(ConnectionError::SettingsTimeout)
    );
    let mut out = Vec::new();
    server.poll_transmit(&mut out, usize::MAX);
    let all: Vec<u8> = out.concat();
    // SETTINGS, then GOAWAY(SETTINGS_TIMEOUT) as the last frame.
    assert_eq!(
        &all[all.len() - 4..],
        &Reason::SETTINGS_TIMEOUT.as_u32().to_be_bytes()
    );
}

#[test]
fn graceful_goaway_finishes_open_streams_and_refuses_late_ones() {
    let mut p = Pair::new(Config::default(), Config::default());
    let first = p.request("/1", true);
    p.pump();
    p.server.go_away(Reason::NO_ERROR, p.now);
    // The client opens another stream before it sees the GOAWAY.
    let late = p.request("/2", true);
    p.pump();
    assert!(p.c_events.iter().any(|e| matches!(e,
        Event::Reset { stream_id, reason, .. } if *stream_id == late && *reason == Reason::REFUSED_STREAM)));
    assert!(p.c_events.iter().any(|e| matches!(e,
        Event::GoAway { last_stream_id, .. } if *last_stream_id == first)));
    assert_eq!(
        p.s_events
            .iter()
            .filter(|e| matches!(e, Event::Request { .. }))
            .count(),
        1
    );
    assert!(!p.client.can_open_stream());
    assert!(!p.server.is_done(), "stream 1 is still open");
    p.server
        .send_response(first, &ResponseHead::new(204), true)
        .unwrap();
    p.pump();
    assert!(p.server.is_done() && p.client.is_done());
}

#[test]
fn an_error_goaway_carries_its_text_to_the_peer_sanitised() {
    let mut p = Pair::new(Config::default(), Config::default());
    let raw = Bytes::from_static(b"tenant 'ghost' is not configured\n\x1b[31m");
    p.client
        .go_away_with(Reason::REFUSED_STREAM, raw.clone(), p.now);
    let mut wire = BytesMut::new();
    drain(&mut p.client, &mut wire);
    let err = p.server.recv(&mut wire, p.now).unwrap_err();
    assert_eq!(
        err,
        ConnectionError::PeerGoAway {
            reason: Reason::REFUSED_STREAM,
            text: "tenant 'ghost' is not configured??[31m".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "peer sent GOAWAY (REFUSED_STREAM): tenant 'ghost' is not configured??[31m"
    );
    // The event keeps the raw bytes; the error's text is bounded.
    assert!(
        matches!(p.server.poll_event(), Some(Event::GoAway { debug_data, .. }) if debug_data == raw)
    );
    assert_eq!(
        error::goaway_text(&[b'x'; 4096]).len(),
        error::GOAWAY_TEXT_MAX
    );
}

#[test]
fn drain_timeout_ends_a_connection_whose_streams_hang() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.request("/slow", true);
    p.pump();
    p.server.go_away(Reason::NO_ERROR, p.now);
    p.advance(Duration::from_secs(29));
    p.server.handle_timeout(p.now).unwrap();
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.server.handle_timeout(p.now),
        Err(ConnectionError::DrainTimeout)
    );
}

#[test]
fn connect_stream_carries_bytes_both_ways_with_half_close() {
    let mut p = Pair::new(Config::default(), Config::default());
    let id = p
        .client
        .send_request(&RequestHead::connect("ldap.corp:389"), false)
        .unwrap();
    p.pump();
    assert!(matches!(&p.s_events[0], Event::Request { head, .. } if head.is_connect()));
    p.server
        .send_response(id, &ResponseHead::new(200), false)
        .unwrap();
    p.client
        .send_data(id, Bytes::from_static(b"bind"), true)
        .unwrap();
    p.pump();
    assert!(matches!(
        p.s_events.last(),
        Some(Event::Data {
            end_stream: true,
            ..
        })
    ));
    // The client's half-close leaves the server's direction open.
    p.server
        .send_data(id, Bytes::from_static(b"ok"), false)
        .unwrap();
    p.server
        .send_data(id, Bytes::from_static(b"!"), true)
        .unwrap();
    p.pump();
    assert_eq!(p.client_body(id), b"ok!");
    assert_eq!(p.client.open_streams() + p.server.open_streams(), 0);
}

#[test]
fn peer_concurrency_limit_is_respected() {
    let server = Config {
        max_concurrent_streams: 2,
        ..Config::default()
    };
    let mut p = Pair::new(Config::default(), server);
    p.request("/a", true);
    p.request("/b", true);
    assert!(!p.client.can_open_stream());
    assert_eq!(
        p.client
            .send_request(&RequestHead::new("GET", "http", "erp", "/c"), true),
        Err(StreamError::ConcurrencyLimit)
    );
}

#[test]
fn reset_by_client_reaches_the_server_and_stops_its_data() {
    let mut p = Pair::new(Config::default(), Config::default());
    let id = p.request("/big", true);
    p.pump();
    p.server
        .send_response(id, &ResponseHead::new(200), false)
        .unwrap();
    p.pump();
    p.client.reset(id, Reason::CANCEL);
    p.pump();
    assert!(p.s_events.iter().any(|e| matches!(e,
        Event::Reset { stream_id, reason, remote: true } if *stream_id == id && *reason == Reason::CANCEL)));
    assert_eq!(
        p.server.send_data(id, Bytes::from_static(b"late"), true),
        Err(StreamError::UnknownStream(id))
    );
}

#[test]
fn send_buffer_cap_refuses_then_signals_writable() {
    let client = Config {
        max_send_buffer_per_stream: 100_000,
        ..Config::default()
    };
    let server = Config {
        initial_stream_window: 65_535,
        ..Config::default()
    };
    let mut p = Pair::new(client, server);
    let id = p.request("/up", false);
    p.client.send_data(id, pattern(100_000), false).unwrap();
    assert!(matches!(
        p.client.send_data(id, pattern(1), false),
        Err(StreamError::BufferFull { capacity: 0, .. })
    ));
    p.pump();
    assert!(p
        .c_events
        .iter()
        .any(|e| matches!(e, Event::Writable { stream_id } if *stream_id == id)));
    assert_eq!(p.client.send_capacity(id), 100_000 - (100_000 - 65_535));
}

#[test]
fn self_dependent_headers_reset_the_stream_but_keep_hpack_in_sync() {
    use crate::proto::frame::{self, Headers, PrioritySpec};
    let now = Timestamp::ZERO;
    let mut server = Connection::new(Role::Server, Config::default(), now);
    let mut attacker = crate::proto::hpack::Encoder::new();
    let mut wire = BytesMut::from(&frame::PREFACE[..]);
    Frame::Settings(SettingsFrame::default()).encode(&mut wire);
    let req = [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "erp"),
        (":path", "/"),
        ("x-custom", "value"),
    ];
    for (id, priority) in [(1, Some(1)), (3, None)] {
        let mut block = BytesMut::new();
        let fields = req.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes(), false));
        attacker.encode(fields, &mut block);
        Frame::Headers(Headers {
            stream_id: StreamId::new(id),
            fragment: block.freeze(),
            end_stream: true,
            end_headers: true,
            priority: priority.map(|d| PrioritySpec {
                dependency: StreamId::new(d),
                exclusive: false,
                weight: 15,
            }),
        })
        .encode(&mut wire);
    }
    // Stream 3's block refers to table entries stream 1's block inserted.
    server.recv(&mut wire, now).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(&events[0], Event::Request { stream_id, head, .. }
        if stream_id.value() == 3 && head.get("x-custom").map(|v| &v[..]) == Some(&b"value"[..])));
    let mut out = Vec::new();
    server.poll_transmit(&mut out, usize::MAX);
    let mut sent = BytesMut::from(&out.concat()[..]);
    let mut resets = Vec::new();
    while let Some(h) = frame::FrameHeader::parse(&sent) {
        let _ = sent.split_to(frame::HEADER_LEN);
        let payload = sent.split_to(h.length as usize).freeze();
        if let Ok(Frame::RstStream(r)) = Frame::decode(h, payload) {
            resets.push((r.stream_id.value(), r.reason));
        }
    }
    assert_eq!(resets, vec![(1, Reason::PROTOCOL_ERROR)]);
}
