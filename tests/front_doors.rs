//! The relay's front doors with authentication, over real loopback sockets: a relay with a
//! JWT identity provider and a SOCKS5 user, connectors for two tenants (`acme` at locations
//! `default` and `rome`, `beta` at `default`), sample backends, and clients: real `curl`
//! (SOCKS5 with username/password, HTTP proxy with a Bearer token), and SAP's 0x80 method
//! written here with `proto::socks5::client`.

use bytes::BytesMut;
use sallyport::auth::{password, Alg, IdentityProvider, Providers, Signer};
use sallyport::connector::{self, BackendTimeouts, ConnectorConfig, SystemMap};
use sallyport::demo::backends::{self, Backend};
use sallyport::demo::client;
use sallyport::io::runtime::IoMode;
use sallyport::proto::socks5::{self, method, Address};
use sallyport::relay::{self, AuthAudit, Door, FrontAuth, Registry, RelayConfig, TenantAuth};
use sallyport::tls::Identity;
use serde_json::json;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "sallyport";
const PASSWORD: &str = "wonderland";
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// One reported failure: (door, tenant, caller, reason).
type Failure = (Door, Option<String>, Option<String>, String);

/// Every authentication failure the relay reported.
#[derive(Default)]
struct Recorder(Mutex<Vec<Failure>>);

impl AuthAudit for Recorder {
    fn auth_failure(&self, door: Door, tenant: Option<&str>, caller: Option<&str>, reason: &str) {
        self.0.lock().unwrap().push((
            door,
            tenant.map(str::to_owned),
            caller.map(str::to_owned),
            reason.to_owned(),
        ));
    }
}

impl Recorder {
    /// The reasons recorded for the client whose local address is `caller`.
    fn reasons_for(&self, caller: SocketAddr) -> Vec<String> {
        let c = caller.to_string();
        let list = self.0.lock().unwrap();
        list.iter()
            .filter(|r| r.2.as_deref() == Some(c.as_str()))
            .map(|r| r.3.clone())
            .collect()
    }
}

struct Doors {
    proxy: SocketAddr,
    socks: SocketAddr,
    /// A relay whose only door policy is a trusted tenant (`acme`) and no connector.
    trusted_socks: SocketAddr,
    trusted_proxy: SocketAddr,
    signer: Signer,
    /// A key the relay does not know (signs with a kid it has never seen).
    stranger: Signer,
    audit: Arc<Recorder>,
    /// Records the head of every request it receives.
    recorder: Arc<Mutex<Vec<String>>>,
    _http: Backend,
    _echo: Backend,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HTTP backend that answers `200 ok` and keeps every request head it received.
fn recording_backend() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let h = heads.clone();
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            let _ = sock.set_read_timeout(Some(IO_TIMEOUT));
            let mut head = Vec::new();
            let mut b = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&b[..n]),
                }
            }
            h.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (addr, heads)
}

fn start_connector(dir: &std::path::Path, id: &Identity, relay: SocketAddr, maps: &[String]) {
    let stem = sallyport::pki::connector_file_stem(id);
    let f = |n: &str| dir.join(n);
    let mut systems = SystemMap::default();
    for line in maps {
        systems
            .insert(SystemMap::parse_line(line).unwrap())
            .unwrap();
    }
    connector::start(ConnectorConfig {
        relay: relay.to_string(),
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
        systems,
        keepalive: Duration::from_secs(10),
        timeouts: BackendTimeouts {
            connect: Duration::from_secs(5),
            response: Duration::from_secs(10),
        },
        backend_tls: None,
        io: IoMode::Auto,
        drain_on_signal: false,
        handshake_timeout: Duration::from_secs(10),
    })
    .unwrap();
}

