//! Stalled windows: what we hold for a peer that never opens its flow-control windows stays
//! bounded.

use crate::peer::{datas, heads, Peer};
use crate::wire::window_update;
use bytes::Bytes;
use sallyport::proto::frame::Settings;
use sallyport::proto::h2::{Config, Event, ResponseHead, StreamError};
use sallyport::proto::StreamId;

/// The peer opens streams with a zero window: `send_data` is refused past the per-stream
/// buffer, so what we hold stays bounded; WINDOW_UPDATE lets it drain and signals Writable.
#[test]
fn stalled_stream_window_bounds_send_buffer() {
    let cap = 16 << 10;
    let mut p = Peer::server(Config {
        max_send_buffer_per_stream: cap,
        ..Config::default()
    });
    p.handshake(Settings {
        initial_window_size: Some(0),
        ..Settings::default()
    });
    let streams: Vec<u32> = (0..50u32).map(|i| 1 + 2 * i).collect();
    for &id in &streams {
        let f = p.request(id, true);
        p.feed(&f).unwrap();
        let sid = StreamId::new(id);
        p.conn
            .send_response(sid, &ResponseHead::new(200), false)
            .unwrap();
        p.conn
            .send_data(sid, Bytes::from(vec![7u8; cap as usize]), false)
            .unwrap();
        assert_eq!(p.conn.send_capacity(sid), 0);
        assert_eq!(
            p.conn.send_data(sid, Bytes::from_static(b"x"), false),
            Err(StreamError::BufferFull {
                stream_id: sid,
                capacity: 0
            })
        );
    }
    p.events();
    let sent = p.flush();
    assert_eq!(heads(&sent).len(), 50);
    assert!(datas(&sent).is_empty(), "DATA sent into a zero window");
    assert!(!p.conn.wants_transmit());
    assert!(p.sent_total < 50 * 64, "{}", p.sent_total);

    // Open stream 1's window: its whole buffer drains and the application hears Writable.
    p.feed(&window_update(1, cap)).unwrap();
    let sent = p.flush();
    let d = datas(&sent);
    assert_eq!(d.iter().map(|x| x.1).sum::<usize>(), cap as usize);
    assert!(d.iter().all(|x| x.0 == 1));
    let ev = p.events();
    assert!(ev.contains(&Event::Writable {
        stream_id: StreamId::new(1)
    }));
    p.conn
        .send_data(StreamId::new(1), Bytes::from_static(b"tail"), true)
        .unwrap();
    assert!(p.flush().is_empty(), "window used up: the tail waits");
    p.feed(&window_update(1, 4)).unwrap();
    let sent = p.flush();
    assert_eq!(datas(&sent), vec![(1, 4, true)]);
}

/// A peer that never opens the connection window: once every ready stream is blocked on it,
/// `wants_transmit` must turn false (its doc: "poll_transmit has something to send"), or an
/// I/O loop driven by it spins.
#[test]
fn stalled_connection_window_does_not_want_transmit() {
    let mut p = Peer::server(Config::default());
    p.handshake(Settings {
        initial_window_size: Some(1 << 20),
        ..Settings::default()
    });
    let f = p.request(1, true);
    p.feed(&f).unwrap();
    let id = StreamId::new(1);
    p.conn
        .send_response(id, &ResponseHead::new(200), false)
        .unwrap();
    p.conn
        .send_data(id, Bytes::from(vec![1u8; 100_000]), true)
        .unwrap();
    let sent = p.flush();
    assert_eq!(datas(&sent).iter().map(|d| d.1).sum::<usize>(), 65_535);
    let mut out = Vec::new();
    assert_eq!(p.conn.poll_transmit(&mut out, usize::MAX), 0);
    assert!(
        !p.conn.wants_transmit(),
        "wants_transmit() is true while everything is blocked on the connection window"
    );
    p.feed(&window_update(0, 100_000)).unwrap();
    let sent = p.flush();
    let d = datas(&sent);
    assert_eq!(d.iter().map(|d| d.1).sum::<usize>(), 100_000 - 65_535);
    assert!(d.last().unwrap().2);
}
