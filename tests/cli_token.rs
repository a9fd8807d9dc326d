//! `sallyport token keygen|issue` and `sallyport password hash`, run as the real binary; the
//! outputs are checked with the library's verifier.

use sallyport::auth::{password, Alg, IdentityProvider, Providers, VerifyKey};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sallyport"))
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn keygen_then_issue_verifies() {
    let dir = std::env::temp_dir().join(format!("sallyport-token-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (ok, _, err) = run(bin().args(["token", "keygen", "--out"]).arg(&dir));
    assert!(ok, "{err}");
    let key = dir.join("jwt-signing.key");
    let public = dir.join("jwt-signing.pub.pem");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A second keygen refuses to overwrite.
    let (ok, _, err) = run(bin().args(["token", "keygen", "--out"]).arg(&dir));
    assert!(!ok && err.contains("--force"), "{err}");

    let issue = |extra: &[&str]| {
        let (ok, out, err) = run(bin()
            .args(["token", "issue", "--key"])
            .arg(&key)
            .args(["--kid", "k1", "--iss", "https://idp", "--aud", "sallyport"])
            .args(["--tenant", "acme", "--sub", "app"])
            .args(extra));
        assert!(ok, "{err}");
        out.trim().to_string()
    };
    let key_pem = std::fs::read(&public).unwrap();
    let providers = |claim: &str| {
        Providers::new(vec![IdentityProvider {
            name: "local".into(),
            issuer: "https://idp".into(),
            audience: "sallyport".into(),
            algorithms: vec![Alg::ES256],
            keys: vec![VerifyKey::from_pem(&key_pem, Some("k1".into())).unwrap()],
            tenant_claim: claim.into(),
            clock_skew: 5,
        }])
    };
    let v = providers("zid")
        .validate(issue(&[]).as_bytes(), now())
        .unwrap();
    assert_eq!(
        (v.tenant.as_str(), v.subject.as_deref()),
        ("acme", Some("app"))
    );
    assert!(v.expires_at >= now() + 3590 && v.expires_at <= now() + 3600);

    let t = issue(&["--tenant-claim", "tenant"]);
    assert!(providers("zid").validate(t.as_bytes(), now()).is_err());
    assert_eq!(
        providers("tenant")
            .validate(t.as_bytes(), now())
            .unwrap()
            .tenant,
        "acme"
    );

    let expired = issue(&["--ttl-secs", "-100"]);
    assert!(providers("zid")
        .validate(expired.as_bytes(), now())
        .is_err());
    let future = issue(&["--nbf-secs", "600"]);
    assert!(providers("zid").validate(future.as_bytes(), now()).is_err());
    let past = issue(&["--nbf-secs", "-600"]);
    assert!(providers("zid").validate(past.as_bytes(), now()).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn password_hash_from_stdin() {
    let hash = |input: &[u8]| {
        let mut child = bin()
            .args(["password", "hash"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    };
    let (ok, phc) = hash(b"s3cret\n");
    assert!(ok);
    assert!(password::verify(&phc, b"s3cret"), "{phc}");
    assert!(!password::verify(&phc, b"s3cret\n"));
    let (ok, _) = hash(b"\n");
    assert!(!ok, "empty password refused");
}
