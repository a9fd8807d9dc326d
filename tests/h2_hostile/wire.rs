//! Frame builders: what a hostile peer writes on the wire.

use bytes::{Bytes, BytesMut};
use sallyport::proto::frame::{
    kind, Continuation, Data, Frame, FrameHeader, GoAway, Headers, Ping, Priority, PrioritySpec,
    PushPromise, RstStream, Settings, SettingsFrame, Unknown, WindowUpdate,
};
use sallyport::proto::{Reason, StreamId};

pub fn enc(f: Frame) -> Vec<u8> {
    let mut b = BytesMut::new();
    f.encode(&mut b);
    b.to_vec()
}

/// A frame whose 9-byte header is written by hand: `len` need not match `payload`.
pub fn raw(len: u32, kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    let l = len.to_be_bytes();
    let mut v = vec![l[1], l[2], l[3], kind, flags];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A frame with a matching length.
pub fn frame(kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    raw(payload.len() as u32, kind, flags, id, payload)
}

pub fn headers(id: u32, block: &[u8], end_stream: bool, end_headers: bool) -> Vec<u8> {
    enc(Frame::Headers(Headers {
        stream_id: StreamId::new(id),
        fragment: Bytes::copy_from_slice(block),
        end_stream,
        end_headers,
        priority: None,
    }))
}

pub fn cont(id: u32, fragment: &[u8], end_headers: bool) -> Vec<u8> {
    enc(Frame::Continuation(Continuation {
        stream_id: StreamId::new(id),
        fragment: Bytes::copy_from_slice(fragment),
        end_headers,
    }))
}

pub fn data(id: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
    enc(Frame::Data(Data {
        stream_id: StreamId::new(id),
        payload: Bytes::copy_from_slice(payload),
        end_stream,
        flow_len: payload.len() as u32,
    }))
}

pub fn rst(id: u32, reason: Reason) -> Vec<u8> {
    enc(Frame::RstStream(RstStream {
        stream_id: StreamId::new(id),
        reason,
    }))
}

pub fn ping(payload: [u8; 8]) -> Vec<u8> {
    enc(Frame::Ping(Ping {
        ack: false,
        payload,
    }))
}

pub fn settings(settings: Settings) -> Vec<u8> {
    enc(Frame::Settings(SettingsFrame {
        ack: false,
        settings,
    }))
}

pub fn settings_ack() -> Vec<u8> {
    enc(Frame::Settings(SettingsFrame {
        ack: true,
        settings: Settings::default(),
    }))
}

/// SETTINGS with raw (identifier, value) pairs, valid or not.
pub fn settings_raw(params: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in params {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(kind::SETTINGS, 0, 0, &p)
}

pub fn window_update(id: u32, increment: u32) -> Vec<u8> {
    enc(Frame::WindowUpdate(WindowUpdate {
        stream_id: StreamId::new(id),
        increment,
    }))
}

pub fn priority(id: u32, dep: u32) -> Vec<u8> {
    enc(Frame::Priority(Priority {
        stream_id: StreamId::new(id),
        spec: PrioritySpec {
            dependency: StreamId::new(dep),
            exclusive: false,
            weight: 15,
        },
    }))
}

pub fn unknown(kind: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    enc(Frame::Unknown(Unknown {
        header: FrameHeader {
            length: payload.len() as u32,
            kind,
            flags: 0,
            stream_id: StreamId::new(id),
        },
        payload: Bytes::copy_from_slice(payload),
    }))
}

pub fn push_promise(id: u32, promised: u32, block: &[u8]) -> Vec<u8> {
    enc(Frame::PushPromise(PushPromise {
        stream_id: StreamId::new(id),
        promised_id: StreamId::new(promised),
        fragment: Bytes::copy_from_slice(block),
        end_headers: true,
    }))
}

pub fn goaway(last: u32, reason: Reason) -> Vec<u8> {
    enc(Frame::GoAway(GoAway {
        last_stream_id: StreamId::new(last),
        reason,
        debug_data: Bytes::new(),
    }))
}
