//! Relay restart: the relay side goes away (connection and listener closed) and comes back on
//! the same address; the connector must notice, reconnect with backoff, and serve again. The
//! relay side is played by the test with the same building blocks the relay uses (mTLS accept,
//! identity from the certificate, a client-role tunnel).

use sallyport::connector::{self, BackendTimeouts, ConnectorConfig};
use sallyport::demo::backends;
use sallyport::io::runtime::IoMode;
use sallyport::policy::{parse_map_line, SubaccountPolicy};
use sallyport::proto::h2::{Config, RequestHead, Role};
use sallyport::tls::Identity;
use sallyport::tunnel::{StreamEvent, TlsTransport, Tunnel};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Pki {
    dir: std::path::PathBuf,
    stem: String,
    id: Identity,
}

fn pki() -> Pki {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sallyport-reconnect-{}-{n}", std::process::id()));
    let id = Identity::new("acme", "berlin").unwrap();
    let mut req = sallyport::pki::PkiRequest::new(&dir);
    req.connectors.push(id.clone());
    req.force = true;
    sallyport::pki::generate(&req).unwrap();
    Pki {
        stem: sallyport::pki::connector_file_stem(&id),
        dir,
        id,
    }
}

/// Starts a real connector (one tunnel) with `pki`'s certificate, dialling `relay`, with one
/// system mapped by `map`.
fn start_connector(pki: &Pki, relay: SocketAddr, map: &str) {
    let f = |n: &str| pki.dir.join(n);
    let policy = SubaccountPolicy::compile(&[parse_map_line(map).unwrap()]).unwrap();
    connector::start(ConnectorConfig {
        relay: relay.to_string(),
        relay_name: rustls::pki_types::ServerName::try_from("localhost")
            .unwrap()
            .to_owned(),
        tls: sallyport::tls::connector_client_config(
            &f("ca.pem"),
            &f(&format!("{}.pem", pki.stem)),
            &f(&format!("{}.key", pki.stem)),
        )
        .unwrap(),
        tunnels: 1,
        identity: pki.id.clone(),
        policy: Arc::new(policy),
        audit: sallyport::audit::AuditSink::disabled(),
        max_streams: sallyport::config::DEFAULT_STREAMS_PER_TUNNEL,
        keepalive: Duration::from_secs(1),
        timeouts: BackendTimeouts {
            connect: Duration::from_secs(2),
            response: Duration::from_secs(5),
            idle: Duration::from_secs(sallyport::config::DEFAULT_IDLE_TIMEOUT_SECS),
        },
        backend_tls: None,
        io: IoMode::Auto,
        handshake_timeout: Duration::from_secs(5),
        drain_on_signal: false,
    })
    .unwrap();
}

/// Accepts one tunnel on `addr`, checks its identity, sends one GET through it and returns
/// the status; then drops the connection and the listener (the "relay" is gone).
fn relay_once(addr: SocketAddr, tls: Arc<rustls::ServerConfig>) -> u16 {
    let rt = compio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let listener = compio::net::TcpListener::bind(addr).await.unwrap();
        let (sock, _) = compio::time::timeout(Duration::from_secs(20), listener.accept())
            .await
            .expect("the connector came back within 20 s")
            .unwrap();
        let (r, w, certs) = sallyport::io::tls::accept(sock, tls, Duration::from_secs(5))
            .await
            .unwrap();
        let id = sallyport::tls::identity_from_certs(&certs).unwrap();
        assert_eq!(
            (id.tenant.as_str(), id.location.as_str()),
            ("acme", "berlin")
        );
        let tunnel = Tunnel::new(Role::Client, Config::default());
        let runner = {
            let t = tunnel.clone();
            compio::runtime::spawn(async move { t.run(TlsTransport(r, w)).await })
        };
        let stream = tunnel
            .open(
                &RequestHead::new("GET", "http", "erp.virtual:80", "/again"),
                true,
            )
            .unwrap();
        let status = match stream.next().await {
            Some(StreamEvent::Response { head, .. }) => head.status,
            other => panic!("expected a response, got {other:?}"),
        };
        drop(stream);
        drop(runner); // cancels the tunnel task: the connection closes without GOAWAY
        drop(tunnel);
        status
    })
}

#[test]
fn connector_reconnects_after_the_relay_restarts() {
    let pki = pki();
    let f = |n: &str| pki.dir.join(n);
    let backend = backends::http_backend().unwrap();
    let server_tls =
        sallyport::tls::relay_server_config(&f("ca.pem"), &f("relay.pem"), &f("relay.key"))
            .unwrap();
    // Reserve a port, then free it for the first "relay".
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    start_connector(&pki, addr, &format!("erp.virtual:80={}", backend.addr));
    assert_eq!(relay_once(addr, server_tls.clone()), 200);
    // The relay is down for a moment (the connector's dials are refused), then back.
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(relay_once(addr, server_tls), 200);
    eprintln!(
        "reconnected and served again {:?} after the restart",
        t.elapsed()
    );
    assert_eq!(backend.requests.lock().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&pki.dir);
}

