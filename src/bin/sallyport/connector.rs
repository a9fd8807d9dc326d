//! `sallyport connector`: the on-premise connector.

use sallyport::connector::{BackendTimeouts, ConnectorConfig};
use sallyport::io::runtime::IoMode;
use sallyport::policy::{parse_map_line, SubaccountPolicy};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `sallyport connector`.
#[derive(clap::Args)]
pub struct Args {
    /// The relay's tunnel endpoint `host:port`.
    #[arg(long)]
    relay: String,
    /// The name on the relay's certificate.
    #[arg(long, default_value = "localhost")]
    relay_name: String,
    /// CA that signs the relay certificate.
    #[arg(long)]
    ca: PathBuf,
    /// This connector's certificate (its SAN carries tenant and location).
    #[arg(long)]
    cert: PathBuf,
    /// This connector's private key.
    #[arg(long)]
    key: PathBuf,
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
    /// I/O backend.
    #[arg(long, value_enum, default_value = "auto")]
    io: IoMode,
}

pub fn run(a: Args) -> Result<(), String> {
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
    let tls = sallyport::tls::connector_client_config(&a.ca, &a.cert, &a.key)
        .map_err(|e| e.to_string())?;
    let relay_name = rustls::pki_types::ServerName::try_from(a.relay_name.clone())
        .map_err(|e| format!("--relay-name '{}': {e}", a.relay_name))?;
    let group = sallyport::connector::start(ConnectorConfig {
        relay: a.relay,
        relay_name,
        tls,
        tunnels: a.tunnels,
        policy: std::sync::Arc::new(systems),
        keepalive: Duration::from_secs(a.keepalive_secs),
        timeouts: BackendTimeouts {
            connect: Duration::from_secs(5),
            response: Duration::from_secs(30),
        },
        backend_tls,
        io: a.io,
        drain_on_signal: true,
        handshake_timeout: Duration::from_secs(10),
    })
    .map_err(|e| e.to_string())?;
    group.join().map_err(|e| e.to_string())
}
