//! TLS over real loopback sockets: server and client each on their own thread and runtime.

mod duplex;
mod pki;

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use compio::net::{TcpListener, TcpStream};
use rustls::AlertDescription;
use rustls_pki_types::ServerName;

use super::*;
use crate::io::runtime::{build_runtime, IoMode};

pub(super) const HANDSHAKE: Duration = Duration::from_secs(5);

/// Runs `server` (given a bound listener) and `client` (given its address) on two threads,
/// each with its own runtime on `mode`; returns both results.
pub(super) fn pair<S, C, SO, CO>(
    mode: IoMode,
    server: impl FnOnce(TcpListener) -> S + Send + 'static,
    client: impl FnOnce(SocketAddr) -> C + Send + 'static,
) -> (SO, CO)
where
    S: Future<Output = SO> + 'static,
    C: Future<Output = CO> + 'static,
    SO: Send + 'static,
    CO: Send + 'static,
{
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std_listener.local_addr().expect("addr");
    let s = std::thread::spawn(move || {
        let (rt, _) = build_runtime(mode).expect("server runtime");
        rt.block_on(async move {
            let l = TcpListener::from_std(std_listener).expect("listener");
            server(l).await
        })
    });
    let c = std::thread::spawn(move || {
        let (rt, _) = build_runtime(mode).expect("client runtime");
        rt.block_on(client(addr))
    });
    let co = c.join().expect("client thread");
    let so = s.join().expect("server thread");
    (so, co)
}

pub(super) fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("server name")
}

pub(super) async fn tls_accept(
    l: &TcpListener,
) -> Result<(TlsReader, TlsWriter, Vec<CertificateDer<'static>>), TlsIoError> {
    let (tcp, _) = l.accept().await.expect("tcp accept");
    accept(tcp, pki::server_config(), HANDSHAKE).await
}

pub(super) async fn tls_connect(
    addr: SocketAddr,
    cfg: Arc<ClientConfig>,
) -> Result<(TlsReader, TlsWriter), TlsIoError> {
    let tcp = TcpStream::connect(addr).await.expect("tcp connect");
    connect(tcp, cfg, localhost(), HANDSHAKE).await
}

/// Reads until `want` bytes have arrived (or the stream ends/fails).
async fn read_n(r: &mut TlsReader, want: usize) -> Result<Vec<u8>, TlsIoError> {
    let mut dst = BytesMut::new();
    while dst.len() < want {
        if r.read(&mut dst).await? == 0 {
            break;
        }
    }
    Ok(dst.to_vec())
}

#[test]
fn mutual_tls_both_ways_and_clean_close() {
    let (server, client) = pair(
        IoMode::Auto,
        |l| async move {
            let (mut r, mut w, chain) = tls_accept(&l).await.expect("server handshake");
            assert_eq!(chain, pki::pki().client_chain, "peer chain is the client's");
            let leaf = webpki::EndEntityCert::try_from(&chain[0]).expect("leaf parses");
            let uris: Vec<&str> = leaf.valid_uri_names().collect();
            assert_eq!(uris, [pki::CLIENT_URI]);
            let got = read_n(&mut r, 5).await.expect("server read");
            w.write(&[Bytes::from_static(b"pong")])
                .await
                .expect("server write");
            w.close().await.expect("server close");
            // The client closes after reading: clean end of stream.
            let mut rest = BytesMut::new();
            assert_eq!(r.read(&mut rest).await.expect("server eof"), 0);
            assert_eq!(r.read(&mut rest).await.expect("eof again"), 0);
            got
        },
        |addr| async move {
            let (mut r, mut w) = tls_connect(addr, pki::client_config())
                .await
                .expect("client handshake");
            w.write(&[Bytes::from_static(b"pi"), Bytes::from_static(b"ng")])
                .await
                .expect("client write");
            w.write(&[Bytes::from_static(b"!")])
                .await
                .expect("client write");
            let got = read_n(&mut r, 4).await.expect("client read");
            let mut rest = BytesMut::new();
            assert_eq!(r.read(&mut rest).await.expect("client eof"), 0);
            w.close().await.expect("client close");
            assert!(matches!(
                w.write(&[Bytes::from_static(b"x")]).await,
                Err(TlsIoError::Closed)
            ));
            got
        },
    );
    assert_eq!(server, b"ping!");
    assert_eq!(client, b"pong");
}

