//! The audit trail end to end through the public API: tampering of every kind is detected at
//! the right file and line, a full disk fails closed without a gap in the chain (needs root for
//! a small tmpfs; skips otherwise), syslog forwarding over loopback UDP and TCP, and the
//! `sallyport audit verify` command's exit codes.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sallyport::audit::{
    verify_dir, AuditError, AuditOptions, AuditSink, CheckpointSigner, Event, EventKind, Level,
    SyslogTarget, SyslogTransport, VerifyProblem,
};
use sallyport::tls::Identity;

/// A unique directory, removed on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("sallyport-audit-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 2026-11-21 14:35:00 UTC.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_271_700)
}

/// A PKI with connectors acme/berlin and acme/paris; returns (key, cert, other cert).
fn pki(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let dir = root.join("pki");
    let mut req = sallyport::pki::PkiRequest::new(&dir);
    let berlin = Identity::new("acme", "berlin").unwrap();
    let paris = Identity::new("acme", "paris").unwrap();
    req.connectors = vec![berlin.clone(), paris.clone()];
    sallyport::pki::generate(&req).unwrap();
    let stem = |id: &Identity| sallyport::pki::connector_file_stem(id);
    (
        dir.join(format!("{}.key", stem(&berlin))),
        dir.join(format!("{}.pem", stem(&berlin))),
        dir.join(format!("{}.pem", stem(&paris))),
    )
}

fn event(kind: EventKind, n: u64) -> Event {
    let mut e = Event::new(kind, "acme", "berlin");
    e.caller = Some(format!("user{n}@cloud"));
    e.target = Some("erp.virtual:443".into());
    e.method = Some("GET".into());
    e.path = Some(format!("/sap/item/{n}"));
    e.status = Some(if kind == EventKind::Denied { 403 } else { 200 });
    e.bytes_in = n;
    e.bytes_out = 10 * n;
    e.duration = Duration::from_micros(1500 + n);
    e
}

/// A signed log over three days: 6 records a day, a checkpoint after every 4 records.
/// Returns (tmp, subaccount dir, cert, other cert).
fn sample_log(tag: &str) -> (Tmp, PathBuf, PathBuf, PathBuf) {
    let tmp = Tmp::new(tag);
    let (key, cert, other) = pki(&tmp.0);
    let mut opts = AuditOptions::new(tmp.0.join("audit"), "acme_berlin");
    opts.level = Level::All;
    opts.signer = Some(CheckpointSigner::from_pkcs8_pem_file(&key).unwrap());
    opts.checkpoint_every = 4;
    opts.checkpoint_interval = Duration::ZERO;
    let sink = AuditSink::open(opts).unwrap();
    for day in 0..3u64 {
        for i in 0..6u64 {
            let kind = if i % 3 == 0 {
                EventKind::Denied
            } else {
                EventKind::Request
            };
            let now = t0() + Duration::from_secs(day * 86_400 + i);
            sink.admit(now).unwrap();
            sink.record(event(kind, day * 10 + i), now).unwrap();
        }
    }
    let sub = tmp.0.join("audit/acme_berlin");
    (tmp, sub, cert, other)
}

