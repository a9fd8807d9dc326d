//! Frame-layer errors, each already classified the way RFC 9113 §5.4 requires.

use crate::proto::{Reason, StreamId};
use std::fmt;

/// A frame that violates RFC 9113.
///
/// The frame layer knows enough to tell whether the violation poisons the whole connection or
/// only one stream; the connection state machine acts on that classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The connection cannot continue: send GOAWAY with `reason` and close (§5.4.1).
    Connection {
        /// Error code for the GOAWAY.
        reason: Reason,
        /// What was wrong, for logs and the GOAWAY debug data.
        detail: &'static str,
    },
    /// Only `stream` is affected: send RST_STREAM with `reason` (§5.4.2). The frame was fully
    /// consumed, so the connection stays usable.
    Stream {
        /// The stream to reset.
        stream_id: StreamId,
        /// Error code for the RST_STREAM.
        reason: Reason,
        /// What was wrong.
        detail: &'static str,
    },
}

impl FrameError {
    pub(crate) const fn connection(reason: Reason, detail: &'static str) -> Self {
        FrameError::Connection { reason, detail }
    }

    pub(crate) const fn stream(stream_id: StreamId, reason: Reason, detail: &'static str) -> Self {
        FrameError::Stream {
            stream_id,
            reason,
            detail,
        }
    }

    /// The error code to send.
    pub fn reason(&self) -> Reason {
        match *self {
            FrameError::Connection { reason, .. } | FrameError::Stream { reason, .. } => reason,
        }
    }

    /// The human-readable cause.
    pub fn detail(&self) -> &'static str {
        match *self {
            FrameError::Connection { detail, .. } | FrameError::Stream { detail, .. } => detail,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Connection { reason, detail } => {
                write!(f, "connection error {reason}: {detail}")
            }
            FrameError::Stream {
                stream_id,
                reason,
                detail,
            } => write!(f, "stream {stream_id} error {reason}: {detail}"),
        }
    }
}

impl std::error::Error for FrameError {}
