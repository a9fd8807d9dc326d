//! Sending: the scheduler that turns queued heads, DATA and control frames into bytes.
//!
//! Output is a list of [`Bytes`] chunks: frame headers and control frames come from one
//! growing `BytesMut` (split off, not copied), DATA payloads are the very `Bytes` the
//! application queued. The transport gathers them (vectored write, or TLS encryption straight
//! from each chunk), so payload bytes are never copied in user space here.

use super::conn::Connection;
use super::stream::SendEnd;
use super::Event;
use crate::proto::frame::{self, encode_data_header};
use bytes::Bytes;

impl Connection {
    /// Appends bytes to send to `out` and returns how many were appended.
    ///
    /// Control frames and heads are always flushed whole; DATA is added round-robin across
    /// streams, one frame per stream per turn, within the flow-control windows, until about
    /// `max_bytes` are out. Call again while [`wants_transmit`](Self::wants_transmit) is true
    /// and the transport has room.
    pub fn poll_transmit(&mut self, out: &mut Vec<Bytes>, max_bytes: usize) -> usize {
        let first_chunk = out.len();
        let mut written = self.flush_pending(out);
        if self.error.is_some() {
            return written;
        }
        let max_frame = self.peer_max_frame_size as usize;
        let cap = self.config.max_send_buffer_per_stream as usize;
        while written < max_bytes {
            let Some(id) = self.ready.pop_front() else {
                break;
            };
            let conn_window = self.conn_send_window;
            let Some(s) = self.streams.get_mut(&id.value()) else {
                continue;
            };
            if !s.scheduled {
                continue;
            }
            s.scheduled = false;
            let ended;
            if let Some(front) = s.send_queue.front_mut() {
                if s.send_window <= 0 {
                    // Blocked on the stream window: a WINDOW_UPDATE reschedules it.
                    continue;
                }
                if conn_window <= 0 {
                    // Blocked on the connection window: parked in order until the peer's
                    // WINDOW_UPDATE, so streams behind it that only need END_STREAM or
                    // trailers (no window) still go out.
                    s.scheduled = true;
                    self.conn_blocked.push_back(id);
                    continue;
                }
                let n = front
                    .len()
                    .min(max_frame)
                    .min(s.send_window as usize)
                    .min(conn_window as usize);
                let data = if n == front.len() {
                    s.send_queue.pop_front().unwrap_or_default()
                } else {
                    front.split_to(n)
                };
                s.send_queued -= n;
                s.send_window -= n as i64;
                self.conn_send_window -= n as i64;
                ended = s.send_queue.is_empty() && matches!(s.send_end, SendEnd::EndStream);
                if ended {
                    s.send_end = SendEnd::None;
                }
                encode_data_header(id, n as u32, ended, &mut self.pending);
                written += frame::HEADER_LEN + n;
                if s.wants_writable && s.send_queued <= cap / 2 && !s.send_end_queued {
                    s.wants_writable = false;
                    self.events.push_back(Event::Writable { stream_id: id });
                }
                out.push(self.pending.split().freeze());
                out.push(data);
            } else {
                match std::mem::replace(&mut s.send_end, SendEnd::None) {
                    SendEnd::None => continue,
                    SendEnd::EndStream => {
                        encode_data_header(id, 0, true, &mut self.pending);
                        written += frame::HEADER_LEN;
                    }
                    SendEnd::Trailers(t) => {
                        let before = self.pending.len();
                        let fields = t.iter().map(|f| (&f.name[..], &f.value[..], f.sensitive));
                        self.queue_header_block(id, fields, true);
                        written += self.pending.len() - before;
                    }
                }
                ended = true;
            }
            let Some(s) = self.streams.get_mut(&id.value()) else {
                continue;
            };
            if ended && s.on_send_end() {
                self.remove_stream(id);
            } else if s.has_sendable() {
                s.scheduled = true;
                self.ready.push_back(id);
            }
        }
        self.flush_pending(out);
        out[first_chunk..].iter().map(Bytes::len).sum()
    }

    fn flush_pending(&mut self, out: &mut Vec<Bytes>) -> usize {
        let n = self.pending.len();
        if n > 0 {
            out.push(self.pending.split().freeze());
            self.provoked = 0;
        }
        n
    }
}
