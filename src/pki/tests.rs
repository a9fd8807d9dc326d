//! PKI generation: files, modes, overwrite rules, CA reloading, and the TLS loaders' checks on
//! the generated files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{KeyPair, SanType};
use rustls_pki_types::CertificateDer;

use super::*;
use crate::tls::{
    self, backend_client_config, connector_client_config, identity_from_certs, relay_server_config,
    TlsError,
};

/// A unique directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sallyport-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn id(tenant: &str, location: &str) -> Identity {
    Identity::new(tenant, location).unwrap()
}

/// A generated PKI with connectors `acme/berlin` and `acme/paris` in a fresh temp dir
/// (`pki/` below it, so the 0700 creation is exercised).
pub(crate) fn sample(tag: &str) -> (TempDir, PathBuf) {
    let tmp = TempDir::new(tag);
    let dir = tmp.path("pki");
    let mut req = PkiRequest::new(&dir);
    req.connectors = vec![id("acme", "berlin"), id("acme", "paris")];
    generate(&req).unwrap();
    (tmp, dir)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn leaf(path: &Path) -> CertificateDer<'static> {
    tls::load_certs(path).unwrap().swap_remove(0)
}

#[test]
fn generate_writes_files_with_modes() {
    let (_tmp, dir) = sample("modes");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(
        listing(&dir),
        [
            "ca.key",
            "ca.pem",
            "connector-acme-berlin.key",
            "connector-acme-berlin.pem",
            "connector-acme-paris.key",
            "connector-acme-paris.pem",
            "relay.key",
            "relay.pem",
        ]
    );
    assert_eq!(mode(&dir.join("ca.pem")), 0o644);
    for f in [
        "ca.key",
        "relay.pem",
        "relay.key",
        "connector-acme-paris.key",
    ] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    let cn = std::fs::read_to_string(dir.join("connector-acme-berlin.key")).unwrap();
    assert!(cn.starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn refuses_overwrite_and_lists_files_then_force_overwrites() {
    let (_tmp, dir) = sample("force");
    let ca_before = std::fs::read(dir.join("ca.pem")).unwrap();
    let mut req = PkiRequest::new(&dir);
    req.connectors = vec![id("acme", "berlin"), id("acme", "rome")];
    let err = generate(&req).unwrap_err();
    let PkiError::Exists { files } = &err else {
        panic!("{err}")
    };
    let names: Vec<_> = files.iter().map(|p| p.file_name().unwrap()).collect();
    assert_eq!(
        names,
        [
            "ca.pem",
            "ca.key",
            "relay.pem",
            "relay.key",
            "connector-acme-berlin.pem",
            "connector-acme-berlin.key"
        ]
    );
    assert!(
        err.to_string().contains("connector-acme-berlin.key"),
        "{err}"
    );
    // Nothing written: no rome files, no temp files, CA unchanged.
    assert_eq!(listing(&dir).len(), 8);
    assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), ca_before);

    req.force = true;
    let files = generate(&req).unwrap();
    assert_eq!(files.written.len(), 8);
    assert_ne!(std::fs::read(dir.join("ca.pem")).unwrap(), ca_before);
    assert_eq!(
        listing(&dir).len(),
        10,
        "paris files stay, rome files added"
    );
    assert_eq!(mode(&dir.join("connector-acme-rome.key")), 0o600);
    assert_eq!(mode(&dir.join("ca.key")), 0o600);
}

