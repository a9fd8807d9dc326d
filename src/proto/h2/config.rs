//! Connection settings and the limits that defend against hostile peers.

use crate::proto::frame::{DEFAULT_INITIAL_WINDOW_SIZE, DEFAULT_MAX_FRAME_SIZE};
use std::time::Duration;

/// A token bucket: `burst` events at once, refilled at `per_second`.
///
/// Budgets are rates rather than totals so that a long-lived tunnel carrying legitimate
/// cancellations never runs out, while a flood (thousands per second) does within milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed back to back.
    pub burst: u32,
    /// Sustained events per second.
    pub per_second: u32,
}

/// Keep-alive probing: a PING every `interval` (one in flight at a time); the peer is declared
/// dead when nothing at all has arrived from it for `max_missed` intervals, so a silent peer is
/// detected at most `max_missed × interval` after its last byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Time between PINGs.
    pub interval: Duration,
    /// Silent intervals tolerated before the connection is declared dead.
    pub max_missed: u32,
}

/// Everything configurable about one HTTP/2 connection. [`Config::default`] is safe to expose
/// to an untrusted peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// SETTINGS_HEADER_TABLE_SIZE we advertise: the peer's encoder may use this much of our
    /// memory for its dynamic table.
    pub header_table_size: u32,
    /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise: streams the peer may open at once.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE we advertise: per-stream receive window.
    pub initial_stream_window: u32,
    /// Connection-level receive window: the most received-but-unconsumed DATA we hold for
    /// the whole connection.
    pub connection_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE we advertise: the largest frame we buffer whole.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertise, enforced while decoding (HPACK bomb).
    pub max_header_list_size: u32,
    /// Cap on one compressed header block (HEADERS + CONTINUATION), checked before the
    /// fragments are buffered (CONTINUATION flood).
    pub max_header_block_size: u32,
    /// Cap on CONTINUATION frames in one header block.
    pub max_continuation_frames: u32,
    /// Advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 extended CONNECT, WebSocket).
    pub enable_connect_protocol: bool,
    /// Most DATA bytes queued for sending on one stream; `send_data` beyond this is refused
    /// so a stalled peer window cannot grow our memory.
    pub max_send_buffer_per_stream: u32,
    /// Most bytes of frames the peer can make us queue (PING and SETTINGS ACKs, RST_STREAM,
    /// WINDOW_UPDATE) before we stop serving it: defends against peers that send but never read.
    pub max_pending_control_bytes: u32,
    /// RST_STREAM frames the peer may send (rapid reset, CVE-2023-44487).
    pub peer_reset_budget: RateLimit,
    /// Stream errors the peer may provoke us into (made-you-reset, CVE-2025-8671).
    pub local_reset_budget: RateLimit,
    /// PING frames (not ACKs) the peer may send.
    pub ping_budget: RateLimit,
    /// SETTINGS frames (not ACKs) the peer may send.
    pub settings_budget: RateLimit,
    /// Frames that carry no progress: empty DATA without END_STREAM, empty CONTINUATION,
    /// PRIORITY, and frames of unknown type.
    pub empty_frame_budget: RateLimit,
    /// How long the peer has to acknowledge our SETTINGS.
    pub settings_timeout: Duration,
    /// Keep-alive probing, off by default (the connector turns it on).
    pub keepalive: Option<Keepalive>,
    /// After a graceful GOAWAY, how long open streams may take to finish.
    pub drain_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            header_table_size: 4096,
            max_concurrent_streams: 1024,
            initial_stream_window: 1 << 20,
            connection_window: 16 << 20,
            max_frame_size: 64 << 10,
            max_header_list_size: 64 << 10,
            max_header_block_size: 64 << 10,
            max_continuation_frames: 16,
            enable_connect_protocol: false,
            max_send_buffer_per_stream: 1 << 20,
            max_pending_control_bytes: 64 << 10,
            peer_reset_budget: RateLimit {
                burst: 200,
                per_second: 100,
            },
            local_reset_budget: RateLimit {
                burst: 200,
                per_second: 100,
            },
            ping_budget: RateLimit {
                burst: 20,
                per_second: 5,
            },
            settings_budget: RateLimit {
                burst: 20,
                per_second: 5,
            },
            empty_frame_budget: RateLimit {
                burst: 200,
                per_second: 100,
            },
            settings_timeout: Duration::from_secs(10),
            keepalive: None,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// Clamps values into the ranges the protocol allows, so that no configuration can make
    /// the codec emit an illegal SETTINGS frame.
    pub(crate) fn sanitised(mut self) -> Config {
        use crate::proto::frame::{MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE};
        self.initial_stream_window = self.initial_stream_window.min(MAX_WINDOW_SIZE);
        self.connection_window = self
            .connection_window
            .clamp(DEFAULT_INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE);
        self.max_frame_size = self
            .max_frame_size
            .clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
        self.max_header_block_size = self.max_header_block_size.max(1);
        self.max_send_buffer_per_stream = self.max_send_buffer_per_stream.max(1);
        if let Some(k) = &mut self.keepalive {
            k.max_missed = k.max_missed.max(1);
            k.interval = k.interval.max(Duration::from_millis(1));
        }
        self
    }
}
