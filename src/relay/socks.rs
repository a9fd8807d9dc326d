//! The SOCKS5 front door (RFC 1928, SAP's dialect): method selection, authentication (SAP's
//! 0x80 JWT + location, RFC 1929 username/password, or none for the trusted tenant), then a
//! CONNECT to a virtual `host:port` of the caller's tenant carried as a CONNECT stream
//! through the tunnel, bytes both ways with half-close.
//!
//! Every handshake phase (greeting, authentication, request) has its own deadline
//! ([`RelayConfig::socks_handshake_timeout`]): a stalled client is dropped, not kept.
//!
//! Method choice: 0x80 when offered and identity providers exist; else 0x02 when offered and
//! users exist; else 0x00 when offered and a trusted tenant is configured; else 0xFF and close.
//!
//! Reply codes (SAP's meanings): 0x02 no mapping (connector 403; another tenant's host
//! answers the same), 0x03 no connector for tenant and location, 0x04 backend unreachable
//! (connector 502/504, or no answer in time), 0x05 authentication failure, 0x07 command not
//! supported, 0x08 address type not supported, 0x01 anything else. A failed authentication is
//! answered with the sub-negotiation status `01 01` followed by a 0x05 reply (for clients
//! that pipeline the request behind their credentials), then the connection closes.