#[test]
fn invalid_requests() {
    let tmp = TempDir::new("invalid");
    let mut req = PkiRequest::new(tmp.path("x"));
    req.validity_days = 0;
    assert!(matches!(
        generate(&req),
        Err(PkiError::InvalidValidity { days: 0 })
    ));
    req.validity_days = CA_VALIDITY_DAYS + 1;
    assert!(matches!(
        generate(&req),
        Err(PkiError::InvalidValidity { .. })
    ));
    req.validity_days = 30;
    req.relay_names = vec![];
    assert!(matches!(generate(&req), Err(PkiError::NoRelayNames)));
    req.relay_names = vec!["relay.example".into(), "bad name".into()];
    assert!(
        matches!(generate(&req), Err(PkiError::InvalidRelayName { ref name }) if name == "bad name")
    );
    req.relay_names = vec!["relay.example".into(), "10.0.0.1".into()];
    req.connectors = vec![id("a-b", "c"), id("a", "b-c")];
    let err = generate(&req).unwrap_err();
    assert!(matches!(err, PkiError::FileNameCollision { .. }), "{err}");
    assert!(!tmp.0.exists(), "nothing written");
    // The same identity twice is issued once.
    req.connectors = vec![id("a", "b"), id("a", "b")];
    assert_eq!(generate(&req).unwrap().written.len(), 6);
}

#[test]
fn configs_load_from_generated_files() {
    let (_tmp, dir) = sample("load");
    let ca = dir.join("ca.pem");
    relay_server_config(&ca, &dir.join("relay.pem"), &dir.join("relay.key")).unwrap();
    let (c, k) = (
        dir.join("connector-acme-paris.pem"),
        dir.join("connector-acme-paris.key"),
    );
    let cfg = connector_client_config(&ca, &c, &k).unwrap();
    assert_eq!(cfg.alpn_protocols, [b"h2".to_vec()]);
    backend_client_config(Some(&ca)).unwrap();
    match backend_client_config(None) {
        Ok(_) => assert!(Path::new(tls::SYSTEM_CA_BUNDLE).exists()),
        Err(TlsError::NoSystemBundle { path, .. }) => {
            assert_eq!(path, Path::new(tls::SYSTEM_CA_BUNDLE))
        }
        Err(e) => panic!("{e}"),
    }
    assert_eq!(
        identity_from_certs(&[leaf(&c)]).unwrap(),
        id("acme", "paris")
    );
    let err = identity_from_certs(&[leaf(&dir.join("relay.pem"))]).unwrap_err();
    assert!(matches!(err, TlsError::NoIdentity { .. }), "{err}");
    assert!(matches!(
        identity_from_certs(&[]),
        Err(TlsError::PeerNoCertificate)
    ));
}

