//! Per-stream state.
//!
//! The RFC 9113 §5.1 life cycle, as this implementation walks it. We never push and always
//! advertise SETTINGS_ENABLE_PUSH = 0 as a client, so the two *reserved* states do not occur:
//! a PUSH_PROMISE is a connection error.
//!
//! ```text
//!                          +--------+
//!                  send H  |        |  recv H
//!                ,---------+  idle  +---------.
//!               /          |        |          \
//!              v           +--------+           v
//!                           (not stored)
//!                          +--------+
//!                          |        |
//!          recv ES ,-------+  open  +-------. send ES
//!                 /        |        |        \
//!                v         +---+----+         v
//!        +----------+          |          +----------+
//!        |   half   |          |          |   half   |
//!        |  closed  |          | send R / |  closed  |
//!        | (remote) |          | recv R   | (local)  |
//!        +----+-----+          |          +-----+----+
//!             |                |                |
//!             | send ES /      v      recv ES / |
//!             | send R /   +--------+  send R / |
//!             | recv R     |        |  recv R   |
//!             `----------->| closed |<----------'
//!                          |        |
//!                          +--------+
//!                   (removed from the stream map; recently
//!                    reset ids are remembered to ignore
//!                    frames still in flight)
//!
//!  H: HEADERS (+ CONTINUATION)   ES: END_STREAM flag   R: RST_STREAM
//! ```
//!
//! "send ES" happens when the END_STREAM flag actually leaves in
//! [`super::Connection::poll_transmit`]; queuing it only closes the application's side
//! (`send_end_queued`).

use crate::proto::hpack::Field;
use crate::proto::StreamId;
use bytes::Bytes;
use std::collections::VecDeque;

/// Where a stream is in its life cycle (closed streams are not stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Both sides may send.
    Open,
    /// We sent END_STREAM; the peer may still send.
    HalfClosedLocal,
    /// The peer sent END_STREAM; we may still send.
    HalfClosedRemote,
}

/// What ends the send side once the queued DATA is out.
#[derive(Debug)]
pub(crate) enum SendEnd {
    /// Nothing queued yet: more may come.
    None,
    /// END_STREAM on the last DATA frame (or an empty one).
    EndStream,
    /// A trailer block carrying END_STREAM.
    Trailers(Vec<Field>),
}

/// Which kind of head the stream is waiting for next from the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvHeads {
    /// Client side: the response head (1xx heads may come first).
    AwaitingResponse,
    /// Head received; a further HEADERS frame can only be trailers with END_STREAM.
    Body,
}

#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) id: StreamId,
    pub(crate) state: State,
    pub(crate) recv_heads: RecvHeads,
    /// Whether we have sent (queued) our head: a server must respond before sending DATA.
    pub(crate) head_sent: bool,
    /// Client side: the request was HEAD, so the response's content-length has no body.
    pub(crate) head_request: bool,
    // --- send side
    /// Flow-control window the peer granted; may go negative after a SETTINGS change.
    pub(crate) send_window: i64,
    pub(crate) send_queue: VecDeque<Bytes>,
    pub(crate) send_queued: usize,
    pub(crate) send_end: SendEnd,
    /// Sending side closed by the application (END_STREAM or trailers queued).
    pub(crate) send_end_queued: bool,
    /// In the connection's ready list.
    pub(crate) scheduled: bool,
    /// The application saw the buffer full: tell it when it drains.
    pub(crate) wants_writable: bool,
    // --- receive side
    /// What the peer may still send before we grant more.
    pub(crate) recv_window: i64,
    /// Bytes the application released but we have not announced yet.
    pub(crate) recv_unannounced: u32,
    /// Remaining bytes promised by content-length.
    pub(crate) content_length: Option<u64>,
}

impl Stream {
    pub(crate) fn new(id: StreamId, send_window: i64, recv_window: i64) -> Self {
        Stream {
            id,
            state: State::Open,
            recv_heads: RecvHeads::Body,
            head_sent: false,
            head_request: false,
            send_window,
            send_queue: VecDeque::new(),
            send_queued: 0,
            send_end: SendEnd::None,
            send_end_queued: false,
            scheduled: false,
            wants_writable: false,
            recv_window,
            recv_unannounced: 0,
            content_length: None,
        }
    }

    /// The peer may still send DATA or trailers.
    pub(crate) fn recv_open(&self) -> bool {
        matches!(self.state, State::Open | State::HalfClosedLocal)
    }

    /// Has something the scheduler could emit now.
    pub(crate) fn has_sendable(&self) -> bool {
        (!self.send_queue.is_empty() && self.send_window > 0)
            || (self.send_queue.is_empty() && !matches!(self.send_end, SendEnd::None))
    }

    /// The peer sent END_STREAM. Returns true when the stream is now closed.
    pub(crate) fn on_recv_end(&mut self) -> bool {
        match self.state {
            State::Open => {
                self.state = State::HalfClosedRemote;
                false
            }
            State::HalfClosedLocal | State::HalfClosedRemote => true,
        }
    }

    /// END_STREAM left in a frame. Returns true when the stream is now closed.
    pub(crate) fn on_send_end(&mut self) -> bool {
        match self.state {
            State::Open => {
                self.state = State::HalfClosedLocal;
                false
            }
            State::HalfClosedLocal | State::HalfClosedRemote => true,
        }
    }
}
