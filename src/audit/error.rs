//! The error type of the audit sink.

use std::fmt;
use std::path::PathBuf;

/// Why the audit sink failed or refused.
#[derive(Debug)]
pub enum AuditError {
    /// The subaccount name cannot be a directory name.
    InvalidSubaccount {
        /// The name.
        name: String,
    },
    /// The audit directory could not be created.
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An existing day file could not be read (to resume the chain) or repaired.
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The newest record of an existing log cannot be parsed, so the chain cannot be resumed.
    Resume {
        /// The day file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Records are waiting in memory because the log cannot be written: requests that must be
    /// audited are refused (fail closed) until the disk accepts again.
    Unavailable {
        /// Records waiting.
        pending: usize,
        /// The last write error.
        cause: String,
    },
    /// The in-memory queue of unwritten records is full: this event was not recorded and took
    /// no sequence number.
    QueueFull {
        /// The queue's capacity.
        limit: usize,
        /// The last write error.
        cause: String,
    },
    /// The checkpoint signing key could not be loaded.
    SignerKey {
        /// The key file (empty when built from bytes).
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Signing a checkpoint failed.
    Sign,
    /// A record could not be encoded as JSON.
    Encode(String),
    /// The syslog forwarder could not be set up.
    Syslog {
        /// The collector's address.
        address: std::net::SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::InvalidSubaccount { name } => write!(
                f,
                "audit subaccount '{name}' is not usable as a directory name: use letters, \
                 digits, '-', '_' and '.', not starting with '.'"
            ),
            AuditError::CreateDir { path, source } => write!(
                f,
                "cannot create audit directory {}: {source}; check the path and permissions",
                path.display()
            ),
            AuditError::Read { path, source } => {
                write!(f, "cannot read audit file {}: {source}", path.display())
            }
            AuditError::Resume { path, reason } => write!(
                f,
                "cannot resume the audit chain from {}: {reason}; run `sallyport audit verify` \
                 on the directory and move the damaged file away",
                path.display()
            ),
            AuditError::Unavailable { pending, cause } => write!(
                f,
                "audit log unavailable ({pending} records not yet written: {cause}); requests \
                 that must be audited are refused until the disk accepts writes again"
            ),
            AuditError::QueueFull { limit, cause } => write!(
                f,
                "audit queue full ({limit} unwritten records, last error: {cause}); the event \
                 was not recorded; free space in the audit directory"
            ),
            AuditError::SignerKey { path, reason } => write!(
                f,
                "audit checkpoint key {}: {reason}; use the connector's key from `sallyport pki`",
                path.display()
            ),
            AuditError::Sign => write!(f, "signing an audit checkpoint failed"),
            AuditError::Encode(e) => write!(f, "cannot encode an audit record: {e}"),
            AuditError::Syslog { address, source } => {
                write!(f, "cannot set up syslog forwarding to {address}: {source}")
            }
        }
    }
}

impl std::error::Error for AuditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuditError::CreateDir { source, .. }
            | AuditError::Read { source, .. }
            | AuditError::Syslog { source, .. } => Some(source),
            _ => None,
        }
    }
}