#[test]
fn loaders_name_the_file_and_the_problem() {
    let (tmp, dir) = sample("loaders");
    let p = |n: &str| dir.join(n);
    let (ca, relay, relay_key) = (p("ca.pem"), p("relay.pem"), p("relay.key"));
    let err = relay_server_config(&ca, &relay_key, &relay).unwrap_err();
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    assert!(err
        .to_string()
        .contains("relay.key holds no CERTIFICATE block (it holds a private key"));
    let err = relay_server_config(&ca, &relay, &p("connector-acme-paris.key")).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
    let err = relay_server_config(&relay, &relay, &relay_key).unwrap_err();
    assert!(matches!(err, TlsError::NotCa { index: 0, .. }), "{err}");
    let err = relay_server_config(&ca, &ca, &p("ca.key")).unwrap_err();
    assert!(matches!(err, TlsError::LeafIsCa { .. }), "{err}");
    let err = relay_server_config(&p("missing.pem"), &relay, &relay_key).unwrap_err();
    assert!(err.to_string().starts_with("cannot read ") && err.to_string().contains("missing.pem"));

    let write = |name: &str, text: &str| {
        let path = tmp.path(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let empty = write("empty.pem", " \n");
    assert!(matches!(
        tls::load_certs(&empty),
        Err(TlsError::EmptyFile { .. })
    ));
    let junk = write("junk.pem", "hello\n");
    assert!(matches!(
        tls::load_certs(&junk),
        Err(TlsError::NoCertificate { .. })
    ));
    let cut = std::fs::read_to_string(&relay).unwrap();
    let cut = write("cut.pem", &cut[..cut.len() - 30]);
    let err = tls::load_certs(&cut).unwrap_err();
    assert!(matches!(err, TlsError::Pem { .. }), "{err}");
    let enc = write(
        "enc.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let err = tls::load_key(&enc).unwrap_err();
    assert!(err.to_string().contains("encrypted"), "{err}");
    let garbage = write(
        "garbage.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let err = tls::load_ca(&garbage).unwrap_err();
    assert!(
        matches!(err, TlsError::BadCertificate { index: 0, .. }),
        "{err}"
    );
    let err = backend_client_config(Some(&garbage)).unwrap_err();
    assert!(matches!(err, TlsError::NoTrustAnchors { .. }), "{err}");
}

/// Writes a connector certificate for `identity` (none: no SAN URI) plus `extra_uris`, valid `from ..= to` (Unix seconds) into
/// `out/<name>.pem|key`, issued by the CA in `ca_dir`.
pub(crate) fn issue_custom(
    ca_dir: &Path,
    out: &Path,
    name: &str,
    identity: Option<&Identity>,
    from: i64,
    to: i64,
    extra_uris: &[&str],
) -> (PathBuf, PathBuf) {
    let ca = load_issuer(ca_dir).unwrap();
    let mut params = connector_params(identity.unwrap_or(&id("x", "y")), from, to).unwrap();
    if identity.is_none() {
        params.subject_alt_names.clear();
    }
    for uri in extra_uris {
        params
            .subject_alt_names
            .push(SanType::URI((*uri).try_into().unwrap()));
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let (c, k) = (
        out.join(format!("{name}.pem")),
        out.join(format!("{name}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

pub(crate) fn unix(y: i64, m: i64, d: i64) -> i64 {
    x509::days_from_civil(y, m, d) * 86_400
}

#[test]
fn validity_is_checked_at_load() {
    let (tmp, dir) = sample("validity");
    let ca = dir.join("ca.pem");
    let acme = id("acme", "old");
    let (c, k) = issue_custom(
        &dir,
        &tmp.0,
        "old",
        Some(&acme),
        unix(2000, 1, 1),
        unix(2001, 1, 1),
        &[],
    );
    let err = connector_client_config(&ca, &c, &k).unwrap_err();
    assert!(matches!(err, TlsError::Expired { index: 0, .. }), "{err}");
    assert!(
        err.to_string().contains("expired at 2001-01-01T00:00:00Z"),
        "{err}"
    );
    let (c, k) = issue_custom(
        &dir,
        &tmp.0,
        "new",
        Some(&acme),
        unix(2090, 1, 1),
        unix(2091, 1, 1),
        &[],
    );
    let err = connector_client_config(&ca, &c, &k).unwrap_err();
    assert!(matches!(err, TlsError::NotYetValid { .. }), "{err}");
    assert!(err.to_string().contains("2090-01-01T00:00:00Z"), "{err}");
}

#[test]
fn identity_needs_exactly_one_sallyport_uri() {
    let (tmp, dir) = sample("uris");
    let now = now_unix().unwrap();
    let acme = id("acme", "x");
    let issue = |name, extra: &[&str]| {
        let (c, _) = issue_custom(&dir, &tmp.0, name, Some(&acme), now - 60, now + 600, extra);
        identity_from_certs(&[leaf(&c)])
    };
    assert_eq!(
        issue("same", &["sallyport://tenant/acme/location/x"]).unwrap(),
        acme
    );
    assert_eq!(issue("other", &["https://example.com/"]).unwrap(), acme);
    let err = issue("two", &["sallyport://tenant/acme/location/y"]).unwrap_err();
    assert!(matches!(err, TlsError::AmbiguousIdentity { .. }), "{err}");
    assert!(err.to_string().contains("location/y"), "{err}");
    let err = issue("bad", &["sallyport://tenant/Acme/location/x"]).unwrap_err();
    assert!(matches!(err, TlsError::InvalidIdentity { .. }), "{err}");
}

#[test]
fn add_connector_reuses_the_ca() {
    let (_tmp, dir) = sample("add");
    let lyon = id("acme", "lyon");
    let files = add_connector(&dir, &lyon, false).unwrap();
    assert_eq!(files.written.len(), 2);
    let (c, k) = (&files.written[0], &files.written[1]);
    assert_eq!(mode(k), 0o600);
    connector_client_config(&dir.join("ca.pem"), c, k).unwrap();
    assert_eq!(identity_from_certs(&[leaf(c)]).unwrap(), lyon);
    let err = add_connector(&dir, &lyon, false).unwrap_err();
    assert!(
        matches!(err, PkiError::Exists { ref files } if files.len() == 2),
        "{err}"
    );
    let before = std::fs::read(c).unwrap();
    add_connector(&dir, &lyon, true).unwrap();
    assert_ne!(std::fs::read(c).unwrap(), before);
    assert!(!listing(&dir).iter().any(|n| n.ends_with(".tmp")));
}

/// `acme-x`/`lyon` and `acme`/`x-lyon` share a file name: `force` renews a connector's own
/// certificate but never replaces the other's.
#[test]
fn add_connector_with_force_does_not_replace_another_connectors_files() {
    let (_tmp, dir) = sample("collide");
    let first = id("acme-x", "lyon");
    let files = add_connector(&dir, &first, false).unwrap();
    let before = std::fs::read(&files.written[0]).unwrap();
    let err = add_connector(&dir, &id("acme", "x-lyon"), true).unwrap_err();
    assert!(matches!(err, PkiError::FileNameCollision { .. }), "{err}");
    assert!(err.to_string().contains("rename one"), "{err}");
    assert_eq!(std::fs::read(&files.written[0]).unwrap(), before);
    assert_eq!(
        identity_from_certs(&[leaf(&files.written[0])]).unwrap(),
        first
    );
}

#[test]
fn add_connector_refuses_a_broken_ca() {
    let (tmp, dir) = sample("brokenca");
    let (_tmp2, other) = sample("brokenca2");
    let x = id("acme", "x");
    let err = add_connector(&tmp.path("nope"), &x, false).unwrap_err();
    assert!(matches!(err, PkiError::Tls(TlsError::Io { .. })), "{err}");
    std::fs::copy(other.join("ca.key"), dir.join("ca.key")).unwrap();
    let err = add_connector(&dir, &x, false).unwrap_err();
    assert!(matches!(err, PkiError::CaKey { .. }), "{err}");
    std::fs::copy(dir.join("relay.pem"), dir.join("ca.pem")).unwrap();
    let err = add_connector(&dir, &x, false).unwrap_err();
    assert!(matches!(err, PkiError::Ca { .. }), "{err}");
    assert!(!dir.join("connector-acme-x.pem").exists());
}

/// A CA made elsewhere, with a PrintableString subject of several attributes and a SHA-1
/// style key id: the reconstructed issuer must still produce certificates that verify.
#[test]
fn add_connector_with_a_foreign_ca() {
    use rcgen::string::PrintableString;
    use rcgen::{BasicConstraints, DnValue, KeyIdMethod};
    let tmp = TempDir::new("foreign");
    std::fs::create_dir_all(&tmp.0).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(
        DnType::CountryName,
        DnValue::PrintableString(PrintableString::try_from("DE").unwrap()),
    );
    p.distinguished_name
        .push(DnType::OrganizationName, "Example AG");
    p.distinguished_name.push(
        DnType::CommonName,
        DnValue::PrintableString(PrintableString::try_from("Example Root").unwrap()),
    );
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    p.key_identifier_method = KeyIdMethod::PreSpecified(vec![7; 20]);
    let cert = p.self_signed(&key).unwrap();
    std::fs::write(tmp.path("ca.pem"), cert.pem()).unwrap();
    std::fs::write(tmp.path("ca.key"), key.serialize_pem()).unwrap();
    let files = add_connector(&tmp.0, &id("t", "l"), false).unwrap();
    connector_client_config(&tmp.path("ca.pem"), &files.written[0], &files.written[1]).unwrap();
}