#[test]
fn truncation_without_close_notify_is_an_error() {
    let (_, client) = pair(
        IoMode::Auto,
        |l| async move {
            let (r, mut w, _) = tls_accept(&l).await.expect("server handshake");
            w.write(&[Bytes::from_static(b"partial")])
                .await
                .expect("server write");
            // Drop both halves without close(): the socket closes with a bare FIN.
            drop((r, w));
        },
        |addr| async move {
            let (mut r, _w) = tls_connect(addr, pki::client_config())
                .await
                .expect("client handshake");
            let mut dst = BytesMut::new();
            while dst.len() < 7 {
                assert!(r.read(&mut dst).await.expect("data before the FIN") > 0);
            }
            let end = r.read(&mut dst).await;
            (dst, end)
        },
    );
    let (data, end) = client;
    assert_eq!(&data[..], b"partial");
    assert!(matches!(end, Err(TlsIoError::Truncated)), "{end:?}");
    assert!(end
        .map_err(|e| e.to_string())
        .unwrap_err()
        .contains("close_notify"));
}

#[test]
fn client_without_certificate_is_rejected() {
    let (server, client) = pair(
        IoMode::Auto,
        |l| async move { tls_accept(&l).await.map(drop) },
        |addr| async move {
            // TLS 1.3: the client's handshake completes; the rejection arrives as an alert.
            match tls_connect(addr, pki::client_config_with(None)).await {
                Err(e) => Err(e),
                Ok((mut r, _w)) => read_n(&mut r, 1).await.map(drop),
            }
        },
    );
    match server {
        Err(TlsIoError::CertificateRejected(rustls::Error::NoCertificatesPresented)) => {}
        other => panic!("server: {other:?}"),
    }
    match client {
        Err(TlsIoError::RejectedByPeer(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        ))) => {}
        other => panic!("client: {other:?}"),
    }
}

#[test]
fn client_certificate_from_another_ca_is_rejected() {
    let (server, client) = pair(
        IoMode::Auto,
        |l| async move { tls_accept(&l).await.map(drop) },
        |addr| async move {
            match tls_connect(addr, pki::client_config_with(Some(pki::rogue_pki()))).await {
                Err(e) => Err(e),
                Ok((mut r, _w)) => read_n(&mut r, 1).await.map(drop),
            }
        },
    );
    let server = server.expect_err("server must reject");
    assert!(
        matches!(
            server,
            TlsIoError::CertificateRejected(rustls::Error::InvalidCertificate(_))
        ),
        "server: {server:?}"
    );
    assert!(
        server.to_string().starts_with("certificate rejected: "),
        "{server}"
    );
    let client = client.expect_err("client must learn of the rejection");
    assert!(
        matches!(
            client,
            TlsIoError::RejectedByPeer(rustls::Error::AlertReceived(AlertDescription::UnknownCA))
        ),
        "client: {client:?}"
    );
}

#[test]
fn handshake_times_out_against_a_silent_peer() {
    let deadline = Duration::from_millis(300);
    let (server, client) = pair(
        IoMode::Auto,
        move |l| async move {
            // A client that connects and never speaks.
            let (tcp, _) = l.accept().await.expect("tcp accept");
            let t0 = Instant::now();
            let r = accept(tcp, pki::server_config(), deadline).await.map(drop);
            // Now play the silent server for the client's connect.
            let (_silent, _) = l.accept().await.expect("second accept");
            compio::time::sleep(Duration::from_secs(1)).await;
            (r, t0.elapsed())
        },
        move |addr| async move {
            let _mute = TcpStream::connect(addr).await.expect("mute connect");
            let tcp = TcpStream::connect(addr).await.expect("connect");
            let t0 = Instant::now();
            let r = connect(tcp, pki::client_config(), localhost(), deadline)
                .await
                .map(drop);
            let took = t0.elapsed();
            // Keep the mute connection open until the server's deadline has surely passed.
            compio::time::sleep(Duration::from_secs(1)).await;
            (r, took)
        },
    );
    for (side, (r, took)) in [("server", server), ("client", client)] {
        assert!(
            matches!(r, Err(TlsIoError::HandshakeTimeout(d)) if d == deadline),
            "{side}: {r:?}"
        );
        assert!(
            took >= deadline && took < Duration::from_millis(1500),
            "{side} took {took:?}"
        );
    }
}

