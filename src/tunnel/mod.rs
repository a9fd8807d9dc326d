//! One tunnel connection: the sans-IO HTTP/2 [`Connection`] driven over a byte transport on
//! the current compio thread.
//!
//! ```text
//!            ┌──────────── Tunnel (Rc, one thread) ─────────────┐
//!  transport │ read loop ─► conn.recv ─► events ─► stream slots │◄─ StreamHandle::next / release
//!   (TLS)    │ write loop ◄─ conn.poll_transmit ◄─ wake          │◄─ StreamHandle::send_* / Tunnel::open
//!            │ timer loop ─► conn.handle_timeout                 │
//!            └───────────────────────────────────────────────────┘
//! ```
//!
//! Everything runs on one thread: the state sits in an `Rc<RefCell<..>>` that is never
//! borrowed across an `.await`. Stream handles are the only way application code touches the
//! connection; dropping one that is still open resets its stream, so an abandoned backend or
//! client connection never leaves a stream behind.

mod stream;
mod transport;

pub use stream::{StreamEvent, StreamHandle, StreamStats};
pub use transport::{
    TcpRead, TcpTransport, TcpWrite, TlsTransport, Transport, TransportRead, TransportWrite,
};

use crate::proto::h2::{Connection, ConnectionError, Event, RequestHead, Role, StreamError};
use crate::proto::{StreamId, Timestamp};
use bytes::{Bytes, BytesMut};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// How much the write loop takes from the connection per transport write.
const WRITE_BATCH: usize = 256 << 10;
/// Longest sleep of the timer loop, so timers armed while it sleeps are seen in time.
const TIMER_TICK: Duration = Duration::from_millis(250);

/// Why a tunnel ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TunnelError {
    /// The HTTP/2 connection failed or the peer ended it.
    Connection(ConnectionError),
    /// The transport failed (reset, TLS error); the text names the cause.
    Transport(String),
    /// The peer closed the transport.
    PeerClosed,
    /// The connection finished after GOAWAY and drained.
    Drained,
    /// The task driving the tunnel stopped before the tunnel ended: it panicked (a bug) or
    /// its future was dropped. The streams still open fail with this instead of waiting forever.
    Abandoned,
}

impl fmt::Display for TunnelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelError::Connection(e) => write!(f, "tunnel connection: {e}"),
            TunnelError::Transport(e) => write!(f, "tunnel transport: {e}"),
            TunnelError::PeerClosed => f.write_str("tunnel closed by the peer"),
            TunnelError::Drained => f.write_str("tunnel drained after GOAWAY"),
            TunnelError::Abandoned => {
                f.write_str("tunnel abandoned: the task driving it stopped (panic or cancellation)")
            }
        }
    }
}

impl std::error::Error for TunnelError {}

/// Why a stream could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The tunnel is closed or going away; try another one.
    Unavailable,
    /// The codec refused (concurrency limit, invalid head, ...).
    Stream(StreamError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Unavailable => f.write_str("tunnel unavailable"),
            OpenError::Stream(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Per-stream delivery slot: events wait here until the handle's task takes them.
#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) events: VecDeque<StreamEvent>,
    pub(crate) reader: Option<Waker>,
    pub(crate) writer: Option<Waker>,
    pub(crate) writable: bool,
}

pub(crate) struct Shared {
    pub(crate) conn: Connection,
    pub(crate) slots: HashMap<StreamId, Slot>,
    incoming: VecDeque<(StreamHandle, RequestHead, bool)>,
    incoming_waker: Option<Waker>,
    write_waker: Option<Waker>,
    /// Tasks waiting for the peer's first SETTINGS ([`Tunnel::peer_settings`]).
    settings_wakers: Vec<Waker>,
    pub(crate) closed: Option<TunnelError>,
    going_away: bool,
    origin: Instant,
}

impl Slot {
    /// DATA bytes delivered here and not yet taken by the handle (they still hold window).
    pub(crate) fn unread_bytes(&self) -> usize {
        self.events
            .iter()
            .map(|e| match e {
                StreamEvent::Data { data, .. } => data.len(),
                _ => 0,
            })
            .sum()
    }
}

impl Shared {
    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_duration(self.origin.elapsed())
    }

    pub(crate) fn wake_writer(&mut self) {
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }

    fn close(&mut self, err: TunnelError) {
        if self.closed.is_none() {
            self.closed = Some(err);
        }
        for slot in self.slots.values_mut() {
            if let Some(w) = slot.reader.take() {
                w.wake();
            }
            if let Some(w) = slot.writer.take() {
                w.wake();
            }
        }
        if let Some(w) = self.incoming_waker.take() {
            w.wake();
        }
        self.wake_settings_waiters();
        self.wake_writer();
    }

    fn wake_settings_waiters(&mut self) {
        for w in self.settings_wakers.drain(..) {
            w.wake();
        }
    }
}

