//! `sallyport demo`: the whole product on loopback — a throwaway PKI, a relay, a connector
//! with two tunnels, an HTTP backend and a TCP echo backend — then a scripted session through
//! the relay's HTTP proxy and SOCKS5 front doors. The same stack serves the integration tests.
//!
//! The relay always knows a JWT identity provider (an ES256 key generated at start, see
//! [`Stack::token`]) and one SOCKS5 user ([`SOCKS_USER`]); whether callers without credentials
//! reach the demo tenant too is [`StackOptions::trusted`] (the tests' default, not the demo's).

pub mod backends;
pub mod client;
mod script;
pub mod socks;

pub use script::script;

use crate::auth::{password, Alg, IdentityProvider, Providers, Signer};
use crate::connector::{self, BackendTimeouts, ConnectorConfig};
use crate::io::runtime::IoMode;
use crate::policy::{parse_map_line, PathMatch, ResourceSpec, SubaccountPolicy, SystemSpec};
use crate::relay::{self, AuthAudit, Door, FrontAuth, Registry, RelayConfig, TenantAuth};
use crate::tls::Identity;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The demo tenant; its connector's location is [`relay::front::DEFAULT_LOCATION`].
pub const TENANT: &str = "demo";
/// The `iss` of the demo's identity provider.
pub const ISSUER: &str = "https://idp.demo.sallyport.invalid";
/// The audience the demo's tokens name.
pub const AUDIENCE: &str = "sallyport";
/// The demo tenant's SOCKS5 user (method 0x02).
pub const SOCKS_USER: &str = "demo-app";
/// [`SOCKS_USER`]'s password: a throwaway of the demo, printed by it.
pub const SOCKS_PASSWORD: &str = "demo-password";

/// Knobs of a demo stack.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// I/O backend for relay and connector.
    pub io: IoMode,
    /// Preferred proxy port (falls back to an ephemeral one when taken); 0 = ephemeral.
    pub proxy_port: u16,
    /// Preferred SOCKS5 door port (same fallback); 0 = ephemeral.
    pub socks_port: u16,
    /// Callers without credentials reach [`TENANT`] (HTTP: no `Proxy-Authorization`; SOCKS5:
    /// method 0x00). Tokens and the SOCKS5 user work either way.
    pub trusted: bool,
    /// The resources of `erp.virtual`; `None`: one `prefix "/"` (every path).
    pub erp_resources: Option<Vec<ResourceSpec>>,
    /// Tunnels the connector keeps.
    pub tunnels: usize,
    /// Relay threads; 0 = one per core.
    pub relay_threads: usize,
    /// Backend response timeout at the connector.
    pub backend_timeout: Duration,
    /// How long a spliced stream may stay quiet at the relay (its `idle_timeout_secs`).
    pub relay_idle_timeout: Duration,
    /// How long a spliced stream may stay quiet at the connector.
    pub connector_idle_timeout: Duration,
    /// More systems, `virtual:port=internal:port[/proto]`; TLS backends must present a
    /// certificate from the stack's own CA (`Stack::pki_dir`).
    pub extra_maps: Vec<String>,
    /// More systems, as a configuration file would give them (with explicit resources).
    pub extra_systems: Vec<SystemSpec>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            io: IoMode::Auto,
            proxy_port: 0,
            socks_port: 0,
            trusted: true,
            tunnels: 2,
            relay_threads: 0,
            backend_timeout: Duration::from_secs(30),
            relay_idle_timeout: Duration::from_secs(crate::config::DEFAULT_IDLE_TIMEOUT_SECS),
            connector_idle_timeout: Duration::from_secs(crate::config::DEFAULT_IDLE_TIMEOUT_SECS),
            erp_resources: None,
            extra_maps: Vec::new(),
            extra_systems: Vec::new(),
        }
    }
}

impl StackOptions {
    /// What `sallyport demo` runs: proxy port 20003, SOCKS5 port 20004, credentials required
    /// at both doors, and `erp.virtual` whitelisted to [`demo_resources`] only.
    pub fn demo(io: IoMode) -> StackOptions {
        StackOptions {
            io,
            proxy_port: 20003,
            socks_port: 20004,
            trusted: false,
            erp_resources: Some(demo_resources()),
            ..StackOptions::default()
        }
    }
}

