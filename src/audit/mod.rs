//! The audit trail: typed, hash-chained, signed records of who did what through the connector,
//! separate from logging (no log filter can switch it off).
//!
//! ```text
//!  Event ──record()──► seq, time, prev ──SHA-256──► DIR/<subaccount>/<YYYY-MM-DD>.jsonl
//!                         │                            │ every N records / T seconds:
//!                         │ write fails                └─► checkpoint signed with the connector key
//!                         ▼
//!                  pending queue (bounded, keeps seq) ──► admit() refuses: 503 (fail closed)
//! ```
//!
//! * One JSON line per record, one file per subaccount per UTC day; the chain runs across days.
//! * [`AuditSink::admit`] is the fail-closed gate before a request that will be audited;
//!   [`AuditSink::record`] appends after it. When a write fails the record keeps its sequence
//!   number in memory and is written first once the disk accepts again, so the chain has no gap.
//! * [`verify_dir`] checks a directory and names every edited, removed, inserted or reordered
//!   record by file and line. `docs/audit.md` defines the format.
//!
//! Time comes in as `now` arguments; nothing here reads the clock.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

mod chain;
mod checkpoint;
mod error;
mod event;
mod syslog;
#[cfg(test)]
mod tests;
mod verify;
mod writer;

pub use checkpoint::CheckpointSigner;
pub use error::AuditError;
pub use event::{Decision, Event, EventKind, Level};
pub use syslog::{SyslogTarget, SyslogTransport};
pub use verify::{verify_dir, ChainReport, VerifyProblem, VerifyReport};

use chain::{format_time, seal, Day, HashHex};
use event::RecordBody;
use syslog::SyslogForwarder;
use writer::{ChainHead, DayFile};

/// Default capacity of the in-memory queue of unwritten records.
pub const DEFAULT_PENDING_LIMIT: usize = 1024;
/// Default number of records between checkpoints.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 1000;
/// Default longest time between checkpoints (when records were written).
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(300);

/// How to open an [`AuditSink`].
#[derive(Debug)]
pub struct AuditOptions {
    /// The audit root; files go to `dir/<subaccount>/`.
    pub dir: PathBuf,
    /// The subaccount's directory name, e.g. `acme_default`.
    pub subaccount: String,
    /// What to record.
    pub level: Level,
    /// Day files older than this many days are deleted; 0 keeps them forever.
    pub retention_days: u32,
    /// Signs checkpoints; `None` writes none.
    pub signer: Option<CheckpointSigner>,
    /// A checkpoint after this many records (0: only by interval).
    pub checkpoint_every: u64,
    /// A checkpoint when this much time passed since the last one and records were written
    /// (zero: only by count).
    pub checkpoint_interval: Duration,
    /// Forward every record to a syslog collector too.
    pub syslog: Option<SyslogTarget>,
    /// Capacity of the queue of records waiting for the disk.
    pub pending_limit: usize,
}

impl AuditOptions {
    /// Options for `dir/<subaccount>` with level `Security`, no retention limit, no signer,
    /// the default checkpoint period, no syslog.
    pub fn new(dir: impl Into<PathBuf>, subaccount: &str) -> Self {
        Self {
            dir: dir.into(),
            subaccount: subaccount.to_owned(),
            level: Level::Security,
            retention_days: 0,
            signer: None,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            syslog: None,
            pending_limit: DEFAULT_PENDING_LIMIT,
        }
    }
}

/// A record that could not be written yet. It already has its sequence number and hash.
struct Pending {
    day: Day,
    line: Vec<u8>,
}

struct Inner {
    dir: PathBuf,
    subaccount: String,
    retention_days: u32,
    signer: Option<CheckpointSigner>,
    checkpoint_every: u64,
    checkpoint_interval: Duration,
    pending_limit: usize,
    syslog: Option<(SyslogForwarder, Option<String>)>,
    head: ChainHead,
    file: Option<DayFile>,
    pending: VecDeque<Pending>,
    last_error: String,
    since_checkpoint: u64,
    last_checkpoint: Option<SystemTime>,
    retention_checked: Option<Day>,
    #[cfg(test)]
    fail_writes: usize,
}

