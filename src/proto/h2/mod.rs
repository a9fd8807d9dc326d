//! The HTTP/2 connection state machine (RFC 9113), both roles, sans-IO.
//!
//! The relay is the HTTP/2 *client* (it sends requests into the tunnel); the connector is the
//! *server*, although it dialled the TCP and TLS connection. One [`Connection`] value holds
//! everything about one tunnel connection: stream states (diagram in `stream.rs`), flow
//! control in both directions, HPACK contexts, and the budgets that keep a hostile peer from
//! exhausting memory or CPU.
//!
//! ```text
//!            recv(&mut BytesMut, now)        send_request / send_response / send_data ...
//!                    │                                   │
//!                    ▼                                   ▼
//!   frames ──► validation ──► streams ──► events    queues ──► poll_transmit(out) ──► Vec<Bytes>
//!                 │                                                  ▲
//!                 └─ budgets, limits ─► GOAWAY / RST_STREAM ─────────┘
//!            poll_timeout() / handle_timeout(now): SETTINGS ACK, keep-alive PING, drain
//! ```
//!
//! Receiving flow control is driven by the application: [`Event::Data`] hands out bytes that
//! count against the windows until [`Connection::release_capacity`] says they were consumed
//! (written to the backend socket), so a slow backend slows the peer instead of growing our
//! buffers.

mod budget;
mod config;
mod conn;
mod error;
mod head;
mod recv;
mod send;
mod stream;

#[cfg(test)]
mod tests;

pub use config::{Config, Keepalive, RateLimit};
pub use conn::{Connection, Role};
pub use error::{goaway_text, ConnectionError, Flood, StreamError, GOAWAY_TEXT_MAX};
pub use head::{field, RequestHead, ResponseHead};

use crate::proto::hpack::Field;
use crate::proto::{Reason, StreamId};
use bytes::Bytes;

/// Something that happened on the connection, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Server: the peer opened a stream with a valid request head.
    Request {
        /// The new stream.
        stream_id: StreamId,
        /// The validated head.
        head: RequestHead,
        /// No body follows.
        end_stream: bool,
    },
    /// Client: a response head (1xx interim heads too; a final one follows them).
    Response {
        /// The stream.
        stream_id: StreamId,
        /// The validated head.
        head: ResponseHead,
        /// No body follows.
        end_stream: bool,
    },
    /// Body bytes, a slice of the receive buffer. Call [`Connection::release_capacity`] with
    /// `data.len()` once they are consumed.
    Data {
        /// The stream.
        stream_id: StreamId,
        /// The bytes.
        data: Bytes,
        /// The peer finished sending (for CONNECT streams: the TCP half-close).
        end_stream: bool,
    },
    /// Trailers; the peer finished sending.
    Trailers {
        /// The stream.
        stream_id: StreamId,
        /// Regular fields only.
        trailers: Vec<Field>,
    },
    /// The stream ended abnormally: drop whatever serves it (e.g. close the backend socket).
    Reset {
        /// The stream.
        stream_id: StreamId,
        /// The error code.
        reason: Reason,
        /// True if the peer reset it (RST_STREAM, or refused by its GOAWAY); false if we did
        /// because the peer broke a rule on this stream.
        remote: bool,
    },
    /// The stream's send buffer drained below half after `send_data` was refused.
    Writable {
        /// The stream.
        stream_id: StreamId,
    },
    /// The peer acknowledged a PING sent with [`Connection::ping`].
    PingAck {
        /// The PING's payload.
        payload: [u8; 8],
    },
    /// The peer is going away: no new streams; ours above `last_stream_id` were reset with
    /// REFUSED_STREAM (already reported) and are safe to retry on another connection.
    GoAway {
        /// Highest stream of ours the peer may process.
        last_stream_id: StreamId,
        /// The peer's error code (NO_ERROR for a graceful shutdown).
        reason: Reason,
        /// The peer's diagnostic data.
        debug_data: Bytes,
    },
}
