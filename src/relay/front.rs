//! The HTTP forward-proxy front door: absolute-form HTTP/1.1 requests, WebSocket upgrades
//! (see `websocket.rs`) and CONNECT, parsed by the strict sans-IO [`crate::proto::http1`]
//! layer, routed by tenant and location into a tunnel stream.
//!
//! Callers authenticate with `Proxy-Authorization: Bearer <JWT>` (see [`super::auth`]); the
//! token's tenant claim picks the tenant, `SAP-Connectivity-SCC-Location_ID` (or
//! `Sallyport-Location`) the location, else the tenant's default. A trusted tenant, when one
//! is configured, needs no header. `Proxy-Authorization` never leaves the relay;
//! `SAP-Connectivity-Authentication` and `SAP-Connectivity-Technical-Authentication` travel
//! through the tunnel untouched (the connector strips them before the backend).
//!
//! Answers a user can act on, each with a short text body naming the cause: 400 malformed,
//! 405 for `https://` targets (use CONNECT), 407 missing or invalid token, 502 backend
//! unreachable or reset (from the connector), 503 no connector for tenant and location, 504
//! no answer in time.

use super::auth::{Caller, Door, FrontAuth, CALLER_FIELD};
use super::connect::{self, ConnectAnswer};
use super::exchange::{download, upload};
use super::live::AuthCell;
use super::registry::{MovedDoor, Registry, Route, RouteError, TunnelStream};
use super::websocket;
use super::RelayConfig;
use crate::io::idle::{within, IdleDeadline};
use crate::proto::h2::RequestHead as H2Request;
use crate::proto::hpack::Field;
use crate::proto::http1::{self, BodyKind, RequestHead, Scheme, Target};
use bytes::{Buf, Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use std::net::SocketAddr;
use std::sync::Arc;

const READ_CHUNK: usize = 64 << 10;
/// Location header names: SAP's, and our own alias.
const LOCATION_HEADERS: [&str; 2] = ["sap-connectivity-scc-location_id", "sallyport-location"];
/// The location of a connector whose certificate names none in particular.
pub const DEFAULT_LOCATION: &str = "default";

/// One client connection of the proxy door.
pub(super) struct Client {
    pub(super) rd: TcpStream,
    pub(super) wr: TcpStream,
    /// Bytes read and not yet consumed.
    pub(super) buf: BytesMut,
    /// The caller's address, for audit records.
    pub(super) peer: String,
}

impl Client {
    /// Reads more into `buf`; `Ok(0)` at EOF.
    pub(super) async fn fill(&mut self) -> std::io::Result<usize> {
        self.buf.reserve(READ_CHUNK);
        let buf = std::mem::take(&mut self.buf);
        let BufResult(r, b) = self.rd.append(buf).await;
        self.buf = b;
        r
    }

    pub(super) async fn send(&mut self, bytes: Bytes) -> bool {
        let BufResult(r, _) = self.wr.write_all(bytes).await;
        r.is_ok()
    }

    pub(super) async fn send_all(&mut self, chunks: Vec<Bytes>) -> bool {
        let BufResult(r, _) = self.wr.write_vectored_all(chunks).await;
        r.is_ok()
    }

    pub(super) async fn fail(&mut self, status: u16, text: &str) {
        let _ = self.send(http1::error_response(status, text)).await;
    }
}

/// Serves one client connection (keep-alive: several requests in turn).
pub async fn serve(
    registry: Arc<Registry>,
    cfg: Arc<RelayConfig>,
    auth: AuthCell,
    sock: TcpStream,
    peer: SocketAddr,
) {
    let _ = sock.set_nodelay(true);
    let (rd, wr) = sock.into_split();
    let c = Client {
        rd,
        wr,
        buf: BytesMut::with_capacity(16 << 10),
        peer: peer.to_string(),
    };
    serve_client(registry, cfg, auth, c, None).await;
}

/// A request whose head was read and whose caller was authenticated, with the settings
/// snapshot that did it (one snapshot per request: a reload applies from the next one on).
type Ready = (RequestHead, Caller, Arc<FrontAuth>);

/// What a connection does once a request has been served.
pub(super) enum After {
    /// Read the next request (keep-alive).
    KeepAlive,
    /// Close it: the request said so, failed, or was refused.
    Close,
    /// Carry bytes both ways with this stream (CONNECT, WebSocket): the answer has been
    /// sent, and the connection is the splice's from now on.
    Splice(TunnelStream),
}

/// What serving one authenticated request needs besides its client connection: where the
/// tunnels are, the relay's limits, the settings snapshot that let the request in, and who
/// sent it.
pub(super) struct Request<'a> {
    pub(super) registry: &'a Registry,
    pub(super) cfg: &'a RelayConfig,
    pub(super) auth: &'a FrontAuth,
    pub(super) caller: &'a Caller,
}

