use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

const NOW: u64 = 1_800_000_000;
const RSA_PRIVATE: &[u8] = include_bytes!("../../tests/data/jwt/rsa-test-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../../tests/data/jwt/rsa-test-public.pem");

fn es256(kid: &str) -> (Signer, String) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let pem = kp.serialize_pem();
    (
        Signer::from_pkcs8_pem(pem.as_bytes(), Some(kid.into())).unwrap(),
        kp.public_key_pem(),
    )
}

fn ed25519(kid: &str) -> Signer {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    Signer::from_pkcs8_pem(kp.serialize_pem().as_bytes(), Some(kid.into())).unwrap()
}

fn rsa(kid: &str) -> Signer {
    Signer::from_pkcs8_pem(RSA_PRIVATE, Some(kid.into())).unwrap()
}

/// The test provider (issuer `https://idp.example`, audience `sallyport`, tenant claim `zid`,
/// every algorithm, 30 s skew); the cache's tests use it too.
pub(super) fn provider(keys: Vec<VerifyKey>) -> IdentityProvider {
    IdentityProvider {
        name: "idp".into(),
        issuer: "https://idp.example".into(),
        audience: "sallyport".into(),
        algorithms: Alg::ALL.to_vec(),
        keys,
        tenant_claim: "zid".into(),
        clock_skew: 30,
    }
}

fn claims() -> Value {
    json!({
        "iss": "https://idp.example",
        "aud": "sallyport",
        "zid": "tenant-a",
        "sub": "app-1",
        "exp": NOW + 600,
        "nbf": NOW - 10,
    })
}

fn with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims();
    f(c.as_object_mut().unwrap());
    c
}

