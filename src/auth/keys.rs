//! Verification keys: from PEM (SPKI `PUBLIC KEY` or a certificate) and from JWKS files.
//!
//! A key's type decides which algorithms it may verify ([`VerifyKey::permits`]): an RSA key
//! never verifies ES*, a P-256 key only ES256, an Ed25519 key only EdDSA. HMAC keys do not
//! exist here at all, which is what rules out the RS256 → HS256 confusion by construction.

use super::error::KeyError;
use super::Alg;
use base64::Engine as _;
use ring::signature;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, SubjectPublicKeyInfoDer};

/// The public key material, by type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyMaterial {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// An uncompressed P-256 point (`04 || x || y`).
    P256(Vec<u8>),
    /// An uncompressed P-384 point (`04 || x || y`).
    P384(Vec<u8>),
    /// An Ed25519 public key.
    Ed25519([u8; 32]),
}

impl KeyMaterial {
    /// The key type's name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::P256(_) => "EC P-256",
            KeyMaterial::P384(_) => "EC P-384",
            KeyMaterial::Ed25519(_) => "Ed25519",
        }
    }
}

/// One key an identity provider signs with.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyKey {
    /// The key id tokens name in their `kid` header.
    pub kid: Option<String>,
    /// The key itself.
    pub material: KeyMaterial,
    /// When the JWKS entry names an `alg`, only that algorithm (else any the type permits).
    pub alg: Option<Alg>,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("type", &self.material.kind())
            .field("alg", &self.alg)
            .finish()
    }
}

impl VerifyKey {
    /// True if this key may verify `alg`: the key type binds the algorithm family.
    pub fn permits(&self, alg: Alg) -> bool {
        let by_type = matches!(
            (&self.material, alg),
            (
                KeyMaterial::Rsa { .. },
                Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512
            ) | (KeyMaterial::P256(_), Alg::ES256)
                | (KeyMaterial::P384(_), Alg::ES384)
                | (KeyMaterial::Ed25519(_), Alg::EdDSA)
        );
        by_type && self.alg.is_none_or(|a| a == alg)
    }

    /// Checks `sig` over `msg` with `alg`; false also when the key does not permit `alg`.
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
        if !self.permits(alg) {
            return false;
        }
        match &self.material {
            KeyMaterial::Rsa { n, e } => {
                let params: &signature::RsaParameters = match alg {
                    Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                signature::RsaPublicKeyComponents { n, e }
                    .verify(params, msg, sig)
                    .is_ok()
            }
            KeyMaterial::P256(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            KeyMaterial::P384(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            KeyMaterial::Ed25519(key) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, key)
                    .verify(msg, sig)
                    .is_ok()
            }
        }
    }

    /// Reads one key from PEM text: a `PUBLIC KEY` (SPKI) block, else the first
    /// `CERTIFICATE` block's subject public key. `kid` is the id tokens must name.
    pub fn from_pem(pem: &[u8], kid: Option<String>) -> Result<VerifyKey, KeyError> {
        let spki = if let Ok(spki) = SubjectPublicKeyInfoDer::from_pem_slice(pem) {
            spki.as_ref().to_vec()
        } else if let Ok(cert) = CertificateDer::from_pem_slice(pem) {
            cert_spki(cert.as_ref())
                .map_err(|e| KeyError::Malformed(format!("certificate: {e}")))?
                .to_vec()
        } else {
            return Err(KeyError::Malformed(
                "no `PUBLIC KEY` or `CERTIFICATE` PEM block found".into(),
            ));
        };
        let material = spki_material(&spki).map_err(KeyError::Malformed)?;
        Ok(VerifyKey {
            kid,
            material,
            alg: None,
        })
    }

    /// Reads every signing key of a JWKS document (`{"keys": [...]}`).
    ///
    /// Keys whose `use` is not `sig` are skipped; a key with an unknown `kty`/`crv` or a
    /// malformed member is an error naming its index, because silently dropping a key would
    /// turn into "unknown kid" failures far from the cause.
    pub fn from_jwks(json: &[u8]) -> Result<Vec<VerifyKey>, KeyError> {
        let doc: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| KeyError::Malformed(format!("JWKS is not JSON: {e}")))?;
        let keys = doc
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| KeyError::Malformed("JWKS has no `keys` array".into()))?;
        let mut out = Vec::with_capacity(keys.len());
        for (i, jwk) in keys.iter().enumerate() {
            if jwk
                .get("use")
                .and_then(|u| u.as_str())
                .is_some_and(|u| u != "sig")
            {
                continue;
            }
            out.push(jwk_key(jwk).map_err(|e| KeyError::Malformed(format!("JWKS key {i}: {e}")))?);
        }
        if out.is_empty() {
            return Err(KeyError::Malformed("JWKS holds no signing key".into()));
        }
        Ok(out)
    }
}

