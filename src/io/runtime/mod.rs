//! Backend selection (io_uring or epoll) with errors that say what to change, and a
//! thread-per-core runner.
//!
//! compio's `fusion` driver can pick a backend by itself, but when it falls back it only logs
//! through its own logger and never says *why*, and a forced io_uring build returns a bare
//! `Operation not permitted`. So the choice is made here: [`probe_uring`] sets up a ring the
//! same way the runtime will and maps the errno to a [`UringUnavailable`] that names the cause
//! and the fix; [`build_runtime`] then forces compio's driver to the chosen backend.
//!
//! | `--io`  | io_uring works | io_uring unavailable                                   |
//! |---------|----------------|--------------------------------------------------------|
//! | `auto`  | io_uring       | epoll, with one warning per process naming the reason  |
//! | `uring` | io_uring       | [`IoError::Uring`]                                     |
//! | `epoll` | epoll          | epoll                                                  |

#[cfg(test)]
mod tests;
mod threads;

pub use threads::{run_threads, ThreadGroup};

use std::fmt;
use std::sync::{Once, OnceLock};

use compio::driver::{op::OpCodeFlag, DriverType, ProactorBuilder};
use compio::runtime::Runtime;

/// Which I/O backend to use (the `--io` command-line option).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IoMode {
    /// io_uring when the kernel and the sandbox allow it, otherwise epoll (with a warning).
    Auto,
    /// io_uring or nothing: start-up fails with the reason if it is unavailable.
    Uring,
    /// epoll, without trying io_uring.
    Epoll,
}

/// The backend a runtime actually runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Linux io_uring: completion-based, supports zero-copy send.
    IoUring,
    /// epoll readiness polling.
    Epoll,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::IoUring => "io_uring",
            Backend::Epoll => "epoll",
        })
    }
}

/// Why io_uring cannot be used on this host, classified by the errno of the ring setup.
///
/// The `Display` text names the cause and what to change; it does not mention `--io`, because
/// the same text is used when `auto` falls back by itself ([`IoError::Uring`] adds that hint).
#[derive(Debug)]
pub enum UringUnavailable {
    /// `EPERM`: a seccomp profile (Docker's and Kubernetes' default profiles block io_uring) or
    /// `sysctl kernel.io_uring_disabled` (1 without the `io_uring_group`, or 2) forbids it.
    Denied,
    /// `ENOSYS`: the kernel has no io_uring (built without `CONFIG_IO_URING`, or older than 5.1)
    /// or a sandbox such as gVisor does not implement it.
    Unsupported,
    /// `ENOMEM`: the ring could not be allocated, usually because `RLIMIT_MEMLOCK` is too low
    /// (kernels before 5.12 charge rings to it).
    NoMemory,
    /// Any other failure, for example a kernel that lacks an operation compio needs.
    Other(std::io::Error),
}

impl UringUnavailable {
    /// Classifies the error of a ring setup by its errno.
    pub fn from_io_error(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::EPERM) => UringUnavailable::Denied,
            Some(libc::ENOSYS) => UringUnavailable::Unsupported,
            Some(libc::ENOMEM) => UringUnavailable::NoMemory,
            _ => UringUnavailable::Other(e),
        }
    }
}

impl fmt::Display for UringUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UringUnavailable::Denied => f.write_str(
                "io_uring is blocked (EPERM): the seccomp profile or `sysctl kernel.io_uring_disabled` \
                 forbids it; allow io_uring_setup/io_uring_enter/io_uring_register in the profile or \
                 set kernel.io_uring_disabled=0",
            ),
            UringUnavailable::Unsupported => f.write_str(
                "io_uring is not implemented (ENOSYS): the kernel was built without CONFIG_IO_URING \
                 or is older than 5.1, or a sandbox such as gVisor does not provide it; use a kernel \
                 or runtime that has io_uring",
            ),
            UringUnavailable::NoMemory => f.write_str(
                "io_uring ring setup ran out of locked memory (ENOMEM): RLIMIT_MEMLOCK is too low; \
                 raise it (`ulimit -l`, LimitMEMLOCK= in the systemd unit, or the container's \
                 memlock ulimit)",
            ),
            UringUnavailable::Other(e) => write!(f, "io_uring setup failed: {e}"),
        }
    }
}

impl std::error::Error for UringUnavailable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UringUnavailable::Other(e) => Some(e),
            _ => None,
        }
    }
}

/// Errors from building runtimes and running their threads.
#[derive(Debug)]
pub enum IoError {
    /// `--io uring` was requested but io_uring cannot be used here.
    Uring(UringUnavailable),
    /// Building an epoll runtime failed (for example `EMFILE` from `epoll_create1`/`eventfd`).
    Runtime(std::io::Error),
    /// The operating system refused to start a thread.
    Spawn(std::io::Error),
    /// A runtime thread panicked; the payload was printed by the panic hook.
    Panicked {
        /// Name of the thread.
        thread: String,
    },
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IoError::Uring(r) => {
                write!(
                    f,
                    "--io uring was requested but {r}; or run with --io epoll (or auto)"
                )
            }
            IoError::Runtime(e) => write!(f, "cannot build the epoll I/O runtime: {e}"),
            IoError::Spawn(e) => write!(f, "cannot start an I/O thread: {e}"),
            IoError::Panicked { thread } => write!(f, "I/O thread {thread} panicked"),
        }
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IoError::Uring(r) => Some(r),
            IoError::Runtime(e) | IoError::Spawn(e) => Some(e),
            IoError::Panicked { .. } => None,
        }
    }
}

