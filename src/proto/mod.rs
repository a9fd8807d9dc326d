//! The sans-IO protocol core.
//!
//! Nothing in this module performs I/O or reads a clock: callers pass received bytes and the
//! current [`Timestamp`], and collect bytes to transmit, events, and the instant of the next
//! timer. `make test` enforces this (see `scripts/check-proto-purity.sh`).

pub mod frame;
pub mod h2;
pub mod hpack;
pub mod http1;
pub mod socks5;

use std::fmt;
use std::time::Duration;

/// A point in time on a monotonic clock whose origin the caller chooses.
///
/// The I/O layer maps its clock to this type; simulations use a fake clock that starts at
/// zero. Keeping the type opaque to the clock source is what lets the codec stay
/// deterministic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(Duration);

impl Timestamp {
    /// The origin of the clock.
    pub const ZERO: Timestamp = Timestamp(Duration::ZERO);

    /// A timestamp `since` after the origin.
    pub const fn from_duration(since: Duration) -> Self {
        Timestamp(since)
    }

    /// Time since the origin.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// `self + d`, saturating at the far future instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(d))
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

/// An HTTP/2 stream identifier (31 bits; RFC 9113 §5.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(u32);

impl StreamId {
    /// Stream 0: the connection itself.
    pub const CONNECTION: StreamId = StreamId(0);
    /// The largest valid stream identifier.
    pub const MAX: StreamId = StreamId(0x7fff_ffff);

    /// Builds a stream id, dropping the reserved high bit as RFC 9113 §4.1 requires.
    pub const fn new(id: u32) -> Self {
        StreamId(id & 0x7fff_ffff)
    }

    /// The numeric value.
    pub const fn value(self) -> u32 {
        self.0
    }

    /// True for stream 0.
    pub const fn is_connection(self) -> bool {
        self.0 == 0
    }

    /// Client-initiated streams are odd (RFC 9113 §5.1.1).
    pub const fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }

    /// Server-initiated (pushed) streams are even and non-zero.
    pub const fn is_server_initiated(self) -> bool {
        self.0 != 0 && self.0 % 2 == 0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// HTTP/2 error codes (RFC 9113 §7). Unknown codes are kept, never rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reason(u32);

impl Reason {
    /// Graceful shutdown or no error.
    pub const NO_ERROR: Reason = Reason(0x0);
    /// Unspecific protocol error.
    pub const PROTOCOL_ERROR: Reason = Reason(0x1);
    /// Unexpected internal error.
    pub const INTERNAL_ERROR: Reason = Reason(0x2);
    /// Flow-control protocol violated.
    pub const FLOW_CONTROL_ERROR: Reason = Reason(0x3);
    /// SETTINGS not acknowledged in time.
    pub const SETTINGS_TIMEOUT: Reason = Reason(0x4);
    /// Frame received on a half-closed stream.
    pub const STREAM_CLOSED: Reason = Reason(0x5);
    /// Frame with an invalid size.
    pub const FRAME_SIZE_ERROR: Reason = Reason(0x6);
    /// Stream refused before any application processing.
    pub const REFUSED_STREAM: Reason = Reason(0x7);
    /// Stream no longer needed.
    pub const CANCEL: Reason = Reason(0x8);
    /// Header compression context could not be maintained.
    pub const COMPRESSION_ERROR: Reason = Reason(0x9);
    /// The TCP connection behind a CONNECT stream was reset or closed abnormally.
    pub const CONNECT_ERROR: Reason = Reason(0xa);
    /// The peer exhibits behaviour that might be generating excessive load.
    pub const ENHANCE_YOUR_CALM: Reason = Reason(0xb);
    /// Transport properties do not meet minimum security requirements.
    pub const INADEQUATE_SECURITY: Reason = Reason(0xc);
    /// HTTP/1.1 is required instead.
    pub const HTTP_1_1_REQUIRED: Reason = Reason(0xd);

    /// Wraps a raw code (unknown codes are legal and mean INTERNAL_ERROR-like failure).
    pub const fn from_u32(code: u32) -> Self {
        Reason(code)
    }

    /// The raw code.
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// The RFC name, if the code is known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "error code {:#x}", self.0),
        }
    }
}
