//! Real TLS handshakes in memory (no sockets): rustls client and server connections pumped
//! through byte buffers, with the configurations the product uses and with the ways a peer
//! can be wrong.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, Error, PeerIncompatible,
    ProtocolVersion, ServerConnection,
};
use rustls_pki_types::ServerName;

use super::*;
use crate::pki::now_unix;
use crate::pki::tests::{id, issue_custom, sample, unix};

struct Outcome {
    client: Result<(), Error>,
    server: Result<(), Error>,
}

/// Moves all pending bytes from `from` to `to` (as TLS records); returns whether any moved.
/// The first error of the receiving side is kept; after it, nothing more is fed to it, but
/// its queued alert is still sent on the next call.
fn transfer(
    from: &mut rustls::ConnectionCommon<impl rustls::SideData>,
    to: &mut rustls::ConnectionCommon<impl rustls::SideData>,
    to_err: &mut Option<Error>,
) -> bool {
    let mut buf = Vec::new();
    while from.wants_write() {
        if from.write_tls(&mut buf).unwrap() == 0 {
            break;
        }
    }
    if buf.is_empty() || to_err.is_some() {
        return false;
    }
    let mut rd = &buf[..];
    while !rd.is_empty() && to_err.is_none() {
        if to.read_tls(&mut rd).unwrap() == 0 {
            break;
        }
        if let Err(e) = to.process_new_packets() {
            *to_err = Some(e);
        }
    }
    true
}

fn handshake(client: &mut ClientConnection, server: &mut ServerConnection) -> Outcome {
    let (mut cerr, mut serr) = (None, None);
    for _ in 0..32 {
        let a = transfer(&mut **client, &mut **server, &mut serr);
        let b = transfer(&mut **server, &mut **client, &mut cerr);
        if !a && !b {
            break;
        }
    }
    Outcome {
        client: cerr.map_or(Ok(()), Err),
        server: serr.map_or(Ok(()), Err),
    }
}

fn connect(
    client: Arc<ClientConfig>,
    server: Arc<rustls::ServerConfig>,
    name: &str,
) -> (ClientConnection, ServerConnection, Outcome) {
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let mut c = ClientConnection::new(client, name).unwrap();
    let mut s = ServerConnection::new(server).unwrap();
    let outcome = handshake(&mut c, &mut s);
    (c, s, outcome)
}

fn relay(dir: &Path) -> Arc<rustls::ServerConfig> {
    relay_server_config(
        &dir.join("ca.pem"),
        &dir.join("relay.pem"),
        &dir.join("relay.key"),
    )
    .unwrap()
}

fn connector(dir: &Path, stem: &str) -> Arc<ClientConfig> {
    connector_client_config(
        &dir.join("ca.pem"),
        &dir.join(format!("{stem}.pem")),
        &dir.join(format!("{stem}.key")),
    )
    .unwrap()
}

/// A client config built without our loader's checks, to present what a broken or hostile
/// connector would: `cert` = `Some((cert, key))` or no client certificate at all.
fn raw_client(
    ca: &Path,
    cert: Option<(&Path, &Path)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[u8],
) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(load_ca(ca).unwrap());
    let mut cfg = match cert {
        Some((c, k)) => builder
            .with_client_auth_cert(load_certs(c).unwrap(), load_key(k).unwrap())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(cfg)
}

fn alert(e: &Result<(), Error>) -> Option<AlertDescription> {
    match e {
        Err(Error::AlertReceived(a)) => Some(*a),
        _ => None,
    }
}

