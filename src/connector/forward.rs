//! Serving one tunnel stream: an HTTP request to an HTTP/1.1 backend, or a CONNECT stream to
//! a TCP backend.
//!
//! Payload bytes are not copied here: request DATA arrives as `Bytes` slices of the tunnel's
//! receive buffer and is written to the backend socket as they are (vectored with the chunk
//! framing); backend bytes are read into a `BytesMut` whose filled part is split off and
//! frozen into the `Bytes` the tunnel sends.

use super::pool::Pool;
use super::Live;
use crate::audit::EventKind;
use crate::io::idle::{drive, within, IdleDeadline, SpliceEnd};
use crate::policy::{Admitted, HttpRequest};
use crate::proto::h2::{field, RequestHead, ResponseHead};
use crate::proto::http1::{self, BodyKind, ChunkedDecoder, ChunkedItem, Limits, Method};
use crate::proto::Reason;
use crate::tunnel::{StreamEvent, StreamHandle};
use crate::tunnel::{TransportRead, TransportWrite};
use bytes::{Bytes, BytesMut};
use compio::net::TcpStream;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Timeouts towards backends.
#[derive(Clone, Copy, Debug)]
pub struct BackendTimeouts {
    /// TCP connect.
    pub connect: Duration,
    /// From the end of the request to the response head.
    pub response: Duration,
    /// A spliced stream (TCP, WebSocket) moving no byte either way for this long is closed.
    pub idle: Duration,
}

/// Everything a stream handler needs; one per thread and subaccount.
pub struct Context {
    /// The subaccount's reloadable settings: compiled policy and audit sink.
    pub live: Arc<Live>,
    /// Idle backend connections.
    pub pool: Pool,
    /// Backend timeouts.
    pub timeouts: BackendTimeouts,
    /// TLS towards `https`/`tcps` systems (their trust store); `None` if none is mapped.
    pub backend_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// Reading half of a backend connection, plain or TLS.
pub enum BackendRead {
    /// Plain TCP.
    Tcp(crate::tunnel::TcpRead),
    /// TLS (rustls, unbuffered).
    Tls(crate::io::tls::TlsReader),
}

/// Writing half of a backend connection, plain or TLS.
pub enum BackendWrite {
    /// Plain TCP.
    Tcp(crate::tunnel::TcpWrite),
    /// TLS (rustls, unbuffered).
    Tls(crate::io::tls::TlsWriter),
}

/// A connection to a backend system.
pub struct BackendConn {
    pub(super) rd: BackendRead,
    pub(super) wr: BackendWrite,
}

impl BackendRead {
    /// Waits until a read would not wait, lending no buffer meanwhile (see
    /// [`crate::io::readable`]). TLS returns at once: its reader may hold decrypted bytes
    /// already, which polling the socket would not see.
    async fn readable(&self) {
        if let BackendRead::Tcp(r) = self {
            // On an error the read that follows reports it.
            let _ = r.readable().await;
        }
    }

    /// Appends what arrives to `buf` (reserving room first); `Ok(0)` at the end.
    pub(super) async fn read(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        buf.reserve(READ_CHUNK);
        match self {
            BackendRead::Tcp(r) => r.read(buf).await,
            // Boxed, as the TLS arms below: a TLS future is several times a plain one's size,
            // and inline it would size every splice's task by it (plain TCP ones included).
            // One allocation per TLS read or write, small beside the record's encryption.
            BackendRead::Tls(r) => Box::pin(TransportRead::read(r, buf)).await,
        }
    }
}

impl BackendWrite {
    pub(super) async fn write(&mut self, chunks: &[Bytes]) -> std::io::Result<()> {
        match self {
            BackendWrite::Tcp(w) => w.write(chunks).await,
            BackendWrite::Tls(w) => Box::pin(TransportWrite::write(w, chunks)).await,
        }
    }