fn start_relay(
    tls: Arc<rustls::ServerConfig>,
    auth: FrontAuth,
) -> (SocketAddr, SocketAddr, SocketAddr, Arc<Registry>) {
    let tunnel_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let socks_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = (
        tunnel_listener.local_addr().unwrap(),
        proxy_listener.local_addr().unwrap(),
        socks_listener.local_addr().unwrap(),
    );
    let (_threads, registry) = relay::start(RelayConfig {
        tunnel_listener,
        proxy_listener,
        socks_listener: Some(socks_listener),
        tls,
        auth,
        socks_handshake_timeout: Duration::from_secs(1),
        limits: Default::default(),
        header_timeout: Duration::from_secs(5),
        response_timeout: Duration::from_secs(10),
        handshake_timeout: Duration::from_secs(5),
        keepalive: Duration::from_secs(10),
        threads: 1,
        io: IoMode::Auto,
    })
    .unwrap();
    (addrs.0, addrs.1, addrs.2, registry)
}

fn doors() -> &'static Doors {
    static DOORS: OnceLock<Doors> = OnceLock::new();
    DOORS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sallyport-doors-{}", std::process::id()));
        let acme = Identity::new("acme", "default").unwrap();
        let acme_rome = Identity::new("acme", "rome").unwrap();
        let beta = Identity::new("beta", "default").unwrap();
        let mut req = sallyport::pki::PkiRequest::new(&dir);
        req.connectors = vec![acme.clone(), acme_rome.clone(), beta.clone()];
        req.force = true;
        sallyport::pki::generate(&req).unwrap();
        let f = |n: &str| dir.join(n);
        let tls =
            sallyport::tls::relay_server_config(&f("ca.pem"), &f("relay.pem"), &f("relay.key"))
                .unwrap();

        let key = |kid: &str| {
            let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            Signer::from_pkcs8_pem(kp.serialize_pem().as_bytes(), Some(kid.into())).unwrap()
        };
        let signer = key("idp-1");
        let stranger = key("idp-9");
        let audit = Arc::new(Recorder::default());
        let mut tenants = HashMap::new();
        tenants.insert(
            "acme".to_string(),
            TenantAuth {
                users: HashMap::from([(
                    "alice".to_string(),
                    password::hash(PASSWORD.as_bytes()).unwrap(),
                )]),
                default_location: None,
                locations: Some(vec!["default".into(), "rome".into(), "paris".into()]),
            },
        );
        let auth = FrontAuth {
            providers: Providers::new(vec![IdentityProvider {
                name: "test-idp".into(),
                issuer: ISSUER.into(),
                audience: AUDIENCE.into(),
                algorithms: vec![Alg::ES256],
                keys: vec![signer.verify_key()],
                tenant_claim: "zid".into(),
                clock_skew: 30,
            }]),
            tenants,
            trusted_tenant: None,
            audit: audit.clone(),
        };
        let (tunnel, proxy, socks, registry) = start_relay(tls.clone(), auth);
        let (_, trusted_proxy, trusted_socks, _) = start_relay(tls, FrontAuth::trusted("acme"));

        let http = backends::http_backend().unwrap();
        let echo = backends::tcp_echo_backend().unwrap();
        let (rec, recorder) = recording_backend();
        let e = echo.addr;
        start_connector(
            &dir,
            &acme,
            tunnel,
            &[
                format!("erp.virtual:80={}", http.addr),
                format!("web.virtual:80={}/tcp", http.addr),
                format!("rec.virtual:80={rec}"),
                format!("ldap.virtual:389={e}/tcp"),
                format!("10.9.8.7:389={e}/tcp"),
                format!("[fd00::7]:389={e}/tcp"),
                // Nothing listens on the discard port: the backend is unreachable.
                "down.virtual:389=127.0.0.1:9/tcp".to_string(),
            ],
        );
        start_connector(
            &dir,
            &acme_rome,
            tunnel,
            &[format!("rome.virtual:389={e}/tcp")],
        );
        start_connector(
            &dir,
            &beta,
            tunnel,
            &[format!("secret.virtual:389={e}/tcp")],
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        for (t, l) in [("acme", "default"), ("acme", "rome"), ("beta", "default")] {
            while registry.count(t, l) < 1 {
                assert!(Instant::now() < deadline, "tunnel {t}/{l} did not come up");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Doors {
            proxy,
            socks,
            trusted_socks,
            trusted_proxy,
            signer,
            stranger,
            audit,
            recorder,
            _http: http,
            _echo: echo,
        }
    })
}

