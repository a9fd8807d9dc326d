//! Thread per core: one OS thread with its own compio runtime per core.
//!
//! Threads are not pinned to cores. On a host shared with other workloads (a Kubernetes node
//! with a CPU quota but no exclusive cpuset) pinning stops the kernel from moving a thread away
//! from a busy core, which costs more than the cache locality it buys. compio can pin without
//! `unsafe` (`RuntimeBuilder::thread_affinity`) if a deployment with exclusive cores wants it.

use std::future::Future;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::{auto_backend, build_runtime, probe_uring, Backend, IoError, IoMode};

/// Running runtime threads started by [`run_threads`].
#[derive(Debug)]
pub struct ThreadGroup {
    threads: Vec<JoinHandle<()>>,
}

impl ThreadGroup {
    /// Number of threads.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether the group has no threads (never true for a group from [`run_threads`]).
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// True once every thread has ended (the caller can then [`join`](Self::join) without
    /// blocking); lets a supervising loop (configuration reload) watch the group.
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Waits until every thread's future has finished. Returns the first panic, after all
    /// threads have ended.
    pub fn join(self) -> Result<(), IoError> {
        let mut result = Ok(());
        for t in self.threads {
            let thread = t.thread().name().unwrap_or("?").to_owned();
            if t.join().is_err() && result.is_ok() {
                result = Err(IoError::Panicked { thread });
            }
        }
        result
    }
}

/// Start gate: worker threads build their runtimes, report, and then wait here until every
/// runtime is known to exist (`true`: run) or one failed (`false`: exit without running).
#[derive(Default)]
struct Gate {
    open: Mutex<Option<bool>>,
    cv: Condvar,
}

impl Gate {
    fn set(&self, run: bool) {
        // A poisoned lock only means another holder panicked; the value is still usable.
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        *g = Some(run);
        self.cv.notify_all();
    }

    fn wait(&self) -> bool {
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(run) = *g {
                return run;
            }
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Starts `threads` OS threads named `{name}-{index}`, each with its own compio runtime on the
/// backend `mode` selects, and runs `f(index, backend)` to completion on each.
///
/// `threads` is normally `std::thread::available_parallelism()`; 0 is treated as 1.
///
/// The io_uring probe runs first on the calling thread, and every thread builds its runtime
/// before any `f` starts: if any runtime cannot be built, the threads exit without running `f`
/// and the first error is returned. Once this returns `Ok`, every thread is running `f`;
/// [`ThreadGroup::join`] waits for them.
pub fn run_threads<F, Fut>(
    mode: IoMode,
    threads: usize,
    name: &str,
    f: F,
) -> Result<ThreadGroup, IoError>
where
    F: Fn(usize, Backend) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    match mode {
        IoMode::Uring => probe_uring().map_err(IoError::Uring)?,
        // Probe (and warn) once here, not racing from every thread.
        IoMode::Auto => drop(auto_backend()),
        IoMode::Epoll => {}
    }
    let f = Arc::new(f);
    let gate = Arc::new(Gate::default());
    let (report, reports) = mpsc::channel::<Result<(), IoError>>();
    let mut handles = Vec::with_capacity(threads.max(1));
    let mut failure = None;
    for index in 0..threads.max(1) {
        let (f, gate, report) = (f.clone(), gate.clone(), report.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("{name}-{index}"))
            .spawn(move || {
                // The runtime is !Send: it is built, used and dropped on this thread.
                let (rt, backend) = match build_runtime(mode) {
                    Ok(built) => {
                        let _ = report.send(Ok(()));
                        built
                    }
                    Err(e) => {
                        let _ = report.send(Err(e));
                        return;
                    }
                };
                drop(report);
                if gate.wait() {
                    rt.block_on(f(index, backend));
                }
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                failure = Some(IoError::Spawn(e));
                break;
            }
        }
    }
    drop(report);
    let mut died = false;
    for _ in 0..handles.len() {
        match reports.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            // Every sender is gone before all reports came in: a thread panicked while
            // building its runtime. The join below names it.
            Err(mpsc::RecvError) => {
                died = true;
                break;
            }
        }
    }
    let group = ThreadGroup { threads: handles };
    if failure.is_some() || died {
        gate.set(false);
        let joined = group.join();
        return Err(match (failure, joined) {
            (Some(e), _) => e,
            (None, Err(panic)) => panic,
            (None, Ok(())) => IoError::Panicked {
                thread: format!("{name}-?"),
            },
        });
    }
    gate.set(true);
    Ok(group)
}