/// The audit sink of one subaccount. Cheap to clone; clones share the file and the chain.
#[derive(Clone)]
pub struct AuditSink {
    /// Shared by all clones so a reload's [`AuditSink::set_level`] reaches every thread.
    level: Arc<std::sync::atomic::AtomicU8>,
    inner: Option<Arc<Mutex<Inner>>>,
}

fn level_to_u8(l: Level) -> u8 {
    match l {
        Level::Off => 0,
        Level::Security => 1,
        Level::All => 2,
    }
}

fn level_from_u8(v: u8) -> Level {
    match v {
        0 => Level::Off,
        1 => Level::Security,
        _ => Level::All,
    }
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSink")
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}

impl AuditSink {
    /// Opens the sink, resuming the chain from the newest existing day file (a partial last
    /// line left by a crash is cut away). Level `Off` opens nothing.
    pub fn open(opts: AuditOptions) -> Result<Self, AuditError> {
        if opts.level == Level::Off {
            return Ok(Self::disabled());
        }
        let name = &opts.subaccount;
        let name_ok = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
        if !name_ok {
            return Err(AuditError::InvalidSubaccount { name: name.clone() });
        }
        let dir = opts.dir.join(name);
        writer::create_dir(&dir)?;
        let head = writer::resume(&dir)?;
        let syslog = match &opts.syslog {
            Some(t) => Some((SyslogForwarder::start(t)?, t.hostname.clone())),
            None => None,
        };
        let inner = Inner {
            dir,
            subaccount: opts.subaccount,
            retention_days: opts.retention_days,
            signer: opts.signer,
            checkpoint_every: opts.checkpoint_every,
            checkpoint_interval: opts.checkpoint_interval,
            pending_limit: opts.pending_limit.max(1),
            syslog,
            head,
            file: None,
            pending: VecDeque::new(),
            last_error: String::new(),
            since_checkpoint: 0,
            last_checkpoint: None,
            retention_checked: None,
            #[cfg(test)]
            fail_writes: 0,
        };
        Ok(Self {
            level: Arc::new(level_to_u8(opts.level).into()),
            inner: Some(Arc::new(Mutex::new(inner))),
        })
    }

    /// A sink at level `Off`: records nothing, admits everything.
    pub fn disabled() -> Self {
        Self {
            level: Arc::new(level_to_u8(Level::Off).into()),
            inner: None,
        }
    }

