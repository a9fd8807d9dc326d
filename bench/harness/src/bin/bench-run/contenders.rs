//! The contenders of `bench-run`: how each one's processes are started (in their place: see
//! `sallyport_bench::placement`), and how the load generator reaches the backend through it.

use sallyport_bench::placement::{Placement, Role};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// One running process of a contender.
pub struct Proc {
    pub role: String,
    pub child: Child,
}

/// A contender: how the load generator reaches the backend through it, and its processes.
pub struct Contender {
    pub name: String,
    pub dial: String,
    /// Where the load generator runs for this contender (the cloud, except `direct` in the
    /// testbed, which the firewall only lets through from the DMZ).
    pub client: Role,
    pub procs: Vec<Proc>,
}

impl Contender {
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.procs
            .iter()
            .map(|p| (p.role.clone(), p.child.id()))
            .collect()
    }

    /// Kills the processes, the last started first: the connector side goes before its
    /// relay, so it does not see the relay vanish and dial it again while being stopped.
    pub fn stop(&mut self) {
        for p in self.procs.iter_mut().rev() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.procs.clear();
    }
}

/// Everything the workloads need to know about this run.
pub struct Ctx {
    pub place: Placement,
    pub port_base: u16,
    /// The sallyport contender's tunnel port when it must be a given one (the testbed's
    /// firewall opens 8443 for it); default `port_base + 10`.
    pub sallyport_tunnel_port: Option<u16>,
    pub work: PathBuf,
    pub loadgen: PathBuf,
    pub h2tunnel: PathBuf,
    pub sallyport: PathBuf,
    pub rathole: Option<PathBuf>,
    pub idle_tunnels: usize,
}

impl Ctx {
    /// `host:port` of a listener of `role` at `port_base + offset`.
    pub fn addr(&self, role: Role, offset: u16) -> String {
        format!("{}:{}", self.place.host(role), self.port_base + offset)
    }

    fn sallyport_tunnel(&self) -> String {
        match self.sallyport_tunnel_port {
            Some(port) => format!("{}:{port}", self.place.host(Role::Cloud)),
            None => self.addr(Role::Cloud, 10),
        }
    }