fn jwk_key(jwk: &serde_json::Value) -> Result<VerifyKey, String> {
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let s = jwk
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("member `{name}` missing"))?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT
            .decode(s)
            .map_err(|e| format!("member `{name}` is not base64url: {e}"))
    };
    let kty = jwk.get("kty").and_then(|v| v.as_str()).unwrap_or("");
    let crv = jwk.get("crv").and_then(|v| v.as_str()).unwrap_or("");
    let material = match (kty, crv) {
        ("RSA", _) => KeyMaterial::Rsa {
            n: strip_zeros(field("n")?),
            e: strip_zeros(field("e")?),
        },
        ("EC", "P-256") => KeyMaterial::P256(ec_point(&field("x")?, &field("y")?, 32)?),
        ("EC", "P-384") => KeyMaterial::P384(ec_point(&field("x")?, &field("y")?, 48)?),
        ("OKP", "Ed25519") => KeyMaterial::Ed25519(
            field("x")?
                .try_into()
                .map_err(|_| "Ed25519 `x` is not 32 bytes".to_string())?,
        ),
        ("oct", _) => {
            return Err(
                "symmetric (`oct`) keys are refused: HMAC-signed tokens are not accepted".into(),
            )
        }
        _ => return Err(format!("unsupported key type kty={kty:?} crv={crv:?}")),
    };
    let alg = match jwk.get("alg").and_then(|v| v.as_str()) {
        Some(a) => Some(a.parse::<Alg>().map_err(|e| e.to_string())?),
        None => None,
    };
    let key = VerifyKey {
        kid: jwk.get("kid").and_then(|v| v.as_str()).map(str::to_owned),
        material,
        alg,
    };
    if let Some(a) = alg {
        if !key.permits(a) {
            return Err(format!(
                "`alg` {a} does not fit a {} key",
                key.material.kind()
            ));
        }
    }
    Ok(key)
}

fn ec_point(x: &[u8], y: &[u8], len: usize) -> Result<Vec<u8>, String> {
    if x.len() != len || y.len() != len {
        return Err(format!("EC coordinates must be {len} bytes each"));
    }
    let mut p = Vec::with_capacity(1 + 2 * len);
    p.push(0x04);
    p.extend_from_slice(x);
    p.extend_from_slice(y);
    Ok(p)
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let lead = v.iter().take_while(|b| **b == 0).count();
    v.drain(..lead);
    v
}

// ----- a minimal DER walker (SPKI and the certificate path to it) -----

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const BIT_STRING: u8 = 0x03;
const INTEGER: u8 = 0x02;
const CTX0: u8 = 0xa0;
/// rsaEncryption, id-ecPublicKey, prime256v1, secp384r1, id-Ed25519 (DER contents).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

use crate::tls::x509::Der;

/// The SubjectPublicKeyInfo of a certificate (its DER encoding).
fn cert_spki(cert: &[u8]) -> Result<&[u8], String> {
    let mut outer = Der(Der(cert).expect(SEQUENCE)?);
    let mut tbs = Der(outer.expect(SEQUENCE)?);
    if tbs.0.first() == Some(&CTX0) {
        tbs.tlv()?; // version
    }
    for _ in 0..5 {
        tbs.tlv()?; // serial, signature, issuer, validity, subject
    }
    match tbs.tlv()? {
        (SEQUENCE, whole, _) => Ok(whole),
        _ => Err("DER: no SubjectPublicKeyInfo".into()),
    }
}

/// The key inside a SubjectPublicKeyInfo.
fn spki_material(spki: &[u8]) -> Result<KeyMaterial, String> {
    let mut seq = Der(Der(spki).expect(SEQUENCE)?);
    let mut alg = Der(seq.expect(SEQUENCE)?);
    let oid = alg.expect(OID)?;
    let bits = seq.expect(BIT_STRING)?;
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err("DER: public key bit string has unused bits".into()),
    };
    if oid == OID_RSA {
        let mut rsa = Der(Der(key).expect(SEQUENCE)?);
        let n = strip_zeros(rsa.expect(INTEGER)?.to_vec());
        let e = strip_zeros(rsa.expect(INTEGER)?.to_vec());
        Ok(KeyMaterial::Rsa { n, e })
    } else if oid == OID_EC {
        let curve = alg.expect(OID)?;
        if curve == OID_P256 && key.len() == 65 {
            Ok(KeyMaterial::P256(key.to_vec()))
        } else if curve == OID_P384 && key.len() == 97 {
            Ok(KeyMaterial::P384(key.to_vec()))
        } else {
            Err("EC key: only uncompressed P-256 and P-384 keys are supported".into())
        }
    } else if oid == OID_ED25519 {
        Ok(KeyMaterial::Ed25519(
            key.try_into().map_err(|_| "Ed25519 key is not 32 bytes")?,
        ))
    } else {
        Err("unsupported public key algorithm (RSA, EC P-256/P-384 and Ed25519 are)".into())
    }
}