/// The demo's whitelist for `erp.virtual`: `prefix /orders`, `exact /upload`,
/// `prefix /bytes`. Anything else (`/admin`) is refused with 403.
pub fn demo_resources() -> Vec<ResourceSpec> {
    let res = |path: &str, matching| ResourceSpec {
        path: path.into(),
        matching,
        enabled: true,
        websocket: false,
    };
    vec![
        res("/orders", PathMatch::Prefix),
        res("/upload", PathMatch::Exact),
        res("/bytes", PathMatch::Prefix),
    ]
}

/// A running demo stack. Threads run until the process exits.
pub struct Stack {
    /// The HTTP proxy front door.
    pub proxy: SocketAddr,
    /// The SOCKS5 front door.
    pub socks: SocketAddr,
    /// Whether callers without credentials reach [`TENANT`].
    pub trusted: bool,
    /// Signs the tokens of the relay's identity provider ([`Stack::token`]).
    pub signer: Arc<Signer>,
    /// Every authentication failure the relay reported (instead of log lines).
    pub audit: Arc<AuditLog>,
    /// The relay's tunnel listener.
    pub tunnel_addr: SocketAddr,
    /// The HTTP backend (virtual `erp.virtual:80`).
    pub http: backends::Backend,
    /// The TCP echo backend (virtual `ldap.virtual:389`).
    pub echo: backends::Backend,
    /// Live tunnels, for readiness checks.
    pub registry: Arc<Registry>,
    /// Where the throwaway PKI is.
    pub pki_dir: PathBuf,
}

