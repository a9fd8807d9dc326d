//! `make bench-quick`: the first end-to-end figures. Bulk throughput (1 GiB over one stream and
//! over 8) and the small-request rate, through relay + connector (mTLS tunnel, loopback) and
//! direct to the same backend, in one run; prints the ratio tunnel/direct and the CPU seconds
//! per GiB of the whole process (relay, connector, backend and client all live in it, so the
//! tunnel's own cost is the difference between the two rows).
//!
//! Method: release build; each workload runs direct first, then through the tunnel, then both
//! again, and the better of the two runs of each is reported (this machine is shared and noisy).
//! CPU time comes from /proc/self/stat (utime + stime).
//!
//! Connection latency: SOCKS5 connect + 64-byte echo, one connection at a time, through the
//! relay's SOCKS5 door (method 0x00 for the stack's trusted tenant, the same with greeting and
//! request pipelined, and method 0x80 with a JWT, ES256, reused like an application does: verified once, then
//! answered from the relay's verified-token cache) to the
//! TCP echo backend, and direct (TCP connect and 64-byte echo to the same backend). The kinds
//! take turns in rounds so drift on the shared machine hits them alike; p50/p99/p99.9 from an
//! HDR histogram (µs resolution). A bare relay + connector chain (`floor.rs`: blocking
//! threads, no TLS, no HTTP/2) makes the same socket hops, so the machine's own price for the
//! topology is measured in the same run. `cargo bench --bench quick -- latency` runs only this part;
//! `BENCH_IO=epoll` (or `uring`) picks the I/O backend of relay and connector.

mod floor;

use hdrhistogram::Histogram;
use sallyport::demo::socks::{self, SocksAuth};
use sallyport::demo::{self, client, StackOptions};
use sallyport::io::runtime::IoMode;
use sallyport::proto::socks5::Address;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const GIB: u64 = 1 << 30;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / clock_ticks()
}

/// Clock ticks per second, asked once (`getconf` is a process spawn).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(ask_clock_ticks)
}

fn ask_clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[derive(Clone, Copy)]
enum Path {
    Direct(SocketAddr),
    Tunnel(SocketAddr),
}

impl Path {
    fn request(&self, path: &str) -> (SocketAddr, String) {
        match self {
            Path::Direct(a) => (
                *a,
                format!("GET {path} HTTP/1.1\r\nhost: erp.virtual\r\n\r\n"),
            ),
            Path::Tunnel(p) => (
                *p,
                format!("GET http://erp.virtual{path} HTTP/1.1\r\nhost: erp.virtual\r\n\r\n"),
            ),
        }
    }
}

/// Downloads `bytes` over `streams` parallel connections; returns (seconds, cpu seconds).
fn bulk(path: Path, bytes: u64, streams: u64) -> (f64, f64) {
    let per = bytes / streams;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let handles: Vec<_> = (0..streams)
        .map(|_| {
            std::thread::spawn(move || {
                let (addr, req) = path.request(&format!("/bytes/{per}"));
                let mut s = TcpStream::connect(addr).expect("connect");
                s.write_all(req.as_bytes()).expect("send");
                let mut buf = vec![0u8; 1 << 20];
                let mut total = 0u64;
                let mut head_done = false;
                let mut head = Vec::new();
                loop {
                    let n = s.read(&mut buf).expect("read");
                    if n == 0 {
                        break;
                    }
                    if !head_done {
                        head.extend_from_slice(&buf[..n]);
                        if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                            head_done = true;
                            total += (head.len() - p - 4) as u64;
                        }
                    } else {
                        total += n as u64;
                    }
                    if head_done && total >= per {
                        break;
                    }
                }
                assert_eq!(total, per, "short body");
            })
        })
        .collect();
    for h in handles {
        h.join().expect("bulk thread");
    }
    (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0)
}

