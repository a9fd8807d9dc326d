//! The client façade: a client-role driver whose events are routed to per-stream handles.

use super::driver::{spawn, Command, Ctx, Driver, DriverError, Handler};
use super::stream_of;
use bytes::{Bytes, BytesMut};
use sallyport::proto::h2::{Config, Event, RequestHead, ResponseHead, Role, StreamError};
use sallyport::proto::hpack::Field;
use sallyport::proto::{Reason, StreamId};
use std::collections::HashMap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

/// Routes client-side events to the stream handles that wait for them; connection-level
/// events (and those of streams nobody waits for) go to [`Client::conn_event`].
pub struct ClientApp {
    streams: HashMap<StreamId, mpsc::UnboundedSender<Event>>,
    conn_events: mpsc::UnboundedSender<Event>,
}

impl Handler for ClientApp {
    fn event(&mut self, _ctx: &mut Ctx<'_>, event: Event) {
        if matches!(event, Event::Writable { .. }) {
            return; // the driver already resumed the body
        }
        let event = match stream_of(&event).and_then(|id| self.streams.get(&id).map(|tx| (id, tx)))
        {
            Some((id, tx)) => match tx.send(event) {
                Ok(()) => return,
                Err(mpsc::error::SendError(event)) => {
                    self.streams.remove(&id);
                    event
                }
            },
            None => event,
        };
        let _ = self.conn_events.send(event);
    }
}

/// A client-role connection in its own task.
pub struct Client {
    /// The underlying driver (for [`Driver::exec`]).
    pub driver: Driver<ClientApp>,
    conn_events: mpsc::UnboundedReceiver<Event>,
}

/// A response as collected by [`ClientStream::response`].
#[derive(Debug, Default)]
pub struct Response {
    /// Interim (1xx) heads, in order.
    pub interim: Vec<ResponseHead>,
    /// The final head, if one arrived.
    pub head: Option<ResponseHead>,
    /// The body.
    pub body: BytesMut,
    /// Trailers, if any.
    pub trailers: Option<Vec<Field>>,
    /// The stream was reset: the reason and whether the peer did it.
    pub reset: Option<(Reason, bool)>,
    /// The peer ended the stream cleanly (END_STREAM seen).
    pub ended: bool,
}

impl Response {
    /// The final status (panics if none arrived).
    #[track_caller]
    pub fn status(&self) -> u16 {
        self.head.as_ref().expect("no response head").status
    }
}

impl Client {
    /// Starts a client connection over `io`.
    pub fn spawn<IO>(io: IO, config: Config) -> Client
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (conn_tx, conn_events) = mpsc::unbounded_channel();
        let app = ClientApp {
            streams: HashMap::new(),
            conn_events: conn_tx,
        };
        Client {
            driver: spawn(Role::Client, config, io, app),
            conn_events,
        }
    }

    /// Opens a stream.
    pub async fn open(
        &self,
        head: RequestHead,
        end_stream: bool,
    ) -> Result<ClientStream, StreamError> {
        self.open_with(head, Bytes::new(), end_stream).await
    }

    /// Opens a stream and queues the first body bytes in the same step, so that they are
    /// queued even if the peer answers (and closes the stream) right away.
    pub async fn open_with(
        &self,
        head: RequestHead,
        body: Bytes,
        end_stream: bool,
    ) -> Result<ClientStream, StreamError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self
            .driver
            .exec(move |ctx, app| {
                let id = ctx
                    .conn
                    .send_request(&head, end_stream && body.is_empty())?;
                app.streams.insert(id, tx);
                if !body.is_empty() {
                    ctx.send_data(id, body, end_stream)?;
                }
                Ok(id)
            })
            .await?;
        Ok(ClientStream {
            id,
            events: rx,
            commands: self.driver.commands(),
        })
    }

    /// Sends a whole request (`body` may be empty) and collects the response.
    pub async fn request(&self, head: RequestHead, body: Bytes) -> Result<Response, StreamError> {
        let stream = self.open_with(head, body, true).await?;
        Ok(stream.response().await)
    }

    /// Sends a PING (the ack arrives as [`Event::PingAck`] on [`conn_event`](Self::conn_event)).
    pub async fn ping(&self, payload: [u8; 8]) {
        self.driver.exec(move |ctx, _| ctx.conn.ping(payload)).await
    }

    /// The next connection-level event (PingAck, GoAway, or an event of a stream nobody
    /// waits for).
    pub async fn conn_event(&mut self) -> Option<Event> {
        self.conn_events.recv().await
    }

    /// Waits for the connection to end.
    pub async fn join(self) -> Result<(), DriverError> {
        self.driver.join().await
    }
}

/// One stream opened by a [`Client`].
pub struct ClientStream {
    /// The stream id.
    pub id: StreamId,
    events: mpsc::UnboundedReceiver<Event>,
    commands: mpsc::UnboundedSender<Command<ClientApp>>,
}

impl ClientStream {
    async fn exec<R, F>(&self, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> R + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let cmd: Command<ClientApp> = Box::new(move |ctx, _| {
            let _ = done.send(f(ctx));
        });
        self.commands
            .send(cmd)
            .unwrap_or_else(|_| panic!("driver has stopped"));
        result
            .await
            .expect("driver stopped while running a command")
    }

    /// Queues body bytes (any amount; see [`Ctx::send_data`]).
    pub async fn send_data(&self, data: Bytes, end_stream: bool) -> Result<(), StreamError> {
        let id = self.id;
        self.exec(move |ctx| ctx.send_data(id, data, end_stream))
            .await
    }

    /// Queues trailers after the body.
    pub async fn send_trailers(&self, trailers: Vec<Field>) -> Result<(), StreamError> {
        let id = self.id;
        self.exec(move |ctx| ctx.send_trailers(id, trailers)).await
    }

    /// Resets the stream.
    pub async fn reset(&self, reason: Reason) {
        let id = self.id;
        self.exec(move |ctx| ctx.reset(id, reason)).await
    }

    /// Bytes of our body still in the driver's outbox.
    pub async fn outbox_len(&self) -> usize {
        let id = self.id;
        self.exec(move |ctx| ctx.outbox_len(id)).await
    }

    /// The next event of this stream (`None` once the driver stopped).
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Collects events until the peer ends the stream, the stream is reset, or the driver
    /// stops.
    pub async fn response(mut self) -> Response {
        let mut r = Response::default();
        while let Some(ev) = self.next().await {
            if r.absorb(ev) {
                break;
            }
        }
        r
    }
}

impl Response {
    /// Adds one stream event; returns true when the stream is over.
    pub fn absorb(&mut self, ev: Event) -> bool {
        match ev {
            Event::Response {
                head, end_stream, ..
            } => {
                if head.is_informational() {
                    self.interim.push(head);
                } else {
                    self.head = Some(head);
                }
                self.ended = end_stream;
                end_stream
            }
            Event::Data {
                data, end_stream, ..
            } => {
                self.body.extend_from_slice(&data);
                self.ended = end_stream;
                end_stream
            }
            Event::Trailers { trailers, .. } => {
                self.trailers = Some(trailers);
                self.ended = true;
                true
            }
            Event::Reset { reason, remote, .. } => {
                self.reset = Some((reason, remote));
                true
            }
            other => panic!("unexpected stream event {other:?}"),
        }
    }
}
