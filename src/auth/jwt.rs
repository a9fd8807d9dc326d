//! JWT (RFC 7519, compact JWS) verification against configured identity providers, and a
//! [`Signer`] that mints tokens for tests and `sallyport token issue`.

use super::cache::{TimeWindow, VerifiedCache};
use super::error::{JwtError, KeyError};
use super::keys::VerifyKey;
use super::Alg;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair as _};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::{Map, Value};

/// Default cap on a token's length (bytes). SAP's XSUAA tokens with many scopes stay well
/// below 8 KiB; 16 KiB leaves room without letting a client make us parse megabytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 << 10;
/// Default clock-skew allowance for `exp` and `nbf`, seconds.
pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 60;

/// One trusted token issuer.
#[derive(Clone, Debug)]
pub struct IdentityProvider {
    /// A name for logs and audit records.
    pub name: String,
    /// The exact `iss` its tokens carry; selects this provider.
    pub issuer: String,
    /// The audience tokens must name (in `aud`, a string or an array).
    pub audience: String,
    /// Algorithms allowed for this provider (each key further restricts by its type).
    pub algorithms: Vec<Alg>,
    /// Its verification keys; tokens choose one by `kid`.
    pub keys: Vec<VerifyKey>,
    /// The claim that names the tenant (SAP XSUAA: `zid`).
    pub tenant_claim: String,
    /// Allowance for clock differences on `exp` and `nbf`, seconds.
    pub clock_skew: u64,
}

/// The configured providers, the token size cap, and the cache of tokens verified with them.
///
/// The cache answers [`Providers::validate_cached`] only for this value: a clone starts with
/// an empty cache, and the relay builds new `Providers` on every configuration reload, so a
/// cached answer never outlives the keys it was verified with. Edit `providers` only before
/// the first `validate_cached` (or call [`VerifiedCache::clear`] on [`Providers::cache`]).
#[derive(Debug)]
pub struct Providers {
    /// The providers, distinct by issuer.
    pub providers: Vec<IdentityProvider>,
    /// The largest token accepted, bytes.
    pub max_token_len: usize,
    cache: VerifiedCache,
}

impl Clone for Providers {
    /// The same providers with an empty cache of the same capacity: a clone may be edited
    /// into another key set, and must not inherit answers given under this one.
    fn clone(&self) -> Self {
        Providers {
            providers: self.providers.clone(),
            max_token_len: self.max_token_len,
            cache: VerifiedCache::with_capacity(self.cache.capacity()),
        }
    }
}

/// What a valid token establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The provider's name.
    pub provider: String,
    /// The tenant from the provider's tenant claim (a valid tenant name).
    pub tenant: String,
    /// `sub`, if present.
    pub subject: Option<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires_at: u64,
}

impl Providers {
    /// Providers with the default size cap and an empty cache of
    /// [`DEFAULT_CAPACITY`](super::cache::DEFAULT_CAPACITY) entries.
    pub fn new(providers: Vec<IdentityProvider>) -> Self {
        Self::with_cache_capacity(providers, super::cache::DEFAULT_CAPACITY)
    }

    /// Providers with the default size cap and a cache of at most `capacity` verified tokens
    /// (see [`VerifiedCache::with_capacity`]).
    pub fn with_cache_capacity(providers: Vec<IdentityProvider>, capacity: usize) -> Self {
        Providers {
            providers,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            cache: VerifiedCache::with_capacity(capacity),
        }
    }

    /// The cache of tokens verified by [`Providers::validate_cached`].
    pub fn cache(&self) -> &VerifiedCache {
        &self.cache
    }

    /// True when no provider is configured (the JWT method is then not offered).
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Verifies `token` at `now_unix` (seconds since the Unix epoch), in full, every time.
    pub fn validate(&self, token: &[u8], now_unix: u64) -> Result<Verified, JwtError> {
        self.check_size(token)?;
        self.verify(token, now_unix).map(|(v, _)| v)
    }

