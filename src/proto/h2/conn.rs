//! The connection: construction, the application-facing calls, and timers. Receiving lives in
//! `recv.rs`, the send scheduler in `send.rs`.

use super::budget::Bucket;
use super::head::{check_outgoing_fields, RequestHead, ResponseHead};
use super::stream::{RecvHeads, SendEnd, Stream};
use super::{Config, ConnectionError, Event, Flood, StreamError};
use crate::proto::frame::{
    self, Frame, GoAway, Ping, RstStream, Settings, SettingsFrame, WindowUpdate,
    DEFAULT_INITIAL_WINDOW_SIZE, DEFAULT_MAX_FRAME_SIZE, PREFACE,
};
use crate::proto::hpack::{self, Field};
use crate::proto::{Reason, StreamId, Timestamp};
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, VecDeque};

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Opens streams (the relay).
    Client,
    /// Answers streams (the connector).
    Server,
}

/// How many recently reset stream ids we remember, to ignore frames the peer sent before it
/// saw our RST_STREAM (§5.4.2) rather than treating them as errors; and how many recently
/// closed ids, to tell a frame on a closed stream (STREAM_CLOSED) from a stream id the peer
/// skipped or reused (PROTOCOL_ERROR, §5.1.1).
const RECENT_RESETS: usize = 256;

/// Open streams by id. A B-tree rather than a hash map: the peer picks the ids, and with an
/// unkeyed hash it can pick up to MAX_CONCURRENT_STREAMS ids that share one probe chain (a
/// hostile-peer test measured 9× slower lookups). With at most ~1000 entries the tree is
/// three levels deep, and its iteration order is deterministic, which keeps simulations
/// reproducible.
pub(crate) type StreamMap = BTreeMap<u32, Stream>;

/// A header block being assembled from HEADERS + CONTINUATION frames.
pub(crate) struct PartialBlock {
    pub(crate) stream_id: StreamId,
    pub(crate) end_stream: bool,
    /// The HEADERS frame made the stream depend on itself (§5.3.1): reset it once decoded.
    pub(crate) self_dependent: bool,
    pub(crate) block: BytesMut,
    pub(crate) frames: u32,
}

/// One HTTP/2 connection, either role, sans-IO.
///
/// Drive it with [`recv`](Self::recv) (bytes in), [`poll_transmit`](Self::poll_transmit)
/// (bytes out), [`poll_event`](Self::poll_event) (what happened), and
/// [`poll_timeout`](Self::poll_timeout) / [`handle_timeout`](Self::handle_timeout) (timers).
/// After any call that may produce output, call `poll_transmit`.
pub struct Connection {
    pub(crate) role: Role,
    pub(crate) config: Config,
    pub(crate) now: Timestamp,
    // What the peer told us.
    pub(crate) peer_max_frame_size: u32,
    pub(crate) peer_initial_window: u32,
    pub(crate) peer_max_concurrent: u32,
    pub(crate) peer_connect_protocol: bool,
    // Our SETTINGS, until acknowledged.
    pub(crate) local_settings_acked: bool,
    pub(crate) settings_deadline: Option<Timestamp>,
    pub(crate) encoder: hpack::Encoder,
    pub(crate) decoder: hpack::Decoder,
    pub(crate) decoded: Vec<Field>,
    pub(crate) streams: StreamMap,
    pub(crate) next_local_id: u32,
    pub(crate) last_peer_id: u32,
    pub(crate) local_open: u32,
    pub(crate) peer_open: u32,
    pub(crate) recent_resets: VecDeque<StreamId>,
    pub(crate) recent_closed: VecDeque<StreamId>,
    pub(crate) conn_send_window: i64,
    pub(crate) conn_recv_window: i64,
    pub(crate) conn_recv_unannounced: u32,
    pub(crate) expect_preface: bool,
    pub(crate) expect_settings: bool,
    pub(crate) continuation: Option<PartialBlock>,
    /// Frames queued for sending ahead of any DATA, in order.
    pub(crate) pending: BytesMut,
    /// Bytes of `pending` the peer provoked since the last flush.
    pub(crate) provoked: usize,
    pub(crate) ready: VecDeque<StreamId>,
    /// Streams with DATA waiting for the connection window; back to `ready` on the
    /// connection's WINDOW_UPDATE.
    pub(crate) conn_blocked: VecDeque<StreamId>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) peer_resets: Bucket,
    pub(crate) local_resets: Bucket,
    pub(crate) pings: Bucket,
    pub(crate) settings_frames: Bucket,
    pub(crate) empty_frames: Bucket,
    pub(crate) goaway_sent: Option<StreamId>,
    pub(crate) goaway_received: Option<StreamId>,
    pub(crate) drain_deadline: Option<Timestamp>,
    pub(crate) error: Option<ConnectionError>,
    pub(crate) next_ping: Option<Timestamp>,
    pub(crate) ping_outstanding: bool,
    /// When bytes last arrived from the peer: the keep-alive deadline counts from here.
    pub(crate) last_heard: Timestamp,
    /// PINGs sent with [`Connection::ping`] and not yet acknowledged.
    pub(crate) user_pings: u32,
}

