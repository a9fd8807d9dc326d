//! `FrameHeader::parse` + `Frame::decode` on arbitrary bytes, frame after frame. A frame that
//! decodes must re-encode to bytes that decode to the same frame (padding aside: it is
//! stripped on decode and never emitted, so DATA's flow-control length shrinks to the payload).
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use sallyport::proto::frame::{Frame, FrameHeader, HEADER_LEN};

fn normalise(f: Frame) -> Frame {
    match f {
        Frame::Data(mut d) => {
            d.flow_len = d.payload.len() as u32;
            Frame::Data(d)
        }
        other => other,
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    let mut at = 0;
    while let Some(h) = FrameHeader::parse(&input[at..]) {
        let start = at + HEADER_LEN;
        // Clamp the length to what is there, so every input is a sequence of frames.
        let len = (h.length as usize).min(input.len() - start);
        let h = FrameHeader {
            length: len as u32,
            ..h
        };
        at = start + len;
        let Ok(frame) = Frame::decode(h, input.slice(start..at)) else {
            continue;
        };
        assert_eq!(frame.stream_id(), h.stream_id);
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        let mut out = out.freeze();
        let h2 = FrameHeader::parse(&out).expect("re-encoded frame has a header");
        assert_eq!(h2.length as usize, out.len() - HEADER_LEN, "length field");
        assert_eq!(h2.kind, h.kind, "frame type");
        assert_eq!(h2.stream_id, h.stream_id, "stream id");
        let payload = out.split_off(HEADER_LEN);
        let again = match Frame::decode(h2, payload) {
            Ok(f) => f,
            Err(e) => panic!("re-encoded {frame:?} does not decode: {e}"),
        };
        assert_eq!(normalise(again), normalise(frame));
    }
});
