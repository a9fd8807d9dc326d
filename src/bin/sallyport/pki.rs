//! `sallyport pki`: a CA, the relay's certificate and connector certificates.

use sallyport::tls::Identity;
use std::path::PathBuf;

/// Arguments of `sallyport pki`.
#[derive(clap::Args)]
pub struct Args {
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
}

pub fn run(a: Args) -> Result<(), String> {
    let mut req = sallyport::pki::PkiRequest::new(a.dir);
    if !a.relay_names.is_empty() {
        req.relay_names = a.relay_names;
    }
    for c in a.connectors {
        let (t, l) = c
            .split_once(':')
            .ok_or_else(|| format!("--connector '{c}': expected tenant:location"))?;
        req.connectors
            .push(Identity::new(t, l).map_err(|e| e.to_string())?);
    }
    req.force = a.force;
    let files = sallyport::pki::generate(&req).map_err(|e| e.to_string())?;
    for f in files.written {
        println!("wrote {}", f.display());
    }
    Ok(())
}