/// The payload of our keep-alive PINGs; user PINGs with other payloads are reported as
/// [`Event::PingAck`].
const KEEPALIVE_PING: [u8; 8] = *b"sp-alive";

impl Connection {
    /// A new connection. Its first output is the preface (client) and our SETTINGS.
    pub fn new(role: Role, config: Config, now: Timestamp) -> Self {
        let config = config.sanitised();
        let mut c = Connection {
            role,
            now,
            peer_max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            peer_initial_window: DEFAULT_INITIAL_WINDOW_SIZE,
            peer_max_concurrent: u32::MAX,
            peer_connect_protocol: false,
            local_settings_acked: false,
            settings_deadline: Some(now.saturating_add(config.settings_timeout)),
            encoder: hpack::Encoder::new(),
            decoder: hpack::Decoder::new(hpack::DEFAULT_TABLE_SIZE),
            decoded: Vec::new(),
            streams: StreamMap::default(),
            next_local_id: if role == Role::Client { 1 } else { 2 },
            last_peer_id: 0,
            local_open: 0,
            peer_open: 0,
            recent_resets: VecDeque::with_capacity(RECENT_RESETS),
            recent_closed: VecDeque::with_capacity(RECENT_RESETS),
            conn_send_window: i64::from(DEFAULT_INITIAL_WINDOW_SIZE),
            conn_recv_window: i64::from(config.connection_window),
            conn_recv_unannounced: 0,
            expect_preface: role == Role::Server,
            expect_settings: true,
            continuation: None,
            pending: BytesMut::with_capacity(16 << 10),
            provoked: 0,
            ready: VecDeque::new(),
            conn_blocked: VecDeque::new(),
            events: VecDeque::new(),
            peer_resets: Bucket::new(config.peer_reset_budget, now),
            local_resets: Bucket::new(config.local_reset_budget, now),
            pings: Bucket::new(config.ping_budget, now),
            settings_frames: Bucket::new(config.settings_budget, now),
            empty_frames: Bucket::new(config.empty_frame_budget, now),
            goaway_sent: None,
            goaway_received: None,
            drain_deadline: None,
            error: None,
            next_ping: config.keepalive.map(|k| now.saturating_add(k.interval)),
            ping_outstanding: false,
            last_heard: now,
            user_pings: 0,
            config,
        };
        if role == Role::Client {
            c.pending.extend_from_slice(PREFACE);
        }
        let settings = Settings {
            header_table_size: Some(c.config.header_table_size),
            enable_push: (role == Role::Client).then_some(false),
            max_concurrent_streams: Some(c.config.max_concurrent_streams),
            initial_window_size: Some(c.config.initial_stream_window),
            max_frame_size: Some(c.config.max_frame_size),
            max_header_list_size: Some(c.config.max_header_list_size),
            enable_connect_protocol: c.config.enable_connect_protocol.then_some(true),
        };
        Frame::Settings(SettingsFrame {
            ack: false,
            settings,
        })
        .encode(&mut c.pending);
        let extra = c.config.connection_window - DEFAULT_INITIAL_WINDOW_SIZE;
        if extra > 0 {
            c.queue(Frame::WindowUpdate(WindowUpdate {
                stream_id: StreamId::CONNECTION,
                increment: extra,
            }));
        }
        c
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The next thing that happened, in order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// True when [`poll_transmit`](Self::poll_transmit) has something to send. Streams waiting
    /// for the peer's connection window do not count.
    pub fn wants_transmit(&self) -> bool {
        if !self.pending.is_empty() {
            return true;
        }
        if self.error.is_some() {
            return false;
        }
        // Exact, not "the ready list is non-empty": entries may have gone stale (stream reset)
        // or blocked (a SETTINGS decrease shrank the window) since they were queued. The list
        // is short in practice: streams with something to send right now.
        self.ready.iter().any(|id| {
            self.streams.get(&id.value()).is_some_and(|s| {
                s.scheduled
                    && if s.send_queue.is_empty() {
                        !matches!(s.send_end, SendEnd::None)
                    } else {
                        s.send_window > 0 && self.conn_send_window > 0
                    }
            })
        })
    }

    /// Streams currently open (either initiator).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// True if [`send_request`](Self::send_request) would succeed now.
    pub fn can_open_stream(&self) -> bool {
        self.role == Role::Client
            && self.error.is_none()
            && self.goaway_sent.is_none()
            && self.goaway_received.is_none()
            && self.local_open < self.peer_max_concurrent
            && self.next_local_id <= StreamId::MAX.value()
    }

    /// True once the peer's first SETTINGS frame has been processed: until then its
    /// parameters are the protocol defaults (no extended CONNECT, for one).
    pub fn peer_settings_received(&self) -> bool {
        !self.expect_settings
    }

    /// True if the peer advertised SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3): only
    /// then may a client send `:protocol`.
    pub fn peer_enables_connect_protocol(&self) -> bool {
        self.peer_connect_protocol
    }

    /// The connection has ended (error, or GOAWAY and every stream finished) and everything
    /// queued has been handed out: close the transport.
    pub fn is_done(&self) -> bool {
        let finished = self.error.is_some()
            || ((self.goaway_sent.is_some() || self.goaway_received.is_some())
                && self.streams.is_empty());
        finished && self.pending.is_empty()
    }

    /// The error that ended the connection, if any.
    pub fn error(&self) -> Option<&ConnectionError> {
        self.error.as_ref()
    }

    // ------------------------------------------------------------------ sending heads

    /// Client: opens a stream with a request head.
    pub fn send_request(
        &mut self,
        head: &RequestHead,
        end_stream: bool,
    ) -> Result<StreamId, StreamError> {
        if self.role != Role::Client {
            return Err(StreamError::WrongRole);
        }
        if self.error.is_some() || self.goaway_sent.is_some() || self.goaway_received.is_some() {
            return Err(StreamError::GoingAway);
        }
        if self.local_open >= self.peer_max_concurrent {
            return Err(StreamError::ConcurrencyLimit);
        }
        if self.next_local_id > StreamId::MAX.value() {
            return Err(StreamError::IdsExhausted);
        }
        if head.method.is_empty() {
            return Err(StreamError::InvalidHead("empty :method"));
        }
        if head.protocol.is_some() && !self.peer_connect_protocol {
            return Err(StreamError::InvalidHead(
                "peer did not enable extended CONNECT",
            ));
        }
        check_outgoing_fields(&head.fields).map_err(StreamError::InvalidHead)?;
        let id = StreamId::new(self.next_local_id);
        self.next_local_id += 2;
        let pseudo = head.pseudo().map(|(n, v)| (n, &v[..], false));
        let regular = head
            .fields
            .iter()
            .map(|f| (&f.name[..], &f.value[..], f.sensitive));
        self.queue_header_block(id, pseudo.chain(regular), end_stream);
        let mut s = Stream::new(
            id,
            i64::from(self.peer_initial_window),
            self.local_initial_recv_window(),
        );
        s.recv_heads = RecvHeads::AwaitingResponse;
        s.head_sent = true;
        s.head_request = &head.method[..] == b"HEAD";
        if end_stream {
            s.send_end_queued = true;
            s.on_send_end();
        }
        self.streams.insert(id.value(), s);
        self.local_open += 1;
        Ok(id)
    }

    /// Server: sends the response head (1xx heads may precede the final one).
    pub fn send_response(
        &mut self,
        id: StreamId,
        head: &ResponseHead,
        end_stream: bool,
    ) -> Result<(), StreamError> {
        if self.role != Role::Server {
            return Err(StreamError::WrongRole);
        }
        if !(100..=999).contains(&head.status) || head.status == 101 {
            return Err(StreamError::InvalidHead(":status outside 100..=999 or 101"));
        }
        if head.is_informational() && end_stream {
            return Err(StreamError::InvalidHead(
                "1xx response cannot end the stream",
            ));
        }
        check_outgoing_fields(&head.fields).map_err(StreamError::InvalidHead)?;
        let s = self.stream_for_send(id)?;
        if s.head_sent {
            return Err(StreamError::WrongState(id, "response head already sent"));
        }
        s.head_sent = !head.is_informational();
        if end_stream {
            s.send_end_queued = true;
        }
        let mut status = itoa3(head.status);
        let status = &mut status[..];
        let pseudo = std::iter::once((&b":status"[..], &*status, false));
        let regular = head
            .fields
            .iter()
            .map(|f| (&f.name[..], &f.value[..], f.sensitive));
        self.queue_header_block(id, pseudo.chain(regular), end_stream);
        if end_stream {
            self.after_send_end(id);
        }
        Ok(())
    }

    /// Queues DATA. The bytes are sent as they are, without a copy, as flow control allows.
    /// Refused with [`StreamError::BufferFull`] (nothing queued) beyond
    /// [`Config::max_send_buffer_per_stream`].
    pub fn send_data(
        &mut self,
        id: StreamId,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), StreamError> {
        let cap = self.config.max_send_buffer_per_stream as usize;
        let s = self.stream_for_send(id)?;
        if !s.head_sent {
            return Err(StreamError::WrongState(id, "DATA before the head"));
        }
        let capacity = cap.saturating_sub(s.send_queued);
        if data.len() > capacity {
            s.wants_writable = true;
            return Err(StreamError::BufferFull {
                stream_id: id,
                capacity,
            });
        }
        if !data.is_empty() {
            s.send_queued += data.len();
            s.send_queue.push_back(data);
        }
        if end_stream {
            s.send_end = SendEnd::EndStream;
            s.send_end_queued = true;
        }
        self.schedule(id);
        Ok(())
    }

    /// Queues trailers; they end the stream after the queued DATA.
    pub fn send_trailers(&mut self, id: StreamId, trailers: Vec<Field>) -> Result<(), StreamError> {
        check_outgoing_fields(&trailers).map_err(StreamError::InvalidHead)?;
        let s = self.stream_for_send(id)?;
        if !s.head_sent {
            return Err(StreamError::WrongState(id, "trailers before the head"));
        }
        s.send_end = SendEnd::Trailers(trailers);
        s.send_end_queued = true;
        self.schedule(id);
        Ok(())
    }

    /// Bytes [`send_data`](Self::send_data) would accept on `id` now (0 if the stream is not
    /// writable).
    pub fn send_capacity(&self, id: StreamId) -> usize {
        match self.streams.get(&id.value()) {
            Some(s) if !s.send_end_queued => {
                (self.config.max_send_buffer_per_stream as usize).saturating_sub(s.send_queued)
            }
            _ => 0,
        }
    }

    /// True if `id` is open and its sending side is still open (END_STREAM not queued yet).
    pub fn can_send(&self, id: StreamId) -> bool {
        self.streams
            .get(&id.value())
            .is_some_and(|s| !s.send_end_queued)
    }

    /// Resets a stream (RST_STREAM with `reason`); its queued data is dropped. A no-op for a
    /// stream that is already closed.
    pub fn reset(&mut self, id: StreamId, reason: Reason) {
        if self.streams.contains_key(&id.value()) {
            self.remove_stream(id);
            self.remember_reset(id);
            self.queue(Frame::RstStream(RstStream {
                stream_id: id,
                reason,
            }));
        }
    }

    /// The application consumed `n` bytes of DATA received on `id` (as delivered in
    /// [`Event::Data`]); the peer may send that much more. WINDOW_UPDATEs are batched until
    /// half a window is due. Works for streams that have closed meanwhile (only the
    /// connection window is credited).
    pub fn release_capacity(&mut self, id: StreamId, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.release_connection(n);
        let initial = self.config.initial_stream_window;
        let Some(s) = self.streams.get_mut(&id.value()) else {
            return;
        };
        if !s.recv_open() {
            return;
        }
        let room = i64::from(initial) - s.recv_window - i64::from(s.recv_unannounced);
        let n = i64::from(n).clamp(0, room.max(0)) as u32;
        s.recv_unannounced += n;
        if s.recv_unannounced >= initial / 2 && s.recv_unannounced > 0 {
            let inc = std::mem::take(&mut s.recv_unannounced);
            s.recv_window += i64::from(inc);
            self.queue(Frame::WindowUpdate(WindowUpdate {
                stream_id: id,
                increment: inc,
            }));
        }
    }

    /// Sends a PING; the acknowledgement arrives as [`Event::PingAck`].
    pub fn ping(&mut self, payload: [u8; 8]) {
        if self.error.is_some() {
            return;
        }
        self.user_pings = self.user_pings.saturating_add(1);
        self.queue(Frame::Ping(Ping {
            ack: false,
            payload,
        }));
    }

    /// Starts a graceful shutdown: GOAWAY with the last stream we accepted. Streams already
    /// open finish (within [`Config::drain_timeout`]); the peer must open new ones elsewhere.
    pub fn go_away(&mut self, reason: Reason, now: Timestamp) {
        self.go_away_with(reason, Bytes::new(), now);
    }

    /// [`go_away`](Self::go_away) with diagnostic text for the peer's logs (RFC 9113 §6.8:
    /// debug data carries no semantics).
    pub fn go_away_with(&mut self, reason: Reason, debug_data: Bytes, now: Timestamp) {
        self.now = self.now.max(now);
        if self.error.is_some() || self.goaway_sent.is_some() {
            return;
        }
        let last = StreamId::new(self.last_peer_id);
        self.goaway_sent = Some(last);
        self.drain_deadline = Some(self.now.saturating_add(self.config.drain_timeout));
        self.queue(Frame::GoAway(GoAway {
            last_stream_id: last,
            reason,
            debug_data,
        }));
    }

    // ------------------------------------------------------------------ timers

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.error.is_some() {
            return None;
        }
        [
            self.settings_deadline,
            self.next_ping,
            self.drain_deadline,
            self.keepalive_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), ConnectionError> {
        self.now = self.now.max(now);
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.settings_deadline.is_some_and(|d| now >= d) {
            return Err(self.fail(ConnectionError::SettingsTimeout));
        }
        if self.drain_deadline.is_some_and(|d| now >= d) && !self.streams.is_empty() {
            return Err(self.fail(ConnectionError::DrainTimeout));
        }
        if self.keepalive_deadline().is_some_and(|d| now >= d) {
            return Err(self.fail(ConnectionError::KeepaliveTimeout));
        }
        if let (Some(at), Some(k)) = (self.next_ping, self.config.keepalive) {
            if now >= at {
                // One probe in flight at a time: an unanswered PING is not repeated, the
                // deadline above decides.
                if !self.ping_outstanding {
                    self.queue(Frame::Ping(Ping {
                        ack: false,
                        payload: KEEPALIVE_PING,
                    }));
                    self.ping_outstanding = true;
                }
                self.next_ping = Some(now.saturating_add(k.interval));
            }
        }
        Ok(())
    }

    /// The peer is dead when nothing at all has arrived for `max_missed` keep-alive intervals.
    /// Counting from the last byte heard (rather than counting unanswered PINGs at ticks)
    /// bounds detection by exactly `max_missed × interval` after the peer went silent,
    /// wherever in the PING cycle that happened.
    fn keepalive_deadline(&self) -> Option<Timestamp> {
        let k = self.config.keepalive?;
        Some(
            self.last_heard
                .saturating_add(k.interval.saturating_mul(k.max_missed)),
        )
    }

    // ------------------------------------------------------------------ internals

    pub(crate) fn is_keepalive_ack(&mut self, payload: &[u8; 8]) -> bool {
        if *payload == KEEPALIVE_PING && self.config.keepalive.is_some() {
            self.ping_outstanding = false;
            true
        } else {
            false
        }
    }

    /// The receive window a new stream starts with: until the peer acknowledges our SETTINGS
    /// it may still assume the default 65 535.
    pub(crate) fn local_initial_recv_window(&self) -> i64 {
        let w = i64::from(self.config.initial_stream_window);
        if self.local_settings_acked {
            w
        } else {
            w.max(i64::from(DEFAULT_INITIAL_WINDOW_SIZE))
        }
    }

    pub(crate) fn release_connection(&mut self, n: u32) {
        let room = i64::from(self.config.connection_window)
            - self.conn_recv_window
            - i64::from(self.conn_recv_unannounced);
        let n = i64::from(n).clamp(0, room.max(0)) as u32;
        self.conn_recv_unannounced += n;
        if self.conn_recv_unannounced >= self.config.connection_window / 2
            && self.conn_recv_unannounced > 0
        {
            let inc = std::mem::take(&mut self.conn_recv_unannounced);
            self.conn_recv_window += i64::from(inc);
            self.queue(Frame::WindowUpdate(WindowUpdate {
                stream_id: StreamId::CONNECTION,
                increment: inc,
            }));
        }
    }

    fn stream_for_send(&mut self, id: StreamId) -> Result<&mut Stream, StreamError> {
        if self.error.is_some() {
            return Err(StreamError::GoingAway);
        }
        let s = self
            .streams
            .get_mut(&id.value())
            .ok_or(StreamError::UnknownStream(id))?;
        if s.send_end_queued {
            return Err(StreamError::SendClosed(id));
        }
        Ok(s)
    }

    pub(crate) fn schedule(&mut self, id: StreamId) {
        if let Some(s) = self.streams.get_mut(&id.value()) {
            if !s.scheduled && s.has_sendable() {
                s.scheduled = true;
                // DATA cannot move while the connection window is shut: park it there, so
                // `wants_transmit` stays honest. END_STREAM or trailers alone need no window.
                if !s.send_queue.is_empty() && self.conn_send_window <= 0 {
                    self.conn_blocked.push_back(id);
                } else {
                    self.ready.push_back(id);
                }
            }
        }
    }

    /// END_STREAM left with a head: close our side, drop the stream if both sides are done.
    fn after_send_end(&mut self, id: StreamId) {
        if let Some(s) = self.streams.get_mut(&id.value()) {
            if s.on_send_end() {
                self.remove_stream(id);
            }
        }
    }

    /// HPACK-encodes a header block straight into `pending`, then frames it. The common case
    /// (block fits one frame) writes the frame header in front of the block without a copy.
    pub(crate) fn queue_header_block<'a>(
        &mut self,
        id: StreamId,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8], bool)>,
        end_stream: bool,
    ) {
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0; frame::HEADER_LEN]);
        self.encoder.encode(fields, &mut self.pending);
        let block_len = self.pending.len() - start - frame::HEADER_LEN;
        if block_len <= self.peer_max_frame_size as usize {
            let mut fl = frame::flags::END_HEADERS;
            if end_stream {
                fl |= frame::flags::END_STREAM;
            }
            let hdr = frame::FrameHeader {
                length: block_len as u32,
                kind: frame::kind::HEADERS,
                flags: fl,
                stream_id: id,
            }
            .to_bytes();
            self.pending[start..start + frame::HEADER_LEN].copy_from_slice(&hdr);
        } else {
            let block = self.pending.split_off(start + frame::HEADER_LEN);
            self.pending.truncate(start);
            frame::encode_header_block(
                id,
                None,
                &block,
                end_stream,
                self.peer_max_frame_size,
                &mut self.pending,
            );
        }
    }

    /// Queues a control frame.
    pub(crate) fn queue(&mut self, f: Frame) {
        if self.error.is_some() {
            // The GOAWAY that ended the connection is the last frame we send.
            return;
        }
        f.encode(&mut self.pending);
    }

    /// Queues a control frame the peer provoked, counting it against
    /// [`Config::max_pending_control_bytes`].
    pub(crate) fn queue_provoked(&mut self, f: Frame) -> Result<(), ConnectionError> {
        if self.error.is_some() {
            return Ok(());
        }
        let before = self.pending.len();
        f.encode(&mut self.pending);
        self.provoked += self.pending.len() - before;
        if self.provoked > self.config.max_pending_control_bytes as usize {
            return Err(self.fail(ConnectionError::Flood(Flood::PendingControl)));
        }
        Ok(())
    }

    pub(crate) fn remember_reset(&mut self, id: StreamId) {
        if self.recent_resets.len() == RECENT_RESETS {
            self.recent_resets.pop_front();
        }
        self.recent_resets.push_back(id);
    }

    pub(crate) fn remove_stream(&mut self, id: StreamId) -> Option<Stream> {
        let s = self.streams.remove(&id.value())?;
        if self.recent_closed.len() == RECENT_RESETS {
            self.recent_closed.pop_front();
        }
        self.recent_closed.push_back(id);
        if self.is_local_initiated(id) {
            self.local_open -= 1;
        } else {
            self.peer_open -= 1;
        }
        Some(s)
    }

    pub(crate) fn is_local_initiated(&self, id: StreamId) -> bool {
        (self.role == Role::Client) == id.is_client_initiated()
    }

    /// Ends the connection with `err`, queuing the GOAWAY it calls for.
    pub(crate) fn fail(&mut self, err: ConnectionError) -> ConnectionError {
        if self.error.is_none() {
            if let Some(reason) = err.goaway_reason() {
                let debug = match &err {
                    ConnectionError::Protocol { detail, .. } => {
                        Bytes::from_static(detail.as_bytes())
                    }
                    _ => Bytes::new(),
                };
                // §6.8: never raise the last stream id of a GOAWAY already sent.
                let last = StreamId::new(self.last_peer_id);
                let last = self.goaway_sent.map_or(last, |sent| sent.min(last));
                self.queue(Frame::GoAway(GoAway {
                    last_stream_id: last,
                    reason,
                    debug_data: debug,
                }));
            }
            self.error = Some(err.clone());
            self.ready.clear();
            self.conn_blocked.clear();
        }
        err
    }
}

/// `:status` as three ASCII digits (validated to 100..=999 by the caller).
fn itoa3(n: u16) -> [u8; 3] {
    [
        b'0' + (n / 100 % 10) as u8,
        b'0' + (n / 10 % 10) as u8,
        b'0' + (n % 10) as u8,
    ]
}
