//! The on-premise connector: dials *out* to the relay, serves HTTP/2 on that connection, and
//! forwards each stream the policy admits to the mapped internal system.
//!
//! One tunnel per thread (default 2, one per core): a tunnel's streams and their backend
//! sockets all live on the tunnel's thread, so no payload crosses threads. Each tunnel
//! reconnects on its own with jittered exponential backoff, and declares the relay dead after
//! three missed keep-alive PINGs.

mod forward;
mod pool;
pub mod record;
mod setup;
mod websocket;

pub use forward::BackendTimeouts;
pub use setup::{configs_from_file, reload_from_file, ReloadOutcome, SetupError};

use crate::audit::AuditSink;
use crate::io::runtime::{run_threads, IoError, IoMode, ThreadGroup};
use crate::policy::SubaccountPolicy;
use crate::proto::h2::{Config as H2Config, Keepalive, Role};
use crate::tls::Identity;
use crate::tunnel::{TlsTransport, Tunnel};
use forward::Context;
use futures_util::FutureExt;
use rustls::pki_types::ServerName;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Everything the connector needs to run.
#[derive(Clone)]
pub struct ConnectorConfig {
    /// The relay's tunnel endpoint, `host:port`.
    pub relay: String,
    /// The name the relay's certificate must carry.
    pub relay_name: ServerName<'static>,
    /// mTLS client configuration (our certificate carries tenant and location).
    pub tls: Arc<rustls::ClientConfig>,
    /// Tunnel connections (one thread each).
    pub tunnels: usize,
    /// The tenant and location this subaccount's certificate names (for audit records; the
    /// relay takes them from the certificate itself).
    pub identity: Identity,
    /// The systems this connector exposes and their path whitelists (deny by default).
    pub policy: Arc<SubaccountPolicy>,
    /// The subaccount's audit trail ([`AuditSink::disabled`] for none).
    pub audit: AuditSink,
    /// Streams the relay may open at once on one tunnel (HTTP/2 MAX_CONCURRENT_STREAMS): each
    /// is a backend connection, so this bounds what one tunnel can make the connector hold.
    pub max_streams: u32,
    /// Keep-alive PING interval; the relay is dead after 3 unanswered.
    pub keepalive: Duration,
    /// Backend timeouts.
    pub timeouts: BackendTimeouts,
    /// TLS towards `https`/`tcps` systems (from the trust store, see
    /// [`crate::tls::backend_client_config`]); required when any such system is mapped.
    pub backend_tls: Option<Arc<rustls::ClientConfig>>,
    /// I/O backend.
    pub io: IoMode,
    /// TLS handshake deadline.
    pub handshake_timeout: Duration,
    /// On SIGTERM or SIGINT: send GOAWAY on every tunnel, let open streams finish (within the
    /// codec's drain timeout), then stop instead of reconnecting. Off when the connector is
    /// embedded (demo, tests), where the signal belongs to the host process.
    pub drain_on_signal: bool,
}

/// The reloadable settings of one subaccount, shared by its tunnel threads. A stream reads
/// them once when it starts, so a reload never changes a decision already taken.
#[derive(Debug)]
pub struct Live {
    /// Tenant, for audit records.
    pub tenant: String,
    /// Location, for audit records.
    pub location: String,
    policy: RwLock<Arc<SubaccountPolicy>>,
    audit: RwLock<AuditSink>,
}

