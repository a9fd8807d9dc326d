//! Loading certificates and keys from PEM files, with the checks that turn a handshake failure
//! at 3 a.m. into a clear error at start-up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{Error as RustlsError, InconsistentKeys, RootCertStore};
use rustls_pki_types::pem::{Error as PemError, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use super::{x509, TlsError};

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_owned(),
        source,
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(TlsError::EmptyFile {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

fn pem_error(path: &Path, cause: PemError) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        cause: match cause {
            PemError::MissingSectionEnd { end_marker } => format!(
                "a section has no `{}` line",
                String::from_utf8_lossy(&end_marker)
            ),
            PemError::IllegalSectionStart { line } => {
                format!("malformed BEGIN line `{}`", String::from_utf8_lossy(&line))
            }
            PemError::Base64Decode(e) => format!("bad base64: {e}"),
            other => other.to_string(),
        },
    }
}

/// All certificates in a PEM file, in file order. Errors if the file is unreadable, empty,
/// malformed, or holds no `CERTIFICATE` block.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        let hint = if PrivateKeyDer::from_pem_slice(&bytes).is_ok() {
            " (it holds a private key: are the certificate and key paths swapped?)"
        } else {
            ""
        };
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
            hint,
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, SEC1 or PKCS#1) in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(PemError::NoItemsFound) => {
            let text = String::from_utf8_lossy(&bytes);
            let hint = if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
                " (it is encrypted; store it unencrypted with mode 0600)"
            } else if text.contains("-----BEGIN CERTIFICATE-----") {
                " (it holds a certificate: are the certificate and key paths swapped?)"
            } else {
                ""
            };
            Err(TlsError::NoPrivateKey {
                path: path.to_owned(),
                hint,
            })
        }
        Err(e) => Err(pem_error(path, e)),
    }
}

/// Refuses a certificate outside its validity period at `now`.
fn check_validity(
    path: &Path,
    index: usize,
    info: &x509::CertInfo<'_>,
    now: i64,
) -> Result<(), TlsError> {
    let path = path.to_owned();
    if now < info.not_before {
        return Err(TlsError::NotYetValid {
            path,
            index,
            not_before: x509::format_unix(info.not_before),
        });
    }
    if now > info.not_after {
        return Err(TlsError::Expired {
            path,
            index,
            not_after: x509::format_unix(info.not_after),
        });
    }
    Ok(())
}

fn parse_cert<'a>(
    path: &Path,
    index: usize,
    der: &'a CertificateDer<'_>,
) -> Result<x509::CertInfo<'a>, TlsError> {
    let bad = |cause: String| TlsError::BadCertificate {
        path: path.to_owned(),
        index,
        cause,
    };
    // webpki's parse is the one the handshake uses; ours only adds the fields it hides.
    webpki::EndEntityCert::try_from(der).map_err(|e| bad(e.to_string()))?;
    x509::parse(der).map_err(|e| bad(e.to_owned()))
}

fn now_unix() -> i64 {
    i64::try_from(UnixTime::now().as_secs()).unwrap_or(i64::MAX)
}

/// The trust anchors in a private CA file for the tunnel. Every certificate in it must be a
/// CA certificate (`basicConstraints cA=TRUE`) that is valid now: a leaf in a trust file, or
/// an expired CA, would make every handshake fail, and is better refused at start-up.
pub fn load_ca(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let certs = load_certs(path)?;
    let now = now_unix();
    let mut roots = RootCertStore::empty();
    for (index, der) in certs.iter().enumerate() {
        let info = parse_cert(path, index, der)?;
        if !info.is_ca {
            return Err(TlsError::NotCa {
                path: path.to_owned(),
                index,
            });
        }
        check_validity(path, index, &info, now)?;
        roots
            .add(der.clone())
            .map_err(|e| TlsError::BadCertificate {
                path: path.to_owned(),
                index,
                cause: e.to_string(),
            })?;
    }
    Ok(Arc::new(roots))
}

/// A certificate chain and its private key for our side of a handshake: the leaf must be
/// valid now and must not be a CA, and the key must belong to the leaf.
pub(crate) fn load_cert_and_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let chain = load_certs(cert)?;
    let info = parse_cert(cert, 0, &chain[0])?;
    check_validity(cert, 0, &info, now_unix())?;
    if info.is_ca {
        return Err(TlsError::LeafIsCa {
            path: cert.to_owned(),
        });
    }
    let key_der = load_key(key)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key_der.clone_key())
        .map_err(|e| TlsError::UnsupportedKey {
            path: key.to_owned(),
            cause: e.to_string(),
        })?;
    match CertifiedKey::new(chain.clone(), signing_key).keys_match() {
        // `Unknown`: the key type cannot report its public key; rustls skips the check too.
        Ok(()) | Err(RustlsError::InconsistentKeys(InconsistentKeys::Unknown)) => {}
        Err(RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::KeyMismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
            })
        }
        Err(e) => {
            return Err(TlsError::BadCertificate {
                path: cert.to_owned(),
                index: 0,
                cause: e.to_string(),
            })
        }
    }
    Ok((chain, key_der))
}

/// Trust anchors for backends from a PEM bundle: certificates webpki cannot use as anchors
/// are skipped (system bundles carry a few), but at least one must remain.
pub(crate) fn load_bundle(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(load_certs(path)?);
    if added == 0 {
        return Err(TlsError::NoTrustAnchors {
            path: PathBuf::from(path),
        });
    }
    Ok(roots)
}
