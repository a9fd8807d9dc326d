//! `sallyport pki`: a small CA, the relay's server certificate and connector client
//! certificates, written as PEM files.
//!
//! Layout of the directory (keys ECDSA P-256, PKCS#8 PEM):
//!
//! | file | mode | content |
//! |---|---|---|
//! | `ca.pem` / `ca.key` | 0644 / 0600 | CA, [`CA_VALIDITY_DAYS`], may issue leaves only (pathlen 0) |
//! | `relay.pem` / `relay.key` | 0600 | serverAuth leaf, SANs = the relay names |
//! | `connector-<tenant>-<location>.pem` / `.key` | 0600 | clientAuth leaf, SAN URI = [`Identity::uri`] |
//!
//! Each file is written to a temporary file created with its final mode, then moved into
//! place, so a key is never readable by others, not even briefly, and a crash never leaves
//! half a file. Without `force` nothing is overwritten: existing targets are listed and
//! nothing is written.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::ServerName;

use crate::tls::{x509, Identity};

mod error;
mod issuer;
#[cfg(test)]
pub(crate) mod tests;

pub use error::PkiError;
pub(crate) use issuer::load_issuer;

/// Lifetime of a generated CA certificate, in days.
pub const CA_VALIDITY_DAYS: u32 = 3650;
/// Default lifetime of relay and connector certificates, in days (the CA/Browser Forum's
/// former maximum; short enough to force a renewal routine).
pub const DEFAULT_LEAF_VALIDITY_DAYS: u32 = 825;
/// Default names in the relay certificate: enough for a local trial.
pub const DEFAULT_RELAY_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// How far back `notBefore` is set, so a peer whose clock is a little behind accepts a
/// freshly issued certificate.
const BACKDATE_SECS: i64 = 3600;

const MODE_PUBLIC: u32 = 0o644;
const MODE_SECRET: u32 = 0o600;
const MODE_DIR: u32 = 0o700;

/// What [`generate`] should produce.
#[derive(Debug, Clone)]
pub struct PkiRequest {
    /// Output directory (created with mode 0700 if missing).
    pub dir: PathBuf,
    /// DNS names or IP literals for the relay certificate's SANs; the first is also its CN.
    pub relay_names: Vec<String>,
    /// One client certificate per identity.
    pub connectors: Vec<Identity>,
    /// Overwrite existing files.
    pub force: bool,
    /// Lifetime of the relay and connector certificates in days (1 ..= [`CA_VALIDITY_DAYS`]).
    pub validity_days: u32,
}

impl PkiRequest {
    /// A request for `dir` with the default relay names, no connectors, no `force` and
    /// [`DEFAULT_LEAF_VALIDITY_DAYS`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            relay_names: DEFAULT_RELAY_NAMES.iter().map(|s| s.to_string()).collect(),
            connectors: Vec::new(),
            force: false,
            validity_days: DEFAULT_LEAF_VALIDITY_DAYS,
        }
    }
}

/// The files [`generate`] or [`add_connector`] wrote, in writing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiFiles {
    /// Paths of the files written.
    pub written: Vec<PathBuf>,
}

/// `connector-<tenant>-<location>`: the file stem of a connector's certificate and key.
pub fn connector_file_stem(id: &Identity) -> String {
    format!("connector-{}-{}", id.tenant, id.location)
}

/// A file to write: where, what, and with which mode.
struct Planned {
    path: PathBuf,
    contents: String,
    mode: u32,
}

fn rcgen_err(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> PkiError {
    let what = what.into();
    move |source| PkiError::Rcgen { what, source }
}

fn random<const N: usize>() -> Result<[u8; N], PkiError> {
    let mut buf = [0u8; N];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut buf)
        .map_err(|_| PkiError::Random)?;
    Ok(buf)
}

pub(crate) fn now_unix() -> Result<i64, PkiError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| PkiError::Clock)?
        .as_secs();
    i64::try_from(secs).map_err(|_| PkiError::Clock)
}

/// Sets serial number (random, 127 bits) and validity (`from ..= to`, Unix seconds) without
/// naming the `time` crate's type (rcgen's dependency, not ours).
pub(crate) fn set_serial_and_validity(
    params: &mut CertificateParams,
    from: i64,
    to: i64,
) -> Result<(), PkiError> {
    // 9999-12-31T23:59:59Z: the last time X.509 (and the `time` crate) can express.
    const MAX: i64 = 253_402_300_799;
    if !(0..=MAX).contains(&from) || !(from..=MAX).contains(&to) {
        return Err(PkiError::Clock);
    }
    let at = |secs: i64| {
        let (y, m, d) = x509::civil_from_days(secs / 86_400);
        // In range by the check above: y in 1970..=9999, m in 1..=12, d in 1..=31.
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
            + Duration::from_secs((secs % 86_400).unsigned_abs())
    };
    params.not_before = at(from);
    params.not_after = at(to);
    let mut serial = random::<16>()?;
    serial[0] &= 0x7f; // positive INTEGER without a padding byte
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(())
}

