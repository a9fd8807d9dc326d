//! `sallyport demo`: the whole product on loopback — a throwaway PKI, a relay, a connector
//! with two tunnels, an HTTP backend and a TCP echo backend — then a scripted session through
//! the relay's HTTP proxy front door. The same stack serves the integration tests.

pub mod backends;
pub mod client;

use crate::connector::{self, BackendTimeouts, ConnectorConfig};
use crate::io::runtime::IoMode;
use crate::policy::{parse_map_line, SubaccountPolicy, SystemSpec};
use crate::relay::{self, Registry, RelayConfig};
use crate::tls::Identity;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo tenant; its connector's location is [`relay::front::DEFAULT_LOCATION`].
pub const TENANT: &str = "demo";

/// Knobs of a demo stack.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// I/O backend for relay and connector.
    pub io: IoMode,
    /// Preferred proxy port (falls back to an ephemeral one when taken); 0 = ephemeral.
    pub proxy_port: u16,
    /// Tunnels the connector keeps.
    pub tunnels: usize,
    /// Backend response timeout at the connector.
    pub backend_timeout: Duration,
    /// More systems, `virtual:port=internal:port[/proto]`; TLS backends must present a
    /// certificate from the stack's own CA (`Stack::pki_dir`).
    pub extra_maps: Vec<String>,
    /// More systems, as a configuration file would give them (with explicit resources).
    pub extra_systems: Vec<SystemSpec>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            io: IoMode::Auto,
            proxy_port: 0,
            tunnels: 2,
            backend_timeout: Duration::from_secs(30),
            extra_maps: Vec::new(),
            extra_systems: Vec::new(),
        }
    }
}

/// A running demo stack. Threads run until the process exits.
pub struct Stack {
    /// The HTTP proxy front door.
    pub proxy: SocketAddr,
    /// The relay's tunnel listener.
    pub tunnel_addr: SocketAddr,
    /// The HTTP backend (virtual `erp.virtual:80`).
    pub http: backends::Backend,
    /// The TCP echo backend (virtual `ldap.virtual:389`).
    pub echo: backends::Backend,
    /// Live tunnels, for readiness checks.
    pub registry: Arc<Registry>,
    /// Where the throwaway PKI is.
    pub pki_dir: PathBuf,
}

/// Starts everything and waits until the connector's tunnels are up.
pub fn start(opts: &StackOptions) -> Result<Stack, String> {
    let http = backends::http_backend().map_err(|e| format!("HTTP backend: {e}"))?;
    let echo = backends::tcp_echo_backend().map_err(|e| format!("echo backend: {e}"))?;
    let pki_dir = std::env::temp_dir().join(format!(
        "sallyport-demo-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ (http.addr.port() as u128)
    ));
    let identity =
        Identity::new(TENANT, relay::front::DEFAULT_LOCATION).map_err(|e| e.to_string())?;
    let mut req = crate::pki::PkiRequest::new(&pki_dir);
    req.connectors.push(identity.clone());
    req.force = true;
    crate::pki::generate(&req).map_err(|e| format!("PKI: {e}"))?;
    let file = |name: &str| pki_dir.join(name);
    let stem = crate::pki::connector_file_stem(&identity);

    let tunnel_listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("tunnel listener: {e}"))?;
    let proxy_listener = TcpListener::bind(("127.0.0.1", opts.proxy_port))
        .or_else(|_| TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("proxy listener: {e}"))?;
    let tunnel_addr = tunnel_listener.local_addr().map_err(|e| e.to_string())?;
    let proxy = proxy_listener.local_addr().map_err(|e| e.to_string())?;
    let server_tls =
        crate::tls::relay_server_config(&file("ca.pem"), &file("relay.pem"), &file("relay.key"))
            .map_err(|e| format!("relay TLS: {e}"))?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (_relay_threads, registry) = relay::start(RelayConfig {
        tunnel_listener,
        proxy_listener: Some(proxy_listener),
        tls: server_tls,
        socks_listener: None,
        auth: relay::FrontAuth::trusted(TENANT),
        socks_handshake_timeout: Duration::from_secs(10),
        limits: Default::default(),
        header_timeout: Duration::from_secs(30),
        response_timeout: Duration::from_secs(60),
        handshake_timeout: Duration::from_secs(10),
        keepalive: Duration::from_secs(10),
        threads,
        io: opts.io,
    })
    .map_err(|e| format!("relay: {e}"))?;

    // `--map` systems allow all their paths (one `prefix "/"` resource each).
    let mut systems = Vec::new();
    for line in [
        format!("erp.virtual:80={}", http.addr),
        format!("ldap.virtual:389={}/tcp", echo.addr),
        // A mapped system whose backend is down (nothing listens on the discard port).
        "down.virtual:80=127.0.0.1:9".to_string(),
    ]
    .into_iter()
    .chain(opts.extra_maps.iter().cloned())
    {
        systems.push(parse_map_line(&line).map_err(|e| e.to_string())?);
    }
    systems.extend(opts.extra_systems.iter().cloned());
    let policy = SubaccountPolicy::compile(&systems).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        lines.join("; ")
    })?;
    let client_tls = crate::tls::connector_client_config(
        &file("ca.pem"),
        &file(&format!("{stem}.pem")),
        &file(&format!("{stem}.key")),
    )
    .map_err(|e| format!("connector TLS: {e}"))?;
    connector::start(ConnectorConfig {
        relay: tunnel_addr.to_string(),
        relay_name: rustls::pki_types::ServerName::try_from("localhost")
            .map_err(|e| e.to_string())?
            .to_owned(),
        tls: client_tls,
        tunnels: opts.tunnels,
        identity: identity.clone(),
        policy: Arc::new(policy),
        audit: crate::audit::AuditSink::disabled(),
        max_streams: crate::config::DEFAULT_STREAMS_PER_TUNNEL,
        keepalive: Duration::from_secs(10),
        timeouts: BackendTimeouts {
            connect: Duration::from_secs(5),
            response: opts.backend_timeout,
        },
        backend_tls: Some(
            crate::tls::backend_client_config(Some(&file("ca.pem")))
                .map_err(|e| format!("backend TLS: {e}"))?,
        ),
        io: opts.io,
        drain_on_signal: false,
        handshake_timeout: Duration::from_secs(10),
    })
    .map_err(|e| format!("connector: {e}"))?;

    let deadline = Instant::now() + Duration::from_secs(20);
    while registry.count(TENANT, relay::front::DEFAULT_LOCATION) < opts.tunnels {
        if Instant::now() > deadline {
            return Err("the connector's tunnels did not come up within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Stack {
        proxy,
        tunnel_addr,
        http,
        echo,
        registry,
        pki_dir,
    })
}

