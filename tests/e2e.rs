//! End to end over real loopback sockets: relay, connector (two mTLS tunnels), sample
//! backends, and clients speaking HTTP/1.1 to the relay's proxy front door — including real
//! `curl` when it is installed (`make test` installs it).

use sallyport::demo::{self, backends::pattern_byte, client, Stack, StackOptions};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One stack shared by the tests of this file (each stack costs threads and a PKI).
fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        // Warnings of relay and connector straight to stderr, past the test harness's
        // capture: a stream that ends early then says why in the CI log, whichever test
        // started the stack.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_writer(std::io::stderr)
            .try_init();
        demo::start(&StackOptions::default()).expect("demo stack starts")
    })
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn scripted_session_passes() {
    // The script expects the demo's settings (credentials required, a real whitelist); the
    // ports stay ephemeral so a running `sallyport demo` does not matter.
    let demo_stack = demo::start(&StackOptions {
        proxy_port: 0,
        socks_port: 0,
        ..StackOptions::demo(sallyport::io::runtime::IoMode::Auto)
    })
    .expect("demo-configured stack starts");
    assert!(demo::script(&demo_stack), "a demo step failed (see output)");
}

#[test]
fn socks5_door_of_the_default_stack() {
    use sallyport::demo::socks::{self, SocksAuth, SocksClientError};
    use sallyport::proto::socks5::Address;
    let st = stack();
    // The default stack trusts its tenant (method 0x00) and still knows the identity
    // provider (0x80) and the SOCKS5 user (0x02).
    let token = st.token().unwrap();
    let kinds = [
        SocksAuth::Nothing,
        SocksAuth::Jwt {
            token: &token,
            location: None,
        },
        SocksAuth::User {
            name: demo::SOCKS_USER,
            password: demo::SOCKS_PASSWORD,
        },
    ];
    for auth in kinds {
        let echo = socks::echo(st.socks, auth, "ldap.virtual", 389, b"64 bytes or so").unwrap();
        assert_eq!(echo, b"64 bytes or so", "{auth:?}");
    }
    let ldap = Address::Domain("ldap.virtual".into());
    // A token for a tenant without connectors: authenticated, then no connector (0x03).
    let other = st.token_for("nobody").unwrap();
    let jwt = SocksAuth::Jwt {
        token: &other,
        location: None,
    };
    match socks::open(st.socks, jwt, &ldap, 389) {
        Err(SocksClientError::Reply(0x03)) => {}
        r => panic!("expected reply 0x03, got {:?}", r.map(|_| "a stream")),
    }
    // A tampered token is refused at authentication, and the refusal is audited.
    let before = st.audit.lines().len();
    // One signature character changed (well inside the last base64url block).
    let mut bad = token.clone().into_bytes();
    let i = bad.len() - 10;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    let jwt = SocksAuth::Jwt {
        token: &bad,
        location: None,
    };
    match socks::open(st.socks, jwt, &ldap, 389) {
        Err(SocksClientError::AuthRefused(Some(0x05))) => {}
        r => panic!(
            "expected an authentication refusal, got {:?}",
            r.map(|_| "a stream")
        ),
    }
    assert!(
        st.audit.lines().len() > before,
        "the refusal was not audited"
    );
    // An HTTP system is not reachable as a TCP stream: general failure (0x01).
    match socks::open(
        st.socks,
        SocksAuth::Nothing,
        &Address::Domain("erp.virtual".into()),
        80,
    ) {
        Err(SocksClientError::Reply(0x01)) => {}
        r => panic!("expected reply 0x01, got {:?}", r.map(|_| "a stream")),
    }
}

