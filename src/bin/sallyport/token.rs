//! `sallyport token`: a local signing key and test tokens for the relay's front doors.

use sallyport::auth::Signer;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Arguments of `sallyport token`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(clap::Subcommand)]
enum TokenCommand {
    /// Creates an ES256 key pair: `jwt-signing.key` (PKCS#8, 0600) and `jwt-signing.pub.pem`
    /// (SPKI; give it to the relay with --jwt-key).
    Keygen {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Mints a signed token and prints it.
    Issue {
        /// PKCS#8 private key (ES256, Ed25519 or RSA).
        #[arg(long)]
        key: PathBuf,
        /// `kid` header (must match the relay's key id when it has several keys).
        #[arg(long)]
        kid: Option<String>,
        /// `iss` claim.
        #[arg(long)]
        iss: String,
        /// `aud` claim.
        #[arg(long)]
        aud: String,
        /// The tenant, put in the tenant claim.
        #[arg(long)]
        tenant: String,
        /// Name of the tenant claim (SAP XSUAA: zid).
        #[arg(long, default_value = "zid")]
        tenant_claim: String,
        /// `sub` claim.
        #[arg(long)]
        sub: Option<String>,
        /// Lifetime: `exp` = now + this.
        #[arg(long, default_value_t = 3600, allow_hyphen_values = true)]
        ttl_secs: i64,
        /// `nbf` = now + this (negative: in the past); no `nbf` when absent.
        #[arg(long, allow_hyphen_values = true)]
        nbf_secs: Option<i64>,
    },
}

pub fn run(a: Args) -> Result<(), String> {
    match a.command {
        TokenCommand::Keygen { out, force } => keygen(&out, force),
        TokenCommand::Issue {
            key,
            kid,
            iss,
            aud,
            tenant,
            tenant_claim,
            sub,
            ttl_secs,
            nbf_secs,
        } => {
            sallyport::tls::check_name("tenant", &tenant).map_err(|e| e.to_string())?;
            let pem = std::fs::read(&key).map_err(|e| format!("{}: {e}", key.display()))?;
            let signer =
                Signer::from_pkcs8_pem(&pem, kid).map_err(|e| format!("{}: {e}", key.display()))?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| format!("system clock before 1970: {e}"))?
                .as_secs() as i64;
            let mut claims = serde_json::Map::new();
            claims.insert("iss".into(), iss.into());
            claims.insert("aud".into(), aud.into());
            claims.insert(tenant_claim, tenant.into());
            if let Some(sub) = sub {
                claims.insert("sub".into(), sub.into());
            }
            claims.insert("iat".into(), now.into());
            claims.insert("exp".into(), now.saturating_add(ttl_secs).max(0).into());
            if let Some(n) = nbf_secs {
                claims.insert("nbf".into(), now.saturating_add(n).max(0).into());
            }
            let token = signer
                .issue(&serde_json::Value::Object(claims))
                .map_err(|e| e.to_string())?;
            println!("{token}");
            Ok(())
        }
    }
}

fn keygen(dir: &Path, force: bool) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("key generation failed: {e}"))?;
    let private = dir.join("jwt-signing.key");
    let public = dir.join("jwt-signing.pub.pem");
    write_file(&private, kp.serialize_pem().as_bytes(), 0o600, force)?;
    write_file(&public, kp.public_key_pem().as_bytes(), 0o644, force)?;
    println!("wrote {}", private.display());
    println!("wrote {}", public.display());
    Ok(())
}

fn write_file(path: &Path, data: &[u8], mode: u32, force: bool) -> Result<(), String> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).mode(mode);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} exists (use --force to overwrite)", path.display())
        } else {
            format!("{}: {e}", path.display())
        }
    })?;
    // `mode` applies only at creation; an overwritten key file is narrowed too.
    use std::os::unix::fs::PermissionsExt as _;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|()| f.write_all(data))
        .map_err(|e| format!("{}: {e}", path.display()))
}