impl Live {
    /// Settings for one subaccount.
    pub fn new(identity: &Identity, policy: Arc<SubaccountPolicy>, audit: AuditSink) -> Self {
        Live {
            tenant: identity.tenant.clone(),
            location: identity.location.clone(),
            policy: RwLock::new(policy),
            audit: RwLock::new(audit),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<SubaccountPolicy> {
        // A poisoned lock only means a writer panicked between two whole values.
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The audit sink in force.
    pub fn audit(&self) -> AuditSink {
        self.audit.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Swaps in a new compiled policy (streams already running keep theirs).
    pub fn set_policy(&self, policy: Arc<SubaccountPolicy>) {
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = policy;
    }

    /// Swaps in another audit sink.
    pub fn set_audit(&self, audit: AuditSink) {
        *self.audit.write().unwrap_or_else(|p| p.into_inner()) = audit;
    }
}

/// A running connector: its threads and the live settings of each subaccount (in the order
/// the configurations were given), for reload.
#[derive(Debug)]
pub struct Running {
    /// The tunnel threads.
    pub group: ThreadGroup,
    /// One per subaccount.
    pub subaccounts: Vec<Arc<Live>>,
}

/// Starts the tunnels of one subaccount; they run until the process ends.
pub fn start(cfg: ConnectorConfig) -> Result<ThreadGroup, IoError> {
    start_all(vec![cfg]).map(|r| r.group)
}

/// Starts the tunnels of several subaccounts (one thread per tunnel, `tunnels` per
/// subaccount); the I/O backend of the first configuration is used for all.
pub fn start_all(cfgs: Vec<ConnectorConfig>) -> Result<Running, IoError> {
    let io = cfgs.first().map_or(IoMode::Auto, |c| c.io);
    let mut threads: Vec<(Arc<ConnectorConfig>, Arc<Live>, usize)> = Vec::new();
    let mut lives = Vec::new();
    for cfg in cfgs {
        let live = Arc::new(Live::new(
            &cfg.identity,
            cfg.policy.clone(),
            cfg.audit.clone(),
        ));
        let cfg = Arc::new(cfg);
        for t in 0..cfg.tunnels.max(1) {
            threads.push((cfg.clone(), live.clone(), t));
        }
        lives.push(live);
    }
    let threads = Arc::new(threads);
    let group = run_threads(io, threads.len(), "sp-connector", move |index, backend| {
        let slot = threads.get(index).cloned();
        async move {
            let Some((cfg, live, tunnel)) = slot else {
                return;
            };
            tracing::info!(tunnel, tenant = %live.tenant, location = %live.location, %backend,
                relay = %cfg.relay, "connector tunnel starting");
            tunnel_loop(cfg, live, index).await
        }
    })?;
    Ok(Running {
        group,
        subaccounts: lives,
    })
}

async fn tunnel_loop(cfg: Arc<ConnectorConfig>, live: Arc<Live>, index: usize) {
    let ctx = Rc::new(Context {
        live,
        pool: Default::default(),
        timeouts: cfg.timeouts,
        backend_tls: cfg.backend_tls.clone(),
    });
    let mut backoff = Backoff::new(index as u64);
    let drain = Rc::new(Drain::default());
    if cfg.drain_on_signal {
        for sig in [libc::SIGTERM, libc::SIGINT] {
            let drain = drain.clone();
            compio::runtime::spawn(async move {
                if compio::signal::unix::signal(sig).await.is_ok() {
                    drain.start(index);
                }
            })
            .detach();
        }
    }
    loop {
        if drain.requested.get() {
            return;
        }
        let started = Instant::now();
        match dial(&cfg).await {
            Ok(transport) => {
                tracing::info!(tunnel = index, relay = %cfg.relay, "tunnel connected");
                // A panic while serving is a bug, but it must cost one tunnel connection,
                // not this thread's tunnel for good: log it and dial again.
                let served = AssertUnwindSafe(serve(&cfg, &ctx, &drain, transport))
                    .catch_unwind()
                    .await;
                let why = match served {
                    Ok(why) => why.to_string(),
                    Err(panic) => format!("panicked (a bug): {}", panic_text(&*panic)),
                };
                if drain.requested.get() {
                    tracing::info!(tunnel = index, "tunnel drained: {why}");
                    return;
                }
                tracing::warn!(tunnel = index, "tunnel ended: {why}");
                if started.elapsed() > Duration::from_secs(10) {
                    backoff.reset();
                }
            }
            Err(e) => tracing::warn!(tunnel = index, relay = %cfg.relay, "cannot reach relay: {e}"),
        }
        let wait = backoff.next_delay();
        tracing::info!(tunnel = index, "reconnecting in {wait:?}");
        compio::time::sleep(wait).await;
    }
}

/// The message of a caught panic, when it is text.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "no message"
    }
}

async fn dial(cfg: &ConnectorConfig) -> Result<TlsTransport, String> {
    let tcp = compio::time::timeout(
        cfg.handshake_timeout,
        compio::net::TcpStream::connect(cfg.relay.as_str()),
    )
    .await
    .map_err(|_| format!("TCP connect timed out after {:?}", cfg.handshake_timeout))?
    .map_err(|e| format!("TCP connect: {e}"))?;
    let (r, w) = crate::io::tls::connect(
        tcp,
        cfg.tls.clone(),
        cfg.relay_name.clone(),
        cfg.handshake_timeout,
    )
    .await
    .map_err(|e| format!("TLS: {e}"))?;
    Ok(TlsTransport(r, w))
}

/// Serves one tunnel connection until it ends.
async fn serve(
    cfg: &ConnectorConfig,
    ctx: &Rc<Context>,
    drain: &Drain,
    transport: TlsTransport,
) -> crate::tunnel::TunnelError {
    let h2 = H2Config {
        keepalive: Some(Keepalive {
            interval: cfg.keepalive,
            max_missed: 3,
        }),
        max_concurrent_streams: cfg.max_streams.max(1),
        // WebSocket streams arrive as extended CONNECT (RFC 8441); the policy decides which.
        enable_connect_protocol: true,
        ..H2Config::default()
    };
    let tunnel = Tunnel::new(Role::Server, h2);
    *drain.current.borrow_mut() = Some(tunnel.clone());
    if drain.requested.get() {
        tunnel.go_away();
    }
    let acceptor = {
        let tunnel = tunnel.clone();
        let ctx = ctx.clone();
        compio::runtime::spawn(async move {
            while let Some((stream, head, end)) = tunnel.accept().await {
                compio::runtime::spawn(forward::serve(ctx.clone(), stream, head, end)).detach();
            }
        })
    };
    let why = tunnel.run(transport).await;
    drain.current.borrow_mut().take();
    drop(acceptor);
    why
}

/// A drain request from a signal, and the tunnel it must reach on this thread.
#[derive(Default)]
struct Drain {
    requested: std::cell::Cell<bool>,
    current: std::cell::RefCell<Option<Tunnel>>,
}

impl Drain {
    fn start(&self, index: usize) {
        tracing::info!(
            tunnel = index,
            "signal received: draining (GOAWAY, open streams finish)"
        );
        self.requested.set(true);
        if let Some(t) = self.current.borrow().as_ref() {
            t.go_away();
        }
    }
}

/// Exponential backoff with full jitter: a fleet of connectors restarting together does not
/// hit the relay in lock step.
struct Backoff {
    attempt: u32,
    rng: u64,
}

impl Backoff {
    const BASE: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(30);

    fn new(seed: u64) -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Backoff {
            attempt: 0,
            rng: (t ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1,
        }
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_delay(&mut self) -> Duration {
        let cap = Self::BASE
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(Self::MAX);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64*: jitter only, not security.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let frac = (r >> 11) as f64 / (1u64 << 53) as f64;
        cap.mul_f64(0.5 + frac / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut b = Backoff::new(7);
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let later: Vec<Duration> = (0..20).map(|_| b.next_delay()).collect();
        assert!(later.iter().all(|d| *d <= Duration::from_secs(30)));
        assert!(later.last().unwrap() >= &Duration::from_secs(15));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
