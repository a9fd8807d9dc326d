//! Audit sink cost per record: `admit` + `record` of a typical request event at level `all`,
//! appended to a day file (one `write` per line, no fsync), with and without signed
//! checkpoints every 1000 records; and `admit` alone (the per-request gate).
//!
//! Method: criterion, files in the system temp directory; records are not fsynced (only
//! checkpoints are), so the figure is CPU + syscall cost, not disk latency.
//! `cargo bench --bench audit`.

use criterion::{Criterion, Throughput};
use sallyport::audit::{AuditOptions, AuditSink, CheckpointSigner, Event, EventKind, Level};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

fn event() -> Event {
    let mut e = Event::new(EventKind::Request, "acme", "berlin");
    e.caller = Some("user@cloud".into());
    e.target = Some("erp.virtual:443".into());
    e.method = Some("GET".into());
    e.path = Some("/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartner".into());
    e.status = Some(200);
    e.bytes_in = 512;
    e.bytes_out = 8192;
    e.duration = Duration::from_micros(2300);
    e
}

fn sink(dir: &PathBuf, signer: Option<CheckpointSigner>) -> AuditSink {
    let _ = std::fs::remove_dir_all(dir);
    let mut o = AuditOptions::new(dir, "bench");
    o.level = Level::All;
    o.signer = signer;
    o.checkpoint_every = 1000;
    AuditSink::open(o).expect("open audit sink")
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let root = std::env::temp_dir().join(format!("sallyport-bench-audit-{}", std::process::id()));
    let mut pki = sallyport::pki::PkiRequest::new(root.join("pki"));
    let id = sallyport::tls::Identity::new("acme", "berlin").expect("identity");
    pki.connectors.push(id.clone());
    sallyport::pki::generate(&pki).expect("pki");
    let key = root
        .join("pki")
        .join(format!("{}.key", sallyport::pki::connector_file_stem(&id)));
    let now = SystemTime::now();

    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(1));
    let plain = sink(&root.join("plain"), None);
    g.bench_function("record", |b| {
        b.iter(|| {
            plain.admit(now).expect("admit");
            plain.record(black_box(event()), now).expect("record");
        })
    });
    let signer = CheckpointSigner::from_pkcs8_pem_file(&key).expect("key");
    let signed = sink(&root.join("signed"), Some(signer));
    g.bench_function("record_signed_every_1000", |b| {
        b.iter(|| {
            signed.admit(now).expect("admit");
            signed.record(black_box(event()), now).expect("record");
        })
    });
    g.bench_function("admit", |b| b.iter(|| plain.admit(black_box(now))));
    g.finish();
    c.final_summary();
    let _ = std::fs::remove_dir_all(&root);
}
