//! The load generator and the benchmark backend. Every subcommand prints one JSON object on
//! stdout; `bench-run` collects them.
//!
//! * `backend --listen A [--listen B …]` — HTTP/1.1 keep-alive server: `GET /bytes/N` (N bytes)
//!   and `GET /small` (1 KiB).
//! * `bulk --dial D --bytes B --streams S` — downloads B bytes split over S connections.
//! * `closed --dial D --conns C --seconds T` — closed loop: C connections each issue `GET
//!   /small` back to back for T seconds; throughput plus service-time distribution.
//! * `open --dial D --rate R --seconds T --conns C` — open loop: requests are scheduled at R per
//!   second regardless of completions and served by a pool of C connections; latency counts
//!   from the scheduled time whenever the request had to wait for a busy pool (no coordinated
//!   omission).
//! * `connect --dial D --count N` — N times in sequence: dial, one `GET /small`, close.
//! * `idle --dial D --count N --parallel P` — opens N connections (one `GET /small` each, so
//!   every hop is established), prints the result, holds them until stdin closes.
//!
//! Every subcommand takes `--timeout SECONDS`, a wall-clock cap.

use sallyport_bench::args::Args;
use sallyport_bench::dialer::Dialer;
use sallyport_bench::http1::{self, Client};
use sallyport_bench::procstat;
use sallyport_bench::stats::{self, Latency};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Longest a single connection attempt (dial + first request) may take in `connect` and `idle`.
const PER_CONNECTION_CAP: Duration = Duration::from_secs(5);

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = argv.split_first() else {
        eprintln!("usage: loadgen backend|bulk|closed|open|connect|idle --flags…");
        std::process::exit(2);
    };
    let result = Args::parse(rest).and_then(|a| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let cap = Duration::from_secs_f64(a.num("timeout", 120.0)?);
        rt.block_on(async {
            let work = async {
                match cmd.as_str() {
                    "backend" => backend(&a).await,
                    "bulk" => bulk(&a).await,
                    "closed" => closed(&a).await,
                    "open" => open(&a).await,
                    "connect" => connect(&a).await,
                    "idle" => idle(&a).await,
                    other => Err(format!("unknown subcommand '{other}'")),
                }
            };
            if cmd == "backend" {
                return work.await;
            }
            match tokio::time::timeout(cap, work).await {
                Ok(r) => r,
                Err(_) => Err(format!("{cmd}: wall-clock cap of {cap:?} reached")),
            }
        })
    });
    match result {
        Ok(mut v) => {
            v["loadgen_cpu_s"] = json!(procstat::self_cpu_seconds());
            println!("{v}");
        }
        Err(e) => {
            println!("{}", json!({ "error": e }));
            eprintln!("loadgen {cmd}: {e}");
            std::process::exit(1);
        }
    }
}

fn dialer(a: &Args) -> Result<Arc<Dialer>, String> {
    Ok(Arc::new(Dialer::parse(a.req("dial")?)?))
}

