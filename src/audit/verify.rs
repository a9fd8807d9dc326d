//! `verify_dir`: checks every record's hash, the chain links, sequence order and checkpoint
//! signatures, and names each problem by file and line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::chain::{detach_sig, hash_canonical, parse_time, unseal, Day, GENESIS, MAX_SEQ};
use super::checkpoint::{SigCheck, CHECKPOINT_KIND};
use super::event::LineHead;
use super::writer::list_days;

/// One thing wrong with an audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyProblem {
    /// The file (a day file, the directory, or the certificate).
    pub file: PathBuf,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for VerifyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.what)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.what)
        }
    }
}

/// What verify found in one subaccount's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// The subaccount directory.
    pub dir: PathBuf,
    /// Day files read.
    pub files: usize,
    /// Records (including checkpoints).
    pub records: u64,
    /// Checkpoints whose signature verified.
    pub checkpoints: u64,
    /// The first and last sequence numbers.
    pub first_seq: u64,
    /// The last sequence number.
    pub last_seq: u64,
    /// `Some(seq)` when the oldest remaining record is not the chain's first (older files were
    /// deleted by retention): the chain is checked from there on.
    pub anchor: Option<u64>,
    /// Records after the last checkpoint: only the hash chain protects them, so removing them
    /// all cannot be detected.
    pub unsigned_tail: u64,
    /// Signatures were checked against a certificate (not only against the embedded key).
    pub cert_checked: bool,
    /// Distinct keys that signed valid checkpoints. More than one without a certificate means
    /// a key rotation, or a tail re-signed by someone else: verify with `--cert` to tell.
    pub signer_keys: usize,
}

/// The result of an intact verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// One report per subaccount directory.
    pub chains: Vec<ChainReport>,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.chains {
            write!(
                f,
                "{}: intact — {} files, {} records (seq {}..={}), {} checkpoints {}",
                c.dir.display(),
                c.files,
                c.records,
                c.first_seq,
                c.last_seq,
                c.checkpoints,
                if c.cert_checked {
                    "verified with the certificate"
                } else {
                    "self-consistent (pass --cert to authenticate the signer)"
                }
            )?;
            if let Some(seq) = c.anchor {
                write!(
                    f,
                    "; the oldest remaining record is seq {seq} (older files deleted, e.g. by \
                     retention): checked from there"
                )?;
            }
            if c.signer_keys > 1 && !c.cert_checked {
                write!(
                    f,
                    "; WARNING: checkpoints signed by {} different keys (key rotation, or a \
                     re-signed tail: verify with --cert)",
                    c.signer_keys
                )?;
            }
            if c.unsigned_tail > 0 {
                write!(
                    f,
                    "; the last {} records follow the last checkpoint (not signed yet)",
                    c.unsigned_tail
                )?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Verifies the audit log in `dir`: either one subaccount directory holding day files, or an
/// audit root whose subdirectories hold them. With `cert`, checkpoint signatures must verify
/// with that certificate's key; without, with the key each checkpoint names.
pub fn verify_dir(dir: &Path, cert: Option<&Path>) -> Result<VerifyReport, Vec<VerifyProblem>> {
    let whole = |what: String| {
        vec![VerifyProblem {
            file: dir.to_owned(),
            line: 0,
            what,
        }]
    };
    let check = match cert {
        Some(path) => SigCheck::from_cert_file(path).map_err(|what| {
            vec![VerifyProblem {
                file: path.to_owned(),
                line: 0,
                what,
            }]
        })?,
        None => SigCheck::Embedded,
    };
    let own = list_days(dir).map_err(|e| whole(format!("cannot list: {e}")))?;
    let mut chain_dirs = Vec::new();
    if own.is_empty() {
        let entries = std::fs::read_dir(dir).map_err(|e| whole(format!("cannot list: {e}")))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && list_days(&path).is_ok_and(|d| !d.is_empty()) {
                chain_dirs.push(path);
            }
        }
        chain_dirs.sort();
    } else {
        chain_dirs.push(dir.to_owned());
    }
    if chain_dirs.is_empty() {
        return Err(whole("no audit day files (YYYY-MM-DD.jsonl) found".into()));
    }
    let mut problems = Vec::new();
    let mut chains = Vec::new();
    for d in chain_dirs {
        chains.push(verify_chain(&d, &check, cert.is_some(), &mut problems));
    }
    if problems.is_empty() {
        Ok(VerifyReport { chains })
    } else {
        Err(problems)
    }
}

/// A parsed line.
struct Entry {
    file: usize,
    line: usize,
    seq: u64,
    prev: String,
    hash: String,
    checkpoint_ok: bool,
    /// Checkpoints: the key they name.
    key: Option<String>,
}

struct Ctx<'a> {
    files: Vec<PathBuf>,
    problems: &'a mut Vec<VerifyProblem>,
}