/// A token with an arbitrary header and payload, signed by `sign` over the signing input.
fn raw_token(header: &Value, payload: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[test]
fn valid_tokens_of_every_signer_type() {
    let (es, _) = es256("k-es");
    let ed = ed25519("k-ed");
    let rs = rsa("k-rs");
    let p = Providers::new(vec![provider(vec![
        es.verify_key(),
        ed.verify_key(),
        rs.verify_key(),
    ])]);
    for s in [&es, &ed, &rs] {
        let t = s.issue(&claims()).unwrap();
        let v = p
            .validate(t.as_bytes(), NOW)
            .unwrap_or_else(|e| panic!("{}: {e}", s.alg()));
        assert_eq!(
            v,
            Verified {
                provider: "idp".into(),
                tenant: "tenant-a".into(),
                subject: Some("app-1".into()),
                expires_at: NOW + 600,
            }
        );
    }
}

#[test]
fn ps256_with_the_committed_rsa_key() {
    let key = VerifyKey::from_pem(RSA_PUBLIC, Some("rsa".into())).unwrap();
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(RSA_PRIVATE).unwrap();
    let kp = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let t = raw_token(&json!({"alg": "PS256", "kid": "rsa"}), &claims(), |m| {
        let mut sig = vec![0; kp.public().modulus_len()];
        kp.sign(
            &ring::signature::RSA_PSS_SHA256,
            &ring::rand::SystemRandom::new(),
            m,
            &mut sig,
        )
        .unwrap();
        sig
    });
    let p = Providers::new(vec![provider(vec![key])]);
    assert_eq!(p.validate(t.as_bytes(), NOW).unwrap().tenant, "tenant-a");
}

use rustls_pki_types::pem::PemObject;

#[test]
fn alg_none_refused() {
    let (es, _) = es256("k");
    let p = Providers::new(vec![provider(vec![es.verify_key()])]);
    for alg in ["none", "None", "NONE"] {
        let t = raw_token(&json!({"alg": alg, "kid": "k"}), &claims(), |_| Vec::new());
        match p.validate(t.as_bytes(), NOW) {
            Err(JwtError::AlgorithmRefused { reason, .. }) => assert!(reason.contains("unsigned")),
            other => panic!("{alg}: {other:?}"),
        }
    }
    assert!("none"
        .parse::<Alg>()
        .unwrap_err()
        .to_string()
        .contains("never"));
}

#[test]
fn hs256_with_rsa_public_key_as_secret_refused() {
    let rs = rsa("k");
    let p = Providers::new(vec![provider(vec![rs.verify_key()])]);
    // The classic confusion: the attacker knows the public key and uses its bytes (PEM or
    // DER) as the HMAC secret.
    let der = rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(RSA_PUBLIC).unwrap();
    for secret in [RSA_PUBLIC, der.as_ref()] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let t = raw_token(&json!({"alg": "HS256", "kid": "k"}), &claims(), |m| {
            ring::hmac::sign(&key, m).as_ref().to_vec()
        });
        match p.validate(t.as_bytes(), NOW) {
            Err(JwtError::AlgorithmRefused { alg, reason }) => {
                assert_eq!(alg, "HS256");
                assert!(reason.contains("HMAC"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // JWKS cannot smuggle a symmetric key in either.
    let err = VerifyKey::from_jwks(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap_err();
    assert!(err.to_string().contains("symmetric"), "{err}");
}

#[test]
fn key_type_binds_the_algorithm() {
    let rs = rsa("rsa");
    let (es, _) = es256("ec");
    let p = Providers::new(vec![provider(vec![rs.verify_key(), es.verify_key()])]);
    // ES256 header naming the RSA key; RS256 header naming the EC key.
    for (alg, kid, s) in [("ES256", "rsa", &es), ("RS256", "ec", &rs)] {
        let t = raw_token(&json!({"alg": alg, "kid": kid}), &claims(), |m| {
            s.sign(m).unwrap()
        });
        match p.validate(t.as_bytes(), NOW) {
            Err(JwtError::AlgorithmRefused { reason, .. }) => assert!(reason.contains("key")),
            other => panic!("{alg} with {kid}: {other:?}"),
        }
    }
    // A provider whose allow-list lacks RS256.
    let mut only_es = provider(vec![rs.verify_key()]);
    only_es.algorithms = vec![Alg::ES256];
    let t = rs.issue(&claims()).unwrap();
    assert!(matches!(
        Providers::new(vec![only_es]).validate(t.as_bytes(), NOW),
        Err(JwtError::AlgorithmRefused { .. })
    ));
}

#[test]
fn time_checks_with_skew() {
    let (es, _) = es256("k");
    let p = Providers::new(vec![provider(vec![es.verify_key()])]);
    let tok = |c: Value| es.issue(&c).unwrap();
    let expired = tok(with(|c| drop(c.insert("exp".into(), json!(NOW - 31)))));
    assert_eq!(
        p.validate(expired.as_bytes(), NOW),
        Err(JwtError::Expired {
            exp: NOW - 31,
            now: NOW
        })
    );
    let in_skew = tok(with(|c| drop(c.insert("exp".into(), json!(NOW - 29)))));
    assert!(p.validate(in_skew.as_bytes(), NOW).is_ok());
    let early = tok(with(|c| drop(c.insert("nbf".into(), json!(NOW + 31)))));
    assert_eq!(
        p.validate(early.as_bytes(), NOW),
        Err(JwtError::NotYetValid {
            nbf: NOW + 31,
            now: NOW
        })
    );
    let early_in_skew = tok(with(|c| drop(c.insert("nbf".into(), json!(NOW + 29)))));
    assert!(p.validate(early_in_skew.as_bytes(), NOW).is_ok());
    let no_exp = tok(with(|c| drop(c.remove("exp"))));
    assert_eq!(
        p.validate(no_exp.as_bytes(), NOW),
        Err(JwtError::MissingExpiry)
    );
    let str_exp = tok(with(|c| drop(c.insert("exp".into(), json!("9999999999")))));
    assert_eq!(
        p.validate(str_exp.as_bytes(), NOW),
        Err(JwtError::MissingExpiry)
    );
    let float_exp = tok(with(|c| {
        drop(c.insert("exp".into(), json!((NOW + 5) as f64 + 0.5)))
    }));
    assert_eq!(
        p.validate(float_exp.as_bytes(), NOW).unwrap().expires_at,
        NOW + 5
    );
}

#[test]
fn audience_issuer_tenant() {
    let (es, _) = es256("k");
    let p = Providers::new(vec![provider(vec![es.verify_key()])]);
    let tok = |c: Value| es.issue(&c).unwrap();
    let wrong = tok(with(|c| drop(c.insert("aud".into(), json!("other")))));
    assert!(matches!(
        p.validate(wrong.as_bytes(), NOW),
        Err(JwtError::WrongAudience { .. })
    ));
    let none = tok(with(|c| drop(c.remove("aud"))));
    assert!(matches!(
        p.validate(none.as_bytes(), NOW),
        Err(JwtError::WrongAudience { .. })
    ));
    let list = tok(with(|c| {
        drop(c.insert("aud".into(), json!(["x", "sallyport"])))
    }));
    assert!(p.validate(list.as_bytes(), NOW).is_ok());
    let bad_list = tok(with(|c| drop(c.insert("aud".into(), json!(["x", 7])))));
    assert!(p.validate(bad_list.as_bytes(), NOW).is_err());

    let iss = tok(with(|c| {
        drop(c.insert("iss".into(), json!("https://evil.example")))
    }));
    assert!(matches!(
        p.validate(iss.as_bytes(), NOW),
        Err(JwtError::UnknownIssuer(_))
    ));

    let no_tenant = tok(with(|c| drop(c.remove("zid"))));
    assert!(matches!(
        p.validate(no_tenant.as_bytes(), NOW),
        Err(JwtError::BadTenantClaim { .. })
    ));
    let bad_tenant = tok(with(|c| drop(c.insert("zid".into(), json!("../Tenant")))));
    assert!(matches!(
        p.validate(bad_tenant.as_bytes(), NOW),
        Err(JwtError::BadTenantClaim { .. })
    ));

    // The tenant claim is configurable.
    let mut q = provider(vec![es.verify_key()]);
    q.tenant_claim = "tenant".into();
    let t = tok(with(|c| drop(c.insert("tenant".into(), json!("tenant-b")))));
    assert_eq!(
        Providers::new(vec![q])
            .validate(t.as_bytes(), NOW)
            .unwrap()
            .tenant,
        "tenant-b"
    );
}

#[test]
fn key_selection_by_kid_only_among_the_providers_keys() {
    let (a, _) = es256("a");
    let (b, _) = es256("b");
    let (other, _) = es256("x");
    let mut second = provider(vec![other.verify_key()]);
    second.name = "other".into();
    second.issuer = "https://other.example".into();
    let p = Providers::new(vec![provider(vec![a.verify_key(), b.verify_key()]), second]);
    assert!(p
        .validate(b.issue(&claims()).unwrap().as_bytes(), NOW)
        .is_ok());
    // Signed by provider "other"'s key but claiming the first issuer: its kid is unknown there.
    let t = other.issue(&claims()).unwrap();
    assert_eq!(
        p.validate(t.as_bytes(), NOW),
        Err(JwtError::UnknownKey {
            kid: Some("x".into()),
            provider: "idp".into()
        })
    );
    // No kid with two keys: refused; with exactly one key: that key.
    let nokid = |s: &Signer| raw_token(&json!({"alg": "ES256"}), &claims(), |m| s.sign(m).unwrap());
    assert!(matches!(
        p.validate(nokid(&a).as_bytes(), NOW),
        Err(JwtError::UnknownKey { kid: None, .. })
    ));
    let single = Providers::new(vec![provider(vec![a.verify_key()])]);
    assert!(single.validate(nokid(&a).as_bytes(), NOW).is_ok());
    // A `kid` that is not a string is not "no kid".
    let odd = raw_token(&json!({"alg": "ES256", "kid": 7}), &claims(), |m| {
        a.sign(m).unwrap()
    });
    assert!(matches!(
        single.validate(odd.as_bytes(), NOW),
        Err(JwtError::Malformed(_))
    ));
    // A kid that exists, with a signature by another key.
    let forged = raw_token(&json!({"alg": "ES256", "kid": "a"}), &claims(), |m| {
        b.sign(m).unwrap()
    });
    assert_eq!(
        p.validate(forged.as_bytes(), NOW),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn tampering_size_structure_crit() {
    let (es, _) = es256("k");
    let mut p = Providers::new(vec![provider(vec![es.verify_key()])]);
    let t = es.issue(&claims()).unwrap();
    let parts: Vec<&str> = t.split('.').collect();
    let evil = URL_SAFE_NO_PAD
        .encode(with(|c| drop(c.insert("zid".into(), json!("tenant-b")))).to_string());
    let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
    assert_eq!(
        p.validate(tampered.as_bytes(), NOW),
        Err(JwtError::BadSignature)
    );

    p.max_token_len = t.len() - 1;
    assert!(matches!(
        p.validate(t.as_bytes(), NOW),
        Err(JwtError::TooLarge { .. })
    ));
    p.max_token_len = DEFAULT_LEN;
    let huge = vec![b'a'; DEFAULT_LEN + 1];
    assert!(matches!(
        p.validate(&huge, NOW),
        Err(JwtError::TooLarge { .. })
    ));

    for bad in [
        "", "a.b", "a.b.c.d", "!!.e30.", "e30.!!.", "W10.e30.", "e30.W10.",
    ] {
        assert!(
            matches!(p.validate(bad.as_bytes(), NOW), Err(JwtError::Malformed(_))),
            "{bad:?}"
        );
    }
    let crit = raw_token(
        &json!({"alg": "ES256", "kid": "k", "crit": ["exp"]}),
        &claims(),
        |m| es.sign(m).unwrap(),
    );
    assert_eq!(
        p.validate(crit.as_bytes(), NOW),
        Err(JwtError::CriticalHeader)
    );
}

const DEFAULT_LEN: usize = jwt::DEFAULT_MAX_TOKEN_LEN;

#[test]
fn jwks_of_every_key_type() {
    let (es, _) = es256("ec");
    let ed = ed25519("ed");
    let rs = rsa("rs");
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let mut keys = Vec::new();
    for s in [&es, &ed, &rs] {
        keys.push(match s.verify_key().material {
            KeyMaterial::P256(p) => json!({"kty": "EC", "crv": "P-256", "kid": "ec", "use": "sig",
                "x": b64(&p[1..33]), "y": b64(&p[33..])}),
            KeyMaterial::Ed25519(x) => {
                json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(&x)})
            }
            KeyMaterial::Rsa { n, e } => {
                json!({"kty": "RSA", "kid": "rs", "alg": "RS256", "n": b64(&n), "e": b64(&e)})
            }
            KeyMaterial::P384(_) => unreachable!(),
        });
    }
    keys.push(json!({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}));
    let jwks = json!({ "keys": keys }).to_string();
    let loaded = VerifyKey::from_jwks(jwks.as_bytes()).unwrap();
    assert_eq!(loaded.len(), 3, "the `enc` key is skipped");
    assert_eq!(loaded[0].material, es.verify_key().material);
    let p = Providers::new(vec![provider(loaded)]);
    for s in [&es, &ed, &rs] {
        assert!(
            p.validate(s.issue(&claims()).unwrap().as_bytes(), NOW)
                .is_ok(),
            "{}",
            s.alg()
        );
    }
    // The JWK's `alg` further restricts the key: PS256 with the RS256-only key is refused.
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(RSA_PRIVATE).unwrap();
    let kp = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let ps = raw_token(&json!({"alg": "PS256", "kid": "rs"}), &claims(), |m| {
        let mut sig = vec![0; kp.public().modulus_len()];
        kp.sign(
            &ring::signature::RSA_PSS_SHA256,
            &ring::rand::SystemRandom::new(),
            m,
            &mut sig,
        )
        .unwrap();
        sig
    });
    assert!(matches!(
        p.validate(ps.as_bytes(), NOW),
        Err(JwtError::AlgorithmRefused { .. })
    ));

    for (bad, says) in [
        (
            r#"{"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]}"#,
            "unsupported",
        ),
        (
            r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#,
            "32 bytes",
        ),
        (r#"{"keys":[{"kty":"RSA","n":"AQAB"}]}"#, "`e` missing"),
        (
            r#"{"keys":[{"kty":"RSA","alg":"ES256","n":"AQAB","e":"AQAB"}]}"#,
            "does not fit",
        ),
        (
            r#"{"keys":[{"kty":"RSA","alg":"none","n":"AQAB","e":"AQAB"}]}"#,
            "never",
        ),
        (r#"{"keys":[]}"#, "no signing key"),
        (r#"{"nokeys":1}"#, "no `keys`"),
        ("not json", "not JSON"),
    ] {
        let e = VerifyKey::from_jwks(bad.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

#[test]
fn pem_public_keys_and_certificates() {
    let (es, public_pem) = es256("k");
    let key = VerifyKey::from_pem(public_pem.as_bytes(), Some("k".into())).unwrap();
    assert_eq!(key.material, es.verify_key().material);
    let rs = VerifyKey::from_pem(RSA_PUBLIC, None).unwrap();
    assert_eq!(rs.material, rsa("x").verify_key().material);

    // A certificate's subject key.
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["idp.example".into()])
        .unwrap()
        .self_signed(&kp)
        .unwrap();
    let from_cert = VerifyKey::from_pem(cert.pem().as_bytes(), Some("c".into())).unwrap();
    let signer = Signer::from_pkcs8_pem(kp.serialize_pem().as_bytes(), Some("c".into())).unwrap();
    assert_eq!(from_cert.material, signer.verify_key().material);

    assert!(VerifyKey::from_pem(b"garbage", None).is_err());
    assert!(Signer::from_pkcs8_pem(RSA_PUBLIC, None).is_err());
}

#[test]
fn alg_names() {
    for a in Alg::ALL {
        assert_eq!(a.name().parse::<Alg>(), Ok(a));
    }
    for hs in ["HS256", "HS384", "HS512", "hs256"] {
        assert!(
            hs.parse::<Alg>().unwrap_err().reason.contains("HMAC"),
            "{hs}"
        );
    }
    assert!("ES512"
        .parse::<Alg>()
        .unwrap_err()
        .reason
        .contains("unknown"));
    assert!("é".parse::<Alg>().is_err());
}

#[test]
fn errors_say_which_check_failed() {
    let e = JwtError::Expired { exp: 1, now: 2 }.to_string();
    assert!(e.contains("expired"));
    let e = JwtError::UnknownKey {
        kid: Some("k9".into()),
        provider: "idp".into(),
    }
    .to_string();
    assert!(e.contains("k9") && e.contains("idp"));
    let e = JwtError::WrongAudience {
        expected: "sallyport".into(),
    }
    .to_string();
    assert!(e.contains("audience") && e.contains("sallyport"));
}

#[test]
fn passwords() {
    let phc = password::hash(b"correct horse").unwrap();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(password::check_phc(&phc).is_ok());
    assert!(password::verify(&phc, b"correct horse"));
    assert!(!password::verify(&phc, b"correct horsf"));
    assert!(!password::verify(&phc, b""));
    assert!(!password::verify("not a hash", b"correct horse"));
    assert_ne!(password::hash(b"correct horse").unwrap(), phc, "salted");
    assert!(password::check_phc("$pbkdf2-sha256$i=1$c2FsdA$aGFzaA").is_err());
}
