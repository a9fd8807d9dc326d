//! The relay run from a configuration file: a connector of a configured tenant serves a
//! Bearer request (and SOCKS5, CONNECT) and sees the `sallyport-caller` field; connectors of an
//! unconfigured tenant or a disallowed location are refused at registration and audited;
//! reload by file watch swaps the JWT keys, an invalid file keeps the old settings and is
//! audited as `config_rejected`; the real binary reloads on SIGHUP and reports file errors
//! with their position.

use bytes::Bytes;
use sallyport::auth::Signer;
use sallyport::config;
use sallyport::proto::h2::{Config as H2Config, ResponseHead, Role};
use sallyport::relay::from_config::{relay_config_from_file, ReloadOutcome, Reloader};
use sallyport::relay::{self, Registry, CALLER_FIELD};
use sallyport::reload::Watch;
use sallyport::tls::Identity;
use sallyport::tunnel::{TlsTransport, Tunnel};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ISSUER: &str = "https://idp.test";
const IO_TIMEOUT: Duration = Duration::from_secs(15);
const WAIT: Duration = Duration::from_secs(20);

/// The two tests each pick free ports and bind them later; run side by side, one test's
/// connections could take a port the other has picked but not bound yet. One at a time.
static PORTS: Mutex<()> = Mutex::new(());

