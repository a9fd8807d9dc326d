//! HTTPS and TCPS backends: the connector speaks TLS to the internal system and checks its
//! certificate against the configured trust store (here the demo stack's own CA).

use sallyport::demo::{self, client, StackOptions};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

/// A TLS server on `listener` with the relay certificate of the stack's PKI (SANs localhost,
/// 127.0.0.1): `http` answers one HTTP request per connection, otherwise it echoes.
fn tls_backend(listener: TcpListener, pki: &std::path::Path, http: bool) {
    let certs = sallyport::tls::load_certs(&pki.join("relay.pem")).unwrap();
    let key = sallyport::tls::load_key(&pki.join("relay.key")).unwrap();
    let cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(cfg).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = vec![0u8; 16 << 10];
                let mut got = Vec::new();
                loop {
                    let n = match tls.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if !http {
                        if tls.write_all(&buf[..n]).is_err() {
                            return;
                        }
                        continue;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") {
                        let body = b"hello over tls\n";
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = tls.write_all(head.as_bytes());
                        let _ = tls.write_all(body);
                        break;
                    }
                }
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
}

#[test]
fn https_and_tcps_backends_are_reached_over_verified_tls() {
    let https = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcps = TcpListener::bind("127.0.0.1:0").unwrap();
    // Same certificate (SANs localhost, 127.0.0.1, ::1) on 127.0.0.2: the name we dial is not
    // in it, so the handshake must fail.
    let wrong = TcpListener::bind("127.0.0.2:0").unwrap();
    let (hp, tp) = (
        https.local_addr().unwrap().port(),
        tcps.local_addr().unwrap().port(),
    );
    let wp = wrong.local_addr().unwrap().port();
    let stack = demo::start(&StackOptions {
        tunnels: 1,
        extra_maps: vec![
            format!("secure.virtual:80=localhost:{hp}/https"),
            format!("ldaps.virtual:636=localhost:{tp}/tcps"),
            // A TLS system whose certificate does not match the name we dial: refused.
            format!("wrongname.virtual:80=127.0.0.2:{wp}/https"),
        ],
        ..StackOptions::default()
    })
    .unwrap();
    tls_backend(https, &stack.pki_dir, true);
    tls_backend(tcps, &stack.pki_dir, false);
    tls_backend(wrong, &stack.pki_dir, true);

    let (status, body) = client::get(stack.proxy, "http://secure.virtual/", &[]).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, b"hello over tls\n");

    let echo = client::connect_echo(stack.proxy, "ldaps.virtual:636", b"bind over tls").unwrap();
    assert_eq!(echo, b"bind over tls");

    let (status, body) = client::get(stack.proxy, "http://wrongname.virtual/", &[]).unwrap();
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("TLS to the backend failed"), "{text}");
}
