//! Errors of the authentication module: [`JwtError`] for a token that fails a check,
//! [`KeyError`] for key material that cannot be loaded or used.

use std::fmt;

/// Why a token was refused. Each variant names the check that failed; none carries the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwtError {
    /// The token is longer than the cap (checked first, before any parsing).
    TooLarge {
        /// The token's length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Not three base64url parts of a JSON header and a JSON object payload.
    Malformed(&'static str),
    /// The header's `alg` is refused (`none`, HS*, unknown) or not in the provider's list.
    AlgorithmRefused {
        /// The `alg` value (truncated).
        alg: String,
        /// Why.
        reason: String,
    },
    /// The header carries `crit`: extensions we do not implement must not be ignored
    /// (RFC 7515 §4.1.11), so any `crit` is refused.
    CriticalHeader,
    /// No configured provider has the token's `iss` (or the token has none).
    UnknownIssuer(String),
    /// The `kid` names no key of the provider, or no `kid` while the provider has several keys.
    UnknownKey {
        /// The `kid` from the header, if any.
        kid: Option<String>,
        /// The provider consulted.
        provider: String,
    },
    /// The signature does not verify with the chosen key and algorithm.
    BadSignature,
    /// `exp` is missing or not a number.
    MissingExpiry,
    /// `exp` (plus the clock-skew allowance) has passed.
    Expired {
        /// The token's `exp`.
        exp: u64,
        /// The time it was checked at.
        now: u64,
    },
    /// `nbf` (minus the allowance) is still in the future.
    NotYetValid {
        /// The token's `nbf`.
        nbf: u64,
        /// The time it was checked at.
        now: u64,
    },
    /// `aud` is missing or does not contain the provider's audience.
    WrongAudience {
        /// The audience required.
        expected: String,
    },
    /// The tenant claim is missing, not a string, or not a valid tenant name.
    BadTenantClaim {
        /// The claim's name.
        claim: String,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::TooLarge { len, max } => {
                write!(f, "token of {len} bytes exceeds the limit of {max} bytes")
            }
            JwtError::Malformed(what) => write!(f, "malformed token: {what}"),
            JwtError::AlgorithmRefused { alg, reason } => {
                write!(f, "algorithm {alg:?} refused: {reason}")
            }
            JwtError::CriticalHeader => {
                f.write_str("token header has `crit` extensions, which are not supported")
            }
            JwtError::UnknownIssuer(iss) => {
                write!(f, "issuer {iss:?} is not a configured identity provider")
            }
            JwtError::UnknownKey {
                kid: Some(kid),
                provider,
            } => {
                write!(
                    f,
                    "key id {kid:?} is not among the keys of provider {provider:?}"
                )
            }
            JwtError::UnknownKey {
                kid: None,
                provider,
            } => write!(
                f,
                "token has no `kid` and provider {provider:?} has several keys; name one"
            ),
            JwtError::BadSignature => f.write_str("signature does not verify"),
            JwtError::MissingExpiry => f.write_str("token has no numeric `exp` claim"),
            JwtError::Expired { exp, now } => {
                write!(
                    f,
                    "token expired at {exp} (now {now}, beyond the clock-skew allowance)"
                )
            }
            JwtError::NotYetValid { nbf, now } => {
                write!(f, "token not valid before {nbf} (now {now})")
            }
            JwtError::WrongAudience { expected } => {
                write!(f, "token audience does not include {expected:?}")
            }
            JwtError::BadTenantClaim { claim, reason } => {
                write!(f, "tenant claim {claim:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for JwtError {}

/// Why key material could not be loaded or used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The PEM/DER/JWKS input is malformed or of an unsupported type; the text says which.
    Malformed(String),
    /// A private key ring refuses (wrong type, inconsistent, too small).
    Rejected(String),
    /// Signing failed (ring's RNG or an internal error).
    Signing,
    /// Claims to sign are not a JSON object.
    NotAnObject,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Malformed(why) => write!(f, "key: {why}"),
            KeyError::Rejected(why) => write!(
                f,
                "private key refused: {why} (expected PKCS#8 PEM of an EC P-256, Ed25519 or \
                 RSA ≥ 2048-bit key)"
            ),
            KeyError::Signing => f.write_str("signing failed"),
            KeyError::NotAnObject => f.write_str("claims to sign must be a JSON object"),
        }
    }
}

impl std::error::Error for KeyError {}
