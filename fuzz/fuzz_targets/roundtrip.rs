//! Structured round trips, built with `arbitrary`:
//!
//! * frames: any valid frame encodes to bytes that decode to the same frame;
//! * HPACK: several header blocks through one `Encoder` and one `Decoder` sharing a context
//!   (with SETTINGS_HEADER_TABLE_SIZE changes between blocks) decode to the same fields, the
//!   two dynamic tables stay identical, and the never-indexed flag survives;
//! * Huffman: `decode(encode(s)) == s`, `encoded_len` is exact, and any byte string that
//!   decodes re-encodes to itself (the code and its padding are canonical);
//! * HPACK integers: `decode(encode(v, n)) == v` for every prefix width.
#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use sallyport::proto::frame::{
    self, Continuation, Data, Frame, FrameHeader, GoAway, Headers, Ping, Priority, PrioritySpec,
    PushPromise, RstStream, Settings, SettingsFrame, Unknown, WindowUpdate, HEADER_LEN,
};
use sallyport::proto::hpack::{huffman, integer, Decoder, Encoder, Field, DEFAULT_TABLE_SIZE};
use sallyport::proto::{Reason, StreamId};

#[derive(Arbitrary, Debug)]
struct APrio {
    dependency: u32,
    exclusive: bool,
    weight: u8,
}

