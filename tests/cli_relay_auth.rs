//! `sallyport relay` front-door flags, against the real binary: it refuses to start without
//! any authentication, and with JWT flags it answers 407 on the proxy and offers SAP's method
//! on the SOCKS5 port.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the relay when the test ends, passing or not.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn relay_cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sallyport"));
    c.arg("relay")
        .arg("--ca")
        .arg(dir.join("ca.pem"))
        .arg("--cert")
        .arg(dir.join("relay.pem"))
        .arg("--key")
        .arg(dir.join("relay.key"))
        .args(["--tunnel-listen", &format!("127.0.0.1:{}", free_port())]);
    c
}

fn connect_when_up(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            return s;
        }
        assert!(Instant::now() < deadline, "relay did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn relay_front_door_flags() {
    let dir = std::env::temp_dir().join(format!("sallyport-cli-relay-{}", std::process::id()));
    let mut req = sallyport::pki::PkiRequest::new(&dir);
    req.force = true;
    sallyport::pki::generate(&req).unwrap();

    // No providers, users or trusted tenant: refused at start-up, saying what to add.
    let out = relay_cmd(&dir)
        .args(["--proxy-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--socks-listen", "off"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authentication is not configured"), "{err}");

    // JWT settings without an issuer are an error, not silently ignored.
    let out = relay_cmd(&dir)
        .args(["--socks-listen", "off", "--trusted-tenant", "acme"])
        .args(["--jwt-audience", "sallyport"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jwt-issuer"));

    // A bad user hash is refused too.
    let out = relay_cmd(&dir)
        .args([
            "--socks-listen",
            "off",
            "--socks-user",
            "acme:alice:plaintext",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("alice"));

    // JWT flags: a key from `token keygen`.
    let keys = dir.join("keys");
    let ok = Command::new(env!("CARGO_BIN_EXE_sallyport"))
        .args(["token", "keygen", "--out"])
        .arg(&keys)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let (proxy, socks) = (free_port(), free_port());
    let _relay = Relay(
        relay_cmd(&dir)
            .args(["--proxy-listen", &format!("127.0.0.1:{proxy}")])
            .args(["--socks-listen", &format!("127.0.0.1:{socks}")])
            .args(["--jwt-issuer", "https://idp", "--jwt-audience", "sallyport"])
            .arg("--jwt-key")
            .arg(format!("k1={}", keys.join("jwt-signing.pub.pem").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut s = connect_when_up(proxy);
    s.write_all(b"GET http://erp.virtual/ HTTP/1.1\r\nhost: erp.virtual\r\n\r\n")
        .unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp);
    assert!(resp.starts_with("HTTP/1.1 407"), "{resp}");

    let mut s = connect_when_up(socks);
    s.write_all(&[5, 2, 0x00, 0x80]).unwrap();
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).unwrap();
    assert_eq!(choice, [5, 0x80]);
    let _ = std::fs::remove_dir_all(&dir);
}
