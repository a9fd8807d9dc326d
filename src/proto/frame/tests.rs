use super::*;
use bytes::BytesMut;
use proptest::prelude::*;

fn raw(kind: u8, fl: u8, sid: u32, payload: &[u8]) -> (FrameHeader, Bytes) {
    let h = FrameHeader {
        length: payload.len() as u32,
        kind,
        flags: fl,
        stream_id: StreamId::new(sid),
    };
    (h, Bytes::copy_from_slice(payload))
}

fn decode(kind: u8, fl: u8, sid: u32, payload: &[u8]) -> Result<Frame, FrameError> {
    let (h, p) = raw(kind, fl, sid, payload);
    Frame::decode(h, p)
}

fn conn_err(r: Result<Frame, FrameError>) -> Reason {
    match r {
        Err(FrameError::Connection { reason, .. }) => reason,
        other => panic!("expected a connection error, got {other:?}"),
    }
}

fn stream_err(r: Result<Frame, FrameError>) -> (u32, Reason) {
    match r {
        Err(FrameError::Stream {
            stream_id, reason, ..
        }) => (stream_id.value(), reason),
        other => panic!("expected a stream error, got {other:?}"),
    }
}

#[test]
fn header_parse_clears_reserved_bit() {
    let h = FrameHeader::parse(&[0, 0, 5, 1, 4, 0x80, 0, 0, 3]).unwrap();
    assert_eq!(h.length, 5);
    assert_eq!(h.kind, kind::HEADERS);
    assert_eq!(h.stream_id.value(), 3);
    assert!(FrameHeader::parse(&[0; 8]).is_none());
}

#[test]
fn data_padding_is_removed_and_counted_for_flow_control() {
    let f = decode(
        kind::DATA,
        flags::PADDED | flags::END_STREAM,
        1,
        b"\x03abc\0\0\0",
    )
    .unwrap();
    let Frame::Data(d) = f else { panic!() };
    assert_eq!(&d.payload[..], b"abc");
    assert_eq!(d.flow_len, 7);
    assert!(d.end_stream);
}