/// The request loop of one client connection; `first` is a request already read (by the
/// thread the connection moved from).
async fn serve_client(
    registry: Arc<Registry>,
    cfg: Arc<RelayConfig>,
    auth: AuthCell,
    mut c: Client,
    mut first: Option<Ready>,
) {
    loop {
        // A request moved here with its connection is served here: one move per request, so
        // tunnels coming and going cannot bounce a connection between threads.
        let (head, caller, settings, may_move) = match first.take() {
            Some((head, caller, settings)) => (head, caller, settings, false),
            // Boxed, like each request's handling in `dispatch`: the connection's task then
            // holds only the state of what it is doing now.
            None => match Box::pin(next_request(&cfg, &auth, &mut c)).await {
                Some((head, caller, settings)) => (head, caller, settings, true),
                None => return,
            },
        };
        // The tenant's tunnel runs on another thread and none here: move the connection
        // there before this request, so that its stream (and the next ones, usually for the
        // same tenant) stay on one thread.
        let to = may_move
            .then(|| elsewhere(&registry, &settings, &caller, &head))
            .flatten();
        if let Some(to) = to {
            match crate::io::duplicate_tcp(&c.rd) {
                Ok(sock) => {
                    let moved = (sock, std::mem::take(&mut c.buf), c.peer.clone());
                    drop(c);
                    let (reg, cfg2, auth2) = (registry.clone(), cfg.clone(), auth.clone());
                    let ready = (head, caller, settings);
                    let door: MovedDoor = Box::new(move || {
                        Box::pin(async move {
                            let (sock, buf, peer) = moved;
                            match connect::adopt(sock) {
                                Ok((rd, wr)) => {
                                    let c = Client { rd, wr, buf, peer };
                                    serve_client(reg, cfg2, auth2, c, Some(ready)).await;
                                }
                                Err(e) => tracing::warn!(
                                    %peer, "cannot adopt a moved proxy connection: {e}"
                                ),
                            }
                        })
                    });
                    if let Err(door) = registry.move_door(to, door) {
                        // That thread takes no doors: serve it here after all.
                        door().await;
                    }
                    return;
                }
                Err(e) => {
                    tracing::debug!(peer = %c.peer, "proxy connection stays on its thread: {e}");
                }
            }
        }
        let req = Request {
            registry: &registry,
            cfg: &cfg,
            auth: &settings,
            caller: &caller,
        };
        match Box::pin(dispatch(&req, &mut c, head)).await {
            After::KeepAlive => {}
            After::Close => return,
            After::Splice(stream) => {
                let Client { rd, wr, buf, peer } = c;
                return connect::spawn_splice(rd, wr, buf, stream, cfg.idle_timeout, peer);
            }
        }
    }
}

/// The thread to move the connection to for this request: the tenant's tunnel runs there
/// and none here. `None` (serve here) also when the location is invalid: the request's own
/// path reports that.
fn elsewhere(
    registry: &Registry,
    auth: &FrontAuth,
    caller: &Caller,
    head: &RequestHead,
) -> Option<std::thread::ThreadId> {
    let asked = location(head).ok()?;
    let location = auth.location(&caller.tenant, asked.as_deref()).ok()?;
    match registry.locate(&caller.tenant, &location) {
        Route::Thread(to) => Some(to),
        Route::Here | Route::Nowhere => None,
    }
}

