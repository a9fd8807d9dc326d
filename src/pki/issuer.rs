//! Re-creating an rcgen issuer from an existing CA's `ca.pem` + `ca.key`.
//!
//! rcgen's own `Issuer::from_ca_cert_pem` needs its `x509-parser` feature (a dozen more
//! crates); an issuer is only a subject name, a key identifier and a key, so this takes the
//! first two from the certificate with [`x509`] and checks the result end to end instead:
//! [`CaIssuer::verify_client_cert`] runs rustls' client verifier, the relay's code path.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::string::{Ia5String, PrintableString, TeletexString};
use rcgen::PublicKeyData;
use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, Issuer, KeyIdMethod, KeyPair};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

use super::{now_unix, PkiError};
use crate::tls::{load_certs, x509};

/// A CA loaded from disk, ready to issue certificates.
pub(crate) struct CaIssuer {
    /// The rcgen issuer (subject name, key identifier, signing key).
    pub issuer: Issuer<'static, KeyPair>,
    /// The CA certificate's `notAfter`, Unix seconds.
    pub not_after: i64,
    cert: CertificateDer<'static>,
    cert_path: PathBuf,
}

/// Loads `dir/ca.pem` and `dir/ca.key`: the certificate must be a CA valid now, the key must
/// be its key, and its subject name must be one rcgen can re-encode.
pub(crate) fn load_issuer(dir: &Path) -> Result<CaIssuer, PkiError> {
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("ca.key");
    let ca_err = |reason: String| PkiError::Ca {
        path: cert_path.clone(),
        reason,
    };
    let cert = load_certs(&cert_path)
        .map_err(PkiError::Tls)?
        .swap_remove(0);
    let info = x509::parse(&cert).map_err(|e| ca_err(e.to_owned()))?;
    if !info.is_ca {
        return Err(ca_err("it is not a CA certificate".to_owned()));
    }
    let now = now_unix()?;
    if now > info.not_after {
        let when = x509::format_unix(info.not_after);
        return Err(ca_err(format!("it expired at {when}")));
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = subject_name(info.subject).map_err(ca_err)?;
    if let Some(ski) = info.subject_key_id {
        // Issued certificates' authorityKeyIdentifier must equal this, whatever method made it.
        params.key_identifier_method = KeyIdMethod::PreSpecified(ski.to_vec());
    }

    let key_pem = std::fs::read_to_string(&key_path).map_err(|source| PkiError::Read {
        path: key_path.clone(),
        source,
    })?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| PkiError::CaKey {
        path: key_path.clone(),
        reason: e.to_string(),
    })?;
    let cert_spki = webpki::EndEntityCert::try_from(&cert)
        .map_err(|e| ca_err(e.to_string()))?
        .subject_public_key_info();
    if key.subject_public_key_info() != cert_spki.as_ref() {
        return Err(PkiError::CaKey {
            path: key_path,
            reason: format!("it is not the key of {}", cert_path.display()),
        });
    }
    Ok(CaIssuer {
        issuer: Issuer::new(params, key),
        not_after: info.not_after,
        cert,
        cert_path,
    })
}

/// The subject name as an rcgen `DistinguishedName` that encodes to the same bytes.
fn subject_name(der: &[u8]) -> Result<DistinguishedName, String> {
    let mut dn = DistinguishedName::new();
    for attr in x509::name_attrs(der).map_err(str::to_owned)? {
        let ty = DnType::from_oid(&attr.oid);
        if dn.get(&ty).is_some() {
            // rcgen keeps one value per attribute type and would drop this one.
            return Err(format!("its subject repeats attribute {:?}", attr.oid));
        }
        let text = std::str::from_utf8(attr.value)
            .map_err(|_| "its subject name has a non-UTF-8 string".to_owned())?;
        let unsupported = |_| format!("its subject has an invalid string (tag {:#x})", attr.tag);
        let value = match attr.tag {
            0x0c => DnValue::Utf8String(text.to_owned()),
            0x13 => DnValue::PrintableString(PrintableString::try_from(text).map_err(unsupported)?),
            0x16 => DnValue::Ia5String(Ia5String::try_from(text).map_err(unsupported)?),
            0x14 => DnValue::TeletexString(TeletexString::try_from(text).map_err(unsupported)?),
            tag => {
                return Err(format!(
                    "its subject uses an unsupported string type (tag {tag:#x})"
                ))
            }
        };
        dn.push(ty, value);
    }
    Ok(dn)
}

impl CaIssuer {
    /// Verifies a PEM client certificate against this CA with rustls' client verifier.
    pub(crate) fn verify_client_cert(&self, pem: &str, what: &str) -> Result<(), PkiError> {
        let fail = |reason: String| PkiError::SelfCheck {
            what: what.to_owned(),
            reason,
        };
        let leaf =
            CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| fail(e.to_string()))?;
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).map_err(|e| PkiError::Ca {
            path: self.cert_path.clone(),
            reason: e.to_string(),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        verifier
            .verify_client_cert(&leaf, &[], UnixTime::now())
            .map(drop)
            .map_err(|e| fail(e.to_string()))
    }
}
