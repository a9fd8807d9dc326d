//! The whitelist-bypass corpus (`tests/data/bypass_corpus.txt`, from threats.md) end to end:
//! HTTP/1.1 clients → relay proxy front door → tunnel → connector → raw-socket backends that
//! record every byte they receive. A refused request must leave the backends untouched; an
//! admitted one must arrive as exactly one request line carrying the path as sent.
//!
//! A second test plays the relay itself (an HTTP/2 client on the tunnel) so that paths the
//! relay's HTTP/1.1 parser would already refuse reach the connector's own check byte for byte.
//! Host-in-header and `Location` rewriting are checked on the way.

use sallyport::connector::{self, BackendTimeouts, ConnectorConfig};
use sallyport::demo::{self, client, Stack, StackOptions};
use sallyport::io::runtime::IoMode;
use sallyport::policy::{SubaccountPolicy, SystemSpec};
use sallyport::proto::h2::{Config, RequestHead, Role};
use sallyport::tls::Identity;
use sallyport::tunnel::{StreamEvent, TlsTransport, Tunnel};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[path = "data/corpus.rs"]
mod data;
use data::{cases, PolicyFile, POLICY};

/// A backend on a raw socket: records every byte and every request head it receives. HTTP
/// mode answers each head (`/api/redirect` and `/redirect-local` with a redirect to the
/// internal name, everything else 200 with the head as body); TCP mode echoes.
struct Recorder {
    addr: SocketAddr,
    bytes: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start(http: bool) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let r = Recorder {
            addr,
            bytes: Arc::default(),
            connections: Arc::default(),
            heads: Arc::default(),
        };
        let (bytes, conns, heads) = (r.bytes.clone(), r.connections.clone(), r.heads.clone());
        std::thread::spawn(move || {
            for sock in listener.incoming().flatten() {
                conns.fetch_add(1, Ordering::SeqCst);
                let (bytes, heads) = (bytes.clone(), heads.clone());
                std::thread::spawn(move || serve(sock, http, addr.port(), &bytes, &heads));
            }
        });
        r
    }

    fn request_lines(&self) -> Vec<String> {
        let heads = self.heads.lock().unwrap();
        heads
            .iter()
            .map(|h| h.lines().next().unwrap_or("").to_string())
            .collect()
    }
}

fn serve(
    mut sock: TcpStream,
    http: bool,
    port: u16,
    bytes: &AtomicUsize,
    heads: &Mutex<Vec<String>>,
) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 16 << 10];
    loop {
        let n = match sock.read(&mut tmp) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        bytes.fetch_add(n, Ordering::SeqCst);
        if !http {
            if sock.write_all(&tmp[..n]).is_err() {
                return;
            }
            continue;
        }
        buf.extend_from_slice(&tmp[..n]);
        // Requests here have no bodies: every head ends at an empty line.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buf.drain(..end + 4).collect();
            let head = String::from_utf8_lossy(&head).into_owned();
            heads.lock().unwrap().push(head.clone());
            let line = head.lines().next().unwrap_or("");
            let resp = if line.starts_with("GET /api/redirect ") {
                format!("HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port}/api/next?x=1\r\ncontent-length: 0\r\n\r\n")
            } else if line.starts_with("GET /redirect-local ") {
                format!("HTTP/1.1 302 Found\r\nlocation: http://localhost:{port}/next\r\ncontent-length: 0\r\n\r\n")
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{head}",
                    head.len()
                )
            };
            if sock.write_all(resp.as_bytes()).is_err() {
                return;
            }
        }
    }
}

/// The corpus policy, its HTTP systems pointed at `http`, its TCP system at `tcp`.
fn corpus_systems(http: SocketAddr, tcp: SocketAddr) -> Vec<SystemSpec> {
    let mut file: PolicyFile = toml::from_str(POLICY).unwrap();
    for s in &mut file.system {
        let port = if s.protocol.is_http() {
            http.port()
        } else {
            tcp.port()
        };
        s.internal_port = sallyport::policy::PortSpec::single(port);
    }
    file.system
}

struct Env {
    stack: Stack,
    http: Recorder,
    tcp: Recorder,
}

/// The tests of this file share one stack and its recorders, whose counts they compare
/// before and after each request: they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let (http, tcp) = (Recorder::start(true), Recorder::start(false));
        let stack = demo::start(&StackOptions {
            tunnels: 1,
            extra_systems: corpus_systems(http.addr, tcp.addr),
            ..StackOptions::default()
        })
        .expect("stack starts");
        Env { stack, http, tcp }
    })
}

/// Sends a raw request head to the proxy; returns status and body.
fn proxy_request(proxy: SocketAddr, head: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head).unwrap();
    client::read_response(&mut s, false).unwrap_or((0, Vec::new()))
}

