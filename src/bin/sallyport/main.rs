//! The `sallyport` command: relay, connector, PKI and the demo.
//!
//! One module per subcommand: each holds its clap `Args` and a `run` that returns a message
//! naming the problem on failure.

mod audit;
mod backend;
mod check_config;
mod connector;
mod demo;
mod password;
mod pki;
mod relay;
mod token;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    Demo(demo::Args),
    /// Creates a CA, a relay server certificate and connector client certificates.
    Pki(pki::Args),
    /// Runs the cloud relay.
    Relay(relay::Args),
    /// Runs the on-premise connector.
    Connector(connector::Args),
    /// Test tool: serves the sample HTTP and TCP echo backends on given addresses.
    Backend(backend::Args),
    /// Checks relay or connector configuration files and reports every error.
    CheckConfig(check_config::Args),
    /// Audit trail tools: `audit verify DIR [--cert connector.pem]`.
    Audit(audit::Args),
    /// Creates a JWT signing key and mints test tokens for the front doors.
    Token(token::Args),
    /// Hashes a SOCKS5 user's password (argon2id).
    Password(password::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Demo(_));
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if quiet { "warn" } else { "info" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Pki(a) => pki::run(a),
        Command::Relay(a) => relay::run(a),
        Command::Connector(a) => connector::run(a),
        Command::Backend(a) => backend::run(a),
        Command::CheckConfig(a) => check_config::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Token(a) => token::run(a),
        Command::Password(a) => password::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sallyport: {e}");
            ExitCode::FAILURE
        }
    }
}
