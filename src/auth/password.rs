//! Passwords for RFC 1929 SOCKS5 users, stored as argon2id PHC strings in the relay config.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hashes `password` with argon2id (the crate's default parameters, a random salt) into a
/// PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
pub fn hash(password: &[u8]) -> Result<String, String> {
    use ring::rand::SecureRandom as _;
    let mut raw = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| "no randomness for the salt".to_string())?;
    let salt = SaltString::encode_b64(&raw).map_err(|e| format!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2 hashing failed: {e}"))
}

/// True if `password` matches `phc`. The comparison is constant-time inside argon2; a
/// malformed PHC string never matches.
pub fn verify(phc: &str, password: &[u8]) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default().verify_password(password, &h).is_ok(),
        Err(_) => false,
    }
}

/// Checks that `phc` is a PHC string argon2 can verify against (for config loading).
pub fn check_phc(phc: &str) -> Result<(), String> {
    let h = PasswordHash::new(phc).map_err(|e| format!("not a PHC hash string: {e}"))?;
    if !h.algorithm.as_str().starts_with("argon2") {
        return Err(format!(
            "hash algorithm {:?} is not argon2 (use `sallyport password hash`)",
            h.algorithm.as_str()
        ));
    }
    Ok(())
}
