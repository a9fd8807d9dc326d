//! SIGTERM drains the connector: GOAWAY on its tunnel, the stream in flight finishes, then the
//! process exits 0 (and does not reconnect). The real binary runs as a child process; the
//! relay side is played by the test.

use sallyport::demo::backends;
use sallyport::proto::h2::{Config, RequestHead, Role};
use sallyport::tls::Identity;
use sallyport::tunnel::{StreamEvent, TlsTransport, Tunnel};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigterm_lets_the_open_stream_finish_then_exits() {
    let dir = std::env::temp_dir().join(format!("sallyport-drain-{}", std::process::id()));
    let id = Identity::new("acme", "berlin").unwrap();
    let mut req = sallyport::pki::PkiRequest::new(&dir);
    req.connectors.push(id.clone());
    req.force = true;
    sallyport::pki::generate(&req).unwrap();
    let stem = sallyport::pki::connector_file_stem(&id);
    let f = |n: &str| dir.join(n);
    let backend = backends::http_backend().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay = listener.local_addr().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sallyport"))
        .arg("connector")
        .args(["--relay", &relay.to_string(), "--tunnels", "1"])
        .arg("--ca")
        .arg(f("ca.pem"))
        .arg("--cert")
        .arg(f(&format!("{stem}.pem")))
        .arg("--key")
        .arg(f(&format!("{stem}.key")))
        .args(["--map", &format!("erp.virtual:80={}", backend.addr)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let tls = sallyport::tls::relay_server_config(&f("ca.pem"), &f("relay.pem"), &f("relay.key"))
        .unwrap();
    let total: usize = 20_000_000;
    let rt = compio::runtime::Runtime::new().unwrap();
    let (received, saw_goaway) = rt.block_on(async move {
        let listener = compio::net::TcpListener::from_std(listener).unwrap();
        let (sock, _) = compio::time::timeout(Duration::from_secs(20), listener.accept())
            .await
            .expect("the connector dialled in")
            .unwrap();
        let (r, w, _) = sallyport::io::tls::accept(sock, tls, Duration::from_secs(5))
            .await
            .unwrap();
        let tunnel = Tunnel::new(Role::Client, Config::default());
        let runner = {
            let t = tunnel.clone();
            compio::runtime::spawn(async move { t.run(TlsTransport(r, w)).await })
        };
        let path = format!("/bytes/{total}");
        let stream = tunnel
            .open(
                &RequestHead::new("GET", "http", "erp.virtual:80", &path),
                true,
            )
            .unwrap();
        let mut received = 0usize;
        let mut signalled = false;
        while let Some(ev) = stream.next().await {
            match ev {
                StreamEvent::Response { head, .. } => assert_eq!(head.status, 200),
                StreamEvent::Data { data, end_stream } => {
                    received += data.len();
                    stream.release(data.len());
                    if !signalled && received > 0 {
                        signalled = true;
                        let ok = Command::new("kill")
                            .args(["-TERM", &pid.to_string()])
                            .status();
                        assert!(
                            ok.map(|s| s.success()).unwrap_or(false),
                            "kill -TERM failed"
                        );
                        // Let the GOAWAY arrive before the rest of the body is read.
                        compio::time::sleep(Duration::from_millis(200)).await;
                    }
                    if end_stream {
                        break;
                    }
                }
                other => panic!("stream ended early: {other:?}"),
            }
        }
        let saw_goaway = !tunnel.is_usable();
        drop(stream);
        let _ = compio::time::timeout(Duration::from_secs(10), runner).await;
        (received, saw_goaway)
    });
    assert_eq!(received, total, "the stream in flight must finish");
    assert!(saw_goaway, "the connector sent GOAWAY on SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the connector did not exit after draining");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    let _ = std::fs::remove_dir_all(&dir);
}
