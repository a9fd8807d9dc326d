//! The connector run from its configuration file, end to end: whitelist decisions from
//! `[[subaccount.system.resource]]`, the audit trail they leave (and that it verifies), reload
//! (applied, and rejected with the old configuration kept), fail-closed auditing on a full
//! disk, and SIGHUP against the real binary.

use sallyport::demo::backends;
use sallyport::demo::client;
use sallyport::io::runtime::IoMode;
use sallyport::relay::{FrontAuth, Registry, RelayConfig};
use sallyport::tls::Identity;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Tmp(PathBuf);

impl Tmp {
    fn new(name: &str) -> Tmp {
        let dir = std::env::temp_dir().join(format!(
            "sallyport-connector-config-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Tmp(dir)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Unmounts a tmpfs when dropped (also when the test fails). Lazily: the connector threads,
/// which live until the test process ends, still hold the audit file open.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

struct Stack {
    proxy: SocketAddr,
    tunnel: SocketAddr,
    registry: Arc<Registry>,
    http: backends::Backend,
}

/// PKI under `dir/pki` and a relay (trusted tenant `acme`) on loopback.
fn relay(dir: &Path) -> Stack {
    let pki = dir.join("pki");
    let mut req = sallyport::pki::PkiRequest::new(&pki);
    req.connectors
        .push(Identity::new("acme", "default").unwrap());
    sallyport::pki::generate(&req).unwrap();
    let tunnel_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tunnel = tunnel_listener.local_addr().unwrap();
    let proxy = proxy_listener.local_addr().unwrap();
    let f = |n: &str| pki.join(n);
    let (_threads, registry) = sallyport::relay::start(RelayConfig {
        tunnel_listener,
        proxy_listener: Some(proxy_listener),
        tls: sallyport::tls::relay_server_config(&f("ca.pem"), &f("relay.pem"), &f("relay.key"))
            .unwrap(),
        socks_listener: None,
        auth: FrontAuth::trusted("acme"),
        socks_handshake_timeout: Duration::from_secs(5),
        limits: Default::default(),
        header_timeout: Duration::from_secs(5),
        response_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(sallyport::config::DEFAULT_IDLE_TIMEOUT_SECS),
        handshake_timeout: Duration::from_secs(5),
        keepalive: Duration::from_secs(2),
        threads: 1,
        io: IoMode::Auto,
    })
    .unwrap();
    Stack {
        proxy,
        tunnel,
        registry,
        http: backends::http_backend().unwrap(),
    }
}

/// A connector file: one subaccount, one HTTP system with the given resource prefixes.
fn config_text(s: &Stack, audit_dir: &Path, prefixes: &[&str]) -> String {
    let mut text = format!(
        r#"[connector]
audit_dir = "{audit}"

[[subaccount]]
tenant = "acme"
relay = "{tunnel}"
relay_name = "localhost"
ca = "pki/ca.pem"
cert = "pki/connector-acme-default.pem"
key = "pki/connector-acme-default.key"
tunnels = 1
audit = "all"

[[subaccount.system]]
virtual_host = "erp.virtual"
virtual_port = 80
internal_host = "127.0.0.1"
internal_port = {port}
protocol = "http"
"#,
        audit = audit_dir.display(),
        tunnel = s.tunnel,
        port = s.http.addr.port(),
    );
    for p in prefixes {
        text.push_str(&format!(
            "\n[[subaccount.system.resource]]\npath = \"{p}\"\nmatch = \"prefix\"\n"
        ));
    }
    text
}

fn wait_for_tunnel(registry: &Registry) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while registry.count("acme", "default") < 1 {
        assert!(Instant::now() < deadline, "the tunnel did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn status(s: &Stack, path: &str) -> u16 {
    client::get(s.proxy, &format!("http://erp.virtual{path}"), &[])
        .unwrap()
        .0
}

/// The audit records of `acme/default`, in order, as JSON values.
fn records(audit_dir: &Path) -> Vec<serde_json::Value> {
    let dir = audit_dir.join("acme+default");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<serde_json::Value>>()
        })
        .collect()
}

fn kinds(recs: &[serde_json::Value]) -> Vec<String> {
    recs.iter()
        .filter_map(|r| r["kind"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn whitelist_audit_and_reload_from_the_file() {
    let tmp = Tmp::new("reload");
    let stack = relay(&tmp.0);
    let audit_dir = tmp.0.join("audit");
    let path = tmp.0.join("connector.toml");
    std::fs::write(&path, config_text(&stack, &audit_dir, &["/bytes"])).unwrap();
    let mut file = sallyport::config::load_connector(&path).unwrap();
    let cfgs = sallyport::connector::configs_from_file(&file, false).unwrap();
    let running = sallyport::connector::start_all(cfgs).unwrap();
    wait_for_tunnel(&stack.registry);

    assert_eq!(status(&stack, "/bytes/10"), 200);
    assert_eq!(status(&stack, "/api/orders"), 403, "not whitelisted yet");

    // Reload with /api admitted.
    std::fs::write(&path, config_text(&stack, &audit_dir, &["/bytes", "/api"])).unwrap();
    match sallyport::connector::reload_from_file(&path, &running.subaccounts, &mut file) {
        sallyport::connector::ReloadOutcome::Applied { needs_restart, .. } => {
            assert!(needs_restart.is_empty(), "{needs_restart:?}")
        }
        sallyport::connector::ReloadOutcome::Rejected(e) => panic!("rejected: {e}"),
    }
    assert_eq!(status(&stack, "/api/orders"), 200, "admitted after reload");

    // An invalid file is rejected and the running policy stays.
    std::fs::write(
        &path,
        config_text(&stack, &audit_dir, &["/api"]).replace("virtual_port = 80", "virtual_port = 0"),
    )
    .unwrap();
    match sallyport::connector::reload_from_file(&path, &running.subaccounts, &mut file) {
        sallyport::connector::ReloadOutcome::Rejected(e) => {
            let text = e.to_string();
            assert!(text.contains("virtual_port"), "{text}");
        }
        other => panic!("an invalid file was applied: {other:?}"),
    }
    assert_eq!(
        status(&stack, "/bytes/10"),
        200,
        "old policy still in force"
    );
    assert_eq!(
        status(&stack, "/api/orders"),
        200,
        "old policy still in force"
    );

    let recs = records(&audit_dir);
    let k = kinds(&recs);
    for want in ["request", "denied", "config_change", "config_rejected"] {
        assert!(k.iter().any(|x| x == want), "no {want} record in {k:?}");
    }
    let denied = recs.iter().find(|r| r["kind"] == "denied").unwrap();
    assert_eq!(denied["status"], 403, "{denied}");
    assert_eq!(denied["path"], "/api/orders", "{denied}");
    let served = recs
        .iter()
        .find(|r| r["kind"] == "request" && r["path"] == "/bytes/10")
        .unwrap();
    assert_eq!(served["status"], 200, "{served}");
    assert_eq!(served["bytes_out"], 10, "{served}");
    assert_eq!(served["target"], "erp.virtual:80", "{served}");
    assert_eq!(
        served["caller"], "trusted",
        "the relay names the caller: {served}"
    );
    // The chain verifies (signed checkpoints come every 1000 records or 5 minutes, and at
    // shutdown; `tests/audit.rs` covers them).
    sallyport::audit::verify_dir(&audit_dir, None).unwrap();
}

#[test]
fn a_full_audit_disk_refuses_with_503_and_recovers_without_a_gap() {
    let tmp = Tmp::new("diskfull");
    let mnt = tmp.0.join("audit");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .output();
    match mounted {
        Ok(o) if o.status.success() => {}
        other => {
            eprintln!("SKIP: cannot mount a tmpfs (needs root): {other:?}");
            return;
        }
    }
    let _guard = Mount(mnt.clone());
    let stack = relay(&tmp.0);
    let path = tmp.0.join("connector.toml");
    std::fs::write(&path, config_text(&stack, &mnt, &["/bytes"])).unwrap();
    let file = sallyport::config::load_connector(&path).unwrap();
    let cfgs = sallyport::connector::configs_from_file(&file, false).unwrap();
    let _running = sallyport::connector::start_all(cfgs).unwrap();
    wait_for_tunnel(&stack.registry);
    assert_eq!(status(&stack, "/bytes/1"), 200);

    // Fill the disk, keeping a filler file to free later.
    let filler = mnt.join("filler");
    let mut n = 0;
    while std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&filler)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &[0u8; 1024]))
        .is_ok()
    {
        n += 1;
        assert!(n < 1000, "64 KiB tmpfs never filled");
    }
    // Requests are served while the audit file's last page still has room; the first record
    // that does not fit waits in the sink's queue with its sequence number, and from then on
    // requests are refused.
    let mut refused = false;
    for _ in 0..100 {
        let s = status(&stack, "/bytes/1");
        assert!(s == 200 || s == 503, "{s}");
        if s == 503 {
            refused = true;
            break;
        }
    }
    assert!(refused, "requests kept flowing with a full audit disk");
    assert_eq!(
        status(&stack, "/api/x"),
        503,
        "a denial must be audited too"
    );

    std::fs::remove_file(&filler).unwrap();
    let mut back = false;
    for _ in 0..20 {
        if status(&stack, "/bytes/1") == 200 {
            back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(back, "requests did not resume after space was freed");
    let report = sallyport::audit::verify_dir(&mnt, None).unwrap();
    let recs = records(&mnt);
    let seqs: Vec<u64> = recs.iter().filter_map(|r| r["seq"].as_u64()).collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0] + 1, "sequence gap: {seqs:?}");
    }
    assert!(
        recs.iter().any(|r| r["status"] == 503),
        "the refusals are on record: {report:?}"
    );
}

#[test]
fn sighup_reloads_the_real_binary() {
    let tmp = Tmp::new("sighup");
    let stack = relay(&tmp.0);
    let audit_dir = tmp.0.join("audit");
    let path = tmp.0.join("connector.toml");
    std::fs::write(&path, config_text(&stack, &audit_dir, &["/bytes"])).unwrap();
    let log = tmp.0.join("connector.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sallyport"))
        .arg("connector")
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id();
    let mut guard = Kill(std::mem::replace(
        &mut child,
        Command::new("true").spawn().unwrap(),
    ));
    let _ = child.wait();
    wait_for_tunnel(&stack.registry);
    assert_eq!(status(&stack, "/api/x"), 403);

    std::fs::write(&path, config_text(&stack, &audit_dir, &["/bytes", "/api"])).unwrap();
    let rc = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(rc.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&stack, "/api/x") != 200 {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("configuration reloaded") && text.contains("SIGHUP"),
        "{text}"
    );
    // Still alive after the signal (SIGHUP's default action would have ended it).
    assert_eq!(status(&stack, "/bytes/3"), 200);

    // SIGTERM drains and exits 0, signing the trail on the way out: it then verifies
    // against the connector's certificate.
    let rc = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(rc.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(st) = guard.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the connector did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let cert = tmp.0.join("pki/connector-acme-default.pem");
    let report = sallyport::audit::verify_dir(&audit_dir, Some(&cert)).unwrap();
    let recs = kinds(&records(&audit_dir));
    assert!(
        recs.iter().any(|k| k == "checkpoint"),
        "{recs:?} {report:?}"
    );
}
