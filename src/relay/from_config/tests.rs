use super::*;
use crate::auth::{password, Signer};
use crate::config::{parse_relay_str, Options};
use serde_json::json;

const ISSUER: &str = "https://idp.test";

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let d =
            std::env::temp_dir().join(format!("sp-relay-fromcfg-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        // The TLS files only need to exist for the file checks; nothing here loads them.
        for f in ["ca.pem", "relay.pem", "relay.key"] {
            std::fs::write(d.join(f), "placeholder\n").expect("placeholder");
        }
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh P-256 signing key whose public half is written to `dir/name`.
fn signing_key(dir: &Path, name: &str, kid: &str) -> Signer {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("keygen");
    std::fs::write(dir.join(name), kp.public_key_pem()).expect("write key");
    Signer::from_pkcs8_pem(kp.serialize_pem().as_bytes(), Some(kid.into())).expect("signer")
}

fn token(signer: &Signer, tenant: &str) -> String {
    let exp = super::super::auth::now_unix() + 300;
    signer
        .issue(&json!({"iss": ISSUER, "aud": "sallyport", "exp": exp, "zid": tenant, "sub": "app"}))
        .expect("token")
}

fn relay_text(key_file: &str, kid: &str, hash: &str) -> String {
    format!(
        r#"[relay]
ca = "ca.pem"
cert = "relay.pem"
key = "relay.key"
tunnel_listen = "127.0.0.1:20001"

[relay.http_proxy]
listen = "127.0.0.1:20003"

[relay.limits]
jwt_max_bytes = 4000

[[identity_provider]]
name = "corp"
issuer = "{ISSUER}"
audience = "sallyport"
algorithms = ["ES256"]
tenant_claim = "zid"

  [[identity_provider.key]]
  file = "{key_file}"
  kid = "{kid}"

[[tenant]]
name = "acme"
locations = ["default", "berlin"]

  [[tenant.user]]
  name = "alice"
  password_hash = "{hash}"

[[tenant]]
name = "beta"
default_location = "rome"
"#
    )
}

fn hash() -> String {
    password::hash(b"pw").expect("hash")
}

#[test]
fn front_auth_holds_the_files_providers_and_tenants() {
    let d = Scratch::new("auth");
    let signer = signing_key(&d.0, "k1.pem", "k1");
    let text = relay_text("k1.pem", "k1", &hash());
    let file = parse_relay_str(&text, &d.0.join("relay.toml"), &Options::default()).expect("file");
    let auth = front_auth_from_file(&file, Arc::new(LogAudit)).expect("auth");
    assert!(auth.configured_tenants_only);
    assert_eq!(auth.trusted_tenant, None);
    assert_eq!(auth.providers.max_token_len, 4000);
    let p = &auth.providers.providers[0];
    assert_eq!(
        (p.name.as_str(), p.algorithms.as_slice()),
        ("corp", &[Alg::ES256][..])
    );
    assert_eq!(p.keys.len(), 1);
    assert_eq!(p.keys[0].kid.as_deref(), Some("k1"));
    let acme = &auth.tenants["acme"];
    assert_eq!(
        acme.locations.as_deref(),
        Some(&["default".to_string(), "berlin".into()][..])
    );
    assert!(acme.users.contains_key("alice"));
    assert_eq!(
        auth.tenants["beta"].locations, None,
        "empty list = any location"
    );
    assert_eq!(auth.location("beta", None).as_deref(), Ok("rome"));
    let caller = auth
        .verify_jwt(token(&signer, "acme").as_bytes())
        .expect("valid token");
    assert_eq!(caller.tenant, "acme");
    assert_eq!(caller.principal, "jwt:corp:app");
}

#[test]
fn an_unusable_key_file_is_reported_at_its_key() {
    let d = Scratch::new("badkey");
    std::fs::write(d.0.join("k1.pem"), "-----BEGIN PUBLIC KEY-----\nnope\n").expect("write");
    let text = relay_text("k1.pem", "k1", &hash());
    let file = parse_relay_str(&text, &d.0.join("relay.toml"), &Options::default()).expect("file");
    let errs = front_auth_from_file(&file, Arc::new(LogAudit)).unwrap_err();
    let e = &errs.errors()[0];
    assert_eq!(e.key, "identity_provider[0].key[0].file");
    let line = text
        .lines()
        .position(|l| l.contains("file = "))
        .expect("line")
        + 1;
    assert_eq!(e.line as usize, line, "{e}");
    assert!(e.message.contains("k1.pem"), "{e}");
}

#[test]
fn restart_only_settings_are_named() {
    let d = Scratch::new("restart");
    let _ = signing_key(&d.0, "k1.pem", "k1");
    let text = relay_text("k1.pem", "k1", &hash());
    let origin = d.0.join("relay.toml");
    let old = parse_relay_str(&text, &origin, &Options::default()).expect("old");
    let changed = text
        .replace("127.0.0.1:20003", "127.0.0.1:20005")
        .replace("jwt_max_bytes = 4000", "jwt_max_bytes = 5000");
    let new = parse_relay_str(&changed, &origin, &Options::default()).expect("new");
    assert_eq!(
        restart_only_changes(&old.relay, &old.relay),
        Vec::<&str>::new()
    );
    assert_eq!(
        restart_only_changes(&old.relay, &new.relay),
        ["relay.http_proxy"]
    );
    let with_threads = changed.replace("[relay.http_proxy]", "threads = 3\n\n[relay.http_proxy]");
    let new = parse_relay_str(&with_threads, &origin, &Options::default()).expect("threads");
    assert_eq!(
        restart_only_changes(&old.relay, &new.relay),
        ["relay.http_proxy", "relay.threads"]
    );
}

#[test]
fn reload_swaps_keys_and_an_invalid_file_keeps_the_old_settings() {
    let d = Scratch::new("reload");
    let old_key = signing_key(&d.0, "k1.pem", "k1");
    let new_key = signing_key(&d.0, "k2.pem", "k2");
    let path = d.0.join("relay.toml");
    let h = hash();
    let mut text = relay_text("k1.pem", "k1", &h);
    text = text.replace("[relay]\n", "[relay]\naudit_dir = \"audit\"\n");
    std::fs::write(&path, &text).expect("write");
    let file = config::load_relay(&path).expect("file");
    let sink = open_audit(&file).expect("audit").expect("sink");
    let cell = AuthCell::new(front_auth_from_file(&file, Arc::new(sink.clone())).expect("auth"));
    let mut reloader = Reloader::new(&path, file, cell.clone(), Some(sink.clone()));
    // One token, verified (and so cached) under the old key, presented again after the
    // rotation: the same bytes must meet the new key set, not the old cache.
    let old_token = token(&old_key, "acme");
    let before = cell.current();
    assert!(before.verify_jwt(old_token.as_bytes()).is_ok());
    assert!(before.verify_jwt(old_token.as_bytes()).is_ok());
    assert_eq!(before.providers.cache().len(), 1);

    // Key rotation.
    std::fs::write(
        &path,
        text.replace("k1.pem", "k2.pem").replace("\"k1\"", "\"k2\""),
    )
    .expect("rotate");
    let outcome = reloader.reload(Trigger::FileChanged);
    assert!(
        matches!(&outcome, ReloadOutcome::Applied(s) if s.contains("changed: identity providers")),
        "{outcome:?}"
    );
    let auth = cell.current();
    assert!(
        auth.providers.cache().is_empty(),
        "the reload starts a fresh cache"
    );
    assert!(auth.verify_jwt(token(&new_key, "acme").as_bytes()).is_ok());
    assert!(matches!(
        auth.verify_jwt(old_token.as_bytes()),
        Err(crate::auth::JwtError::UnknownKey { .. })
    ));
    assert!(
        before.verify_jwt(old_token.as_bytes()).is_ok(),
        "a snapshot taken before the reload keeps its own settings"
    );

    // An HMAC algorithm is refused by the file checks; the rotated settings stay.
    std::fs::write(&path, text.replace("[\"ES256\"]", "[\"HS256\"]")).expect("break");
    let outcome = reloader.reload(Trigger::Signal);
    assert!(
        matches!(&outcome, ReloadOutcome::Rejected(e) if e.contains("HS256")),
        "{outcome:?}"
    );
    assert!(Arc::ptr_eq(&auth, &cell.current()), "the old settings stay");

    sink.tick(std::time::SystemTime::now()).expect("tick");
    let trail = std::fs::read_dir(d.0.join("audit").join(RELAY_AUDIT_NAME))
        .expect("trail dir")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .map(|e| std::fs::read_to_string(e.path()).expect("read"))
        .collect::<String>();
    assert!(trail.contains("\"kind\":\"config_change\""), "{trail}");
    assert!(trail.contains("\"kind\":\"config_rejected\""), "{trail}");
    assert!(trail.contains("HS256"), "{trail}");
}