#[test]
fn real_curl_through_the_proxy() {
    let Ok(out) = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "--proxy"])
        .arg(format!("http://{}", stack().proxy))
        .arg("http://erp.virtual/curl?x=1")
        .output()
    else {
        eprintln!("curl not installed: skipped (make test installs it)");
        return;
    };
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("\"path\":\"/curl?x=1\""), "{body}");
    // An https:// target is refused with 405 and a reason (curl sends it as CONNECT only
    // with an explicit tunnel, so ask the raw way).
    let mut s = TcpStream::connect(stack().proxy).unwrap();
    let (status, body) = client::exchange(
        &mut s,
        "GET https://erp.virtual/ HTTP/1.1\r\nhost: erp.virtual\r\n\r\n",
        &[],
    )
    .unwrap();
    assert_eq!(status, 405, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn hundred_mib_download_streams_with_bounded_memory() {
    let n: u64 = 100 << 20;
    let before = rss_kib();
    let mut s = TcpStream::connect(stack().proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!("GET http://erp.virtual/bytes/{n} HTTP/1.1\r\nhost: erp.virtual\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // Read and check the stream without keeping it: only sallyport's buffers may grow.
    let mut buf = vec![0u8; 256 << 10];
    let mut head = Vec::new();
    let mut offset: u64 = 0;
    let mut in_body = false;
    loop {
        let k = match s.read(&mut buf) {
            Ok(k) => k,
            // A read with a timeout (SO_RCVTIMEO) returns EINTR instead of restarting when
            // something interrupts this thread; seen once here, cause not pinned down (this
            // thread may have run the io_uring probe when it started the stack). Nothing was
            // read: read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("download read after {offset} bytes: {e}"),
        };
        if k == 0 {
            break;
        }
        let mut chunk = &buf[..k];
        if !in_body {
            head.extend_from_slice(chunk);
            let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let text = String::from_utf8_lossy(&head[..p]).to_string();
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            assert!(text.contains(&format!("content-length: {n}")), "{text}");
            let body_start = head[p + 4..].to_vec();
            in_body = true;
            for (i, b) in body_start.iter().enumerate() {
                assert_eq!(*b, pattern_byte(offset + i as u64));
            }
            offset += body_start.len() as u64;
            chunk = &[];
        }
        for (i, b) in chunk.iter().enumerate().step_by(997) {
            assert_eq!(
                *b,
                pattern_byte(offset + i as u64),
                "byte {}",
                offset + i as u64
            );
        }
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, n);
    let grew = rss_kib().saturating_sub(before);
    assert!(grew < 64 << 10, "RSS grew by {grew} KiB for a 100 MiB body");
}

#[test]
fn hundred_mib_upload_streams() {
    let n: usize = 100 << 20;
    let mut s = TcpStream::connect(stack().proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!("POST http://erp.virtual/upload HTTP/1.1\r\nhost: erp.virtual\r\ncontent-length: {n}\r\nconnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let block = vec![7u8; 1 << 20];
    for _ in 0..100 {
        s.write_all(&block).unwrap();
    }
    let (status, body) = client::read_response(&mut s, false).unwrap();
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(&format!("\"received\":{n}")), "{text}");
}

#[test]
fn thousand_concurrent_tunnelled_connections() {
    // 1000 CONNECT streams open at once across the two tunnels, each then echoing.
    let proxy = stack().proxy;
    let started = Instant::now();
    let mut socks = Vec::with_capacity(1000);
    for i in 0..1000 {
        let mut s = TcpStream::connect(proxy).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"CONNECT ldap.virtual:389 HTTP/1.1\r\nhost: ldap.virtual:389\r\n\r\n")
            .unwrap();
        socks.push((i, s));
    }
    for (i, s) in socks.iter_mut() {
        let mut got = Vec::new();
        let mut b = [0u8; 256];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let k = s.read(&mut b).unwrap();
            assert!(k > 0, "connection {i} closed before the CONNECT answer");
            got.extend_from_slice(&b[..k]);
        }
        assert!(
            got.starts_with(b"HTTP/1.1 200"),
            "{i}: {}",
            String::from_utf8_lossy(&got)
        );
    }
    // All 1000 streams are open at this point: every client got its 200 and none has closed.
    for (i, s) in socks.iter_mut() {
        let msg = format!("stream {i}");
        s.write_all(msg.as_bytes()).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut echo = Vec::new();
        s.read_to_end(&mut echo).unwrap();
        assert_eq!(echo, msg.as_bytes());
    }
    // Every echo came back, so the backend accepted every connection (its accept loop may
    // trail the connector's connect when 1000 arrive at once and its listen backlog overflows).
    let counted = stack()
        .echo
        .connections
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(counted >= 1000, "only {counted} backend connections");
    eprintln!("1000 concurrent CONNECT streams in {:?}", started.elapsed());
}

#[test]
fn slow_backend_gives_504_and_others_keep_working() {
    static SHORT: OnceLock<Stack> = OnceLock::new();
    let short = SHORT.get_or_init(|| {
        demo::start(&StackOptions {
            backend_timeout: Duration::from_millis(500),
            tunnels: 1,
            ..StackOptions::default()
        })
        .expect("second stack starts")
    });
    let t = Instant::now();
    let (status, body) = client::get(short.proxy, "http://erp.virtual/slow", &[]).unwrap();
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    assert!(t.elapsed() < Duration::from_secs(10));
    let (status, _) = client::get(short.proxy, "http://erp.virtual/fast", &[]).unwrap();
    assert_eq!(status, 200);
}

#[test]
fn smuggling_attempts_are_refused_before_any_backend_sees_them() {
    let before = stack().http.requests.lock().unwrap().len();
    let attacks = [
        "POST http://erp.virtual/a HTTP/1.1\r\nhost: erp.virtual\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST http://erp.virtual/a HTTP/1.1\r\nhost: erp.virtual\r\ncontent-length: 4\r\ncontent-length: 5\r\n\r\nabcd",
        "GET http://erp.virtual/a HTTP/1.1\nhost: erp.virtual\r\n\r\n",
        "GET http://erp.virtual/a HTTP/1.1\r\nhost: erp.virtual\r\nx: a\r\n b\r\n\r\n",
        "GET http://user@erp.virtual/a HTTP/1.1\r\nhost: erp.virtual\r\n\r\n",
        "GET http://erp.virtual/a HTTP/1.1\r\nhost: other.virtual\r\n\r\n",
        "GET /a HTTP/1.1\r\nhost: erp.virtual\r\n\r\n",
    ];
    for a in attacks {
        let mut s = TcpStream::connect(stack().proxy).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let (status, body) = client::exchange(&mut s, a, &[]).unwrap();
        assert_eq!(status, 400, "{a:?}: {}", String::from_utf8_lossy(&body));
    }
    // Requests from other tests may arrive meanwhile; none of these paths did.
    let seen = stack().http.requests.lock().unwrap()[before..].to_vec();
    assert!(!seen.iter().any(|r| r.ends_with(" /a")), "{seen:?}");
}