/// Closes the tunnel with [`TunnelError::Abandoned`] unless it has closed already.
struct CloseOnDrop<'a>(&'a Tunnel);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        // `try_`: never panic while unwinding, even if a borrow were somehow still held.
        if let Ok(mut s) = self.0.shared.try_borrow_mut() {
            if s.closed.is_none() {
                s.close(TunnelError::Abandoned);
            }
        }
    }
}

/// A handle on one tunnel connection (cheap to clone, same thread only).
#[derive(Clone)]
pub struct Tunnel {
    pub(crate) shared: Rc<RefCell<Shared>>,
}

impl Tunnel {
    /// Wraps a fresh connection. Nothing happens until [`run`](Self::run) is polled.
    pub fn new(role: Role, config: crate::proto::h2::Config) -> Tunnel {
        let origin = Instant::now();
        let conn = Connection::new(role, config, Timestamp::ZERO);
        Tunnel {
            shared: Rc::new(RefCell::new(Shared {
                conn,
                slots: HashMap::new(),
                incoming: VecDeque::new(),
                incoming_waker: None,
                write_waker: None,
                settings_wakers: Vec::new(),
                closed: None,
                going_away: false,
                origin,
            })),
        }
    }

    /// Drives the connection over `transport` until it ends; returns why.
    pub async fn run<T: Transport>(&self, transport: T) -> TunnelError {
        // Whatever stops this future early (a panic below, or the caller dropping it) must
        // not leave streams and door tasks waiting on a connection nobody drives any more.
        let _abandoned = CloseOnDrop(self);
        let (reader, writer) = transport.split();
        use futures_util::future::{select, Either};
        let read = std::pin::pin!(self.read_loop(reader));
        let timers = std::pin::pin!(self.timer_loop());
        let write = std::pin::pin!(self.write_loop(writer));
        // All three run together. When reading or the timers end the tunnel, the write loop
        // still runs to completion: it flushes the final GOAWAY, then closes the transport.
        match select(select(read, timers), write).await {
            Either::Left((_, write)) => write.await,
            Either::Right(((), _)) => {}
        }
        let mut s = self.shared.borrow_mut();
        let err = s.closed.clone().unwrap_or(TunnelError::Drained);
        s.close(err.clone());
        err
    }

    /// Client role: opens a stream with `head`.
    pub fn open(&self, head: &RequestHead, end_stream: bool) -> Result<StreamHandle, OpenError> {
        let mut s = self.shared.borrow_mut();
        if s.closed.is_some() || s.going_away {
            return Err(OpenError::Unavailable);
        }
        let id = s.conn.send_request(head, end_stream).map_err(|e| match e {
            StreamError::GoingAway => OpenError::Unavailable,
            other => OpenError::Stream(other),
        })?;
        s.slots.insert(id, Slot::default());
        s.wake_writer();
        drop(s);
        Ok(StreamHandle::new(self.clone(), id))
    }