/// Runs the scripted session; returns true if every step passed.
pub fn script(stack: &Stack) -> bool {
    let proxy = stack.proxy;
    let mut failed = 0;
    let mut step = |n: usize, what: &str, r: Result<String, String>| match r {
        Ok(detail) => println!("  [{n}] {what:<46} ok    {detail}"),
        Err(e) => {
            failed += 1;
            println!("  [{n}] {what:<46} FAIL  {e}");
        }
    };
    step(1, "GET http://erp.virtual/orders?id=7", {
        client::get(proxy, "http://erp.virtual/orders?id=7", &[]).and_then(|(status, body)| {
            let body = String::from_utf8_lossy(&body).trim().to_string();
            (status == 200)
                .then(|| format!("200 {body}"))
                .ok_or(format!("status {status}: {body}"))
        })
    });
    step(2, "POST 1 MiB to http://erp.virtual/upload", {
        let body = vec![b'x'; 1 << 20];
        client::post(proxy, "http://erp.virtual/upload", &body).and_then(|(status, resp)| {
            let text = String::from_utf8_lossy(&resp).to_string();
            (status == 200 && text.contains("\"received\":1048576"))
                .then(|| "200, backend received 1048576 bytes".to_string())
                .ok_or(format!("status {status}: {text}"))
        })
    });
    step(3, "CONNECT ldap.virtual:389, echo over TCP", {
        client::connect_echo(proxy, "ldap.virtual:389", b"hello through the tunnel")
            .map(|echo| format!("echo '{}'", String::from_utf8_lossy(&echo)))
    });
    step(4, "GET http://unmapped.virtual/ (not mapped)", {
        client::get(proxy, "http://unmapped.virtual/", &[]).and_then(|(status, body)| {
            (status == 403)
                .then(|| format!("403 {}", String::from_utf8_lossy(&body).trim()))
                .ok_or(format!("expected 403, got {status}"))
        })
    });
    step(5, "GET with a location no connector serves", {
        client::get(
            proxy,
            "http://erp.virtual/",
            &[("SAP-Connectivity-SCC-Location_ID", "nowhere")],
        )
        .and_then(|(status, body)| {
            (status == 503)
                .then(|| format!("503 {}", String::from_utf8_lossy(&body).trim()))
                .ok_or(format!("expected 503, got {status}"))
        })
    });
    step(6, "GET http://down.virtual/ (backend down)", {
        client::get(proxy, "http://down.virtual/", &[]).and_then(|(status, body)| {
            (status == 502)
                .then(|| format!("502 {}", String::from_utf8_lossy(&body).trim()))
                .ok_or(format!("expected 502, got {status}"))
        })
    });
    failed == 0
}

/// `sallyport demo`.
pub fn run(once: bool, io: IoMode) -> bool {
    println!(
        "sallyport demo: relay + connector (2 tunnels, mTLS 1.3) + sample backends on loopback\n"
    );
    let stack = match start(&StackOptions {
        io,
        proxy_port: 20003,
        ..StackOptions::default()
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo could not start: {e}");
            return false;
        }
    };
    println!("  relay proxy front door  http://{}", stack.proxy);
    println!(
        "  relay tunnel listener   {} (the connector dialled out to it)",
        stack.tunnel_addr
    );
    println!("  erp.virtual:80   -> {} (HTTP)", stack.http.addr);
    println!("  ldap.virtual:389 -> {} (TCP echo)", stack.echo.addr);
    println!("  throwaway PKI in {}\n", stack.pki_dir.display());
    let ok = script(&stack);
    println!("\nTry it yourself:");
    println!(
        "  curl --proxy http://{} http://erp.virtual/orders?id=7",
        stack.proxy
    );
    println!(
        "  curl --proxy http://{} --data-binary @/etc/hostname http://erp.virtual/upload",
        stack.proxy
    );
    println!(
        "  curl --proxy http://{} http://unmapped.virtual/",
        stack.proxy
    );
    if once {
        let _ = std::fs::remove_dir_all(&stack.pki_dir);
        return ok;
    }
    println!("\nServing until Ctrl-C.");
    loop {
        std::thread::park();
    }
}