    /// Half-close: FIN (after close_notify for TLS).
    async fn close(&mut self) {
        match self {
            BackendWrite::Tcp(w) => w.close().await,
            BackendWrite::Tls(w) => Box::pin(TransportWrite::close(w)).await,
        }
    }
}

pub(super) const READ_CHUNK: usize = 64 << 10;
/// Caller credentials the relay carries through the tunnel for principal propagation; they
/// are meant for the connector, never for a backend as they are.
const PRINCIPAL_HEADERS: [&[u8]; 2] = [
    b"sap-connectivity-authentication",
    b"sap-connectivity-technical-authentication",
];

/// Serves one stream to the end. Every stream passes the policy first; only the token it
/// returns lets [`connect`] reach a backend. The decision and the outcome are audited: a
/// request whose record the audit sink cannot take is refused with 503 (fail closed).
pub async fn serve(
    ctx: Rc<Context>,
    stream: StreamHandle,
    mut head: RequestHead,
    end_stream: bool,
) {
    let started = std::time::Instant::now();
    // In-flight streams keep the policy and sink they started with across a reload.
    let policy = ctx.live.policy();
    let audit = ctx.live.audit();
    let mut ev = super::record::request_event(&ctx.live, &audit, &mut head);
    let authority = head.authority.clone().unwrap_or_default();
    let decision = if head.is_connect() {
        policy.check_connect(&authority)
    } else {
        let default_port = if head.scheme.as_deref() == Some(&b"https"[..]) {
            443
        } else {
            80
        };
        let path = head.path.clone().unwrap_or_default();
        policy.check_http_shared(
            &HttpRequest {
                authority: &authority,
                default_port,
                path: &path,
                websocket_upgrade: is_websocket_upgrade(&head),
            },
            &path,
        )
    };
    let admitted = match decision {
        Ok(a) => a,
        Err(denial) => {
            super::record::denied(&mut ev, &denial);
            if audit.wants(EventKind::Denied) && audit.admit(SystemTime::now()).is_err() {
                super::record::unavailable(&mut ev);
                answer(&stream, 503, AUDIT_UNAVAILABLE).await;
            } else {
                deny(&stream, denial).await;
            }
            return super::record::finish(&audit, ev, &stream, started);
        }
    };
    super::record::admitted(&mut ev, &admitted);
    if audit.wants(EventKind::Request) && audit.admit(SystemTime::now()).is_err() {
        super::record::unavailable(&mut ev);
        answer(&stream, 503, AUDIT_UNAVAILABLE).await;
        return super::record::finish(&audit, ev, &stream, started);
    }
    // Each kind of stream runs boxed: the task is sized by its largest state, so an HTTP
    // request does not carry the others'. A splice (TCP, WebSocket) moves to a task of its own.
    let spliced = if head.is_connect() {
        Box::pin(tunnel_tcp(&ctx, &stream, &admitted))
            .await
            .map(|backend| (backend, BytesMut::new()))
    } else if head.protocol.as_deref() == Some(&b"websocket"[..]) {
        Box::pin(super::websocket::forward(
            &ctx, &stream, head, end_stream, &admitted,
        ))
        .await
    } else if head.protocol.is_some() || &head.method[..] == b"CONNECT" {
        // Extended CONNECT for a protocol other than WebSocket passed the whitelist, but no
        // translation towards an HTTP/1.1 backend exists for it.
        answer(&stream, 501, "only the websocket protocol is forwarded\n").await;
        None
    } else {
        Box::pin(forward_http(&ctx, &stream, head, end_stream, &admitted)).await;
        None
    };
    match spliced {
        Some((backend, early)) => {
            let record = Pending { audit, ev, started };
            spawn_splice(stream, backend, early, ctx.timeouts.idle, record);
        }
        None => super::record::finish(&audit, ev, &stream, started),
    }
}

/// The answer when the audit trail cannot take the record a request needs.
const AUDIT_UNAVAILABLE: &str =
    "the connector's audit log cannot be written (disk full?): requests are refused until it can\n";

/// A WebSocket upgrade: extended CONNECT with `:protocol websocket`, or an `upgrade` field
/// naming `websocket`.
fn is_websocket_upgrade(head: &RequestHead) -> bool {
    let names_websocket = |v: &[u8]| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    };
    head.protocol.as_deref().is_some_and(names_websocket)
        || head
            .fields
            .iter()
            .any(|f| &f.name[..] == b"upgrade" && names_websocket(&f.value))
}

/// Answers a refused request with the denial's status and short reason.
async fn deny(stream: &StreamHandle, denial: crate::policy::Denial) {
    tracing::debug!(%denial, "request refused by policy");
    answer(stream, denial.status(), &format!("{}\n", denial.reason())).await
}

