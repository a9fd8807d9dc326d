//! WebSocket end to end over real sockets: client → relay proxy door (HTTP/1.1 upgrade) →
//! tunnel (RFC 8441 extended CONNECT) → connector → backend (HTTP/1.1 upgrade), with a
//! small RFC 6455 echo server written here.
//!
//! Covered: the handshake and its accept value, frames both ways (including frames the
//! backend sends in the same segment as its `101`, and a frame larger than the tunnel's
//! chunks), the close handshake; the policy's `websocket` flag (403, and not a byte at the
//! backend); a path outside the whitelist (403); a backend that refuses the upgrade (its
//! status and body reach the client), switches to another protocol (502) or never answers
//! (504); a handshake with a body (400); frames sent along with the handshake; what the
//! backend sees of the request.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sallyport::audit::{AuditOptions, AuditSink, Level};
use sallyport::connector::{self, BackendTimeouts, ConnectorConfig};
use sallyport::io::runtime::IoMode;
use sallyport::policy::{
    HostInHeader, PathMatch, PortSpec, Protocol, ResourceSpec, SubaccountPolicy, SystemSpec,
};
use sallyport::relay::{FrontAuth, RelayConfig};
use sallyport::tls::Identity;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// The example key of RFC 6455 §1.3.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const GREETING: &[u8] = b"welcome";
/// The connector's deadline for the backend's answer to the upgrade.
const BACKEND_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 §4.2.2).
fn accept_for(key: &str) -> String {
    let mut input = key.as_bytes().to_vec();
    input.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    STANDARD.encode(digest.as_ref())
}

// ------------------------------------------------------------------------------ frames

/// One frame: opcode and payload (FIN always set; no fragmentation here).
#[derive(Debug, PartialEq, Eq)]
struct Frame {
    opcode: u8,
    payload: Vec<u8>,
}

/// Encodes a frame, masked with `mask` when given (clients must mask, servers must not).
fn encode(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n if n <= 0xffff => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

fn read_exact(sock: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0; n];
    sock.read_exact(&mut b).unwrap();
    b
}

/// Reads one frame; `must_be_masked` says which side we are.
fn read_frame(sock: &mut TcpStream, must_be_masked: bool) -> Frame {
    let h = read_exact(sock, 2);
    assert_eq!(h[0] & 0x80, 0x80, "only unfragmented frames in this test");
    let masked = h[1] & 0x80 != 0;
    assert_eq!(masked, must_be_masked, "masking direction");
    let len = match h[1] & 0x7f {
        126 => u16::from_be_bytes(read_exact(sock, 2).try_into().unwrap()) as usize,
        127 => u64::from_be_bytes(read_exact(sock, 8).try_into().unwrap()) as usize,
        n => n as usize,
    };
    let key = masked.then(|| read_exact(sock, 4));
    let mut payload = read_exact(sock, len);
    if let Some(k) = key {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= k[i % 4];
        }
    }
    Frame {
        opcode: h[0] & 0x0f,
        payload,
    }
}

// ---------------------------------------------------------------------------- backends

/// A backend that keeps every request head it receives and counts connections.
struct Backend {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

fn read_head(sock: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    // Byte by byte: nothing after the head may be consumed here.
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
        match sock.read(&mut b) {
            Ok(1) => head.push(b[0]),
            // A signal (the runtimes in this process use them) is not the end of the head.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The value of `name` in a raw head (first occurrence, any case).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn spawn_backend(serve: fn(TcpStream, &str)) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (h, c) = (heads.clone(), connections.clone());
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            let h = h.clone();
            std::thread::spawn(move || {
                let _ = sock.set_read_timeout(Some(IO_TIMEOUT));
                let head = read_head(&mut sock);
                h.lock().unwrap().push(head.clone());
                serve(sock, &head);
            });
        }
    });
    Backend {
        addr,
        heads,
        connections,
    }
}

