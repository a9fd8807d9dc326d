use super::*;
use crate::auth::{Providers, Signer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

const NOW: u64 = 1_800_000_000;
/// The shared test provider's clock skew (`crate::auth::tests::provider`).
const SKEW: u64 = 30;
const EXP: u64 = NOW + 600;

fn es256(kid: &str) -> Signer {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    Signer::from_pkcs8_pem(kp.serialize_pem().as_bytes(), Some(kid.into())).unwrap()
}

use crate::auth::tests::provider;

fn claims(sub: &str) -> Value {
    json!({
        "iss": "https://idp.example", "aud": "sallyport", "zid": "tenant-a",
        "sub": sub, "exp": EXP, "nbf": NOW - 10,
    })
}

fn providers_for(signer: &Signer) -> Providers {
    Providers::new(vec![provider(vec![signer.verify_key()])])
}

#[test]
fn a_hit_answers_the_same_caller_without_verifying_again() {
    let s = es256("k");
    let mut p = providers_for(&s);
    let token = s.issue(&claims("app-1")).unwrap();
    let first = p.validate_cached(token.as_bytes(), NOW).unwrap();
    assert_eq!(first.tenant, "tenant-a");
    assert_eq!(first.subject.as_deref(), Some("app-1"));
    assert_eq!(first, p.validate(token.as_bytes(), NOW).unwrap());
    assert_eq!(p.cache().len(), 1);
    // Proof that the second answer comes from the cache: with the key removed in place, a
    // full verification fails, the cached one still answers (which is why `Providers` must
    // not be edited after use: the relay builds new ones on reload instead).
    p.providers[0].keys.clear();
    assert!(p.validate(token.as_bytes(), NOW).is_err());
    assert_eq!(p.validate_cached(token.as_bytes(), NOW + 5), Ok(first));
    assert_eq!(p.cache().len(), 1);
    p.cache().clear();
    assert!(matches!(
        p.validate_cached(token.as_bytes(), NOW),
        Err(JwtError::UnknownKey { .. })
    ));
}

#[test]
fn an_expired_hit_is_refused_like_an_uncached_token_and_dropped() {
    let s = es256("k");
    let p = providers_for(&s);
    let token = s.issue(&claims("app")).unwrap();
    assert!(p.validate_cached(token.as_bytes(), NOW).is_ok());
    // The last second of the skew allowance still passes, on both paths.
    let last = EXP + SKEW;
    assert!(p.validate(token.as_bytes(), last).is_ok());
    assert!(p.validate_cached(token.as_bytes(), last).is_ok());
    assert_eq!(p.cache().len(), 1);
    let late = last + 1;
    let uncached = p.validate(token.as_bytes(), late).unwrap_err();
    assert_eq!(
        uncached,
        JwtError::Expired {
            exp: EXP,
            now: late
        }
    );
    assert_eq!(p.validate_cached(token.as_bytes(), late), Err(uncached));
    assert!(p.cache().is_empty(), "the expired entry is dropped");
}

#[test]
fn a_token_not_yet_valid_is_never_cached_and_nbf_is_rechecked_on_hits() {
    let s = es256("k");
    let p = providers_for(&s);
    let nbf = NOW + 1000;
    let future = s
        .issue(&json!({
            "iss": "https://idp.example", "aud": "sallyport", "zid": "tenant-a",
            "exp": nbf + 600, "nbf": nbf,
        }))
        .unwrap();
    let e = p.validate_cached(future.as_bytes(), NOW).unwrap_err();
    assert_eq!(e, JwtError::NotYetValid { nbf, now: NOW });
    assert_eq!(p.validate_cached(future.as_bytes(), NOW), Err(e));
    assert!(p.cache().is_empty(), "failures are not cached");
    // Once valid (the skew counts), it is verified and cached.
    let first_ok = nbf - SKEW;
    assert!(p.validate_cached(future.as_bytes(), first_ok).is_ok());
    assert_eq!(p.cache().len(), 1);
    // A clock that steps back gets the same answer from the cache as without it.
    let before = first_ok - 1;
    let uncached = p.validate(future.as_bytes(), before).unwrap_err();
    assert_eq!(uncached, JwtError::NotYetValid { nbf, now: before });
    assert_eq!(p.validate_cached(future.as_bytes(), before), Err(uncached));
}

#[test]
fn the_key_is_the_exact_bytes_so_a_forged_twin_is_verified_and_refused() {
    let s = es256("k");
    let mallory = es256("k");
    let p = providers_for(&s);
    let token = s.issue(&claims("app")).unwrap();
    assert!(p.validate_cached(token.as_bytes(), NOW).is_ok());
    let Some((signed, _)) = token.rsplit_once('.') else {
        panic!("a compact JWS has dots")
    };
    // Same header and claims, signed by another key with the same `kid`.
    let forged = format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(mallory.sign(signed.as_bytes()).unwrap())
    );
    assert_eq!(
        p.validate_cached(forged.as_bytes(), NOW),
        Err(JwtError::BadSignature)
    );
    // Same claims with an emptied signature, and with one trailing byte appended.
    assert!(p
        .validate_cached(format!("{signed}.").as_bytes(), NOW)
        .is_err());
    assert!(p
        .validate_cached(format!("{token}A").as_bytes(), NOW)
        .is_err());
    assert_eq!(p.cache().len(), 1, "refusals are not cached");
    // A second genuine signature over the same claims (ECDSA signs with a fresh nonce) is
    // another entry with the same answer.
    let again = s.issue(&claims("app")).unwrap();
    assert_ne!(again, token);
    assert_eq!(
        p.validate_cached(again.as_bytes(), NOW),
        p.validate_cached(token.as_bytes(), NOW)
    );
    assert_eq!(p.cache().len(), 2);
}

