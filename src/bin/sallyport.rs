//! The `sallyport` command: relay, connector, PKI and the demo.

use clap::{Parser, Subcommand};
use sallyport::connector::{BackendTimeouts, ConnectorConfig, SystemMap};
use sallyport::io::runtime::IoMode;
use sallyport::relay::RelayConfig;
use sallyport::tls::Identity;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "sallyport",
    version,
    about = "Reverse-invoke tunnel: an on-premise connector dials out to a cloud relay"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs relay, connector and sample backends on loopback with a scripted session.
    Demo {
        /// Exit after the script (non-zero if a step failed) instead of serving on.
        #[arg(long)]
        once: bool,
        /// I/O backend.
        #[arg(long, value_enum, default_value = "auto")]
        io: IoMode,
    },
    /// Creates a CA, a relay server certificate and connector client certificates.
    Pki {
        /// Output directory (created 0700).
        #[arg(long)]
        dir: PathBuf,
        /// DNS name or IP address for the relay certificate (repeatable).
        #[arg(long = "relay-name")]
        relay_names: Vec<String>,
        /// A connector identity `tenant:location` (repeatable).
        #[arg(long = "connector")]
        connectors: Vec<String>,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Runs the cloud relay.
    Relay {
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
        /// I/O backend.
        #[arg(long, value_enum, default_value = "auto")]
        io: IoMode,
    },
    /// Runs the on-premise connector.
    Connector {
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
        /// A system: `virtual-host:port=internal-host:port[/http|/https|/tcp|/tcps]` (repeatable).
        #[arg(long = "map")]
        maps: Vec<String>,
        /// PEM bundle of CAs trusted for `https`/`tcps` systems (default: the system bundle).
        #[arg(long)]
        backend_trust: Option<PathBuf>,
        /// Tunnel connections to keep (one thread each).
        #[arg(long, default_value_t = 2)]
        tunnels: usize,
        /// I/O backend.
        #[arg(long, value_enum, default_value = "auto")]
        io: IoMode,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Demo { .. });
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if quiet { "warn" } else { "info" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sallyport: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Command) -> Result<(), String> {
    match cmd {
        Command::Demo { once, io } => {
            if sallyport::demo::run(once, io) {
                Ok(())
            } else {
                Err("the demo script failed".into())
            }
        }
        Command::Pki {
            dir,
            relay_names,
            connectors,
            force,
        } => {
            let mut req = sallyport::pki::PkiRequest::new(dir);
            if !relay_names.is_empty() {
                req.relay_names = relay_names;
            }
            for c in connectors {
                let (t, l) = c
                    .split_once(':')
                    .ok_or_else(|| format!("--connector '{c}': expected tenant:location"))?;
                req.connectors
                    .push(Identity::new(t, l).map_err(|e| e.to_string())?);
            }
            req.force = force;
            let files = sallyport::pki::generate(&req).map_err(|e| e.to_string())?;
            for f in files.written {
                println!("wrote {}", f.display());
            }
            Ok(())
        }
        Command::Relay {
            ca,
            cert,
            key,
            tunnel_listen,
            proxy_listen,
            trusted_tenant,
            io,
        } => {
            sallyport::tls::check_name("tenant", &trusted_tenant).map_err(|e| e.to_string())?;
            let tls =
                sallyport::tls::relay_server_config(&ca, &cert, &key).map_err(|e| e.to_string())?;
            let bind = |a: &str, what: &str| {
                std::net::TcpListener::bind(a).map_err(|e| format!("{what} {a}: {e}"))
            };
            tracing::warn!(tenant = %trusted_tenant, "front door runs without caller authentication (--trusted-tenant)");
            let (group, _) = sallyport::relay::start(RelayConfig {
                tunnel_listener: bind(&tunnel_listen, "tunnel listener")?,
                proxy_listener: bind(&proxy_listen, "proxy listener")?,
                tls,
                tenant: trusted_tenant,
                limits: Default::default(),
                header_timeout: Duration::from_secs(30),
                response_timeout: Duration::from_secs(60),
                handshake_timeout: Duration::from_secs(10),
                keepalive: Duration::from_secs(10),
                threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
                io,
            })
            .map_err(|e| e.to_string())?;
            group.join().map_err(|e| e.to_string())
        }
        Command::Connector {
            relay,
            relay_name,
            ca,
            cert,
            key,
            maps,
            backend_trust,
            tunnels,
            io,
        } => {
            let mut systems = SystemMap::default();
            for m in maps {
                systems
                    .insert(SystemMap::parse_line(&m).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            }
            let backend_tls = if systems.uses_tls() {
                Some(
                    sallyport::tls::backend_client_config(backend_trust.as_deref())
                        .map_err(|e| format!("backend trust store: {e}"))?,
                )
            } else {
                None
            };
            if systems.is_empty() {
                tracing::warn!("no --map given: every request will be refused");
            }
            let tls = sallyport::tls::connector_client_config(&ca, &cert, &key)
                .map_err(|e| e.to_string())?;
            let relay_name = rustls::pki_types::ServerName::try_from(relay_name.clone())
                .map_err(|e| format!("--relay-name '{relay_name}': {e}"))?;
            let group = sallyport::connector::start(ConnectorConfig {
                relay,
                relay_name,
                tls,
                tunnels,
                systems,
                keepalive: Duration::from_secs(10),
                timeouts: BackendTimeouts {
                    connect: Duration::from_secs(5),
                    response: Duration::from_secs(30),
                },
                backend_tls,
                io,
                drain_on_signal: true,
                handshake_timeout: Duration::from_secs(10),
            })
            .map_err(|e| e.to_string())?;
            group.join().map_err(|e| e.to_string())
        }
    }
}