/// Small GETs on `conns` keep-alive connections, `per` each; returns requests per second.
fn small(path: Path, conns: usize, per: usize) -> f64 {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|_| {
            std::thread::spawn(move || {
                let (addr, req) = path.request("/small");
                let mut s = TcpStream::connect(addr).expect("connect");
                s.set_nodelay(true).ok();
                s.set_read_timeout(Some(Duration::from_secs(30))).ok();
                for _ in 0..per {
                    let (status, _) = client::exchange(&mut s, &req, &[]).expect("small request");
                    assert_eq!(status, 200);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("small thread");
    }
    (conns * per) as f64 / t0.elapsed().as_secs_f64()
}

/// How one latency sample connects to the echo backend.
#[derive(Clone, Copy)]
enum Dial<'a> {
    /// TCP straight to the backend.
    Direct(SocketAddr),
    /// Through the relay's SOCKS5 door to `ldap.virtual:389`.
    Socks(SocketAddr, SocksAuth<'a>),
    /// Method 0x00 with greeting and request in one write (one round trip fewer; for the
    /// breakdown, few clients do it).
    SocksPipelined(SocketAddr),
}

/// Greeting (0x00 only) and CONNECT in one write, then the method choice and the reply.
fn socks_pipelined(door: SocketAddr, target: &Address) -> Result<TcpStream, String> {
    use sallyport::proto::socks5::client as wire;
    let mut sock = TcpStream::connect(door).map_err(|e| format!("connect: {e}"))?;
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut out = bytes::BytesMut::with_capacity(64);
    wire::write_greeting(&[0x00], &mut out).map_err(|e| e.to_string())?;
    wire::write_connect(target, 389, &mut out).map_err(|e| e.to_string())?;
    sock.write_all(&out).map_err(|e| format!("send: {e}"))?;
    let mut choice = [0u8; 2];
    sock.read_exact(&mut choice)
        .map_err(|e| format!("method choice: {e}"))?;
    // The reply to a domain-name request binds 0.0.0.0:0 here: 10 bytes; parse to be sure.
    let mut reply = Vec::with_capacity(10);
    let mut byte = [0u8; 1];
    loop {
        if let Some((msg, _)) = wire::parse_reply(&reply).map_err(|e| e.to_string())? {
            if choice != [5, 0] || msg.code != 0 {
                return Err(format!(
                    "refused: choice {choice:?}, reply {:#04x}",
                    msg.code
                ));
            }
            return Ok(sock);
        }
        sock.read_exact(&mut byte)
            .map_err(|e| format!("reply: {e}"))?;
        reply.push(byte[0]);
    }
}

const ECHO_BYTES: usize = 64;

/// One connection: connect (and SOCKS5 handshake), send 64 bytes, read them back; returns the
/// time until the stream was open (TCP connected, or the SOCKS5 reply read) and the total.
/// The connection is closed after the clock stops.
fn one_echo(dial: Dial<'_>, target: &Address) -> Result<(Duration, Duration), String> {
    let payload = [0x5au8; ECHO_BYTES];
    let t0 = Instant::now();
    let mut sock = match dial {
        Dial::Direct(addr) => {
            let s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
            s.set_nodelay(true).map_err(|e| e.to_string())?;
            s
        }
        Dial::Socks(door, auth) => {
            socks::open(door, auth, target, 389).map_err(|e| e.to_string())?
        }
        Dial::SocksPipelined(door) => socks_pipelined(door, target)?,
    };
    let opened = t0.elapsed();
    sock.write_all(&payload).map_err(|e| format!("send: {e}"))?;
    let mut back = [0u8; ECHO_BYTES];
    sock.read_exact(&mut back)
        .map_err(|e| format!("echo: {e}"))?;
    let elapsed = t0.elapsed();
    if back != payload {
        return Err("echo differs".into());
    }
    Ok((opened, elapsed))
}

/// Latency histograms of one kind of connection: until open, and in all.
struct Latency {
    open: Histogram<u64>,
    total: Histogram<u64>,
    /// Whole-process CPU seconds spent while this kind ran.
    cpu: f64,
}

/// Latency histograms of `kinds`, `rounds` × `per_round` sequential connections each, taking
/// turns per round; stops early (and says so) after `budget`.
fn echo_latency(
    kinds: &[(&str, Dial<'_>)],
    rounds: usize,
    per_round: usize,
    budget: Duration,
) -> Vec<Latency> {
    let target = Address::Domain("ldap.virtual".into());
    let new_hist = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let mut hists: Vec<Latency> = kinds
        .iter()
        .map(|_| Latency {
            open: new_hist(),
            total: new_hist(),
            cpu: 0.0,
        })
        .collect();
    let start = Instant::now();
    'rounds: for _ in 0..rounds {
        for ((name, dial), hist) in kinds.iter().zip(hists.iter_mut()) {
            let cpu0 = cpu_seconds();
            for _ in 0..per_round {
                let (open, total) =
                    one_echo(*dial, &target).unwrap_or_else(|e| panic!("{name}: {e}"));
                let us = |d: Duration| (d.as_micros() as u64).max(1);
                hist.open.saturating_record(us(open));
                hist.total.saturating_record(us(total));
            }
            hist.cpu += cpu_seconds() - cpu0;
            if start.elapsed() > budget {
                eprintln!("connection latency: time budget {budget:?} reached, stopping early");
                break 'rounds;
            }
        }
    }
    hists
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn print_latency(kinds: &[(&str, Dial<'_>)], hists: &[Latency]) {
    println!(
        "\nSOCKS5 connect + {ECHO_BYTES}-byte echo, sequential connections (ms)\n\n\
         {:<34} {:>6} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10} {:>9}",
        "path", "n", "p50", "p99", "p99.9", "added p50", "open p50", "echo p50", "cpu/conn"
    );
    let direct_p50 = hists.first().map_or(0, |h| h.total.value_at_quantile(0.5));
    for ((name, _), h) in kinds.iter().zip(hists) {
        let p50 = h.total.value_at_quantile(0.5);
        let open = h.open.value_at_quantile(0.5);
        println!(
            "{:<34} {:>6} {:>8.3} {:>8.3} {:>8.3} {:>+10.3} {:>10.3} {:>10.3} {:>9.3}",
            name,
            h.total.len(),
            ms(p50),
            ms(h.total.value_at_quantile(0.99)),
            ms(h.total.value_at_quantile(0.999)),
            ms(p50) - ms(direct_p50),
            ms(open),
            ms(p50.saturating_sub(open)),
            1000.0 * h.cpu / h.total.len().max(1) as f64
        );
    }
    println!(
        "\nopen = until the stream is usable (TCP connect; SOCKS5: connect, greeting, [auth,] \
         request, reply); echo = the rest (p50 - open p50); cpu/conn = whole-process CPU ms \
         per connection (client, relay, connector and backend together; 10 ms ticks, so \
         indicative). floor = the same socket hops through a bare relay + connector chain \
         (bench/floor.rs: blocking threads, no TLS, no HTTP/2): what the machine charges for \
         the topology; sallyport's own cost is its added p50 minus the floor's."
    );
}

fn best_of_two<T: PartialOrd + Copy>(a: T, b: T, higher_is_better: bool) -> T {
    match (a > b, higher_is_better) {
        (true, true) | (false, false) => a,
        _ => b,
    }
}

fn main() {
    // `cargo bench` passes --bench. Without it (`cargo test --all-targets`) run a small smoke
    // pass that exercises the harness, so the test run stays short.
    let full = std::env::args().any(|a| a == "--bench");
    // BENCH_IO=epoll|uring|auto chooses the relay's and connector's I/O backend.
    let io = match std::env::var("BENCH_IO").as_deref() {
        Ok("epoll") => IoMode::Epoll,
        Ok("uring") => IoMode::Uring,
        _ => IoMode::Auto,
    };
    println!("I/O backend: {io:?} (BENCH_IO=epoll|uring|auto)");

    // BENCH_TUNNELS and BENCH_RELAY_THREADS (0: one per core) for the breakdown.
    let env_num = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let defaults = StackOptions::default();
    let opts = StackOptions {
        io,
        tunnels: env_num("BENCH_TUNNELS", defaults.tunnels),
        relay_threads: env_num("BENCH_RELAY_THREADS", defaults.relay_threads),
        ..defaults
    };
    println!(
        "tunnels: {}, relay threads: {} (0 = one per core)",
        opts.tunnels, opts.relay_threads
    );
    let stack = demo::start(&opts).expect("demo stack");
    let token = stack.token().expect("demo token");
    const _: () = assert!(floor::ECHO == ECHO_BYTES);
    let floor_door = floor::start(stack.echo.addr).expect("floor chain");
    let kinds = [
        ("direct (TCP connect + echo)", Dial::Direct(stack.echo.addr)),
        (
            "floor: bare relay+connector chain",
            Dial::Socks(floor_door, SocksAuth::Nothing),
        ),
        (
            "sallyport SOCKS5 0x00 (trusted)",
            Dial::Socks(stack.socks, SocksAuth::Nothing),
        ),
        (
            "sallyport SOCKS5 0x00, pipelined",
            Dial::SocksPipelined(stack.socks),
        ),
        (
            "sallyport SOCKS5 0x80 (JWT ES256)",
            Dial::Socks(
                stack.socks,
                SocksAuth::Jwt {
                    token: &token,
                    location: None,
                },
            ),
        ),
    ];
    if !full {
        let direct = Path::Direct(stack.http.addr);
        let tunnel = Path::Tunnel(stack.proxy);
        bulk(direct, 4 << 20, 2);
        bulk(tunnel, 4 << 20, 2);
        let rate = small(tunnel, 2, 50);
        let hists = echo_latency(&kinds, 1, 20, Duration::from_secs(30));
        print_latency(&kinds, &hists);
        println!("bench-quick smoke: ok ({rate:.0} req/s through the tunnel; `make bench-quick` for figures)");
        return;
    }
    // `cargo bench --bench quick -- latency`: the connection-latency part only.
    if !std::env::args().any(|a| a == "latency") {
        throughput(&stack);
    }
    // Warm-up, then 10 rounds of 200 connections per kind: 2 000 each, bounded at 120 s.
    echo_latency(&kinds, 1, 100, Duration::from_secs(30));
    let hists = echo_latency(&kinds, 10, 200, Duration::from_secs(120));
    print_latency(&kinds, &hists);
    println!(
        "\nadded p50 = p50 - direct p50. The SOCKS5 rows include the greeting and request round \
         trips (0x80: one more, plus the relay's JWT verification), a new stream through the tunnel \
         and the connector's TCP connect to the backend."
    );
}

/// Bulk and small-request figures, tunnel and direct.
fn throughput(stack: &demo::Stack) {
    let direct = Path::Direct(stack.http.addr);
    let tunnel = Path::Tunnel(stack.proxy);
    // Warm-up: TLS sessions, pools, page cache of nothing in particular.
    bulk(tunnel, 64 << 20, 1);
    bulk(direct, 64 << 20, 1);
    println!("\nsallyport bench-quick (loopback, 2 tunnels, mTLS 1.3; whole-process CPU)\n");
    println!(
        "{:<26} {:>12} {:>12} {:>8} {:>14} {:>14}",
        "workload", "direct", "tunnel", "ratio", "cpu-s/GiB dir", "cpu-s/GiB tun"
    );
    for streams in [1u64, 8] {
        let runs: Vec<((f64, f64), (f64, f64))> = (0..2)
            .map(|_| (bulk(direct, GIB, streams), bulk(tunnel, GIB, streams)))
            .collect();
        let d = best_of_two(runs[0].0, runs[1].0, false);
        let t = best_of_two(runs[0].1, runs[1].1, false);
        let gbps = |secs: f64| 8.0 * GIB as f64 / secs / 1e9;
        println!(
            "{:<26} {:>9.2} Gb/s {:>7.2} Gb/s {:>8.2} {:>14.2} {:>14.2}",
            format!("bulk 1 GiB, {streams} stream(s)"),
            gbps(d.0),
            gbps(t.0),
            gbps(t.0) / gbps(d.0),
            d.1,
            t.1
        );
    }
    let (conns, per) = (8, 2000);
    let d = best_of_two(small(direct, conns, per), small(direct, conns, per), true);
    let t = best_of_two(small(tunnel, conns, per), small(tunnel, conns, per), true);
    println!(
        "{:<26} {:>8.0} req/s {:>6.0} req/s {:>8.2} {:>14} {:>14}",
        format!("small GET, {conns} conns"),
        d,
        t,
        t / d,
        "-",
        "-"
    );
    println!("\nratio = tunnel / direct; the direct path has no TLS and no proxy hop.");
}
