use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use compio::buf::BufResult;
use compio::driver::DriverType;
use compio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};

use super::*;

/// A loopback TCP echo of 256 KiB on the current runtime; checks the bytes that come back.
async fn echo_roundtrip() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = compio::runtime::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            // read() only raises len: clear first.
            buf.clear();
            let BufResult(n, b) = s.read(buf).await;
            buf = b;
            if n.expect("server read") == 0 {
                break;
            }
            let BufResult(w, b) = s.write_all(buf).await;
            w.expect("server write");
            buf = b;
        }
        s.shutdown().await.expect("server shutdown");
    });
    let data: Vec<u8> = (0..256 * 1024).map(|i| (i * 7 + 3) as u8).collect();
    let s = TcpStream::connect(addr).await.expect("connect");
    let (mut r, mut w) = s.into_split();
    let send = data.clone();
    let writer = compio::runtime::spawn(async move {
        let BufResult(res, _) = w.write_all(send).await;
        res.expect("client write");
        w.shutdown().await.expect("client shutdown");
    });
    let mut got = Vec::with_capacity(data.len() + 1);
    loop {
        got.reserve(64 * 1024);
        let BufResult(n, b) = r.append(got).await;
        got = b;
        if n.expect("client read") == 0 {
            break;
        }
    }
    writer.await.expect("writer task");
    server.await.expect("server task");
    assert!(got == data, "echo returned different bytes");
}

fn driver_of(backend: Backend) -> DriverType {
    match backend {
        Backend::IoUring => DriverType::IoUring,
        Backend::Epoll => DriverType::Poll,
    }
}

#[test]
fn epoll_mode_runs_tcp_echo() {
    let (rt, backend) = build_runtime(IoMode::Epoll).expect("epoll runtime");
    assert_eq!(backend, Backend::Epoll);
    assert_eq!(rt.driver_type(), DriverType::Poll);
    rt.block_on(echo_roundtrip());
}

#[test]
fn auto_mode_follows_the_probe_and_runs_tcp_echo() {
    let (rt, backend) = build_runtime(IoMode::Auto).expect("auto runtime");
    let expected = if probe_uring().is_ok() {
        Backend::IoUring
    } else {
        Backend::Epoll
    };
    assert_eq!(backend, expected);
    assert_eq!(rt.driver_type(), driver_of(backend));
    assert_eq!(uring_fallback_reason().is_some(), backend == Backend::Epoll);
    rt.block_on(echo_roundtrip());
}

#[test]
fn uring_mode_matches_the_probe() {
    match (probe_uring(), build_runtime(IoMode::Uring)) {
        (Ok(()), Ok((rt, backend))) => {
            assert_eq!(backend, Backend::IoUring);
            assert_eq!(rt.driver_type(), DriverType::IoUring);
            rt.block_on(echo_roundtrip());
        }
        (Err(_), Err(IoError::Uring(_))) => {}
        (p, b) => panic!("probe {p:?} but build {:?}", b.map(|(_, backend)| backend)),
    }
}

#[test]
fn errno_maps_to_the_reason() {
    let from = |errno| UringUnavailable::from_io_error(std::io::Error::from_raw_os_error(errno));
    assert!(matches!(from(libc::EPERM), UringUnavailable::Denied));
    assert!(matches!(from(libc::ENOSYS), UringUnavailable::Unsupported));
    assert!(matches!(from(libc::ENOMEM), UringUnavailable::NoMemory));
    assert!(matches!(from(libc::EINVAL), UringUnavailable::Other(_)));
    let text = UringUnavailable::Denied.to_string();
    assert!(text.contains("kernel.io_uring_disabled") && text.contains("seccomp"));
    assert!(UringUnavailable::NoMemory
        .to_string()
        .contains("RLIMIT_MEMLOCK"));
    let forced = IoError::Uring(UringUnavailable::Unsupported).to_string();
    assert!(forced.contains("--io epoll"), "{forced}");
}

fn run_group(mode: IoMode) -> Vec<Backend> {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let (seen2, done2) = (seen.clone(), done.clone());
    let group = run_threads(mode, 2, "io-test", move |index, backend| {
        let (seen, done) = (seen2.clone(), done2.clone());
        async move {
            assert!(index < 2);
            assert_eq!(
                compio::runtime::Runtime::with_current(|rt| rt.driver_type()),
                driver_of(backend)
            );
            echo_roundtrip().await;
            seen.lock().expect("lock").push(backend);
            done.fetch_add(1, Ordering::SeqCst);
        }
    })
    .expect("threads start");
    assert_eq!(group.len(), 2);
    group.join().expect("threads finish");
    assert_eq!(done.load(Ordering::SeqCst), 2);
    let v = seen.lock().expect("lock").clone();
    v
}

#[test]
fn thread_group_on_epoll() {
    assert_eq!(run_group(IoMode::Epoll), vec![Backend::Epoll; 2]);
}

#[test]
fn thread_group_on_auto() {
    let backends = run_group(IoMode::Auto);
    let expected = if probe_uring().is_ok() {
        Backend::IoUring
    } else {
        Backend::Epoll
    };
    assert_eq!(backends, vec![expected; 2]);
}

#[test]
fn thread_group_reports_a_panic() {
    let group = run_threads(IoMode::Epoll, 1, "io-panic", |_, _| async {
        panic!("deliberate test panic");
    })
    .expect("threads start");
    match group.join() {
        Err(IoError::Panicked { thread }) => assert_eq!(thread, "io-panic-0"),
        other => panic!("expected a panic report, got {other:?}"),
    }
}

mod no_uring;