fn token_with(
    signer: &Signer,
    f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> String {
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "zid": "acme", "sub": "app", "exp": now() + 600,
    });
    f(claims.as_object_mut().unwrap());
    signer.issue(&claims).unwrap()
}

fn token(tenant: &str) -> String {
    token_with(&doors().signer, |c| {
        c.insert("zid".into(), tenant.into());
    })
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).unwrap();
    b
}

/// Reads until the peer closes; panics on a read timeout (the server must close).
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    s.read_to_end(&mut all)
        .expect("the server closes the connection");
    all
}

fn read_reply(s: &mut TcpStream) -> socks5::client::ReplyMsg {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if let Some((msg, _)) = socks5::client::parse_reply(&buf).unwrap() {
            return msg;
        }
        s.read_exact(&mut b).unwrap();
        buf.push(b[0]);
    }
}

#[derive(Clone, Copy)]
enum Cred<'a> {
    /// SAP 0x80: token, location, location base64-encoded.
    Jwt(&'a str, Option<&'a str>, bool),
    /// RFC 1929.
    User(&'a str, &'a str),
    /// Method 0x00.
    Nothing,
}

/// Greeting, authentication and request, one message at a time. Returns the stream and
/// the reply code (0x05 when authentication is refused: status `01 01`, then the reply).
fn socks_open(door: SocketAddr, cred: Cred<'_>, target: &Address, port: u16) -> (TcpStream, u8) {
    let mut s = connect(door);
    let m = match cred {
        Cred::Jwt(..) => method::SAP_JWT,
        Cred::User(..) => method::USERPASS,
        Cred::Nothing => method::NO_AUTH,
    };
    let mut out = BytesMut::new();
    socks5::client::write_greeting(&[m], &mut out).unwrap();
    s.write_all(&out).unwrap();
    assert_eq!(read_n(&mut s, 2), [5, m], "method chosen");
    let mut out = BytesMut::new();
    match cred {
        Cred::Jwt(t, loc, b64) => {
            socks5::client::write_sap_auth(t.as_bytes(), loc, b64, &mut out).unwrap()
        }
        Cred::User(u, p) => {
            socks5::client::write_userpass(u.as_bytes(), p.as_bytes(), &mut out).unwrap()
        }
        Cred::Nothing => {}
    }
    if !out.is_empty() {
        s.write_all(&out).unwrap();
        let status = read_n(&mut s, 2);
        if status != [1, 0] {
            assert_eq!(status, [1, 1]);
            return (s.try_clone().unwrap(), read_reply(&mut s).code);
        }
    }
    let mut out = BytesMut::new();
    socks5::client::write_connect(target, port, &mut out).unwrap();
    s.write_all(&out).unwrap();
    let code = read_reply(&mut s).code;
    (s, code)
}

fn domain(d: &str) -> Address {
    Address::Domain(d.into())
}

fn echo_through(s: &mut TcpStream, payload: &[u8]) {
    s.write_all(payload).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        read_to_close(s),
        payload,
        "echo, then the backend's half-close"
    );
}

// ----------------------------------------------------------------------------- SOCKS5

#[test]
fn sap_0x80_connect_echoes_with_half_close() {
    let d = doors();
    let t = token("acme");
    let (mut s, code) = socks_open(
        d.socks,
        Cred::Jwt(&t, None, false),
        &domain("ldap.virtual"),
        389,
    );
    assert_eq!(code, 0x00);
    echo_through(&mut s, b"hello over SAP's method 0x80");
}

#[test]
fn sap_0x80_location_raw_and_base64() {
    let d = doors();
    let t = token("acme");
    for b64 in [false, true] {
        let (mut s, code) = socks_open(
            d.socks,
            Cred::Jwt(&t, Some("rome"), b64),
            &domain("rome.virtual"),
            389,
        );
        assert_eq!(code, 0x00, "base64: {b64}");
        echo_through(&mut s, b"rome");
    }
    // Without a location the tenant's default applies, where rome.virtual is not mapped.
    let (_, code) = socks_open(
        d.socks,
        Cred::Jwt(&t, None, false),
        &domain("rome.virtual"),
        389,
    );
    assert_eq!(code, 0x02);
}

