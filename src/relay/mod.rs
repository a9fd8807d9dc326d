//! The cloud relay: accepts connectors' outbound tunnels (mTLS, identity from the client
//! certificate only) and serves the front doors that send requests into them.
//!
//! Every thread (one per core) accepts on the listening sockets. Each tunnel is placed on the
//! thread that runs the fewest (`tunnels`), before its TLS handshake. A front-door connection
//! uses a tunnel of its own thread when one serves its tenant and location, driving the stream
//! directly. Otherwise the connection moves to the tunnel's thread ([`Registry::move_door`])
//! before the stream opens; what cannot move has its stream bridged from there
//! ([`stream::TunnelStream`] hides which). A reload that stops admitting a tenant or location
//! closes its tunnels ([`Registry::evict`]).

pub mod auth;
pub mod connect;
mod exchange;
pub mod from_config;
pub mod front;
pub mod live;
pub mod registry;
pub mod socks;
pub mod stream;
mod tunnels;
mod websocket;

pub use auth::{
    AuthAudit, Caller, Door, FrontAuth, FrontAuthError, LogAudit, TenantAuth, CALLER_FIELD,
};
pub use live::AuthCell;
pub use registry::{Registry, RouteError};

use crate::io::runtime::{run_threads, IoError, IoMode, ThreadGroup};
use crate::proto::http1::Limits;
use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::Duration;

/// Everything the relay needs to run.
pub struct RelayConfig {
    /// The tunnel listener (connectors dial it).
    pub tunnel_listener: StdListener,
    /// The HTTP proxy front door, if served.
    pub proxy_listener: Option<StdListener>,
    /// mTLS server configuration (client certificates required).
    pub tls: Arc<rustls::ServerConfig>,
    /// The SOCKS5 front door, if served.
    pub socks_listener: Option<StdListener>,
    /// Who may use the front doors, and which tenant and location they reach: the settings
    /// at start. [`start_live`] puts them into an [`AuthCell`], which later reloads replace.
    pub auth: FrontAuth,
    /// Deadline of each SOCKS5 handshake phase (greeting, authentication, request).
    pub socks_handshake_timeout: Duration,
    /// Front-door head limits (request line, header block).
    pub limits: Limits,
    /// How long a client may take to send a request head.
    pub header_timeout: Duration,
    /// How long the relay waits for the response head through the tunnel.
    pub response_timeout: Duration,
    /// How long a spliced stream (CONNECT, SOCKS5, WebSocket) may move no byte either way
    /// before the relay closes the client socket and resets the stream.
    pub idle_timeout: Duration,
    /// TLS handshake deadline for connectors.
    pub handshake_timeout: Duration,
    /// Keep-alive PING interval towards connectors.
    pub keepalive: Duration,
    /// Threads (default: one per core).
    pub threads: usize,
    /// I/O backend.
    pub io: IoMode,
}

/// Why the relay could not start.
#[derive(Debug)]
pub enum StartError {
    /// The I/O runtime (io_uring or epoll) could not be built.
    Io(IoError),
    /// A listening socket could not be shared with the worker threads.
    Listener(std::io::Error),
    /// The front-door authentication settings are refused.
    Auth(FrontAuthError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Io(e) => write!(f, "{e}"),
            StartError::Listener(e) => write!(f, "cannot share the listening socket: {e}"),
            StartError::Auth(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A running relay.
pub struct Running {
    /// The relay's threads.
    pub group: ThreadGroup,
    /// The live tunnels.
    pub registry: Arc<Registry>,
    /// The front-door settings in force; [`AuthCell::replace`] swaps them for new requests,
    /// handshakes and tunnel registrations.
    pub auth: AuthCell,
}

/// Starts the relay on `cfg.threads` threads; returns the thread group and the registry (for
/// tests and status).
pub fn start(cfg: RelayConfig) -> Result<(ThreadGroup, Arc<Registry>), StartError> {
    start_live(cfg).map(|r| (r.group, r.registry))
}

/// Starts the relay like [`start`], and also returns the cell holding the front-door
/// settings, for reloads.
pub fn start_live(mut cfg: RelayConfig) -> Result<Running, StartError> {
    cfg.auth.check().map_err(StartError::Auth)?;
    let auth = AuthCell::new(std::mem::replace(&mut cfg.auth, FrontAuth::empty()));
    let registry = Arc::new(Registry::default());
    let threads = cfg.threads.max(1);
    let clone = |l: &StdListener| l.try_clone().map_err(StartError::Listener);
    let mut listeners = Vec::with_capacity(threads);
    for _ in 0..threads {
        let t = clone(&cfg.tunnel_listener)?;
        let p = cfg.proxy_listener.as_ref().map(clone).transpose()?;
        let s = cfg.socks_listener.as_ref().map(clone).transpose()?;
        listeners.push((t, p, s));
    }
    // Thread `index` takes slot `index`: its listeners and its end of the tunnel hand-off.
    let (placement, handoffs) = tunnels::Placement::new(threads);
    let listeners: Vec<_> = listeners.into_iter().zip(handoffs).map(Some).collect();
    let listeners = std::sync::Mutex::new(listeners);
    let cfg = Arc::new(cfg);
    let reg = registry.clone();
    let cell = auth.clone();
    let group = run_threads(cfg.io, threads, "sp-relay", move |index, backend| {
        let cfg = cfg.clone();
        let reg = reg.clone();
        let cell = cell.clone();
        let placement = placement.clone();
        let mine = listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(index)
            .and_then(Option::take);
        async move {
            let Some(((tunnels, proxy, socks), handoff)) = mine else {
                return;
            };
            tracing::info!(thread = index, %backend, "relay thread serving");
            let tunnels = compio::net::TcpListener::from_std(tunnels);
            let proxy = proxy.map(compio::net::TcpListener::from_std).transpose();
            let socks = socks.map(compio::net::TcpListener::from_std).transpose();
            let (Ok(tunnels), Ok(proxy), Ok(socks)) = (tunnels, proxy, socks) else {
                tracing::error!(thread = index, "cannot register the listening sockets");
                return;
            };
            let serve = tunnels::Serve {
                registry: reg.clone(),
                cfg: cfg.clone(),
                auth: cell.clone(),
            };
            let accept_tunnels = placement.accept(index, tunnels, handoff, serve);
            let accept_proxy = accept_door(proxy, "front door", |sock, peer| {
                front::serve(reg.clone(), cfg.clone(), cell.clone(), sock, peer)
            });
            let accept_socks = accept_door(socks, "SOCKS5 door", |sock, peer| {
                socks::serve(reg.clone(), cfg.clone(), cell.clone(), sock, peer)
            });
            // Door connections other threads moved here, to a tunnel of this thread.
            let mut inbox = reg.door_inbox();
            let moved_doors = async move {
                use futures_util::StreamExt;
                while let Some(door) = inbox.next().await {
                    compio::runtime::spawn(door()).detach();
                }
            };
            futures_util::join!(accept_tunnels, accept_proxy, accept_socks, moved_doors);
        }
    })
    .map_err(StartError::Io)?;
    Ok(Running {
        group,
        registry,
        auth,
    })
}

/// Accepts on a front door (if configured) and serves each caller on its own task.
async fn accept_door<F, Fut>(listener: Option<compio::net::TcpListener>, what: &str, serve: F)
where
    F: Fn(compio::net::TcpStream, std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let Some(listener) = listener else { return };
    loop {
        match listener.accept().await {
            Ok((sock, peer)) => compio::runtime::spawn(serve(sock, peer)).detach(),
            Err(e) => tracing::warn!("{what} accept: {e}"),
        }
    }
}