/// Both writers run before their readers ever read, while the client's first records race
/// its Finished (the server's handshake can end with application data already received).
#[test]
fn writers_first_while_data_races_the_handshake() {
    const ROUNDS: usize = 20;
    let (server, client) = pair(
        IoMode::Auto,
        |l| async move {
            let mut got = Vec::new();
            for _ in 0..ROUNDS {
                let (mut r, mut w, _) = tls_accept(&l).await.expect("server handshake");
                w.write(&[Bytes::from_static(b"hello from server")])
                    .await
                    .expect("server write first");
                got.push(read_n(&mut r, 3 * 16384).await.expect("server read").len());
                w.close().await.expect("server close");
            }
            got
        },
        |addr| async move {
            let big = Bytes::from(vec![7u8; 16384]);
            let mut got = Vec::new();
            for _ in 0..ROUNDS {
                let (mut r, mut w) = tls_connect(addr, pki::client_config())
                    .await
                    .expect("client handshake");
                w.write(&[big.clone(), big.clone(), big.clone()])
                    .await
                    .expect("client write first");
                got.push(read_n(&mut r, usize::MAX).await.expect("client read"));
                w.close().await.expect("client close");
            }
            got
        },
    );
    assert!(server.iter().all(|&n| n == 3 * 16384), "{server:?}");
    assert!(client.iter().all(|v| v == b"hello from server"));
}

/// Without client authentication rustls lets the server send before the client's Finished;
/// `accept` still waits for the handshake to end, and reports no peer certificate.
#[test]
fn server_without_client_auth() {
    let (server, client) = pair(
        IoMode::Epoll,
        |l| async move {
            let (tcp, _) = l.accept().await.expect("tcp accept");
            let cfg = pki::server_config_without_client_auth();
            let (mut r, mut w, chain) = accept(tcp, cfg, HANDSHAKE).await.expect("handshake");
            w.write(&[Bytes::from_static(b"hi")])
                .await
                .expect("server write");
            let got = read_n(&mut r, 2).await.expect("server read");
            w.close().await.expect("server close");
            (chain.len(), got)
        },
        |addr| async move {
            let cfg = pki::client_config_with(None);
            let (mut r, mut w) = tls_connect(addr, cfg).await.expect("client handshake");
            w.write(&[Bytes::from_static(b"yo")])
                .await
                .expect("client write");
            let got = read_n(&mut r, usize::MAX).await.expect("client read");
            w.close().await.expect("client close");
            got
        },
    );
    assert_eq!(server, (0, b"yo".to_vec()));
    assert_eq!(client, b"hi");
}

#[test]
fn a_dropped_read_poisons_the_reader() {
    let (_, client) = pair(
        IoMode::Auto,
        |l| async move {
            let (_r, _w, _) = tls_accept(&l).await.expect("server handshake");
            compio::time::sleep(Duration::from_millis(300)).await;
        },
        |addr| async move {
            let (mut r, _w) = tls_connect(addr, pki::client_config())
                .await
                .expect("client handshake");
            let mut dst = BytesMut::new();
            let waited = compio::time::timeout(Duration::from_millis(50), r.read(&mut dst)).await;
            assert!(waited.is_err(), "the silent peer sent something");
            r.read(&mut dst).await
        },
    );
    assert!(matches!(client, Err(TlsIoError::Cancelled)), "{client:?}");
}

#[test]
fn error_messages_name_the_problem() {
    let t = TlsIoError::HandshakeTimeout(Duration::from_millis(300)).to_string();
    assert!(t.contains("timed out") && t.contains("300 ms"), "{t}");
    let c = TlsIoError::from_rustls(rustls::Error::NoCertificatesPresented);
    assert!(matches!(c, TlsIoError::CertificateRejected(_)));
    assert!(c.to_string().starts_with("certificate rejected: "), "{c}");
    let p = TlsIoError::from_rustls(rustls::Error::AlertReceived(AlertDescription::UnknownCA));
    assert!(matches!(p, TlsIoError::RejectedByPeer(_)), "{p:?}");
    let o = TlsIoError::from_rustls(rustls::Error::DecryptError);
    assert!(matches!(o, TlsIoError::Tls(_)), "{o:?}");
    assert!(TlsIoError::Io(std::io::ErrorKind::BrokenPipe.into())
        .to_string()
        .starts_with("I/O error"));
}
