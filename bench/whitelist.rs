//! Whitelist decision time: `SubaccountPolicy::check_http` on realistic paths (4–6 segments,
//! some with a query or an escape, one in four refused) at 10, 1 000 and 100 000 resources.
//!
//! Method: the resources are spread over hosts and nested paths (10 → 1 host, 1 000 → 10
//! hosts × 100, 100 000 → 100 hosts × 1 000), each a prefix or exact rule three segments
//! deep under `/s{a}/m{b}/r{c}`. The same 64 request shapes are used at every size (the host
//! and the rule they hit vary with the size), so the rows differ only in the size of the
//! policy. One iteration decides all 64; the figure to read is time per iteration / 64
//! (criterion's throughput line gives decisions per second). The decision includes parsing
//! the authority, lower-casing the host, the path check and the trie walk. Two groups:
//! `check_http` copies an admitted path into the proof token; `check_http_shared` is what the
//! connector calls — the path is already a `Bytes` slice of the tunnel's receive buffer and the
//! token shares it.
//!
//! Run: `cargo bench --bench whitelist` (add `-- --quick` on a busy machine).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sallyport::policy::{
    HostInHeader, HttpRequest, PathMatch, PortSpec, Protocol, ResourceSpec, SubaccountPolicy,
    SystemSpec,
};
use std::hint::black_box;

/// (resources, hosts)
const SIZES: [(usize, usize); 3] = [(10, 1), (1_000, 10), (100_000, 100)];

fn rule_path(r: usize) -> String {
    format!("/s{}/m{}/r{}", r % 16, (r / 16) % 16, r / 256)
}

fn policy(rules: usize, hosts: usize) -> SubaccountPolicy {
    let per_host = rules / hosts;
    let systems: Vec<SystemSpec> = (0..hosts)
        .map(|h| SystemSpec {
            virtual_host: format!("host{h}.virtual"),
            virtual_port: PortSpec::single(80),
            internal_host: format!("10.0.{}.{}", h / 250, h % 250 + 1),
            internal_port: PortSpec::single(8080),
            protocol: Protocol::Http,
            host_in_header: HostInHeader::Virtual,
            enabled: true,
            resources: (0..per_host)
                .map(|r| ResourceSpec {
                    path: rule_path(r),
                    matching: if r % 3 == 0 {
                        PathMatch::Exact
                    } else {
                        PathMatch::Prefix
                    },
                    enabled: true,
                    websocket: false,
                })
                .collect(),
        })
        .collect();
    match SubaccountPolicy::compile(&systems) {
        Ok(p) => p,
        Err(e) => panic!("bench policy does not compile: {e:?}"),
    }
}

/// 64 requests: (authority, path).
fn requests(rules: usize, hosts: usize) -> Vec<(String, String)> {
    let per_host = rules / hosts;
    (0..64usize)
        .map(|i| {
            let host = format!("Host{}.virtual", (i * 7) % hosts);
            // A prefix rule (r % 3 != 0) somewhere in this host's set.
            let mut r = (i * 7919) % per_host;
            while r % 3 == 0 {
                r = (r + 1) % per_host;
            }
            let base = rule_path(r);
            let path = match i % 4 {
                0 => format!("/s{}/nope/items/{i}", i % 16),
                1 => format!("{base}/items/{i}?expand=true&page=2"),
                2 => format!("{base}/caf%C3%A9/{i}/detail"),
                _ => format!("{base}/items/{i}/detail"),
            };
            (host, path)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("check_http");
    let mut shared = Vec::new();
    for (rules, hosts) in SIZES {
        let policy = policy(rules, hosts);
        let owned = requests(rules, hosts);
        let paths: Vec<(String, bytes::Bytes)> = owned
            .iter()
            .map(|(a, p)| (a.clone(), bytes::Bytes::from(p.clone())))
            .collect();
        let reqs: Vec<HttpRequest<'_>> = owned
            .iter()
            .map(|(a, p)| HttpRequest {
                authority: a.as_bytes(),
                default_port: 80,
                path: p.as_bytes(),
                websocket_upgrade: false,
            })
            .collect();
        // The shapes really do what the method says: three of four admitted.
        let admitted = reqs.iter().filter(|r| policy.check_http(r).is_ok()).count();
        assert_eq!(admitted, 48, "{rules} rules: request mix is off");
        group.throughput(Throughput::Elements(reqs.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(rules), &reqs, |b, reqs| {
            b.iter(|| {
                for r in reqs {
                    let _ = black_box(policy.check_http(black_box(r)));
                }
            })
        });
        shared.push((rules, policy, paths));
    }
    group.finish();
    let mut group = c.benchmark_group("check_http_shared");
    for (rules, policy, paths) in &shared {
        let reqs: Vec<(HttpRequest<'_>, &bytes::Bytes)> = paths
            .iter()
            .map(|(a, p)| {
                let req = HttpRequest {
                    authority: a.as_bytes(),
                    default_port: 80,
                    path: &p[..],
                    websocket_upgrade: false,
                };
                (req, p)
            })
            .collect();
        group.throughput(Throughput::Elements(reqs.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(rules), &reqs, |b, reqs| {
            b.iter(|| {
                for (r, p) in reqs {
                    let _ = black_box(policy.check_http_shared(black_box(r), p));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
