//! Codec bugs found while building the fuzz targets and the codec benchmark, each as the
//! smallest sans-IO reproduction, kept as regression tests. (While a bug is open its test is
//! `#[ignore]`d with the reason; run those with `--ignored`.)

#![deny(unsafe_code)]

use bytes::{Bytes, BytesMut};
use sallyport::proto::frame::{
    Frame, FrameHeader, Settings, SettingsFrame, WindowUpdate, HEADER_LEN, PREFACE,
};
use sallyport::proto::h2::{field, Config, Connection, Event, RequestHead, Role};
use sallyport::proto::hpack::Encoder;
use sallyport::proto::{Reason, StreamId, Timestamp};

const NOW: Timestamp = Timestamp::ZERO;

fn enc(f: Frame) -> Vec<u8> {
    let mut b = BytesMut::new();
    f.encode(&mut b);
    b.to_vec()
}

fn raw(kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    let l = (payload.len() as u32).to_be_bytes();
    let mut v = vec![l[1], l[2], l[3], kind, flags];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn settings(s: Settings) -> Vec<u8> {
    enc(Frame::Settings(SettingsFrame {
        ack: false,
        settings: s,
    }))
}

fn settings_ack() -> Vec<u8> {
    enc(Frame::Settings(SettingsFrame {
        ack: true,
        settings: Settings::default(),
    }))
}

/// Everything the connection wants to send, parsed back into frames.
fn sent(c: &mut Connection) -> Vec<Frame> {
    let mut out = Vec::new();
    c.poll_transmit(&mut out, usize::MAX);
    let mut b = BytesMut::new();
    for x in out {
        b.extend_from_slice(&x);
    }
    if b.starts_with(PREFACE) {
        let _ = b.split_to(PREFACE.len());
    }
    let mut frames = Vec::new();
    while let Some(h) = FrameHeader::parse(&b) {
        let mut f = b.split_to(HEADER_LEN + h.length as usize).freeze();
        let payload = f.split_off(HEADER_LEN);
        frames.push(Frame::decode(h, payload).expect("we emit valid frames"));
    }
    frames
}

fn request_block(enc: &mut Encoder, method: &str) -> Vec<u8> {
    let mut b = BytesMut::new();
    enc.encode(
        [
            (&b":method"[..], method.as_bytes(), false),
            (b":scheme", b"https", false),
            (b":authority", b"erp.internal", false),
            (b":path", b"/", false),
        ],
        &mut b,
    );
    b.to_vec()
}

/// A server past the preface and the SETTINGS exchange.
fn server(config: Config) -> Connection {
    let mut s = Connection::new(Role::Server, config, NOW);
    let mut input = BytesMut::new();
    input.extend_from_slice(PREFACE);
    input.extend_from_slice(&settings(Settings::default()));
    input.extend_from_slice(&settings_ack());
    s.recv(&mut input, NOW).unwrap();
    sent(&mut s);
    s
}

/// A client whose peer granted a 1 MiB stream window but left the connection window at the
/// default 65 535, with stream 1 holding 100 000 bytes of which 65 535 went out: stream 1 is
/// now blocked on the connection window.
fn client_blocked_on_connection_window() -> (Connection, StreamId) {
    let mut c = Connection::new(Role::Client, Config::default(), NOW);
    let mut input = BytesMut::new();
    input.extend_from_slice(&settings(Settings {
        initial_window_size: Some(1 << 20),
        ..Default::default()
    }));
    input.extend_from_slice(&settings_ack());
    c.recv(&mut input, NOW).unwrap();
    let head = RequestHead::new("POST", "https", "erp.internal", "/upload");
    let id = c.send_request(&head, false).unwrap();
    c.send_data(id, Bytes::from(vec![0u8; 100_000]), false)
        .unwrap();
    let data: usize = sent(&mut c)
        .iter()
        .map(|f| match f {
            Frame::Data(d) => d.payload.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(data, 65_535);
    (c, id)
}

/// FIXED in ccb5144 (recv.rs, `recv_data`): the padding of a padded DATA frame was credited straight to
/// the stream's `recv_window` instead of being released like consumed bytes, so it was never
/// announced in a WINDOW_UPDATE. The peer's view of the stream window shrank by the padding
/// of every frame until the stream stalled for good, with the application having released
/// everything it received.
#[test]
fn padding_is_given_back_to_the_peer() {
    let mut s = server(Config {
        initial_stream_window: 1000,
        ..Config::default()
    });
    let mut hpack = Encoder::new();
    let mut input = BytesMut::new();
    input.extend_from_slice(&raw(1, 0x4, 1, &request_block(&mut hpack, "POST")));
    s.recv(&mut input, NOW).unwrap();
    // The peer's send window on stream 1, as the peer counts it.
    let mut peer_window: i64 = 1000;
    for _ in 0..50 {
        // PADDED: pad length 89, 10 bytes of payload, 89 bytes of padding = 100 counted.
        let mut p = vec![89u8];
        p.extend_from_slice(&[b'x'; 10]);
        p.extend_from_slice(&[0; 89]);
        assert!(
            peer_window >= 100,
            "stream 1 stalled: peer window {peer_window}"
        );
        input.extend_from_slice(&raw(0, 0x8, 1, &p));
        peer_window -= 100;
        s.recv(&mut input, NOW).unwrap();
        while let Some(ev) = s.poll_event() {
            if let Event::Data {
                stream_id, data, ..
            } = ev
            {
                s.release_capacity(stream_id, data.len());
            }
        }
        for f in sent(&mut s) {
            if let Frame::WindowUpdate(WindowUpdate {
                stream_id,
                increment,
            }) = f
            {
                if stream_id.value() == 1 {
                    peer_window += i64::from(increment);
                }
            }
        }
    }
}

/// FIXED (send.rs `poll_transmit`, conn.rs `wants_transmit`): a stream blocked on the
/// *connection* window stays in the ready list, so `wants_transmit()` keeps returning true
/// while `poll_transmit` returns 0. A transport loop of the documented shape
/// (`while conn.wants_transmit() { conn.poll_transmit(..); write }`) spins at 100 % CPU
/// until the peer sends a connection WINDOW_UPDATE.
#[test]
fn wants_transmit_is_false_while_blocked_on_the_connection_window() {
    let (mut c, _) = client_blocked_on_connection_window();
    let mut out = Vec::new();
    assert_eq!(c.poll_transmit(&mut out, usize::MAX), 0);
    assert!(
        !c.wants_transmit(),
        "wants_transmit() is true but poll_transmit has nothing it may send"
    );
}

/// FIXED (send.rs `poll_transmit`): when the stream at the front of the ready list is blocked
/// on the connection window the scheduler stops (`push_front` + `break`), so other streams'
/// frames that flow control does not count wait behind it: an empty DATA carrying
/// END_STREAM, and trailers. A stream that only needs to end cannot, until some unrelated
/// stream's data is acknowledged (head-of-line blocking; a deadlock if the peer waits for
/// that END_STREAM before reading the other stream).
#[test]
fn end_of_stream_is_not_blocked_by_another_streams_flow_control() {
    let (mut c, _) = client_blocked_on_connection_window();
    let head = RequestHead::new("POST", "https", "erp.internal", "/b");
    let ended = c.send_request(&head, false).unwrap();
    let with_trailers = c.send_request(&head, false).unwrap();
    sent(&mut c);
    c.send_data(ended, Bytes::new(), true).unwrap();
    c.send_trailers(with_trailers, vec![field("grpc-status", "0")])
        .unwrap();
    let frames = sent(&mut c);
    let ended_ok = frames
        .iter()
        .any(|f| matches!(f, Frame::Data(d) if d.stream_id == ended && d.end_stream));
    let trailers_ok = frames
        .iter()
        .any(|f| matches!(f, Frame::Headers(h) if h.stream_id == with_trailers && h.end_stream));
    assert!(ended_ok, "empty END_STREAM DATA not sent: {frames:?}");
    assert!(trailers_ok, "trailers not sent: {frames:?}");
}

/// FIXED (conn.rs `release_capacity`, `ping`, `reset`, `queue`): after a connection error the
/// GOAWAY is queued and the connection reports `is_done()`, but calls the application makes
/// while draining the events delivered before the error still queue frames: WINDOW_UPDATE,
/// PING, RST_STREAM go out *after* the GOAWAY (RFC 9113 §5.4.1: after that GOAWAY the
/// endpoint closes the connection), and `is_done()` flips back to false.
#[test]
fn nothing_is_sent_after_the_goaway_of_a_connection_error() {
    let mut s = server(Config {
        initial_stream_window: 1000,
        ..Config::default()
    });
    let mut hpack = Encoder::new();
    let mut input = BytesMut::new();
    input.extend_from_slice(&raw(1, 0x4, 1, &request_block(&mut hpack, "POST")));
    input.extend_from_slice(&raw(0, 0, 1, &[b'x'; 900]));
    // GOAWAY with a 4-byte payload: connection error FRAME_SIZE_ERROR.
    input.extend_from_slice(&raw(7, 0, 0, &[0; 4]));
    assert!(s.recv(&mut input, NOW).is_err());
    let frames = sent(&mut s);
    assert!(
        matches!(frames.last(), Some(Frame::GoAway(g)) if g.reason == Reason::FRAME_SIZE_ERROR)
    );
    assert!(s.is_done());
    // The application drains the events it was given before the error.
    while let Some(ev) = s.poll_event() {
        if let Event::Data {
            stream_id, data, ..
        } = ev
        {
            s.release_capacity(stream_id, data.len());
        }
    }
    s.ping(*b"12345678");
    s.reset(StreamId::new(1), Reason::CANCEL);
    assert!(s.is_done(), "is_done() went back to false");
    let after = sent(&mut s);
    assert!(after.is_empty(), "frames after the GOAWAY: {after:?}");
}

/// FIXED (conn.rs `schedule`): a stream that becomes sendable while the connection
/// window is closed (`send_data`, a stream WINDOW_UPDATE, a SETTINGS_INITIAL_WINDOW_SIZE
/// increase) is pushed onto the ready list, not onto `conn_blocked`. `wants_transmit()` is
/// then true, contrary to its doc ("streams waiting for the peer's connection window do not
/// count"), and the next `poll_transmit` returns 0 while it parks the stream. No busy loop
/// (the poll after that is false), but one wasted wake-up and write attempt per event.
#[test]
fn wants_transmit_ignores_streams_scheduled_while_blocked() {
    let (mut c, _) = client_blocked_on_connection_window();
    let head = RequestHead::new("POST", "https", "erp.internal", "/b");
    let other = c.send_request(&head, false).unwrap();
    sent(&mut c);
    assert!(!c.wants_transmit());
    c.send_data(other, Bytes::from_static(b"more"), false)
        .unwrap();
    let mut out = Vec::new();
    let wanted = c.wants_transmit();
    let n = c.poll_transmit(&mut out, usize::MAX);
    assert!(
        !wanted,
        "wants_transmit() was true, then poll_transmit sent {n} bytes"
    );
}

/// FIXED in 940dbf3 (conn.rs `remove_stream` / `wants_transmit`): a stream removed while it sits
/// in the ready list (the peer's RST_STREAM, our `reset`, a stream error, GOAWAY refusal)
/// leaves its id behind. `wants_transmit()` is then true although nothing is left to send,
/// and the next `poll_transmit` returns 0 while it drops the stale id. No busy loop (the
/// call after that is false), but a spurious wake-up and write attempt per removal, and the
/// doc of `wants_transmit` promises more. Found by the `conn_server` fuzz target.
#[test]
fn wants_transmit_is_false_after_a_scheduled_stream_is_reset() {
    let mut s = server(Config::default());
    let mut hpack = Encoder::new();
    let mut input = BytesMut::new();
    input.extend_from_slice(&raw(1, 0x5, 1, &request_block(&mut hpack, "GET")));
    s.recv(&mut input, NOW).unwrap();
    let Some(Event::Request { stream_id, .. }) = s.poll_event() else {
        panic!("no request");
    };
    s.send_response(
        stream_id,
        &sallyport::proto::h2::ResponseHead::new(200),
        false,
    )
    .unwrap();
    s.send_data(stream_id, Bytes::from(vec![0u8; 50_000]), true)
        .unwrap();
    // A transport write with little room: the head goes out, the DATA stays scheduled.
    let mut out = Vec::new();
    assert!(s.poll_transmit(&mut out, 1) > 0);
    // The peer cancels the stream.
    input.extend_from_slice(&raw(3, 0, 1, &8u32.to_be_bytes()));
    s.recv(&mut input, NOW).unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Reset { .. })));
    out.clear();
    let wanted = s.wants_transmit();
    let n = s.poll_transmit(&mut out, usize::MAX);
    assert!(
        !wanted,
        "wants_transmit() was true, then poll_transmit sent {n} bytes"
    );
}
