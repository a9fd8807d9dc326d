//! Test certificates made with rcgen: a CA, a server certificate for localhost/127.0.0.1 and a
//! client certificate with a SAN URI, plus rustls configs (TLS 1.3 only, ring).

use std::sync::{Arc, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub(super) const CLIENT_URI: &str = "sallyport://tenant/t1/location/l1";

pub(super) struct Pki {
    pub(super) ca: CertificateDer<'static>,
    pub(super) server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    pub(super) client_chain: Vec<CertificateDer<'static>>,
    client_key: PrivateKeyDer<'static>,
}

fn key_der(k: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(k.serialize_der()))
}

fn generate(ca_name: &str) -> Pki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::default();
    // Distinct names per CA: with equal subjects webpki picks the wrong issuer and reports
    // BadSignature instead of UnknownIssuer.
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("CA cert");
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate().expect("server key");
    let mut sp =
        CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).expect("server SANs");
    sp.is_ca = IsCa::ExplicitNoCa;
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    sp.use_authority_key_identifier_extension = true;
    let server_cert = sp.signed_by(&server_key, &issuer).expect("server cert");

    let client_key = KeyPair::generate().expect("client key");
    let mut cp = CertificateParams::default();
    cp.subject_alt_names = vec![SanType::URI(CLIENT_URI.try_into().expect("URI SAN"))];
    cp.is_ca = IsCa::ExplicitNoCa;
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    cp.use_authority_key_identifier_extension = true;
    let client_cert = cp.signed_by(&client_key, &issuer).expect("client cert");

    Pki {
        ca: ca_cert.der().clone(),
        server_chain: vec![server_cert.der().clone()],
        server_key: key_der(&server_key),
        client_chain: vec![client_cert.der().clone()],
        client_key: key_der(&client_key),
    }
}

/// The PKI every test trusts (generated once per test process).
pub(super) fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| generate("sallyport io test CA"))
}

/// A second, unrelated PKI: its client certificate must be rejected.
pub(super) fn rogue_pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| generate("rogue io test CA"))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(p: &Pki) -> Arc<RootCertStore> {
    let mut r = RootCertStore::empty();
    r.add(p.ca.clone()).expect("add CA");
    Arc::new(r)
}

/// Server config for `pki()` that requires a client certificate from the same CA.
pub(super) fn server_config() -> Arc<ServerConfig> {
    let p = pki();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(p), provider())
        .build()
        .expect("client verifier");
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_client_cert_verifier(verifier)
        .with_single_cert(p.server_chain.clone(), p.server_key.clone_key())
        .expect("server cert");
    Arc::new(cfg)
}

/// Server config for `pki()` that asks for no client certificate.
pub(super) fn server_config_without_client_auth() -> Arc<ServerConfig> {
    let p = pki();
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(p.server_chain.clone(), p.server_key.clone_key())
        .expect("server cert");
    Arc::new(cfg)
}

/// Client config trusting `pki()`'s CA and presenting `identity`'s client certificate, or none.
pub(super) fn client_config_with(identity: Option<&Pki>) -> Arc<ClientConfig> {
    let b = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots(pki()));
    Arc::new(match identity {
        Some(id) => b
            .with_client_auth_cert(id.client_chain.clone(), id.client_key.clone_key())
            .expect("client cert"),
        None => b.with_no_client_auth(),
    })
}

pub(super) fn client_config() -> Arc<ClientConfig> {
    client_config_with(Some(pki()))
}