fn leaf_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    p
}

/// Parameters of a connector certificate for `id`, valid `from ..= to` (Unix seconds).
pub(crate) fn connector_params(
    id: &Identity,
    from: i64,
    to: i64,
) -> Result<CertificateParams, PkiError> {
    let uri = id.uri();
    let mut p = leaf_params(&uri);
    let san = uri
        .clone()
        .try_into()
        .map_err(rcgen_err(format!("SAN URI {uri}")))?;
    p.subject_alt_names = vec![SanType::URI(san)];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    set_serial_and_validity(&mut p, from, to)?;
    Ok(p)
}

fn relay_params(names: &[String], from: i64, to: i64) -> Result<CertificateParams, PkiError> {
    let first = names.first().ok_or(PkiError::NoRelayNames)?;
    let mut p = leaf_params(first);
    for name in names {
        let san = if let Ok(ip) = name.parse::<IpAddr>() {
            SanType::IpAddress(ip)
        } else if ServerName::try_from(name.as_str()).is_ok() {
            SanType::DnsName(name.clone().try_into().map_err(rcgen_err(name.clone()))?)
        } else {
            return Err(PkiError::InvalidRelayName { name: name.clone() });
        };
        p.subject_alt_names.push(san);
    }
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    set_serial_and_validity(&mut p, from, to)?;
    Ok(p)
}

