//! Signed checkpoints: a chain record whose ECDSA P-256 signature (the connector's key) covers
//! its sequence number, time, subaccount and `prev` — the hash of every record before it.
//!
//! Without a signature anyone who can write the files can rewrite the whole chain and recompute
//! every hash. A checkpoint pins the chain up to it to a key that stays on the connector.

use std::fmt;
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

use super::chain::{attach_sig, hex, unhex};
use super::AuditError;

/// The `kind` of a checkpoint line.
pub(crate) const CHECKPOINT_KIND: &str = "checkpoint";

/// Signs checkpoints with the connector's ECDSA P-256 key.
pub struct CheckpointSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    key_hex: String,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("public_key", &self.key_hex)
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// Loads a PKCS#8 PEM ECDSA P-256 key, as `sallyport pki` writes for connectors.
    pub fn from_pkcs8_pem_file(path: &Path) -> Result<Self, AuditError> {
        let bad = |reason: String| AuditError::SignerKey {
            path: path.to_owned(),
            reason,
        };
        let key = PrivateKeyDer::from_pem_file(path).map_err(|e| bad(e.to_string()))?;
        let PrivateKeyDer::Pkcs8(pkcs8) = key else {
            return Err(bad(
                "not a PKCS#8 key (expected `-----BEGIN PRIVATE KEY-----`)".into(),
            ));
        };
        Self::from_pkcs8_der(pkcs8.secret_pkcs8_der()).map_err(|e| match e {
            AuditError::SignerKey { reason, .. } => bad(reason),
            other => other,
        })
    }

    /// Builds a signer from PKCS#8 DER bytes of an ECDSA P-256 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, AuditError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng)
            .map_err(|e| AuditError::SignerKey {
            path: PathBuf::new(),
            reason: format!("not an ECDSA P-256 PKCS#8 key: {e}"),
        })?;
        let key_hex = hex(key.public_key().as_ref());
        Ok(Self { key, rng, key_hex })
    }

    /// The public key as written into checkpoints (uncompressed point, hex).
    pub fn public_key_hex(&self) -> &str {
        &self.key_hex
    }

    /// The checkpoint's canonical bytes (with `sig`, without `hash`).
    pub(crate) fn checkpoint(
        &self,
        seq: u64,
        time: &str,
        subaccount: &str,
        prev: &str,
    ) -> Result<Vec<u8>, AuditError> {
        let signed = serde_json::to_vec(&CheckpointBody {
            seq,
            time,
            kind: CHECKPOINT_KIND,
            subaccount,
            key: &self.key_hex,
            prev,
        })
        .map_err(|e| AuditError::Encode(e.to_string()))?;
        let sig = self
            .key
            .sign(&self.rng, &signed)
            .map_err(|_| AuditError::Sign)?;
        Ok(attach_sig(&signed, &hex(sig.as_ref())))
    }
}

#[derive(Serialize)]
struct CheckpointBody<'a> {
    seq: u64,
    time: &'a str,
    kind: &'static str,
    subaccount: &'a str,
    key: &'a str,
    prev: &'a str,
}

/// Verifies checkpoint signatures: against a certificate's key, or (without one) against the
/// key the checkpoint names, which only shows the checkpoint is self-consistent.
pub(crate) enum SigCheck {
    /// Check against the key embedded in each checkpoint.
    Embedded,
    /// Check against this certificate (DER).
    Cert(CertificateDer<'static>),
}

impl SigCheck {
    /// Loads the first certificate of a PEM file.
    pub(crate) fn from_cert_file(path: &Path) -> Result<Self, String> {
        let certs = crate::tls::load_certs(path).map_err(|e| e.to_string())?;
        let first = certs
            .into_iter()
            .next()
            .ok_or_else(|| format!("{}: no certificate in the file", path.display()))?;
        // Reject certificates webpki cannot parse now rather than per checkpoint.
        webpki::EndEntityCert::try_from(&first)
            .map_err(|e| format!("{}: not a usable certificate: {e}", path.display()))?;
        Ok(SigCheck::Cert(first))
    }

    /// `Ok` when `sig_hex` is a valid signature of `signed`; `Err` says why not.
    pub(crate) fn check(&self, signed: &[u8], sig_hex: &str, key_hex: &str) -> Result<(), String> {
        let sig = unhex(sig_hex).ok_or("signature is not hex")?;
        match self {
            SigCheck::Embedded => {
                let key = unhex(key_hex).ok_or("key is not hex")?;
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, key)
                    .verify(signed, &sig)
                    .map_err(|_| "signature does not verify with the key it names".to_owned())
            }
            SigCheck::Cert(der) => {
                let cert = webpki::EndEntityCert::try_from(der)
                    .map_err(|e| format!("certificate unusable: {e}"))?;
                cert.verify_signature(webpki::ring::ECDSA_P256_SHA256, signed, &sig)
                    .map_err(|_| "signature does not verify with the given certificate".to_owned())
            }
        }
    }
}
