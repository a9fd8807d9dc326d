//! Day files on disk: appending one whole line per `write`, cutting back a partial line,
//! resuming the chain from the newest file, and deleting files past retention.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::chain::{parse_time, unseal, Day, HashHex, GENESIS, MAX_SEQ};
use super::event::LineHead;
use super::AuditError;

const MODE_DIR: u32 = 0o750;
const MODE_FILE: u32 = 0o640;
/// How much of a file's tail resume reads first (doubling up to the whole file).
const TAIL_CHUNK: u64 = 64 * 1024;

/// The path of `day`'s file in `dir`.
pub(crate) fn day_path(dir: &Path, day: Day) -> PathBuf {
    dir.join(format!("{}.jsonl", day.name()))
}

/// Day files in `dir`, oldest first (files whose name is not `YYYY-MM-DD.jsonl` are ignored).
pub(crate) fn list_days(dir: &Path) -> std::io::Result<Vec<(Day, PathBuf)>> {
    let mut days = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(day) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(Day::parse)
        else {
            continue;
        };
        days.push((day, entry.path()));
    }
    days.sort();
    Ok(days)
}

/// Creates `dir` (and parents) with mode 0750.
pub(crate) fn create_dir(dir: &Path) -> Result<(), AuditError> {
    DirBuilder::new()
        .recursive(true)
        .mode(MODE_DIR)
        .create(dir)
        .map_err(|source| AuditError::CreateDir {
            path: dir.to_owned(),
            source,
        })
}

/// Where the chain left off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainHead {
    /// The last sequence number written (0 for an empty log).
    pub seq: u64,
    /// The last record's hash ([`GENESIS`] for an empty log).
    pub hash: HashHex,
    /// The last record's time (the epoch for an empty log).
    pub time: SystemTime,
}

impl ChainHead {
    fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS.to_owned(),
            time: UNIX_EPOCH,
        }
    }
}

/// Finds the newest record in `dir`. A partial last line (a write cut off by a crash) is cut
/// away first: it was never acknowledged, and appending after it would corrupt the next line.
pub(crate) fn resume(dir: &Path) -> Result<ChainHead, AuditError> {
    let read_err = |path: &Path| {
        let path = path.to_owned();
        move |source| AuditError::Read { path, source }
    };
    let days = list_days(dir).map_err(read_err(dir))?;
    for (_, path) in days.iter().rev() {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(read_err(path))?;
        let len = file.metadata().map_err(read_err(path))?.len();
        let mut chunk = TAIL_CHUNK.min(len);
        loop {
            let start = len - chunk;
            let mut tail = Vec::new();
            file.seek(SeekFrom::Start(start))
                .and_then(|_| file.read_to_end(&mut tail))
                .map_err(read_err(path))?;
            let complete = match tail.iter().rposition(|&b| b == b'\n') {
                Some(nl) => nl + 1,
                None if start == 0 => 0,
                None => {
                    chunk = (chunk * 2).min(len);
                    continue;
                }
            };
            if complete < tail.len() {
                let good = start + complete as u64;
                tracing::warn!(
                    file = %path.display(),
                    cut = tail.len() - complete,
                    "audit: cutting a partial last line left by an interrupted write"
                );
                file.set_len(good).map_err(read_err(path))?;
            }
            let lines = tail.get(..complete).unwrap_or_default();
            let body = lines.strip_suffix(b"\n").unwrap_or(lines);
            let last = match body.iter().rposition(|&b| b == b'\n') {
                Some(nl) => body.get(nl + 1..).unwrap_or_default(),
                None if start == 0 => body,
                None => {
                    chunk = (chunk * 2).min(len);
                    continue;
                }
            };
            if last.is_empty() {
                break; // empty file: look at the day before
            }
            return parse_head(last).map_err(|reason| AuditError::Resume {
                path: path.clone(),
                reason,
            });
        }
    }
    Ok(ChainHead::genesis())
}

fn parse_head(line: &[u8]) -> Result<ChainHead, String> {
    let (_, hash) = unseal(line).ok_or("the last line does not end in a \"hash\" member")?;
    let head: LineHead = serde_json::from_slice(line)
        .map_err(|e| format!("the last line is not a valid record: {e}"))?;
    if head.seq > MAX_SEQ {
        return Err(format!("the last line's seq {} is out of range", head.seq));
    }
    let time = parse_time(&head.time).ok_or("the last line's time is malformed")?;
    Ok(ChainHead {
        seq: head.seq,
        hash: hash.to_owned(),
        time,
    })
}

/// The day file being appended to.
pub(crate) struct DayFile {
    /// Its day.
    pub day: Day,
    path: PathBuf,
    file: File,
    /// Length up to the end of the last complete line.
    good_len: u64,
    /// A failed write may have left bytes past `good_len` that could not be cut yet.
    dirty: bool,
}

impl DayFile {
    /// Opens (creating, mode 0640) `day`'s file in `dir` for appending.
    pub(crate) fn open(dir: &Path, day: Day) -> std::io::Result<Self> {
        let path = day_path(dir, day);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(MODE_FILE)
            .open(&path)?;
        let good_len = file.metadata()?.len();
        Ok(Self {
            day,
            path,
            file,
            good_len,
            dirty: false,
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `line` with one `write`. On a short or failed write the file is cut back to its
    /// last good length, so no partial line remains, and the error is returned.
    pub(crate) fn append(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.dirty {
            self.file.set_len(self.good_len)?;
            self.dirty = false;
        }
        let result = match self.file.write(line) {
            Ok(n) if n == line.len() => {
                self.good_len += n as u64;
                return Ok(());
            }
            Ok(n) => Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!("short write: {n} of {} bytes (no space left?)", line.len()),
            )),
            Err(e) => Err(e),
        };
        if self.file.set_len(self.good_len).is_err() {
            self.dirty = true;
        }
        result
    }

    /// Flushes data to the device (after a checkpoint).
    pub(crate) fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}

/// Deletes day files in `dir` older than `today - retention_days`; returns the deleted names.
/// `retention_days == 0` keeps everything.
pub(crate) fn apply_retention(
    dir: &Path,
    today: Day,
    retention_days: u32,
) -> std::io::Result<Vec<String>> {
    let mut deleted = Vec::new();
    if retention_days == 0 {
        return Ok(deleted);
    }
    let oldest_kept = Day(today.0 - i64::from(retention_days));
    for (day, path) in list_days(dir)? {
        if day < oldest_kept {
            std::fs::remove_file(&path)?;
            deleted.push(format!("{}.jsonl", day.name()));
        }
    }
    Ok(deleted)
}
