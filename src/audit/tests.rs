//! The sink: levels, chaining across days and reopen, the fail-closed pending queue (with
//! injected write failures), checkpoints and retention with a fake clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::pki::tests::{sample, TempDir};

/// 2026-11-21 14:35:00 UTC.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_271_700)
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

fn opts(tmp: &TempDir, level: Level) -> AuditOptions {
    let mut o = AuditOptions::new(&tmp.0, "acme_default");
    o.level = level;
    o
}

fn ev(kind: EventKind) -> Event {
    let mut e = Event::new(kind, "acme", "default");
    e.caller = Some("app@cloud".into());
    e.target = Some("erp.virtual:443".into());
    e.method = Some("GET".into());
    e.path = Some("/sap/opu/odata".into());
    e.status = Some(if kind == EventKind::Denied { 403 } else { 200 });
    e
}

fn lines(tmp: &TempDir) -> Vec<String> {
    let dir = tmp.0.join("acme_default");
    let mut out = Vec::new();
    for (_, path) in writer::list_days(&dir).unwrap() {
        out.extend(
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(str::to_owned),
        );
    }
    out
}

fn kinds(tmp: &TempDir) -> Vec<String> {
    lines(tmp)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["kind"].as_str().unwrap().to_owned()
        })
        .collect()
}

const ALL_KINDS: [EventKind; 7] = [
    EventKind::Request,
    EventKind::Denied,
    EventKind::AuthFailure,
    EventKind::ConfigChange,
    EventKind::ConfigRejected,
    EventKind::Tunnel,
    EventKind::Retention,
];

#[test]
fn sink_is_send_sync_and_clones_share_the_chain() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<AuditSink>();
    let tmp = TempDir::new("audit-threads");
    let sink = AuditSink::open(opts(&tmp, Level::All)).unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let sink = sink.clone();
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    // Around midnight, each thread's clock a little off: the chain's time
                    // still never decreases, so no record lands in an older day file.
                    let midnight = UNIX_EPOCH + days(20_779); // 2026-11-22 00:00
                    let now =
                        midnight - Duration::from_millis(25 + t * 10) + Duration::from_millis(i);
                    sink.admit(now).unwrap();
                    sink.record(ev(EventKind::Request), now).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = verify_dir(&tmp.0, None).unwrap();
    assert_eq!(
        (report.chains[0].records, report.chains[0].last_seq),
        (200, 200)
    );
}

#[test]
fn level_off_writes_nothing() {
    let tmp = TempDir::new("audit-off");
    let sink = AuditSink::open(opts(&tmp, Level::Off)).unwrap();
    for k in ALL_KINDS {
        assert!(!sink.wants(k));
        sink.record(ev(k), t0()).unwrap();
    }
    sink.admit(t0()).unwrap();
    assert!(
        !tmp.0.exists(),
        "level off must not even create the directory"
    );
    let disabled = AuditSink::disabled();
    assert_eq!(disabled.level(), Level::Off);
    assert!(!disabled.wants(EventKind::Denied));
}

#[test]
fn level_security_records_only_security_events() {
    let tmp = TempDir::new("audit-sec");
    let sink = AuditSink::open(opts(&tmp, Level::Security)).unwrap();
    for k in ALL_KINDS {
        sink.record(ev(k), t0()).unwrap();
    }
    assert_eq!(
        kinds(&tmp),
        [
            "denied",
            "auth_failure",
            "config_change",
            "config_rejected",
            "retention"
        ]
    );
}

#[test]
fn level_all_records_everything() {
    let tmp = TempDir::new("audit-all");
    let sink = AuditSink::open(opts(&tmp, Level::All)).unwrap();
    for k in ALL_KINDS {
        assert!(sink.wants(k));
        sink.record(ev(k), t0()).unwrap();
    }
    assert_eq!(kinds(&tmp).len(), ALL_KINDS.len());
    let first: serde_json::Value = serde_json::from_str(&lines(&tmp)[0]).unwrap();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["time"], "2026-11-21T14:35:00.000Z");
    assert_eq!(first["target"], "erp.virtual:443");
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["prev"], chain::GENESIS);
}