/// Reads and authenticates the next request head; `None` when the connection is done (closed,
/// timed out, refused: the client got its answer).
async fn next_request(cfg: &RelayConfig, auth: &AuthCell, c: &mut Client) -> Option<Ready> {
    let head = loop {
        match http1::parse_request(&c.buf, &cfg.limits) {
            Ok(Some((head, used))) => {
                c.buf.advance(used);
                break head;
            }
            Ok(None) => {}
            Err(e) => {
                c.fail(e.status(), &format!("{e}\n")).await;
                return None;
            }
        }
        let idle = c.buf.is_empty();
        let more = async {
            if idle {
                // Between requests: wait for the next one without lending a read buffer, so
                // an idle keep-alive connection holds none (see `crate::io::readable`).
                c.buf = BytesMut::new();
                let _ = crate::io::readable(&c.rd).await;
            }
            c.fill().await
        };
        match compio::time::timeout(cfg.header_timeout, more).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return None,
            Err(_) if idle => return None,
            Err(_) => {
                c.fail(408, "request head not received in time\n").await;
                return None;
            }
        }
    };
    // One snapshot per request: a reload applies from the next request on.
    let auth = auth.current();
    match authenticate(&auth, &head) {
        Ok(caller) => Some((head, caller, auth)),
        Err(refusal) => {
            let reason = refusal.reason();
            auth.audit
                .auth_failure(Door::HttpProxy, None, Some(&c.peer), &reason);
            let _ = c.send(proxy_auth_required(&refusal)).await;
            None
        }
    }
}

/// Serves one request; says what the connection does next.
async fn dispatch(req: &Request<'_>, c: &mut Client, head: RequestHead) -> After {
    match head.target.clone() {
        Target::Absolute {
            scheme: Scheme::Https,
            ..
        } => {
            let text = "https:// targets are not proxied as plain requests: \
                            send CONNECT host:443 and speak TLS through the tunnel\n";
            c.fail(405, text).await;
            After::Close
        }
        Target::Absolute {
            scheme: Scheme::Http,
            authority,
            path_and_query,
        } => {
            // Each kind of request runs boxed: a connection's task is sized by its largest
            // state, and one waiting for its next keep-alive request should not carry the
            // request paths'. One allocation per request; DESIGN §7.2 (idle memory).
            Box::pin(proxy_http(req, c, head, authority, path_and_query)).await
        }
        Target::Authority(authority) => {
            match Box::pin(proxy_connect(req, c, &head, authority)).await {
                Some(stream) => After::Splice(stream),
                None => After::Close,
            }
        }
        Target::Origin(_) | Target::Asterisk => {
            c.fail(
                400,
                "a proxy request needs an absolute-form target (http://host/path) or CONNECT\n",
            )
            .await;
            After::Close
        }
    }
}

/// Why a request was not let in.
enum Refusal {
    /// No `Proxy-Authorization` and no trusted tenant.
    Missing,
    /// A header that is not one well-formed `Bearer` credential.
    Malformed(&'static str),
    /// A token that failed verification.
    Invalid(crate::auth::JwtError),
}

impl Refusal {
    fn reason(&self) -> String {
        match self {
            Refusal::Missing => {
                "Proxy-Authorization: Bearer <JWT> is required on this proxy".to_string()
            }
            Refusal::Malformed(why) => format!("Proxy-Authorization {why}"),
            Refusal::Invalid(e) => format!("invalid token: {e}"),
        }
    }
}

/// The caller of a request: the JWT's tenant, else the trusted tenant when no credential was
/// sent. A credential that is sent but invalid is refused even if a trusted tenant exists.
fn authenticate(auth: &FrontAuth, head: &RequestHead) -> Result<Caller, Refusal> {
    let mut creds = head
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"proxy-authorization"));
    let Some((_, value)) = creds.next() else {
        return match &auth.trusted_tenant {
            Some(t) => Ok(Caller {
                tenant: t.clone(),
                principal: "trusted".into(),
            }),
            None => Err(Refusal::Missing),
        };
    };
    if creds.next().is_some() {
        return Err(Refusal::Malformed("appears more than once"));
    }
    let token = bearer_token(value).ok_or(Refusal::Malformed(
        "is not `Bearer <token>` (only bearer tokens are accepted)",
    ))?;
    auth.verify_jwt(token).map_err(Refusal::Invalid)
}

