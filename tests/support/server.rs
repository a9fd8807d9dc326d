//! Server side: collects request heads, bodies and trailers per stream.

use bytes::BytesMut;
use sallyport::proto::h2::{Event, RequestHead};
use sallyport::proto::hpack::Field;
use sallyport::proto::{Reason, StreamId};
use std::collections::HashMap;

/// A request as collected by [`Collector`].
#[derive(Debug)]
pub struct Request {
    /// The stream.
    pub id: StreamId,
    /// The head.
    pub head: RequestHead,
    /// The body so far.
    pub body: BytesMut,
    /// Trailers, if any.
    pub trailers: Option<Vec<Field>>,
    /// The peer finished sending.
    pub ended: bool,
}

impl Request {
    /// `:path` as a string ("" if absent).
    pub fn path(&self) -> &str {
        self.head
            .path
            .as_ref()
            .map_or("", |p| std::str::from_utf8(p).expect("utf-8 path"))
    }
}

/// What [`Collector::feed`] saw.
pub enum Fed {
    /// A request's head arrived (`ended` if it had no body).
    Head(StreamId),
    /// Body bytes arrived.
    Data(StreamId),
    /// The request is complete (END_STREAM or trailers).
    Complete(StreamId),
    /// The stream was reset.
    Reset(StreamId, Reason, bool),
    /// Something else (connection-level, Writable).
    Other(Event),
}

/// Server side: accumulates request heads, bodies and trailers per stream.
#[derive(Default)]
pub struct Collector {
    /// Requests by stream.
    pub requests: HashMap<StreamId, Request>,
}

impl Collector {
    /// Records one server-side event.
    pub fn feed(&mut self, ev: Event) -> Fed {
        match ev {
            Event::Request {
                stream_id,
                head,
                end_stream,
            } => {
                self.requests.insert(
                    stream_id,
                    Request {
                        id: stream_id,
                        head,
                        body: BytesMut::new(),
                        trailers: None,
                        ended: end_stream,
                    },
                );
                if end_stream {
                    Fed::Complete(stream_id)
                } else {
                    Fed::Head(stream_id)
                }
            }
            Event::Data {
                stream_id,
                data,
                end_stream,
            } => {
                let r = self
                    .requests
                    .get_mut(&stream_id)
                    .expect("data for an unknown request");
                r.body.extend_from_slice(&data);
                r.ended = end_stream;
                if end_stream {
                    Fed::Complete(stream_id)
                } else {
                    Fed::Data(stream_id)
                }
            }
            Event::Trailers {
                stream_id,
                trailers,
            } => {
                let r = self
                    .requests
                    .get_mut(&stream_id)
                    .expect("trailers for an unknown request");
                r.trailers = Some(trailers);
                r.ended = true;
                Fed::Complete(stream_id)
            }
            Event::Reset {
                stream_id,
                reason,
                remote,
            } => Fed::Reset(stream_id, reason, remote),
            other => Fed::Other(other),
        }
    }
}