/// RFC 6455 server: checks the handshake, answers 101 (with a greeting frame in the same
/// write), then echoes every data frame unmasked and answers a close with a close.
fn echo_server(mut sock: TcpStream, head: &str) {
    let lower = head.to_ascii_lowercase();
    let ok = lower.starts_with("get /")
        && header(head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && header(head, "connection").is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
        && header(head, "sec-websocket-version") == Some("13");
    let Some(key) = header(head, "sec-websocket-key").filter(|_| ok) else {
        let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    let mut answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        accept_for(key)
    );
    if let Some(offered) = header(head, "sec-websocket-protocol") {
        let first = offered.split(',').next().unwrap_or_default().trim();
        answer.push_str(&format!("Sec-WebSocket-Protocol: {first}\r\n"));
    }
    answer.push_str("\r\n");
    let mut out = answer.into_bytes();
    out.extend(encode(0x1, GREETING, None));
    sock.write_all(&out).unwrap();
    loop {
        let f = read_frame(&mut sock, true);
        sock.write_all(&encode(f.opcode, &f.payload, None)).unwrap();
        if f.opcode == 0x8 {
            return;
        }
    }
}

/// Refuses every upgrade with a 400 and a body.
fn refusing_server(mut sock: TcpStream, _head: &str) {
    let body = "websocket version not supported here";
    let _ = sock.write_all(
        format!(
            "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 8\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// Switches protocols, but not to WebSocket.
fn wrong_protocol_server(mut sock: TcpStream, _head: &str) {
    let _ = sock.write_all(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    );
}

/// Never answers; closes after the connector has given up.
fn silent_server(sock: TcpStream, _head: &str) {
    std::thread::sleep(BACKEND_RESPONSE_TIMEOUT * 3);
    drop(sock);
}

// ------------------------------------------------------------------------------- stack

struct Stack {
    proxy: SocketAddr,
    /// The connector's audit trail (level `all`).
    audit_dir: std::path::PathBuf,
    echo: Backend,
    guarded: Backend,
    _refusing: Backend,
    _wrong: Backend,
    _silent: Backend,
}

fn resource(path: &str, websocket: bool) -> ResourceSpec {
    ResourceSpec {
        path: path.into(),
        matching: PathMatch::Prefix,
        enabled: true,
        websocket,
    }
}

fn system(vhost: &str, backend: SocketAddr, resources: Vec<ResourceSpec>) -> SystemSpec {
    let port = |p| PortSpec { first: p, last: p };
    SystemSpec {
        virtual_host: vhost.into(),
        virtual_port: port(80),
        internal_host: backend.ip().to_string(),
        internal_port: port(backend.port()),
        protocol: Protocol::Http,
        host_in_header: HostInHeader::Virtual,
        enabled: true,
        resources,
    }
}

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sallyport-ws-{}", std::process::id()));
        let acme = Identity::new("acme", "default").unwrap();
        let mut req = sallyport::pki::PkiRequest::new(&dir);
        req.connectors = vec![acme.clone()];
        req.force = true;
        sallyport::pki::generate(&req).unwrap();
        let f = |n: &str| dir.join(n);

        let tunnel_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let tunnel = tunnel_listener.local_addr().unwrap();
        let proxy = proxy_listener.local_addr().unwrap();
        let (_threads, registry) = sallyport::relay::start(RelayConfig {
            tunnel_listener,
            proxy_listener: Some(proxy_listener),
            socks_listener: None,
            tls: sallyport::tls::relay_server_config(
                &f("ca.pem"),
                &f("relay.pem"),
                &f("relay.key"),
            )
            .unwrap(),
            auth: FrontAuth::trusted("acme"),
            socks_handshake_timeout: Duration::from_secs(5),
            limits: Default::default(),
            header_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(sallyport::config::DEFAULT_IDLE_TIMEOUT_SECS),
            handshake_timeout: Duration::from_secs(5),
            keepalive: Duration::from_secs(10),
            threads: 1,
            io: IoMode::Auto,
        })
        .unwrap();

        let echo = spawn_backend(echo_server);
        let guarded = spawn_backend(echo_server);
        let refusing = spawn_backend(refusing_server);
        let wrong = spawn_backend(wrong_protocol_server);
        let silent = spawn_backend(silent_server);
        let policy = SubaccountPolicy::compile(&[
            system(
                "chat.virtual",
                echo.addr,
                vec![resource("/chat", true), resource("/plain", false)],
            ),
            // WebSocket-capable, but the resource does not allow it.
            system(
                "guarded.virtual",
                guarded.addr,
                vec![resource("/ws", false)],
            ),
            system(
                "refusing.virtual",
                refusing.addr,
                vec![resource("/ws", true)],
            ),
            system("wrong.virtual", wrong.addr, vec![resource("/ws", true)]),
            system("silent.virtual", silent.addr, vec![resource("/ws", true)]),
        ])
        .unwrap();
        let stem = sallyport::pki::connector_file_stem(&acme);
        let audit_dir = dir.join("audit");
        connector::start(ConnectorConfig {
            relay: tunnel.to_string(),
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
            identity: acme,
            policy: Arc::new(policy),
            audit: AuditSink::open(AuditOptions {
                level: Level::All,
                ..AuditOptions::new(&audit_dir, "acme_default")
            })
            .unwrap(),
            max_streams: sallyport::config::DEFAULT_STREAMS_PER_TUNNEL,
            keepalive: Duration::from_secs(10),
            timeouts: BackendTimeouts {
                connect: Duration::from_secs(5),
                response: BACKEND_RESPONSE_TIMEOUT,
                idle: Duration::from_secs(sallyport::config::DEFAULT_IDLE_TIMEOUT_SECS),
            },
            backend_tls: None,
            io: IoMode::Auto,
            drain_on_signal: false,
            handshake_timeout: Duration::from_secs(10),
        })
        .unwrap();
        let start = Instant::now();
        while registry.count("acme", "default") == 0 {
            assert!(
                start.elapsed() < IO_TIMEOUT,
                "the connector never registered"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Stack {
            proxy,
            audit_dir: sallyport::audit::subaccount_dir(&audit_dir, "acme_default"),
            echo,
            guarded,
            _refusing: refusing,
            _wrong: wrong,
            _silent: silent,
        }
    })
}

// ------------------------------------------------------------------------------ client

/// Sends the opening handshake for `url` through the proxy; returns the socket and the
/// response head (the socket is positioned right after it).
fn handshake(url: &str, extra: &str) -> (TcpStream, String) {
    let mut sock = TcpStream::connect(stack().proxy).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let req = format!(
        "GET {url} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    sock.write_all(req.as_bytes()).unwrap();
    let head = read_head(&mut sock);
    (sock, head)
}

/// A full response after its head (`content-length` framed).
fn body(sock: &mut TcpStream, head: &str) -> String {
    let n: usize = header(head, "content-length").unwrap().parse().unwrap();
    String::from_utf8(read_exact(sock, n)).unwrap()
}

fn status(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The connector's audit record for `path`, waiting for it (the stream's record is written
/// when the connector finishes the stream, just after the client saw the end).
fn audit_record(path: &str) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let found = std::fs::read_dir(&stack().audit_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .collect::<Vec<_>>()
            })
            .find(|r| r["path"] == path);
        if let Some(r) = found {
            return r;
        }
        assert!(start.elapsed() < IO_TIMEOUT, "no audit record for {path}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------------------- tests

#[test]
fn accept_value_matches_rfc_6455_example() {
    assert_eq!(accept_for(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn frames_echo_both_ways_after_101() {
    let (mut sock, head) = handshake(
        "http://chat.virtual/chat/room-1?user=7",
        "Sec-WebSocket-Protocol: chat, superchat\r\nOrigin: http://app.example\r\n\
         Sallyport-Caller: forged\r\nSAP-Connectivity-Authentication: Bearer secret\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(header(&head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")));
    assert!(header(&head, "connection").is_some_and(|v| v.eq_ignore_ascii_case("upgrade")));
    assert_eq!(
        header(&head, "sec-websocket-accept"),
        Some(&*accept_for(KEY))
    );
    assert_eq!(header(&head, "sec-websocket-protocol"), Some("chat"));
    assert_eq!(header(&head, "content-length"), None, "{head}");

    // The frame the backend wrote in the same segment as its 101.
    let greeting = read_frame(&mut sock, false);
    assert_eq!(greeting.payload, GREETING);
    let hello = encode(0x1, b"hello through the tunnel", Some([1, 2, 3, 4]));
    sock.write_all(&hello).unwrap();
    assert_eq!(
        read_frame(&mut sock, false),
        Frame {
            opcode: 0x1,
            payload: b"hello through the tunnel".to_vec()
        }
    );
    // Larger than the 64 KiB read chunks and the HTTP/2 frames: split and rejoined.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    sock.write_all(&encode(0x2, &big, Some([9, 8, 7, 6])))
        .unwrap();
    let echoed = read_frame(&mut sock, false);
    assert_eq!(echoed.opcode, 0x2);
    assert!(echoed.payload == big, "binary frame echoed intact");
    // Close handshake, then both sides end.
    sock.write_all(&encode(0x8, &1000u16.to_be_bytes(), Some([5, 5, 5, 5])))
        .unwrap();
    assert_eq!(read_frame(&mut sock, false).opcode, 0x8);
    let mut rest = Vec::new();
    sock.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing after the close frame: {rest:?}");
    // Our half-close too: only then is the stream over at both ends (TCP semantics).
    drop(sock);

    // What the backend saw: the admitted path, the virtual Host, the handshake fields;
    // never the relay's caller field, a forged one, or the principal credentials.
    let heads = stack().echo.heads.lock().unwrap();
    let seen = heads
        .iter()
        .find(|h| h.starts_with("GET /chat/room-1?user=7 HTTP/1.1\r\n"))
        .expect("the backend got the upgrade");
    assert_eq!(header(seen, "host"), Some("chat.virtual"));
    assert_eq!(header(seen, "sec-websocket-key"), Some(KEY));
    assert_eq!(
        header(seen, "sec-websocket-protocol"),
        Some("chat, superchat")
    );
    assert_eq!(header(seen, "origin"), Some("http://app.example"));
    let lower = seen.to_ascii_lowercase();
    assert!(!lower.contains("sallyport-caller"), "{seen}");
    assert!(!lower.contains("sap-connectivity"), "{seen}");
    assert!(!lower.contains("proxy-"), "{seen}");
    drop(heads);

    // The connector's record: one stream, allowed, its bytes counted both ways (frames and
    // their headers), the caller the relay vouched for, the path without its query.
    let rec = audit_record("/chat/room-1");
    assert_eq!(rec["method"], "CONNECT", "{rec}");
    assert_eq!(rec["decision"], "allow", "{rec}");
    assert_eq!(rec["status"], 200, "{rec}");
    assert_eq!(rec["caller"], "trusted", "{rec}");
    let (up, down) = (
        rec["bytes_in"].as_u64().unwrap(),
        rec["bytes_out"].as_u64().unwrap(),
    );
    assert!(up > big.len() as u64 && down > big.len() as u64, "{rec}");
}

#[test]
fn resource_without_websocket_flag_is_403_and_backend_untouched() {
    let s = stack();
    let (mut sock, head) = handshake("http://guarded.virtual/ws/feed", "");
    assert_eq!(status(&head), 403, "{head}");
    let text = body(&mut sock, &head);
    assert!(text.to_ascii_lowercase().contains("websocket"), "{text}");
    let rec = audit_record("/ws/feed");
    assert_eq!(rec["decision"], "deny", "{rec}");
    assert_eq!(rec["status"], 403, "{rec}");
    // The same resource still answers an ordinary request (the flag is about upgrades).
    let mut plain = TcpStream::connect(s.proxy).unwrap();
    plain.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    plain
        .write_all(b"GET http://chat.virtual/plain/x HTTP/1.1\r\nHost: chat.virtual\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: eA==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        .unwrap();
    let head = read_head(&mut plain);
    assert_eq!(status(&head), 403, "{head}");
    assert_eq!(
        s.guarded.connections.load(Ordering::SeqCst),
        0,
        "no connection reached the backend"
    );
    assert!(s.guarded.heads.lock().unwrap().is_empty());
}

#[test]
fn upgrade_outside_the_whitelist_is_403() {
    let s = stack();
    let (mut sock, head) = handshake("http://guarded.virtual/admin", "");
    assert_eq!(status(&head), 403, "{head}");
    body(&mut sock, &head);
    let (_, head) = handshake("http://chat.virtual/chatroom", "");
    assert_eq!(
        status(&head),
        403,
        "prefix on segment boundaries only: {head}"
    );
    assert_eq!(s.guarded.connections.load(Ordering::SeqCst), 0);
    let echo_heads = s.echo.heads.lock().unwrap();
    assert!(
        !echo_heads.iter().any(|h| h.starts_with("GET /chatroom")),
        "{echo_heads:?}"
    );
}

#[test]
fn backend_refusal_reaches_the_client_as_is() {
    let (mut sock, head) = handshake("http://refusing.virtual/ws", "");
    assert_eq!(status(&head), 400, "{head}");
    assert_eq!(header(&head, "sec-websocket-version"), Some("8"));
    assert_eq!(
        body(&mut sock, &head),
        "websocket version not supported here"
    );
}

#[test]
fn frames_sent_with_the_handshake_are_not_lost() {
    // Not what RFC 6455 clients do, but bytes the relay read ahead must go first, not vanish.
    let mut sock = TcpStream::connect(stack().proxy).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut req = format!(
        "GET http://chat.virtual/chat HTTP/1.1\r\nHost: chat.virtual\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes();
    req.extend(encode(0x1, b"early", Some([7, 7, 7, 7])));
    sock.write_all(&req).unwrap();
    let head = read_head(&mut sock);
    assert_eq!(status(&head), 101, "{head}");
    assert_eq!(read_frame(&mut sock, false).payload, GREETING);
    assert_eq!(read_frame(&mut sock, false).payload, b"early");
}

#[test]
fn handshake_with_a_body_is_400() {
    let mut sock = TcpStream::connect(stack().proxy).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.write_all(
        format!(
            "GET http://chat.virtual/chat HTTP/1.1\r\nHost: chat.virtual\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
             content-length: 3\r\n\r\nabc"
        )
        .as_bytes(),
    )
    .unwrap();
    let head = read_head(&mut sock);
    assert_eq!(status(&head), 400, "{head}");
    assert!(body(&mut sock, &head).contains("no body"));
}

#[test]
fn backend_switching_to_another_protocol_is_502() {
    let (mut sock, head) = handshake("http://wrong.virtual/ws", "");
    assert_eq!(status(&head), 502, "{head}");
    assert!(body(&mut sock, &head).contains("not to websocket"));
}

#[test]
fn backend_that_never_answers_is_504() {
    let (mut sock, head) = handshake("http://silent.virtual/ws", "");
    assert_eq!(status(&head), 504, "{head}");
    assert!(body(&mut sock, &head).contains("websocket upgrade"));
}
