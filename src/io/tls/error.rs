//! Errors of a TLS connection over compio.

use std::fmt;
use std::time::Duration;

use rustls::AlertDescription;

/// Why a TLS handshake, read or write failed.
///
/// After an error the connection is finished: the half that failed, and the writer if the reader
/// failed, answer [`TlsIoError::Closed`] from then on.
#[derive(Debug)]
pub enum TlsIoError {
    /// The handshake did not finish within the allowed time (a slow or silent peer).
    HandshakeTimeout(Duration),
    /// The peer closed the TCP connection before the handshake finished.
    HandshakeEof,
    /// We rejected the peer's certificate: untrusted issuer, wrong name or usage, expired,
    /// or no certificate at all when one is required.
    CertificateRejected(rustls::Error),
    /// The peer rejected our certificate (it sent a certificate alert such as `UnknownCA` or
    /// `CertificateRequired`). In TLS 1.3 a client learns this only on its first read.
    RejectedByPeer(rustls::Error),
    /// Any other TLS protocol failure (bad record, unexpected message, no common cipher suite,
    /// a fatal alert from the peer).
    Tls(rustls::Error),
    /// The peer closed the TCP connection without a TLS close_notify first, so the data may
    /// have been cut short (a truncation attack or a crashed peer).
    Truncated,
    /// A socket error.
    Io(std::io::Error),
    /// The connection was closed with `close()` or ended by an earlier error (which that earlier
    /// call returned).
    Closed,
    /// An earlier `read` or `write` future was dropped while its socket operation was in
    /// flight: the position in the TLS stream is lost, so the connection cannot go on.
    Cancelled,
    /// rustls refuses to encrypt more records under the current keys (only reachable if key
    /// updates fail; TLS 1.3 normally renews keys long before).
    KeysExhausted,
    /// rustls returned a state this module does not expect (for example early data, which is
    /// never enabled). A bug here or a change in rustls.
    Internal(&'static str),
}

impl TlsIoError {
    /// Sorts a rustls error into "our verification failed", "the peer rejected us" or "other".
    pub(super) fn from_rustls(e: rustls::Error) -> Self {
        use rustls::Error as E;
        match &e {
            E::InvalidCertificate(_)
            | E::NoCertificatesPresented
            | E::InvalidCertRevocationList(_) => TlsIoError::CertificateRejected(e),
            E::AlertReceived(
                AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateRequired
                | AlertDescription::AccessDenied,
            ) => TlsIoError::RejectedByPeer(e),
            _ => TlsIoError::Tls(e),
        }
    }
}

impl fmt::Display for TlsIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsIoError::HandshakeTimeout(d) => {
                write!(f, "TLS handshake timed out after {} ms", d.as_millis())
            }
            TlsIoError::HandshakeEof => {
                f.write_str("peer closed the connection during the TLS handshake")
            }
            TlsIoError::CertificateRejected(e) => write!(f, "certificate rejected: {e}"),
            TlsIoError::RejectedByPeer(e) => {
                write!(f, "our certificate was rejected by the peer: {e}")
            }
            TlsIoError::Tls(e) => write!(f, "TLS error: {e}"),
            TlsIoError::Truncated => f.write_str(
                "peer closed the connection without close_notify (data may be truncated)",
            ),
            TlsIoError::Io(e) => write!(f, "I/O error: {e}"),
            TlsIoError::Closed => f.write_str("TLS connection already closed or failed"),
            TlsIoError::Cancelled => f.write_str(
                "TLS connection unusable: an earlier read or write was cancelled mid-operation",
            ),
            TlsIoError::KeysExhausted => {
                f.write_str("TLS traffic keys exhausted and could not be renewed")
            }
            TlsIoError::Internal(what) => write!(f, "internal TLS state error: {what}"),
        }
    }
}

impl std::error::Error for TlsIoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsIoError::CertificateRejected(e)
            | TlsIoError::RejectedByPeer(e)
            | TlsIoError::Tls(e) => Some(e),
            TlsIoError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for TlsIoError {
    fn from(e: std::io::Error) -> Self {
        TlsIoError::Io(e)
    }
}