    /// [`Providers::validate`], remembering successes: a token verified before (the same
    /// bytes, with these providers) skips parsing and the signature check, but its `exp` and
    /// `nbf` are checked again at `now_unix`, exactly as `validate` checks them. Failures are
    /// never cached. The size cap is checked first, before the token is hashed.
    pub fn validate_cached(&self, token: &[u8], now_unix: u64) -> Result<Verified, JwtError> {
        self.check_size(token)?;
        let key = VerifiedCache::digest(token);
        if let Some(outcome) = self.cache.lookup(&key, now_unix) {
            return outcome;
        }
        let (verified, window) = self.verify(token, now_unix)?;
        self.cache.insert(key, verified.clone(), window, now_unix);
        Ok(verified)
    }

    fn check_size(&self, token: &[u8]) -> Result<(), JwtError> {
        if token.len() > self.max_token_len {
            return Err(JwtError::TooLarge {
                len: token.len(),
                max: self.max_token_len,
            });
        }
        Ok(())
    }

    /// Every check after the size cap; also returns the time window a cache hit re-checks.
    fn verify(&self, token: &[u8], now_unix: u64) -> Result<(Verified, TimeWindow), JwtError> {
        let mut parts = token.split(|b| *b == b'.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed("not three dot-separated parts"));
        };
        let header = json_object(h64, "header")?;
        let claims = json_object(p64, "payload")?;
        let sig = URL_SAFE_NO_PAD
            .decode(s64)
            .map_err(|_| JwtError::Malformed("signature is not base64url"))?;
        if header.contains_key("crit") {
            return Err(JwtError::CriticalHeader);
        }
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(JwtError::Malformed("header has no string `alg`"))?;
        let alg: Alg =
            alg_name
                .parse()
                .map_err(|e: super::AlgRefused| JwtError::AlgorithmRefused {
                    alg: e.name,
                    reason: e.reason.to_owned(),
                })?;
        // The unverified `iss` only chooses whose keys to try; a forged one finds keys that
        // do not verify the signature.
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        let provider = self
            .providers
            .iter()
            .find(|p| p.issuer == iss)
            .ok_or_else(|| JwtError::UnknownIssuer(iss.chars().take(128).collect()))?;
        if !provider.algorithms.contains(&alg) {
            return Err(JwtError::AlgorithmRefused {
                alg: alg.name().to_owned(),
                reason: format!("not allowed for provider {:?}", provider.name),
            });
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.as_str()),
            Some(_) => return Err(JwtError::Malformed("`kid` is not a string")),
        };
        let key = match kid {
            Some(kid) => provider.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if provider.keys.len() == 1 => provider.keys.first(),
            None => None,
        }
        .ok_or_else(|| JwtError::UnknownKey {
            kid: kid.map(|k| k.chars().take(128).collect()),
            provider: provider.name.clone(),
        })?;
        if !key.permits(alg) {
            return Err(JwtError::AlgorithmRefused {
                alg: alg.name().to_owned(),
                reason: format!("key {kid:?} is a {} key", key.material.kind()),
            });
        }
        // The signing input is the first two parts exactly as received.
        let signed_len = h64.len() + 1 + p64.len();
        let signing_input = token.get(..signed_len).unwrap_or_default();
        if !key.verify(alg, signing_input, &sig) {
            return Err(JwtError::BadSignature);
        }

        let skew = provider.clock_skew;
        let exp = numeric(&claims, "exp").ok_or(JwtError::MissingExpiry)?;
        TimeWindow::check_exp(exp, skew, now_unix)?;
        let nbf = if claims.contains_key("nbf") {
            let nbf =
                numeric(&claims, "nbf").ok_or(JwtError::Malformed("`nbf` is not a number"))?;
            TimeWindow::check_nbf(nbf, skew, now_unix)?;
            Some(nbf)
        } else {
            None
        };
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == provider.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&provider.audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(JwtError::WrongAudience {
                expected: provider.audience.clone(),
            });
        }
        let bad_tenant = |reason: String| JwtError::BadTenantClaim {
            claim: provider.tenant_claim.clone(),
            reason,
        };
        let tenant = claims
            .get(&provider.tenant_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| bad_tenant("missing or not a string".into()))?;
        crate::tls::check_name("tenant", tenant).map_err(|e| bad_tenant(e.to_string()))?;
        let verified = Verified {
            provider: provider.name.clone(),
            tenant: tenant.to_owned(),
            subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            expires_at: exp,
        };
        Ok((verified, TimeWindow { exp, nbf, skew }))
    }
}

