//! rustls configuration for the tunnel and for backends, and the connector identity.
//!
//! * The tunnel is TLS 1.3 only with mutual authentication: the relay is the TLS server and
//!   requires a client certificate issued by its CA ([`relay_server_config`]); the connector
//!   dials out and verifies the relay against its CA ([`connector_client_config`]). Both
//!   negotiate ALPN `h2`.
//! * A connector's identity (tenant + location) travels **only** in its client certificate,
//!   as one SAN URI `sallyport://tenant/<tenant>/location/<location>` (see [`Identity`]). The
//!   relay's verifier refuses a certificate without exactly one valid identity during the
//!   handshake; afterwards the relay reads it with [`identity_from_certs`].
//! * Backends (HTTPS/TCPS) get plain server-authenticated TLS 1.2/1.3
//!   ([`backend_client_config`]).
//!
//! The crypto provider is always *ring*. Nothing here does I/O except reading PEM files, and
//! every file problem found at load time (missing, empty, wrong kind of PEM block, a trust
//! file holding a non-CA certificate, a certificate outside its validity period, a key that
//! does not belong to its certificate) is an error naming the file.
//! Not checked: revocation (no CRLs are configured).

mod config;
mod identity;
mod pem;
mod verifier;
pub(crate) mod x509;

#[cfg(test)]
mod handshake_tests;

use std::fmt;
use std::path::PathBuf;

pub use config::{backend_client_config, connector_client_config, relay_server_config};
pub use identity::{check_name, identity_from_certs, Identity, MAX_NAME_LEN, URI_PREFIX};
pub use pem::{load_ca, load_certs, load_key};

/// The ALPN protocol id both ends of the tunnel negotiate.
pub const ALPN_H2: &[u8] = b"h2";