/// Polls the file watch (bounded) and reloads once it reports the change.
fn reload_on_change(watch: &mut Watch, reloader: &mut Reloader) -> Option<ReloadOutcome> {
    for _ in 0..100 {
        if let Some(trigger) = watch.poll().unwrap() {
            return Some(reloader.reload(trigger));
        }
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sp-relay-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// PKI for the relay and the given connectors in `dir`.
fn pki(dir: &Path, connectors: &[Identity]) {
    let mut req = sallyport::pki::PkiRequest::new(dir);
    req.connectors = connectors.to_vec();
    req.force = true;
    sallyport::pki::generate(&req).unwrap();
}

/// A P-256 key whose public half goes to `dir/file`.
fn jwt_key(dir: &Path, file: &str, kid: &str) -> Signer {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    std::fs::write(dir.join(file), kp.public_key_pem()).unwrap();
    Signer::from_pkcs8_pem(kp.serialize_pem().as_bytes(), Some(kid.into())).unwrap()
}

fn token(signer: &Signer, tenant: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    signer
        .issue(
            &json!({"iss": ISSUER, "aud": "sallyport", "exp": exp, "zid": tenant, "sub": "app-7"}),
        )
        .unwrap()
}

struct Ports {
    tunnel: u16,
    proxy: u16,
    socks: u16,
}

fn config_text(p: &Ports, key_file: &str, kid: &str, alice_hash: &str) -> String {
    format!(
        r#"[relay]
ca = "ca.pem"
cert = "relay.pem"
key = "relay.key"
tunnel_listen = "127.0.0.1:{tunnel}"
threads = 1
audit_dir = "audit"

[relay.http_proxy]
listen = "127.0.0.1:{proxy}"

[relay.socks5]
listen = "127.0.0.1:{socks}"

[relay.limits]
socks_handshake_timeout_secs = 5

[[identity_provider]]
name = "corp"
issuer = "{ISSUER}"
audience = "sallyport"
algorithms = ["ES256"]
tenant_claim = "zid"

  [[identity_provider.key]]
  file = "{key_file}"
  kid = "{kid}"

[[tenant]]
name = "acme"
locations = ["default", "berlin"]

  [[tenant.user]]
  name = "alice"
  password_hash = "{alice_hash}"
"#,
        tunnel = p.tunnel,
        proxy = p.proxy,
        socks = p.socks,
    )
}

/// What a test connector saw: each stream's method and fields.
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// A connector built on `sallyport::tunnel` that answers every stream `200` with body `ok`
/// and records the request fields. The receiver gets why the tunnel ended.
fn test_connector(dir: &Path, id: &Identity, relay: SocketAddr) -> (Seen, mpsc::Receiver<String>) {
    let stem = sallyport::pki::connector_file_stem(id);
    let tls = sallyport::tls::connector_client_config(
        &dir.join("ca.pem"),
        &dir.join(format!("{stem}.pem")),
        &dir.join(format!("{stem}.key")),
    )
    .unwrap();
    let seen: Seen = Arc::default();
    let (tx, rx) = mpsc::channel();
    let s = seen.clone();
    std::thread::spawn(move || {
        let rt = compio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let tcp = compio::net::TcpStream::connect(relay).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost")
                .unwrap()
                .to_owned();
            // A refused connector may see the close during or right after the handshake.
            let (r, w) = match sallyport::io::tls::connect(tcp, tls, name, IO_TIMEOUT).await {
                Ok(x) => x,
                Err(e) => return drop(tx.send(format!("handshake: {e}"))),
            };
            let tunnel = Tunnel::new(Role::Server, H2Config::default());
            let t = tunnel.clone();
            let acceptor = compio::runtime::spawn(async move {
                while let Some((stream, head, _end)) = t.accept().await {
                    let fields = head
                        .fields
                        .iter()
                        .map(|f| {
                            (
                                String::from_utf8_lossy(&f.name).into_owned(),
                                String::from_utf8_lossy(&f.value).into_owned(),
                            )
                        })
                        .collect();
                    s.lock()
                        .unwrap()
                        .push((String::from_utf8_lossy(&head.method).into_owned(), fields));
                    let mut resp = ResponseHead::new(200);
                    if &head.method[..] != b"CONNECT" {
                        resp.fields
                            .push(sallyport::proto::h2::field("content-length", "2"));
                    }
                    if stream.send_response(&resp, false).is_ok() {
                        let _ = stream.send_data(Bytes::from_static(b"ok"), true).await;
                    }
                }
            });
            let why = tunnel.run(TlsTransport(r, w)).await;
            drop(acceptor);
            let _ = tx.send(why.to_string());
        });
    });
    (seen, rx)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn connect(port: u16) -> TcpStream {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            return s;
        }
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One proxy request; returns the whole answer (the relay closes after it).
fn proxy_get(port: u16, token: Option<&str>, extra: &str) -> String {
    let mut s = connect(port);
    let auth = token.map_or(String::new(), |t| {
        format!("proxy-authorization: Bearer {t}\r\n")
    });
    write!(
        s,
        "GET http://erp.virtual/x HTTP/1.1\r\nhost: erp.virtual\r\n{auth}{extra}connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status(answer: &str) -> u16 {
    answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

fn audit_trail(dir: &Path) -> String {
    let Ok(rd) = std::fs::read_dir(dir.join("audit").join("relay")) else {
        return String::new();
    };
    rd.flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

fn caller_fields(seen: &Seen, method: &str) -> Vec<Vec<String>> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(m, _)| m == method)
        .map(|(_, fields)| {
            fields
                .iter()
                .filter(|(n, _)| n == CALLER_FIELD)
                .map(|(_, v)| v.clone())
                .collect()
        })
        .collect()
}

#[test]
fn relay_from_a_config_file() {
    let _one_at_a_time = PORTS.lock().unwrap_or_else(|p| p.into_inner());
    let dir = scratch("inproc");
    let acme = Identity::new("acme", "default").unwrap();
    let ghost = Identity::new("ghost", "default").unwrap();
    let rome = Identity::new("acme", "rome").unwrap();
    pki(&dir, &[acme.clone(), ghost.clone(), rome.clone()]);
    let k1 = jwt_key(&dir, "k1.pem", "k1");
    let k2 = jwt_key(&dir, "k2.pem", "k2");
    let hash = sallyport::auth::password::hash(b"wonderland").unwrap();
    let ports = Ports {
        tunnel: free_port(),
        proxy: free_port(),
        socks: free_port(),
    };
    let path = dir.join("relay.toml");
    let text = config_text(&ports, "k1.pem", "k1", &hash);
    std::fs::write(&path, &text).unwrap();

    let file = config::load_relay(&path).unwrap();
    let built = relay_config_from_file(&file).unwrap();
    let tunnel_addr = built.config.tunnel_listener.local_addr().unwrap();
    let running = relay::start_live(built.config).unwrap();
    let registry: Arc<Registry> = running.registry.clone();
    let mut reloader = Reloader::new(&path, file, running.auth.clone(), built.audit.clone())
        .closing_tunnels_in(registry.clone());

    // A configured tenant registers and serves a Bearer request; the connector learns who
    // called, and a caller field the client sent does not get through.
    let (seen, acme_down) = test_connector(&dir, &acme, tunnel_addr);
    wait_for("acme to register", || {
        registry.count("acme", "default") == 1
    });
    let answer = proxy_get(
        ports.proxy,
        Some(&token(&k1, "acme")),
        "sallyport-caller: trusted\r\n",
    );
    assert_eq!(status(&answer), 200, "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    assert_eq!(caller_fields(&seen, "GET"), [["jwt:corp:app-7"]]);

    // CONNECT through the proxy carries it too.
    let mut s = connect(ports.proxy);
    write!(
        s,
        "CONNECT db.virtual:5432 HTTP/1.1\r\nhost: db.virtual:5432\r\nproxy-authorization: Bearer {}\r\n\r\n",
        token(&k1, "acme")
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.starts_with("HTTP/1.1 200") && out.ends_with("ok"),
        "{out}"
    );
    // Closing the client ends the stream's other direction too (a reload below drains).
    drop(s);

    // SOCKS5 username/password.
    let mut s = connect(ports.socks);
    s.write_all(&[5, 1, 2]).unwrap();
    let mut b = [0u8; 2];
    s.read_exact(&mut b).unwrap();
    assert_eq!(b, [5, 2]);
    let mut auth = vec![1, 5];
    auth.extend_from_slice(b"alice");
    auth.push(10);
    auth.extend_from_slice(b"wonderland");
    s.write_all(&auth).unwrap();
    s.read_exact(&mut b).unwrap();
    assert_eq!(b, [1, 0], "alice authenticated");
    let mut req = vec![5, 1, 0, 3, 10];
    req.extend_from_slice(b"db.virtual");
    req.extend_from_slice(&5432u16.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply[1], 0, "SOCKS5 reply {reply:?}");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert_eq!(rest, b"ok");
    drop(s);
    let connects = caller_fields(&seen, "CONNECT");
    assert_eq!(connects.len(), 2, "{connects:?}");
    assert!(
        connects.contains(&vec!["jwt:corp:app-7".to_string()]),
        "{connects:?}"
    );
    assert!(
        connects.contains(&vec!["user:alice".to_string()]),
        "{connects:?}"
    );

    // An unconfigured tenant and a location outside acme's list are refused at registration.
    // The connector is told why, in the GOAWAY that closes its tunnel.
    for (id, reason) in [
        (&ghost, "tenant 'ghost' is not configured on this relay"),
        (
            &rome,
            "location 'rome' is not among the connector locations of tenant 'acme'",
        ),
    ] {
        let (_, down) = test_connector(&dir, id, tunnel_addr);
        let why = down.recv_timeout(WAIT).expect("the refused tunnel closes");
        assert_eq!(registry.count(&id.tenant, &id.location), 0, "{why}");
        assert!(
            why.contains("GOAWAY (REFUSED_STREAM): the relay refused this tunnel")
                && why.contains(reason),
            "{why}"
        );
    }
    wait_for("the refusals in the audit trail", || {
        let t = audit_trail(&dir);
        t.contains("'ghost' is not configured") && t.contains("location 'rome'")
    });
    let trail = audit_trail(&dir);
    let refusal: serde_json::Value = trail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .find(|v: &serde_json::Value| v["tenant"] == "ghost")
        .unwrap();
    assert_eq!(refusal["kind"], "auth_failure");
    assert_eq!(refusal["target"], "tunnel");
    assert!(refusal["caller"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    // A valid token naming a tenant the file does not have is refused before routing.
    let answer = proxy_get(ports.proxy, Some(&token(&k1, "ghost")), "");
    assert_eq!(status(&answer), 503, "{answer}");
    assert!(answer.contains("'ghost' is not configured"), "{answer}");

    // Reload through the file watch: the rotated key is accepted, the old one refused.
    let mut watch = Watch::new(&path, None, Duration::from_millis(50));
    std::fs::write(
        &path,
        text.replace("k1.pem", "k2.pem").replace("\"k1\"", "\"k2\""),
    )
    .unwrap();
    let outcome = reload_on_change(&mut watch, &mut reloader);
    assert!(
        matches!(outcome, Some(ReloadOutcome::Applied(_))),
        "{outcome:?}"
    );
    assert_eq!(
        status(&proxy_get(ports.proxy, Some(&token(&k2, "acme")), "")),
        200
    );
    assert_eq!(
        status(&proxy_get(ports.proxy, Some(&token(&k1, "acme")), "")),
        407
    );

    // An invalid file is refused and audited; the running settings stay.
    std::fs::write(
        &path,
        text.replace("algorithms = [\"ES256\"]", "algorithms = [\"none\"]"),
    )
    .unwrap();
    let outcome = reload_on_change(&mut watch, &mut reloader);
    assert!(
        matches!(outcome, Some(ReloadOutcome::Rejected(_))),
        "{outcome:?}"
    );
    assert_eq!(
        status(&proxy_get(ports.proxy, Some(&token(&k2, "acme")), "")),
        200
    );

    // A reload that takes a location away closes its tunnels: out of the registry at once,
    // GOAWAY to the connector, and callers no longer reach it.
    std::fs::write(
        &path,
        text.replace("k1.pem", "k2.pem")
            .replace("\"k1\"", "\"k2\"")
            .replace(
                "locations = [\"default\", \"berlin\"]",
                "locations = [\"berlin\"]\ndefault_location = \"berlin\"",
            ),
    )
    .unwrap();
    let outcome = reload_on_change(&mut watch, &mut reloader);
    match &outcome {
        Some(ReloadOutcome::Applied(summary)) => assert!(
            summary.contains("closing the tunnels no longer admitted: acme/default (1)"),
            "{summary}"
        ),
        other => panic!("the reload should apply: {other:?}"),
    }
    assert_eq!(registry.count("acme", "default"), 0);
    let why = acme_down
        .recv_timeout(WAIT)
        .expect("the connector's tunnel closes after GOAWAY");
    assert!(!why.is_empty());
    let answer = proxy_get(ports.proxy, Some(&token(&k2, "acme")), "");
    assert_eq!(status(&answer), 503, "{answer}");

    built
        .audit
        .as_ref()
        .unwrap()
        .tick(SystemTime::now())
        .unwrap();
    let trail = audit_trail(&dir);
    assert!(trail.contains("\"kind\":\"config_change\""), "{trail}");
    assert!(trail.contains("\"kind\":\"config_rejected\""), "{trail}");
    // The relay's trail is an intact hash chain like the connector's.
    let report = sallyport::audit::verify_dir(&dir.join("audit"), None).expect("intact trail");
    assert_eq!(report.chains.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kills the relay when the test ends, passing or not.
struct RelayProcess(Child);

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_reloads_on_sighup_and_reports_file_errors() {
    let _one_at_a_time = PORTS.lock().unwrap_or_else(|p| p.into_inner());
    let dir = scratch("bin");
    pki(&dir, &[]);
    let k1 = jwt_key(&dir, "k1.pem", "k1");
    let hash = sallyport::auth::password::hash(b"pw").unwrap();
    let ports = Ports {
        tunnel: free_port(),
        proxy: free_port(),
        socks: free_port(),
    };
    let path = dir.join("relay.toml");
    let text = config_text(&ports, "k1.pem", "k1", &hash);

    // A broken file: every error positioned, exit status 1, nothing started.
    std::fs::write(&path, text.replace("[\"ES256\"]", "[\"HS256\"]")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sallyport"))
        .args(["relay", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .position(|l| l.starts_with("algorithms"))
        .unwrap()
        + 1;
    let expected = format!("{}:{line}:", path.display());
    assert!(
        stderr.contains(&expected) && stderr.contains("identity_provider[0].algorithms"),
        "{stderr}"
    );

    std::fs::write(&path, &text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sallyport"))
        .args(["relay", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = RelayProcess(child);
    let _ = connect(ports.proxy);
    // No connector runs: an authenticated caller gets 503 (no connector), anyone else 407.
    assert_eq!(
        status(&proxy_get(ports.proxy, Some(&token(&k1, "acme")), "")),
        503
    );

    // Rotate the key in place: the configuration file stays the same, so only SIGHUP can
    // make the relay read the key file again.
    let k1b = jwt_key(&dir, "k1.pem", "k1");
    assert_eq!(
        status(&proxy_get(ports.proxy, Some(&token(&k1b, "acme")), "")),
        407
    );
    let kill = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    wait_for("the rotated key after SIGHUP", || {
        status(&proxy_get(ports.proxy, Some(&token(&k1b, "acme")), "")) == 503
    });
    assert_eq!(
        status(&proxy_get(ports.proxy, Some(&token(&k1, "acme")), "")),
        407
    );
    wait_for("config_change in the relay's audit trail", || {
        audit_trail(&dir).contains("SIGHUP")
    });
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
