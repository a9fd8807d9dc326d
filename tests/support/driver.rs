//! The driver: one [`Connection`] in a tokio task, fed from and flushed to a byte stream,
//! with a [`Ctx`] outbox that feeds large bodies through the bounded send buffer.

use bytes::{Buf, Bytes, BytesMut};
use sallyport::proto::h2::{
    Config, Connection, ConnectionError, Event, ResponseHead, Role, StreamError,
};
use sallyport::proto::hpack::Field;
use sallyport::proto::{Reason, StreamId, Timestamp};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How much output one `poll_transmit` call may produce before the driver writes it out.
const TRANSMIT_BATCH: usize = 256 * 1024;
/// Free space the driver keeps in its receive buffer before each read.
const READ_RESERVE: usize = 32 * 1024;

// ---------------------------------------------------------------------------------- outbox

/// What ends a body queued in the outbox.
enum End {
    Stream,
    Trailers(Vec<Field>),
}

/// Body bytes the application queued but the connection's send buffer could not take yet.
#[derive(Default)]
struct Outgoing {
    chunks: VecDeque<Bytes>,
    end: Option<End>,
}

/// What a handler (or an [`Driver::exec`] closure) gets: the connection and a body outbox.
pub struct Ctx<'a> {
    /// The connection itself, for anything the helpers do not cover.
    pub conn: &'a mut Connection,
    /// The driver's notion of now.
    pub now: Timestamp,
    outbox: &'a mut HashMap<StreamId, Outgoing>,
}

impl Ctx<'_> {
    /// Queues body bytes (any amount): they go to the connection as fast as its bounded send
    /// buffer accepts, the rest when it reports [`Event::Writable`]. Errors are those of
    /// `send_data` for the part that could be handed over right away.
    pub fn send_data(
        &mut self,
        id: StreamId,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), StreamError> {
        let out = self.outbox.entry(id).or_default();
        if out.end.is_some() {
            return Err(StreamError::SendClosed(id));
        }
        if !data.is_empty() {
            out.chunks.push_back(data);
        }
        if end_stream {
            out.end = Some(End::Stream);
        }
        self.pump(id)
    }

    /// Queues trailers after whatever body is still in the outbox.
    pub fn send_trailers(&mut self, id: StreamId, trailers: Vec<Field>) -> Result<(), StreamError> {
        let out = self.outbox.entry(id).or_default();
        if out.end.is_some() {
            return Err(StreamError::SendClosed(id));
        }
        out.end = Some(End::Trailers(trailers));
        self.pump(id)
    }

    /// Server: sends a whole response (head, then `body` if not empty).
    pub fn respond(
        &mut self,
        id: StreamId,
        head: &ResponseHead,
        body: Bytes,
    ) -> Result<(), StreamError> {
        self.conn.send_response(id, head, body.is_empty())?;
        if body.is_empty() {
            Ok(())
        } else {
            self.send_data(id, body, true)
        }
    }

    /// Resets a stream and forgets its queued body.
    pub fn reset(&mut self, id: StreamId, reason: Reason) {
        self.outbox.remove(&id);
        self.conn.reset(id, reason);
    }

    /// Starts a graceful shutdown.
    pub fn go_away(&mut self, reason: Reason) {
        self.conn.go_away(reason, self.now);
    }

    /// Bytes still waiting in the outbox of `id` (not yet accepted by the connection).
    pub fn outbox_len(&self, id: StreamId) -> usize {
        self.outbox
            .get(&id)
            .map_or(0, |o| o.chunks.iter().map(Bytes::len).sum())
    }

    /// Hands as much of the outbox of `id` to the connection as it accepts.
    fn pump(&mut self, id: StreamId) -> Result<(), StreamError> {
        let Some(out) = self.outbox.get_mut(&id) else {
            return Ok(());
        };
        let result = pump(self.conn, id, out);
        if result.is_err() || (out.chunks.is_empty() && out.end.is_none()) {
            self.outbox.remove(&id);
        }
        result
    }
}

