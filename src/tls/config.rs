//! The three rustls configurations sallyport uses.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::{ring, CryptoProvider};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ServerConfig};

use super::pem::{load_bundle, load_ca, load_cert_and_key};
use super::verifier::IdentityVerifier;
use super::{TlsError, ALPN_H2, SYSTEM_CA_BUNDLE};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn rustls_error(context: &'static str) -> impl FnOnce(rustls::Error) -> TlsError {
    move |source| TlsError::Rustls { context, source }
}

/// The relay's side of the tunnel: TLS 1.3 only, a client certificate is **required** and
/// verified against the CA certificates in `ca` (clientAuth EKU, validity, chain) and must
/// carry exactly one valid connector identity (else the handshake fails with an alert),
/// ALPN `h2`.
///
/// The server's own certificate chain is `cert` (leaf first) with private key `key`. After the
/// handshake, [`super::identity_from_certs`] on `peer_certificates()` names the connector.
/// Resumed sessions carry the client chain of the original handshake, so the identity is
/// available on them too. ALPN: a client that offers ALPN without `h2` is refused by rustls; a
/// client that offers none is accepted, so check `alpn_protocol()` if that matters.
pub fn relay_server_config(
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let roots = load_ca(ca)?;
    let (chain, key_der) = load_cert_and_key(cert, key, &provider)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|source| TlsError::Verifier {
            path: ca.to_owned(),
            source,
        })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(rustls_error("TLS 1.3 with the ring provider"))?
        .with_client_cert_verifier(Arc::new(IdentityVerifier { inner: verifier }))
        .with_single_cert(chain, key_der)
        .map_err(rustls_error("relay certificate and key"))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// The connector's side of the tunnel: TLS 1.3 only, the relay's certificate is verified
/// against the CA certificates in `ca` (serverAuth EKU, validity, and the server name given
/// to `ClientConnection::new`), the connector presents `cert`/`key`, ALPN `h2`.
pub fn connector_client_config(
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let roots = load_ca(ca)?;
    let (chain, key_der) = load_cert_and_key(cert, key, &provider)?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(rustls_error("TLS 1.3 with the ring provider"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key_der)
        .map_err(rustls_error("connector certificate and key"))?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// The connector's client side towards HTTPS/TCPS backends: TLS 1.2 or 1.3, server verified
/// against the PEM bundle `trust`, or the system bundle [`SYSTEM_CA_BUNDLE`] when `None`; no
/// client certificate, no ALPN (HTTP/1.1 is what a backend assumes without it).
pub fn backend_client_config(trust: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let path = trust.unwrap_or(Path::new(SYSTEM_CA_BUNDLE));
    let roots = load_bundle(path).map_err(|e| match (trust, e) {
        (None, TlsError::Io { path, source }) => TlsError::NoSystemBundle { path, source },
        (_, e) => e,
    })?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(rustls_error("TLS 1.2 and 1.3 with the ring provider"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