#[test]
fn chain_runs_across_days_and_reopen() {
    let tmp = TempDir::new("audit-days");
    {
        let sink = AuditSink::open(opts(&tmp, Level::All)).unwrap();
        sink.record(ev(EventKind::Request), t0()).unwrap();
        sink.record(ev(EventKind::Request), t0() + days(1)).unwrap();
    }
    let sink = AuditSink::open(opts(&tmp, Level::All)).unwrap();
    assert_eq!(sink.last_seq(), 2);
    sink.record(ev(EventKind::Denied), t0() + days(1)).unwrap();
    // A clock that steps back does not put a record into an older file.
    sink.record(ev(EventKind::Denied), t0()).unwrap();
    let dir = tmp.0.join("acme_default");
    let names: Vec<_> = writer::list_days(&dir)
        .unwrap()
        .into_iter()
        .map(|(d, _)| d.name())
        .collect();
    assert_eq!(names, ["2026-11-21", "2026-11-22"]);
    let report = verify_dir(&dir, None).unwrap();
    assert_eq!(report.chains.len(), 1);
    assert_eq!(
        (report.chains[0].first_seq, report.chains[0].last_seq),
        (1, 4)
    );
    assert_eq!(report.chains[0].files, 2);
}

#[test]
fn reopen_cuts_a_partial_last_line() {
    let tmp = TempDir::new("audit-partial");
    {
        let sink = AuditSink::open(opts(&tmp, Level::All)).unwrap();
        sink.record(ev(EventKind::Request), t0()).unwrap();
    }
    let file = tmp.0.join("acme_default/2026-11-21.jsonl");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"{\"seq\":2,\"time\":\"2026-11");
    std::fs::write(&file, &bytes).unwrap();
    assert!(verify_dir(&tmp.0, None).is_err());
    let sink = AuditSink::open(opts(&tmp, Level::All)).unwrap();
    assert_eq!(sink.last_seq(), 1);
    sink.record(ev(EventKind::Request), t0()).unwrap();
    verify_dir(&tmp.0, None).unwrap();
}

#[test]
fn reopen_refuses_a_corrupt_last_record() {
    let tmp = TempDir::new("audit-corrupt");
    let dir = tmp.0.join("acme_default");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("2026-11-21.jsonl"), "not a record\n").unwrap();
    let err = AuditSink::open(opts(&tmp, Level::All)).unwrap_err();
    assert!(matches!(err, AuditError::Resume { .. }), "{err}");
    assert!(err.to_string().contains("2026-11-21.jsonl"), "{err}");
}

#[test]
fn bad_subaccount_names_are_refused() {
    let tmp = TempDir::new("audit-name");
    for name in ["", "..", "../x", "a/b", ".hidden"] {
        let mut o = opts(&tmp, Level::All);
        o.subaccount = name.into();
        assert!(matches!(
            AuditSink::open(o),
            Err(AuditError::InvalidSubaccount { .. })
        ));
    }
}