async fn backend(a: &Args) -> Result<Value, String> {
    let mut tasks = Vec::new();
    for addr in a.all("listen") {
        let l = TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("backend listen {addr}: {e}"))?;
        println!("LISTENING {}", l.local_addr().map_err(|e| e.to_string())?);
        tasks.push(tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((s, _)) => {
                        tokio::spawn(async move {
                            let _ = http1::serve(s).await;
                        });
                    }
                    Err(e) => {
                        eprintln!("backend accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    if tasks.is_empty() {
        return Err("backend needs at least one --listen".into());
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(json!({}))
}

async fn bulk(a: &Args) -> Result<Value, String> {
    let d = dialer(a)?;
    let bytes: u64 = a.num("bytes", 1 << 30)?;
    let streams: u64 = a.num("streams", 1)?;
    let per = bytes / streams.max(1);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let s = d.dial().await.map_err(|e| format!("dial: {e}"))?;
            let got = Client::for_dialer(s, &d, 256 << 10)
                .get(&format!("/bytes/{per}"))
                .await
                .map_err(|e| format!("download: {e}"))?;
            Ok::<u64, String>(got)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.map_err(|e| e.to_string())??;
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(json!({ "bytes": total, "seconds": secs, "gbit_per_s": total as f64 * 8.0 / secs / 1e9 }))
}

async fn closed(a: &Args) -> Result<Value, String> {
    let d = dialer(a)?;
    let conns: usize = a.num("conns", 16)?;
    let run_for = Duration::from_secs_f64(a.num("seconds", 3.0)?);
    let hist = Arc::new(Mutex::new(stats::histogram()));
    let errors = Arc::new(AtomicU64::new(0));
    // Connect everything first so connection setup is not part of the rate.
    let mut clients = Vec::new();
    for _ in 0..conns {
        clients.push(Client::for_dialer(
            d.dial().await.map_err(|e| format!("dial: {e}"))?,
            &d,
            16 << 10,
        ));
    }
    let t0 = Instant::now();
    let deadline = t0 + run_for;
    let mut tasks = Vec::new();
    for mut c in clients {
        let (hist, errors) = (hist.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut local = stats::histogram();
            while Instant::now() < deadline {
                let s = Instant::now();
                match c.get("/small").await {
                    Ok(_) => {
                        let _ = local.record(s.elapsed().as_nanos() as u64);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            if let Ok(mut h) = hist.lock() {
                let _ = h.add(&local);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let h = hist.lock().map_err(|_| "histogram lock".to_string())?;
    Ok(json!({
        "requests": h.len(), "seconds": secs, "rps": h.len() as f64 / secs,
        "errors": errors.load(Ordering::Relaxed), "latency": Latency::from_histogram(&h),
    }))
}

async fn open(a: &Args) -> Result<Value, String> {
    let d = dialer(a)?;
    let rate: f64 = a.num("rate", 1000.0)?;
    let secs: f64 = a.num("seconds", 3.0)?;
    let conns: usize = a.num("conns", 64)?;
    let total = (rate * secs) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut clients = Vec::new();
    for _ in 0..conns {
        clients.push(Client::for_dialer(
            d.dial().await.map_err(|e| format!("dial: {e}"))?,
            &d,
            16 << 10,
        ));
    }
    let next = Arc::new(AtomicU64::new(0));
    let hist = Arc::new(Mutex::new(stats::histogram()));
    let errors = Arc::new(AtomicU64::new(0));
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::new();
    for mut c in clients {
        let (next, hist, errors) = (next.clone(), hist.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut local = stats::histogram();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let intended = start + interval.mul_f64(i as f64);
                let free_at = tokio::time::Instant::now();
                // A worker that was free before the scheduled time waits for it and measures
                // from the actual send (the timer's own lateness is the harness's, not the
                // tunnel's); one that was still busy measures from the scheduled time, so a
                // stall counts against every request it delayed.
                let reference = if free_at > intended {
                    intended
                } else {
                    tokio::time::sleep_until(intended).await;
                    tokio::time::Instant::now()
                };
                match c.get("/small").await {
                    Ok(_) => {
                        let _ = local.record(reference.elapsed().as_nanos() as u64);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            if let Ok(mut h) = hist.lock() {
                let _ = h.add(&local);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let h = hist.lock().map_err(|_| "histogram lock".to_string())?;
    Ok(json!({
        "target_rps": rate, "requests": h.len(), "seconds": elapsed,
        "achieved_rps": h.len() as f64 / elapsed, "errors": errors.load(Ordering::Relaxed),
        "latency": Latency::from_histogram(&h),
    }))
}

async fn connect(a: &Args) -> Result<Value, String> {
    let d = dialer(a)?;
    let count: u64 = a.num("count", 200)?;
    let mut h = stats::histogram();
    let mut errors = 0u64;
    for _ in 0..count {
        let t0 = Instant::now();
        let attempt = async {
            Client::for_dialer(d.dial().await?, &d, 16 << 10)
                .get("/small")
                .await
        };
        let ok = matches!(
            tokio::time::timeout(PER_CONNECTION_CAP, attempt).await,
            Ok(Ok(_))
        );
        if ok {
            let _ = h.record(t0.elapsed().as_nanos() as u64);
        } else {
            errors += 1;
        }
    }
    if h.is_empty() {
        return Err(format!("all {count} connections failed"));
    }
    Ok(json!({ "count": h.len(), "errors": errors, "latency": Latency::from_histogram(&h) }))
}

async fn idle(a: &Args) -> Result<Value, String> {
    let d = dialer(a)?;
    let count: usize = a.num("count", 10_000)?;
    let parallel: usize = a.num("parallel", 32)?;
    let next = Arc::new(AtomicU64::new(0));
    let held = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let failed = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (d, next, held, failed, first_error) = (
            d.clone(),
            next.clone(),
            held.clone(),
            failed.clone(),
            first_error.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count as u64 {
                // A tunnel past a resource limit may accept and then never answer: bound
                // each attempt so the count of what did open is still reported.
                let attempt = async {
                    let mut c = Client::for_dialer(d.dial().await?, &d, 4096);
                    c.get("/small").await.map(|_| c)
                };
                let opened = match tokio::time::timeout(PER_CONNECTION_CAP, attempt).await {
                    Ok(r) => r,
                    Err(_) => Err(std::io::Error::other("no response within 5 s")),
                };
                match opened {
                    Ok(c) => {
                        if let Ok(mut h) = held.lock() {
                            h.push(c);
                        }
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut f) = first_error.lock() {
                            f.get_or_insert_with(|| e.to_string());
                        }
                        // Past a resource limit every further attempt fails too: stop early.
                        if failed.load(Ordering::Relaxed) > 200 {
                            break;
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let opened = held.lock().map(|h| h.len()).unwrap_or(0);
    let report = json!({
        "requested": count, "opened": opened, "failed": failed.load(Ordering::Relaxed),
        "first_error": first_error.lock().ok().and_then(|f| f.clone()),
        "seconds": t0.elapsed().as_secs_f64(),
    });
    println!("{report}");
    // Hold the connections until the driver has read the memory figures.
    let mut stdin = tokio::io::stdin();
    let mut sink = [0u8; 64];
    while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
    drop(held);
    Ok(json!({ "released": opened }))
}