#[test]
fn pipelined_0x80_client() {
    // Everything in one write, as a client that does not wait for each answer.
    let d = doors();
    let t = token("acme");
    let mut out = BytesMut::new();
    socks5::client::write_greeting(&[method::SAP_JWT], &mut out).unwrap();
    socks5::client::write_sap_auth(t.as_bytes(), None, false, &mut out).unwrap();
    socks5::client::write_connect(&domain("ldap.virtual"), 389, &mut out).unwrap();
    out.extend_from_slice(b"early bytes");
    let mut s = connect(d.socks);
    s.write_all(&out).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let all = read_to_close(&mut s);
    assert_eq!(&all[..4], [5, 0x80, 1, 0]);
    let (reply, n) = socks5::client::parse_reply(&all[4..]).unwrap().unwrap();
    assert_eq!(reply.code, 0);
    assert_eq!(&all[4 + n..], b"early bytes");
}

#[test]
fn ipv4_and_ipv6_targets() {
    let d = doors();
    let t = token("acme");
    for a in [
        Address::V4(Ipv4Addr::new(10, 9, 8, 7)),
        Address::V6("fd00::7".parse::<Ipv6Addr>().unwrap()),
    ] {
        let (mut s, code) = socks_open(d.socks, Cred::Jwt(&t, None, false), &a, 389);
        assert_eq!(code, 0x00, "{a:?}");
        echo_through(&mut s, b"ip");
    }
    let (_, code) = socks_open(
        d.socks,
        Cred::Jwt(&t, None, false),
        &Address::V4(Ipv4Addr::new(10, 9, 8, 8)),
        389,
    );
    assert_eq!(code, 0x02);
}

#[test]
fn every_reply_code() {
    let d = doors();
    let t = token("acme");
    let jwt = Cred::Jwt(&t, None, false);
    // 0x02: no mapping.
    assert_eq!(
        socks_open(d.socks, jwt, &domain("unknown.virtual"), 389).1,
        0x02
    );
    // 0x03: an allowed location without a connector; a location the tenant does not have.
    assert_eq!(
        socks_open(
            d.socks,
            Cred::Jwt(&t, Some("paris"), false),
            &domain("ldap.virtual"),
            389
        )
        .1,
        0x03
    );
    assert_eq!(
        socks_open(
            d.socks,
            Cred::Jwt(&t, Some("nowhere"), true),
            &domain("ldap.virtual"),
            389
        )
        .1,
        0x03
    );
    // 0x04: the backend is down.
    assert_eq!(
        socks_open(d.socks, jwt, &domain("down.virtual"), 389).1,
        0x04
    );
    // 0x05: authentication failure (expired token).
    let expired = token_with(&d.signer, |c| {
        c.insert("exp".into(), json!(now() - 3600));
    });
    let (_, code) = socks_open(
        d.socks,
        Cred::Jwt(&expired, None, false),
        &domain("ldap.virtual"),
        389,
    );
    assert_eq!(code, 0x05);
    // 0x01: the system is mapped for HTTP, not for raw TCP.
    assert_eq!(socks_open(d.socks, jwt, &domain("erp.virtual"), 80).1, 0x01);

    // 0x07 (BIND) and 0x08 (address type 5), after a valid authentication.
    for (request, code) in [
        (vec![5u8, 2, 0, 1, 10, 9, 8, 7, 1, 133], 0x07),
        (vec![5u8, 1, 0, 5, 1, 2, 3, 4, 0, 80], 0x08),
    ] {
        let mut s = connect(d.socks);
        let mut out = BytesMut::new();
        socks5::client::write_greeting(&[method::SAP_JWT], &mut out).unwrap();
        socks5::client::write_sap_auth(t.as_bytes(), None, false, &mut out).unwrap();
        out.extend_from_slice(&request);
        s.write_all(&out).unwrap();
        assert_eq!(read_n(&mut s, 4), [5, 0x80, 1, 0]);
        assert_eq!(read_reply(&mut s).code, code);
        assert_eq!(read_to_close(&mut s), b"", "closed after the refusal");
    }
}

