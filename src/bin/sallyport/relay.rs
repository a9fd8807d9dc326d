//! `sallyport relay`: the cloud relay.

use sallyport::auth::jwt::DEFAULT_CLOCK_SKEW_SECS;
use sallyport::auth::{Alg, IdentityProvider, Providers, VerifyKey};
use sallyport::io::runtime::IoMode;
use sallyport::relay::from_config::{relay_config_from_file, Reloader};
use sallyport::relay::{FrontAuth, RelayConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `sallyport relay`: either `--config FILE`, or the quick path with every
/// setting as a flag.
#[derive(clap::Args)]
pub struct Args {
    /// Run from this relay configuration file (see docs/config.md). Reloaded on SIGHUP and
    /// when its content changes. Conflicts with the quick-path flags.
    #[arg(long, conflicts_with_all = [
        "ca", "cert", "key", "tunnel_listen", "proxy_listen", "socks_listen", "trusted_tenant",
        "keepalive_secs", "jwt_issuer", "jwt_audience", "jwt_keys", "tenant_claim",
        "socks_users", "io",
    ])]
    config: Option<PathBuf>,
    /// CA that signs connector certificates.
    #[arg(long, required_unless_present = "config")]
    ca: Option<PathBuf>,
    /// The relay's certificate chain (PEM).
    #[arg(long, required_unless_present = "config")]
    cert: Option<PathBuf>,
    /// The relay's private key (PEM).
    #[arg(long, required_unless_present = "config")]
    key: Option<PathBuf>,
    /// Where connectors dial in.
    #[arg(long, default_value = "0.0.0.0:8443")]
    tunnel_listen: String,
    /// The HTTP proxy front door.
    #[arg(long, default_value = "127.0.0.1:20003")]
    proxy_listen: String,
    /// The SOCKS5 front door (`off` to serve none).
    #[arg(long, default_value = "127.0.0.1:20004")]
    socks_listen: String,
    /// Serve this tenant without caller credentials (both doors). The relay never runs an
    /// open door implicitly: without this, JWT providers or SOCKS5 users are required.
    #[arg(long)]
    trusted_tenant: Option<String>,
    /// Keep-alive PING interval towards the connectors, in seconds; a tunnel is declared dead
    /// after three missed PINGs.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    keepalive_secs: u64,
    /// Accept JWTs from this issuer (`iss`); needs --jwt-audience and --jwt-key.
    #[arg(long, requires_all = ["jwt_audience", "jwt_keys"])]
    jwt_issuer: Option<String>,
    /// The audience (`aud`) tokens must name.
    #[arg(long, requires = "jwt_issuer")]
    jwt_audience: Option<String>,
    /// A verification key: `[KID=]FILE`, FILE a PEM public key or certificate, or a JWKS
    /// file (kids from the file). Repeatable.
    #[arg(long = "jwt-key", requires = "jwt_issuer")]
    jwt_keys: Vec<String>,
    /// The claim naming the tenant.
    #[arg(long, default_value = "zid", requires = "jwt_issuer")]
    tenant_claim: String,
    /// A SOCKS5 user `TENANT:USER:PHC` (PHC from `sallyport password hash`). Repeatable.
    #[arg(long = "socks-user")]
    socks_users: Vec<String>,
    /// I/O backend.
    #[arg(long, value_enum, default_value = "auto")]
    io: IoMode,
}

pub fn run(a: Args) -> Result<(), String> {
    if let Some(path) = &a.config {
        return run_from_file(path);
    }
    let auth = front_auth(&a)?;
    let (Some(ca), Some(cert), Some(key)) = (&a.ca, &a.cert, &a.key) else {
        return Err("--ca, --cert and --key are required without --config".into());
    };
    let tls = sallyport::tls::relay_server_config(ca, cert, key).map_err(|e| e.to_string())?;
    let bind = |addr: &str, what: &str| {
        std::net::TcpListener::bind(addr).map_err(|e| format!("{what} {addr}: {e}"))
    };
    if let Some(t) = &auth.trusted_tenant {
        tracing::warn!(tenant = %t, "front doors serve this tenant without caller credentials (--trusted-tenant)");
    }
    let socks_listener = match a.socks_listen.as_str() {
        "off" => None,
        addr => Some(bind(addr, "SOCKS5 listener")?),
    };
    let (group, _) = sallyport::relay::start(RelayConfig {
        tunnel_listener: bind(&a.tunnel_listen, "tunnel listener")?,
        proxy_listener: Some(bind(&a.proxy_listen, "proxy listener")?),
        socks_listener,
        tls,
        auth,
        socks_handshake_timeout: Duration::from_secs(10),
        limits: Default::default(),
        header_timeout: Duration::from_secs(30),
        response_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(sallyport::config::DEFAULT_IDLE_TIMEOUT_SECS),
        handshake_timeout: Duration::from_secs(10),
        keepalive: Duration::from_secs(a.keepalive_secs),
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        io: a.io,
    })
    .map_err(|e| e.to_string())?;
    group.join().map_err(|e| e.to_string())
}