/// The proactor configuration every runtime of a backend uses, so that the probe sets up the
/// same ring the runtime will (an ENOMEM depends on the ring size).
fn proactor(backend: Backend) -> ProactorBuilder {
    let mut pb = ProactorBuilder::new();
    match backend {
        Backend::IoUring => pb.driver_type(DriverType::IoUring),
        Backend::Epoll => pb.driver_type(DriverType::Poll),
    };
    pb
}

/// Checks whether io_uring can be used, by setting up (and dropping) a ring like the one the
/// runtime uses, then checking that the kernel supports the operations compio needs.
///
/// Runs the check afresh on every call (a few ring setups, well under a millisecond).
pub fn probe_uring() -> Result<(), UringUnavailable> {
    let mut pb = proactor(Backend::IoUring);
    // First without the opcode check: compio's opcode probe swallows the setup errno, and the
    // errno is what tells EPERM (policy) from ENOSYS (kernel) from ENOMEM (limits).
    pb.build().map_err(UringUnavailable::from_io_error)?;
    // Then as compio's own auto mode does: every basic operation must be supported, or compio
    // would silently emulate it on a blocking thread pool.
    pb.detect_opcode_support(OpCodeFlag::basic());
    pb.build().map_err(UringUnavailable::from_io_error)?;
    Ok(())
}

/// Outcome of the process-wide probe that [`IoMode::Auto`] uses.
static AUTO_PROBE: OnceLock<Result<(), UringUnavailable>> = OnceLock::new();

/// The backend `auto` runs on; probes once per process and warns once if io_uring is out.
fn auto_backend() -> Backend {
    match AUTO_PROBE.get_or_init(|| {
        let r = probe_uring();
        if let Err(reason) = &r {
            tracing::warn!("io_uring unavailable: {reason}; using epoll");
        }
        r
    }) {
        Ok(()) => Backend::IoUring,
        Err(_) => Backend::Epoll,
    }
}

/// Why [`IoMode::Auto`] fell back to epoll in this process, if it did (`None` when io_uring is
/// in use or `auto` has not been used yet). For status pages and metrics.
pub fn uring_fallback_reason() -> Option<&'static UringUnavailable> {
    AUTO_PROBE.get().and_then(|r| r.as_ref().err())
}

/// Logs the backend once per process, at the first runtime built.
fn log_backend_once(mode: IoMode, backend: Backend) {
    static LOGGED: Once = Once::new();
    LOGGED.call_once(|| tracing::info!(?mode, "I/O backend: {backend}"));
}

fn build_with(backend: Backend) -> std::io::Result<Runtime> {
    let mut pb = proactor(backend);
    if backend == Backend::IoUring {
        pb.detect_opcode_support(OpCodeFlag::basic());
    }
    Runtime::builder().with_proactor(pb).build()
}

fn build_uring() -> Result<Runtime, UringUnavailable> {
    // The probe classifies a failure by errno; the build below would report a missing ring as
    // "does not support opcode" (see `probe_uring`).
    probe_uring()?;
    build_with(Backend::IoUring).map_err(UringUnavailable::from_io_error)
}

/// Builds a compio runtime for the calling thread on the backend `mode` asks for.
///
/// * With [`IoMode::Auto`], io_uring if [`probe_uring`] passes (probed once per process), else epoll
///   with a single `warn` log line naming the reason ([`uring_fallback_reason`] keeps it).
///   If the process-wide probe passed but this thread's ring cannot be set up (for example
///   `RLIMIT_MEMLOCK` exhausted by earlier rings), this thread falls back to epoll with its own
///   warning.
/// * With [`IoMode::Uring`], io_uring or [`IoError::Uring`].
/// * With [`IoMode::Epoll`], epoll, without probing.
///
/// The chosen backend is logged at `info` once per process.
pub fn build_runtime(mode: IoMode) -> Result<(Runtime, Backend), IoError> {
    let epoll = || build_with(Backend::Epoll).map_err(IoError::Runtime);
    let built = match mode {
        IoMode::Epoll => (epoll()?, Backend::Epoll),
        IoMode::Uring => (build_uring().map_err(IoError::Uring)?, Backend::IoUring),
        IoMode::Auto => match auto_backend() {
            Backend::Epoll => (epoll()?, Backend::Epoll),
            Backend::IoUring => match build_uring() {
                Ok(rt) => (rt, Backend::IoUring),
                Err(reason) => {
                    tracing::warn!(
                        "io_uring unavailable for this thread: {reason}; using epoll on it"
                    );
                    (epoll()?, Backend::Epoll)
                }
            },
        },
    };
    log_backend_once(mode, built.1);
    Ok(built)
}