#[test]
fn another_tenants_host_answers_like_an_unknown_host() {
    let d = doors();
    let a = token("acme");
    let b = token("beta");
    // beta reaches its own host; acme's token against it gets exactly the unknown-host reply.
    let (mut s, code) = socks_open(
        d.socks,
        Cred::Jwt(&b, None, false),
        &domain("secret.virtual"),
        389,
    );
    assert_eq!(code, 0);
    echo_through(&mut s, b"beta");
    let (_, other) = socks_open(
        d.socks,
        Cred::Jwt(&a, None, false),
        &domain("secret.virtual"),
        389,
    );
    let (_, unknown) = socks_open(
        d.socks,
        Cred::Jwt(&a, None, false),
        &domain("nosuch.virtual"),
        389,
    );
    assert_eq!((other, unknown), (0x02, 0x02));
    // And over the HTTP proxy: same status, same text apart from the host name.
    let get = |host: &str| {
        let mut s = connect(d.proxy);
        let head = format!(
            "GET http://{host}/ HTTP/1.1\r\nhost: {host}\r\nproxy-authorization: Bearer {a}\r\n\r\n"
        );
        let (status, body) = client::exchange(&mut s, &head, &[]).unwrap();
        (status, String::from_utf8_lossy(&body).replace(host, "HOST"))
    };
    let other = get("secret.virtual");
    assert_eq!(other.0, 403);
    assert_eq!(other, get("nosuch.virtual"));
}