fn day_file(sub: &Path, n: usize) -> PathBuf {
    sub.join(["2026-11-21.jsonl", "2026-11-22.jsonl", "2026-11-23.jsonl"][n])
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const HASH_SUFFIX: usize = 75;

fn stored_hash(line: &str) -> String {
    line[line.len() - 66..line.len() - 2].to_owned()
}

/// Recomputes a line's hash as an attacker with write access would.
fn rehash(line: &str) -> String {
    let body = &line[..line.len() - HASH_SUFFIX];
    let hash = sha256_hex(format!("{body}}}").as_bytes());
    format!("{body},\"hash\":\"{hash}\"}}")
}

/// Re-links and re-hashes every line after (file `from_file`, index `from_line`) across all
/// files: the attacker rewrites the rest of the chain so every hash and link is consistent.
fn rechain(sub: &Path, from_file: usize, from_line: usize) {
    let mut prev_hash: Option<String> = None;
    for f in 0..3 {
        let path = day_file(sub, f);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for (i, line) in lines.iter_mut().enumerate() {
            if (f, i) > (from_file, from_line) {
                if let Some(p) = &prev_hash {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    let old = v["prev"].as_str().unwrap().to_owned();
                    *line = rehash(
                        &line.replace(&format!("\"prev\":\"{old}\""), &format!("\"prev\":\"{p}\"")),
                    );
                }
            }
            prev_hash = Some(stored_hash(line));
        }
        write_lines(&path, &lines);
    }
}

fn problems(sub: &Path, cert: Option<&Path>) -> Vec<VerifyProblem> {
    match verify_dir(sub, cert) {
        Ok(r) => panic!("tampering not detected: {r}"),
        Err(p) => p,
    }
}

/// Asserts one problem names `file:line` and contains `what`.
fn assert_found(found: &[VerifyProblem], file: &Path, line: usize, what: &str) {
    assert!(
        found
            .iter()
            .any(|p| p.file == file && p.line == line && p.what.contains(what)),
        "expected {}:{line}: {what}; got {found:#?}",
        file.display()
    );
}

#[test]
fn untouched_log_verifies() {
    let (_tmp, sub, cert, _) = sample_log("intact");
    let report = verify_dir(&sub, Some(&cert)).unwrap();
    let c = &report.chains[0];
    // 18 events + a checkpoint after every 4 records (4 checkpoints, the chain's 5th, 10th,
    // 15th and 20th records).
    assert_eq!((c.files, c.records, c.checkpoints), (3, 22, 4));
    assert_eq!((c.first_seq, c.last_seq, c.anchor), (1, 22, None));
    assert_eq!(c.unsigned_tail, 2);
    assert!(c.cert_checked);
    // The audit root (parent) verifies too, one chain per subaccount.
    let root = verify_dir(sub.parent().unwrap(), None).unwrap();
    assert_eq!(root.chains.len(), 1);
}

#[test]
fn edited_field_is_found() {
    let (_tmp, sub, _, _) = sample_log("edit");
    let f = day_file(&sub, 0);
    let mut lines = read_lines(&f);
    lines[1] = lines[1].replace("\"status\":200", "\"status\":201");
    write_lines(&f, &lines);
    let found = problems(&sub, None);
    assert_found(&found, &f, 2, "edited: seq 2");
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn edited_and_rechained_log_fails_the_next_checkpoint() {
    let (_tmp, sub, cert, _) = sample_log("rechain");
    let f = day_file(&sub, 0);
    let mut lines = read_lines(&f);
    lines[1] = rehash(&lines[1].replace("\"method\":\"GET\"", "\"method\":\"PUT\""));
    write_lines(&f, &lines);
    rechain(&sub, 0, 1);
    let found = problems(&sub, Some(&cert));
    // Every hash and link is consistent again; only the signatures give it away: the first at
    // seq 5, line 5 of the first day.
    assert_found(&found, &f, 5, "bad checkpoint signature at seq 5");
    assert!(
        found
            .iter()
            .all(|p| p.what.contains("bad checkpoint signature")
                || p.what.contains("nothing authenticates")),
        "{found:#?}"
    );
}

#[test]
fn removed_record_is_found() {
    let (_tmp, sub, _, _) = sample_log("remove");
    let f = day_file(&sub, 0);
    let mut lines = read_lines(&f);
    lines.remove(2);
    write_lines(&f, &lines);
    let found = problems(&sub, None);
    assert_found(&found, &f, 3, "removed: seq 3 is missing before seq 4");
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn inserted_records_are_found() {
    // A replayed copy of an existing record.
    let (_tmp, sub, _, _) = sample_log("insert-copy");
    let f = day_file(&sub, 1);
    let mut lines = read_lines(&f);
    let copy = lines[0].clone();
    lines.insert(3, copy);
    write_lines(&f, &lines);
    let found = problems(&sub, None);
    assert_found(&found, &f, 4, "inserted: a second record with seq");
    assert_eq!(found.len(), 1, "{found:#?}");

    // A forged record with a correct hash, linked to its predecessor, before the genuine one.
    let (_tmp, sub, _, _) = sample_log("insert-forged");
    let f = day_file(&sub, 0);
    let mut lines = read_lines(&f);
    let forged = rehash(&lines[2].replace("user2@cloud", "someone@else"));
    lines.insert(2, forged);
    write_lines(&f, &lines);
    let found = problems(&sub, None);
    assert_found(
        &found,
        &f,
        3,
        "inserted: a second record with seq 3 (the chain runs through 2026-11-21.jsonl:4)",
    );
    assert_eq!(found.len(), 1, "{found:#?}");

    // A record with a sequence number that fits nowhere.
    let (_tmp, sub, _, _) = sample_log("insert-stray");
    let f = day_file(&sub, 0);
    let mut lines = read_lines(&f);
    let stray = rehash(&lines[1].replace("\"seq\":2,", "\"seq\":900,"));
    lines.insert(3, stray);
    write_lines(&f, &lines);
    let found = problems(&sub, None);
    assert_found(&found, &f, 4, "inserted: seq 900 does not fit the chain");
}

#[test]
fn swapped_records_are_found() {
    let (_tmp, sub, _, _) = sample_log("swap");
    let f = day_file(&sub, 0);
    let mut lines = read_lines(&f);
    lines.swap(1, 2);
    write_lines(&f, &lines);
    let found = problems(&sub, None);
    assert_found(
        &found,
        &f,
        2,
        "reordered: seq 3 belongs right after seq 2 at 2026-11-21.jsonl:3",
    );
    assert_found(
        &found,
        &f,
        3,
        "reordered: seq 2 belongs right after seq 1 at 2026-11-21.jsonl:1",
    );
    assert_eq!(found.len(), 2, "{found:#?}");
}

#[test]
fn removed_middle_day_file_is_found() {
    let (_tmp, sub, _, _) = sample_log("dayfile");
    std::fs::remove_file(day_file(&sub, 1)).unwrap();
    let found = problems(&sub, None);
    assert_found(
        &found,
        &day_file(&sub, 2),
        1,
        "removed: seq 8..=15 (8 records) are missing before seq 16",
    );
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn moved_record_is_found() {
    let (_tmp, sub, _, _) = sample_log("move");
    let (a, b) = (day_file(&sub, 0), day_file(&sub, 1));
    let mut first = read_lines(&a);
    let last = first.pop().unwrap();
    write_lines(&a, &first);
    let mut second = read_lines(&b);
    second.insert(0, last);
    write_lines(&b, &second);
    let found = problems(&sub, None);
    assert_found(&found, &b, 1, "does not belong in this day file (moved)");
}

#[test]
fn truncated_last_line_is_found() {
    let (_tmp, sub, _, _) = sample_log("truncate");
    let f = day_file(&sub, 2);
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 20]).unwrap();
    let n = read_lines(&f).len();
    let found = problems(&sub, None);
    assert_found(&found, &f, n, "truncated line");
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn forged_checkpoint_signature_is_found() {
    let (_tmp, sub, cert, _) = sample_log("forge");
    // The last checkpoint (seq 20) is line 6 of the third day; flip a signature digit, then
    // re-hash and re-link the rest so only the signature is wrong.
    let f = day_file(&sub, 2);
    let mut lines = read_lines(&f);
    let i = lines
        .iter()
        .position(|l| l.contains("\"kind\":\"checkpoint\"") && l.contains("\"seq\":20,"))
        .unwrap();
    let sig_at = lines[i].find("\"sig\":\"").unwrap() + 7;
    let mut bytes = lines[i].clone().into_bytes();
    bytes[sig_at + 10] = if bytes[sig_at + 10] == b'0' {
        b'1'
    } else {
        b'0'
    };
    lines[i] = rehash(&String::from_utf8(bytes).unwrap());
    write_lines(&f, &lines);
    rechain(&sub, 2, i);
    for cert in [None, Some(cert.as_path())] {
        let found = problems(&sub, cert);
        assert_found(&found, &f, i + 1, "bad checkpoint signature at seq 20");
        assert_eq!(found.len(), 1, "{found:#?}");
    }
}

#[test]
fn wrong_certificate_is_found() {
    let (_tmp, sub, _, other) = sample_log("wrongcert");
    let found = problems(&sub, Some(&other));
    let bad: Vec<_> = found
        .iter()
        .filter(|p| {
            p.what
                .contains("does not verify with the given certificate")
        })
        .collect();
    assert_eq!(bad.len(), 4, "{found:#?}");
    assert_found(&found, &sub, 0, "nothing authenticates this log");
}

#[test]
fn reopen_continues_the_chain() {
    let (tmp, sub, cert, _) = sample_log("reopen");
    let key = tmp.0.join("pki/connector-acme-berlin.key");
    let mut opts = AuditOptions::new(tmp.0.join("audit"), "acme_berlin");
    opts.signer = Some(CheckpointSigner::from_pkcs8_pem_file(&key).unwrap());
    let sink = AuditSink::open(opts).unwrap();
    assert_eq!(sink.last_seq(), 22);
    let later = t0() + Duration::from_secs(2 * 86_400 + 100);
    sink.record(event(EventKind::AuthFailure, 99), later)
        .unwrap();
    sink.checkpoint(later).unwrap();
    let report = verify_dir(&sub, Some(&cert)).unwrap();
    assert_eq!(
        (report.chains[0].last_seq, report.chains[0].unsigned_tail),
        (24, 0)
    );
}

#[test]
fn cli_verify_exit_codes() {
    let (_tmp, sub, cert, _) = sample_log("cli");
    let bin = env!("CARGO_BIN_EXE_sallyport");
    let ok = Command::new(bin)
        .args(["audit", "verify"])
        .arg(&sub)
        .arg("--cert")
        .arg(&cert)
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));
    let f = day_file(&sub, 0);
    let mut lines = read_lines(&f);
    lines.swap(1, 2);
    write_lines(&f, &lines);
    let bad = Command::new(bin)
        .args(["audit", "verify"])
        .arg(&sub)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains(&format!("{}:2: reordered", f.display())),
        "{stderr}"
    );
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
}

