//! `make bench`: starts the backend and every contender (direct, sallyport, rathole with TLS,
//! the h2 + tokio-rustls baseline), runs each workload against each contender interleaved and
//! repeated, samples per-process CPU and RSS from /proc, and writes
//! `<out>/results.json`, `<out>/report.md` and SVG plots.
//!
//! Flags: `--sallyport BIN` (required), `--rathole BIN` (optional: the contender is skipped with
//! the reason from `--rathole-log` when the binary is missing), `--out DIR`, `--quick` (or
//! BENCH_QUICK=1), `--reps N`, `--host H` (listen/dial address, default 127.0.0.1),
//! `--cloud-host H` / `--corp-host H` (listen addresses of the relay side and of the backend,
//! default `--host`), `--dmz-host H` (the DMZ's address, recorded in the report only), `--netns-cloud NS` / `--netns-dmz NS` / `--netns-corp NS` (run that
//! side's processes with `ip netns exec NS`: relays, tunnel servers and the load generator in
//! the cloud, connectors and tunnel clients in the DMZ, the backend in corp),
//! `--direct-from cloud|dmz` (where the load generator runs for `direct`),
//! `--sallyport-tunnel-port P` (the sallyport relay's tunnel port), `--note TEXT`
//! (repeatable: a line for the report's notes),
//! `--port-base P` (the contenders' ports are P+1…P+40), `--only a,b` (contender subset),
//! `--render DIR` (only rewrite DIR/report.md and the plots from DIR/results.json),
//! `--idle-count N` and `--idle-tunnels N` (the idle-memory test's size and sallyport's
//! `--tunnels` for it).

mod contenders;

use contenders::Ctx;
use sallyport_bench::args::Args;
use sallyport_bench::placement::{Placement, Role};
use sallyport_bench::procstat;
use sallyport_bench::report;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GIB: f64 = (1u64 << 30) as f64;

/// The workloads, sized for the full run or the quick smoke run.
struct Plan {
    reps: usize,
    bulk_bytes: u64,
    closed_conns: Vec<usize>,
    closed_seconds: f64,
    open_rates: Vec<u64>,
    open_seconds: f64,
    open_conns: usize,
    connect_count: u64,
    idle_count: usize,
}

impl Plan {
    fn new(quick: bool, reps: Option<usize>) -> Plan {
        if quick {
            Plan {
                reps: reps.unwrap_or(2),
                bulk_bytes: 256 << 20,
                closed_conns: vec![1, 32],
                closed_seconds: 1.0,
                open_rates: vec![2000],
                open_seconds: 1.5,
                open_conns: 32,
                connect_count: 100,
                idle_count: 2000,
            }
        } else {
            Plan {
                reps: reps.unwrap_or(3),
                bulk_bytes: 1 << 30,
                closed_conns: vec![1, 16, 128],
                closed_seconds: 2.0,
                open_rates: vec![1000, 5000],
                open_seconds: 3.0,
                open_conns: 64,
                connect_count: 300,
                idle_count: 10_000,
            }
        }
    }

    fn with_idle_count(mut self, n: Option<usize>) -> Plan {
        if let Some(n) = n {
            self.idle_count = n;
        }
        self
    }

    /// `(workload id, loadgen arguments without --dial, wall-clock cap)`.
    fn workloads(&self) -> Vec<(String, Vec<String>, Duration)> {
        let mut w = Vec::new();
        for streams in [1u64, 8] {
            w.push((
                format!("bulk-{streams}"),
                vec![
                    "bulk".into(),
                    "--bytes".into(),
                    self.bulk_bytes.to_string(),
                    "--streams".into(),
                    streams.to_string(),
                ],
                Duration::from_secs(60),
            ));
        }
        for c in &self.closed_conns {
            w.push((
                format!("closed-c{c}"),
                vec![
                    "closed".into(),
                    "--conns".into(),
                    c.to_string(),
                    "--seconds".into(),
                    self.closed_seconds.to_string(),
                ],
                Duration::from_secs_f64(self.closed_seconds + 20.0),
            ));
        }
        for r in &self.open_rates {
            w.push((
                format!("open-r{r}"),
                vec![
                    "open".into(),
                    "--rate".into(),
                    r.to_string(),
                    "--seconds".into(),
                    self.open_seconds.to_string(),
                    "--conns".into(),
                    self.open_conns.to_string(),
                ],
                Duration::from_secs_f64(self.open_seconds + 20.0),
            ));
        }
        w.push((
            "connect".into(),
            vec![
                "connect".into(),
                "--count".into(),
                self.connect_count.to_string(),
            ],
            Duration::from_secs(60),
        ));
        w
    }
}

