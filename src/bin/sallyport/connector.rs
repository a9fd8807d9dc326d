//! `sallyport connector`: the on-premise connector, from a configuration file (`--config`,
//! the production route: several subaccounts, resources, audit, reload on SIGHUP or file
//! change) or from flags (one subaccount, `--map` systems that allow all paths, no audit).

use sallyport::connector::{BackendTimeouts, ConnectorConfig, ReloadOutcome};
use sallyport::io::runtime::IoMode;
use sallyport::policy::{parse_map_line, SubaccountPolicy};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `sallyport connector`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file (TOML; see docs/config.md). Replaces all other flags.
    #[arg(long, conflicts_with_all = ["relay", "ca", "cert", "key", "maps", "backend_trust", "tunnels", "keepalive_secs", "streams_per_tunnel", "io"])]
    config: Option<PathBuf>,
    /// The relay's tunnel endpoint `host:port`.
    #[arg(long, required_unless_present = "config")]
    relay: Option<String>,
    /// The name on the relay's certificate.
    #[arg(long, default_value = "localhost")]
    relay_name: String,
    /// CA that signs the relay certificate.
    #[arg(long, required_unless_present = "config")]
    ca: Option<PathBuf>,
    /// This connector's certificate (its SAN carries tenant and location).
    #[arg(long, required_unless_present = "config")]
    cert: Option<PathBuf>,
    /// This connector's private key.
    #[arg(long, required_unless_present = "config")]
    key: Option<PathBuf>,
    /// A system: `virtual-host:port=internal-host:port[/http|/https|/tcp|/tcps|/ldap|/ldaps]`
    /// (repeatable). An HTTP system mapped this way allows all of its paths.
    #[arg(long = "map")]
    maps: Vec<String>,
    /// PEM bundle of CAs trusted for `https`/`tcps` systems (default: the system bundle).
    #[arg(long)]
    backend_trust: Option<PathBuf>,
    /// Tunnel connections to keep (one thread each).
    #[arg(long, default_value_t = 2)]
    tunnels: usize,
    /// Keep-alive PING interval towards the relay, in seconds; a tunnel is declared dead
    /// after three missed PINGs.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    keepalive_secs: u64,
    /// Streams the relay may open at once on one tunnel.
    #[arg(long, default_value_t = sallyport::config::DEFAULT_STREAMS_PER_TUNNEL, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    streams_per_tunnel: u32,
    /// I/O backend.
    #[arg(long, value_enum, default_value = "auto")]
    io: IoMode,
}

pub fn run(a: Args) -> Result<(), String> {
    if let Some(path) = &a.config {
        return run_from_file(path);
    }
    let (Some(relay), Some(ca), Some(cert), Some(key)) = (a.relay, a.ca, a.cert, a.key) else {
        return Err("--relay, --ca, --cert and --key are required without --config".into());
    };
    let specs = a
        .maps
        .iter()
        .map(|m| parse_map_line(m).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let systems = SubaccountPolicy::compile(&specs).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| format!("--map: {e}")).collect();
        lines.join("\n")
    })?;
    let backend_tls = if systems.uses_tls() {
        Some(
            sallyport::tls::backend_client_config(a.backend_trust.as_deref())
                .map_err(|e| format!("backend trust store: {e}"))?,
        )
    } else {
        None
    };
    if systems.is_empty() {
        tracing::warn!("no --map given: every request will be refused");
    }
    let tls =
        sallyport::tls::connector_client_config(&ca, &cert, &key).map_err(|e| e.to_string())?;
    let certs = sallyport::tls::load_certs(&cert).map_err(|e| e.to_string())?;
    let identity = sallyport::tls::identity_from_certs(&certs).map_err(|e| e.to_string())?;
    tracing::warn!("started from flags: no audit trail is written (use --config for one)");
    let relay_name = rustls::pki_types::ServerName::try_from(a.relay_name.clone())
        .map_err(|e| format!("--relay-name '{}': {e}", a.relay_name))?;
    let group = sallyport::connector::start(ConnectorConfig {
        relay,
        relay_name,
        tls,
        tunnels: a.tunnels,
        identity,
        policy: std::sync::Arc::new(systems),
        audit: sallyport::audit::AuditSink::disabled(),
        max_streams: a.streams_per_tunnel,
        keepalive: Duration::from_secs(a.keepalive_secs),
        timeouts: BackendTimeouts {
            connect: Duration::from_secs(5),
            response: Duration::from_secs(30),
            idle: Duration::from_secs(sallyport::config::DEFAULT_IDLE_TIMEOUT_SECS),
        },
        backend_tls,
        io: a.io,
        drain_on_signal: true,
        handshake_timeout: Duration::from_secs(10),
    })
    .map_err(|e| e.to_string())?;
    group.join().map_err(|e| e.to_string())
}

/// The configuration-file route: every error positioned, then start, then reload until the
/// tunnels end.
fn run_from_file(path: &std::path::Path) -> Result<(), String> {
    let mut file = sallyport::config::load_connector(path)
        .map_err(|errors| format!("{errors}\n{} error(s) in {}", errors.len(), path.display()))?;
    for w in file.warnings() {
        tracing::warn!("{w}");
    }
    let cfgs = sallyport::connector::configs_from_file(&file, true).map_err(|e| e.to_string())?;
    // Before any runtime thread exists, so that every thread inherits the blocked mask.
    let hangup = sallyport::io::signals::Hangup::block()
        .map_err(|e| format!("cannot take over SIGHUP for reloads: {e}"))?;
    let running = sallyport::connector::start_all(cfgs).map_err(|e| e.to_string())?;
    tracing::info!(config = %path.display(), subaccounts = running.subaccounts.len(),
        "connector running; SIGHUP or a change of the file reloads it");
    let watch = sallyport::reload::Watch::new(path, Some(hangup), Duration::from_secs(1));
    let live = running.subaccounts;
    // Retention and time-based checkpoints run even when no request comes.
    let ticking = live.clone();
    std::thread::Builder::new()
        .name("sp-audit-tick".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(10));
            for l in &ticking {
                if let Err(e) = l.audit().tick(std::time::SystemTime::now()) {
                    tracing::error!(tenant = %l.tenant, location = %l.location, "audit: {e}");
                }
            }
        })
        .map_err(|e| format!("cannot start the audit timer thread: {e}"))?;
    let result = sallyport::reload::supervise(running.group, watch, |trigger| {
        match sallyport::connector::reload_from_file(path, &live, &mut file) {
            ReloadOutcome::Applied {
                summary,
                needs_restart,
            } => {
                tracing::info!(%trigger, "{summary}");
                for what in needs_restart {
                    tracing::warn!("changed, takes effect after a restart: {what}");
                }
            }
            ReloadOutcome::Rejected(e) => tracing::error!(
                %trigger,
                "new configuration rejected, the running one stays:\n{e}"
            ),
        }
    });
    // Drained (SIGTERM): sign what was written since the last checkpoint.
    for l in &live {
        if let Err(e) = l.audit().checkpoint(std::time::SystemTime::now()) {
            tracing::error!(tenant = %l.tenant, location = %l.location, "audit checkpoint: {e}");
        }
    }
    result.map_err(|e| e.to_string())
}