/// A short plain-text answer that ends the stream.
pub(super) async fn answer(stream: &StreamHandle, status: u16, text: &str) {
    let mut head = ResponseHead::new(status);
    head.fields
        .push(field("content-type", "text/plain; charset=utf-8"));
    head.fields
        .push(field("content-length", text.len().to_string()));
    head.fields.push(field("sallyport-error", "connector"));
    if stream.send_response(&head, false).is_ok() {
        let _ = stream
            .send_data(Bytes::copy_from_slice(text.as_bytes()), true)
            .await;
    }
}

/// Connects to the backend the token names; nothing else can name an address.
pub(super) async fn connect(ctx: &Context, admitted: &Admitted) -> Result<BackendConn, String> {
    let host = admitted.internal_host();
    let addr = (host, admitted.internal_port());
    let tcp = match compio::time::timeout(ctx.timeouts.connect, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err(format!("no answer within {:?}", ctx.timeouts.connect)),
    };
    let _ = tcp.set_nodelay(true);
    if !admitted.protocol().uses_tls() {
        let (r, w) = crate::tunnel::Transport::split(crate::tunnel::TcpTransport(tcp));
        return Ok(BackendConn {
            rd: BackendRead::Tcp(r),
            wr: BackendWrite::Tcp(w),
        });
    }
    let cfg = ctx
        .backend_tls
        .clone()
        .ok_or("no backend trust store is configured for TLS systems")?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("'{host}' is not a valid TLS server name: {e}"))?;
    // Boxed: the handshake's state is large and only TLS systems need it; inline, it would
    // size every stream's task, plain TCP ones included.
    let (r, w) = Box::pin(crate::io::tls::connect(
        tcp,
        cfg,
        name,
        ctx.timeouts.connect,
    ))
    .await
    .map_err(|e| format!("TLS to the backend failed: {e}"))?;
    Ok(BackendConn {
        rd: BackendRead::Tls(r),
        wr: BackendWrite::Tls(w),
    })
}

/// Opens the backend connection of an admitted CONNECT stream and answers it `200`; the
/// connection, for the caller to splice. `None` when the stream got another answer.
async fn tunnel_tcp(
    ctx: &Context,
    stream: &StreamHandle,
    admitted: &Admitted,
) -> Option<BackendConn> {
    let backend = match connect(ctx, admitted).await {
        Ok(s) => s,
        Err(e) => {
            answer(stream, 502, &format!("backend unreachable: {e}\n")).await;
            return None;
        }
    };
    stream.send_response(&ResponseHead::new(200), false).ok()?;
    Some(backend)
}

/// Splices an answered stream with its backend on a task of its own, then completes the
/// stream's audit record. The stream's own task ends now, and with it everything it held to
/// decide and open the stream: a long quiet splice costs only its own state (DESIGN §7.2,
/// idle memory).
fn spawn_splice(
    stream: StreamHandle,
    backend: BackendConn,
    early: BytesMut,
    idle: Duration,
    record: Pending,
) {
    compio::runtime::spawn(async move {
        let Pending {
            audit,
            mut ev,
            started,
        } = record;
        if splice(&stream, backend, early, idle).await == SpliceEnd::Idle {
            super::record::closed_idle(&mut ev, idle);
        }
        super::record::finish(&audit, ev, &stream, started);
    })
    .detach();
}

/// A stream's audit record until the stream ends: the sink it goes to, the record, and when
/// the stream started.
struct Pending {
    audit: crate::audit::AuditSink,
    ev: Option<crate::audit::Event>,
    started: std::time::Instant,
}

