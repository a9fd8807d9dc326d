//! HTTP/2 frames (RFC 9113 §4 and §6).
//!
//! Two layers, as in smoltcp's `wire` module: [`FrameHeader::parse`] reads the fixed 9-byte
//! header, and [`Frame::decode`] turns a complete payload into a validated [`Frame`]. Every
//! violation is classified as a connection error or a stream error with the error code the RFC
//! requires ([`FrameError`]). Payload-carrying frames keep [`Bytes`] slices of the input: a
//! DATA payload is never copied.
//!
//! Emitting goes through [`Frame::encode`], plus [`encode_data_header`] for the zero-copy send
//! path (the 9-byte header is written, the payload travels as its own `Bytes`) and
//! [`encode_header_block`] which splits a header block into HEADERS/PUSH_PROMISE and
//! CONTINUATION frames.

mod decode;
mod encode;
mod error;
mod settings;

pub use encode::{encode_data_header, encode_header_block};
pub use error::FrameError;
pub use settings::{Setting, Settings};

use super::{Reason, StreamId};
use bytes::Bytes;

/// Length of the fixed frame header.
pub const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE before the peer says otherwise, and the smallest legal value.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest legal SETTINGS_MAX_FRAME_SIZE (2^24 - 1).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The largest legal flow-control window (2^31 - 1).
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;
/// The window every stream and the connection start with (RFC 9113 §6.9.2).
pub const DEFAULT_INITIAL_WINDOW_SIZE: u32 = 65_535;
/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame type codes.
pub mod kind {
    /// DATA
    pub const DATA: u8 = 0x0;
    /// HEADERS
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (deprecated by RFC 9113 but still parsed)
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING
    pub const PING: u8 = 0x6;
    /// GOAWAY
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flag bits.
pub mod flags {
    /// DATA, HEADERS: last frame the sender will send on this stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block is complete.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length byte and padding are present.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: priority fields are present.
    pub const PRIORITY: u8 = 0x20;
}

/// The fixed 9-byte frame header (RFC 9113 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub length: u32,
    /// Frame type code (see [`kind`]).
    pub kind: u8,
    /// Flag bits (see [`flags`]).
    pub flags: u8,
    /// Stream the frame belongs to; the reserved bit is already cleared.
    pub stream_id: StreamId,
}

impl FrameHeader {
    /// Parses the first [`HEADER_LEN`] bytes of `src`; `None` if fewer are available.
    pub fn parse(src: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; HEADER_LEN] = src.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            length: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            stream_id: StreamId::new(u32::from_be_bytes([h[5], h[6], h[7], h[8]])),
        })
    }

    /// Writes the header. `length` must fit in 24 bits (callers never build larger frames).
    pub fn encode(&self, dst: &mut bytes::BytesMut) {
        dst.extend_from_slice(&self.to_bytes());
    }

    /// The header's 9 wire bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        debug_assert!(self.length <= MAX_MAX_FRAME_SIZE);
        let l = self.length.to_be_bytes();
        let s = self.stream_id.value().to_be_bytes();
        [
            l[1], l[2], l[3], self.kind, self.flags, s[0], s[1], s[2], s[3],
        ]
    }

    /// True if `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A decoded, validated frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// DATA (§6.1).
    Data(Data),
    /// HEADERS (§6.2).
    Headers(Headers),
    /// PRIORITY (§6.3); parsed for validation, otherwise ignored.
    Priority(Priority),
    /// RST_STREAM (§6.4).
    RstStream(RstStream),
    /// SETTINGS (§6.5).
    Settings(SettingsFrame),
    /// PUSH_PROMISE (§6.6).
    PushPromise(PushPromise),
    /// PING (§6.7).
    Ping(Ping),
    /// GOAWAY (§6.8).
    GoAway(GoAway),
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate(WindowUpdate),
    /// CONTINUATION (§6.10).
    Continuation(Continuation),
    /// A frame type this implementation does not know; must be ignored (§4.1).
    Unknown(Unknown),
}

/// DATA frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data {
    /// Stream (never 0).
    pub stream_id: StreamId,
    /// Payload without padding: a slice of the receive buffer.
    pub payload: Bytes,
    /// END_STREAM flag.
    pub end_stream: bool,
    /// The whole frame payload length including padding: what flow control counts (§6.9.1).
    pub flow_len: u32,
}

/// Stream dependency and weight (§5.3.2, deprecated but must still be parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrioritySpec {
    /// The stream this one depends on.
    pub dependency: StreamId,
    /// Exclusive flag.
    pub exclusive: bool,
    /// Weight minus one, as on the wire.
    pub weight: u8,
}

/// HEADERS frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headers {
    /// Stream (never 0).
    pub stream_id: StreamId,
    /// Header block fragment, padding removed.
    pub fragment: Bytes,
    /// END_STREAM flag.
    pub end_stream: bool,
    /// END_HEADERS flag: no CONTINUATION follows.
    pub end_headers: bool,
    /// Priority fields, if the PRIORITY flag was set.
    pub priority: Option<PrioritySpec>,
}

/// PRIORITY frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// Stream (never 0).
    pub stream_id: StreamId,
    /// The priority fields.
    pub spec: PrioritySpec,
}

/// RST_STREAM frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstStream {
    /// Stream (never 0).
    pub stream_id: StreamId,
    /// Why the stream ends.
    pub reason: Reason,
}

/// SETTINGS frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsFrame {
    /// ACK flag: acknowledges the peer's SETTINGS; carries no parameters.
    pub ack: bool,
    /// The parameters, validated.
    pub settings: Settings,
}

/// PUSH_PROMISE frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPromise {
    /// Stream the promise is associated with.
    pub stream_id: StreamId,
    /// The reserved stream.
    pub promised_id: StreamId,
    /// Header block fragment, padding removed.
    pub fragment: Bytes,
    /// END_HEADERS flag.
    pub end_headers: bool,
}

/// PING frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    /// ACK flag.
    pub ack: bool,
    /// Opaque data, echoed in the acknowledgement.
    pub payload: [u8; 8],
}

/// GOAWAY frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAway {
    /// Highest stream id the sender might have processed.
    pub last_stream_id: StreamId,
    /// Why the connection ends.
    pub reason: Reason,
    /// Opaque diagnostic data.
    pub debug_data: Bytes,
}

/// WINDOW_UPDATE frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowUpdate {
    /// Stream, or 0 for the connection window.
    pub stream_id: StreamId,
    /// Increment, 1..=2^31-1.
    pub increment: u32,
}

/// CONTINUATION frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continuation {
    /// Stream (never 0).
    pub stream_id: StreamId,
    /// Header block fragment.
    pub fragment: Bytes,
    /// END_HEADERS flag.
    pub end_headers: bool,
}

/// A frame of an unknown type, kept only so that it can be counted and ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The header as received.
    pub header: FrameHeader,
    /// The payload as received.
    pub payload: Bytes,
}

impl Frame {
    /// The stream the frame belongs to (0 for connection-level frames).
    pub fn stream_id(&self) -> StreamId {
        match self {
            Frame::Data(f) => f.stream_id,
            Frame::Headers(f) => f.stream_id,
            Frame::Priority(f) => f.stream_id,
            Frame::RstStream(f) => f.stream_id,
            Frame::PushPromise(f) => f.stream_id,
            Frame::WindowUpdate(f) => f.stream_id,
            Frame::Continuation(f) => f.stream_id,
            Frame::Unknown(f) => f.header.stream_id,
            Frame::Settings(_) | Frame::Ping(_) | Frame::GoAway(_) => StreamId::CONNECTION,
        }
    }
}

#[cfg(test)]
mod tests;
