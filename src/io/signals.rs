//! SIGHUP as a synchronous event for the supervising thread.
//!
//! Reload is driven from the main thread, which has nothing else to do once the runtime threads
//! run. SIGHUP is blocked in the main thread *before* any runtime thread is spawned (threads
//! inherit the mask), so the default action (terminate) never fires and the signal stays
//! pending until [`Hangup::wait`] takes it with `sigtimedwait`. Async signals inside the runtimes
//! (SIGTERM/SIGINT drain) use compio's handlers and are not affected by this mask.

use std::io;
use std::time::Duration;

/// Proof that SIGHUP is blocked in this thread; the way to wait for it.
#[derive(Debug)]
pub struct Hangup {
    set: libc::sigset_t,
}

impl Hangup {
    /// Blocks SIGHUP in the calling thread and in every thread it spawns afterwards. Call it
    /// before starting runtime threads.
    pub fn block() -> io::Result<Self> {
        // SAFETY: `sigset_t` is a plain C struct; an all-zero value is a valid argument for
        // `sigemptyset`, which initialises it before any other use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, exclusively borrowed sigset_t for both calls.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGHUP);
        }
        // SAFETY: `set` is initialised; a null old-set pointer is allowed by pthread_sigmask.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Hangup { set })
    }

    /// Waits up to `timeout` for a SIGHUP. `Ok(true)` if one was taken, `Ok(false)` on timeout
    /// or when another signal interrupted the wait.
    pub fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: `self.set` is an initialised sigset_t, `ts` a valid timespec, and a null
        // siginfo pointer is allowed.
        let rc = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
        if rc == libc::SIGHUP {
            return Ok(true);
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(false),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_sighup_is_taken_by_wait_and_not_fatal() {
        // Runs in its own thread so the mask does not leak into other tests' threads.
        std::thread::spawn(|| {
            let hup = Hangup::block().expect("block SIGHUP");
            assert!(!hup.wait(Duration::from_millis(10)).expect("wait"));
            // SAFETY: pthread_self is always valid; SIGHUP is blocked in this thread, so it
            // stays pending for sigtimedwait instead of terminating the process.
            let rc = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGHUP) };
            assert_eq!(rc, 0);
            assert!(hup.wait(Duration::from_secs(5)).expect("wait"));
            assert!(!hup.wait(Duration::from_millis(10)).expect("wait"));
        })
        .join()
        .expect("thread");
    }
}