fn cpu_snapshot(pids: &[(String, u32)]) -> Vec<(String, Option<f64>)> {
    pids.iter()
        .map(|(r, p)| (r.clone(), procstat::cpu_seconds(*p)))
        .collect()
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench-run: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let a = Args::parse(&argv)?;
    if let Some(dir) = a.opt("render") {
        // Re-render report.md and the plots from an existing results.json.
        let dir = PathBuf::from(dir);
        let path = dir.join("results.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let results: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        report::write(&dir, &results)?;
        println!("{}", dir.join("report.md").display());
        return Ok(());
    }
    let quick = a.flag("quick") || std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let reps = a
        .opt("reps")
        .map(|r| r.parse::<usize>().map_err(|_| format!("--reps '{r}'")))
        .transpose()?;
    let plan =
        Plan::new(quick, reps).with_idle_count(a.opt("idle-count").and_then(|n| n.parse().ok()));
    let stamp = a.opt("stamp").map(str::to_string).unwrap_or_else(timestamp);
    let out = PathBuf::from(a.opt("out").unwrap_or("bench/results")).join(&stamp);
    let work = out.join("work");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let exe_dir = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let nofile = procstat::raise_nofile();
    let mut notes: Vec<String> = vec![format!(
        "RLIMIT_NOFILE raised to {nofile} (the hard limit here) for every process"
    )];

    if let Some(status) = a
        .opt("rathole-status")
        .and_then(|p| std::fs::read_to_string(p).ok())
    {
        notes.push(format!(
            "rathole 0.5.0 install (cached in bench/.cache): {}",
            status.trim()
        ));
    }
    let rathole_bin = a.opt("rathole").map(PathBuf::from).filter(|p| p.exists());
    if rathole_bin.is_none() {
        let why = a
            .opt("rathole-log")
            .and_then(|l| std::fs::read_to_string(l).ok())
            .map(|t| {
                t.lines()
                    .rev()
                    .take(8)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_else(|| "no --rathole binary given".into());
        if a.opt("only")
            .is_none_or(|o| o.split(',').any(|n| n == "rathole"))
        {
            notes.push(format!(
                "rathole skipped: binary missing; install log tail:\n{why}"
            ));
        }
    }
    notes.extend(a.all("note"));
    let place = Placement::from_args(&a)?;
    let ctx = Ctx {
        place,
        sallyport_tunnel_port: a
            .opt("sallyport-tunnel-port")
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| format!("--sallyport-tunnel-port '{p}': not a port number"))
            })
            .transpose()?,
        port_base: a.num("port-base", 21000)?,
        work: work.clone(),
        loadgen: exe_dir.join("loadgen"),
        h2tunnel: exe_dir.join("h2tunnel"),
        sallyport: PathBuf::from(a.req("sallyport")?),
        rathole: rathole_bin,
        idle_tunnels: a.num("idle-tunnels", 0)?,
    };
    pki(&ctx)?;

    let mut names: Vec<String> = match a.opt("only") {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => [
            "direct",
            "sallyport",
            "rathole",
            "h2-baseline",
            "sallyport-http",
        ]
        .map(String::from)
        .to_vec(),
    };
    if ctx.rathole.is_none() {
        names.retain(|n| n != "rathole");
    }
    let started = Instant::now();
    let mut backend = ctx.start_backend("")?;
    std::thread::sleep(Duration::from_millis(300));
    let mut contenders = Vec::new();
    for n in &names {
        match ctx.start(n, 2) {
            Ok(c) => contenders.push(c),
            Err(e) => {
                eprintln!("bench-run: {e}");
                notes.push(format!("{n} skipped: {e}"));
            }
        }
    }
    let mut samples: Vec<Value> = Vec::new();
    let workloads = plan.workloads();
    for rep in 0..plan.reps {
        for (wid, wargs, cap) in &workloads {
            // Rotate the order each repetition so no contender always runs first or last.
            let k = contenders.len().max(1);
            for i in 0..contenders.len() {
                let c = &contenders[(i + rep) % k];
                let mut pids = c.pids();
                pids.push(("backend".into(), backend.child.id()));
                let mut args = wargs.clone();
                args.extend(["--dial".into(), c.dial.clone()]);
                let before = cpu_snapshot(&pids);
                let machine0 = procstat::machine_busy_seconds();
                let t0 = Instant::now();
                let result = ctx.loadgen(c.client, &args, *cap);
                let wall = t0.elapsed().as_secs_f64();
                let after = cpu_snapshot(&pids);
                let machine1 = procstat::machine_busy_seconds();
                let mut cpu = serde_json::Map::new();
                for ((role, b), (_, a)) in before.iter().zip(after.iter()) {
                    if let (Some(b), Some(a)) = (b, a) {
                        cpu.insert(role.clone(), json!(a - b));
                    }
                }
                let (metrics, error) = match result {
                    Ok(v) => {
                        if let Some(l) = v.get("loadgen_cpu_s") {
                            cpu.insert("loadgen".into(), l.clone());
                        }
                        (v, Value::Null)
                    }
                    Err(e) => (Value::Null, json!(e)),
                };
                // CPU the rest of the machine used meanwhile (other users of the shared cores):
                // the noise indicator for this sample.
                let ours: f64 = cpu.values().filter_map(Value::as_f64).sum();
                let foreign = match (machine0, machine1) {
                    (Some(a), Some(b)) => json!(((b - a) - ours).max(0.0)),
                    _ => Value::Null,
                };
                eprintln!(
                    "[{:>5.0}s] rep {rep} {wid:<11} {:<14} {}",
                    started.elapsed().as_secs_f64(),
                    c.name,
                    summary_line(&metrics, &error)
                );
                samples.push(json!({
                    "workload": wid, "contender": c.name, "rep": rep, "wall_s": wall,
                    "metrics": metrics, "cpu_s": cpu, "error": error, "foreign_cpu_s": foreign,
                }));
            }
        }
    }
    for c in &mut contenders {
        c.stop();
    }
    let _ = backend.child.kill();
    let _ = backend.child.wait();

    // Idle memory: fresh processes per contender, so earlier workloads' allocator pools do
    // not hide (or inflate) what the idle connections cost.
    let idle_tunnels = if ctx.idle_tunnels > 0 {
        ctx.idle_tunnels
    } else {
        plan.idle_count.div_ceil(1000) + 1
    };
    notes.push(format!(
        "idle test: sallyport connector runs --tunnels {idle_tunnels} (1024 streams per tunnel: the relay's h2 MAX_CONCURRENT_STREAMS default, spread round-robin); the other workloads use --tunnels 2"
    ));
    let mut idle = Vec::new();
    // sallyport-http keeps no stream open between requests: an idle keep-alive connection to
    // the proxy door is not a tunnelled connection, so it has no row here.
    for n in names.iter().filter(|n| *n != "sallyport-http") {
        match idle_memory(&ctx, n, plan.idle_count, idle_tunnels) {
            Ok(v) => {
                eprintln!(
                    "[{:>5.0}s] idle {n:<12} {v}",
                    started.elapsed().as_secs_f64()
                );
                idle.push(v)
            }
            Err(e) => {
                eprintln!("bench-run: idle {n}: {e}");
                idle.push(json!({ "contender": n, "error": e }));
            }
        }
    }
    let results = json!({
        "timestamp": stamp, "quick": quick, "reps": plan.reps, "host": ctx.place.host(Role::Cloud),
        "testbed": ctx.place.describe(),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "bulk_bytes": plan.bulk_bytes, "idle_count": plan.idle_count,
        "contenders": contenders.iter().map(|c| json!({"name": c.name, "dial": c.dial, "from": c.client.name()})).collect::<Vec<_>>(),
        "notes": notes, "samples": samples, "idle": idle,
        "elapsed_s": started.elapsed().as_secs_f64(),
        "gib": GIB,
    });
    let path = out.join("results.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    report::write(&out, &results)?;
    println!("{}", out.join("report.md").display());
    Ok(())
}

fn summary_line(m: &Value, err: &Value) -> String {
    if !err.is_null() {
        return format!("ERROR {err}");
    }
    let f = |k: &str| m.get(k).and_then(Value::as_f64);
    let lat = |k: &str| {
        m.get("latency")
            .and_then(|l| l.get(k))
            .and_then(Value::as_f64)
    };
    if let Some(g) = f("gbit_per_s") {
        format!("{g:.2} Gbit/s")
    } else if let Some(r) = f("rps") {
        format!("{r:.0} req/s p99 {:.0} µs", lat("p99_us").unwrap_or(0.0))
    } else if let Some(r) = f("achieved_rps") {
        format!(
            "{r:.0} req/s p50 {:.0} µs p99 {:.0} µs",
            lat("p50_us").unwrap_or(0.0),
            lat("p99_us").unwrap_or(0.0)
        )
    } else {
        format!(
            "p50 {:.0} µs p99 {:.0} µs",
            lat("p50_us").unwrap_or(0.0),
            lat("p99_us").unwrap_or(0.0)
        )
    }
}

/// Opens `count` idle connections through a fresh instance of contender `name`; returns RSS
/// before and after for each of its processes (direct: the backend alone).
fn idle_memory(ctx: &Ctx, name: &str, count: usize, tunnels: usize) -> Result<Value, String> {
    let mut backend = ctx.start_backend(&format!("-idle-{name}"))?;
    std::thread::sleep(Duration::from_millis(300));
    let mut c = match ctx.start(name, tunnels) {
        Ok(c) => c,
        Err(e) => {
            let _ = backend.child.kill();
            let _ = backend.child.wait();
            return Err(e);
        }
    };
    let mut pids = c.pids();
    let measured: Vec<(String, u32)> = if pids.is_empty() {
        vec![("backend".into(), backend.child.id())]
    } else {
        pids.clone()
    };
    pids.push(("backend".into(), backend.child.id()));
    std::thread::sleep(Duration::from_millis(500));
    let rss = |p: &[(String, u32)]| {
        p.iter()
            .map(|(r, pid)| (r.clone(), procstat::rss_kib(*pid).unwrap_or(0)))
            .collect::<Vec<_>>()
    };
    let before = rss(&pids);
    let mut lg = ctx
        .place
        .command(c.client, &ctx.loadgen)
        .args([
            "idle",
            "--dial",
            &c.dial,
            "--count",
            &count.to_string(),
            "--parallel",
            "32",
            "--timeout",
            "120",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("loadgen idle: {e}"))?;
    let mut line = String::new();
    if let Some(out) = lg.stdout.as_mut() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let opened: Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|_| json!({"error": "loadgen idle printed no result", "opened": 0}));
    std::thread::sleep(Duration::from_secs(1));
    let after = rss(&pids);
    let lg_rss = procstat::rss_kib(lg.id()).unwrap_or(0);
    if let Some(mut stdin) = lg.stdin.take() {
        let _ = stdin.write_all(b"done\n");
    }
    let _ = lg.kill();
    let _ = lg.wait();
    c.stop();
    let _ = backend.child.kill();
    let _ = backend.child.wait();
    let n = opened.get("opened").and_then(Value::as_u64).unwrap_or(0);
    let sum = |v: &[(String, u64)]| {
        v.iter()
            .filter(|(r, _)| measured.iter().any(|(m, _)| m == r))
            .map(|(_, k)| *k)
            .sum::<u64>()
    };
    let delta = sum(&after) as f64 - sum(&before) as f64;
    Ok(json!({
        "contender": name, "tunnels": tunnels, "result": opened,
        "measured": measured.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
        "rss_before_kib": before.iter().map(|(r, k)| json!([r, k])).collect::<Vec<_>>(),
        "rss_after_kib": after.iter().map(|(r, k)| json!([r, k])).collect::<Vec<_>>(),
        "loadgen_rss_kib": lg_rss,
        "kib_per_conn": if n > 0 { delta / n as f64 } else { f64::NAN },
    }))
}

/// Certificates: sallyport's own PKI for sallyport and the h2 baseline; rathole gets the same
/// relay key pair as a PKCS#12 identity (openssl), since its TLS transport wants one.
fn pki(ctx: &Ctx) -> Result<(), String> {
    let dir = ctx.work.join("pki");
    let out = Command::new(&ctx.sallyport)
        .args(["pki", "--dir"])
        .arg(&dir)
        .args([
            "--relay-name",
            "localhost",
            "--relay-name",
            "127.0.0.1",
            "--connector",
            "bench:default",
            "--force",
        ])
        .output()
        .map_err(|e| format!("sallyport pki: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "sallyport pki: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if ctx.rathole.is_some() {
        let out = Command::new("openssl")
            .args(["pkcs12", "-export", "-out"])
            .arg(dir.join("rathole-identity.pfx"))
            .arg("-inkey")
            .arg(dir.join("relay.key"))
            .arg("-in")
            .arg(dir.join("relay.pem"))
            .arg("-certfile")
            .arg(dir.join("ca.pem"))
            .args(["-passout", "pass:bench"])
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "openssl pkcs12: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