/// Moves bytes between an answered stream and its backend until both directions have ended,
/// or until nothing has moved either way for `idle_limit` (then the stream is reset with
/// CANCEL and the backend connection closed): a CONNECT tunnel, or a WebSocket after its
/// handshake. `early` holds backend bytes already read (they go first).
///
/// A clean half-close in one direction leaves the other running (TCP semantics); a reset or
/// an error ends both, and the backend socket closes as this returns.
async fn splice(
    stream: &StreamHandle,
    backend: BackendConn,
    early: BytesMut,
    idle_limit: Duration,
) -> SpliceEnd {
    let BackendConn { mut rd, mut wr } = backend;
    let idle = IdleDeadline::new(idle_limit);
    let end = drive(
        // Tunnel → backend. Ends on END_STREAM (half-close) or a reset.
        std::pin::pin!(async {
            while let Some(ev) = stream.next().await {
                match ev {
                    StreamEvent::Data { data, end_stream } => {
                        let n = data.len();
                        if n > 0 {
                            idle.touch();
                        }
                        if !data.is_empty() && wr.write(&[data]).await.is_err() {
                            stream.reset(Reason::CONNECT_ERROR);
                            return false;
                        }
                        stream.release(n);
                        if end_stream {
                            wr.close().await;
                            return true;
                        }
                    }
                    _ => return false,
                }
            }
            false
        }),
        // Backend → tunnel. Ends on backend EOF (END_STREAM) or error (reset).
        std::pin::pin!(async {
            let mut buf = early;
            if !buf.is_empty() && stream.send_data(buf.split().freeze(), false).await.is_err() {
                return false;
            }
            // Whether the last read drained the socket: then wait for the next bytes without a
            // buffer, so a quiet backend connection holds none.
            let mut drained = true;
            loop {
                if drained {
                    buf = BytesMut::new();
                    rd.readable().await;
                }
                match rd.read(&mut buf).await {
                    Ok(0) => return stream.send_data(Bytes::new(), true).await.is_ok(),
                    Ok(n) => {
                        drained = n < READ_CHUNK;
                        idle.touch();
                        let chunk = buf.split().freeze();
                        if stream.send_data(chunk, false).await.is_err() {
                            return false;
                        }
                    }
                    Err(_) => {
                        stream.reset(Reason::CONNECT_ERROR);
                        return false;
                    }
                }
            }
        }),
        &idle,
    )
    .await;
    if end == SpliceEnd::Idle {
        // The backend socket closes as this returns (`rd` and `wr` are dropped); the relay
        // hears of it by the reset.
        stream.reset(Reason::CANCEL);
        tracing::info!("spliced stream closed: no byte either way for {idle_limit:?}");
    }
    end
}

/// The request fields a backend gets: the end-to-end ones, without `host` and framing (the
/// head writer sets those), without the caller credentials meant for the connector, and
/// with `X-Forwarded-Host` per the system. The connector owns `X-Forwarded-Host`: a
/// client's own is never passed on. (The caller field is already gone: see `record`.)
pub(super) fn backend_fields<'a>(
    head: &'a RequestHead,
    admitted: &Admitted,
) -> impl Iterator<Item = (Bytes, Bytes)> + 'a {
    let forwarded = admitted
        .forwarded_host()
        .map(|v| (Bytes::from_static(b"x-forwarded-host"), v));
    head.fields
        .iter()
        .filter(|f| {
            !http1::hop_by_hop(&f.name)
                && !matches!(
                    &f.name[..],
                    b"host" | b"content-length" | b"x-forwarded-host"
                )
                && !PRINCIPAL_HEADERS.contains(&&f.name[..])
        })
        .map(|f| (f.name.clone(), f.value.clone()))
        .chain(forwarded)
}