/// Unmounts the tmpfs when dropped (also when the test fails).
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_fails_closed_without_a_gap() {
    let tmp = Tmp::new("diskfull");
    let mnt = tmp.0.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .output();
    match mounted {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "SKIP disk_full: cannot mount a tmpfs (needs root): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("SKIP disk_full: no mount command: {e}");
            return;
        }
    }
    let _guard = Mount(mnt.clone());
    let (key, cert, _) = pki(&tmp.0);
    // Reserve 16 KiB to free later.
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![0u8; 16 * 1024]).unwrap();
    let mut opts = AuditOptions::new(&mnt, "acme_berlin");
    opts.level = Level::All;
    opts.signer = Some(CheckpointSigner::from_pkcs8_pem_file(&key).unwrap());
    opts.checkpoint_every = 50;
    opts.pending_limit = 8;
    let sink = AuditSink::open(opts).unwrap();

    let mut n = 0u64;
    while sink.pending() == 0 {
        n += 1;
        assert!(n < 10_000, "64 KiB tmpfs never filled");
        let now = t0() + Duration::from_millis(n);
        sink.admit(now).unwrap();
        let mut ev = event(EventKind::Request, n);
        ev.detail = Some("x".repeat(300));
        sink.record(ev, now).unwrap();
    }
    // Fail closed: the gate refuses, with the cause named.
    let refused = sink.admit(t0()).unwrap_err();
    assert!(
        matches!(refused, AuditError::Unavailable { .. }),
        "{refused}"
    );
    assert!(
        refused.to_string().to_lowercase().contains("space"),
        "{refused}"
    );
    // Denials still arrive (they are refused anyway); they queue with their numbers...
    let mut queued = sink.pending();
    while queued < 8 {
        sink.record(event(EventKind::Denied, 0), t0() + Duration::from_secs(60))
            .unwrap();
        queued = sink.pending();
    }
    let last = sink.last_seq();
    // ...until the queue is full: refused, no number taken.
    let full = sink
        .record(event(EventKind::Denied, 0), t0() + Duration::from_secs(60))
        .unwrap_err();
    assert!(matches!(full, AuditError::QueueFull { .. }), "{full}");
    assert_eq!(sink.last_seq(), last);
    // On disk: only whole lines, and the chain verifies up to the failure.
    verify_dir(&mnt.join("acme_berlin"), Some(&cert)).unwrap();

    // Space comes back: the queue drains first, the gate opens, nothing is missing.
    std::fs::remove_file(&filler).unwrap();
    sink.admit(t0() + Duration::from_secs(61)).unwrap();
    assert_eq!(sink.pending(), 0);
    sink.record(event(EventKind::Denied, 1), t0() + Duration::from_secs(61))
        .unwrap();
    sink.checkpoint(t0() + Duration::from_secs(62)).unwrap();
    let report = verify_dir(&mnt.join("acme_berlin"), Some(&cert)).unwrap();
    let c = &report.chains[0];
    assert_eq!(
        (c.first_seq, c.last_seq, c.records),
        (1, last + 2, last + 2)
    );
    assert_eq!(c.unsigned_tail, 0);
    eprintln!("disk_full: {n} records filled 64 KiB; {report}");
}