    /// The configured level.
    pub fn level(&self) -> Level {
        level_from_u8(self.level.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// True when the sink has files behind it (opened at a level other than `Off`).
    pub fn is_open(&self) -> bool {
        self.inner.is_some()
    }

    /// Changes the level for this sink and all its clones (configuration reload). A sink
    /// opened at `Off` has no files: open a new one to turn auditing on.
    pub fn set_level(&self, level: Level) {
        self.level
            .store(level_to_u8(level), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether events of `kind` are recorded at this sink's level.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.inner.is_some() && kind.recorded_at(self.level())
    }

    /// The fail-closed gate, called before serving a request that will be audited: `Err` while
    /// records are pending because a write failed (it first retries writing them). Also writes
    /// a checkpoint when the interval has passed.
    pub fn admit(&self, now: SystemTime) -> Result<(), AuditError> {
        let Some(mut inner) = self.lock() else {
            return Ok(());
        };
        inner.flush_pending();
        if !inner.pending.is_empty() {
            return Err(inner.unavailable());
        }
        inner.checkpoint_if_due(now, false)
    }

    /// Appends `ev` if [`wants`](Self::wants) it. On a write failure the record keeps its
    /// sequence number in a bounded in-memory queue, written first once the disk accepts again
    /// (no gap, no loss), and `Ok` is returned; while records are queued, [`admit`](Self::admit)
    /// refuses. When the queue is full, `Err`: the event was not recorded and took no sequence
    /// number, and the caller must refuse the request (503).
    pub fn record(&self, ev: Event, now: SystemTime) -> Result<(), AuditError> {
        if !self.wants(ev.kind) {
            return Ok(());
        }
        let Some(mut inner) = self.lock() else {
            return Ok(());
        };
        inner.flush_pending();
        if inner.pending.len() >= inner.pending_limit {
            return Err(AuditError::QueueFull {
                limit: inner.pending_limit,
                cause: inner.last_error.clone(),
            });
        }
        let time = inner.head.time.max(now);
        inner.retention(Day::of(time), time)?;
        inner.append_event(&ev, time)?;
        inner.checkpoint_if_due(time, false)
    }

    /// Periodic housekeeping (call every few seconds): retries pending records, applies
    /// retention and writes a checkpoint when the interval has passed.
    pub fn tick(&self, now: SystemTime) -> Result<(), AuditError> {
        let Some(mut inner) = self.lock() else {
            return Ok(());
        };
        inner.flush_pending();
        let time = inner.head.time.max(now);
        inner.retention(Day::of(time), time)?;
        inner.checkpoint_if_due(time, false)
    }

    /// Writes a checkpoint now if records were written since the last one (e.g. at shutdown,
    /// so no unsigned tail remains). Without a signer, does nothing.
    pub fn checkpoint(&self, now: SystemTime) -> Result<(), AuditError> {
        let Some(mut inner) = self.lock() else {
            return Ok(());
        };
        inner.flush_pending();
        let time = inner.head.time.max(now);
        inner.checkpoint_if_due(time, true)
    }

    /// Records waiting for the disk.
    pub fn pending(&self) -> usize {
        self.lock().map_or(0, |i| i.pending.len())
    }

    /// The last sequence number assigned (written or pending).
    pub fn last_seq(&self) -> u64 {
        self.lock().map_or(0, |i| i.head.seq)
    }

    /// Syslog messages dropped (queue full or collector unreachable).
    pub fn syslog_dropped(&self) -> u64 {
        self.lock()
            .and_then(|i| i.syslog.as_ref().map(|(s, _)| s.dropped()))
            .unwrap_or(0)
    }

    fn lock(&self) -> Option<MutexGuard<'_, Inner>> {
        // A panic while holding the lock cannot leave a half-written line (append cuts back),
        // so a poisoned lock's state is still consistent.
        self.inner
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    #[cfg(test)]
    fn fail_next_writes(&self, n: usize) {
        if let Some(mut i) = self.lock() {
            i.fail_writes = n;
        }
    }
}

impl Inner {
    fn unavailable(&self) -> AuditError {
        AuditError::Unavailable {
            pending: self.pending.len(),
            cause: self.last_error.clone(),
        }
    }

    /// Seals `canonical` as the next chain record and writes (or queues) it.
    fn emit(&mut self, canonical: &[u8], seq: u64, time: SystemTime, time_text: &str, kind: &str) {
        let (line, hash) = seal(canonical);
        self.head = ChainHead { seq, hash, time };
        if let Some((fwd, host)) = &self.syslog {
            let msg = syslog::format_message(
                host.as_deref(),
                time_text,
                kind,
                seq,
                &self.subaccount,
                &line,
            );
            fwd.send(msg);
        }
        let pending = Pending {
            day: Day::of(time),
            line,
        };
        if self.pending.is_empty() {
            if let Err(e) = self.write(&pending) {
                self.write_failed(e);
                self.pending.push_back(pending);
            }
        } else {
            self.pending.push_back(pending);
        }
    }

    fn write_failed(&mut self, e: std::io::Error) {
        let path = self.file.as_ref().map(|f| f.path().display().to_string());
        let msg = format!(
            "{}: {e}",
            path.unwrap_or_else(|| self.dir.display().to_string())
        );
        if self.pending.is_empty() {
            tracing::error!(error = %msg, "audit: write failed; refusing audited requests until it succeeds");
        }
        self.last_error = msg;
    }

    fn write(&mut self, rec: &Pending) -> std::io::Result<()> {
        #[cfg(test)]
        if self.fail_writes > 0 {
            self.fail_writes -= 1;
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "injected failure",
            ));
        }
        let file = match &mut self.file {
            Some(f) if f.day == rec.day => f,
            slot => slot.insert(DayFile::open(&self.dir, rec.day)?),
        };
        file.append(&rec.line)
    }

    fn flush_pending(&mut self) {
        let queued = self.pending.len();
        if queued == 0 {
            return;
        }
        while let Some(rec) = self.pending.pop_front() {
            if let Err(e) = self.write(&rec) {
                // Back in the queue first: `write_failed` logs only on the first failure.
                self.pending.push_front(rec);
                self.write_failed(e);
                return;
            }
        }
        tracing::warn!(
            written = queued,
            "audit: queued records written; admitting audited requests again"
        );
    }

    fn append_event(&mut self, ev: &Event, time: SystemTime) -> Result<(), AuditError> {
        let seq = self.head.seq + 1;
        let time_text = format_time(time);
        let prev: HashHex = self.head.hash.clone();
        let canonical = serde_json::to_vec(&RecordBody::new(ev, seq, &time_text, &prev))
            .map_err(|e| AuditError::Encode(e.to_string()))?;
        self.emit(&canonical, seq, time, &time_text, ev.kind.as_str());
        self.since_checkpoint += 1;
        self.last_checkpoint.get_or_insert(time);
        Ok(())
    }

    fn checkpoint_if_due(&mut self, now: SystemTime, force: bool) -> Result<(), AuditError> {
        if self.signer.is_none() || self.since_checkpoint == 0 {
            return Ok(());
        }
        let time = self.head.time.max(now);
        let by_count = self.checkpoint_every > 0 && self.since_checkpoint >= self.checkpoint_every;
        let by_time = !self.checkpoint_interval.is_zero()
            && self.last_checkpoint.is_some_and(|last| {
                time.duration_since(last)
                    .is_ok_and(|d| d >= self.checkpoint_interval)
            });
        if !(force || by_count || by_time) {
            return Ok(());
        }
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        let seq = self.head.seq + 1;
        let time_text = format_time(time);
        let canonical = signer.checkpoint(seq, &time_text, &self.subaccount, &self.head.hash)?;
        self.emit(
            &canonical,
            seq,
            time,
            &time_text,
            checkpoint::CHECKPOINT_KIND,
        );
        self.since_checkpoint = 0;
        self.last_checkpoint = Some(time);
        if self.pending.is_empty() {
            if let Some(f) = &self.file {
                if let Err(e) = f.sync() {
                    tracing::warn!(error = %e, "audit: fsync after checkpoint failed");
                }
            }
        }
        Ok(())
    }

    /// Once per day: deletes day files past retention and records that it did.
    fn retention(&mut self, today: Day, time: SystemTime) -> Result<(), AuditError> {
        if self.retention_days == 0 || self.retention_checked == Some(today) {
            return Ok(());
        }
        self.retention_checked = Some(today);
        let deleted = match writer::apply_retention(&self.dir, today, self.retention_days) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "audit: retention failed");
                return Ok(());
            }
        };
        if deleted.is_empty() {
            return Ok(());
        }
        let mut ev = Event::new(EventKind::Retention, &self.subaccount, "");
        ev.reason = Some(format!("older than {} days", self.retention_days));
        ev.detail = Some(format!("deleted {}", deleted.join(" ")));
        self.append_event(&ev, time)
    }
}

/// `dir/<subaccount>`: where a sink opened with these values writes.
pub fn subaccount_dir(dir: &Path, subaccount: &str) -> PathBuf {
    dir.join(subaccount)
}