fn pump(conn: &mut Connection, id: StreamId, out: &mut Outgoing) -> Result<(), StreamError> {
    while let Some(chunk) = out.chunks.pop_front() {
        let last = out.chunks.is_empty() && matches!(out.end, Some(End::Stream));
        match conn.send_data(id, chunk.clone(), last) {
            Ok(()) => {
                if last {
                    out.end = None;
                }
            }
            Err(StreamError::BufferFull { capacity, .. }) if capacity > 0 => {
                // Fill the buffer exactly; the next attempt is refused with capacity 0,
                // which arms Event::Writable.
                let mut rest = chunk;
                conn.send_data(id, rest.split_to(capacity), false)?;
                out.chunks.push_front(rest);
            }
            Err(StreamError::BufferFull { .. }) => {
                out.chunks.push_front(chunk);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    match out.end.take() {
        Some(End::Stream) => conn.send_data(id, Bytes::new(), true),
        Some(End::Trailers(t)) => conn.send_trailers(id, t),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------- driver

/// The application side of a driven connection.
pub trait Handler: Send + 'static {
    /// Called for each event in order. For [`Event::Data`] the driver releases the capacity
    /// after this returns (the handler is taken to have consumed the bytes).
    fn event(&mut self, ctx: &mut Ctx<'_>, event: Event);
}

impl<F: FnMut(&mut Ctx<'_>, Event) + Send + 'static> Handler for F {
    fn event(&mut self, ctx: &mut Ctx<'_>, event: Event) {
        self(ctx, event)
    }
}

/// Code to run inside the driver task.
pub type Command<H> = Box<dyn FnOnce(&mut Ctx<'_>, &mut H) + Send>;

/// Why a driver stopped.
#[derive(Debug)]
pub enum DriverError {
    /// The transport failed.
    Io(std::io::Error),
    /// `recv` or `handle_timeout` ended the connection (its GOAWAY was flushed).
    Connection(ConnectionError),
    /// The peer closed the transport while the connection was not done.
    Eof,
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::Io(e) => write!(f, "i/o: {e}"),
            DriverError::Connection(e) => write!(f, "connection: {e}"),
            DriverError::Eof => f.write_str("peer closed the transport early"),
        }
    }
}

impl From<std::io::Error> for DriverError {
    fn from(e: std::io::Error) -> Self {
        DriverError::Io(e)
    }
}

/// A running connection: send it commands, wait for it to end.
pub struct Driver<H> {
    tx: mpsc::UnboundedSender<Command<H>>,
    task: JoinHandle<Result<(), DriverError>>,
}

/// Starts a connection of `role` over `io`, driven in its own task.
pub fn spawn<IO, H>(role: Role, config: Config, io: IO, handler: H) -> Driver<H>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
    H: Handler,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let origin = Instant::now();
    let conn = Connection::new(role, config, Timestamp::ZERO);
    let task = tokio::spawn(run(conn, origin, io, handler, rx));
    Driver { tx, task }
}

impl<H: Handler> Driver<H> {
    /// Runs `f` inside the driver (between I/O steps) and returns its result. Whatever it
    /// queued is transmitted right after. Panics if the driver has stopped.
    pub async fn exec<R, F>(&self, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&mut Ctx<'_>, &mut H) -> R + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let cmd: Command<H> = Box::new(move |ctx, h| {
            let _ = done.send(f(ctx, h));
        });
        self.tx
            .send(cmd)
            .unwrap_or_else(|_| panic!("driver has stopped"));
        result
            .await
            .expect("driver stopped while running a command")
    }

    /// Like [`exec`](Self::exec) but returns `None` instead of panicking when the driver has
    /// stopped.
    pub async fn try_exec<R, F>(&self, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Ctx<'_>, &mut H) -> R + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let cmd: Command<H> = Box::new(move |ctx, h| {
            let _ = done.send(f(ctx, h));
        });
        self.tx.send(cmd).ok()?;
        result.await.ok()
    }

    /// A sender for commands, for handles that outlive a borrow of the driver.
    pub fn commands(&self) -> mpsc::UnboundedSender<Command<H>> {
        self.tx.clone()
    }

    /// Waits for the driver to stop (the connection is done or failed).
    pub async fn join(self) -> Result<(), DriverError> {
        let Driver { tx, task } = self;
        drop(tx);
        task.await.expect("driver task panicked")
    }

    /// True once the driver task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// State of one driven connection.
struct Run<H> {
    conn: Connection,
    origin: Instant,
    handler: H,
    outbox: HashMap<StreamId, Outgoing>,
}

impl<H: Handler> Run<H> {
    fn now(&self) -> Timestamp {
        Timestamp::from_duration(self.origin.elapsed())
    }

    fn ctx_parts(&mut self) -> (Ctx<'_>, &mut H) {
        let now = Timestamp::from_duration(self.origin.elapsed());
        (
            Ctx {
                conn: &mut self.conn,
                now,
                outbox: &mut self.outbox,
            },
            &mut self.handler,
        )
    }

    /// Hands every pending event to the handler.
    fn dispatch(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            let (mut ctx, handler) = self.ctx_parts();
            let mut release = None;
            match &ev {
                Event::Writable { stream_id } => {
                    // A refused body part can go now; errors mean the stream is gone.
                    let _ = ctx.pump(*stream_id);
                }
                Event::Reset { stream_id, .. } => {
                    ctx.outbox.remove(stream_id);
                }
                Event::Data {
                    stream_id, data, ..
                } => release = Some((*stream_id, data.len())),
                _ => {}
            }
            handler.event(&mut ctx, ev);
            if let Some((id, n)) = release {
                self.conn.release_capacity(id, n);
            }
        }
    }

    fn command(&mut self, cmd: Command<H>) {
        let (mut ctx, handler) = self.ctx_parts();
        cmd(&mut ctx, handler);
    }

    /// Dispatches events and collects output until neither produces more (or the output
    /// queue has something to write).
    fn settle(&mut self, outq: &mut VecDeque<Bytes>) {
        loop {
            self.dispatch();
            if !outq.is_empty() || !self.conn.wants_transmit() {
                return;
            }
            let mut chunks = Vec::new();
            let n = self.conn.poll_transmit(&mut chunks, TRANSMIT_BATCH);
            outq.extend(chunks.into_iter().filter(|c| !c.is_empty()));
            if n == 0 {
                // wants_transmit() but nothing to send (e.g. blocked on flow control): wait
                // for input rather than spinning.
                self.dispatch();
                return;
            }
        }
    }
}