/// CONNECT through the proxy; on 200 sends `ping` and expects it back.
fn proxy_connect(proxy: SocketAddr, authority: &str) -> u16 {
    match client::connect_echo(proxy, authority, b"ping") {
        Ok(_) => 200,
        Err(e) => e
            .strip_prefix("CONNECT refused: HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    }
}

#[test]
fn corpus_through_relay_and_connector() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env();
    let mut wrong = Vec::new();
    for c in cases() {
        let (http_before, tcp_before) = (
            env.http.bytes.load(Ordering::SeqCst),
            env.tcp.connections.load(Ordering::SeqCst),
        );
        let lines_before = env.http.request_lines().len();
        let what = format!(
            "{} {} {:?}",
            if c.connect { "CONNECT" } else { "GET" },
            c.authority,
            String::from_utf8_lossy(&c.target)
        );
        let status = if c.connect {
            proxy_connect(env.stack.proxy, &c.authority)
        } else {
            let mut head = format!("GET http://{}", c.authority).into_bytes();
            head.extend_from_slice(&c.target);
            head.extend_from_slice(
                format!(
                    " HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
                    c.authority
                )
                .as_bytes(),
            );
            proxy_request(env.stack.proxy, &head).0
        };
        // The relay's own HTTP/1.1 parser may refuse a malformed target first (400): that
        // is as good as the connector refusing it, as long as nothing reaches a backend.
        if status != c.status {
            wrong.push(format!("{what}: expected {}, got {status}", c.status));
        }
        let new_lines = env.http.request_lines()[lines_before..].to_vec();
        if c.status != 200 {
            let http_after = env.http.bytes.load(Ordering::SeqCst);
            let tcp_after = env.tcp.connections.load(Ordering::SeqCst);
            if http_after != http_before || tcp_after != tcp_before {
                wrong.push(format!(
                    "{what}: refused but a backend received bytes: {new_lines:?}"
                ));
            }
        } else if !c.connect {
            let want = format!("GET {} HTTP/1.1", String::from_utf8_lossy(&c.target));
            if new_lines != [want.clone()] {
                wrong.push(format!(
                    "{what}: backend saw {new_lines:?}, expected [{want:?}]"
                ));
            }
        } else if env.tcp.connections.load(Ordering::SeqCst) != tcp_before + 1 {
            wrong.push(format!(
                "{what}: admitted but the TCP backend saw no connection"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn host_in_header_and_location_rewrite_end_to_end() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env();
    let proxy = env.stack.proxy;
    let get = |url: &str, host: &str, extra: &str| {
        let head =
            format!("GET {url} HTTP/1.1\r\nhost: {host}\r\n{extra}connection: close\r\n\r\n");
        let (status, body) = proxy_request(proxy, head.as_bytes());
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    // Virtual (default): the backend sees the virtual host; a client's X-Forwarded-Host is
    // not passed on.
    let (status, seen) = get(
        "http://shop.virtual/api/host",
        "shop.virtual",
        "x-forwarded-host: evil.example\r\n",
    );
    assert_eq!(status, 200, "{seen}");
    assert!(seen.contains("\r\nhost: shop.virtual\r\n"), "{seen}");
    assert!(
        !seen.to_ascii_lowercase().contains("x-forwarded-host"),
        "{seen}"
    );
    // Internal: the backend sees its own name, the virtual one in X-Forwarded-Host.
    let (status, seen) = get("http://int.virtual/anything", "int.virtual", "");
    assert_eq!(status, 200, "{seen}");
    let port = env.http.addr.port();
    assert!(
        seen.contains(&format!("\r\nhost: localhost:{port}\r\n")),
        "{seen}"
    );
    assert!(
        seen.contains("\r\nx-forwarded-host: int.virtual\r\n"),
        "{seen}"
    );

    // Redirects to the internal address come back pointing at the virtual host.
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for (url, host, want) in [
        (
            "http://shop.virtual/api/redirect",
            "shop.virtual",
            "location: http://shop.virtual/api/next?x=1",
        ),
        (
            "http://int.virtual/redirect-local",
            "int.virtual",
            "location: http://int.virtual/next",
        ),
    ] {
        s.write_all(format!("GET {url} HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes())
            .unwrap();
        let head = read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 302"), "{head}");
        assert!(head.to_ascii_lowercase().contains(want), "{url}: {head}");
        assert!(
            !head.contains("127.0.0.1") && !head.contains("localhost"),
            "{head}"
        );
    }
}

/// Reads one response head (the redirects carry no body).
fn read_head(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => got.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Plays the relay: accepts the connector's tunnel and sends every corpus case as an HTTP/2
/// request with the exact `:path` bytes (no HTTP/1.1 parser in between).
#[test]
fn corpus_straight_into_the_connector() {
    let (http, tcp) = (Recorder::start(true), Recorder::start(false));
    let dir = std::env::temp_dir().join(format!("sallyport-bypass-{}", std::process::id()));
    let id = Identity::new("acme", "berlin").unwrap();
    let mut req = sallyport::pki::PkiRequest::new(&dir);
    req.connectors.push(id.clone());
    req.force = true;
    sallyport::pki::generate(&req).unwrap();
    let stem = sallyport::pki::connector_file_stem(&id);
    let f = |n: &str| dir.join(n);
    // Reserve a port; the connector retries (with backoff) until the "relay" listens on it.
    let relay_addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let policy = SubaccountPolicy::compile(&corpus_systems(http.addr, tcp.addr)).unwrap();
    connector::start(ConnectorConfig {
        relay: relay_addr.to_string(),
        relay_name: rustls::pki_types::ServerName::try_from("localhost")
            .unwrap()
            .to_owned(),
        tls: sallyport::tls::connector_client_config(
            &f("ca.pem"),
            &f(&format!("{stem}.pem")),
            &f(&format!("{stem}.key")),
        )
        .unwrap(),
        tunnels: 1,
        identity: id.clone(),
        policy: Arc::new(policy),
        audit: sallyport::audit::AuditSink::disabled(),
        max_streams: sallyport::config::DEFAULT_STREAMS_PER_TUNNEL,
        keepalive: Duration::from_secs(5),
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
    let server_tls =
        sallyport::tls::relay_server_config(&f("ca.pem"), &f("relay.pem"), &f("relay.key"))
            .unwrap();
    let rt = compio::runtime::Runtime::new().unwrap();
    let wrong = rt.block_on(async move {
        let listener = compio::net::TcpListener::bind(relay_addr).await.unwrap();
        let (sock, _) = compio::time::timeout(Duration::from_secs(20), listener.accept())
            .await
            .expect("the connector dialled in within 20 s")
            .unwrap();
        let (r, w, _) = sallyport::io::tls::accept(sock, server_tls, Duration::from_secs(5))
            .await
            .unwrap();
        let tunnel = Tunnel::new(Role::Client, Config::default());
        let runner = {
            let t = tunnel.clone();
            compio::runtime::spawn(async move { t.run(TlsTransport(r, w)).await })
        };
        let mut wrong = Vec::new();
        for c in cases() {
            let before = (
                http.bytes.load(Ordering::SeqCst),
                tcp.connections.load(Ordering::SeqCst),
                http.request_lines().len(),
            );
            let mut head = if c.connect {
                RequestHead::connect(&c.authority)
            } else {
                RequestHead::new("GET", "http", &c.authority, "/")
            };
            if !c.connect {
                head.path = Some(bytes::Bytes::from(c.target.clone()));
            }
            let what = format!(
                "{} {} {:?}",
                &*String::from_utf8_lossy(&head.method),
                c.authority,
                String::from_utf8_lossy(&c.target)
            );
            // The codec refuses to send some heads at all (that is a refusal too).
            let status = match tunnel.open(&head, !c.connect) {
                Err(_) => 400,
                Ok(stream) => {
                    let (status, mut done) = match stream.next().await {
                        Some(StreamEvent::Response { head, end_stream }) => {
                            (head.status, end_stream)
                        }
                        // Reset by the peer's codec: malformed, refused before the policy.
                        _ => (400, true),
                    };
                    if c.connect && status == 200 {
                        let _ = stream
                            .send_data(bytes::Bytes::from_static(b"ping"), true)
                            .await;
                    }
                    let drain = async {
                        while !done {
                            match stream.next().await {
                                Some(StreamEvent::Data { data, end_stream }) => {
                                    stream.release(data.len());
                                    done = end_stream;
                                }
                                _ => done = true,
                            }
                        }
                    };
                    let _ = compio::time::timeout(Duration::from_secs(5), drain).await;
                    status
                }
            };
            if status != c.status {
                wrong.push(format!("{what}: expected {}, got {status}", c.status));
            }
            let lines = http.request_lines()[before.2..].to_vec();
            if c.status != 200 {
                if http.bytes.load(Ordering::SeqCst) != before.0
                    || tcp.connections.load(Ordering::SeqCst) != before.1
                {
                    wrong.push(format!(
                        "{what}: refused but a backend received bytes {lines:?}"
                    ));
                }
            } else if !c.connect {
                let want = format!("GET {} HTTP/1.1", String::from_utf8_lossy(&c.target));
                if lines != [want.clone()] {
                    wrong.push(format!(
                        "{what}: backend saw {lines:?}, expected [{want:?}]"
                    ));
                }
            }
        }
        drop(runner);
        wrong
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
