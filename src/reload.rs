//! Configuration reload triggers: SIGHUP, or a change of the configuration file's content.
//!
//! The supervising (main) thread runs [`supervise`]: it waits for a trigger, lets the caller
//! compile and swap the new configuration, and returns when the runtime threads end. Compiling
//! and swapping is the caller's business (relay and connector differ); the rules they follow are
//! the same: a new configuration is compiled completely before anything changes, swapped in one
//! step, and an invalid one leaves the old one running.
//!
//! The file watch compares content, not modification times (which have coarse granularity and
//! are changed by `touch`), and waits until the content has been stable for one poll interval,
//! so an editor's half-written file is not reloaded (and rejected) on the way.

use crate::io::runtime::{IoError, ThreadGroup};
use crate::io::signals::Hangup;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a reload is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP arrived.
    Signal,
    /// The file's content changed (and then stayed the same for one poll interval).
    FileChanged,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::Signal => "SIGHUP",
            Trigger::FileChanged => "file changed",
        })
    }
}

/// What a file looked like at one poll: its content's hash, or that it could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Content(u64),
    Unreadable,
}

fn look(path: &Path) -> Seen {
    match std::fs::read(path) {
        Ok(bytes) => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            Seen::Content(h.finish())
        }
        Err(_) => Seen::Unreadable,
    }
}

/// Watches one configuration file and SIGHUP.
#[derive(Debug)]
pub struct Watch {
    path: PathBuf,
    hangup: Option<Hangup>,
    poll: Duration,
    /// The content the running configuration was built from (or last triggered on).
    current: Seen,
    /// A different content seen at the last poll, waiting to be confirmed stable.
    candidate: Option<Seen>,
}

impl Watch {
    /// Starts watching `path` (its present content is the baseline). `hangup` is `None` when
    /// SIGHUP is not ours to take (embedded use, tests).
    pub fn new(path: impl Into<PathBuf>, hangup: Option<Hangup>, poll: Duration) -> Self {
        let path = path.into();
        let current = look(&path);
        Watch {
            path,
            hangup,
            poll,
            current,
            candidate: None,
        }
    }

    /// Waits up to one poll interval; `Some` when a reload is due.
    pub fn poll(&mut self) -> std::io::Result<Option<Trigger>> {
        let signalled = match &self.hangup {
            Some(h) => h.wait(self.poll)?,
            None => {
                std::thread::sleep(self.poll);
                false
            }
        };
        let now = look(&self.path);
        if signalled {
            self.current = now;
            self.candidate = None;
            return Ok(Some(Trigger::Signal));
        }
        if now == self.current {
            self.candidate = None;
            return Ok(None);
        }
        if self.candidate == Some(now) && now != Seen::Unreadable {
            self.current = now;
            self.candidate = None;
            return Ok(Some(Trigger::FileChanged));
        }
        self.candidate = Some(now);
        Ok(None)
    }
}

/// Runs reloads until every thread of `group` has ended, then joins it. `reload` is called on
/// the supervising thread for each trigger.
pub fn supervise(
    group: ThreadGroup,
    mut watch: Watch,
    mut reload: impl FnMut(Trigger),
) -> Result<(), IoError> {
    loop {
        if group.is_finished() {
            return group.join();
        }
        match watch.poll() {
            Ok(Some(trigger)) => reload(trigger),
            Ok(None) => {}
            Err(e) => {
                tracing::error!("configuration watch failed, reload by file or SIGHUP is off: {e}");
                return group.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sp-reload-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("cfg.toml");
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn a_change_triggers_once_after_it_is_stable() {
        let p = temp_file("stable", "a = 1\n");
        let mut w = Watch::new(&p, None, Duration::from_millis(1));
        assert_eq!(w.poll().expect("poll"), None, "unchanged file");
        std::fs::write(&p, "a = 2\n").expect("write");
        assert_eq!(
            w.poll().expect("poll"),
            None,
            "first sight of a change waits"
        );
        assert_eq!(w.poll().expect("poll"), Some(Trigger::FileChanged));
        assert_eq!(w.poll().expect("poll"), None, "a change triggers once");
    }

    #[test]
    fn a_file_still_being_written_does_not_trigger() {
        let p = temp_file("moving", "a = 1\n");
        let mut w = Watch::new(&p, None, Duration::from_millis(1));
        for i in 0..5 {
            std::fs::write(&p, format!("a = {}\n", i + 10)).expect("write");
            assert_eq!(
                w.poll().expect("poll"),
                None,
                "content differs at every poll"
            );
        }
        assert_eq!(w.poll().expect("poll"), Some(Trigger::FileChanged));
    }

    #[test]
    fn a_vanished_file_never_triggers_and_its_return_does() {
        let p = temp_file("vanish", "a = 1\n");
        let mut w = Watch::new(&p, None, Duration::from_millis(1));
        std::fs::remove_file(&p).expect("rm");
        for _ in 0..3 {
            assert_eq!(w.poll().expect("poll"), None);
        }
        std::fs::write(&p, "a = 3\n").expect("write");
        assert_eq!(w.poll().expect("poll"), None);
        assert_eq!(w.poll().expect("poll"), Some(Trigger::FileChanged));
    }

    #[test]
    fn a_touch_without_change_does_not_trigger() {
        let p = temp_file("touch", "a = 1\n");
        let mut w = Watch::new(&p, None, Duration::from_millis(1));
        std::fs::write(&p, "a = 1\n").expect("rewrite same content");
        assert_eq!(w.poll().expect("poll"), None);
        assert_eq!(w.poll().expect("poll"), None);
    }
}
