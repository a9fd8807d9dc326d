//! Shared by every test here: timeouts, h2-side helpers, and the two pairings (our client
//! against `h2::server`, `h2::client` against our server).

use crate::support::{self, fld, Client, Collector, Ctx, Driver, Fed, Handler, PIPE};
use bytes::{Bytes, BytesMut};
use http::{Method, Request};
use sallyport::proto::h2::{Config, Event, ResponseHead, Role};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);
pub const BIG: usize = 8 << 20;
pub const MANY: usize = 150;

/// Fails the test instead of hanging.
pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test timed out")
}

/// Our configuration with both receive windows at the RFC minimum.
pub fn tiny_windows() -> Config {
    Config {
        initial_stream_window: 65_535,
        connection_window: 65_535,
        ..Config::default()
    }
}

// ------------------------------------------------------------------------------ h2 helpers

/// Sends `data` on an h2 stream, waiting for flow-control capacity instead of buffering it
/// all in h2.
pub async fn h2_send(
    stream: &mut h2::SendStream<Bytes>,
    mut data: Bytes,
    end: bool,
) -> Result<(), h2::Error> {
    if data.is_empty() {
        return stream.send_data(data, end);
    }
    while !data.is_empty() {
        stream.reserve_capacity(data.len().min(256 << 10));
        let cap = match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(cap) => cap?,
            None => return Err(h2::Error::from(h2::Reason::CANCEL)),
        };
        if cap == 0 {
            continue;
        }
        let chunk = data.split_to(cap.min(data.len()));
        stream.send_data(chunk, end && data.is_empty())?;
    }
    Ok(())
}

/// Reads an h2 body to its end, releasing capacity as it goes.
pub async fn h2_recv(body: &mut h2::RecvStream) -> Result<BytesMut, h2::Error> {
    let mut out = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len())?;
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Reads exactly `n` bytes (or to the end) from an h2 body.
pub async fn h2_recv_n(body: &mut h2::RecvStream, n: usize) -> Result<BytesMut, h2::Error> {
    let mut out = BytesMut::new();
    while out.len() < n {
        match body.data().await {
            Some(chunk) => {
                let chunk = chunk?;
                body.flow_control().release_capacity(chunk.len())?;
                out.extend_from_slice(&chunk);
            }
            None => break,
        }
    }
    Ok(out)
}

pub fn h2_response(status: u16) -> http::Response<()> {
    http::Response::builder().status(status).body(()).unwrap()
}

pub type H2Request = Request<h2::RecvStream>;
pub type H2Respond = h2::server::SendResponse<Bytes>;

pub type H2ServerConn = h2::server::Connection<DuplexStream, Bytes>;
pub type H2Control = Box<dyn FnOnce(&mut H2ServerConn) + Send>;

/// An `h2::server` connection in its own task; each request is handled in its own task.
pub struct H2Server {
    control: mpsc::UnboundedSender<H2Control>,
    pub ping: Option<h2::PingPong>,
    handlers: Arc<Mutex<Vec<JoinHandle<()>>>>,
    pub conn: JoinHandle<Result<(), h2::Error>>,
}

impl H2Server {
    pub async fn start<F, Fut>(
        io: DuplexStream,
        builder: &h2::server::Builder,
        handler: F,
    ) -> H2Server
    where
        F: Fn(H2Request, H2Respond) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut conn: H2ServerConn = builder.handshake(io).await.expect("h2 server handshake");
        let ping = conn.ping_pong();
        let handlers = Arc::new(Mutex::new(Vec::new()));
        let tasks = handlers.clone();
        let (control, mut control_rx) = mpsc::unbounded_channel::<H2Control>();
        let handler = Arc::new(handler);
        let conn = tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = conn.accept() => match accepted {
                        Some(Ok((req, respond))) => {
                            let h = handler.clone();
                            let task = tokio::spawn(async move { h(req, respond).await });
                            tasks.lock().unwrap().push(task);
                        }
                        Some(Err(e)) => return Err(e),
                        None => return Ok(()),
                    },
                    Some(f) = control_rx.recv() => f(&mut conn),
                }
            }
        });
        H2Server {
            control,
            ping,
            handlers,
            conn,
        }
    }

    /// Runs `f` on the h2 connection (inside its task).
    pub fn control(&self, f: impl FnOnce(&mut H2ServerConn) + Send + 'static) {
        if self.control.send(Box::new(f)).is_err() {
            panic!("h2 server stopped");
        }
    }

    pub fn graceful_shutdown(&self) {
        self.control(|c| c.graceful_shutdown());
    }

    /// Waits for every request handler spawned so far; fails if one panicked.
    pub async fn check_handlers(&self) {
        let tasks = std::mem::take(&mut *self.handlers.lock().unwrap());
        for t in tasks {
            t.await.expect("an h2 server handler failed");
        }
    }
}

/// Our client against an `h2::server`.
pub async fn ours_to_h2<F, Fut>(
    config: Config,
    builder: &h2::server::Builder,
    handler: F,
) -> (Client, H2Server)
where
    F: Fn(H2Request, H2Respond) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (a, b) = tokio::io::duplex(PIPE);
    let client = Client::spawn(a, config);
    let server = H2Server::start(b, builder, handler).await;
    (client, server)
}

/// An `h2::client` against our server.
pub struct H2Client {
    pub send: h2::client::SendRequest<Bytes>,
    pub ping: h2::PingPong,
    pub conn: JoinHandle<Result<(), h2::Error>>,
}

pub async fn h2_to_ours<H: Handler>(
    config: Config,
    builder: &h2::client::Builder,
    handler: H,
) -> (H2Client, Driver<H>) {
    let (a, b) = tokio::io::duplex(PIPE);
    let server = support::spawn(Role::Server, config, b, handler);
    let (send, mut conn) = builder
        .handshake::<_, Bytes>(a)
        .await
        .expect("h2 client handshake");
    let ping = conn.ping_pong().expect("ping_pong");
    let conn = tokio::spawn(conn);
    (H2Client { send, ping, conn }, server)
}

impl H2Client {
    /// Sends a request once h2 is ready to open a stream.
    pub async fn request(
        &self,
        req: Request<()>,
        end_stream: bool,
    ) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
        let mut send = self
            .send
            .clone()
            .ready()
            .await
            .expect("h2 client not ready");
        send.send_request(req, end_stream).expect("h2 send_request")
    }
}

pub fn h2_req(method: Method, path: &str) -> Request<()> {
    Request::builder()
        .method(method)
        .uri(format!("http://backend.local{path}"))
        .body(())
        .unwrap()
}

/// Our server echoing each complete request's body (and trailers, as `x-echo-*` trailers).
pub fn echo_server() -> impl Handler {
    let mut requests = Collector::default();
    move |ctx: &mut Ctx<'_>, ev: Event| {
        if let Fed::Complete(id) = requests.feed(ev) {
            let req = requests.requests.remove(&id).unwrap();
            let mut head = ResponseHead::new(200);
            head.fields.push(fld("x-path", req.path()));
            let body = req.body.freeze();
            match req.trailers {
                None => ctx.respond(id, &head, body).unwrap(),
                Some(trailers) => {
                    ctx.conn.send_response(id, &head, false).unwrap();
                    ctx.send_data(id, body, false).unwrap();
                    let echoed = trailers
                        .iter()
                        .map(|t| {
                            let name = format!("x-echo-{}", std::str::from_utf8(&t.name).unwrap());
                            fld(&name, std::str::from_utf8(&t.value).unwrap())
                        })
                        .collect();
                    ctx.send_trailers(id, echoed).unwrap();
                }
            }
        }
    }
}
