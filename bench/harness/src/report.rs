//! `report.md` and the SVG plots from `results.json` (hand-written SVG: no plotting crate).

use crate::stats::Spread;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

const COLORS: [&str; 5] = ["#555555", "#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
const ORDER: [&str; 5] = [
    "direct",
    "sallyport",
    "rathole",
    "h2-baseline",
    "sallyport-http",
];

/// The samples of one workload × contender.
fn samples<'a>(r: &'a Value, workload: &str, contender: &str) -> Vec<&'a Value> {
    r["samples"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|x| {
                    x["workload"] == workload && x["contender"] == contender && x["error"].is_null()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn spread(
    r: &Value,
    workload: &str,
    contender: &str,
    f: impl Fn(&Value) -> Option<f64>,
) -> Option<Spread> {
    let v: Vec<f64> = samples(r, workload, contender)
        .into_iter()
        .filter_map(f)
        .collect();
    Spread::of(&v)
}

fn metric(path: &'static [&'static str]) -> impl Fn(&Value) -> Option<f64> {
    move |s: &Value| {
        let mut v = &s["metrics"];
        for k in path {
            v = &v[*k];
        }
        v.as_f64()
    }
}

/// CPU seconds per GiB moved of the tunnel's own processes (everything but backend and loadgen).
fn tunnel_cpu_per_gib(gib: f64) -> impl Fn(&Value) -> Option<f64> {
    move |s: &Value| {
        let bytes = s["metrics"]["bytes"].as_f64()?;
        let cpu = s["cpu_s"].as_object()?;
        let own: f64 = cpu
            .iter()
            .filter(|(k, _)| *k != "backend" && *k != "loadgen")
            .filter_map(|(_, v)| v.as_f64())
            .sum();
        Some(own / (bytes / gib))
    }
}

fn role_cpu_per_gib(role: String, gib: f64) -> impl Fn(&Value) -> Option<f64> {
    move |s: &Value| {
        let bytes = s["metrics"]["bytes"].as_f64()?;
        Some(s["cpu_s"][role.as_str()].as_f64()? / (bytes / gib))
    }
}

fn contenders(r: &Value) -> Vec<String> {
    let present: Vec<String> = r["contenders"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut out: Vec<String> = ORDER
        .iter()
        .filter(|n| present.iter().any(|p| p == *n))
        .map(|n| n.to_string())
        .collect();
    out.extend(present.into_iter().filter(|p| !ORDER.contains(&p.as_str())));
    out
}

fn workloads(r: &Value, prefix: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for s in r["samples"].as_array().into_iter().flatten() {
        if let Some(w) = s["workload"].as_str() {
            if w.starts_with(prefix) && !seen.iter().any(|x| x == w) {
                seen.push(w.to_string());
            }
        }
    }
    seen
}

fn cell(s: Option<Spread>, digits: usize) -> String {
    match s {
        Some(s) if s.n > 1 => format!("{:.d$} [{:.d$}–{:.d$}]", s.median, s.min, s.max, d = digits),
        Some(s) => format!("{:.d$}", s.median, d = digits),
        None => "—".into(),
    }
}

fn ratio(a: Option<Spread>, b: Option<Spread>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b.median != 0.0 => Some(a.median / b.median),
        _ => None,
    }
}

fn fmt_ratio(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{v:.2}×"))
}

/// Writes `report.md`, `throughput.svg`, `requests.svg` and `latency-<workload>.svg` into `dir`.
pub fn write(dir: &Path, r: &Value) -> Result<(), String> {
    let gib = r["gib"].as_f64().unwrap_or((1u64 << 30) as f64);
    let names = contenders(r);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# sallyport end-to-end benchmark — {}\n",
        r["timestamp"].as_str().unwrap_or("?")
    );
    let _ =
        writeln!(
        md,
        "{} run, {} repetitions interleaved across contenders, {} cores shared by load generator, \
         backend and tunnel (nothing pinned). Cells: median [min–max] over repetitions. \
         Method and caveats: bench/README.md. Raw data: results.json.\n",
        if r["quick"].as_bool() == Some(true) { "**Quick (BENCH_QUICK=1)**" } else { "Full" },
        r["reps"],
        r["cores"]
    );
    testbed_header(&mut md, &r["testbed"]);
    for c in r["contenders"].as_array().into_iter().flatten() {
        let from = match c["from"].as_str() {
            Some(place) if r["testbed"].is_object() => format!(", load generator in {place}"),
            _ => String::new(),
        };
        let _ = writeln!(
            md,
            "* `{}` — dialer `{}`{from}",
            c["name"].as_str().unwrap_or("?"),
            c["dial"].as_str().unwrap_or("?")
        );
    }
    let _ = writeln!(md);

    // Goals.
    let has = |n: &str| names.iter().any(|x| x == n);
    let bulk = |w: &str, c: &str| spread(r, w, c, metric(&["gbit_per_s"]));
    let mut goals: Vec<(String, Option<f64>, String, Option<bool>)> = Vec::new();
    for w in ["bulk-1", "bulk-8"] {
        if has("rathole") {
            let x = ratio(bulk(w, "sallyport"), bulk(w, "rathole"));
            goals.push((
                format!("{w}: sallyport / rathole-TLS throughput"),
                x,
                "≥ 3".into(),
                x.map(|v| v >= 3.0),
            ));
        }
        let x = ratio(bulk(w, "sallyport"), bulk(w, "direct"));
        goals.push((
            format!("{w}: sallyport / direct throughput"),
            x,
            "≥ 0.4".into(),
            x.map(|v| v >= 0.4),
        ));
    }
    let closed = workloads(r, "closed-");
    if has("rathole") {
        for w in &closed {
            let x = ratio(
                spread(r, w, "sallyport", metric(&["rps"])),
                spread(r, w, "rathole", metric(&["rps"])),
            );
            goals.push((
                format!("{w}: sallyport / rathole request rate"),
                x,
                "≥ 1.5".into(),
                x.map(|v| v >= 1.5),
            ));
        }
    }
    let p50 = |c: &str| spread(r, "connect", c, metric(&["latency", "p50_us"]));
    let added = match (p50("sallyport"), p50("direct")) {
        (Some(s), Some(d)) => Some((s.median - d.median) / 1000.0),
        _ => None,
    };
    goals.push((
        "new connection: sallyport p50 − direct p50 (ms)".into(),
        added,
        "≤ 0.2".into(),
        added.map(|v| v <= 0.2),
    ));
    let idle_kib = |c: &str| {
        r["idle"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["contender"] == c)
            .and_then(|x| x["kib_per_conn"].as_f64())
    };
    let mem = idle_kib("sallyport");
    goals.push((
        "memory per idle tunnelled connection (KiB, relay + connector)".into(),
        mem,
        "≤ 8".into(),
        mem.map(|v| v <= 8.0),
    ));
    if has("h2-baseline") {
        for w in ["bulk-1", "bulk-8"] {
            let x = ratio(
                spread(r, w, "sallyport", tunnel_cpu_per_gib(gib)),
                spread(r, w, "h2-baseline", tunnel_cpu_per_gib(gib)),
            );
            goals.push((
                format!("{w}: sallyport / h2-baseline tunnel cpu-s per GiB"),
                x,
                "≤ 0.6".into(),
                x.map(|v| v <= 0.6),
            ));
        }
    }
    let _ = writeln!(md, "## Goals (ratios of medians from this one run)\n\n| Goal | Measured | Target | Met |\n|---|---|---|---|");
    for (g, x, t, ok) in &goals {
        let m = match ok {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "n/a",
        };
        let _ = writeln!(
            md,
            "| {g} | {} | {t} | {m} |",
            x.map_or("—".into(), |v| format!("{v:.3}"))
        );
    }

    // Bulk.
    let _ = writeln!(
        md,
        "\n## Bulk throughput (Gbit/s, {} MiB per run)\n",
        r["bulk_bytes"].as_f64().unwrap_or(0.0) / 1048576.0
    );
    let _ = writeln!(md, "| Contender | 1 stream | 8 streams |\n|---|---|---|");
    for c in &names {
        let _ = writeln!(
            md,
            "| {c} | {} | {} |",
            cell(bulk("bulk-1", c), 2),
            cell(bulk("bulk-8", c), 2)
        );
    }
    ratio_rows(&mut md, &names, &["bulk-1", "bulk-8"], |w, c| bulk(w, c));

    // CPU.
    let _ = writeln!(
        md,
        "\n## CPU seconds per GiB (bulk; whole-process utime+stime from /proc)\n"
    );
    let _ = writeln!(md, "| Contender | Workload | Tunnel total | Per process | Backend | Load generator |\n|---|---|---|---|---|---|");
    for c in &names {
        for w in ["bulk-1", "bulk-8"] {
            let roles: Vec<String> = samples(r, w, c)
                .first()
                .and_then(|s| s["cpu_s"].as_object())
                .map(|o| {
                    o.keys()
                        .filter(|k| *k != "backend" && *k != "loadgen")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let per: Vec<String> = roles
                .iter()
                .map(|role| {
                    format!(
                        "{role} {}",
                        cell(spread(r, w, c, role_cpu_per_gib(role.clone(), gib)), 3)
                    )
                })
                .collect();
            let _ = writeln!(
                md,
                "| {c} | {w} | {} | {} | {} | {} |",
                if roles.is_empty() {
                    "0 (no tunnel)".into()
                } else {
                    cell(spread(r, w, c, tunnel_cpu_per_gib(gib)), 3)
                },
                if per.is_empty() {
                    "—".into()
                } else {
                    per.join("; ")
                },
                cell(spread(r, w, c, role_cpu_per_gib("backend".into(), gib)), 3),
                cell(spread(r, w, c, role_cpu_per_gib("loadgen".into(), gib)), 3),
            );
        }
    }

    // Closed loop.
    let _ = writeln!(
        md,
        "\n## Small requests, closed loop (1 KiB GET, requests/s; keep-alive connections)\n"
    );
    let _ = write!(md, "| Contender |");
    for w in &closed {
        let _ = write!(md, " {w} |");
    }
    let _ = writeln!(md, "\n|---|{}", "---|".repeat(closed.len()));
    for c in &names {
        let _ = write!(md, "| {c} |");
        for w in &closed {
            let _ = write!(md, " {} |", cell(spread(r, w, c, metric(&["rps"])), 0));
        }
        let _ = writeln!(md);
    }
    let closed_refs: Vec<&str> = closed.iter().map(String::as_str).collect();
    ratio_rows(&mut md, &names, &closed_refs, |w, c| {
        spread(r, w, c, metric(&["rps"]))
    });

    // Open loop.
    for w in workloads(r, "open-") {
        let _ = writeln!(
            md,
            "\n## Latency at a fixed rate, open loop: {w} (µs, from the scheduled send time)\n"
        );
        let _ = writeln!(md, "| Contender | achieved req/s | p50 | p99 | p99.9 | max | errors |\n|---|---|---|---|---|---|---|");
        for c in &names {
            let l = |k: &'static str| {
                spread(r, &w, c, move |s: &Value| {
                    s["metrics"]["latency"][k].as_f64()
                })
            };
            let errs: f64 = samples(r, &w, c)
                .iter()
                .filter_map(|s| s["metrics"]["errors"].as_f64())
                .sum();
            let _ = writeln!(
                md,
                "| {c} | {} | {} | {} | {} | {} | {errs} |",
                cell(spread(r, &w, c, metric(&["achieved_rps"])), 0),
                cell(l("p50_us"), 0),
                cell(l("p99_us"), 0),
                cell(l("p999_us"), 0),
                cell(l("max_us"), 0)
            );
        }
        let _ = writeln!(md, "\n![latency {w}](latency-{w}.svg)");
        write_file(
            dir,
            &format!("latency-{w}.svg"),
            &latency_svg(r, &w, &names),
        )?;
    }

    // New connections.
    let _ = writeln!(
        md,
        "\n## New-connection latency (dial + first 1 KiB GET + close, sequential; µs)\n"
    );
    let _ = writeln!(
        md,
        "| Contender | p50 | p99 | added p50 vs direct |\n|---|---|---|---|"
    );
    for c in &names {
        let add = match (p50(c), p50("direct")) {
            (Some(s), Some(d)) => format!("{:.0}", s.median - d.median),
            _ => "—".into(),
        };
        let _ = writeln!(
            md,
            "| {c} | {} | {} | {add} |",
            cell(p50(c), 0),
            cell(spread(r, "connect", c, metric(&["latency", "p99_us"])), 0)
        );
    }

    // Idle memory.
    let _ = writeln!(md, "\n## Resident memory with idle tunnelled connections\n");
    let _ = writeln!(md, "| Contender | opened / requested | per process (KiB before → after, per connection) | total RSS before → after (KiB) | KiB per connection | first error |\n|---|---|---|---|---|---|");
    for x in r["idle"].as_array().into_iter().flatten() {
        let name = x["contender"].as_str().unwrap_or("?");
        if let Some(e) = x["error"].as_str() {
            let _ = writeln!(md, "| {name} | — | — | — | — | {e} |");
            continue;
        }
        let measured: Vec<String> = x["measured"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let pick = |k: &str| -> u64 {
            x[k].as_array()
                .into_iter()
                .flatten()
                .filter(|p| measured.iter().any(|m| p[0] == m.as_str()))
                .filter_map(|p| p[1].as_u64())
                .sum()
        };
        let opened = x["result"]["opened"].as_f64().unwrap_or(0.0);
        let per_process: Vec<String> = measured
            .iter()
            .filter_map(|m| {
                let get = |k: &str| {
                    x[k].as_array()
                        .into_iter()
                        .flatten()
                        .find(|p| p[0] == m.as_str())
                        .and_then(|p| p[1].as_f64())
                };
                let (b, a) = (get("rss_before_kib")?, get("rss_after_kib")?);
                Some(format!(
                    "{m} {b:.0} → {a:.0} ({:.1}/conn)",
                    if opened > 0.0 {
                        (a - b) / opened
                    } else {
                        f64::NAN
                    }
                ))
            })
            .collect();
        let _ = writeln!(
            md,
            "| {name} | {} / {} | {} | {} → {} | {} | {} |",
            x["result"]["opened"],
            x["result"]["requested"],
            per_process.join("; "),
            pick("rss_before_kib"),
            pick("rss_after_kib"),
            x["kib_per_conn"]
                .as_f64()
                .map_or("—".into(), |v| format!("{v:.2}")),
            x["result"]["first_error"].as_str().unwrap_or("")
        );
    }

    // Plots and notes.
    write_file(
        dir,
        "throughput.svg",
        &bars_svg(
            r,
            &names,
            &["bulk-1", "bulk-8"],
            "Bulk throughput (Gbit/s)",
            |w, c| bulk(w, c),
        ),
    )?;
    write_file(
        dir,
        "requests.svg",
        &bars_svg(
            r,
            &names,
            &closed_refs,
            "Closed-loop 1 KiB GET (requests/s)",
            |w, c| spread(r, w, c, metric(&["rps"])),
        ),
    )?;
    let _ = writeln!(
        md,
        "\n![bulk throughput](throughput.svg)\n\n![closed-loop requests](requests.svg)\n"
    );
    let failures: Vec<String> = r["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| !s["error"].is_null())
        .map(|s| {
            format!(
                "{} {} rep {}: {}",
                s["workload"].as_str().unwrap_or("?"),
                s["contender"].as_str().unwrap_or("?"),
                s["rep"],
                s["error"]
            )
        })
        .collect();
    let _ = writeln!(md, "## Notes\n");
    for n in r["notes"].as_array().into_iter().flatten() {
        let _ = writeln!(md, "* {}", n.as_str().unwrap_or("").replace('\n', "\n  "));
    }
    for f in &failures {
        let _ = writeln!(md, "* failed run: {f}");
    }
    let foreign: Vec<f64> = r["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some(s["foreign_cpu_s"].as_f64()? / s["wall_s"].as_f64()?))
        .collect();
    if let Some(f) = Spread::of(&foreign) {
        let _ = writeln!(
            md,
            "* CPU used by other processes on the machine while a workload ran (cores busy outside \
             this benchmark): median {:.2}, min {:.2}, max {:.2} — the noise behind the spreads",
            f.median, f.min, f.max
        );
    }
    let _ = writeln!(
        md,
        "* whole run took {:.0} s",
        r["elapsed_s"].as_f64().unwrap_or(0.0)
    );
    write_file(dir, "report.md", &md)
}

/// The paragraph saying the run crossed network namespaces (`make bench-testbed`), from
/// results.json's `testbed` object; nothing for the loopback run.
fn testbed_header(md: &mut String, t: &Value) {
    if !t.is_object() {
        return;
    }
    let place = |role: &str| {
        format!(
            "`{}` ({})",
            t[role]["netns"].as_str().unwrap_or("this namespace"),
            t[role]["host"].as_str().unwrap_or("?")
        )
    };
    let direct_from = t["direct_from"].as_str().unwrap_or("cloud");
    let _ = writeln!(
        md,
        "**Across network namespaces (testbed).** Relays, tunnel servers and the load generator \
         run in {cloud}, connectors and tunnel clients in {dmz}, the backend in {corp}. The \
         namespaces are joined by veth pairs to a router namespace whose nftables firewall \
         (policy drop, conntrack) filters every forwarded packet: a tunnelled request crosses it \
         twice (relay ↔ connector over the tunnel connection the DMZ dialed out, connector → \
         backend), a `direct` one once. `direct` runs its load generator in the {direct_from} \
         namespace{why}. Not loopback: read the ratios against this run's own `direct`, not \
         against a `make bench` report.\n",
        cloud = place("cloud"),
        dmz = place("dmz"),
        corp = place("corp"),
        why = if direct_from == "dmz" {
            " because the firewall drops cloud → corp by design (the reason the tunnel exists)"
        } else {
            ""
        },
    );
}

fn ratio_rows(
    md: &mut String,
    names: &[String],
    ws: &[&str],
    get: impl Fn(&str, &str) -> Option<Spread>,
) {
    let _ = writeln!(
        md,
        "\n| Ratio |{}\n|---|{}",
        ws.iter().map(|w| format!(" {w} |")).collect::<String>(),
        "---|".repeat(ws.len())
    );
    for ours in ["sallyport", "sallyport-http"] {
        for other in ["direct", "rathole", "h2-baseline"] {
            if !names.iter().any(|n| n == other) || !names.iter().any(|n| n == ours) {
                continue;
            }
            let _ = write!(md, "| {ours} / {other} |");
            for w in ws {
                let _ = write!(md, " {} |", fmt_ratio(ratio(get(w, ours), get(w, other))));
            }
            let _ = writeln!(md);
        }
    }
}

fn write_file(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
}

fn color(i: usize) -> &'static str {
    COLORS[i % COLORS.len()]
}

/// Grouped bars (one group per workload, one bar per contender) with min–max whiskers.
fn bars_svg(
    _r: &Value,
    names: &[String],
    ws: &[&str],
    title: &str,
    get: impl Fn(&str, &str) -> Option<Spread>,
) -> String {
    let (w, h, left, bottom, top) = (720.0, 360.0, 70.0, 50.0, 40.0);
    let vals: BTreeMap<(usize, usize), Spread> = ws
        .iter()
        .enumerate()
        .flat_map(|(i, wl)| names.iter().enumerate().map(move |(j, c)| ((i, j), wl, c)))
        .filter_map(|(k, wl, c)| get(wl, c).map(|s| (k, s)))
        .collect();
    let ymax = vals
        .values()
        .map(|s| s.max)
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let plot_h = h - bottom - top;
    let group_w = (w - left - 20.0) / ws.len().max(1) as f64;
    let bar_w = group_w * 0.8 / names.len().max(1) as f64;
    let y = |v: f64| top + plot_h - v / ymax * plot_h;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="20" text-anchor="middle" font-size="14">{title}</text>"#,
        w / 2.0
    );
    for t in 0..=4 {
        let v = ymax * t as f64 / 4.0;
        let (x2, y0, xt, yt, label) = (w - 20.0, y(v), left - 5.0, y(v) + 4.0, short(v));
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{x2}" y1="{y0}" y2="{y0}" stroke="#ddd"/><text x="{xt}" y="{yt}" text-anchor="end">{label}</text>"##
        );
    }
    for (i, wl) in ws.iter().enumerate() {
        let gx = left + group_w * i as f64 + group_w * 0.1;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{wl}</text>"#,
            gx + group_w * 0.4,
            h - bottom + 18.0
        );
        for (j, _) in names.iter().enumerate() {
            if let Some(v) = vals.get(&(i, j)) {
                let x = gx + bar_w * j as f64;
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                    y(v.median),
                    bar_w * 0.9,
                    top + plot_h - y(v.median),
                    color(j)
                );
                let cx = x + bar_w * 0.45;
                let _ = write!(
                    s,
                    r#"<line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}" stroke="black"/>"#,
                    y(v.min),
                    y(v.max)
                );
            }
        }
    }
    legend(&mut s, names, left, h - 14.0);
    s.push_str("</svg>\n");
    s
}

