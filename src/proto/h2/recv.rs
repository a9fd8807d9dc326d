//! Receiving: bytes → frames → state changes and events.

use super::conn::{Connection, PartialBlock, Role};
use super::head::{trailers_from_fields, RequestHead, ResponseHead};
use super::stream::{RecvHeads, Stream};
use super::{ConnectionError, Event, Flood};
use crate::proto::frame::{
    self, Data, Frame, FrameError, FrameHeader, GoAway, Headers, Ping, RstStream, SettingsFrame,
    WindowUpdate, MAX_WINDOW_SIZE, PREFACE,
};
use crate::proto::{Reason, StreamId, Timestamp};
use bytes::{Buf, Bytes, BytesMut};

type Result<T = ()> = std::result::Result<T, ConnectionError>;

fn protocol(reason: Reason, detail: &'static str) -> ConnectionError {
    ConnectionError::Protocol { reason, detail }
}

impl Connection {
    /// Consumes every complete frame at the front of `buf`, leaving a partial frame in place
    /// (and capacity reserved for it). Payloads are split off `buf` without copying: keep
    /// reading into the same `BytesMut`.
    ///
    /// On `Err` the connection is over; a GOAWAY is queued where the protocol asks for one,
    /// so flush [`poll_transmit`](Self::poll_transmit) before closing the transport.
    pub fn recv(&mut self, buf: &mut BytesMut, now: Timestamp) -> Result {
        self.now = self.now.max(now);
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if !buf.is_empty() {
            self.last_heard = self.last_heard.max(now);
        }
        if self.expect_preface {
            let n = buf.len().min(PREFACE.len());
            if buf[..n] != PREFACE[..n] {
                return Err(self.fail(protocol(
                    Reason::PROTOCOL_ERROR,
                    "invalid connection preface",
                )));
            }
            if n < PREFACE.len() {
                return Ok(());
            }
            buf.advance(PREFACE.len());
            self.expect_preface = false;
        }
        while let Some(header) = FrameHeader::parse(buf) {
            if header.length > self.config.max_frame_size {
                return Err(self.fail(protocol(
                    Reason::FRAME_SIZE_ERROR,
                    "frame larger than our SETTINGS_MAX_FRAME_SIZE",
                )));
            }
            let total = frame::HEADER_LEN + header.length as usize;
            if buf.len() < total {
                buf.reserve(total - buf.len());
                break;
            }
            buf.advance(frame::HEADER_LEN);
            let payload = buf.split_to(header.length as usize).freeze();
            if self.expect_settings {
                if header.kind != frame::kind::SETTINGS || header.has(frame::flags::ACK) {
                    return Err(self.fail(protocol(
                        Reason::PROTOCOL_ERROR,
                        "first frame is not SETTINGS",
                    )));
                }
                self.expect_settings = false;
            }
            self.recv_frame(header, payload)?;
            if self.error.is_some() {
                break;
            }
        }
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn recv_frame(&mut self, header: FrameHeader, payload: Bytes) -> Result {
        let frame = match Frame::decode(header, payload) {
            Ok(f) => f,
            Err(FrameError::Connection { reason, detail }) => {
                return Err(self.fail(protocol(reason, detail)))
            }
            Err(FrameError::Stream {
                stream_id, reason, ..
            }) => {
                if self.continuation.is_some() {
                    return Err(self.fail(protocol(
                        Reason::PROTOCOL_ERROR,
                        "frame inside a header block",
                    )));
                }
                if self.is_idle(stream_id) {
                    // No RST_STREAM on an idle stream (§5.1): the error becomes the
                    // connection's, with the same code.
                    return Err(self.fail(protocol(reason, "invalid frame on an idle stream")));
                }
                return self.local_reset(stream_id, reason);
            }
        };
        if let Some(partial) = &self.continuation {
            match &frame {
                Frame::Continuation(c) if c.stream_id == partial.stream_id => {}
                _ => {
                    return Err(self.fail(protocol(
                        Reason::PROTOCOL_ERROR,
                        "frame inside a header block",
                    )))
                }
            }
        }
        match frame {
            Frame::Data(d) => self.recv_data(d),
            Frame::Headers(h) => self.recv_headers(h),
            Frame::Continuation(c) => {
                self.recv_continuation(c.stream_id, c.fragment, c.end_headers)
            }
            Frame::Priority(_) | Frame::Unknown(_) => self.spend_empty(),
            Frame::RstStream(r) => self.recv_rst(r),
            Frame::Settings(s) => self.recv_settings(s),
            Frame::PushPromise(_) => Err(self.fail(protocol(
                Reason::PROTOCOL_ERROR,
                "PUSH_PROMISE: push is disabled",
            ))),
            Frame::Ping(p) => self.recv_ping(p),
            Frame::GoAway(g) => self.recv_goaway(g),
            Frame::WindowUpdate(w) => self.recv_window_update(w),
        }
    }

    /// True if `id` has not been opened yet by whichever side may open it.
    pub(crate) fn is_idle(&self, id: StreamId) -> bool {
        if self.is_local_initiated(id) {
            id.value() >= self.next_local_id
        } else {
            id.value() > self.last_peer_id
        }
    }

    fn spend_empty(&mut self) -> Result {
        if self.empty_frames.take(self.now) {
            Ok(())
        } else {
            Err(self.fail(ConnectionError::Flood(Flood::EmptyFrames)))
        }
    }

    /// A stream error: RST_STREAM, forget the stream, tell the application if it knew it.
    /// Budgeted, because a peer that keeps provoking resets costs us work (CVE-2025-8671).
    pub(crate) fn local_reset(&mut self, id: StreamId, reason: Reason) -> Result {
        if !self.local_resets.take(self.now) {
            return Err(self.fail(ConnectionError::Flood(Flood::LocalResets)));
        }
        if self.remove_stream(id).is_some() {
            self.events.push_back(Event::Reset {
                stream_id: id,
                reason,
                remote: false,
            });
        }
        self.remember_reset(id);
        self.queue_provoked(Frame::RstStream(RstStream {
            stream_id: id,
            reason,
        }))
    }

    fn recently_reset(&self, id: StreamId) -> bool {
        self.recent_resets.contains(&id)
    }

    fn recv_data(&mut self, d: Data) -> Result {
        let id = d.stream_id;
        let len = d.flow_len;
        if i64::from(len) > self.conn_recv_window {
            return Err(self.fail(protocol(
                Reason::FLOW_CONTROL_ERROR,
                "DATA beyond the connection window",
            )));
        }
        self.conn_recv_window -= i64::from(len);
        let Some(s) = self.streams.get_mut(&id.value()) else {
            if self.is_idle(id) {
                return Err(self.fail(protocol(Reason::PROTOCOL_ERROR, "DATA on an idle stream")));
            }
            // Closed: the bytes count for the connection window and are dropped.
            self.release_connection(len);
            if self.recently_reset(id) {
                // Still budgeted when empty: otherwise a free flood (Config::empty_frame_budget).
                if len == 0 && !d.end_stream {
                    self.spend_empty()?;
                }
                return Ok(());
            }
            return self.local_reset(id, Reason::STREAM_CLOSED);
        };
        let verdict = check_data(s, &d);
        if let Err(reason) = verdict {
            self.release_connection(len);
            return self.local_reset(id, reason);
        }
        s.recv_window -= i64::from(len);
        let padding = len - d.payload.len() as u32;
        let end = d.end_stream;
        let closed = end && s.on_recv_end();
        if d.payload.is_empty() && !end {
            self.spend_empty()?;
        } else {
            self.events.push_back(Event::Data {
                stream_id: id,
                data: d.payload,
                end_stream: end,
            });
        }
        if closed {
            self.remove_stream(id);
        }
        if padding > 0 {
            // Padding is consumed on arrival: credit it like bytes the application released,
            // so it is announced in a WINDOW_UPDATE (adding it to `recv_window` directly hid
            // it from the peer and leaked the stream window until the stream stalled).
            self.release_capacity(id, padding as usize);
        }
        Ok(())
    }

    fn recv_headers(&mut self, h: Headers) -> Result {
        if h.fragment.is_empty() && !h.end_headers {
            self.spend_empty()?;
        }
        if h.fragment.len() > self.config.max_header_block_size as usize {
            return Err(self.fail(ConnectionError::Flood(Flood::HeaderBlock)));
        }
        let self_dependent = h.priority.is_some_and(|p| p.dependency == h.stream_id);
        if h.end_headers {
            return self.recv_header_block(h.stream_id, h.fragment, h.end_stream, self_dependent);
        }
        self.continuation = Some(PartialBlock {
            stream_id: h.stream_id,
            end_stream: h.end_stream,
            self_dependent,
            block: BytesMut::from(&h.fragment[..]),
            frames: 0,
        });
        Ok(())
    }

    fn recv_continuation(&mut self, id: StreamId, fragment: Bytes, end_headers: bool) -> Result {
        let max_bytes = self.config.max_header_block_size as usize;
        let max_frames = self.config.max_continuation_frames;
        let Some(p) = self.continuation.as_mut() else {
            return Err(self.fail(protocol(
                Reason::PROTOCOL_ERROR,
                "CONTINUATION without a header block",
            )));
        };
        p.frames += 1;
        if p.frames > max_frames || p.block.len() + fragment.len() > max_bytes {
            return Err(self.fail(ConnectionError::Flood(Flood::HeaderBlock)));
        }
        p.block.extend_from_slice(&fragment);
        if fragment.is_empty() && !end_headers {
            self.spend_empty()?;
        }
        if !end_headers {
            return Ok(());
        }
        let Some(p) = self.continuation.take() else {
            return Ok(());
        };
        self.recv_header_block(id, p.block.freeze(), p.end_stream, p.self_dependent)
    }

    /// A complete header block. It is always decoded, even for a stream we are about to
    /// refuse, because the HPACK context is shared by the whole connection.
    fn recv_header_block(
        &mut self,
        id: StreamId,
        block: Bytes,
        end_stream: bool,
        self_dependent: bool,
    ) -> Result {
        self.decoded.clear();
        let max_list = self.config.max_header_list_size as usize;
        let too_large = match self.decoder.decode(&block, max_list, &mut self.decoded) {
            Ok(()) => false,
            Err(e) if e.is_connection_fatal() => {
                return Err(self.fail(protocol(
                    Reason::COMPRESSION_ERROR,
                    "header block does not decode",
                )))
            }
            Err(_) => true,
        };
        let list = std::mem::take(&mut self.decoded);
        let new_peer_stream = !self.is_local_initiated(id) && id.value() > self.last_peer_id;
        if self_dependent {
            if new_peer_stream {
                if self.role == Role::Client {
                    return Err(self.fail(protocol(
                        Reason::PROTOCOL_ERROR,
                        "server opened a stream without push",
                    )));
                }
                self.last_peer_id = id.value();
            }
            return self.local_reset(id, Reason::PROTOCOL_ERROR);
        }
        if new_peer_stream {
            return self.recv_new_stream(id, list, end_stream, too_large);
        }
        let Some(s) = self.streams.get_mut(&id.value()) else {
            if self.is_idle(id) {
                return Err(self.fail(protocol(
                    Reason::PROTOCOL_ERROR,
                    "HEADERS on an idle stream",
                )));
            }
            if self.recently_reset(id) {
                return Ok(());
            }
            if self.recent_closed.contains(&id) {
                return Err(self.fail(protocol(
                    Reason::STREAM_CLOSED,
                    "HEADERS on a closed stream",
                )));
            }
            // An id the peer skipped (implicitly closed) or one too old to tell: a new stream
            // must have a higher id than every earlier one (§5.1.1).
            return Err(self.fail(protocol(
                Reason::PROTOCOL_ERROR,
                "HEADERS with a stream id below the last one",
            )));
        };
        if !s.recv_open() {
            return self.local_reset(id, Reason::STREAM_CLOSED);
        }
        if too_large {
            return self.local_reset(id, Reason::ENHANCE_YOUR_CALM);
        }
        let event = match s.recv_heads {
            RecvHeads::AwaitingResponse => match ResponseHead::from_fields(list) {
                Ok(head) if head.is_informational() => {
                    // 1xx heads are legal in any number; budgeted like other frames
                    // that do not move the stream forward.
                    if !self.empty_frames.take(self.now) {
                        return Err(self.fail(ConnectionError::Flood(Flood::EmptyFrames)));
                    }
                    if end_stream {
                        Err(Reason::PROTOCOL_ERROR)
                    } else {
                        Ok(Event::Response {
                            stream_id: id,
                            head,
                            end_stream,
                        })
                    }
                }
                Ok(head) => {
                    s.recv_heads = RecvHeads::Body;
                    let bodiless = s.head_request || head.status == 204 || head.status == 304;
                    s.content_length = if bodiless {
                        None
                    } else {
                        head.content_length()
                    };
                    if end_stream && s.content_length.is_some_and(|n| n > 0) {
                        Err(Reason::PROTOCOL_ERROR)
                    } else {
                        Ok(Event::Response {
                            stream_id: id,
                            head,
                            end_stream,
                        })
                    }
                }
                Err(_) => Err(Reason::PROTOCOL_ERROR),
            },
            RecvHeads::Body => match trailers_from_fields(list) {
                Ok(trailers) if end_stream && s.content_length.unwrap_or(0) == 0 => {
                    Ok(Event::Trailers {
                        stream_id: id,
                        trailers,
                    })
                }
                _ => Err(Reason::PROTOCOL_ERROR),
            },
        };
        match event {
            Ok(ev) => {
                let closed = end_stream && s.on_recv_end();
                self.events.push_back(ev);
                if closed {
                    self.remove_stream(id);
                }
                Ok(())
            }
            Err(reason) => self.local_reset(id, reason),
        }
    }

    fn recv_new_stream(
        &mut self,
        id: StreamId,
        list: Vec<crate::proto::hpack::Field>,
        end_stream: bool,
        too_large: bool,
    ) -> Result {
        if self.role == Role::Client {
            return Err(self.fail(protocol(
                Reason::PROTOCOL_ERROR,
                "server opened a stream without push",
            )));
        }
        self.last_peer_id = id.value();
        if self.goaway_sent.is_some_and(|last| id > last) {
            // After our GOAWAY: ignored, the peer learns from last_stream_id to retry.
            // Remembered so its DATA already in flight is dropped without resets.
            self.remember_reset(id);
            return Ok(());
        }
        if self.peer_open >= self.config.max_concurrent_streams {
            return self.local_reset(id, Reason::REFUSED_STREAM);
        }
        if too_large {
            return self.answer_431(id);
        }
        let head = match RequestHead::from_fields(list, self.config.enable_connect_protocol) {
            Ok(h) => h,
            Err(_malformed) => return self.local_reset(id, Reason::PROTOCOL_ERROR),
        };
        let mut s = Stream::new(
            id,
            i64::from(self.peer_initial_window),
            self.local_initial_recv_window(),
        );
        s.content_length = head.content_length();
        if end_stream {
            if s.content_length.is_some_and(|n| n > 0) {
                return self.local_reset(id, Reason::PROTOCOL_ERROR);
            }
            s.on_recv_end();
        }
        self.streams.insert(id.value(), s);
        self.peer_open += 1;
        self.events.push_back(Event::Request {
            stream_id: id,
            head,
            end_stream,
        });
        Ok(())
    }

    /// Header list over our SETTINGS_MAX_HEADER_LIST_SIZE: answer 431 and end the stream
    /// (RFC 9113 §10.5.1), so the client learns why instead of seeing a bare reset.
    fn answer_431(&mut self, id: StreamId) -> Result {
        if !self.local_resets.take(self.now) {
            return Err(self.fail(ConnectionError::Flood(Flood::LocalResets)));
        }
        let before = self.pending.len();
        self.queue_header_block(id, [(&b":status"[..], &b"431"[..], false)], true);
        self.provoked += self.pending.len() - before;
        self.remember_reset(id);
        self.queue_provoked(Frame::RstStream(RstStream {
            stream_id: id,
            reason: Reason::NO_ERROR,
        }))
    }

    fn recv_rst(&mut self, r: RstStream) -> Result {
        if self.is_idle(r.stream_id) {
            return Err(self.fail(protocol(
                Reason::PROTOCOL_ERROR,
                "RST_STREAM on an idle stream",
            )));
        }
        if !self.peer_resets.take(self.now) {
            return Err(self.fail(ConnectionError::Flood(Flood::PeerResets)));
        }
        if self.remove_stream(r.stream_id).is_some() {
            self.events.push_back(Event::Reset {
                stream_id: r.stream_id,
                reason: r.reason,
                remote: true,
            });
        }
        Ok(())
    }

    fn recv_settings(&mut self, f: SettingsFrame) -> Result {
        if f.ack {
            if !self.local_settings_acked {
                self.local_settings_acked = true;
                self.settings_deadline = None;
                self.decoder
                    .set_max_table_size(self.config.header_table_size as usize);
                // Streams opened before the ACK were allowed the default window; shrink them
                // to what we advertised if that is smaller.
                let default = i64::from(frame::DEFAULT_INITIAL_WINDOW_SIZE);
                let shrink = default - i64::from(self.config.initial_stream_window);
                if shrink > 0 {
                    for s in self.streams.values_mut() {
                        s.recv_window -= shrink;
                    }
                }
            } else {
                // We sent one SETTINGS; further ACKs acknowledge nothing.
                return self.spend_empty();
            }
            return Ok(());
        }
        if !self.settings_frames.take(self.now) {
            return Err(self.fail(ConnectionError::Flood(Flood::Settings)));
        }
        let s = f.settings;
        if self.role == Role::Client && s.enable_push == Some(true) {
            // RFC 9113 §6.5.2: a server must not enable push.
            return Err(self.fail(protocol(
                Reason::PROTOCOL_ERROR,
                "SETTINGS_ENABLE_PUSH = 1 from a server",
            )));
        }
        if let Some(n) = s.header_table_size {
            self.encoder.set_max_table_size(n as usize);
        }
        if let Some(n) = s.max_concurrent_streams {
            self.peer_max_concurrent = n;
        }
        if let Some(n) = s.max_frame_size {
            self.peer_max_frame_size = n;
        }
        if let Some(b) = s.enable_connect_protocol {
            if self.peer_connect_protocol && !b {
                // RFC 8441 §3: once enabled it stays enabled; streams may rely on it.
                return Err(self.fail(protocol(
                    Reason::PROTOCOL_ERROR,
                    "SETTINGS_ENABLE_CONNECT_PROTOCOL turned off after being enabled",
                )));
            }
            self.peer_connect_protocol = b;
        }
        if let Some(n) = s.initial_window_size {
            let delta = i64::from(n) - i64::from(self.peer_initial_window);
            self.peer_initial_window = n;
            let mut overflow = false;
            for st in self.streams.values_mut() {
                st.send_window += delta;
                overflow |= st.send_window > i64::from(MAX_WINDOW_SIZE);
            }
            if overflow {
                return Err(self.fail(protocol(
                    Reason::FLOW_CONTROL_ERROR,
                    "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window",
                )));
            }
            if delta > 0 {
                let ids: Vec<StreamId> = self.streams.values().map(|s| s.id).collect();
                for id in ids {
                    self.schedule(id);
                }
            }
        }
        self.queue_provoked(Frame::Settings(SettingsFrame {
            ack: true,
            ..Default::default()
        }))
    }

    fn recv_ping(&mut self, p: Ping) -> Result {
        if p.ack {
            if self.is_keepalive_ack(&p.payload) {
                return Ok(());
            }
            if self.user_pings == 0 {
                // An ACK for nothing we sent: no progress, and no event to queue.
                return self.spend_empty();
            }
            self.user_pings -= 1;
            self.events.push_back(Event::PingAck { payload: p.payload });
            return Ok(());
        }
        if !self.pings.take(self.now) {
            return Err(self.fail(ConnectionError::Flood(Flood::Pings)));
        }
        self.queue_provoked(Frame::Ping(Ping {
            ack: true,
            payload: p.payload,
        }))
    }

    fn recv_goaway(&mut self, g: GoAway) -> Result {
        let last = g.last_stream_id;
        if self.goaway_received.is_some() {
            // Only the first GOAWAY is free; later ones may lower last_stream_id, but a
            // stream of them is a flood of events.
            self.spend_empty()?;
        }
        let lowered = self.goaway_received.is_none_or(|prev| last < prev);
        if lowered {
            self.goaway_received = Some(last);
            // Our streams above `last` were never processed: safe to retry elsewhere.
            let mut refused: Vec<StreamId> = self
                .streams
                .keys()
                .map(|&k| StreamId::new(k))
                .filter(|&id| self.is_local_initiated(id) && id > last)
                .collect();
            refused.sort();
            for id in refused {
                self.remove_stream(id);
                self.events.push_back(Event::Reset {
                    stream_id: id,
                    reason: Reason::REFUSED_STREAM,
                    remote: true,
                });
            }
        }
        let text = super::error::goaway_text(&g.debug_data);
        self.events.push_back(Event::GoAway {
            last_stream_id: last,
            reason: g.reason,
            debug_data: g.debug_data,
        });
        if g.reason != Reason::NO_ERROR {
            // An error GOAWAY: the peer closes the transport right after it (§5.4.1).
            return Err(self.fail(ConnectionError::PeerGoAway {
                reason: g.reason,
                text,
            }));
        }
        Ok(())
    }

    fn recv_window_update(&mut self, w: WindowUpdate) -> Result {
        let max = i64::from(MAX_WINDOW_SIZE);
        if w.stream_id.is_connection() {
            self.conn_send_window += i64::from(w.increment);
            if self.conn_send_window > max {
                return Err(self.fail(protocol(
                    Reason::FLOW_CONTROL_ERROR,
                    "connection window above 2^31-1",
                )));
            }
            if self.conn_send_window > 0 {
                // Parked streams go first, in the order they were parked.
                while let Some(id) = self.conn_blocked.pop_back() {
                    self.ready.push_front(id);
                }
            }
            return Ok(());
        }
        let Some(s) = self.streams.get_mut(&w.stream_id.value()) else {
            if self.is_idle(w.stream_id) {
                return Err(self.fail(protocol(
                    Reason::PROTOCOL_ERROR,
                    "WINDOW_UPDATE on an idle stream",
                )));
            }
            // Closed stream: legal (it may have crossed our RST_STREAM) but no progress.
            return self.spend_empty();
        };
        s.send_window += i64::from(w.increment);
        if s.send_window > max {
            return self.local_reset(w.stream_id, Reason::FLOW_CONTROL_ERROR);
        }
        self.schedule(w.stream_id);
        Ok(())
    }
}

/// Stream-level checks of a DATA frame (the connection window is already charged).
fn check_data(s: &mut Stream, d: &Data) -> std::result::Result<(), Reason> {
    if !s.recv_open() {
        return Err(Reason::STREAM_CLOSED);
    }
    if s.recv_heads == RecvHeads::AwaitingResponse {
        return Err(Reason::PROTOCOL_ERROR);
    }
    if i64::from(d.flow_len) > s.recv_window {
        return Err(Reason::FLOW_CONTROL_ERROR);
    }
    if let Some(rem) = s.content_length.as_mut() {
        let n = d.payload.len() as u64;
        if n > *rem || (d.end_stream && *rem != n) {
            return Err(Reason::PROTOCOL_ERROR);
        }
        *rem -= n;
    }
    Ok(())
}