fn json_object(part: &[u8], what: &'static str) -> Result<Map<String, Value>, JwtError> {
    let raw = URL_SAFE_NO_PAD.decode(part).map_err(|_| {
        JwtError::Malformed(if what == "header" {
            "header is not base64url"
        } else {
            "payload is not base64url"
        })
    })?;
    match serde_json::from_slice(&raw) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwtError::Malformed(if what == "header" {
            "header is not a JSON object"
        } else {
            "payload is not a JSON object"
        })),
    }
}

/// A NumericDate claim as whole seconds (fractions truncated; negative or absent → None).
fn numeric(claims: &Map<String, Value>, name: &str) -> Option<u64> {
    let v = claims.get(name)?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    })
}

enum SigningKey {
    Ecdsa(signature::EcdsaKeyPair),
    Ed25519(signature::Ed25519KeyPair),
    Rsa(signature::RsaKeyPair),
}

/// Mints tokens with a local private key: ES256 (P-256), EdDSA (Ed25519) or RS256 (RSA).
pub struct Signer {
    key: SigningKey,
    kid: Option<String>,
    rng: SystemRandom,
}

impl Signer {
    /// Loads a PKCS#8 `PRIVATE KEY` PEM; the key type picks the algorithm.
    pub fn from_pkcs8_pem(pem: &[u8], kid: Option<String>) -> Result<Signer, KeyError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem)
            .map_err(|e| KeyError::Malformed(format!("no PKCS#8 `PRIVATE KEY` PEM block: {e}")))?;
        Self::from_pkcs8_der(der.secret_pkcs8_der(), kid)
    }

    /// Loads a PKCS#8 DER key.
    pub fn from_pkcs8_der(der: &[u8], kid: Option<String>) -> Result<Signer, KeyError> {
        let rng = SystemRandom::new();
        let key = if let Ok(k) = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der,
            &rng,
        ) {
            SigningKey::Ecdsa(k)
        } else if let Ok(k) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            SigningKey::Ed25519(k)
        } else {
            SigningKey::Rsa(
                signature::RsaKeyPair::from_pkcs8(der)
                    .map_err(|e| KeyError::Rejected(e.to_string()))?,
            )
        };
        Ok(Signer { key, kid, rng })
    }

    /// The algorithm this signer uses.
    pub fn alg(&self) -> Alg {
        match self.key {
            SigningKey::Ecdsa(_) => Alg::ES256,
            SigningKey::Ed25519(_) => Alg::EdDSA,
            SigningKey::Rsa(_) => Alg::RS256,
        }
    }

    /// The matching verification key (same `kid`).
    pub fn verify_key(&self) -> VerifyKey {
        use super::keys::KeyMaterial;
        let material = match &self.key {
            SigningKey::Ecdsa(k) => KeyMaterial::P256(k.public_key().as_ref().to_vec()),
            SigningKey::Ed25519(k) => {
                let mut raw = [0u8; 32];
                raw.copy_from_slice(k.public_key().as_ref().get(..32).unwrap_or(&[0; 32]));
                KeyMaterial::Ed25519(raw)
            }
            SigningKey::Rsa(k) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(k.public_key());
                KeyMaterial::Rsa { n: c.n, e: c.e }
            }
        };
        VerifyKey {
            kid: self.kid.clone(),
            material,
            alg: None,
        }
    }

    /// Signs `claims` (a JSON object) into a compact JWT with header `{alg, typ, kid?}`.
    pub fn issue(&self, claims: &Value) -> Result<String, KeyError> {
        if !claims.is_object() {
            return Err(KeyError::NotAnObject);
        }
        let mut header = Map::new();
        header.insert("alg".into(), self.alg().name().into());
        header.insert("typ".into(), "JWT".into());
        if let Some(kid) = &self.kid {
            header.insert("kid".into(), kid.clone().into());
        }
        let mut token = URL_SAFE_NO_PAD.encode(Value::Object(header).to_string());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(token)
    }

    /// Raw signature over `msg` with this signer's algorithm (tests build hostile tokens with
    /// it).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.key {
            SigningKey::Ecdsa(k) => k
                .sign(&self.rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
            SigningKey::Ed25519(k) => Ok(k.sign(msg).as_ref().to_vec()),
            SigningKey::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &self.rng, msg, &mut sig)
                    .map_err(|_| KeyError::Signing)?;
                Ok(sig)
            }
        }
    }
}