#[test]
fn jwt_attacks_are_refused_and_audited() {
    let d = doors();
    let good = token("acme");
    let mut parts = good.split('.');
    let (h, p) = (parts.next().unwrap(), parts.next().unwrap());
    let none = format!("{}.{p}.", base64_url(br#"{"alg":"none","typ":"JWT"}"#));
    let attacks = [
        ("alg none", none),
        ("unknown kid", token_with(&d.stranger, |_| {})),
        (
            "wrong audience",
            token_with(&d.signer, |c| drop(c.insert("aud".into(), json!("other")))),
        ),
        (
            "not yet valid",
            token_with(&d.signer, |c| {
                drop(c.insert("nbf".into(), json!(now() + 3600)))
            }),
        ),
        (
            "wrong issuer",
            token_with(&d.signer, |c| {
                drop(c.insert("iss".into(), json!("https://evil")))
            }),
        ),
        (
            "tampered",
            format!(
                "{h}.{}.{}",
                base64_url(br#"{"zid":"beta"}"#),
                good.rsplit('.').next().unwrap()
            ),
        ),
        ("oversize", "a".repeat(20_000)),
    ];
    for (what, t) in &attacks {
        let (s, code) = socks_open(
            d.socks,
            Cred::Jwt(t, None, false),
            &domain("ldap.virtual"),
            389,
        );
        assert_eq!(code, 0x05, "{what}");
        let reasons = d.audit.reasons_for(s.local_addr().unwrap());
        assert_eq!(reasons.len(), 1, "{what}: {reasons:?}");
    }
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[test]
fn username_password() {
    let d = doors();
    let (mut s, code) = socks_open(
        d.socks,
        Cred::User("alice", PASSWORD),
        &domain("ldap.virtual"),
        389,
    );
    assert_eq!(code, 0);
    echo_through(&mut s, b"alice");
    for (user, pw) in [("alice", "wrong"), ("mallory", PASSWORD)] {
        let (s, code) = socks_open(d.socks, Cred::User(user, pw), &domain("ldap.virtual"), 389);
        assert_eq!(code, 0x05, "{user}");
        let reasons = d.audit.reasons_for(s.local_addr().unwrap());
        assert!(
            reasons.len() == 1 && reasons[0].contains(user),
            "{reasons:?}"
        );
    }
}

#[test]
fn method_selection() {
    let d = doors();
    let choose = |door: SocketAddr, methods: &[u8]| {
        let mut s = connect(door);
        let mut out = BytesMut::new();
        socks5::client::write_greeting(methods, &mut out).unwrap();
        s.write_all(&out).unwrap();
        let choice = read_n(&mut s, 2);
        (s, choice[1])
    };
    assert_eq!(
        choose(d.socks, &[0x00, 0x02, 0x80]).1,
        0x80,
        "0x80 preferred"
    );
    assert_eq!(choose(d.socks, &[0x00, 0x02]).1, 0x02);
    // No trusted tenant here: offering only "no authentication" is refused, audited, closed.
    let (mut s, m) = choose(d.socks, &[0x00]);
    assert_eq!(m, 0xFF);
    assert_eq!(read_to_close(&mut s), b"");
    assert_eq!(d.audit.reasons_for(s.local_addr().unwrap()).len(), 1);
    // The trusted relay takes 0x00 for its tenant; it has no connector: 0x03.
    assert_eq!(choose(d.trusted_socks, &[0x00, 0x02]).1, 0x00);
    let (_, code) = socks_open(d.trusted_socks, Cred::Nothing, &domain("ldap.virtual"), 389);
    assert_eq!(code, 0x03);
}

#[test]
fn malformed_truncated_and_stalled_greetings_are_closed() {
    let d = doors();
    for bytes in [
        &[4u8, 1, 0][..],          // SOCKS4
        &[5, 0][..],               // no methods
        b"GET / HTTP/1.1\r\n\r\n", // HTTP on the SOCKS port
    ] {
        let mut s = connect(d.socks);
        s.write_all(bytes).unwrap();
        assert_eq!(read_to_close(&mut s), b"", "{bytes:?}");
    }
    // Truncated, then the client gives up: closed, nothing sent.
    let mut s = connect(d.socks);
    s.write_all(&[5, 3, 0x80]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_close(&mut s), b"");
    // Stalled mid-greeting, mid-auth and silent: the per-phase deadline (1 s here) closes
    // them; the read timeout of 15 s would fail the test instead.
    let mut stalled = connect(d.socks);
    stalled.write_all(&[5, 2]).unwrap();
    let mut silent = connect(d.socks);
    let mut mid_auth = connect(d.socks);
    mid_auth.write_all(&[5, 1, 0x80, 1, 0, 0, 1, 0]).unwrap();
    assert_eq!(read_to_close(&mut stalled), b"");
    assert_eq!(read_to_close(&mut silent), b"");
    assert_eq!(read_to_close(&mut mid_auth), [5, 0x80]);
}

// ----------------------------------------------------------------------------- curl

fn curl(args: &[&str]) -> Option<(bool, String, String)> {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn curl_socks5_hostname_with_user_and_password() {
    let d = doors();
    let proxy = format!("alice:{PASSWORD}@{}", d.socks);
    let Some((ok, body, err)) =
        curl(&["--socks5-hostname", &proxy, "http://web.virtual/via-socks"])
    else {
        eprintln!("curl not installed: skipped (make test-deps installs it)");
        return;
    };
    assert!(ok, "{err}");
    assert!(body.contains("\"path\":\"/via-socks\""), "{body}");
    let bad = format!("alice:nope@{}", d.socks);
    let (ok, _, _) = curl(&["--socks5-hostname", &bad, "http://web.virtual/"]).unwrap();
    assert!(!ok, "wrong password refused");
}

#[test]
fn curl_http_proxy_with_bearer_token() {
    let d = doors();
    let proxy = format!("http://{}", d.proxy);
    let header = format!("Proxy-Authorization: Bearer {}", token("acme"));
    let Some((ok, body, err)) = curl(&[
        "--proxy",
        &proxy,
        "--proxy-header",
        &header,
        "http://erp.virtual/via-proxy",
    ]) else {
        eprintln!("curl not installed: skipped (make test-deps installs it)");
        return;
    };
    assert!(ok, "{err}");
    assert!(body.contains("\"path\":\"/via-proxy\""), "{body}");
    // No header: 407 with the challenge.
    let (_, head, _) = curl(&["-i", "--proxy", &proxy, "http://erp.virtual/"]).unwrap();
    assert!(head.starts_with("HTTP/1.1 407"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("proxy-authenticate: bearer realm=\"sallyport\""),
        "{head}"
    );
}

#[test]
fn http_proxy_407_cases_are_audited() {
    let d = doors();
    let expired = token_with(&d.signer, |c| {
        c.insert("exp".into(), json!(now() - 3600));
    });
    let good = token("acme");
    let cases = [
        ("missing", String::new(), "required"),
        (
            "basic",
            "proxy-authorization: Basic YWxpY2U6d29uZGVybGFuZA==\r\n".to_string(),
            "Bearer",
        ),
        (
            "expired",
            format!("proxy-authorization: Bearer {expired}\r\n"),
            "expired",
        ),
        (
            "twice",
            format!("proxy-authorization: Bearer {good}\r\nproxy-authorization: Bearer {good}\r\n"),
            "more than once",
        ),
        (
            "empty",
            "proxy-authorization: Bearer \r\n".to_string(),
            "Bearer",
        ),
    ];
    for (what, header, says) in cases {
        let mut s = connect(d.proxy);
        let head = format!("GET http://erp.virtual/ HTTP/1.1\r\nhost: erp.virtual\r\n{header}\r\n");
        s.write_all(head.as_bytes()).unwrap();
        let all = String::from_utf8_lossy(&read_to_close(&mut s)).into_owned();
        assert!(all.starts_with("HTTP/1.1 407 "), "{what}: {all}");
        assert!(
            all.contains("proxy-authenticate: Bearer realm=\"sallyport\""),
            "{what}: {all}"
        );
        assert!(all.contains(says), "{what}: {all}");
        let reasons = d.audit.reasons_for(s.local_addr().unwrap());
        assert_eq!(reasons.len(), 1, "{what}: {reasons:?}");
    }
    // The trusted relay needs no header (and has no connector: 503, not 407).
    let mut s = connect(d.trusted_proxy);
    let (status, _) = client::exchange(
        &mut s,
        "GET http://erp.virtual/ HTTP/1.1\r\nhost: erp.virtual\r\n\r\n",
        &[],
    )
    .unwrap();
    assert_eq!(status, 503);
}

#[test]
fn http_proxy_location_and_credential_headers() {
    let d = doors();
    let t = token("acme");
    let req = |host: &str, extra: &str| {
        let mut s = connect(d.proxy);
        let head = format!(
            "GET http://{host}/x HTTP/1.1\r\nhost: {host}\r\nproxy-authorization: Bearer {t}\r\n{extra}connection: close\r\n\r\n"
        );
        client::exchange(&mut s, &head, &[]).unwrap().0
    };
    // CONNECT-only system at rome, reached as CONNECT through the location header.
    let mut s = connect(d.proxy);
    let head = format!(
        "CONNECT rome.virtual:389 HTTP/1.1\r\nhost: rome.virtual:389\r\nproxy-authorization: Bearer {t}\r\nSAP-Connectivity-SCC-Location_ID: rome\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        got.push(b[0]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    echo_through(&mut s, b"rome via http");
    assert_eq!(req("rec.virtual", "sallyport-location: paris\r\n"), 503);
    assert_eq!(req("rec.virtual", "sallyport-location: nowhere\r\n"), 503);

    // Credentials: Proxy-Authorization stays at the relay, the SAP principal headers stop at
    // the connector; the backend sees neither.
    let n = d.recorder.lock().unwrap().len();
    let status = req(
        "rec.virtual",
        "SAP-Connectivity-Authentication: Bearer user-token\r\n\
         SAP-Connectivity-Technical-Authentication: Bearer tech-token\r\nx-kept: 1\r\n",
    );
    assert_eq!(status, 200);
    let heads = d.recorder.lock().unwrap();
    let head = heads[n..].join("").to_ascii_lowercase();
    assert!(head.contains("x-kept: 1"), "{head}");
    for gone in [
        "proxy-authorization",
        "sap-connectivity-authentication",
        "sap-connectivity-technical-authentication",
        "user-token",
    ] {
        assert!(!head.contains(gone), "{gone} reached the backend: {head}");
    }
}