/// Signs `params` with a fresh P-256 key; returns `(cert.pem, key.pem)` as planned files.
fn issue(
    dir: &Path,
    stem: &str,
    params: &CertificateParams,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<[Planned; 2], PkiError> {
    let key = KeyPair::generate().map_err(rcgen_err(format!("{stem} key")))?;
    let cert = params
        .signed_by(&key, issuer)
        .map_err(rcgen_err(format!("{stem} certificate")))?;
    Ok(pair(
        dir,
        stem,
        cert.pem(),
        key.serialize_pem(),
        MODE_SECRET,
    ))
}

fn pair(dir: &Path, stem: &str, cert: String, key: String, cert_mode: u32) -> [Planned; 2] {
    [
        Planned {
            path: dir.join(format!("{stem}.pem")),
            contents: cert,
            mode: cert_mode,
        },
        Planned {
            path: dir.join(format!("{stem}.key")),
            contents: key,
            mode: MODE_SECRET,
        },
    ]
}

/// Writes a new CA, relay certificate and connector certificates into `req.dir`.
pub fn generate(req: &PkiRequest) -> Result<PkiFiles, PkiError> {
    if req.validity_days == 0 || req.validity_days > CA_VALIDITY_DAYS {
        return Err(PkiError::InvalidValidity {
            days: req.validity_days,
        });
    }
    let dir = req.dir.as_path();
    // Validate everything (names, collisions, existing files) before generating any key.
    let now = now_unix()?;
    let (from, leaf_to) = (now - BACKDATE_SECS, now + days(req.validity_days));
    let relay = relay_params(&req.relay_names, from, leaf_to)?;
    let mut stems: Vec<(String, &Identity)> = Vec::new();
    for id in &req.connectors {
        let stem = connector_file_stem(id);
        match stems.iter().find(|(s, _)| *s == stem) {
            Some((_, prev)) if *prev == id => {} // asked twice: issue once
            Some((_, prev)) => {
                return Err(PkiError::FileNameCollision {
                    path: dir.join(format!("{stem}.pem")),
                    identities: [(*prev).clone(), id.clone()],
                })
            }
            None => stems.push((stem, id)),
        }
    }
    let mut targets = vec!["ca.pem", "ca.key", "relay.pem", "relay.key"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    for (stem, _) in &stems {
        targets.extend([format!("{stem}.pem"), format!("{stem}.key")]);
    }
    let targets: Vec<PathBuf> = targets.iter().map(|t| dir.join(t)).collect();
    if !req.force {
        refuse_existing(&targets)?;
    }

    let ca_key = KeyPair::generate().map_err(rcgen_err("CA key"))?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::OrganizationName, "sallyport");
    // A random suffix: two CAs with one DN confuse path building (UnknownIssuer turns into
    // BadSignature), and the suffix tells CAs apart in logs.
    let tag: String = random::<4>()?.iter().map(|b| format!("{b:02x}")).collect();
    ca.distinguished_name
        .push(DnType::CommonName, format!("sallyport CA {tag}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_serial_and_validity(&mut ca, from, now + days(CA_VALIDITY_DAYS))?;
    let ca_cert = ca
        .self_signed(&ca_key)
        .map_err(rcgen_err("CA certificate"))?;
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca, ca_key);

    let mut planned = Vec::with_capacity(targets.len());
    planned.extend(pair(dir, "ca", ca_cert.pem(), ca_key_pem, MODE_PUBLIC));
    planned.extend(issue(dir, "relay", &relay, &issuer)?);
    for (stem, id) in &stems {
        let params = connector_params(id, from, leaf_to)?;
        planned.extend(issue(dir, stem, &params, &issuer)?);
    }
    write_files(dir, &planned, req.force)
}

/// Issues one more connector certificate from the CA in `dir` (`ca.pem` + `ca.key`), valid
/// for [`DEFAULT_LEAF_VALIDITY_DAYS`] but not beyond the CA's own expiry. The certificate is
/// verified against `ca.pem` exactly as the relay will before anything is written.
pub fn add_connector(dir: &Path, identity: &Identity, force: bool) -> Result<PkiFiles, PkiError> {
    let stem = connector_file_stem(identity);
    let targets = [
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    ];
    if !force {
        refuse_existing(&targets)?;
    }
    // `force` renews this connector's certificate; it must never replace another connector's
    // whose tenant and location join to the same file name (`a-b`/`c` and `a`/`b-c`).
    if let Some(owner) = owner_of(&targets[0]) {
        if owner != *identity {
            return Err(PkiError::FileNameCollision {
                path: targets[0].clone(),
                identities: [owner, identity.clone()],
            });
        }
    }
    let ca = load_issuer(dir)?;
    let now = now_unix()?;
    let to = (now + days(DEFAULT_LEAF_VALIDITY_DAYS)).min(ca.not_after);
    let params = connector_params(identity, now - BACKDATE_SECS, to)?;
    let planned = issue(dir, &stem, &params, &ca.issuer)?;
    ca.verify_client_cert(&planned[0].contents, &stem)?;
    write_files(dir, &planned, force)
}

/// The connector identity of the certificate in `pem`, if that file exists and holds one.
/// Anything unreadable counts as no owner: `force` may replace it.
fn owner_of(pem: &Path) -> Option<Identity> {
    let certs = crate::tls::load_certs(pem).ok()?;
    crate::tls::identity_from_certs(&certs).ok()
}

fn days(n: u32) -> i64 {
    i64::from(n) * 86_400
}

fn refuse_existing(targets: &[PathBuf]) -> Result<(), PkiError> {
    // symlink_metadata: a dangling symlink is "existing" too; we would replace it.
    let files: Vec<PathBuf> = targets
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .cloned()
        .collect();
    if files.is_empty() {
        Ok(())
    } else {
        Err(PkiError::Exists { files })
    }
}

fn write_files(dir: &Path, planned: &[Planned], force: bool) -> Result<PkiFiles, PkiError> {
    DirBuilder::new()
        .recursive(true)
        .mode(MODE_DIR)
        .create(dir)
        .map_err(|source| PkiError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    let mut written = Vec::with_capacity(planned.len());
    for file in planned {
        write_atomic(dir, file, force).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                // Appeared after the existence check (files before it are written).
                PkiError::Exists {
                    files: vec![file.path.clone()],
                }
            } else {
                PkiError::Write {
                    path: file.path.clone(),
                    source,
                }
            }
        })?;
        written.push(file.path.clone());
    }
    // Make the renames durable; a failure here loses nothing that is not already on disk.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(PkiFiles { written })
}

/// Writes `file` via a temporary file in `dir` created with the final mode, then moves it
/// into place: `rename` with `force`; otherwise `hard_link`, which fails if the target
/// appeared since the existence check, so nothing is ever clobbered without `force`.
fn write_atomic(dir: &Path, file: &Planned, force: bool) -> std::io::Result<()> {
    let name = file
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix: String = random::<6>()
        .map_err(|_| std::io::Error::other("random number generator failed"))?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(file.mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode: set it exactly as documented. A key was
        // created 0600, so it is never readable by others at any point.
        f.set_permissions(Permissions::from_mode(file.mode))?;
        f.write_all(file.contents.as_bytes())?;
        f.sync_all()?;
        if force {
            return std::fs::rename(&tmp, &file.path);
        }
        match std::fs::hard_link(&tmp, &file.path) {
            Ok(()) => std::fs::remove_file(&tmp),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
            // A file system without hard links: check once more, then rename.
            Err(_) if file.path.symlink_metadata().is_err() => std::fs::rename(&tmp, &file.path),
            Err(e) => Err(e),
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