impl Ctx<'_> {
    fn report(&mut self, file: usize, line: usize, what: String) {
        let file = self.files.get(file).cloned().unwrap_or_default();
        self.problems.push(VerifyProblem { file, line, what });
    }

    fn at(&self, e: &Entry) -> String {
        let name = self
            .files
            .get(e.file)
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{name}:{}", e.line)
    }
}

fn verify_chain(
    dir: &Path,
    check: &SigCheck,
    cert_checked: bool,
    problems: &mut Vec<VerifyProblem>,
) -> ChainReport {
    let subaccount = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let days = list_days(dir).unwrap_or_default();
    let mut ctx = Ctx {
        files: days.iter().map(|(_, p)| p.clone()).collect(),
        problems,
    };
    let mut entries = Vec::new();
    for (file, (day, path)) in days.iter().enumerate() {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                ctx.report(file, 0, format!("cannot read: {e}"));
                continue;
            }
        };
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let tail = lines.pop().unwrap_or_default();
        if !tail.is_empty() {
            ctx.report(
                file,
                lines.len() + 1,
                "truncated line: no newline at the end (a write was cut off or the file was \
                 cut)"
                    .into(),
            );
        }
        for (i, line) in lines.iter().enumerate() {
            if let Some(e) = parse_line(&mut ctx, file, i + 1, *day, line, &subaccount, check) {
                entries.push(e);
            }
        }
    }
    check_order(&mut ctx, &entries);
    let last_cp = entries.iter().rposition(|e| e.checkpoint_ok);
    let unsigned_tail = match last_cp {
        Some(i) => entries.len() - i - 1,
        None => entries.len(),
    } as u64;
    let checkpoints = entries.iter().filter(|e| e.checkpoint_ok).count() as u64;
    let mut keys: Vec<&str> = entries.iter().filter_map(|e| e.key.as_deref()).collect();
    keys.sort_unstable();
    keys.dedup();
    if cert_checked && checkpoints == 0 && !entries.is_empty() {
        ctx.problems.push(VerifyProblem {
            file: dir.to_owned(),
            line: 0,
            what: "no checkpoint verifies with the certificate: nothing authenticates this log"
                .into(),
        });
    }
    let first = entries.first();
    ChainReport {
        dir: dir.to_owned(),
        files: days.len(),
        records: entries.len() as u64,
        checkpoints,
        first_seq: first.map_or(0, |e| e.seq),
        last_seq: entries.last().map_or(0, |e| e.seq),
        anchor: first.and_then(|e| (e.seq != 1).then_some(e.seq)),
        unsigned_tail,
        cert_checked,
        signer_keys: keys.len(),
    }
}

fn parse_line(
    ctx: &mut Ctx<'_>,
    file: usize,
    line_no: usize,
    day: Day,
    line: &[u8],
    subaccount: &str,
    check: &SigCheck,
) -> Option<Entry> {
    let mut bad = |what: &str| {
        ctx.report(file, line_no, what.to_owned());
        None
    };
    if line.is_empty() {
        return bad("empty line (inserted, or a record was blanked)");
    }
    let Some((canonical, stored)) = unseal(line) else {
        return bad("malformed: the line does not end in a \"hash\" member");
    };
    let head: LineHead = match serde_json::from_slice(line) {
        Ok(h) => h,
        Err(e) => return bad(&format!("malformed: not a JSON record ({e})")),
    };
    if head.seq == 0 || head.seq > MAX_SEQ {
        return bad(&format!("malformed: seq {} out of range", head.seq));
    }
    let stored = stored.to_owned();
    if hash_canonical(&canonical) != stored {
        ctx.report(
            file,
            line_no,
            format!("edited: seq {}'s content does not match its hash", head.seq),
        );
    }
    match parse_time(&head.time) {
        None => ctx.report(file, line_no, format!("malformed time '{}'", head.time)),
        Some(t) if Day::of(t) != day => ctx.report(
            file,
            line_no,
            format!(
                "seq {}'s time {} does not belong in this day file (moved)",
                head.seq, head.time
            ),
        ),
        Some(_) => {}
    }
    let mut checkpoint_ok = false;
    if head.kind == CHECKPOINT_KIND {
        let result = match (detach_sig(&canonical), head.key.as_deref()) {
            (None, _) => Err("no signature".to_owned()),
            (_, None) => Err("no key".to_owned()),
            (Some((signed, sig)), Some(key)) => check.check(&signed, sig, key),
        };
        match result {
            Ok(()) => checkpoint_ok = true,
            Err(why) => ctx.report(
                file,
                line_no,
                format!("bad checkpoint signature at seq {}: {why}", head.seq),
            ),
        }
        if head.subaccount.as_deref() != Some(subaccount) {
            checkpoint_ok = false;
            ctx.report(
                file,
                line_no,
                format!(
                    "checkpoint signed for subaccount '{}', found in '{subaccount}' (copied from \
                     another log)",
                    head.subaccount.as_deref().unwrap_or("")
                ),
            );
        }
    }
    Some(Entry {
        file,
        line: line_no,
        seq: head.seq,
        prev: head.prev,
        hash: stored,
        checkpoint_ok,
        key: head.key.filter(|_| checkpoint_ok),
    })
}

