//! Idle deadlines on spliced streams: a SOCKS5 or CONNECT stream that moves no byte either way
//! for `idle_timeout_secs` is closed, at the relay or at the connector, whichever limit is
//! shorter; traffic in either direction keeps it open.

use sallyport::demo::{self, socks, StackOptions};
use sallyport::proto::socks5::Address;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The short limit under test; the other side keeps the default (ten minutes).
const LIMIT: Duration = Duration::from_millis(1500);
/// Pause between echoes while the stream must stay open: far below the limit, so only a
/// stall of over a second on the test machine could close it early.
const TICK: Duration = Duration::from_millis(250);

/// A read that starts again when a signal interrupts it (the socket has a read timeout, so
/// the kernel does not restart it).
fn read(sock: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match sock.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// One byte out and its echo back.
fn ping(sock: &mut TcpStream, i: u8) {
    sock.write_all(&[i]).expect("send");
    let mut b = [0u8; 1];
    match read(sock, &mut b) {
        Ok(1) => assert_eq!(b[0], i),
        Ok(_) => panic!("closed after {i} pings while traffic flowed"),
        Err(e) => panic!("ping {i}: {e}"),
    }
}

/// Keeps the stream busy for more than twice the limit, then goes quiet and waits for the
/// close, which must come no sooner than the limit allows.
fn closed_only_when_quiet(opts: StackOptions) {
    let stack = demo::start(&opts).expect("demo stack starts");
    let target = Address::Domain("ldap.virtual".into());
    let mut sock =
        socks::open(stack.socks, socks::SocksAuth::Nothing, &target, 389).expect("SOCKS5");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let busy = Instant::now();
    let mut i = 0u8;
    while busy.elapsed() < 2 * LIMIT + Duration::from_millis(500) {
        ping(&mut sock, i);
        i = i.wrapping_add(1);
        std::thread::sleep(TICK);
    }
    let quiet = Instant::now();
    let mut b = [0u8; 16];
    match read(&mut sock, &mut b) {
        Ok(0) => {}
        Ok(n) => panic!("{n} unexpected bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("waiting for the idle close: {e}"),
    }
    let quiet = quiet.elapsed();
    assert!(
        quiet >= LIMIT - 2 * TICK,
        "closed after only {quiet:?} of quiet"
    );
}

#[test]
fn the_relay_closes_a_quiet_splice() {
    closed_only_when_quiet(StackOptions {
        relay_idle_timeout: LIMIT,
        ..StackOptions::default()
    });
}

#[test]
fn the_connector_closes_a_quiet_splice() {
    closed_only_when_quiet(StackOptions {
        connector_idle_timeout: LIMIT,
        ..StackOptions::default()
    });
}

/// The same on the epoll backend, where waiting for readability is an epoll registration
/// rather than an io_uring `POLL_ADD`.
#[test]
fn the_relay_closes_a_quiet_splice_on_epoll() {
    closed_only_when_quiet(StackOptions {
        io: sallyport::io::runtime::IoMode::Epoll,
        relay_idle_timeout: LIMIT,
        ..StackOptions::default()
    });
}

/// Reads until the peer closes; returns what came. Fails if the read times out instead: the
/// close is what is under test.
fn read_to_close(sock: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    loop {
        match read(sock, &mut b) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("no close ({e}) after {:?}", String::from_utf8_lossy(&got)),
        }
    }
}

/// Sends `request` to the proxy door of a stack started with `opts`; returns everything that
/// came back until the relay closed the connection, and how long that took.
fn exchange(opts: StackOptions, request: &[u8]) -> (Vec<u8>, Duration) {
    let stack = demo::start(&opts).expect("demo stack starts");
    let mut sock = TcpStream::connect(stack.proxy).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    sock.write_all(request).expect("send");
    let sent = Instant::now();
    let answer = read_to_close(&mut sock);
    (answer, sent.elapsed())
}

/// An HTTP request whose body stops arriving is answered 408 once the relay's idle limit has
/// passed without a byte, and the connection closes.
#[test]
fn a_stalled_request_body_gets_408() {
    let (answer, waited) = exchange(
        StackOptions {
            relay_idle_timeout: LIMIT,
            ..StackOptions::default()
        },
        b"POST http://erp.virtual/upload HTTP/1.1\r\nhost: erp.virtual\r\ncontent-length: 100\r\n\r\n0123456789",
    );
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request body stalled"), "{answer}");
    assert!(waited >= LIMIT - TICK, "after {waited:?}");
}

/// A backend that stops in the middle of its response body: once the connector's idle limit
/// has passed without a byte, the stream is reset and the client's connection closes before
/// the announced length, which is how HTTP/1.1 says a body is cut.
#[test]
fn a_stalled_response_body_is_cut() {
    let (answer, waited) = exchange(
        StackOptions {
            connector_idle_timeout: LIMIT,
            ..StackOptions::default()
        },
        b"GET http://erp.virtual/stall HTTP/1.1\r\nhost: erp.virtual\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("content-length: 100"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n0123456789"),
        "only the 10 bytes sent: {text}"
    );
    assert!(waited >= LIMIT - TICK, "after {waited:?}");
}

/// After the client's half-close the relay's idle close must still reach the connector: the
/// backend connection is released then, not at the connector's own (longer) limit. The backend
/// here stays silent after its EOF; once the connector has let go of it, its writes fail.
#[test]
fn an_idle_close_after_the_clients_half_close_releases_the_backend() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let backend_addr = listener.local_addr().expect("addr");
    let backend = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().expect("accept");
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut b = [0u8; 64];
        // The client's FIN arrives as EOF; then stay silent past the relay's idle limit.
        while let Ok(1..) = read(&mut sock, &mut b) {}
        std::thread::sleep(LIMIT + Duration::from_millis(1500));
        // The first write may still be accepted by the kernel; the connector's close answers
        // it with a reset, and a later write fails.
        (0..10).any(|_| {
            let failed = sock.write_all(b"late").is_err();
            std::thread::sleep(Duration::from_millis(100));
            failed
        })
    });
    let stack = demo::start(&StackOptions {
        relay_idle_timeout: LIMIT,
        extra_maps: vec![format!("held.virtual:7000={backend_addr}/tcp")],
        ..StackOptions::default()
    })
    .expect("demo stack starts");
    let target = Address::Domain("held.virtual".into());
    let mut sock =
        socks::open(stack.socks, socks::SocksAuth::Nothing, &target, 7000).expect("SOCKS5");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    sock.shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    read_to_close(&mut sock);
    assert!(
        backend.join().expect("backend thread"),
        "the backend connection was still open well after the relay's idle close"
    );
}