/// Plays a connector: dials the relay over mTLS, answers every stream with 200 until `for_`
/// has passed, then drops the connection (the connector "restarts").
fn connector_once(relay: SocketAddr, tls: Arc<rustls::ClientConfig>, for_: Duration) {
    let rt = compio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let tcp = compio::net::TcpStream::connect(relay).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost")
            .unwrap()
            .to_owned();
        let (r, w) = sallyport::io::tls::connect(tcp, tls, name, Duration::from_secs(5))
            .await
            .unwrap();
        let tunnel = Tunnel::new(Role::Server, Config::default());
        let runner = {
            let t = tunnel.clone();
            compio::runtime::spawn(async move { t.run(TlsTransport(r, w)).await })
        };
        let serve = async {
            while let Some((stream, _, _)) = tunnel.accept().await {
                let head = sallyport::proto::h2::ResponseHead::new(200);
                let _ = stream.send_response(&head, true);
            }
        };
        let _ = compio::time::timeout(for_, serve).await;
        drop(runner);
    })
}

#[test]
fn relay_forgets_a_restarted_connector_and_routes_to_the_new_one() {
    let pki = pki();
    let f = |n: &str| pki.dir.join(n);
    let tunnel_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_addr = tunnel_listener.local_addr().unwrap();
    let proxy = proxy_listener.local_addr().unwrap();
    let (_threads, registry) = sallyport::relay::start(sallyport::relay::RelayConfig {
        tunnel_listener,
        proxy_listener: Some(proxy_listener),
        tls: sallyport::tls::relay_server_config(&f("ca.pem"), &f("relay.pem"), &f("relay.key"))
            .unwrap(),
        socks_listener: None,
        auth: sallyport::relay::FrontAuth::trusted("acme"),
        socks_handshake_timeout: Duration::from_secs(5),
        limits: Default::default(),
        header_timeout: Duration::from_secs(5),
        response_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(sallyport::config::DEFAULT_IDLE_TIMEOUT_SECS),
        handshake_timeout: Duration::from_secs(5),
        keepalive: Duration::from_secs(1),
        threads: 2,
        io: IoMode::Auto,
    })
    .unwrap();
    let client_tls = sallyport::tls::connector_client_config(
        &f("ca.pem"),
        &f(&format!("{}.pem", pki.stem)),
        &f(&format!("{}.key", pki.stem)),
    )
    .unwrap();
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while registry.count("acme", "berlin") != n {
            assert!(
                Instant::now() < deadline,
                "registry never showed {n} tunnels"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let get = || {
        sallyport::demo::client::get(
            proxy,
            "http://erp.virtual/x",
            &[("SAP-Connectivity-SCC-Location_ID", "berlin")],
        )
        .unwrap()
        .0
    };
    for round in 0..2 {
        let tls = client_tls.clone();
        let c = std::thread::spawn(move || connector_once(relay_addr, tls, Duration::from_secs(2)));
        wait_for(1);
        assert_eq!(get(), 200, "round {round}");
        c.join().unwrap();
        // The connector is gone: the relay unregisters it and answers 503, not a hang.
        wait_for(0);
        assert_eq!(get(), 503, "round {round}");
    }
    let _ = std::fs::remove_dir_all(&pki.dir);
}

/// A stream the relay resets closes its backend socket at once (CVE-2025-8671 class: a reset
/// must not leave the backend working).
#[test]
fn relay_reset_closes_the_backend_socket_at_once() {
    let pki = pki();
    let f = |n: &str| pki.dir.join(n);
    let echo = backends::tcp_echo_backend().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay = listener.local_addr().unwrap();
    start_connector(&pki, relay, &format!("ldap.virtual:389={}/tcp", echo.addr));
    let tls = sallyport::tls::relay_server_config(&f("ca.pem"), &f("relay.pem"), &f("relay.key"))
        .unwrap();
    let rt = compio::runtime::Runtime::new().unwrap();
    let closed = echo.closed.clone();
    rt.block_on(async move {
        let listener = compio::net::TcpListener::from_std(listener).unwrap();
        let (sock, _) = listener.accept().await.unwrap();
        let (r, w, _) = sallyport::io::tls::accept(sock, tls, Duration::from_secs(5)).await.unwrap();
        let tunnel = Tunnel::new(Role::Client, Config::default());
        let runner = {
            let t = tunnel.clone();
            compio::runtime::spawn(async move { t.run(TlsTransport(r, w)).await })
        };
        let stream = tunnel.open(&RequestHead::connect("ldap.virtual:389"), false).unwrap();
        assert!(matches!(stream.next().await, Some(StreamEvent::Response { head, .. }) if head.status == 200));
        stream.send_data(bytes::Bytes::from_static(b"ping"), false).await.unwrap();
        match stream.next().await {
            Some(StreamEvent::Data { data, .. }) => assert_eq!(&data[..], b"ping"),
            other => panic!("expected the echo, got {other:?}"),
        }
        assert_eq!(closed.load(std::sync::atomic::Ordering::Relaxed), 0);
        stream.reset(sallyport::proto::Reason::CANCEL);
        let deadline = Instant::now() + Duration::from_secs(2);
        while closed.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            assert!(Instant::now() < deadline, "the backend socket stayed open after the reset");
            compio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(runner);
    });
    let _ = std::fs::remove_dir_all(&pki.dir);
}