/// Sequence order, duplicates, gaps and chain links, in file order.
fn check_order(ctx: &mut Ctx<'_>, entries: &[Entry]) {
    let mut index: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        index.entry(e.seq).or_default().push(i);
    }
    let by_seq = |seq: u64| -> &[usize] { index.get(&seq).map_or(&[], |v| v.as_slice()) };
    for (i, e) in entries.iter().enumerate() {
        let prev_entry = i.checked_sub(1).and_then(|p| entries.get(p));
        let next_entry = entries.get(i + 1);
        // A duplicated sequence number: the copy the chain continues from is genuine.
        let copies = by_seq(e.seq);
        if copies.len() > 1 {
            let successors = by_seq(e.seq + 1);
            let genuine = copies.iter().copied().find(|&c| {
                successors
                    .iter()
                    .filter_map(|&s| entries.get(s))
                    .any(|s| entries.get(c).is_some_and(|c| c.hash == s.prev))
            });
            let first = copies.first().copied();
            let is_extra = match genuine {
                Some(g) => g != i,
                None => first != Some(i),
            };
            if is_extra {
                let other = genuine.or(first).and_then(|o| entries.get(o));
                let other = other.map(|o| ctx.at(o)).unwrap_or_default();
                ctx.report(
                    e.file,
                    e.line,
                    format!(
                        "inserted: a second record with seq {} (the chain runs through {other})",
                        e.seq
                    ),
                );
                continue;
            }
        }
        let fits_prev = prev_entry.is_none_or(|p| p.seq.checked_add(1) == Some(e.seq));
        let fits_next = next_entry.is_none_or(|n| e.seq.checked_add(1) == Some(n.seq));
        let before = e.seq.checked_sub(1).map_or(&[][..], by_seq);
        if !fits_prev && !fits_next {
            match before.first().and_then(|&b| entries.get(b)) {
                Some(b) if e.seq > 1 => {
                    let at = ctx.at(b);
                    ctx.report(
                        e.file,
                        e.line,
                        format!(
                            "reordered: seq {} belongs right after seq {} at {at}",
                            e.seq, b.seq
                        ),
                    );
                    continue;
                }
                _ if by_seq(e.seq + 1).is_empty() => {
                    ctx.report(
                        e.file,
                        e.line,
                        format!("inserted: seq {} does not fit the chain (neither seq {} nor {} exists)", e.seq, e.seq.saturating_sub(1), e.seq + 1),
                    );
                    continue;
                }
                _ => {}
            }
        }
        if let Some(p) = prev_entry {
            if e.seq > p.seq + 1 && index.range(p.seq + 1..e.seq).next().is_none() {
                let (from, to) = (p.seq + 1, e.seq - 1);
                let range = if from == to {
                    format!("seq {from} is")
                } else {
                    format!("seq {from}..={to} ({} records) are", to - from + 1)
                };
                ctx.report(
                    e.file,
                    e.line,
                    format!("removed: {range} missing before seq {} (records deleted or a day file removed)", e.seq),
                );
            }
        }
        // The chain link: prev must be the hash of a record with seq - 1.
        if e.seq == 1 {
            if e.prev != GENESIS {
                ctx.report(
                    e.file,
                    e.line,
                    "seq 1 does not start from the genesis hash".into(),
                );
            }
        } else if let Some(&b) = before.first() {
            let linked = before
                .iter()
                .filter_map(|&b| entries.get(b))
                .any(|b| b.hash == e.prev);
            if !linked {
                let at = entries.get(b).map(|b| ctx.at(b)).unwrap_or_default();
                ctx.report(
                    e.file,
                    e.line,
                    format!(
                        "chain broken: seq {}'s prev is not the hash of seq {} at {at} (that record \
                         was edited and re-hashed, or this one replaced)",
                        e.seq,
                        e.seq - 1
                    ),
                );
            }
        }
    }
}
