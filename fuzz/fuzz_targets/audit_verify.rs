//! The audit verifier and the sink's resume on arbitrary day files. Input: the contents of two
//! consecutive day files separated by one `0xFF` byte (which UTF-8 JSON never contains).
//!
//! Besides "no panic" it checks: when `verify_dir` says intact, every line ended in a newline
//! and the record count equals the line count; and an intact log stays intact after the sink
//! reopens it (resuming the chain) and appends one more event.
//!
//! Seeds: real signed two-day logs written by the sink (`seed-*`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sallyport::audit::{verify_dir, AuditOptions, AuditSink, Event, EventKind, Level};
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

const DAYS: [&str; 2] = ["2026-11-21.jsonl", "2026-11-22.jsonl"];

fn root() -> PathBuf {
    std::env::temp_dir().join(format!("sallyport-fuzz-audit-{}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    let sub = root.join("acme");
    let _ = std::fs::remove_dir_all(&sub);
    std::fs::create_dir_all(&sub).expect("temp dir");
    let mut parts = data.splitn(2, |&b| b == 0xff);
    let mut lines = 0u64;
    let mut all_terminated = true;
    for name in DAYS {
        let part = parts.next().unwrap_or_default();
        if !part.is_empty() && !part.ends_with(b"\n") {
            all_terminated = false;
        }
        lines += part.iter().filter(|&&b| b == b'\n').count() as u64;
        std::fs::write(sub.join(name), part).expect("write day file");
    }
    let Ok(report) = verify_dir(&sub, None) else {
        return;
    };
    assert!(all_terminated, "intact with a truncated line");
    let records: u64 = report.chains.iter().map(|c| c.records).sum();
    assert_eq!(records, lines, "every line is a record");

    let mut opts = AuditOptions::new(&root, "acme");
    opts.level = Level::All;
    let Ok(sink) = AuditSink::open(opts) else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_795_271_700);
    if sink.record(Event::new(EventKind::Denied, "acme", "x"), now).is_ok() {
        if let Err(p) = verify_dir(&sub, None) {
            panic!("an intact log broke after resume + append: {p:?}");
        }
    }
});