#[test]
fn syslog_udp_and_tcp_receive_rfc5424() {
    let tmp = Tmp::new("syslog");
    // UDP
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut opts = AuditOptions::new(tmp.0.join("u"), "acme_berlin");
    opts.syslog = Some(SyslogTarget {
        address: udp.local_addr().unwrap(),
        transport: SyslogTransport::Udp,
        hostname: Some("connector-1".into()),
    });
    let sink = AuditSink::open(opts).unwrap();
    sink.record(event(EventKind::Denied, 1), t0()).unwrap();
    let mut buf = [0u8; 4096];
    let n = udp.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    check_rfc5424(&msg, 1);

    // TCP with octet counting.
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut opts = AuditOptions::new(tmp.0.join("t"), "acme_berlin");
    opts.syslog = Some(SyslogTarget {
        address: tcp.local_addr().unwrap(),
        transport: SyslogTransport::Tcp,
        hostname: Some("connector-1".into()),
    });
    let sink = AuditSink::open(opts).unwrap();
    sink.record(event(EventKind::Denied, 1), t0()).unwrap();
    sink.record(event(EventKind::ConfigChange, 2), t0())
        .unwrap();
    let (conn, _) = tcp.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(conn);
    for seq in 1..=2 {
        let mut len = Vec::new();
        reader.read_until(b' ', &mut len).unwrap();
        let len: usize = String::from_utf8_lossy(&len).trim().parse().unwrap();
        let mut msg = vec![0u8; len];
        reader.read_exact(&mut msg).unwrap();
        check_rfc5424(&String::from_utf8_lossy(&msg), seq);
    }
    assert_eq!(sink.syslog_dropped(), 0);
}

