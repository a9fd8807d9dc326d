//! Stream handles: what a request handler holds for one tunnelled request or TCP connection.

use super::{Slot, Tunnel, TunnelError};
use crate::proto::h2::{ResponseHead, StreamError};
use crate::proto::hpack::Field;
use crate::proto::{Reason, StreamId};
use bytes::Bytes;
use std::task::Poll;

/// What arrives on a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// Client role: the response head (1xx heads too).
    Response {
        /// The head.
        head: ResponseHead,
        /// No body follows.
        end_stream: bool,
    },
    /// Body bytes. Call [`StreamHandle::release`] once they are consumed.
    Data {
        /// The bytes (a slice of the tunnel's receive buffer).
        data: Bytes,
        /// The peer finished sending.
        end_stream: bool,
    },
    /// Trailers; the peer finished sending.
    Trailers(Vec<Field>),
    /// The stream was reset (by the peer, or by us because the peer broke a rule).
    Reset(Reason),
    /// The whole tunnel ended.
    TunnelClosed(TunnelError),
}

/// One stream of a [`Tunnel`]. Dropping a handle whose stream is still open resets the
/// stream with CANCEL.
pub struct StreamHandle {
    tunnel: Tunnel,
    id: StreamId,
    stats: std::cell::Cell<StreamStats>,
}

/// What went through one stream, for the audit record: counted where the bytes pass, so no
/// handler has to remember to count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// The status of the response head sent (server role), if one was sent.
    pub status: Option<u16>,
    /// Body bytes received from the peer (DATA payloads handed out by `next`).
    pub received: u64,
    /// Body bytes accepted for sending.
    pub sent: u64,
}

impl StreamHandle {
    pub(super) fn new(tunnel: Tunnel, id: StreamId) -> Self {
        StreamHandle {
            tunnel,
            id,
            stats: Default::default(),
        }
    }

    /// Bytes and status so far.
    pub fn stats(&self) -> StreamStats {
        self.stats.get()
    }

    fn count(&self, f: impl FnOnce(&mut StreamStats)) {
        let mut st = self.stats.get();
        f(&mut st);
        self.stats.set(st);
    }

    /// The stream id.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// The next event; after `Data { end_stream: true }`, `Trailers`, `Reset` or
    /// `TunnelClosed` nothing more arrives for reading (`None` from then on).
    pub async fn next(&self) -> Option<StreamEvent> {
        std::future::poll_fn(|cx| {
            let mut s = self.tunnel.shared.borrow_mut();
            let closed = s.closed.clone();
            let Some(slot) = s.slots.get_mut(&self.id) else {
                return Poll::Ready(None);
            };
            if let Some(ev) = slot.events.pop_front() {
                if let StreamEvent::Data { data, .. } = &ev {
                    let n = data.len() as u64;
                    self.count(|st| st.received += n);
                }
                return Poll::Ready(Some(ev));
            }
            if let Some(e) = closed {
                // Delivered once; the slot stays so `send_*` keep failing cleanly.
                slot.events.push_back(StreamEvent::TunnelClosed(e.clone()));
                let ev = slot.events.pop_front();
                s.slots.remove(&self.id);
                return Poll::Ready(ev);
            }
            slot.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The application consumed `n` received bytes: the peer may send that much more.
    pub fn release(&self, n: usize) {
        let mut s = self.tunnel.shared.borrow_mut();
        s.conn.release_capacity(self.id, n);
        s.wake_writer();
    }

    /// Server role: sends the response head.
    pub fn send_response(&self, head: &ResponseHead, end_stream: bool) -> Result<(), StreamError> {
        let mut s = self.tunnel.shared.borrow_mut();
        let r = s.conn.send_response(self.id, head, end_stream);
        s.wake_writer();
        if r.is_ok() {
            self.count(|st| st.status = Some(head.status));
        }
        r
    }

    /// Sends `data`, waiting while the stream's send buffer is full (the peer's flow
    /// control pushes back through here). The bytes are not copied.
    pub async fn send_data(&self, mut data: Bytes, end_stream: bool) -> Result<(), StreamError> {
        loop {
            let attempt = {
                let mut s = self.tunnel.shared.borrow_mut();
                if s.closed.is_some() {
                    return Err(StreamError::GoingAway);
                }
                let r = s.conn.send_data(self.id, data.clone(), end_stream);
                match r {
                    Ok(()) => {
                        s.wake_writer();
                        let n = data.len() as u64;
                        self.count(|st| st.sent += n);
                        return Ok(());
                    }
                    Err(StreamError::BufferFull { capacity, .. }) if capacity > 0 => {
                        let part = data.split_to(capacity);
                        let n = part.len() as u64;
                        s.conn.send_data(self.id, part, false)?;
                        self.count(|st| st.sent += n);
                        s.wake_writer();
                        continue;
                    }
                    Err(StreamError::BufferFull { .. }) => {
                        if let Some(slot) = s.slots.get_mut(&self.id) {
                            slot.writable = false;
                        }
                        s.wake_writer();
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            };
            attempt?;
            self.writable().await?;
        }
    }

    /// Waits for [`crate::proto::h2::Event::Writable`] on this stream.
    async fn writable(&self) -> Result<(), StreamError> {
        std::future::poll_fn(|cx| {
            let mut s = self.tunnel.shared.borrow_mut();
            if s.closed.is_some() {
                return Poll::Ready(Err(StreamError::GoingAway));
            }
            let slot: &mut Slot = match s.slots.get_mut(&self.id) {
                Some(slot) => slot,
                None => return Poll::Ready(Err(StreamError::UnknownStream(self.id))),
            };
            if slot.writable
                || slot
                    .events
                    .iter()
                    .any(|e| matches!(e, StreamEvent::Reset(_)))
            {
                slot.writable = false;
                return Poll::Ready(Ok(()));
            }
            slot.writer = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Sends trailers, ending the stream.
    pub fn send_trailers(&self, trailers: Vec<Field>) -> Result<(), StreamError> {
        let mut s = self.tunnel.shared.borrow_mut();
        let r = s.conn.send_trailers(self.id, trailers);
        s.wake_writer();
        r
    }

    /// Resets the stream with `reason`.
    pub fn reset(&self, reason: Reason) {
        let mut s = self.tunnel.shared.borrow_mut();
        s.conn.reset(self.id, reason);
        s.wake_writer();
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        let Ok(mut s) = self.tunnel.shared.try_borrow_mut() else {
            return;
        };
        // DATA that arrived but was never taken still holds connection window: give it back,
        // or every abandoned stream would shrink what the peer may send on all the others.
        let unread = s
            .slots
            .remove(&self.id)
            .map_or(0, |slot| slot.unread_bytes());
        if unread > 0 {
            s.conn.release_capacity(self.id, unread);
            s.wake_writer();
        }
        // Abandoned while we could still send: the other side must not wait for more. When
        // our END_STREAM is already queued the stream ends by itself once it is flushed (a
        // reset here would drop the queued tail); DATA still arriving for it is released
        // as it comes (see `Tunnel::dispatch`).
        if s.conn.can_send(self.id) {
            s.conn.reset(self.id, Reason::CANCEL);
            s.wake_writer();
        }
    }
}
