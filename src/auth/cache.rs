//! A bounded cache of successful JWT verifications, so a token that a cloud application
//! presents on many connections costs one signature check rather than one per connection.
//!
//! * **Key**: SHA-256 of the exact token bytes. A token that differs in any byte (another
//!   signature over the same claims, a re-encoding) is a different key and is verified in
//!   full.
//! * **Value**: the [`Verified`] outcome and the token's time window (`exp`, `nbf`, the
//!   provider's clock skew). Only successes are stored; a refused token is verified (and
//!   audited by the caller) every time it is presented.
//! * **Time on every hit**: a hit re-runs the `exp` and `nbf` checks against the current
//!   time with the same code [`Providers::validate`](super::Providers::validate) uses, so an
//!   entry never outlives its token: an expired hit answers [`JwtError::Expired`] and is
//!   dropped.
//! * **Bounds**: a fixed capacity split over [`SHARDS`] mutex-guarded shards (the shard is
//!   chosen by the digest). Inserting into a full shard first drops its expired entries,
//!   then, if still full, evicts the oldest-inserted entry (FIFO: a token's validity does not
//!   grow by use, and FIFO needs no bookkeeping on the hit path). The eviction scan is linear
//!   in the shard size but only runs on an insert, which follows a full signature check that
//!   costs far more.
//! * **One key set**: a cache belongs to the one [`Providers`](super::Providers) value that
//!   owns it; clones start empty, and a configuration reload builds new providers, so no
//!   answer outlives the keys it was verified with.
//!
//! Locks are held only for the lookup or the insert, never during signature verification.

use super::error::JwtError;
use super::jwt::Verified;
use ring::digest::{digest, SHA256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

/// Default number of cached verifications across all shards.
pub const DEFAULT_CAPACITY: usize = 4096;
/// Number of independently locked shards.
pub const SHARDS: usize = 8;

/// SHA-256 of a token's exact bytes: the cache key.
pub type TokenDigest = [u8; 32];

/// The time claims of a verified token and the clock skew its provider allows. Both
/// [`Providers::validate`](super::Providers::validate) and a cache hit check time through it,
/// so the two cannot drift apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    /// `exp`, seconds since the Unix epoch.
    pub(crate) exp: u64,
    /// `nbf`, if the token has one.
    pub(crate) nbf: Option<u64>,
    /// The provider's allowance, seconds.
    pub(crate) skew: u64,
}

impl TimeWindow {
    /// `Err(Expired)` once `exp` plus the skew has passed.
    pub(crate) fn check_exp(exp: u64, skew: u64, now: u64) -> Result<(), JwtError> {
        if now > exp.saturating_add(skew) {
            return Err(JwtError::Expired { exp, now });
        }
        Ok(())
    }

    /// `Err(NotYetValid)` while `nbf` minus the skew is in the future.
    pub(crate) fn check_nbf(nbf: u64, skew: u64, now: u64) -> Result<(), JwtError> {
        if now.saturating_add(skew) < nbf {
            return Err(JwtError::NotYetValid { nbf, now });
        }
        Ok(())
    }

    /// Both checks in the order `validate` runs them: `exp`, then `nbf`.
    pub(crate) fn check(&self, now: u64) -> Result<(), JwtError> {
        Self::check_exp(self.exp, self.skew, now)?;
        if let Some(nbf) = self.nbf {
            Self::check_nbf(nbf, self.skew, now)?;
        }
        Ok(())
    }

    fn expired(&self, now: u64) -> bool {
        Self::check_exp(self.exp, self.skew, now).is_err()
    }
}

struct Entry {
    verified: Verified,
    window: TimeWindow,
    /// Insertion order within the shard, for FIFO eviction.
    seq: u64,
}

#[derive(Default)]
struct Shard {
    map: HashMap<TokenDigest, Entry>,
    next_seq: u64,
}

/// A bounded, thread-safe cache of successful token verifications (see the module docs).
pub struct VerifiedCache {
    shards: [Mutex<Shard>; SHARDS],
    per_shard: usize,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        VerifiedCache::with_capacity(DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl VerifiedCache {
    /// An empty cache holding at most `capacity` entries (rounded down to a multiple of
    /// [`SHARDS`], at least one per shard; `0` gives one entry per shard).
    pub fn with_capacity(capacity: usize) -> VerifiedCache {
        let per_shard = (capacity / SHARDS).max(1);
        VerifiedCache {
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            per_shard,
        }
    }

    /// The most entries the cache holds.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// Entries held now (expired ones included until they are looked up or evicted).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        for s in &self.shards {
            lock(s).map.clear();
        }
    }

    /// The cache key of `token`.
    pub fn digest(token: &[u8]) -> TokenDigest {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest(&SHA256, token).as_ref());
        key
    }

    fn shard(&self, key: &TokenDigest) -> &Mutex<Shard> {
        // The digest's first byte spreads keys evenly; the modulo keeps the index in range.
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// The cached outcome for `key` at `now`: `None` on a miss; on a hit, the [`Verified`]
    /// if the time checks still pass, else their error (an expired entry is dropped).
    pub(crate) fn lookup(&self, key: &TokenDigest, now: u64) -> Option<Result<Verified, JwtError>> {
        let mut shard = lock(self.shard(key));
        let entry = shard.map.get(key)?;
        match entry.window.check(now) {
            Ok(()) => Some(Ok(entry.verified.clone())),
            Err(e) => {
                if matches!(e, JwtError::Expired { .. }) {
                    shard.map.remove(key);
                }
                Some(Err(e))
            }
        }
    }

    /// Remembers a successful verification made at `now`.
    pub(crate) fn insert(
        &self,
        key: TokenDigest,
        verified: Verified,
        window: TimeWindow,
        now: u64,
    ) {
        let mut shard = lock(self.shard(&key));
        if shard.map.len() >= self.per_shard && !shard.map.contains_key(&key) {
            shard.map.retain(|_, e| !e.window.expired(now));
            if shard.map.len() >= self.per_shard {
                let oldest = shard.map.iter().min_by_key(|(_, e)| e.seq).map(|(k, _)| *k);
                if let Some(k) = oldest {
                    shard.map.remove(&k);
                }
            }
        }
        let seq = shard.next_seq;
        shard.next_seq = seq.wrapping_add(1);
        shard.map.insert(
            key,
            Entry {
                verified,
                window,
                seq,
            },
        );
    }
}

/// A poisoned shard still holds a consistent map (every update is a single map operation).
fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
