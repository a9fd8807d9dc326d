//! The error type of PKI generation.

use std::fmt;
use std::path::PathBuf;

use super::CA_VALIDITY_DAYS;
use crate::tls::{Identity, TlsError};

/// Why PKI generation failed.
#[derive(Debug)]
pub enum PkiError {
    /// `relay_names` is empty.
    NoRelayNames,
    /// A relay name is neither a valid DNS name nor an IP address.
    InvalidRelayName {
        /// The name.
        name: String,
    },
    /// `validity_days` is 0 or longer than the CA's lifetime.
    InvalidValidity {
        /// The requested number of days.
        days: u32,
    },
    /// Two connector identities map to the same file name (the name joins tenant and
    /// location with `-`, which both may contain).
    FileNameCollision {
        /// The shared file.
        path: PathBuf,
        /// The two identities.
        identities: [Identity; 2],
    },
    /// Target files exist and `force` was not given; nothing was written.
    Exists {
        /// The existing files.
        files: Vec<PathBuf>,
    },
    /// The output directory could not be created.
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be written (the files before it in `PkiFiles` order were).
    Write {
        /// The target file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A CA file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `ca.pem` could not be loaded as PEM certificates.
    Tls(TlsError),
    /// `ca.pem` is not usable as an issuer.
    Ca {
        /// The CA certificate file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `ca.key` is not usable: not a key rcgen can sign with, or not the CA certificate's key.
    CaKey {
        /// The CA key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rcgen failed to build a key or certificate.
    Rcgen {
        /// What was being built.
        what: String,
        /// rcgen's reason.
        source: rcgen::Error,
    },
    /// The system random number generator failed.
    Random,
    /// The system clock is outside the range certificates can express.
    Clock,
    /// A freshly issued certificate did not verify against the CA (a bug or a CA file that
    /// cannot be re-encoded exactly); it was not written.
    SelfCheck {
        /// What was issued.
        what: String,
        /// rustls' verdict.
        reason: String,
    },
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRelayNames => write!(f, "the relay certificate needs at least one name"),
            Self::InvalidRelayName { name } => {
                write!(
                    f,
                    "relay name {name:?} is neither a DNS name nor an IP address"
                )
            }
            Self::InvalidValidity { days } => write!(
                f,
                "certificate validity of {days} days is outside 1..={CA_VALIDITY_DAYS}"
            ),
            Self::FileNameCollision {
                path,
                identities: [a, b],
            } => write!(
                f,
                "connectors {a} and {b} would both be written to {}; rename one",
                path.display()
            ),
            Self::Exists { files } => {
                write!(f, "refusing to overwrite (use --force):")?;
                files.iter().try_for_each(|p| write!(f, " {}", p.display()))
            }
            Self::CreateDir { path, source } => {
                write!(f, "cannot create directory {}: {source}", path.display())
            }
            Self::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Tls(e) => write!(f, "{e}"),
            Self::Ca { path, reason } => {
                write!(f, "{} cannot issue certificates: {reason}", path.display())
            }
            Self::CaKey { path, reason } => write!(f, "CA key {}: {reason}", path.display()),
            Self::Rcgen { what, source } => write!(f, "cannot generate {what}: {source}"),
            Self::Random => write!(f, "the system random number generator failed"),
            Self::Clock => write!(f, "the system clock is out of the range of X.509 times"),
            Self::SelfCheck { what, reason } => write!(
                f,
                "the newly issued {what} does not verify against the CA ({reason}); nothing written"
            ),
        }
    }
}

impl std::error::Error for PkiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CreateDir { source, .. }
            | Self::Write { source, .. }
            | Self::Read { source, .. } => Some(source),
            Self::Tls(e) => Some(e),
            Self::Rcgen { source, .. } => Some(source),
            _ => None,
        }
    }
}
