//! A host without io_uring, simulated with a seccomp filter that makes `io_uring_setup(2)` fail
//! with a chosen errno: EPERM is what Docker's default profile and `kernel.io_uring_disabled`
//! give, ENOSYS what a kernel without io_uring or gVisor gives.
//!
//! The checks run in a child process (this test binary re-executed with an environment
//! variable), because a seccomp filter cannot be removed and compio caches its io_uring probe
//! for the whole process.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::super::*;
use super::echo_roundtrip;

const CHILD_ENV: &str = "SALLYPORT_IO_TEST_BLOCK_URING";
const CHILD_TEST: &str = "io::runtime::tests::no_uring::child_without_uring";

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// Installs a seccomp filter on the calling thread (inherited by threads it starts later) that
/// fails `io_uring_setup` with `errno` and allows everything else.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn block_io_uring_setup(errno: i32) -> std::io::Result<()> {
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    let mut filter = [
        stmt(load, 4), // seccomp_data.arch
        jeq(AUDIT_ARCH, 0, 3),
        stmt(load, 0), // seccomp_data.nr
        jeq(libc::SYS_io_uring_setup as u32, 0, 1),
        stmt(ret, libc::SECCOMP_RET_ERRNO | (errno as u32 & 0xffff)),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integer arguments and touches no memory of ours.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `prog` points at `filter`, a valid BPF program of `prog.len` instructions; both
    // live until after the call, and the kernel copies the program before returning.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Parent: runs [`child_without_uring`] in a fresh process for EPERM and for ENOSYS.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn uring_blocked_by_seccomp_in_a_child_process() {
    let exe = std::env::current_exe().expect("test binary path");
    for which in ["eperm", "enosys"] {
        let out = Command::new(&exe)
            .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, which)
            .output()
            .expect("run child test process");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains(&format!("no-uring child passed: {which}")),
            "child ({which}) failed: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status
        );
    }
}

/// Child: does nothing unless started by the parent above with the environment variable set.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn child_without_uring() {
    let Ok(which) = std::env::var(CHILD_ENV) else {
        return;
    };
    let errno = match which.as_str() {
        "eperm" => libc::EPERM,
        "enosys" => libc::ENOSYS,
        other => panic!("unknown {CHILD_ENV}={other}"),
    };
    block_io_uring_setup(errno).expect("install seccomp filter");
    let is_expected = |r: &UringUnavailable| match errno {
        libc::EPERM => matches!(r, UringUnavailable::Denied),
        _ => matches!(r, UringUnavailable::Unsupported),
    };

    let probe = probe_uring().expect_err("io_uring must be blocked");
    assert!(is_expected(&probe), "probe said {probe:?}");

    match build_runtime(IoMode::Uring) {
        Err(IoError::Uring(r)) => assert!(is_expected(&r), "forced io_uring said {r:?}"),
        other => panic!("forced io_uring: {:?}", other.map(|(_, b)| b)),
    }

    // The failure surfaces before any thread runs its future.
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    let started = run_threads(IoMode::Uring, 2, "no-uring", move |_, _| {
        ran2.store(true, Ordering::SeqCst);
        async {}
    });
    assert!(matches!(started, Err(IoError::Uring(_))), "{started:?}");
    assert!(
        !ran.load(Ordering::SeqCst),
        "f ran although io_uring is missing"
    );

    // auto falls back to epoll, keeps the reason, and works.
    let (rt, backend) = build_runtime(IoMode::Auto).expect("auto falls back");
    assert_eq!(backend, Backend::Epoll);
    let reason = uring_fallback_reason().expect("fallback reason kept");
    assert!(is_expected(reason), "fallback reason {reason:?}");
    rt.block_on(echo_roundtrip());
    let group = run_threads(IoMode::Auto, 2, "no-uring-auto", |_, backend| async move {
        assert_eq!(backend, Backend::Epoll);
        echo_roundtrip().await;
    })
    .expect("auto threads start on epoll");
    group.join().expect("auto threads finish");

    println!("no-uring child passed: {which}");
}