async fn forward_http(
    ctx: &Context,
    stream: &StreamHandle,
    head: RequestHead,
    end_stream: bool,
    admitted: &Admitted,
) {
    let Some(path) = admitted.path() else {
        return answer(stream, 500, "admitted without a path\n").await;
    };
    let pool_key = admitted.internal_authority();
    let (mut backend, reused) = match ctx.pool.take(&pool_key) {
        Some(b) => (b, true),
        None => match connect(ctx, admitted).await {
            Ok(b) => (b, false),
            Err(e) => return answer(stream, 502, &format!("backend unreachable: {e}\n")).await,
        },
    };
    let method = Method::from_bytes(&head.method).unwrap_or(Method::Get);
    let body = if end_stream {
        if matches!(method, Method::Post | Method::Put | Method::Patch) {
            BodyKind::Length(0)
        } else {
            BodyKind::Empty
        }
    } else {
        match head.content_length() {
            Some(n) => BodyKind::Length(n),
            None => BodyKind::Chunked,
        }
    };
    // Exactly the path the policy checked; `Host` per the system.
    let host = admitted.host_header();
    let fields = backend_fields(&head, admitted);
    let mut out = BytesMut::with_capacity(1024);
    if let Err(e) = http1::write_request_head(&method, path.raw(), &host, fields, body, &mut out) {
        return answer(stream, 400, &format!("request cannot be forwarded: {e}\n")).await;
    }
    let mut pending: Vec<Bytes> = vec![out.freeze()];
    // Request body: DATA slices go to the backend as they are.
    if !end_stream {
        loop {
            match stream.next().await {
                Some(StreamEvent::Data { data, end_stream }) => {
                    let n = data.len();
                    if body == BodyKind::Chunked && !data.is_empty() {
                        let mut h = BytesMut::with_capacity(16);
                        http1::chunk_header(data.len(), &mut h);
                        pending.push(h.freeze());
                        pending.push(data);
                        pending.push(Bytes::from_static(b"\r\n"));
                    } else if !data.is_empty() {
                        pending.push(data);
                    }
                    if end_stream && body == BodyKind::Chunked {
                        pending.push(Bytes::from_static(b"0\r\n\r\n"));
                    }
                    if let Err(e) = backend.wr.write(&std::mem::take(&mut pending)).await {
                        return answer(stream, 502, &format!("backend reset: {e}\n")).await;
                    }
                    stream.release(n);
                    if end_stream {
                        break;
                    }
                }
                Some(StreamEvent::Trailers(_)) => {
                    if body == BodyKind::Chunked {
                        pending.push(Bytes::from_static(b"0\r\n\r\n"));
                    }
                    break;
                }
                // Reset or tunnel gone: dropping `backend` closes it at once.
                _ => return,
            }
        }
    }
    if !pending.is_empty() {
        if let Err(e) = backend.wr.write(&pending).await {
            let why = if reused {
                " (idle pooled connection)"
            } else {
                ""
            };
            return answer(stream, 502, &format!("backend reset{why}: {e}\n")).await;
        }
    }
    let buf = BytesMut::with_capacity(READ_CHUNK);
    let head_request = method == Method::Head;
    relay_response(
        ctx,
        stream,
        backend,
        buf,
        admitted,
        Some(&pool_key),
        head_request,
    )
    .await;
}

/// Reads the backend's response (starting with what `buf` already holds) and passes it on.
/// The connection goes back to the pool under `pool_key` if it can carry another request;
/// `None` never pools it.
pub(super) async fn relay_response(
    ctx: &Context,
    stream: &StreamHandle,
    mut backend: BackendConn,
    mut buf: BytesMut,
    admitted: &Admitted,
    pool_key: Option<&str>,
    head_request: bool,
) {
    let limits = Limits::default();
    let deadline = ctx.timeouts.response;
    let (resp, used) = loop {
        match http1::parse_response(&buf, &limits, head_request) {
            Ok(Some((r, used))) if r.is_informational() => {
                bytes::Buf::advance(&mut buf, used);
                continue;
            }
            Ok(Some(done)) => break done,
            Ok(None) => {}
            Err(e) => {
                return answer(
                    stream,
                    502,
                    &format!("backend sent an invalid response: {e}\n"),
                )
                .await
            }
        }
        // On timeout the read is dropped with the connection (a cancelled read leaves a TLS
        // backend unusable, and this one is not pooled).
        match compio::time::timeout(deadline, backend.rd.read(&mut buf)).await {
            Err(_) => {
                return answer(
                    stream,
                    504,
                    &format!("backend did not answer within {deadline:?}\n"),
                )
                .await
            }
            Ok(Ok(0)) => {
                return answer(
                    stream,
                    502,
                    "backend closed the connection without a response\n",
                )
                .await
            }
            Ok(Err(e)) => return answer(stream, 502, &format!("backend reset: {e}\n")).await,
            Ok(Ok(_)) => {}
        }
    };
    let _ = buf.split_to(used);
    let mut head = ResponseHead::new(resp.status);
    for (name, value) in resp.end_to_end_headers() {
        // Redirects to the internal host are rewritten to the virtual one.
        let value = match &name[..] {
            b"location" => admitted.rewrite_location(value),
            _ => None,
        }
        .unwrap_or_else(|| value.clone());
        head.fields.push(crate::proto::hpack::Field {
            name: name.clone(),
            value,
            sensitive: false,
        });
    }
    let empty = resp.body == BodyKind::Empty || resp.body == BodyKind::Length(0);
    if stream.send_response(&head, empty).is_err() {
        return;
    }
    if empty {
        if let Some(key) = pool_key.filter(|_| resp.keep_alive && buf.is_empty()) {
            ctx.pool.put(key, backend);
        }
        return;
    }
    // A body that stalls for the idle limit ends the stream (reset: its end is unknown) and
    // the backend connection; each read from the backend touches the deadline.
    let idle = IdleDeadline::new(ctx.timeouts.idle);
    let copy = async {
        let from = Backend {
            conn: &mut backend,
            idle: &idle,
        };
        match resp.body {
            BodyKind::Length(n) => copy_length(stream, from, buf, n).await,
            BodyKind::Chunked => copy_chunked(stream, from, buf).await,
            _ => copy_until_close(stream, from, buf).await,
        }
    };
    let Some(complete) = within(&idle, copy).await else {
        stream.reset(Reason::CANCEL);
        tracing::info!(
            "backend response body stalled: no byte for {:?}; stream reset",
            ctx.timeouts.idle
        );
        return;
    };
    if complete && resp.keep_alive && resp.body != BodyKind::UntilClose {
        if let Some(key) = pool_key {
            ctx.pool.put(key, backend);
        }
    }
}

