//! Caller authentication at the relay's front doors: JWTs verified against configured
//! identity providers ([`jwt`], [`keys`]) and argon2id password hashes ([`password`]).
//!
//! Verification order in [`Providers::validate`]: size cap, structure, `crit`, issuer (only to
//! choose the provider whose keys apply), algorithm allow-list, key by `kid` among that
//! provider's keys, signature; then `exp` (required), `nbf`, `aud` and the tenant claim. No
//! claim is trusted before the signature verifies.
//!
//! [`Providers::validate_cached`] remembers successful verifications ([`cache`]): the front
//! doors verify a token's signature once and re-check only its time claims on later use.

pub mod cache;
mod error;
pub mod jwt;
pub mod keys;
pub mod password;
#[cfg(test)]
mod tests;

pub use cache::VerifiedCache;
pub use error::{JwtError, KeyError};
pub use jwt::{IdentityProvider, Providers, Signer, Verified};
pub use keys::{KeyMaterial, VerifyKey};

use std::fmt;
use std::str::FromStr;

/// Signature algorithms a provider may allow (RFC 7518 names).
///
/// `none` and the HMAC family do not exist here: [`Alg::from_str`] refuses them with the
/// reason, so neither a configuration nor a token can select them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl Alg {
    /// Every algorithm, for a provider that allows whatever its keys permit.
    pub const ALL: [Alg; 9] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
    ];

    /// The RFC 7518 name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an algorithm name is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgRefused {
    /// The name given.
    pub name: String,
    /// Why it is refused.
    pub reason: &'static str,
}

impl fmt::Display for AlgRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "algorithm {:?} refused: {}", self.name, self.reason)
    }
}

impl std::error::Error for AlgRefused {}

impl FromStr for Alg {
    type Err = AlgRefused;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(a) = Alg::ALL.into_iter().find(|a| a.name() == s) {
            return Ok(a);
        }
        let reason = if s.eq_ignore_ascii_case("none") {
            "unsigned tokens (`none`) are never accepted"
        } else if s.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) {
            "HMAC algorithms are refused: the verifier would hold the signing secret, and an \
             RSA public key used as HMAC secret is the classic key-confusion attack"
        } else {
            "unknown; allowed are RS256/384/512, PS256/384/512, ES256, ES384 and EdDSA"
        };
        Err(AlgRefused {
            name: s.chars().take(32).collect(),
            reason,
        })
    }
}