#[test]
fn mtls_succeeds_and_the_server_sees_the_identity() {
    let (_tmp, dir) = sample("hs-ok");
    let (mut c, mut s, out) = connect(
        connector(&dir, "connector-acme-berlin"),
        relay(&dir),
        "localhost",
    );
    out.client.unwrap();
    out.server.unwrap();
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(s.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(s.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(c.alpn_protocol(), Some(&b"h2"[..]));
    let chain = s.peer_certificates().unwrap();
    assert_eq!(identity_from_certs(chain).unwrap(), id("acme", "berlin"));

    // Application data flows both ways.
    use std::io::{Read, Write};
    c.writer().write_all(b"ping").unwrap();
    let mut none = None;
    transfer(&mut *c, &mut *s, &mut none);
    let mut got = [0u8; 4];
    s.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    assert!(none.is_none());

    // The relay's other names work too; a name not in its certificate does not.
    for name in ["127.0.0.1", "::1"] {
        let (_, _, out) = connect(connector(&dir, "connector-acme-paris"), relay(&dir), name);
        out.client.unwrap();
        out.server.unwrap();
    }
    let (_, _, out) = connect(
        connector(&dir, "connector-acme-paris"),
        relay(&dir),
        "relay.example",
    );
    assert!(
        matches!(
            out.client,
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{:?}",
        out.client
    );
}

#[test]
fn no_client_certificate_is_refused() {
    let (_tmp, dir) = sample("hs-nocert");
    let client = raw_client(&dir.join("ca.pem"), None, &[&rustls::version::TLS13], b"h2");
    let (_, _, out) = connect(client, relay(&dir), "localhost");
    assert!(
        matches!(out.server, Err(Error::NoCertificatesPresented)),
        "{:?}",
        out.server
    );
    assert_eq!(
        alert(&out.client),
        Some(AlertDescription::CertificateRequired)
    );
}

#[test]
fn client_certificate_from_another_ca_is_refused() {
    let (_tmp, dir) = sample("hs-ca1");
    let (_tmp2, other) = sample("hs-ca2");
    // Trusts the real relay, but presents a certificate from the other PKI.
    let client = connector_client_config(
        &dir.join("ca.pem"),
        &other.join("connector-acme-berlin.pem"),
        &other.join("connector-acme-berlin.key"),
    )
    .unwrap();
    let (_, _, out) = connect(client, relay(&dir), "localhost");
    assert!(
        matches!(
            out.server,
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
        ),
        "{:?}",
        out.server
    );
    assert_eq!(alert(&out.client), Some(AlertDescription::UnknownCA));

    // And a connector of the other PKI does not trust this relay.
    let (_, _, out) = connect(
        connector(&other, "connector-acme-berlin"),
        relay(&dir),
        "localhost",
    );
    assert!(
        matches!(
            out.client,
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
        ),
        "{:?}",
        out.client
    );
    assert_eq!(alert(&out.server), Some(AlertDescription::UnknownCA));
}

#[test]
fn expired_client_certificate_is_refused() {
    let (tmp, dir) = sample("hs-expired");
    let old = id("acme", "old");
    let (c, k) = issue_custom(
        &dir,
        &tmp.0,
        "old",
        Some(&old),
        unix(2000, 1, 1),
        unix(2001, 1, 1),
        &[],
    );
    let client = raw_client(
        &dir.join("ca.pem"),
        Some((&c, &k)),
        &[&rustls::version::TLS13],
        b"h2",
    );
    let (_, _, out) = connect(client, relay(&dir), "localhost");
    assert!(
        matches!(
            out.server,
            Err(Error::InvalidCertificate(
                CertificateError::ExpiredContext { .. }
            ))
        ),
        "{:?}",
        out.server
    );
    assert_eq!(
        alert(&out.client),
        Some(AlertDescription::CertificateExpired)
    );

    // Control: the same path with a current certificate succeeds.
    let now = now_unix().unwrap();
    let (c, k) = issue_custom(&dir, &tmp.0, "fresh", Some(&old), now - 60, now + 600, &[]);
    let client = raw_client(
        &dir.join("ca.pem"),
        Some((&c, &k)),
        &[&rustls::version::TLS13],
        b"h2",
    );
    let (_, s, out) = connect(client, relay(&dir), "localhost");
    out.server.unwrap();
    assert_eq!(
        identity_from_certs(s.peer_certificates().unwrap()).unwrap(),
        old
    );
}

#[test]
fn server_auth_certificate_as_client_certificate_is_refused() {
    let (_tmp, dir) = sample("hs-eku");
    // relay.pem has only the serverAuth EKU; our loader does not check EKUs, the relay does.
    let client = connector(&dir, "relay");
    let (_, _, out) = connect(client, relay(&dir), "localhost");
    assert!(
        matches!(
            out.server,
            Err(Error::InvalidCertificate(
                CertificateError::InvalidPurposeContext { .. }
            ))
        ),
        "{:?}",
        out.server
    );
    assert_eq!(
        alert(&out.client),
        Some(AlertDescription::UnsupportedCertificate)
    );
}

#[test]
fn tls12_only_client_is_refused() {
    let (_tmp, dir) = sample("hs-tls12");
    let (c, k) = (
        dir.join("connector-acme-berlin.pem"),
        dir.join("connector-acme-berlin.key"),
    );
    let client = raw_client(
        &dir.join("ca.pem"),
        Some((&c, &k)),
        &[&rustls::version::TLS12],
        b"h2",
    );
    let (_, _, out) = connect(client, relay(&dir), "localhost");
    assert!(
        matches!(
            out.server,
            Err(Error::PeerIncompatible(
                PeerIncompatible::Tls12NotOfferedOrEnabled
            ))
        ),
        "{:?}",
        out.server
    );
    assert_eq!(alert(&out.client), Some(AlertDescription::ProtocolVersion));
}

#[test]
fn client_without_h2_alpn_is_refused() {
    let (_tmp, dir) = sample("hs-alpn");
    let (c, k) = (
        dir.join("connector-acme-berlin.pem"),
        dir.join("connector-acme-berlin.key"),
    );
    let client = raw_client(
        &dir.join("ca.pem"),
        Some((&c, &k)),
        &[&rustls::version::TLS13],
        b"http/1.1",
    );
    let (_, _, out) = connect(client, relay(&dir), "localhost");
    assert!(
        matches!(out.server, Err(Error::NoApplicationProtocol)),
        "{:?}",
        out.server
    );
    assert_eq!(
        alert(&out.client),
        Some(AlertDescription::NoApplicationProtocol)
    );
}

#[test]
fn client_certificate_without_exactly_one_identity_is_refused() {
    let (tmp, dir) = sample("hs-noid");
    let now = now_unix().unwrap();
    let ca = dir.join("ca.pem");
    let acme = id("acme", "x");
    for (name, identity, extra, want) in [
        ("none", None, &[][..], "no sallyport://"),
        (
            "web",
            None,
            &["https://example.com/"][..],
            "other URIs: https://example.com/",
        ),
        (
            "two",
            Some(&acme),
            &["sallyport://tenant/acme/location/y"][..],
            "more than one",
        ),
        (
            "bad",
            Some(&acme),
            &["sallyport://tenant/ACME/location/x"][..],
            "invalid connector identity",
        ),
    ] {
        let (c, k) = issue_custom(&dir, &tmp.0, name, identity, now - 60, now + 600, extra);
        let client = raw_client(&ca, Some((&c, &k)), &[&rustls::version::TLS13], b"h2");
        let (_, _, out) = connect(client, relay(&dir), "localhost");
        let Err(Error::InvalidCertificate(CertificateError::Other(e))) = &out.server else {
            panic!("{name}: {:?}", out.server)
        };
        assert!(e.to_string().contains(want), "{name}: {e}");
        assert_eq!(
            alert(&out.client),
            Some(AlertDescription::CertificateUnknown),
            "{name}"
        );
    }
}
