//! The stack the front-door tests share, and client helpers.

use bytes::BytesMut;
use sallyport::auth::{password, Alg, IdentityProvider, Providers, Signer};
use sallyport::connector::{self, BackendTimeouts, ConnectorConfig};
use sallyport::demo::backends::{self, Backend};
use sallyport::io::runtime::IoMode;
use sallyport::policy::{parse_map_line, SubaccountPolicy};
use sallyport::proto::socks5::{self, method, Address};
use sallyport::relay::{self, AuthAudit, Door, FrontAuth, Registry, RelayConfig, TenantAuth};
use sallyport::tls::Identity;
use serde_json::json;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "sallyport";
pub const PASSWORD: &str = "wonderland";
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// One reported failure: (door, tenant, caller, reason).
pub type Failure = (Door, Option<String>, Option<String>, String);

/// Every authentication failure the relay reported.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Failure>>);

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
    pub fn reasons_for(&self, caller: SocketAddr) -> Vec<String> {
        let c = caller.to_string();
        let list = self.0.lock().unwrap();
        list.iter()
            .filter(|r| r.2.as_deref() == Some(c.as_str()))
            .map(|r| r.3.clone())
            .collect()
    }
}

pub struct Doors {
    pub proxy: SocketAddr,
    pub socks: SocketAddr,
    /// A relay whose only door policy is a trusted tenant (`acme`) and no connector.
    pub trusted_socks: SocketAddr,
    pub trusted_proxy: SocketAddr,
    pub signer: Signer,
    /// A key the relay does not know (signs with a kid it has never seen).
    pub stranger: Signer,
    pub audit: Arc<Recorder>,
    /// Records the head of every request it receives.
    pub recorder: Arc<Mutex<Vec<String>>>,
    pub _http: Backend,
    pub _echo: Backend,
    /// Canaries: `shared.virtual:80` is mapped by both tenants, to `canary_acme` for acme and
    /// to `canary_beta` for beta; `secret.virtual:389` (beta only) reaches `secret_echo`.
    pub canary_acme: Backend,
    pub canary_beta: Backend,
    pub secret_echo: Backend,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HTTP backend that answers `200 ok` and keeps every request head it received.
pub fn recording_backend() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
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

pub fn start_connector(dir: &std::path::Path, id: &Identity, relay: SocketAddr, maps: &[String]) {
    let stem = sallyport::pki::connector_file_stem(id);
    let f = |n: &str| dir.join(n);
    let specs: Vec<_> = maps.iter().map(|l| parse_map_line(l).unwrap()).collect();
    let policy = std::sync::Arc::new(SubaccountPolicy::compile(&specs).unwrap());
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
        identity: id.clone(),
        policy,
        audit: sallyport::audit::AuditSink::disabled(),
        max_streams: sallyport::config::DEFAULT_STREAMS_PER_TUNNEL,
        keepalive: Duration::from_secs(10),
        timeouts: BackendTimeouts {
            connect: Duration::from_secs(5),
            response: Duration::from_secs(10),
            idle: Duration::from_secs(sallyport::config::DEFAULT_IDLE_TIMEOUT_SECS),
        },
        backend_tls: None,
        io: IoMode::Auto,
        drain_on_signal: false,
        handshake_timeout: Duration::from_secs(10),
    })
    .unwrap();
}

pub fn start_relay(
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
        proxy_listener: Some(proxy_listener),
        socks_listener: Some(socks_listener),
        tls,
        auth,
        socks_handshake_timeout: Duration::from_secs(1),
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
    (addrs.0, addrs.1, addrs.2, registry)
}

pub fn doors() -> &'static Doors {
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
            ..FrontAuth::empty()
        };
        let (tunnel, proxy, socks, registry) = start_relay(tls.clone(), auth);
        let (_, trusted_proxy, trusted_socks, _) = start_relay(tls, FrontAuth::trusted("acme"));

        let http = backends::http_backend().unwrap();
        let echo = backends::tcp_echo_backend().unwrap();
        let (rec, recorder) = recording_backend();
        let e = echo.addr;
        let canary_acme = backends::http_backend().unwrap();
        let canary_beta = backends::http_backend().unwrap();
        let secret_echo = backends::tcp_echo_backend().unwrap();
        start_connector(
            &dir,
            &acme,
            tunnel,
            &[
                format!("erp.virtual:80={}", http.addr),
                format!("web.virtual:80={}/tcp", http.addr),
                format!("rec.virtual:80={rec}"),
                format!("ldap.virtual:389={e}/tcp"),
                format!("shared.virtual:80={}", canary_acme.addr),
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
            &[
                format!("secret.virtual:389={}/tcp", secret_echo.addr),
                format!("shared.virtual:80={}", canary_beta.addr),
            ],
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
            canary_acme,
            canary_beta,
            secret_echo,
        }
    })
}

pub fn token_with(
    signer: &Signer,
    f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> String {
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "zid": "acme", "sub": "app", "exp": now() + 600,
    });
    f(claims.as_object_mut().unwrap());
    signer.issue(&claims).unwrap()
}

pub fn token(tenant: &str) -> String {
    token_with(&doors().signer, |c| {
        c.insert("zid".into(), tenant.into());
    })
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

pub fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).unwrap();
    b
}

/// Reads until the peer closes; panics on a read timeout (the server must close).
pub fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    s.read_to_end(&mut all)
        .expect("the server closes the connection");
    all
}

pub fn read_reply(s: &mut TcpStream) -> socks5::client::ReplyMsg {
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
pub enum Cred<'a> {
    /// SAP 0x80: token, location, location base64-encoded.
    Jwt(&'a str, Option<&'a str>, bool),
    /// RFC 1929.
    User(&'a str, &'a str),
    /// Method 0x00.
    Nothing,
}

/// Greeting, authentication and request, one message at a time. Returns the stream and
/// the reply code (0x05 when authentication is refused: status `01 01`, then the reply).
pub fn socks_open(
    door: SocketAddr,
    cred: Cred<'_>,
    target: &Address,
    port: u16,
) -> (TcpStream, u8) {
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

pub fn domain(d: &str) -> Address {
    Address::Domain(d.into())
}

pub fn echo_through(s: &mut TcpStream, payload: &[u8]) {
    s.write_all(payload).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        read_to_close(s),
        payload,
        "echo, then the backend's half-close"
    );
}