/// Starts everything and waits until the connector's tunnels are up.
pub fn start(opts: &StackOptions) -> Result<Stack, String> {
    let http = backends::http_backend().map_err(|e| format!("HTTP backend: {e}"))?;
    let echo = backends::tcp_echo_backend().map_err(|e| format!("echo backend: {e}"))?;
    let pki_dir = std::env::temp_dir().join(format!(
        "sallyport-demo-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ (http.addr.port() as u128)
    ));
    let identity =
        Identity::new(TENANT, relay::front::DEFAULT_LOCATION).map_err(|e| e.to_string())?;
    let mut req = crate::pki::PkiRequest::new(&pki_dir);
    req.connectors.push(identity.clone());
    req.force = true;
    crate::pki::generate(&req).map_err(|e| format!("PKI: {e}"))?;
    let file = |name: &str| pki_dir.join(name);
    let stem = crate::pki::connector_file_stem(&identity);

    let tunnel_listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("tunnel listener: {e}"))?;
    let proxy_listener = TcpListener::bind(("127.0.0.1", opts.proxy_port))
        .or_else(|_| TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("proxy listener: {e}"))?;
    let socks_listener = TcpListener::bind(("127.0.0.1", opts.socks_port))
        .or_else(|_| TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("SOCKS5 listener: {e}"))?;
    let tunnel_addr = tunnel_listener.local_addr().map_err(|e| e.to_string())?;
    let proxy = proxy_listener.local_addr().map_err(|e| e.to_string())?;
    let socks = socks_listener.local_addr().map_err(|e| e.to_string())?;
    let audit = Arc::new(AuditLog::default());
    let (auth, signer) = front_auth(opts.trusted, audit.clone())?;
    let server_tls =
        crate::tls::relay_server_config(&file("ca.pem"), &file("relay.pem"), &file("relay.key"))
            .map_err(|e| format!("relay TLS: {e}"))?;
    let threads = match opts.relay_threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let (_relay_threads, registry) = relay::start(RelayConfig {
        tunnel_listener,
        proxy_listener: Some(proxy_listener),
        tls: server_tls,
        socks_listener: Some(socks_listener),
        auth,
        socks_handshake_timeout: Duration::from_secs(10),
        limits: Default::default(),
        header_timeout: Duration::from_secs(30),
        response_timeout: Duration::from_secs(60),
        idle_timeout: opts.relay_idle_timeout,
        handshake_timeout: Duration::from_secs(10),
        keepalive: Duration::from_secs(10),
        threads,
        io: opts.io,
    })
    .map_err(|e| format!("relay: {e}"))?;

    // `--map` systems allow all their paths (one `prefix "/"` resource each).
    let mut erp =
        parse_map_line(&format!("erp.virtual:80={}", http.addr)).map_err(|e| e.to_string())?;
    if let Some(resources) = &opts.erp_resources {
        erp.resources = resources.clone();
    }
    let mut systems = vec![erp];
    for line in [
        format!("ldap.virtual:389={}/tcp", echo.addr),
        // A mapped system whose backend is down (nothing listens on the discard port).
        "down.virtual:80=127.0.0.1:9".to_string(),
    ]
    .into_iter()
    .chain(opts.extra_maps.iter().cloned())
    {
        systems.push(parse_map_line(&line).map_err(|e| e.to_string())?);
    }
    systems.extend(opts.extra_systems.iter().cloned());
    let policy = SubaccountPolicy::compile(&systems).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        lines.join("; ")
    })?;
    let client_tls = crate::tls::connector_client_config(
        &file("ca.pem"),
        &file(&format!("{stem}.pem")),
        &file(&format!("{stem}.key")),
    )
    .map_err(|e| format!("connector TLS: {e}"))?;
    connector::start(ConnectorConfig {
        relay: tunnel_addr.to_string(),
        relay_name: rustls::pki_types::ServerName::try_from("localhost")
            .map_err(|e| e.to_string())?
            .to_owned(),
        tls: client_tls,
        tunnels: opts.tunnels,
        identity: identity.clone(),
        policy: Arc::new(policy),
        audit: crate::audit::AuditSink::disabled(),
        max_streams: crate::config::DEFAULT_STREAMS_PER_TUNNEL,
        keepalive: Duration::from_secs(10),
        timeouts: BackendTimeouts {
            connect: Duration::from_secs(5),
            response: opts.backend_timeout,
            idle: opts.connector_idle_timeout,
        },
        backend_tls: Some(
            crate::tls::backend_client_config(Some(&file("ca.pem")))
                .map_err(|e| format!("backend TLS: {e}"))?,
        ),
        io: opts.io,
        drain_on_signal: false,
        handshake_timeout: Duration::from_secs(10),
    })
    .map_err(|e| format!("connector: {e}"))?;

    let deadline = Instant::now() + Duration::from_secs(20);
    while registry.count(TENANT, relay::front::DEFAULT_LOCATION) < opts.tunnels {
        if Instant::now() > deadline {
            return Err("the connector's tunnels did not come up within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Stack {
        proxy,
        socks,
        trusted: opts.trusted,
        signer: Arc::new(signer),
        audit,
        tunnel_addr,
        http,
        echo,
        registry,
        pki_dir,
    })
}

impl Stack {
    /// A token of the demo's identity provider for [`TENANT`], valid for 10 minutes.
    pub fn token(&self) -> Result<String, String> {
        self.token_for(TENANT)
    }

    /// A token naming `tenant` (a tenant without connectors gets 503 / reply 0x03).
    pub fn token_for(&self, tenant: &str) -> Result<String, String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let claims = serde_json::json!({
            "iss": ISSUER, "aud": AUDIENCE, "zid": tenant, "sub": "demo-client",
            "iat": now, "exp": now + 600,
        });
        self.signer.issue(&claims).map_err(|e| e.to_string())
    }
}

/// The demo relay's [`AuthAudit`] sink: keeps one line per authentication failure, so the
/// script can show that a refusal was audited (and the demo's output stays free of log lines).
#[derive(Debug, Default)]
pub struct AuditLog {
    lines: Mutex<Vec<String>>,
}

impl AuditLog {
    /// The failures so far, oldest first: `door tenant caller: reason`.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl AuthAudit for AuditLog {
    fn auth_failure(&self, door: Door, tenant: Option<&str>, caller: Option<&str>, reason: &str) {
        if let Ok(mut l) = self.lines.lock() {
            l.push(format!(
                "{door} tenant={} caller={}: {reason}",
                tenant.unwrap_or("-"),
                caller.unwrap_or("-")
            ));
        }
    }
}