/// A backend connection whose response body is being copied, and the deadline its reads touch.
struct Backend<'a> {
    conn: &'a mut BackendConn,
    idle: &'a IdleDeadline,
}

async fn read_more(
    backend: &mut Backend<'_>,
    mut buf: BytesMut,
) -> (std::io::Result<usize>, BytesMut) {
    let r = backend.conn.rd.read(&mut buf).await;
    if matches!(r, Ok(n) if n > 0) {
        backend.idle.touch();
    }
    (r, buf)
}

async fn copy_length(
    stream: &StreamHandle,
    mut backend: Backend<'_>,
    mut buf: BytesMut,
    mut left: u64,
) -> bool {
    loop {
        if !buf.is_empty() {
            let n = (buf.len() as u64).min(left) as usize;
            let chunk = buf.split_to(n).freeze();
            left -= n as u64;
            if stream.send_data(chunk, left == 0).await.is_err() {
                return false;
            }
            if left == 0 {
                return buf.is_empty();
            }
        }
        let (r, b) = read_more(&mut backend, buf).await;
        buf = b;
        match r {
            Ok(n) if n > 0 => {}
            _ => {
                stream.reset(Reason::INTERNAL_ERROR);
                return false;
            }
        }
    }
}

async fn copy_chunked(stream: &StreamHandle, mut backend: Backend<'_>, mut buf: BytesMut) -> bool {
    let mut decoder = ChunkedDecoder::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(ChunkedItem::Data(data))) => {
                if stream.send_data(data, false).await.is_err() {
                    return false;
                }
                continue;
            }
            Ok(Some(ChunkedItem::End(_trailers))) => {
                return stream.send_data(Bytes::new(), true).await.is_ok() && buf.is_empty();
            }
            Ok(None) => {}
            Err(_) => {
                stream.reset(Reason::INTERNAL_ERROR);
                return false;
            }
        }
        let (r, b) = read_more(&mut backend, buf).await;
        buf = b;
        if !matches!(r, Ok(n) if n > 0) {
            stream.reset(Reason::INTERNAL_ERROR);
            return false;
        }
    }
}

async fn copy_until_close(
    stream: &StreamHandle,
    mut backend: Backend<'_>,
    mut buf: BytesMut,
) -> bool {
    loop {
        if !buf.is_empty() && stream.send_data(buf.split().freeze(), false).await.is_err() {
            return false;
        }
        let (r, b) = read_more(&mut backend, buf).await;
        buf = b;
        match r {
            Ok(0) => return stream.send_data(Bytes::new(), true).await.is_ok(),
            Ok(_) => {}
            Err(_) => {
                stream.reset(Reason::INTERNAL_ERROR);
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_websocket_upgrade;
    use crate::proto::h2::{field, RequestHead};
    use bytes::Bytes;

    #[test]
    fn websocket_upgrades_are_recognised() {
        let plain = RequestHead::new("GET", "http", "a.virtual", "/");
        assert!(!is_websocket_upgrade(&plain));
        let mut upgrade = plain.clone();
        upgrade.fields.push(field("upgrade", "h2c, WebSocket"));
        assert!(is_websocket_upgrade(&upgrade));
        let mut other = plain.clone();
        other.fields.push(field("upgrade", "websocketx"));
        assert!(!is_websocket_upgrade(&other));
        let mut extended = RequestHead::new("CONNECT", "http", "a.virtual", "/chat");
        extended.protocol = Some(Bytes::from_static(b"websocket"));
        assert!(is_websocket_upgrade(&extended));
    }
}