fn check_rfc5424(msg: &str, seq: u64) {
    // Facility 13 (log audit): denied = warning (108), config change = notice (109).
    let pri = if seq == 1 { "<108>" } else { "<109>" };
    let kind = if seq == 1 { "denied" } else { "config_change" };
    let head = format!("{pri}1 2026-11-21T14:35:00.000Z connector-1 sallyport {} {kind} [sallyport@32473 seq=\"{seq}\" subaccount=\"acme_berlin\"] {{\"seq\":{seq},", std::process::id());
    assert!(msg.starts_with(&head), "{msg}\nexpected start: {head}");
    assert!(msg.ends_with("\"}"), "{msg}");
}

#[test]
fn a_tail_signed_by_another_key_is_flagged() {
    let (tmp, sub, cert, _) = sample_log("twokeys");
    // Someone with write access but without the connector's key appends records and signs
    // checkpoints with a key of their own.
    let other_key = tmp.0.join("pki/connector-acme-paris.key");
    let mut opts = AuditOptions::new(tmp.0.join("audit"), "acme_berlin");
    opts.signer = Some(CheckpointSigner::from_pkcs8_pem_file(&other_key).unwrap());
    let sink = AuditSink::open(opts).unwrap();
    let later = t0() + Duration::from_secs(2 * 86_400 + 100);
    sink.record(event(EventKind::ConfigChange, 1), later)
        .unwrap();
    sink.checkpoint(later).unwrap();
    let report = verify_dir(&sub, None).unwrap();
    assert_eq!(report.chains[0].signer_keys, 2);
    assert!(
        report.to_string().contains("signed by 2 different keys"),
        "{report}"
    );
    let found = problems(&sub, Some(&cert));
    assert_found(
        &found,
        &day_file(&sub, 2),
        9,
        "bad checkpoint signature at seq 24",
    );
    assert_eq!(found.len(), 1, "{found:#?}");
}