#[derive(Arbitrary, Debug)]
enum AFrame {
    Data(u32, Vec<u8>, bool),
    Headers(u32, Vec<u8>, bool, bool, Option<APrio>),
    Priority(u32, APrio),
    RstStream(u32, u32),
    Settings([Option<u32>; 7]),
    SettingsAck,
    PushPromise(u32, u32, Vec<u8>, bool),
    Ping(bool, [u8; 8]),
    GoAway(u32, u32, Vec<u8>),
    WindowUpdate(u32, u32),
    Continuation(u32, Vec<u8>, bool),
    Unknown(u8, u8, u32, Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct AField {
    name: Vec<u8>,
    value: Vec<u8>,
    sensitive: bool,
}

#[derive(Arbitrary, Debug)]
enum HpackOp {
    Block(Vec<AField>),
    /// A SETTINGS_HEADER_TABLE_SIZE change, acknowledged before the next block.
    TableSize(u16),
}

#[derive(Arbitrary, Debug)]
struct Input {
    frames: Vec<AFrame>,
    hpack: Vec<HpackOp>,
    huffman: Vec<Vec<u8>>,
    integers: Vec<(u32, u8, u8)>,
}

/// A non-zero stream id.
fn sid(v: u32) -> StreamId {
    StreamId::new(v % 0x7fff_ffff + 1)
}

fn prio(p: APrio, own: StreamId) -> PrioritySpec {
    let mut dependency = StreamId::new(p.dependency);
    if dependency == own {
        // Self-dependency is a stream error, not a frame: depend on the next id instead.
        dependency = StreamId::new(own.value() % 0x7fff_ffff + 1);
    }
    PrioritySpec {
        dependency,
        exclusive: p.exclusive,
        weight: p.weight,
    }
}

fn build(f: AFrame) -> Frame {
    match f {
        AFrame::Data(s, p, end) => Frame::Data(Data {
            stream_id: sid(s),
            flow_len: p.len() as u32,
            payload: p.into(),
            end_stream: end,
        }),
        AFrame::Headers(s, b, es, eh, p) => {
            let s = sid(s);
            Frame::Headers(Headers {
                stream_id: s,
                fragment: b.into(),
                end_stream: es,
                end_headers: eh,
                priority: p.map(|p| prio(p, s)),
            })
        }
        AFrame::Priority(s, p) => {
            let s = sid(s);
            Frame::Priority(Priority {
                stream_id: s,
                spec: prio(p, s),
            })
        }
        AFrame::RstStream(s, c) => Frame::RstStream(RstStream {
            stream_id: sid(s),
            reason: Reason::from_u32(c),
        }),
        AFrame::Settings(v) => Frame::Settings(SettingsFrame {
            ack: false,
            settings: Settings {
                header_table_size: v[0],
                enable_push: v[1].map(|x| x & 1 == 1),
                max_concurrent_streams: v[2],
                initial_window_size: v[3].map(|x| x & frame::MAX_WINDOW_SIZE),
                max_frame_size: v[4].map(|x| {
                    frame::DEFAULT_MAX_FRAME_SIZE
                        + x % (frame::MAX_MAX_FRAME_SIZE - frame::DEFAULT_MAX_FRAME_SIZE + 1)
                }),
                max_header_list_size: v[5],
                enable_connect_protocol: v[6].map(|x| x & 1 == 1),
            },
        }),
        AFrame::SettingsAck => Frame::Settings(SettingsFrame {
            ack: true,
            settings: Settings::default(),
        }),
        AFrame::PushPromise(s, p, b, eh) => Frame::PushPromise(PushPromise {
            stream_id: sid(s),
            promised_id: StreamId::new(p),
            fragment: b.into(),
            end_headers: eh,
        }),
        AFrame::Ping(ack, payload) => Frame::Ping(Ping { ack, payload }),
        AFrame::GoAway(l, c, d) => Frame::GoAway(GoAway {
            last_stream_id: StreamId::new(l),
            reason: Reason::from_u32(c),
            debug_data: d.into(),
        }),
        AFrame::WindowUpdate(s, i) => Frame::WindowUpdate(WindowUpdate {
            stream_id: StreamId::new(s),
            increment: (i & frame::MAX_WINDOW_SIZE).max(1),
        }),
        AFrame::Continuation(s, b, eh) => Frame::Continuation(Continuation {
            stream_id: sid(s),
            fragment: b.into(),
            end_headers: eh,
        }),
        AFrame::Unknown(kind, flags, s, p) => Frame::Unknown(Unknown {
            header: FrameHeader {
                length: p.len() as u32,
                kind: kind.max(frame::kind::CONTINUATION + 1),
                flags,
                stream_id: StreamId::new(s),
            },
            payload: p.into(),
        }),
    }
}

fn frames(list: Vec<AFrame>) {
    for f in list {
        let f = build(f);
        let mut out = BytesMut::new();
        f.encode(&mut out);
        let mut out = out.freeze();
        let h = FrameHeader::parse(&out).expect("encoded frame has a header");
        assert_eq!(h.length as usize, out.len() - HEADER_LEN);
        let payload = out.split_off(HEADER_LEN);
        match Frame::decode(h, payload) {
            Ok(back) => assert_eq!(back, f),
            Err(e) => panic!("{f:?} encodes to a frame that does not decode: {e}"),
        }
    }
}

/// What the encoder's documented policy sends never-indexed.
fn never_indexed(f: &AField) -> bool {
    f.sensitive
        || f.name == b"authorization"
        || f.name == b"proxy-authorization"
        || (f.name == b"cookie" && f.value.len() < 20)
}

fn hpack(ops: Vec<HpackOp>) {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new(DEFAULT_TABLE_SIZE);
    let mut out = Vec::new();
    for op in ops {
        match op {
            HpackOp::TableSize(n) => {
                enc.set_max_table_size(usize::from(n));
                dec.set_max_table_size(usize::from(n));
            }
            HpackOp::Block(fields) => {
                let mut block = BytesMut::new();
                enc.encode(
                    fields
                        .iter()
                        .map(|f| (&f.name[..], &f.value[..], f.sensitive)),
                    &mut block,
                );
                let block = block.freeze();
                out.clear();
                if let Err(e) = dec.decode(&block, usize::MAX, &mut out) {
                    panic!("our own block does not decode ({e}): {block:02x?} from {fields:?}");
                }
                let expected: Vec<Field> = fields
                    .iter()
                    .map(|f| Field {
                        name: Bytes::copy_from_slice(&f.name),
                        value: Bytes::copy_from_slice(&f.value),
                        sensitive: never_indexed(f),
                    })
                    .collect();
                assert_eq!(out, expected, "block {block:02x?}");
                assert_eq!(enc.table_size(), dec.table_size(), "table sizes diverged");
                assert_eq!(
                    enc.table_max_size(),
                    dec.table_max_size(),
                    "capacities diverged"
                );
                assert!(
                    enc.table_entries().eq(dec.table_entries()),
                    "dynamic tables diverged"
                );
                assert!(enc.table_size() <= enc.table_max_size());
                assert!(enc.table_max_size() <= DEFAULT_TABLE_SIZE);
            }
        }
    }
}

fn huffman_roundtrip(strings: Vec<Vec<u8>>) {
    for s in strings {
        let mut enc = BytesMut::new();
        huffman::encode(&s, &mut enc);
        assert_eq!(enc.len(), huffman::encoded_len(&s));
        let mut dec = BytesMut::from(&b"prefix"[..]);
        huffman::decode(&enc, &mut dec).expect("our Huffman output decodes");
        assert_eq!(&dec[..6], b"prefix", "decode must append");
        assert_eq!(&dec[6..], &s[..]);
        assert!(huffman::validate(&enc).is_ok());

        // The raw bytes as a Huffman string: validate agrees with decode, and whatever
        // decodes re-encodes to exactly the same bytes.
        let mut raw = BytesMut::new();
        let r = huffman::decode(&s, &mut raw);
        assert_eq!(
            r.is_ok(),
            huffman::validate(&s).is_ok(),
            "validate disagrees on {s:02x?}"
        );
        match r {
            Ok(()) => {
                let mut again = BytesMut::new();
                huffman::encode(&raw, &mut again);
                assert_eq!(&again[..], &s[..], "Huffman coding is not canonical");
            }
            Err(_) => assert!(raw.is_empty(), "decode error left output behind"),
        }
    }
}

fn integers(list: Vec<(u32, u8, u8)>) {
    for (v, prefix, flags) in list {
        let prefix = prefix % 8 + 1;
        let v = v as usize;
        let mut b = BytesMut::new();
        integer::encode(v, prefix, flags, &mut b);
        assert_eq!(
            integer::decode(&b, prefix),
            Ok((v, b.len())),
            "{v} with {prefix} bits"
        );
    }
}

fuzz_target!(|input: Input| {
    frames(input.frames);
    hpack(input.hpack);
    huffman_roundtrip(input.huffman);
    integers(input.integers);
});