/// The system CA bundle [`backend_client_config`] uses when given no trust file
/// (Debian/Ubuntu/Alpine layout).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Why a TLS configuration could not be built, or a peer's identity could not be read.
#[derive(Debug)]
pub enum TlsError {
    /// A file could not be read (missing, unreadable, a directory, ...).
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file is empty or only whitespace.
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// A file is not well-formed PEM.
    Pem {
        /// The file.
        path: PathBuf,
        /// What is malformed.
        cause: String,
    },
    /// A certificate file holds no `CERTIFICATE` block.
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// Extra help, e.g. that the file holds a key instead (may be empty).
        hint: &'static str,
    },
    /// A key file holds no usable private key block (PKCS#8, SEC1 or PKCS#1).
    NoPrivateKey {
        /// The file.
        path: PathBuf,
        /// Extra help, e.g. that the key is encrypted (may be empty).
        hint: &'static str,
    },
    /// A certificate in a file is not valid X.509 DER.
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// The certificate's position in the file, from 0.
        index: usize,
        /// What the parser rejected.
        cause: String,
    },
    /// A CA file holds a certificate without `basicConstraints cA=TRUE`.
    NotCa {
        /// The file.
        path: PathBuf,
        /// The certificate's position in the file, from 0.
        index: usize,
    },
    /// Our own certificate (the leaf of a cert file) is a CA certificate; peers refuse those.
    LeafIsCa {
        /// The file.
        path: PathBuf,
    },
    /// A certificate's `notAfter` has passed.
    Expired {
        /// The file.
        path: PathBuf,
        /// The certificate's position in the file, from 0.
        index: usize,
        /// `notAfter`, as `YYYY-MM-DDTHH:MM:SSZ`.
        not_after: String,
    },
    /// A certificate's `notBefore` is in the future (or the clock is wrong).
    NotYetValid {
        /// The file.
        path: PathBuf,
        /// The certificate's position in the file, from 0.
        index: usize,
        /// `notBefore`, as `YYYY-MM-DDTHH:MM:SSZ`.
        not_before: String,
    },
    /// The crypto provider cannot use the private key (unsupported algorithm or curve, or
    /// malformed).
    UnsupportedKey {
        /// The key file.
        path: PathBuf,
        /// The provider's reason.
        cause: String,
    },
    /// The private key does not belong to the leaf certificate.
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// A trust bundle holds no certificate usable as a trust anchor.
    NoTrustAnchors {
        /// The bundle.
        path: PathBuf,
    },
    /// No trust file was given and the system CA bundle cannot be read.
    NoSystemBundle {
        /// The expected bundle path ([`SYSTEM_CA_BUNDLE`]).
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The client-certificate verifier could not be built from the CA file.
    Verifier {
        /// The CA file.
        path: PathBuf,
        /// rustls' reason.
        source: rustls::server::VerifierBuilderError,
    },
    /// rustls refused a configuration step.
    Rustls {
        /// The step.
        context: &'static str,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// A tenant/location name or identity URI breaks the rule documented on [`Identity`].
    InvalidIdentity {
        /// The offending name or URI.
        input: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The peer presented no certificate.
    PeerNoCertificate,
    /// The peer's leaf certificate could not be parsed.
    PeerCertificate(webpki::Error),
    /// The peer's leaf certificate has no `sallyport://` SAN URI.
    NoIdentity {
        /// The certificate's other URI SANs, to help spot a typo (may be empty).
        other_uris: Vec<String>,
    },
    /// The peer's leaf certificate has two different `sallyport://` SAN URIs.
    AmbiguousIdentity {
        /// Two of the different identity URIs.
        uris: Vec<String>,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::EmptyFile { path } => write!(f, "{} is empty", path.display()),
            Self::Pem { path, cause } => write!(f, "{} is not valid PEM: {cause}", path.display()),
            Self::NoCertificate { path, hint } => {
                write!(f, "{} holds no CERTIFICATE block{hint}", path.display())
            }
            Self::NoPrivateKey { path, hint } => {
                write!(f, "{} holds no private key{hint}", path.display())
            }
            Self::BadCertificate { path, index, cause } => write!(
                f,
                "certificate #{index} in {} is invalid: {cause}",
                path.display()
            ),
            Self::NotCa { path, index } => write!(
                f,
                "certificate #{index} in CA file {} is not a CA certificate (no basicConstraints cA=TRUE)",
                path.display()
            ),
            Self::LeafIsCa { path } => write!(
                f,
                "the first certificate in {} is a CA certificate, not a server/client certificate",
                path.display()
            ),
            Self::Expired { path, index, not_after } => write!(
                f,
                "certificate #{index} in {} expired at {not_after}",
                path.display()
            ),
            Self::NotYetValid { path, index, not_before } => write!(
                f,
                "certificate #{index} in {} is not valid before {not_before} (check the clock)",
                path.display()
            ),
            Self::UnsupportedKey { path, cause } => {
                write!(f, "private key {} is unusable: {cause}", path.display())
            }
            Self::KeyMismatch { cert, key } => write!(
                f,
                "private key {} does not belong to the certificate in {}",
                key.display(),
                cert.display()
            ),
            Self::NoTrustAnchors { path } => {
                write!(f, "{} holds no usable trust-anchor certificate", path.display())
            }
            Self::NoSystemBundle { path, source } => write!(
                f,
                "no trust file given and the system CA bundle {} cannot be read: {source}",
                path.display()
            ),
            Self::Verifier { path, source } => write!(
                f,
                "cannot build the client-certificate verifier from {}: {source}",
                path.display()
            ),
            Self::Rustls { context, source } => write!(f, "TLS configuration ({context}): {source}"),
            Self::InvalidIdentity { input, reason } => {
                write!(f, "invalid connector identity {input:?}: {reason}")
            }
            Self::PeerNoCertificate => write!(f, "the peer presented no certificate"),
            Self::PeerCertificate(e) => write!(f, "the peer's certificate is unparsable: {e}"),
            Self::NoIdentity { other_uris } if other_uris.is_empty() => write!(
                f,
                "the peer's certificate has no {URI_PREFIX}… SAN URI (no connector identity)"
            ),
            Self::NoIdentity { other_uris } => write!(
                f,
                "the peer's certificate has no {URI_PREFIX}… SAN URI (no connector identity); other URIs: {}",
                other_uris.join(", ")
            ),
            Self::AmbiguousIdentity { uris } => write!(
                f,
                "the peer's certificate names more than one connector identity: {}",
                uris.join(", ")
            ),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } | Self::NoSystemBundle { source, .. } => Some(source),
            Self::Verifier { source, .. } => Some(source),
            Self::Rustls { source, .. } => Some(source),
            Self::PeerCertificate(e) => Some(e),
            _ => None,
        }
    }
}