#[test]
fn padding_errors() {
    assert_eq!(
        conn_err(decode(kind::DATA, flags::PADDED, 1, b"\x03ab")),
        Reason::PROTOCOL_ERROR
    );
    assert_eq!(
        conn_err(decode(kind::DATA, flags::PADDED, 1, b"")),
        Reason::FRAME_SIZE_ERROR
    );
    assert_eq!(
        conn_err(decode(kind::HEADERS, flags::PADDED, 1, b"\x05abc")),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn stream_zero_rules() {
    for k in [
        kind::DATA,
        kind::HEADERS,
        kind::PRIORITY,
        kind::RST_STREAM,
        kind::PUSH_PROMISE,
        kind::CONTINUATION,
    ] {
        assert_eq!(
            conn_err(decode(k, 0, 0, &[0; 5])),
            Reason::PROTOCOL_ERROR,
            "{k}"
        );
    }
    for k in [kind::SETTINGS, kind::PING, kind::GOAWAY] {
        assert_eq!(
            conn_err(decode(k, 0, 1, &[0; 8])),
            Reason::PROTOCOL_ERROR,
            "{k}"
        );
    }
}

#[test]
fn fixed_length_frames() {
    assert_eq!(
        conn_err(decode(kind::RST_STREAM, 0, 1, &[0; 5])),
        Reason::FRAME_SIZE_ERROR
    );
    assert_eq!(
        conn_err(decode(kind::PING, 0, 0, &[0; 7])),
        Reason::FRAME_SIZE_ERROR
    );
    assert_eq!(
        conn_err(decode(kind::WINDOW_UPDATE, 0, 0, &[0; 3])),
        Reason::FRAME_SIZE_ERROR
    );
    assert_eq!(
        conn_err(decode(kind::GOAWAY, 0, 0, &[0; 7])),
        Reason::FRAME_SIZE_ERROR
    );
    assert_eq!(
        stream_err(decode(kind::PRIORITY, 0, 3, &[0; 4])),
        (3, Reason::FRAME_SIZE_ERROR)
    );
}

#[test]
fn window_update_zero_increment() {
    assert_eq!(
        conn_err(decode(kind::WINDOW_UPDATE, 0, 0, &[0; 4])),
        Reason::PROTOCOL_ERROR
    );
    assert_eq!(
        stream_err(decode(kind::WINDOW_UPDATE, 0, 5, &[0x80, 0, 0, 0])),
        (5, Reason::PROTOCOL_ERROR)
    );
}

#[test]
fn self_dependency_is_a_stream_error() {
    assert_eq!(
        stream_err(decode(kind::PRIORITY, 0, 3, &[0, 0, 0, 3, 16])),
        (3, Reason::PROTOCOL_ERROR)
    );
    // HEADERS keeps its block so HPACK stays in sync; the connection resets the stream.
    let f = decode(kind::HEADERS, flags::PRIORITY, 5, &[0, 0, 0, 5, 16, 0x82]).unwrap();
    assert!(matches!(f, Frame::Headers(h) if h.priority.unwrap().dependency.value() == 5));
}

#[test]
fn settings_validation() {
    assert_eq!(
        conn_err(decode(kind::SETTINGS, flags::ACK, 0, &[0; 6])),
        Reason::FRAME_SIZE_ERROR
    );
    assert_eq!(
        conn_err(decode(kind::SETTINGS, 0, 0, &[0; 5])),
        Reason::FRAME_SIZE_ERROR
    );
    let bad = |id: u16, v: u32| {
        let mut p = id.to_be_bytes().to_vec();
        p.extend_from_slice(&v.to_be_bytes());
        conn_err(decode(kind::SETTINGS, 0, 0, &p))
    };
    assert_eq!(bad(2, 2), Reason::PROTOCOL_ERROR);
    assert_eq!(bad(4, 1 << 31), Reason::FLOW_CONTROL_ERROR);
    assert_eq!(bad(5, 16_383), Reason::PROTOCOL_ERROR);
    assert_eq!(bad(5, 1 << 24), Reason::PROTOCOL_ERROR);
    assert_eq!(bad(8, 7), Reason::PROTOCOL_ERROR);
    // Unknown identifiers are ignored; repeated ones: last wins.
    let mut p = Vec::new();
    for (id, v) in [(0x99u16, 7u32), (3, 10), (3, 20)] {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    let Frame::Settings(s) = decode(kind::SETTINGS, 0, 0, &p).unwrap() else {
        panic!()
    };
    assert_eq!(s.settings.max_concurrent_streams, Some(20));
}

#[test]
fn unknown_frames_are_kept_for_ignoring() {
    let f = decode(0xfa, 0xff, 7, b"whatever").unwrap();
    assert!(matches!(f, Frame::Unknown(_)));
}

#[test]
fn header_block_split_into_continuations() {
    let block = vec![7u8; 40_000];
    let mut dst = BytesMut::new();
    encode_header_block(StreamId::new(1), None, &block, true, 16_384, &mut dst);
    let mut buf = dst.freeze();
    let mut frames = Vec::new();
    while !buf.is_empty() {
        let h = FrameHeader::parse(&buf).unwrap();
        let _ = buf.split_to(HEADER_LEN);
        let p = buf.split_to(h.length as usize);
        frames.push(Frame::decode(h, p).unwrap());
    }
    assert_eq!(frames.len(), 3);
    let mut joined = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        match f {
            Frame::Headers(h) => {
                assert_eq!(i, 0);
                assert!(h.end_stream && !h.end_headers);
                joined.extend_from_slice(&h.fragment);
            }
            Frame::Continuation(c) => {
                assert_eq!(c.end_headers, i == 2);
                joined.extend_from_slice(&c.fragment);
            }
            _ => panic!("unexpected {f:?}"),
        }
    }
    assert_eq!(joined, block);
}

fn arb_sid() -> impl Strategy<Value = StreamId> {
    (1u32..=0x7fff_ffff).prop_map(StreamId::new)
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn arb_settings() -> impl Strategy<Value = Settings> {
    (
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(0..=MAX_WINDOW_SIZE),
        proptest::option::of(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(a, b, c, d, e, f, g)| Settings {
            header_table_size: a,
            enable_push: b,
            max_concurrent_streams: c,
            initial_window_size: d,
            max_frame_size: e,
            max_header_list_size: f,
            enable_connect_protocol: g,
        })
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    let prio = (any::<u32>(), any::<bool>(), any::<u8>()).prop_map(|(d, e, w)| PrioritySpec {
        dependency: StreamId::new(d),
        exclusive: e,
        weight: w,
    });
    prop_oneof![
        (arb_sid(), arb_bytes(300), any::<bool>()).prop_map(|(s, p, e)| Frame::Data(Data {
            stream_id: s,
            flow_len: p.len() as u32,
            payload: p,
            end_stream: e,
        })),
        (
            arb_sid(),
            arb_bytes(300),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(prio.clone())
        )
            .prop_map(|(s, b, es, eh, p)| Frame::Headers(Headers {
                stream_id: s,
                fragment: b,
                end_stream: es,
                end_headers: eh,
                priority: p,
            })),
        (arb_sid(), prio)
            .prop_filter("no self-dependency", |(s, p)| p.dependency != *s)
            .prop_map(|(s, p)| Frame::Priority(Priority {
                stream_id: s,
                spec: p
            })),
        (arb_sid(), any::<u32>()).prop_map(|(s, c)| Frame::RstStream(RstStream {
            stream_id: s,
            reason: Reason::from_u32(c)
        })),
        arb_settings().prop_map(|s| Frame::Settings(SettingsFrame {
            ack: false,
            settings: s
        })),
        Just(Frame::Settings(SettingsFrame {
            ack: true,
            settings: Settings::default()
        })),
        (arb_sid(), arb_sid(), arb_bytes(100), any::<bool>()).prop_map(|(s, p, b, e)| {
            Frame::PushPromise(PushPromise {
                stream_id: s,
                promised_id: p,
                fragment: b,
                end_headers: e,
            })
        }),
        (any::<bool>(), any::<[u8; 8]>())
            .prop_map(|(a, p)| Frame::Ping(Ping { ack: a, payload: p })),
        (any::<u32>(), any::<u32>(), arb_bytes(64)).prop_map(|(l, c, d)| Frame::GoAway(GoAway {
            last_stream_id: StreamId::new(l),
            reason: Reason::from_u32(c),
            debug_data: d,
        })),
        (0u32..=0x7fff_ffff, 1..=MAX_WINDOW_SIZE).prop_map(|(s, i)| Frame::WindowUpdate(
            WindowUpdate {
                stream_id: StreamId::new(s),
                increment: i
            }
        )),
        (arb_sid(), arb_bytes(100), any::<bool>()).prop_map(|(s, b, e)| Frame::Continuation(
            Continuation {
                stream_id: s,
                fragment: b,
                end_headers: e
            }
        )),
    ]
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(f in arb_frame()) {
        let mut dst = BytesMut::new();
        f.encode(&mut dst);
        let mut buf = dst.freeze();
        let h = FrameHeader::parse(&buf).unwrap();
        prop_assert_eq!(h.length as usize, buf.len() - HEADER_LEN);
        let payload = buf.split_off(HEADER_LEN);
        let back = Frame::decode(h, payload).unwrap();
        prop_assert_eq!(back, f);
    }

    #[test]
    fn decode_never_panics(kind in 0u8..12, fl in any::<u8>(), sid in any::<u32>(),
                           payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(kind, fl, sid, &payload);
    }
}