/// The token of a `Bearer <token>` credential (scheme case-insensitive, RFC 9110 §11.1).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at(value.iter().position(|b| *b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty() && !token.contains(&b' ')).then_some(token)
}

/// 407 with a `Proxy-Authenticate` challenge and the reason; the connection closes.
fn proxy_auth_required(refusal: &Refusal) -> Bytes {
    let challenge = match refusal {
        Refusal::Missing => "Bearer realm=\"sallyport\"",
        _ => "Bearer realm=\"sallyport\", error=\"invalid_token\"",
    };
    let text = format!("{}\n", refusal.reason());
    Bytes::from(format!(
        "HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: {challenge}\r\n\
         content-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{text}",
        text.len()
    ))
}

/// The location the request asks for, validated like certificate names; `None` if absent.
fn location(head: &RequestHead) -> Result<Option<String>, String> {
    let Some(v) = LOCATION_HEADERS.iter().find_map(|n| head.header(n)) else {
        return Ok(None);
    };
    let v = std::str::from_utf8(v).map_err(|_| "location is not UTF-8".to_string())?;
    crate::tls::check_name("location", v).map_err(|e| e.to_string())?;
    Ok(Some(v.to_string()))
}

/// Opens the request's stream on a tunnel of the caller's tenant and the location it asks
/// for; answers the client (400, 503, 502) and returns `None` when there is none.
pub(super) async fn route(
    req: &Request<'_>,
    c: &mut Client,
    head: &RequestHead,
    h2: H2Request,
    end: bool,
) -> Option<TunnelStream> {
    let Request {
        registry,
        auth,
        caller,
        ..
    } = req;
    let asked = match location(head) {
        Ok(l) => l,
        Err(e) => {
            c.fail(400, &format!("invalid location: {e}\n")).await;
            return None;
        }
    };
    let location = match auth.location(&caller.tenant, asked.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            auth.audit
                .auth_failure(Door::HttpProxy, Some(&caller.tenant), Some(&c.peer), &e);
            // Same answer as a location without a connector: callers learn nothing more.
            c.fail(503, &format!("{e}\n")).await;
            return None;
        }
    };
    match registry.open(&caller.tenant, &location, h2, end).await {
        Ok(remote) => Some(remote),
        Err(e @ RouteError::NoConnector { .. }) => {
            c.fail(503, &format!("{e}\n")).await;
            None
        }
        Err(e) => {
            c.fail(502, &format!("{e}\n")).await;
            None
        }
    }
}

/// The request's fields for the tunnel: end-to-end headers without the proxy credential, the
/// routing headers and any caller field the client sent, then the relay's own caller field.
pub(super) fn h2_fields(head: &RequestHead, caller: &Caller) -> Vec<Field> {
    let mut fields: Vec<Field> = head
        .end_to_end_headers()
        .filter(|(n, _)| {
            !matches!(&n[..], b"host" | b"proxy-authorization")
                && !n.eq_ignore_ascii_case(CALLER_FIELD.as_bytes())
                && !LOCATION_HEADERS.iter().any(|l| n[..] == *l.as_bytes())
        })
        .map(|(n, v)| Field {
            name: n.clone(),
            value: v.clone(),
            sensitive: false,
        })
        .collect();
    fields.push(caller.field());
    fields
}

async fn proxy_http(
    req: &Request<'_>,
    c: &mut Client,
    head: RequestHead,
    authority: Bytes,
    path: Bytes,
) -> After {
    if websocket::is_upgrade(&head) {
        return match websocket::proxy(req, c, head, authority, path).await {
            Some(stream) => After::Splice(stream),
            None => After::Close,
        };
    }
    let end = matches!(head.body, BodyKind::Empty | BodyKind::Length(0));
    let h2 = H2Request {
        method: Bytes::copy_from_slice(head.method.as_bytes()),
        scheme: Some(Bytes::from_static(b"http")),
        authority: Some(authority),
        path: Some(path),
        protocol: None,
        fields: h2_fields(&head, req.caller),
    };
    let Some(TunnelStream {
        mut to_tunnel,
        mut events,
    }) = route(req, c, &head, h2, end).await
    else {
        return After::Close;
    };
    let mut body_complete = end;
    if !end {
        let limit = req.cfg.idle_timeout;
        let idle = IdleDeadline::new(limit);
        body_complete = match within(&idle, upload(c, &head, &mut to_tunnel, &idle)).await {
            Some(complete) => complete,
            None => {
                // The stream is reset (CANCEL) as `to_tunnel` drops, unfinished.
                c.fail(
                    408,
                    &format!("request body stalled: no byte for {limit:?}\n"),
                )
                .await;
                return After::Close;
            }
        };
    }
    let head_only = head.method == http1::Method::Head;
    let complete = download(c, req.cfg, &mut events, head_only).await;
    if complete && body_complete && head.keep_alive {
        After::KeepAlive
    } else {
        After::Close
    }
}