#[test]
fn failed_writes_keep_sequence_numbers_and_fail_closed() {
    let tmp = TempDir::new("audit-pending");
    let mut o = opts(&tmp, Level::All);
    o.pending_limit = 3;
    let sink = AuditSink::open(o).unwrap();
    sink.record(ev(EventKind::Request), t0()).unwrap();
    sink.admit(t0()).unwrap();

    // The disk refuses everything for a while: records queue with their numbers.
    sink.fail_next_writes(usize::MAX);
    for _ in 0..3 {
        sink.record(ev(EventKind::Request), t0()).unwrap();
    }
    assert_eq!(sink.pending(), 3);
    assert_eq!(sink.last_seq(), 4);
    let refused = sink.admit(t0()).unwrap_err();
    assert!(
        matches!(refused, AuditError::Unavailable { pending: 3, .. }),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("injected failure"),
        "{refused}"
    );
    // Queue full: the event is refused and takes no number.
    let full = sink.record(ev(EventKind::Denied), t0()).unwrap_err();
    assert!(
        matches!(full, AuditError::QueueFull { limit: 3, .. }),
        "{full}"
    );
    assert_eq!(sink.last_seq(), 4);
    assert_eq!(lines(&tmp).len(), 1);

    // The disk accepts again: the queue drains in order, the gate opens, no gap.
    sink.fail_next_writes(0);
    sink.admit(t0()).unwrap();
    assert_eq!(sink.pending(), 0);
    sink.record(ev(EventKind::Denied), t0()).unwrap();
    let seqs: Vec<u64> = lines(&tmp)
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    verify_dir(&tmp.0, None).unwrap();
}

#[test]
fn one_failed_write_is_retried_by_the_next_record() {
    let tmp = TempDir::new("audit-retry");
    let sink = AuditSink::open(opts(&tmp, Level::All)).unwrap();
    sink.fail_next_writes(1);
    sink.record(ev(EventKind::Request), t0()).unwrap();
    assert_eq!(sink.pending(), 1);
    sink.record(ev(EventKind::Request), t0()).unwrap();
    assert_eq!(sink.pending(), 0);
    assert_eq!(lines(&tmp).len(), 2);
    verify_dir(&tmp.0, None).unwrap();
}

fn signer(pki: &std::path::Path) -> CheckpointSigner {
    CheckpointSigner::from_pkcs8_pem_file(&pki.join("connector-acme-berlin.key")).unwrap()
}

#[test]
fn checkpoints_by_count_and_interval() {
    let (tmp, pki) = sample("audit-cp");
    let mut o = opts(&tmp, Level::All);
    o.signer = Some(signer(&pki));
    o.checkpoint_every = 3;
    o.checkpoint_interval = Duration::from_secs(60);
    let sink = AuditSink::open(o).unwrap();
    for _ in 0..3 {
        sink.record(ev(EventKind::Request), t0()).unwrap();
    }
    assert_eq!(kinds(&tmp).last().map(String::as_str), Some("checkpoint"));
    sink.record(ev(EventKind::Request), t0()).unwrap();
    sink.tick(t0() + Duration::from_secs(59)).unwrap();
    assert_eq!(kinds(&tmp).len(), 5);
    sink.tick(t0() + Duration::from_secs(61)).unwrap();
    assert_eq!(kinds(&tmp).len(), 6);
    // Nothing new: no empty checkpoint.
    sink.tick(t0() + Duration::from_secs(200)).unwrap();
    sink.checkpoint(t0() + Duration::from_secs(200)).unwrap();
    assert_eq!(kinds(&tmp).len(), 6);
    let report = verify_dir(
        &tmp.0.join("acme_default"),
        Some(&pki.join("connector-acme-berlin.pem")),
    )
    .unwrap();
    assert_eq!(report.chains[0].checkpoints, 2);
    assert_eq!(report.chains[0].unsigned_tail, 0);
    // The other connector's certificate does not verify these signatures.
    let wrong = verify_dir(&tmp.0, Some(&pki.join("connector-acme-paris.pem"))).unwrap_err();
    assert!(
        wrong
            .iter()
            .all(|p| p.what.contains("bad checkpoint signature")
                || p.what.contains("nothing authenticates")),
        "{wrong:?}"
    );
    assert_eq!(wrong.len(), 3, "{wrong:?}");
}

#[test]
fn signer_rejects_non_keys() {
    let (tmp, pki) = sample("audit-badkey");
    let err = CheckpointSigner::from_pkcs8_pem_file(&pki.join("ca.pem")).unwrap_err();
    assert!(err.to_string().contains("ca.pem"), "{err}");
    let err = CheckpointSigner::from_pkcs8_pem_file(&tmp.path("missing.key")).unwrap_err();
    assert!(matches!(err, AuditError::SignerKey { .. }));
}