/// The relay's front-door settings: an identity provider with a fresh ES256 key, the SOCKS5
/// user, and the trusted tenant if asked for. Returns them and the provider's signer.
fn front_auth(trusted: bool, audit: Arc<AuditLog>) -> Result<(FrontAuth, Signer), String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("JWT signing key: {e}"))?;
    let signer = Signer::from_pkcs8_der(&key.serialize_der(), Some("demo-1".into()))
        .map_err(|e| format!("JWT signing key: {e}"))?;
    let hash = password::hash(SOCKS_PASSWORD.as_bytes())?;
    let tenant = TenantAuth {
        users: HashMap::from([(SOCKS_USER.to_string(), hash)]),
        ..TenantAuth::default()
    };
    let auth = FrontAuth {
        providers: Providers::new(vec![IdentityProvider {
            name: "demo-idp".into(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            algorithms: vec![Alg::ES256],
            keys: vec![signer.verify_key()],
            tenant_claim: "zid".into(),
            clock_skew: 60,
        }]),
        tenants: HashMap::from([(TENANT.to_string(), tenant)]),
        trusted_tenant: trusted.then(|| TENANT.to_string()),
        // Like a relay run from a file: only the configured tenant registers and is routed.
        configured_tenants_only: true,
        audit,
    };
    Ok((auth, signer))
}

/// `sallyport demo`.
pub fn run(once: bool, io: IoMode) -> bool {
    println!(
        "sallyport demo: relay + connector (2 tunnels, mTLS 1.3) + sample backends on loopback\n"
    );
    let stack = match start(&StackOptions::demo(io)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo could not start: {e}");
            return false;
        }
    };
    println!("  relay proxy front door  http://{}", stack.proxy);
    println!("  relay SOCKS5 door       socks5://{}", stack.socks);
    println!(
        "  relay tunnel listener   {} (the connector dialled out to it)",
        stack.tunnel_addr
    );
    println!(
        "  erp.virtual:80   -> {} (HTTP; whitelist: prefix /orders, exact /upload, prefix /bytes)",
        stack.http.addr
    );
    println!("  ldap.virtual:389 -> {} (TCP echo)", stack.echo.addr);
    println!(
        "  callers authenticate with a JWT (issuer {ISSUER}, audience {AUDIENCE}, ES256 key made\n  \
         at start) as Proxy-Authorization: Bearer or SOCKS5 method 0x80, or as SOCKS5 user\n  \
         {SOCKS_USER} / {SOCKS_PASSWORD} (method 0x02); no credential, no entry"
    );
    println!("  throwaway PKI in {}\n", stack.pki_dir.display());
    let ok = script(&stack);
    println!("\nTry it yourself (the token is valid for 10 minutes):");
    match stack.token() {
        Ok(t) => println!("  TOKEN={t}"),
        Err(e) => println!("  (no token: {e})"),
    }
    let (p, s) = (stack.proxy, stack.socks);
    println!(
        "  curl --proxy http://{p} --proxy-header \"Proxy-Authorization: Bearer $TOKEN\" \
         http://erp.virtual/orders?id=7"
    );
    println!(
        "  curl --proxy http://{p} --proxy-header \"Proxy-Authorization: Bearer $TOKEN\" \
         --data-binary @/etc/hostname http://erp.virtual/upload"
    );
    println!("  curl --proxy http://{p} http://erp.virtual/orders   # 407: no token");
    println!(
        "  echo hello | curl --max-time 2 --proxy socks5h://{SOCKS_USER}:{SOCKS_PASSWORD}@{s} \
         telnet://ldap.virtual:389   # SOCKS5 0x02: echoes, then curl's time limit ends it"
    );
    if once {
        let _ = std::fs::remove_dir_all(&stack.pki_dir);
        return ok;
    }
    println!("\nServing until Ctrl-C.");
    loop {
        std::thread::park();
    }
}