    /// Waits until the peer's first SETTINGS frame has been processed (or the tunnel closed),
    /// so that what it allows is known: a client must not send extended CONNECT before the
    /// server has enabled it (RFC 8441 §3). Returns whether the peer enabled it.
    pub async fn peer_settings(&self) -> bool {
        std::future::poll_fn(|cx| {
            let mut s = self.shared.borrow_mut();
            if s.conn.peer_settings_received() || s.closed.is_some() {
                return Poll::Ready(s.conn.peer_enables_connect_protocol());
            }
            s.settings_wakers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Server role: the next stream the peer opened, with its request head and whether the
    /// request has no body. `None` once the tunnel is closed.
    pub async fn accept(&self) -> Option<(StreamHandle, RequestHead, bool)> {
        std::future::poll_fn(|cx| {
            let mut s = self.shared.borrow_mut();
            if let Some(next) = s.incoming.pop_front() {
                return Poll::Ready(Some(next));
            }
            if s.closed.is_some() {
                return Poll::Ready(None);
            }
            s.incoming_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// True while new streams may be opened on this tunnel.
    pub fn is_usable(&self) -> bool {
        let s = self.shared.borrow();
        s.closed.is_none() && !s.going_away && s.conn.can_open_stream()
    }

    /// Streams currently open.
    pub fn open_streams(&self) -> usize {
        self.shared.borrow().conn.open_streams()
    }

    /// Starts a graceful shutdown (GOAWAY); [`run`](Self::run) returns once open streams
    /// have finished or the drain timeout passed.
    pub fn go_away(&self) {
        let mut s = self.shared.borrow_mut();
        let now = s.now();
        s.going_away = true;
        s.conn.go_away(crate::proto::Reason::NO_ERROR, now);
        s.wake_writer();
    }

    /// Refuses the whole connection: GOAWAY with `reason` and `text` as debug data (the peer
    /// logs it), then [`run`](Self::run) flushes it, closes the transport and returns. For a
    /// connection that must not serve at all, e.g. a connector the relay does not admit.
    pub fn refuse(&self, reason: crate::proto::Reason, text: &str) {
        let mut s = self.shared.borrow_mut();
        let now = s.now();
        s.going_away = true;
        s.conn
            .go_away_with(reason, Bytes::copy_from_slice(text.as_bytes()), now);
        s.wake_writer();
    }

    async fn read_loop<R: TransportRead>(&self, mut reader: R) {
        let mut buf = BytesMut::with_capacity(256 << 10);
        loop {
            if buf.capacity() - buf.len() < 16 << 10 {
                buf.reserve(64 << 10);
            }
            let read = reader.read(&mut buf).await;
            let mut s = self.shared.borrow_mut();
            if s.closed.is_some() {
                return;
            }
            match read {
                Ok(0) => {
                    s.close(TunnelError::PeerClosed);
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    s.close(TunnelError::Transport(e.to_string()));
                    return;
                }
            }
            let now = s.now();
            let result = s.conn.recv(&mut buf, now);
            self.dispatch(&mut s);
            if s.conn.peer_settings_received() && !s.settings_wakers.is_empty() {
                s.wake_settings_waiters();
            }
            if let Err(e) = result {
                s.close(TunnelError::Connection(e));
                return;
            }
            s.wake_writer();
        }
    }

    /// Moves connection events to the stream slots and the accept queue.
    fn dispatch(&self, s: &mut Shared) {
        while let Some(event) = s.conn.poll_event() {
            let (id, ev) = match event {
                Event::Request {
                    stream_id,
                    head,
                    end_stream,
                } => {
                    s.slots.insert(stream_id, Slot::default());
                    let handle = StreamHandle::new(self.clone(), stream_id);
                    s.incoming.push_back((handle, head, end_stream));
                    if let Some(w) = s.incoming_waker.take() {
                        w.wake();
                    }
                    continue;
                }
                Event::Response {
                    stream_id,
                    head,
                    end_stream,
                } => (stream_id, StreamEvent::Response { head, end_stream }),
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                } => (stream_id, StreamEvent::Data { data, end_stream }),
                Event::Trailers {
                    stream_id,
                    trailers,
                } => (stream_id, StreamEvent::Trailers(trailers)),
                Event::Reset {
                    stream_id, reason, ..
                } => (stream_id, StreamEvent::Reset(reason)),
                Event::Writable { stream_id } => {
                    if let Some(slot) = s.slots.get_mut(&stream_id) {
                        slot.writable = true;
                        if let Some(w) = slot.writer.take() {
                            w.wake();
                        }
                    }
                    continue;
                }
                Event::GoAway { .. } => {
                    s.going_away = true;
                    continue;
                }
                Event::PingAck { .. } => continue,
            };
            match s.slots.get_mut(&id) {
                Some(slot) => {
                    slot.events.push_back(ev);
                    if let Some(w) = slot.reader.take() {
                        w.wake();
                    }
                }
                None => {
                    // Nobody listens any more: give the window back at once.
                    if let StreamEvent::Data { data, .. } = &ev {
                        s.conn.release_capacity(id, data.len());
                    }
                }
            }
        }
    }

    async fn write_loop<W: TransportWrite>(&self, mut writer: W) {
        let mut out: Vec<Bytes> = Vec::with_capacity(64);
        loop {
            let ready = std::future::poll_fn(|cx| {
                let mut s = self.shared.borrow_mut();
                out.clear();
                s.conn.poll_transmit(&mut out, WRITE_BATCH);
                if !out.is_empty() {
                    return Poll::Ready(true);
                }
                if s.closed.is_some() || s.conn.is_done() {
                    return Poll::Ready(false);
                }
                s.write_waker = Some(cx.waker().clone());
                Poll::Pending
            })
            .await;
            if !ready {
                writer.close().await;
                let mut s = self.shared.borrow_mut();
                if s.closed.is_none() {
                    s.close(TunnelError::Drained);
                }
                return;
            }
            if let Err(e) = writer.write(&out).await {
                self.shared
                    .borrow_mut()
                    .close(TunnelError::Transport(e.to_string()));
                return;
            }
        }
    }

    async fn timer_loop(&self) {
        loop {
            let wait = {
                let s = self.shared.borrow();
                if s.closed.is_some() {
                    return;
                }
                let now = s.now();
                s.conn
                    .poll_timeout()
                    .map(|t| t.saturating_since(now))
                    .unwrap_or(TIMER_TICK)
                    .min(TIMER_TICK)
            };
            compio::time::sleep(wait).await;
            let mut s = self.shared.borrow_mut();
            if s.closed.is_some() {
                return;
            }
            let now = s.now();
            if let Err(e) = s.conn.handle_timeout(now) {
                s.close(TunnelError::Connection(e));
                return;
            }
            if s.conn.is_done() {
                s.wake_writer();
            }
            s.wake_writer();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