    /// Starts `program` in `place`'s namespace, its output appended to `work/ROLE.log`.
    pub fn spawn(
        &self,
        role: &str,
        place: Role,
        program: &Path,
        args: &[String],
    ) -> Result<Proc, String> {
        let log = self.work.join(format!("{role}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let child = self
            .place
            .command(place, program)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("start {role} ({}): {e}", program.display()))?;
        Ok(Proc {
            role: role.to_string(),
            child,
        })
    }

    /// Runs the load generator in `place`; returns its JSON output or the error it printed.
    pub fn loadgen(&self, place: Role, args: &[String], cap: Duration) -> Result<Value, String> {
        let mut all = args.to_vec();
        all.extend(["--timeout".into(), format!("{}", cap.as_secs_f64())]);
        let out = self
            .place
            .command(place, &self.loadgen)
            .args(&all)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("loadgen: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Value = text
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| {
                format!(
                    "loadgen {}: no JSON output; stderr: {}",
                    args.first().map_or("", String::as_str),
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            })?;
        match v.get("error") {
            Some(e) => Err(e.as_str().unwrap_or("loadgen failed").to_string()),
            None => Ok(v),
        }
    }

    fn backend_port(&self, contender: &str) -> u16 {
        // One backend port per contender, so ten thousand connections from one contender
        // (and their TIME_WAIT remnants) never compete for another's four-tuples.
        match contender {
            "direct" => 1,
            "sallyport" => 2,
            "rathole" => 3,
            "h2-baseline" => 4,
            _ => 5,
        }
    }

    /// The backend (in corp), one listener per contender.
    pub fn start_backend(&self, tag: &str) -> Result<Proc, String> {
        let mut args = vec!["backend".to_string()];
        for p in 1..=5 {
            args.extend(["--listen".into(), self.addr(Role::Corp, p)]);
        }
        self.spawn(&format!("backend{tag}"), Role::Corp, &self.loadgen, &args)
    }

    /// A sallyport relay (trusted tenant `bench`, proxy door only) and a connector mapping one
    /// system; `name` prefixes the process names.
    fn start_sallyport(
        &self,
        name: &str,
        tunnel: String,
        proxy: String,
        map: &str,
        tunnels: usize,
    ) -> Result<Vec<Proc>, String> {
        let pki = self.work.join("pki");
        let p = |f: &str| pki.join(f).display().to_string();
        let relay = self.spawn(
            &format!("{name}-relay"),
            Role::Cloud,
            &self.sallyport,
            &[
                "relay".into(),
                "--ca".into(),
                p("ca.pem"),
                "--cert".into(),
                p("relay.pem"),
                "--key".into(),
                p("relay.key"),
                "--tunnel-listen".into(),
                tunnel.clone(),
                "--proxy-listen".into(),
                proxy,
                // Two relays run side by side: neither may take the default SOCKS5 port.
                "--socks-listen".into(),
                "off".into(),
                "--trusted-tenant".into(),
                "bench".into(),
            ],
        )?;
        std::thread::sleep(Duration::from_millis(200));
        let connector = self.spawn(
            &format!("{name}-connector"),
            Role::Dmz,
            &self.sallyport,
            &[
                "connector".into(),
                "--relay".into(),
                tunnel,
                "--relay-name".into(),
                "localhost".into(),
                "--ca".into(),
                p("ca.pem"),
                "--cert".into(),
                p("connector-bench-default.pem"),
                "--key".into(),
                p("connector-bench-default.key"),
                "--map".into(),
                map.to_string(),
                "--tunnels".into(),
                tunnels.to_string(),
            ],
        )?;
        Ok(vec![relay, connector])
    }

    /// Starts contender `name` and waits until one request goes through it end to end.
    pub fn start(&self, name: &str, tunnels: usize) -> Result<Contender, String> {
        let pki = self.work.join("pki");
        let p = |f: &str| pki.join(f).display().to_string();
        let backend = self.addr(Role::Corp, self.backend_port(name));
        let (dial, procs) = match name {
            "direct" => (format!("direct:{backend}"), vec![]),
            "sallyport" => {
                let procs = self.start_sallyport(
                    "sallyport",
                    self.sallyport_tunnel(),
                    self.addr(Role::Cloud, 11),
                    &format!("bench.virtual:80={backend}/tcp"),
                    tunnels,
                )?;
                (
                    format!("connect:{}/bench.virtual:80", self.addr(Role::Cloud, 11)),
                    procs,
                )
            }
            "sallyport-http" => {
                // The same product on its HTTP path: absolute-form requests to the proxy door,
                // routed per request to an `/http` system (no CONNECT tunnel).
                let procs = self.start_sallyport(
                    "sallyport-http",
                    self.addr(Role::Cloud, 12),
                    self.addr(Role::Cloud, 13),
                    &format!("bench.http:80={backend}/http"),
                    tunnels,
                )?;
                (
                    format!("proxy:{}/bench.http:80", self.addr(Role::Cloud, 13)),
                    procs,
                )
            }
            "rathole" => {
                let bin = self.rathole.as_ref().ok_or("rathole is not installed")?;
                let server = self.work.join("rathole-server.toml");
                let client = self.work.join("rathole-client.toml");
                std::fs::write(
                    &server,
                    format!(
                        "[server]\nbind_addr = \"{}\"\n[server.transport]\ntype = \"tls\"\n\
                     [server.transport.tls]\npkcs12 = \"{}\"\npkcs12_password = \"bench\"\n\
                     [server.services.bench]\ntoken = \"bench-token\"\nbind_addr = \"{}\"\n",
                        self.addr(Role::Cloud, 20),
                        p("rathole-identity.pfx"),
                        self.addr(Role::Cloud, 21)
                    ),
                )
                .map_err(|e| e.to_string())?;
                std::fs::write(&client, format!(
                    "[client]\nremote_addr = \"{}\"\n[client.transport]\ntype = \"tls\"\n\
                     [client.transport.tls]\ntrusted_root = \"{}\"\nhostname = \"localhost\"\n\
                     [client.services.bench]\ntoken = \"bench-token\"\nlocal_addr = \"{backend}\"\n",
                    self.addr(Role::Cloud, 20), p("ca.pem")))
                    .map_err(|e| e.to_string())?;
                let s = self.spawn(
                    "rathole-server",
                    Role::Cloud,
                    bin,
                    &["--server".into(), server.display().to_string()],
                )?;
                std::thread::sleep(Duration::from_millis(200));
                let c = self.spawn(
                    "rathole-client",
                    Role::Dmz,
                    bin,
                    &["--client".into(), client.display().to_string()],
                )?;
                (format!("direct:{}", self.addr(Role::Cloud, 21)), vec![s, c])
            }
            "h2-baseline" => {
                let relay = self.spawn(
                    "h2-relay",
                    Role::Cloud,
                    &self.h2tunnel,
                    &[
                        "relay".into(),
                        "--ca".into(),
                        p("ca.pem"),
                        "--cert".into(),
                        p("relay.pem"),
                        "--key".into(),
                        p("relay.key"),
                        "--tunnel-listen".into(),
                        self.addr(Role::Cloud, 30),
                        "--visitor-listen".into(),
                        self.addr(Role::Cloud, 31),
                    ],
                )?;
                std::thread::sleep(Duration::from_millis(200));
                let connector = self.spawn(
                    "h2-connector",
                    Role::Dmz,
                    &self.h2tunnel,
                    &[
                        "connector".into(),
                        "--relay".into(),
                        self.addr(Role::Cloud, 30),
                        "--ca".into(),
                        p("ca.pem"),
                        "--cert".into(),
                        p("connector-bench-default.pem"),
                        "--key".into(),
                        p("connector-bench-default.key"),
                        "--backend".into(),
                        backend,
                    ],
                )?;
                (
                    format!("direct:{}", self.addr(Role::Cloud, 31)),
                    vec![relay, connector],
                )
            }
            other => return Err(format!("unknown contender '{other}'")),
        };
        let client = if name == "direct" {
            self.place.direct_from
        } else {
            Role::Cloud
        };
        let mut c = Contender {
            name: name.to_string(),
            dial,
            client,
            procs,
        };
        // Ready when one request goes through end to end.
        let t0 = Instant::now();
        loop {
            match self.loadgen(
                c.client,
                &[
                    "connect".into(),
                    "--dial".into(),
                    c.dial.clone(),
                    "--count".into(),
                    "1".into(),
                ],
                Duration::from_secs(3),
            ) {
                Ok(_) => return Ok(c),
                Err(e) if t0.elapsed() > Duration::from_secs(20) => {
                    c.stop();
                    return Err(format!("{name} did not carry a request within 20 s: {e}"));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }
}
