//! Frame serialisation.
//!
//! We never emit padding or priority fields: padding only costs bandwidth on a TLS tunnel whose
//! record sizes already leak more than padding hides, and priorities are deprecated (RFC 9113
//! §5.3). Both are still parsed and validated when received.

use super::*;
use bytes::{BufMut, BytesMut};

/// Writes the 9-byte header of a DATA frame whose `len`-byte payload the caller sends as a
/// separate buffer (the zero-copy send path).
pub fn encode_data_header(stream_id: StreamId, len: u32, end_stream: bool, dst: &mut BytesMut) {
    FrameHeader {
        length: len,
        kind: kind::DATA,
        flags: if end_stream { flags::END_STREAM } else { 0 },
        stream_id,
    }
    .encode(dst);
}

/// Writes a header block as one HEADERS (or PUSH_PROMISE, when `promised_id` is set) frame
/// followed by as many CONTINUATION frames as `max_frame_size` requires (§6.10).
pub fn encode_header_block(
    stream_id: StreamId,
    promised_id: Option<StreamId>,
    block: &[u8],
    end_stream: bool,
    max_frame_size: u32,
    dst: &mut BytesMut,
) {
    let max = max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE) as usize;
    let prefix = if promised_id.is_some() { 4 } else { 0 };
    let first_len = block.len().min(max - prefix);
    let (first, mut rest) = block.split_at(first_len);
    let mut fl = if rest.is_empty() {
        flags::END_HEADERS
    } else {
        0
    };
    let kind = match promised_id {
        Some(_) => kind::PUSH_PROMISE,
        None => {
            if end_stream {
                fl |= flags::END_STREAM;
            }
            kind::HEADERS
        }
    };
    dst.reserve(block.len() + HEADER_LEN * (1 + block.len() / max) + prefix);
    FrameHeader {
        length: (first.len() + prefix) as u32,
        kind,
        flags: fl,
        stream_id,
    }
    .encode(dst);
    if let Some(p) = promised_id {
        dst.put_u32(p.value());
    }
    dst.extend_from_slice(first);
    while !rest.is_empty() {
        let n = rest.len().min(max);
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        FrameHeader {
            length: n as u32,
            kind: kind::CONTINUATION,
            flags: if rest.is_empty() {
                flags::END_HEADERS
            } else {
                0
            },
            stream_id,
        }
        .encode(dst);
        dst.extend_from_slice(chunk);
    }
}

impl Frame {
    /// Serialises the frame. Payload-carrying frames copy their payload into `dst`; the
    /// connection's hot path uses [`encode_data_header`] instead and sends DATA payloads as
    /// separate buffers.
    pub fn encode(&self, dst: &mut BytesMut) {
        let header = |length: usize, kind: u8, flags: u8, stream_id: StreamId| FrameHeader {
            length: length as u32,
            kind,
            flags,
            stream_id,
        };
        let bit = |on: bool, flag: u8| if on { flag } else { 0 };
        match self {
            Frame::Data(f) => {
                encode_data_header(f.stream_id, f.payload.len() as u32, f.end_stream, dst);
                dst.extend_from_slice(&f.payload);
            }
            Frame::Headers(f) => {
                let fl = bit(f.end_stream, flags::END_STREAM)
                    | bit(f.end_headers, flags::END_HEADERS)
                    | bit(f.priority.is_some(), flags::PRIORITY);
                let plen = if f.priority.is_some() { 5 } else { 0 };
                header(f.fragment.len() + plen, kind::HEADERS, fl, f.stream_id).encode(dst);
                if let Some(p) = f.priority {
                    encode_priority(&p, dst);
                }
                dst.extend_from_slice(&f.fragment);
            }
            Frame::Priority(f) => {
                header(5, kind::PRIORITY, 0, f.stream_id).encode(dst);
                encode_priority(&f.spec, dst);
            }
            Frame::RstStream(f) => {
                header(4, kind::RST_STREAM, 0, f.stream_id).encode(dst);
                dst.put_u32(f.reason.as_u32());
            }
            Frame::Settings(f) => {
                let len = if f.ack { 0 } else { f.settings.encoded_len() };
                header(
                    len,
                    kind::SETTINGS,
                    bit(f.ack, flags::ACK),
                    StreamId::CONNECTION,
                )
                .encode(dst);
                if !f.ack {
                    f.settings.encode(dst);
                }
            }
            Frame::PushPromise(f) => {
                let fl = bit(f.end_headers, flags::END_HEADERS);
                header(f.fragment.len() + 4, kind::PUSH_PROMISE, fl, f.stream_id).encode(dst);
                dst.put_u32(f.promised_id.value());
                dst.extend_from_slice(&f.fragment);
            }
            Frame::Ping(f) => {
                header(8, kind::PING, bit(f.ack, flags::ACK), StreamId::CONNECTION).encode(dst);
                dst.extend_from_slice(&f.payload);
            }
            Frame::GoAway(f) => {
                header(
                    8 + f.debug_data.len(),
                    kind::GOAWAY,
                    0,
                    StreamId::CONNECTION,
                )
                .encode(dst);
                dst.put_u32(f.last_stream_id.value());
                dst.put_u32(f.reason.as_u32());
                dst.extend_from_slice(&f.debug_data);
            }
            Frame::WindowUpdate(f) => {
                header(4, kind::WINDOW_UPDATE, 0, f.stream_id).encode(dst);
                dst.put_u32(f.increment);
            }
            Frame::Continuation(f) => {
                let fl = bit(f.end_headers, flags::END_HEADERS);
                header(f.fragment.len(), kind::CONTINUATION, fl, f.stream_id).encode(dst);
                dst.extend_from_slice(&f.fragment);
            }
            Frame::Unknown(f) => {
                FrameHeader {
                    length: f.payload.len() as u32,
                    ..f.header
                }
                .encode(dst);
                dst.extend_from_slice(&f.payload);
            }
        }
    }
}

fn encode_priority(p: &PrioritySpec, dst: &mut BytesMut) {
    let excl = if p.exclusive { 0x8000_0000 } else { 0 };
    dst.put_u32(p.dependency.value() | excl);
    dst.put_u8(p.weight);
}
