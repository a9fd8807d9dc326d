//! Front-door authentication costs, per caller: parsing a whole SOCKS5 `0x80` handshake
//! (greeting, JWT + location, CONNECT request) with the sans-IO parser, verifying a JWT for
//! each signature algorithm family, and one argon2id password check (RFC 1929 users).
//!
//! The argon2 figure is the price of a SOCKS5 user login and runs off the I/O thread
//! (`spawn_blocking`); JWT verification runs inline on the I/O thread.
//!
//! For ES256 the verified-token cache is measured too: `jwt_validate_ES256` is the full check
//! every front-door call paid before the cache (and still pays for a new token),
//! `jwt_validate_cached_hit_ES256` a token seen before (hash, lookup, time checks), and
//! `jwt_validate_cached_miss_ES256` a first sighting (full check plus hash and insert).

use bytes::BytesMut;
use criterion::{BatchSize, Criterion};
use sallyport::auth::{password, Alg, IdentityProvider, Providers, Signer};
use sallyport::proto::socks5::{self, client, Address};
use serde_json::json;
use std::hint::black_box;
use std::time::Duration;

const NOW: u64 = 1_800_000_000;
const RSA_PRIVATE: &[u8] = include_bytes!("../tests/data/jwt/rsa-test-private.pem");

fn signers() -> Vec<(&'static str, Signer)> {
    let gen = |alg: &'static rcgen::SignatureAlgorithm| {
        let kp = rcgen::KeyPair::generate_for(alg).expect("key generation");
        Signer::from_pkcs8_pem(kp.serialize_pem().as_bytes(), Some("k".into())).expect("signer")
    };
    vec![
        ("ES256", gen(&rcgen::PKCS_ECDSA_P256_SHA256)),
        ("EdDSA", gen(&rcgen::PKCS_ED25519)),
        (
            "RS256-2048",
            Signer::from_pkcs8_pem(RSA_PRIVATE, Some("k".into())).expect("RSA test key"),
        ),
    ]
}

fn claims() -> serde_json::Value {
    json!({
        "iss": "https://idp.example", "aud": ["sallyport", "other"], "zid": "tenant-a",
        "sub": "app", "exp": NOW + 600, "nbf": NOW - 10,
        "scope": ["a.read", "a.write", "b.read", "b.write", "c.admin"],
    })
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("auth");
    for (name, signer) in signers() {
        let token = signer.issue(&claims()).expect("token");
        let providers = Providers::new(vec![IdentityProvider {
            name: "idp".into(),
            issuer: "https://idp.example".into(),
            audience: "sallyport".into(),
            algorithms: Alg::ALL.to_vec(),
            keys: vec![signer.verify_key()],
            tenant_claim: "zid".into(),
            clock_skew: 60,
        }]);
        assert!(providers.validate(token.as_bytes(), NOW).is_ok());
        g.bench_function(format!("jwt_validate_{name}"), |b| {
            b.iter(|| providers.validate(black_box(token.as_bytes()), NOW))
        });
        if name == "ES256" {
            assert!(providers.validate_cached(token.as_bytes(), NOW).is_ok());
            g.bench_function("jwt_validate_cached_hit_ES256", |b| {
                b.iter(|| providers.validate_cached(black_box(token.as_bytes()), NOW))
            });
            g.bench_function("jwt_validate_cached_miss_ES256", |b| {
                b.iter_batched_ref(
                    || providers.clone(),
                    |fresh| fresh.validate_cached(black_box(token.as_bytes()), NOW),
                    BatchSize::SmallInput,
                )
            });
            let mut wire = BytesMut::new();
            client::write_greeting(&[0x80], &mut wire).expect("greeting");
            client::write_sap_auth(token.as_bytes(), Some("rome"), true, &mut wire).expect("auth");
            client::write_connect(&Address::Domain("erp.virtual".into()), 443, &mut wire)
                .expect("connect");
            g.bench_function("socks5_parse_0x80_handshake", |b| {
                b.iter(|| {
                    let buf = black_box(&wire[..]);
                    let (_, n1) = socks5::parse_greeting(buf).ok()??;
                    let (a, n2) = socks5::parse_sap_auth(&buf[n1..], 16384).ok()??;
                    let (r, _) = socks5::parse_request(&buf[n1 + n2..]).ok()??;
                    Some((a.jwt.len(), r.port))
                })
            });
        }
    }
    let phc = password::hash(b"correct horse battery staple").expect("hash");
    g.sample_size(10);
    g.bench_function("argon2id_verify_default_params", |b| {
        b.iter(|| password::verify(black_box(&phc), b"correct horse battery staple"))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
}