use super::auth::{verify_user, Caller, Door, FrontAuth};
use super::connect::{self, ConnectAnswer};
use super::live::AuthCell;
use super::registry::{MovedDoor, Registry, Route, RouteError};
use super::RelayConfig;
use crate::proto::h2::RequestHead as H2Request;
use crate::proto::socks5::{self, method, Address, Command, Reply, SocksError};
use bytes::{Buf, Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const READ_CHUNK: usize = 16 << 10;
/// After a refusal, how long and how much the client may still send before the close.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 << 10;

struct Conn {
    rd: TcpStream,
    wr: TcpStream,
    buf: BytesMut,
    peer: String,
}

/// Why a handshake phase produced no message.
enum Stop {
    /// The client closed, or the socket failed.
    Closed,
    /// The phase's deadline passed.
    Timeout,
    /// The bytes are not a valid message.
    Bad(SocksError),
}

/// A [`Conn`] taken off its thread's runtime (see [`Conn::detach`]).
struct MovedConn {
    sock: std::net::TcpStream,
    buf: BytesMut,
    peer: String,
}

impl MovedConn {
    /// The connection again, on the calling thread's runtime (`None` if it cannot register
    /// the socket; the client then sees the connection close).
    fn adopt(self) -> Option<Conn> {
        match connect::adopt(self.sock) {
            Ok((rd, wr)) => Some(Conn {
                rd,
                wr,
                buf: self.buf,
                peer: self.peer,
            }),
            Err(e) => {
                tracing::warn!(peer = %self.peer, "cannot adopt a moved SOCKS5 connection: {e}");
                None
            }
        }
    }
}

impl Conn {
    /// Takes the connection off this thread's runtime so that another thread can adopt it
    /// (no operation is in flight between handshake phases). Gives it back unchanged if the
    /// socket cannot be duplicated (e.g. out of descriptors).
    fn detach(self) -> Result<MovedConn, Conn> {
        match crate::io::duplicate_tcp(&self.rd) {
            Ok(sock) => Ok(MovedConn {
                sock,
                buf: self.buf,
                peer: self.peer,
            }),
            Err(e) => {
                tracing::debug!(peer = %self.peer, "SOCKS5 connection stays on its thread: {e}");
                Err(self)
            }
        }
    }

    /// Reads until `parse` yields a message, within `limit` for this phase.
    async fn read_msg<T>(
        &mut self,
        limit: Duration,
        parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, SocksError>,
    ) -> Result<T, Stop> {
        let deadline = Instant::now() + limit;
        loop {
            match parse(&self.buf) {
                Ok(Some((msg, used))) => {
                    self.buf.advance(used);
                    return Ok(msg);
                }
                Ok(None) => {}
                Err(e) => return Err(Stop::Bad(e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            self.buf.reserve(READ_CHUNK);
            let buf = std::mem::take(&mut self.buf);
            let read = compio::time::timeout(left, self.rd.append(buf)).await;
            match read {
                Ok(BufResult(r, b)) => {
                    self.buf = b;
                    if !matches!(r, Ok(n) if n > 0) {
                        return Err(Stop::Closed);
                    }
                }
                // The buffer went with the cancelled read; nothing more is read anyway.
                Err(_) => return Err(Stop::Timeout),
            }
        }
    }

    async fn send(&mut self, bytes: BytesMut) -> bool {
        let BufResult(r, _) = self.wr.write_all(bytes.freeze()).await;
        r.is_ok()
    }

    async fn reply(&mut self, reply: Reply) -> bool {
        let mut out = BytesMut::with_capacity(16);
        // The unspecified address always fits, so this cannot fail.
        let _ = socks5::write_reply(reply, &Address::UNSPECIFIED, 0, &mut out);
        self.send(out).await
    }

    /// A failure reply, then the gentle close.
    async fn refuse(&mut self, reply: Reply) {
        if self.reply(reply).await {
            self.linger().await;
        }
    }

    /// Authentication failed: audit, status failure, reply 0x05, close.
    async fn refuse_auth(&mut self, auth: &FrontAuth, tenant: Option<&str>, reason: &str) {
        auth.audit
            .auth_failure(Door::Socks5, tenant, Some(&self.peer), reason);
        let mut out = BytesMut::with_capacity(16);
        socks5::write_auth_status(false, &mut out);
        let _ = socks5::write_reply(
            Reply::AuthenticationFailed,
            &Address::UNSPECIFIED,
            0,
            &mut out,
        );
        if self.send(out).await {
            self.linger().await;
        }
    }

    /// Closes gently after a refusal: stop sending, then read and drop what the client still
    /// sends (bounded in bytes and time), so closing with unread data does not reset the
    /// connection before the client has read the answer.
    async fn linger(&mut self) {
        let _ = crate::io::shutdown_write(&self.wr);
        let deadline = Instant::now() + LINGER;
        let mut drained = 0;
        while drained < LINGER_BYTES {
            let left = deadline.saturating_duration_since(Instant::now());
            self.buf.clear();
            self.buf.reserve(READ_CHUNK);
            let buf = std::mem::take(&mut self.buf);
            match compio::time::timeout(left, self.rd.append(buf)).await {
                Ok(BufResult(Ok(n), b)) if n > 0 => {
                    drained += n;
                    self.buf = b;
                }
                _ => return,
            }
        }
    }
}

/// Serves one SOCKS5 client connection.
pub async fn serve(
    registry: Arc<Registry>,
    cfg: Arc<RelayConfig>,
    auth: AuthCell,
    sock: TcpStream,
    peer: SocketAddr,
) {
    let _ = sock.set_nodelay(true);
    let (rd, wr) = sock.into_split();
    let mut c = Conn {
        rd,
        wr,
        buf: BytesMut::with_capacity(READ_CHUNK),
        peer: peer.to_string(),
    };
    let limit = cfg.socks_handshake_timeout;
    // One snapshot per connection: a reload applies from the next handshake on.
    let auth = auth.current();
    let Some((caller, asked_location)) = handshake(&auth, &mut c, limit).await else {
        return;
    };
    let request = match c.read_msg(limit, socks5::parse_request).await {
        Ok(r) => r,
        Err(Stop::Bad(e)) => {
            tracing::debug!(peer = %c.peer, "SOCKS5 request refused: {e}");
            c.refuse(e.reply()).await;
            return;
        }
        Err(Stop::Timeout | Stop::Closed) => return,
    };
    if request.command != Command::Connect {
        c.refuse(Reply::CommandNotSupported).await;
        return;
    }
    let location = match auth.location(&caller.tenant, asked_location.as_deref()) {
        Ok(l) => l,
        Err(why) => {
            auth.audit
                .auth_failure(Door::Socks5, Some(&caller.tenant), Some(&c.peer), &why);
            c.refuse(Reply::NoConnector).await;
            return;
        }
    };
    let authority = request.address.authority(request.port);
    let h2 = H2Request {
        method: Bytes::from_static(b"CONNECT"),
        authority: Some(Bytes::from(authority)),
        fields: vec![caller.field()],
        ..Default::default()
    };
    let tenant = caller.tenant;
    // The tunnel runs on another thread and none here: move the connection there, so that
    // the stream and every byte after it stay on one thread (no bridge).
    if let Route::Thread(to) = registry.locate(&tenant, &location) {
        match c.detach() {
            Ok(moved) => {
                let reg = registry.clone();
                let door: MovedDoor = Box::new(move || {
                    Box::pin(async move {
                        if let Some(c) = moved.adopt() {
                            open_and_splice(reg, cfg, c, tenant, location, h2).await;
                        }
                    })
                });
                // A thread that takes no doors gives it back: serve it here after all.
                if let Err(door) = registry.move_door(to, door) {
                    door().await;
                }
                return;
            }
            Err(back) => c = back,
        }
    }
    open_and_splice(registry, cfg, c, tenant, location, h2).await;
}

/// Opens the CONNECT stream (on a tunnel of this thread when there is one), answers the
/// client with the SAP reply code for the connector's answer, then moves bytes both ways.
async fn open_and_splice(
    registry: Arc<Registry>,
    cfg: Arc<RelayConfig>,
    mut c: Conn,
    tenant: String,
    location: String,
    h2: H2Request,
) {
    let mut stream = match registry.open(&tenant, &location, h2, false).await {
        Ok(s) => s,
        Err(RouteError::NoConnector { .. }) => {
            c.refuse(Reply::NoConnector).await;
            return;
        }
        Err(RouteError::Refused(why)) => {
            tracing::debug!(peer = %c.peer, "SOCKS5 stream refused by the tunnel: {why}");
            c.refuse(Reply::GeneralFailure).await;
            return;
        }
    };
    let reply = reply_for(connect::await_answer(&mut stream.events, cfg.response_timeout).await);
    if reply != Reply::Succeeded {
        return c.refuse(reply).await;
    }
    if !c.reply(reply).await {
        return;
    }
    let Conn { rd, wr, buf, peer } = c;
    connect::spawn_splice(rd, wr, buf, stream, cfg.idle_timeout, peer);
}

/// The SAP reply code for the connector's answer to the CONNECT stream.
pub fn reply_for(answer: ConnectAnswer) -> Reply {
    match answer {
        ConnectAnswer::Open => Reply::Succeeded,
        ConnectAnswer::Refused { status: 403, .. } => Reply::NoMapping,
        ConnectAnswer::Refused {
            status: 502 | 504, ..
        }
        | ConnectAnswer::Timeout => Reply::BackendUnreachable,
        ConnectAnswer::Refused {
            status: 401 | 407, ..
        } => Reply::AuthenticationFailed,
        ConnectAnswer::Refused { .. } | ConnectAnswer::Failed => Reply::GeneralFailure,
    }
}

/// Greeting, method choice and authentication. Returns the caller and the location it asked
/// for, or `None` after answering (or dropping) the client.
async fn handshake(
    auth: &FrontAuth,
    c: &mut Conn,
    limit: Duration,
) -> Option<(Caller, Option<String>)> {
    let greeting = match c.read_msg(limit, socks5::parse_greeting).await {
        Ok(g) => g,
        Err(Stop::Bad(e)) => {
            tracing::debug!(peer = %c.peer, "SOCKS5 greeting refused: {e}");
            return None;
        }
        Err(Stop::Timeout | Stop::Closed) => return None,
    };
    let chosen = if greeting.offers(method::SAP_JWT) && !auth.providers.is_empty() {
        method::SAP_JWT
    } else if greeting.offers(method::USERPASS) && auth.has_users() {
        method::USERPASS
    } else if greeting.offers(method::NO_AUTH) && auth.trusted_tenant.is_some() {
        method::NO_AUTH
    } else {
        method::NONE_ACCEPTABLE
    };
    let mut out = BytesMut::with_capacity(2);
    socks5::write_method_choice(chosen, &mut out);
    if !c.send(out).await {
        return None;
    }
    let (caller, location) = match chosen {
        method::SAP_JWT => {
            let max = u32::try_from(auth.providers.max_token_len).unwrap_or(u32::MAX);
            let msg = match c.read_msg(limit, |b| socks5::parse_sap_auth(b, max)).await {
                Ok(m) => m,
                Err(Stop::Bad(e)) => {
                    c.refuse_auth(auth, None, &e.to_string()).await;
                    return None;
                }
                Err(Stop::Timeout | Stop::Closed) => return None,
            };
            match auth.verify_jwt(&msg.jwt) {
                Ok(caller) => (caller, msg.location),
                Err(e) => {
                    c.refuse_auth(auth, None, &format!("invalid token: {e}"))
                        .await;
                    return None;
                }
            }
        }
        method::USERPASS => {
            let msg = match c.read_msg(limit, socks5::parse_userpass).await {
                Ok(m) => m,
                Err(Stop::Bad(e)) => {
                    c.refuse_auth(auth, None, &e.to_string()).await;
                    return None;
                }
                Err(Stop::Timeout | Stop::Closed) => return None,
            };
            let user = String::from_utf8_lossy(&msg.username).into_owned();
            // The queue for password checks is bounded by this phase's deadline too.
            let checked = compio::time::timeout(limit, verify_user(auth, &user, msg.password));
            match checked.await.ok().flatten() {
                Some(tenant) => (
                    Caller {
                        tenant,
                        principal: format!("user:{user}"),
                    },
                    None,
                ),
                None => {
                    let tenant = auth.user(&user).map(|(t, _)| t);
                    let reason = format!(
                        "user {user:?}: unknown user, wrong password, or no verdict in time"
                    );
                    c.refuse_auth(auth, tenant, &reason).await;
                    return None;
                }
            }
        }
        method::NO_AUTH => {
            let tenant = auth.trusted_tenant.clone()?;
            return Some((
                Caller {
                    tenant,
                    principal: "trusted".into(),
                },
                None,
            ));
        }
        _ => {
            let offered = format!("no acceptable method offered ({:02x?})", greeting.methods);
            auth.audit
                .auth_failure(Door::Socks5, None, Some(&c.peer), &offered);
            c.linger().await;
            return None;
        }
    };
    let mut out = BytesMut::with_capacity(2);
    socks5::write_auth_status(true, &mut out);
    c.send(out).await.then_some((caller, location))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_answers_map_to_sap_codes() {
        let refused = |status| ConnectAnswer::Refused {
            status,
            text: Vec::new(),
        };
        assert_eq!(reply_for(ConnectAnswer::Open), Reply::Succeeded);
        assert_eq!(reply_for(refused(403)), Reply::NoMapping);
        assert_eq!(reply_for(refused(502)), Reply::BackendUnreachable);
        assert_eq!(reply_for(refused(504)), Reply::BackendUnreachable);
        assert_eq!(reply_for(ConnectAnswer::Timeout), Reply::BackendUnreachable);
        assert_eq!(reply_for(refused(407)), Reply::AuthenticationFailed);
        assert_eq!(reply_for(refused(405)), Reply::GeneralFailure);
        assert_eq!(reply_for(ConnectAnswer::Failed), Reply::GeneralFailure);
    }
}