/// Opens a CONNECT stream and answers the client; the stream, once the client has its `200`,
/// for the caller to splice.
async fn proxy_connect(
    req: &Request<'_>,
    c: &mut Client,
    head: &RequestHead,
    authority: Bytes,
) -> Option<TunnelStream> {
    let h2 = H2Request {
        method: Bytes::from_static(b"CONNECT"),
        authority: Some(authority),
        fields: vec![req.caller.field()],
        ..Default::default()
    };
    let mut stream = route(req, c, head, h2, false).await?;
    let cfg = req.cfg;
    match connect::await_answer(&mut stream.events, cfg.response_timeout).await {
        ConnectAnswer::Open => {}
        ConnectAnswer::Refused { status, text } => {
            c.fail(status, &String::from_utf8_lossy(&text)).await;
            return None;
        }
        ConnectAnswer::Timeout => {
            c.fail(504, "the connector did not open the tunnel in time\n")
                .await;
            return None;
        }
        ConnectAnswer::Failed => {
            c.fail(502, "the connector refused the tunnel\n").await;
            return None;
        }
    }
    c.send(Bytes::from_static(
        b"HTTP/1.1 200 Connection Established\r\n\r\n",
    ))
    .await
    .then_some(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(extra: &str) -> RequestHead {
        let raw = format!("GET http://h.virtual/ HTTP/1.1\r\nhost: h.virtual\r\n{extra}\r\n");
        http1::parse_request(raw.as_bytes(), &Default::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(
            bearer_token(b"Bearer abc.def.ghi"),
            Some(&b"abc.def.ghi"[..])
        );
        assert_eq!(bearer_token(b"bearer   t"), Some(&b"t"[..]));
        for bad in [
            &b"Basic dXNlcjpw"[..],
            b"Bearer",
            b"Bearer ",
            b"Bearer a b",
            b"Bearerx t",
        ] {
            assert_eq!(bearer_token(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn credentials_through_the_tunnel() {
        let h = head(
            "proxy-authorization: Bearer t\r\nsap-connectivity-authentication: Bearer u\r\n\
             SAP-Connectivity-Technical-Authentication: Bearer x\r\n\
             sap-connectivity-scc-location_id: rome\r\nx-kept: 1\r\n\
             Sallyport-Caller: trusted\r\n",
        );
        let caller = Caller {
            tenant: "acme".into(),
            principal: "jwt:corp:alice".into(),
        };
        let fields = h2_fields(&h, &caller);
        let names: Vec<String> = fields
            .iter()
            .map(|f| String::from_utf8_lossy(&f.name).into_owned())
            .collect();
        // The principal headers travel to the connector (which strips them before the
        // backend); the proxy credential and the routing header stay here.
        assert_eq!(
            names,
            [
                "sap-connectivity-authentication",
                "sap-connectivity-technical-authentication",
                "x-kept",
                CALLER_FIELD,
            ]
        );
        // The client's own caller field is gone; the relay's says who authenticated.
        let callers: Vec<&[u8]> = fields
            .iter()
            .filter(|f| f.name == CALLER_FIELD.as_bytes())
            .map(|f| &f.value[..])
            .collect();
        assert_eq!(callers, [&b"jwt:corp:alice"[..]]);
        assert_eq!(location(&h), Ok(Some("rome".to_string())));
        assert_eq!(location(&head("")), Ok(None));
        assert!(location(&head("sallyport-location: Rome\r\n")).is_err());
    }
}
