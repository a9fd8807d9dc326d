//! Payload validation and decoding (RFC 9113 §6).

use super::*;
use crate::proto::Reason;

const PROTOCOL: Reason = Reason::PROTOCOL_ERROR;
const FRAME_SIZE: Reason = Reason::FRAME_SIZE_ERROR;

impl Frame {
    /// Decodes a complete frame payload.
    ///
    /// `payload.len()` must equal `header.length`; the caller has already checked the length
    /// against the SETTINGS_MAX_FRAME_SIZE it advertised. Nothing is copied: payloads and
    /// header block fragments are slices of `payload`.
    pub fn decode(header: FrameHeader, payload: Bytes) -> Result<Frame, FrameError> {
        debug_assert_eq!(payload.len() as u64, u64::from(header.length));
        let sid = header.stream_id;
        let on_stream = |what: &'static str| {
            if sid.is_connection() {
                Err(FrameError::connection(PROTOCOL, what))
            } else {
                Ok(())
            }
        };
        let on_connection = |what: &'static str| {
            if sid.is_connection() {
                Ok(())
            } else {
                Err(FrameError::connection(PROTOCOL, what))
            }
        };
        Ok(match header.kind {
            kind::DATA => {
                on_stream("DATA on stream 0")?;
                let flow_len = header.length;
                let payload = strip_padding(&header, payload)?;
                Frame::Data(Data {
                    stream_id: sid,
                    payload,
                    end_stream: header.has(flags::END_STREAM),
                    flow_len,
                })
            }
            kind::HEADERS => {
                on_stream("HEADERS on stream 0")?;
                let mut block = strip_padding(&header, payload)?;
                let priority = if header.has(flags::PRIORITY) {
                    if block.len() < 5 {
                        return Err(FrameError::connection(
                            FRAME_SIZE,
                            "HEADERS too short for its priority fields",
                        ));
                    }
                    // A self-dependency is a stream error (§5.3.1), but the header block must
                    // still be decoded to keep HPACK in sync: the connection checks it.
                    let spec = priority_spec(&block[..5]);
                    block = block.slice(5..);
                    Some(spec)
                } else {
                    None
                };
                Frame::Headers(Headers {
                    stream_id: sid,
                    fragment: block,
                    end_stream: header.has(flags::END_STREAM),
                    end_headers: header.has(flags::END_HEADERS),
                    priority,
                })
            }
            kind::PRIORITY => {
                on_stream("PRIORITY on stream 0")?;
                if payload.len() != 5 {
                    return Err(FrameError::stream(
                        sid,
                        FRAME_SIZE,
                        "PRIORITY length is not 5",
                    ));
                }
                let spec = priority_spec(&payload);
                if spec.dependency == sid {
                    return Err(FrameError::stream(
                        sid,
                        PROTOCOL,
                        "stream depends on itself",
                    ));
                }
                Frame::Priority(Priority {
                    stream_id: sid,
                    spec,
                })
            }
            kind::RST_STREAM => {
                on_stream("RST_STREAM on stream 0")?;
                let code = be_u32(&payload).filter(|_| payload.len() == 4).ok_or(
                    FrameError::connection(FRAME_SIZE, "RST_STREAM length is not 4"),
                )?;
                Frame::RstStream(RstStream {
                    stream_id: sid,
                    reason: Reason::from_u32(code),
                })
            }
            kind::SETTINGS => {
                on_connection("SETTINGS on a stream")?;
                let ack = header.has(flags::ACK);
                if ack && !payload.is_empty() {
                    return Err(FrameError::connection(
                        FRAME_SIZE,
                        "SETTINGS ACK with a payload",
                    ));
                }
                if payload.len() % 6 != 0 {
                    return Err(FrameError::connection(
                        FRAME_SIZE,
                        "SETTINGS length not a multiple of 6",
                    ));
                }
                Frame::Settings(SettingsFrame {
                    ack,
                    settings: Settings::parse(&payload)?,
                })
            }
            kind::PUSH_PROMISE => {
                on_stream("PUSH_PROMISE on stream 0")?;
                let block = strip_padding(&header, payload)?;
                let promised = be_u32(&block).ok_or(FrameError::connection(
                    FRAME_SIZE,
                    "PUSH_PROMISE too short for the promised stream id",
                ))?;
                Frame::PushPromise(PushPromise {
                    stream_id: sid,
                    promised_id: StreamId::new(promised),
                    fragment: block.slice(4..),
                    end_headers: header.has(flags::END_HEADERS),
                })
            }
            kind::PING => {
                on_connection("PING on a stream")?;
                let data: [u8; 8] = payload[..]
                    .try_into()
                    .map_err(|_| FrameError::connection(FRAME_SIZE, "PING length is not 8"))?;
                Frame::Ping(Ping {
                    ack: header.has(flags::ACK),
                    payload: data,
                })
            }
            kind::GOAWAY => {
                on_connection("GOAWAY on a stream")?;
                if payload.len() < 8 {
                    return Err(FrameError::connection(FRAME_SIZE, "GOAWAY shorter than 8"));
                }
                let last = be_u32(&payload).unwrap_or(0);
                let code = be_u32(&payload[4..]).unwrap_or(0);
                Frame::GoAway(GoAway {
                    last_stream_id: StreamId::new(last),
                    reason: Reason::from_u32(code),
                    debug_data: payload.slice(8..),
                })
            }
            kind::WINDOW_UPDATE => {
                let raw = be_u32(&payload).filter(|_| payload.len() == 4).ok_or(
                    FrameError::connection(FRAME_SIZE, "WINDOW_UPDATE length is not 4"),
                )?;
                let increment = raw & MAX_WINDOW_SIZE;
                if increment == 0 {
                    return Err(if sid.is_connection() {
                        FrameError::connection(PROTOCOL, "WINDOW_UPDATE with increment 0")
                    } else {
                        FrameError::stream(sid, PROTOCOL, "WINDOW_UPDATE with increment 0")
                    });
                }
                Frame::WindowUpdate(WindowUpdate {
                    stream_id: sid,
                    increment,
                })
            }
            kind::CONTINUATION => {
                on_stream("CONTINUATION on stream 0")?;
                Frame::Continuation(Continuation {
                    stream_id: sid,
                    fragment: payload,
                    end_headers: header.has(flags::END_HEADERS),
                })
            }
            _ => Frame::Unknown(Unknown { header, payload }),
        })
    }
}

fn be_u32(b: &[u8]) -> Option<u32> {
    let four: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(four))
}

fn priority_spec(b: &[u8]) -> PrioritySpec {
    let dep = be_u32(b).unwrap_or(0);
    PrioritySpec {
        dependency: StreamId::new(dep),
        exclusive: dep & 0x8000_0000 != 0,
        weight: b.get(4).copied().unwrap_or(0),
    }
}

/// Removes the pad length byte and the padding (§6.1): a pad length that does not leave room
/// for the rest of the payload is a connection error.
fn strip_padding(header: &FrameHeader, mut payload: Bytes) -> Result<Bytes, FrameError> {
    if !header.has(flags::PADDED) {
        return Ok(payload);
    }
    let Some(&pad) = payload.first() else {
        return Err(FrameError::connection(
            FRAME_SIZE,
            "PADDED frame without a pad length",
        ));
    };
    let pad = usize::from(pad);
    if pad >= payload.len() {
        return Err(FrameError::connection(
            PROTOCOL,
            "padding longer than the payload",
        ));
    }
    let end = payload.len() - pad;
    payload.truncate(end);
    Ok(payload.slice(1..))
}
