//! `sallyport relay`: the cloud relay.

use sallyport::io::runtime::IoMode;
use sallyport::relay::RelayConfig;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `sallyport relay`.
#[derive(clap::Args)]
pub struct Args {
    /// CA that signs connector certificates.
    #[arg(long)]
    ca: PathBuf,
    /// The relay's certificate chain (PEM).
    #[arg(long)]
    cert: PathBuf,
    /// The relay's private key (PEM).
    #[arg(long)]
    key: PathBuf,
    /// Where connectors dial in.
    #[arg(long, default_value = "0.0.0.0:8443")]
    tunnel_listen: String,
    /// The HTTP proxy front door.
    #[arg(long, default_value = "127.0.0.1:20003")]
    proxy_listen: String,
    /// Serve the front door without caller authentication, for this tenant. Required
    /// until JWT authentication exists: the relay never runs an open door implicitly.
    #[arg(long)]
    trusted_tenant: String,
    /// Keep-alive PING interval towards the connectors, in seconds; a tunnel is declared dead
    /// after three missed PINGs.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    keepalive_secs: u64,
    /// I/O backend.
    #[arg(long, value_enum, default_value = "auto")]
    io: IoMode,
}

pub fn run(a: Args) -> Result<(), String> {
    sallyport::tls::check_name("tenant", &a.trusted_tenant).map_err(|e| e.to_string())?;
    let tls =
        sallyport::tls::relay_server_config(&a.ca, &a.cert, &a.key).map_err(|e| e.to_string())?;
    let bind = |addr: &str, what: &str| {
        std::net::TcpListener::bind(addr).map_err(|e| format!("{what} {addr}: {e}"))
    };
    tracing::warn!(tenant = %a.trusted_tenant, "front door runs without caller authentication (--trusted-tenant)");
    let (group, _) = sallyport::relay::start(RelayConfig {
        tunnel_listener: bind(&a.tunnel_listen, "tunnel listener")?,
        proxy_listener: bind(&a.proxy_listen, "proxy listener")?,
        tls,
        tenant: a.trusted_tenant,
        limits: Default::default(),
        header_timeout: Duration::from_secs(30),
        response_timeout: Duration::from_secs(60),
        handshake_timeout: Duration::from_secs(10),
        keepalive: Duration::from_secs(a.keepalive_secs),
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        io: a.io,
    })
    .map_err(|e| e.to_string())?;
    group.join().map_err(|e| e.to_string())
}