async fn write_all_queued<W: AsyncWrite + Unpin>(
    wr: &mut W,
    outq: &mut VecDeque<Bytes>,
) -> std::io::Result<()> {
    while let Some(chunk) = outq.pop_front() {
        wr.write_all(&chunk).await?;
    }
    wr.flush().await
}

async fn run<IO, H>(
    conn: Connection,
    origin: Instant,
    io: IO,
    handler: H,
    mut commands: mpsc::UnboundedReceiver<Command<H>>,
) -> Result<(), DriverError>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
    H: Handler,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let mut st = Run {
        conn,
        origin,
        handler,
        outbox: HashMap::new(),
    };
    let mut buf = BytesMut::with_capacity(READ_RESERVE);
    let mut outq: VecDeque<Bytes> = VecDeque::new();
    let mut commands_open = true;
    let mut read_open = true;
    let mut needs_flush = false;
    loop {
        st.settle(&mut outq);
        if outq.is_empty() {
            if needs_flush {
                wr.flush().await?;
                needs_flush = false;
            }
            if st.conn.is_done() {
                let _ = wr.shutdown().await;
                return Ok(());
            }
        }
        if !read_open && outq.is_empty() {
            return Err(DriverError::Eof);
        }
        let deadline = st.conn.poll_timeout().map(|t| origin + t.as_duration());
        buf.reserve(READ_RESERVE);
        let timer = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now));
        tokio::select! {
            // Writing and reading proceed together: blocking on a write while the peer
            // blocks on its own write to us would deadlock both.
            written = wr.write(outq.front().map_or(&[][..], |c| &c[..])), if !outq.is_empty() => {
                let n = written?;
                if n == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
                }
                let front = outq.front_mut().expect("checked non-empty");
                front.advance(n);
                if front.is_empty() {
                    outq.pop_front();
                }
                needs_flush = true;
            }
            read = rd.read_buf(&mut buf), if read_open => {
                if read? == 0 {
                    read_open = false;
                    continue;
                }
                let now = st.now();
                if let Err(e) = st.conn.recv(&mut buf, now) {
                    st.dispatch();
                    let mut chunks = Vec::new();
                    st.conn.poll_transmit(&mut chunks, usize::MAX);
                    outq.extend(chunks);
                    let _ = write_all_queued(&mut wr, &mut outq).await;
                    return Err(DriverError::Connection(e));
                }
            }
            cmd = commands.recv(), if commands_open => match cmd {
                Some(cmd) => st.command(cmd),
                None => commands_open = false,
            },
            _ = timer, if deadline.is_some() => {
                let now = st.now();
                if let Err(e) = st.conn.handle_timeout(now) {
                    st.dispatch();
                    let mut chunks = Vec::new();
                    st.conn.poll_transmit(&mut chunks, usize::MAX);
                    outq.extend(chunks);
                    let _ = write_all_queued(&mut wr, &mut outq).await;
                    return Err(DriverError::Connection(e));
                }
            }
        }
    }
}