/// The front-door settings from the command line (the config file route builds the same).
fn front_auth(a: &Args) -> Result<FrontAuth, String> {
    let mut auth = FrontAuth {
        trusted_tenant: a.trusted_tenant.clone(),
        ..FrontAuth::empty()
    };
    if let Some(issuer) = &a.jwt_issuer {
        let mut keys = Vec::new();
        for spec in &a.jwt_keys {
            let (kid, file) = match spec.split_once('=') {
                Some((kid, file)) => (Some(kid.to_string()), file),
                None => (None, spec.as_str()),
            };
            let text = std::fs::read(file).map_err(|e| format!("--jwt-key {file}: {e}"))?;
            if text.trim_ascii_start().starts_with(b"{") {
                keys.extend(VerifyKey::from_jwks(&text).map_err(|e| format!("{file}: {e}"))?);
            } else {
                keys.push(VerifyKey::from_pem(&text, kid).map_err(|e| format!("{file}: {e}"))?);
            }
        }
        auth.providers = Providers::new(vec![IdentityProvider {
            name: issuer.clone(),
            issuer: issuer.clone(),
            audience: a.jwt_audience.clone().unwrap_or_default(),
            algorithms: Alg::ALL.to_vec(),
            keys,
            tenant_claim: a.tenant_claim.clone(),
            clock_skew: DEFAULT_CLOCK_SKEW_SECS,
        }]);
    }
    for spec in &a.socks_users {
        let mut parts = spec.splitn(3, ':');
        let (Some(tenant), Some(user), Some(phc)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("--socks-user '{spec}': expected TENANT:USER:PHC"));
        };
        auth.tenants
            .entry(tenant.to_string())
            .or_default()
            .users
            .insert(user.to_string(), phc.to_string());
    }
    auth.check().map_err(|e| e.to_string())?;
    Ok(auth)
}

/// How often the relay's audit trail is ticked (pending records retried, checkpoints due).
const AUDIT_TICK: Duration = Duration::from_secs(5);

/// `sallyport relay --config FILE`: load, start, then reload on SIGHUP or a changed file.
fn run_from_file(path: &Path) -> Result<(), String> {
    let report = |errs: sallyport::config::ConfigErrors| {
        for e in errs.errors() {
            eprintln!("{e}");
        }
        format!(
            "{} error(s) in {}; the relay did not start",
            errs.len(),
            path.display()
        )
    };
    // First, before any thread exists: every thread inherits the blocked mask, so a SIGHUP
    // can only be taken by the supervisor's wait, never terminate the process.
    let hangup = sallyport::io::signals::Hangup::block()
        .map_err(|e| format!("cannot block SIGHUP for reloads: {e}"))?;
    let file = sallyport::config::load_relay(path).map_err(report)?;
    for w in file.warnings() {
        tracing::warn!("{w}");
    }
    let built = relay_config_from_file(&file).map_err(report)?;
    if let Some(t) = &built.config.auth.trusted_tenant {
        tracing::warn!(tenant = %t, "front doors serve this tenant without caller credentials (trusted = true)");
    }
    let running = sallyport::relay::start_live(built.config).map_err(|e| e.to_string())?;
    if let Some(sink) = built.audit.clone() {
        std::thread::Builder::new()
            .name("sp-relay-audit".into())
            .spawn(move || loop {
                std::thread::sleep(AUDIT_TICK);
                if let Err(e) = sink.tick(std::time::SystemTime::now()) {
                    tracing::error!("relay audit trail: {e}");
                }
            })
            .map_err(|e| format!("cannot start the audit timer thread: {e}"))?;
    }
    tracing::info!(config = %path.display(), "relay running; reload with SIGHUP or by editing the file");
    let mut reloader = Reloader::new(path, file, running.auth.clone(), built.audit)
        .closing_tunnels_in(running.registry.clone());
    let watch = sallyport::reload::Watch::new(path, Some(hangup), Duration::from_secs(1));
    sallyport::reload::supervise(running.group, watch, |trigger| {
        let _ = reloader.reload(trigger);
    })
    .map_err(|e| e.to_string())
}