#[test]
fn the_size_cap_is_checked_before_the_cache() {
    let s = es256("k");
    let mut p = providers_for(&s);
    let token = s.issue(&claims("app")).unwrap();
    assert!(p.validate_cached(token.as_bytes(), NOW).is_ok());
    p.max_token_len = token.len() - 1;
    assert_eq!(
        p.validate_cached(token.as_bytes(), NOW),
        Err(JwtError::TooLarge {
            len: token.len(),
            max: token.len() - 1
        })
    );
}

#[test]
fn the_capacity_bound_holds_through_real_verifications() {
    let s = es256("k");
    let p = Providers::with_cache_capacity(vec![provider(vec![s.verify_key()])], 16);
    let cap = p.cache().capacity();
    assert_eq!(cap, 16);
    let tokens: Vec<String> = (0..cap + 40)
        .map(|i| s.issue(&claims(&format!("app-{i}"))).unwrap())
        .collect();
    for (i, t) in tokens.iter().enumerate() {
        let v = p.validate_cached(t.as_bytes(), NOW).unwrap();
        assert_eq!(v.subject, Some(format!("app-{i}")));
        assert!(p.cache().len() <= cap, "{} > {cap}", p.cache().len());
    }
    // Evicted or not, every token still gets its own answer.
    for (i, t) in tokens.iter().enumerate() {
        let v = p.validate_cached(t.as_bytes(), NOW).unwrap();
        assert_eq!(v.subject, Some(format!("app-{i}")));
    }
    assert!(p.cache().len() <= cap);
}

fn verified(sub: &str) -> Verified {
    Verified {
        provider: "idp".into(),
        tenant: "t".into(),
        subject: Some(sub.into()),
        expires_at: EXP,
    }
}

/// A digest landing in shard 0, distinct per `n`.
fn key(n: u8) -> TokenDigest {
    let mut k = [0u8; 32];
    k[1] = n;
    k
}

#[test]
fn a_full_shard_drops_expired_entries_first_then_the_oldest() {
    let cache = VerifiedCache::with_capacity(3 * SHARDS);
    let live = TimeWindow {
        exp: EXP,
        nbf: None,
        skew: 0,
    };
    let short = TimeWindow {
        exp: NOW + 1,
        ..live
    };
    cache.insert(key(1), verified("1"), live, NOW);
    cache.insert(key(2), verified("2"), short, NOW);
    cache.insert(key(3), verified("3"), live, NOW);
    // Full; at NOW + 2 entry 2 has expired and makes the room.
    cache.insert(key(4), verified("4"), live, NOW + 2);
    assert_eq!(cache.len(), 3);
    assert!(cache.lookup(&key(2), NOW).is_none());
    for n in [1, 3, 4] {
        assert!(matches!(cache.lookup(&key(n), NOW + 2), Some(Ok(_))), "{n}");
    }
    // Full of live entries: the oldest-inserted (1) goes, lookups do not refresh it.
    cache.insert(key(5), verified("5"), live, NOW + 2);
    assert_eq!(cache.len(), 3);
    assert!(cache.lookup(&key(1), NOW + 2).is_none());
    // Re-inserting a present key evicts nothing.
    cache.insert(key(3), verified("3"), live, NOW + 2);
    assert_eq!(cache.len(), 3);
    assert!(cache.lookup(&key(4), NOW + 2).is_some());
}

#[test]
fn the_capacity_is_spread_over_the_shards() {
    assert_eq!(VerifiedCache::default().capacity(), DEFAULT_CAPACITY);
    assert_eq!(VerifiedCache::with_capacity(0).capacity(), SHARDS);
    let cache = VerifiedCache::with_capacity(2 * SHARDS);
    let live = TimeWindow {
        exp: EXP,
        nbf: None,
        skew: 0,
    };
    for n in 0..=255u8 {
        let mut k = [n; 32];
        k[1] = n.wrapping_mul(7);
        cache.insert(k, verified("x"), live, NOW);
        assert!(cache.len() <= cache.capacity());
    }
    assert_eq!(cache.len(), cache.capacity(), "every shard filled up");
}

#[test]
fn replaced_keys_get_a_fresh_cache() {
    let old = es256("k");
    let new = es256("k");
    let before = providers_for(&old);
    let token = old.issue(&claims("app")).unwrap();
    assert!(before.validate_cached(token.as_bytes(), NOW).is_ok());
    // A reload builds new providers; the same `kid` now names another key.
    let after = providers_for(&new);
    assert_eq!(
        after.validate_cached(token.as_bytes(), NOW),
        Err(JwtError::BadSignature)
    );
    // A clone edited into another key set does not inherit the original's answers.
    let mut edited = before.clone();
    assert!(edited.cache().is_empty());
    assert_eq!(edited.cache().capacity(), before.cache().capacity());
    edited.providers[0].keys = vec![new.verify_key()];
    assert_eq!(
        edited.validate_cached(token.as_bytes(), NOW),
        Err(JwtError::BadSignature)
    );
    assert!(before.validate_cached(token.as_bytes(), NOW).is_ok());
}

#[test]
fn threads_share_one_cache() {
    let s = es256("k");
    let p = providers_for(&s);
    let tokens: Vec<String> = (0..4)
        .map(|i| s.issue(&claims(&format!("app-{i}"))).unwrap())
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for round in 0..20u64 {
                    for (i, t) in tokens.iter().enumerate() {
                        let v = p.validate_cached(t.as_bytes(), NOW + round).unwrap();
                        assert_eq!(v.subject, Some(format!("app-{i}")));
                    }
                }
            });
        }
    });
    assert_eq!(p.cache().len(), tokens.len());
}
