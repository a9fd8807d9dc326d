//! Errors of the connection state machine: connection errors and stream errors are separate
//! types, as in h2, because they call for different reactions.

use crate::proto::{Reason, StreamId};
use std::fmt;

/// Which flood budget a peer exhausted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flood {
    /// Too many RST_STREAM from the peer (rapid reset).
    PeerResets,
    /// Too many stream errors provoked by the peer (made-you-reset).
    LocalResets,
    /// Too many PINGs.
    Pings,
    /// Too many SETTINGS frames.
    Settings,
    /// Too many frames that carry no progress.
    EmptyFrames,
    /// The peer made us queue more control frames than allowed without reading them.
    PendingControl,
    /// A header block exceeded its byte or CONTINUATION-count cap.
    HeaderBlock,
}

impl Flood {
    fn describe(self) -> &'static str {
        match self {
            Flood::PeerResets => "too many stream resets from the peer",
            Flood::LocalResets => "too many stream errors caused by the peer",
            Flood::Pings => "too many PING frames",
            Flood::Settings => "too many SETTINGS frames",
            Flood::EmptyFrames => "too many frames without progress",
            Flood::PendingControl => "peer does not read the control frames it provokes",
            Flood::HeaderBlock => "header block over its size or CONTINUATION cap",
        }
    }
}

/// The connection is over. A GOAWAY has been queued where the protocol asks for one: flush
/// [`super::Connection::poll_transmit`] once more, then close the transport. Every later
/// `recv` or `handle_timeout` returns the same error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionError {
    /// The peer violated the protocol; we sent GOAWAY with `reason`.
    Protocol {
        /// The error code sent.
        reason: Reason,
        /// What the peer did wrong.
        detail: &'static str,
    },
    /// The peer exceeded a flood budget; we sent GOAWAY(ENHANCE_YOUR_CALM).
    Flood(Flood),
    /// The peer did not acknowledge our SETTINGS in time; we sent GOAWAY(SETTINGS_TIMEOUT).
    SettingsTimeout,
    /// The peer answered none of the configured number of keep-alive PINGs.
    KeepaliveTimeout,
    /// The peer ended the connection with a GOAWAY carrying an error code.
    PeerGoAway {
        /// The peer's error code.
        reason: Reason,
        /// The peer's diagnostic text from the GOAWAY's debug data: printable ASCII only
        /// (anything else becomes `?`), at most [`GOAWAY_TEXT_MAX`] characters; empty when
        /// it sent none. The relay names why it refused a tunnel here.
        text: String,
    },
    /// Open streams did not finish within the drain timeout after GOAWAY.
    DrainTimeout,
}

/// Longest GOAWAY debug text kept in [`ConnectionError::PeerGoAway`] (peer-chosen bytes end
/// up in logs: bounded and printable).
pub const GOAWAY_TEXT_MAX: usize = 512;

/// The peer's GOAWAY debug data as loggable text (see [`ConnectionError::PeerGoAway`]).
pub fn goaway_text(debug: &[u8]) -> String {
    debug
        .iter()
        .take(GOAWAY_TEXT_MAX)
        .map(|&b| {
            if b == b' ' || b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

impl ConnectionError {
    /// The code we put in our GOAWAY, if this error sends one.
    pub fn goaway_reason(&self) -> Option<Reason> {
        match self {
            ConnectionError::Protocol { reason, .. } => Some(*reason),
            ConnectionError::Flood(_) => Some(Reason::ENHANCE_YOUR_CALM),
            ConnectionError::SettingsTimeout => Some(Reason::SETTINGS_TIMEOUT),
            ConnectionError::KeepaliveTimeout | ConnectionError::DrainTimeout => {
                Some(Reason::NO_ERROR)
            }
            ConnectionError::PeerGoAway { .. } => None,
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Protocol { reason, detail } => {
                write!(f, "peer protocol violation ({reason}): {detail}")
            }
            ConnectionError::Flood(what) => write!(f, "ENHANCE_YOUR_CALM: {}", what.describe()),
            ConnectionError::SettingsTimeout => f.write_str("peer did not acknowledge SETTINGS"),
            ConnectionError::KeepaliveTimeout => f.write_str("peer stopped answering PINGs"),
            ConnectionError::PeerGoAway { reason, text } if text.is_empty() => {
                write!(f, "peer sent GOAWAY ({reason})")
            }
            ConnectionError::PeerGoAway { reason, text } => {
                write!(f, "peer sent GOAWAY ({reason}): {text}")
            }
            ConnectionError::DrainTimeout => f.write_str("streams did not drain after GOAWAY"),
        }
    }
}

impl std::error::Error for ConnectionError {}

/// A call on one stream could not be carried out; the connection is unaffected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// No such open stream (never opened, finished, or reset).
    UnknownStream(StreamId),
    /// The sending side of the stream is already closed (END_STREAM queued or sent).
    SendClosed(StreamId),
    /// The call does not fit the stream's state, e.g. a response before the request, or a
    /// second response.
    WrongState(StreamId, &'static str),
    /// Queuing this much would exceed the per-stream send buffer; nothing was queued.
    /// Wait for [`super::Event::Writable`].
    BufferFull {
        /// The stream.
        stream_id: StreamId,
        /// Bytes that could still be queued.
        capacity: usize,
    },
    /// The peer's MAX_CONCURRENT_STREAMS is reached; retry when a stream closes.
    ConcurrencyLimit,
    /// The connection is going away (GOAWAY sent or received, or a connection error): no new
    /// streams.
    GoingAway,
    /// The role cannot do this (a server opening a stream, a client answering one).
    WrongRole,
    /// Stream identifiers are used up; open a new connection.
    IdsExhausted,
    /// The head or trailers the application gave are not valid HTTP/2 (names the problem).
    InvalidHead(&'static str),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::UnknownStream(id) => write!(f, "stream {id} is not open"),
            StreamError::SendClosed(id) => write!(f, "stream {id}: sending side already closed"),
            StreamError::WrongState(id, what) => write!(f, "stream {id}: {what}"),
            StreamError::BufferFull {
                stream_id,
                capacity,
            } => write!(
                f,
                "stream {stream_id}: send buffer full ({capacity} bytes free)"
            ),
            StreamError::ConcurrencyLimit => f.write_str("peer's concurrent stream limit reached"),
            StreamError::GoingAway => f.write_str("connection is going away"),
            StreamError::WrongRole => f.write_str("not allowed in this connection role"),
            StreamError::IdsExhausted => f.write_str("stream identifiers exhausted"),
            StreamError::InvalidHead(what) => write!(f, "invalid header: {what}"),
        }
    }
}

impl std::error::Error for StreamError {}