#[test]
fn retention_deletes_old_days_and_records_it() {
    let tmp = TempDir::new("audit-retention");
    let mut o = opts(&tmp, Level::Security);
    o.retention_days = 2;
    let sink = AuditSink::open(o).unwrap();
    for d in 0..5 {
        sink.record(ev(EventKind::Denied), t0() + days(d)).unwrap();
    }
    let dir = tmp.0.join("acme_default");
    let names: Vec<_> = writer::list_days(&dir)
        .unwrap()
        .into_iter()
        .map(|(d, _)| d.name())
        .collect();
    assert_eq!(names, ["2026-11-23", "2026-11-24", "2026-11-25"]);
    let text = std::fs::read_to_string(dir.join("2026-11-25.jsonl")).unwrap();
    assert!(text.contains("\"kind\":\"retention\""), "{text}");
    assert!(text.contains("deleted 2026-11-22.jsonl"), "{text}");
    let report = verify_dir(&dir, None).unwrap();
    let anchor = report.chains[0].anchor.unwrap();
    assert!(anchor > 1);
    assert!(
        report.to_string().contains("older files deleted"),
        "{report}"
    );
}

#[test]
fn retention_zero_keeps_everything() {
    let tmp = TempDir::new("audit-keep");
    let sink = AuditSink::open(opts(&tmp, Level::Security)).unwrap();
    for d in 0..4 {
        sink.record(ev(EventKind::Denied), t0() + days(d * 400))
            .unwrap();
    }
    assert_eq!(
        writer::list_days(&tmp.0.join("acme_default"))
            .unwrap()
            .len(),
        4
    );
}

mod tamper_props {
    use super::*;
    use proptest::prelude::*;

    /// A two-day signed log, as (file name, bytes), built once.
    fn sample_files() -> &'static [(String, Vec<u8>)] {
        static FILES: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
        FILES.get_or_init(build_files)
    }

    fn build_files() -> Vec<(String, Vec<u8>)> {
        let (tmp, pki) = sample("audit-prop-src");
        let mut o = opts(&tmp, Level::All);
        o.signer = Some(signer(&pki));
        o.checkpoint_every = 3;
        let sink = AuditSink::open(o).unwrap();
        for i in 0..8 {
            sink.record(ev(EventKind::Request), t0() + days(i / 4))
                .unwrap();
        }
        let dir = tmp.0.join("acme_default");
        writer::list_days(&dir)
            .unwrap()
            .into_iter()
            .map(|(d, p)| (format!("{}.jsonl", d.name()), std::fs::read(p).unwrap()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Changing any single byte of any day file is detected, and verify never panics.
        #[test]
        fn any_changed_byte_is_detected(file in 0usize..2, at in any::<prop::sample::Index>(), value in any::<u8>()) {
            let files = sample_files();
            let tmp = TempDir::new("audit-prop");
            std::fs::create_dir_all(&tmp.0).unwrap();
            for (i, (name, bytes)) in files.iter().enumerate() {
                let mut bytes = bytes.clone();
                if i == file {
                    let pos = at.index(bytes.len());
                    prop_assume!(bytes[pos] != value);
                    bytes[pos] = value;
                }
                std::fs::write(tmp.0.join(name), bytes).unwrap();
            }
            prop_assert!(verify_dir(&tmp.0, None).is_err());
        }

        /// Arbitrary lines never make verify panic.
        #[test]
        fn garbage_never_panics(lines in proptest::collection::vec(".{0,120}", 0..8)) {
            let tmp = TempDir::new("audit-garbage");
            std::fs::create_dir_all(&tmp.0).unwrap();
            std::fs::write(tmp.0.join("2026-11-21.jsonl"), lines.join("\n")).unwrap();
            let _ = verify_dir(&tmp.0, None);
        }
    }
}