fn legend(s: &mut String, names: &[String], x0: f64, y0: f64) {
    for (j, n) in names.iter().enumerate() {
        let x = x0 + 130.0 * j as f64;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{y0}">{n}</text>"#,
            y0 - 9.0,
            color(j),
            x + 14.0
        );
    }
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Percentile curves (x: 1/(1−q) on a log scale, y: latency on a log scale), one line per
/// contender, from the repetition with the median p99.
fn latency_svg(r: &Value, w: &str, names: &[String]) -> String {
    let (width, h, left, bottom, top) = (720.0, 380.0, 70.0, 60.0, 40.0);
    let mut curves: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
    for (j, c) in names.iter().enumerate() {
        let mut ss = samples(r, w, c);
        ss.sort_by(|a, b| {
            let p = |s: &Value| s["metrics"]["latency"]["p99_us"].as_f64().unwrap_or(0.0);
            p(a).total_cmp(&p(b))
        });
        if let Some(s) = ss.get(ss.len() / 2) {
            let pts: Vec<(f64, f64)> = s["metrics"]["latency"]["curve"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
                .map(|(q, v)| ((1.0 / (1.0 - q).max(1e-5)).log10(), v.max(1.0)))
                .collect();
            curves.push((j, pts));
        }
    }
    let ymax = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(10.0f64, f64::max)
        .log10()
        .ceil();
    let ymin = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(f64::MAX, f64::min)
        .max(1.0)
        .log10()
        .floor()
        .min(ymax - 1.0);
    let xmax = 5.0;
    let pw = width - left - 20.0;
    let ph = h - bottom - top;
    let px = |x: f64| left + x / xmax * pw;
    let py = |v: f64| top + ph - (v.log10() - ymin) / (ymax - ymin) * ph;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="20" text-anchor="middle" font-size="14">Latency distribution, {w} (µs, log scale)</text>"#,
        width / 2.0
    );
    for (x, label) in [
        (0.0, "0%"),
        (1.0, "90%"),
        (2.0, "99%"),
        (3.0, "99.9%"),
        (4.0, "99.99%"),
        (5.0, "max"),
    ] {
        let (xl, yb, yt) = (px(x), top + ph, top + ph + 16.0);
        let _ = write!(
            s,
            r##"<line x1="{xl}" x2="{xl}" y1="{top}" y2="{yb}" stroke="#ddd"/><text x="{xl}" y="{yt}" text-anchor="middle">{label}</text>"##
        );
    }
    let mut e = ymin;
    while e <= ymax {
        let v = 10f64.powf(e);
        let (x2, yl, xt, yt, label) = (left + pw, py(v), left - 5.0, py(v) + 4.0, short(v));
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{x2}" y1="{yl}" y2="{yl}" stroke="#ddd"/><text x="{xt}" y="{yt}" text-anchor="end">{label}</text>"##
        );
        e += 1.0;
    }
    for (j, pts) in &curves {
        let path: Vec<String> = pts
            .iter()
            .map(|(x, v)| format!("{:.1},{:.1}", px(*x), py(*v)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            color(*j),
            path.join(" ")
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text>"#,
        left + pw / 2.0,
        h - bottom + 34.0
    );
    legend(&mut s, names, left, h - 8.0);
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests;
