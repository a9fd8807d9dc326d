//! The command-line pieces the network-namespace testbed drives: `sallyport backend` (a test
//! tool serving the sample backends on chosen addresses) and `--keepalive-secs` on relay and
//! connector. The real binary runs as a child process on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn sallyport(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sallyport"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the sallyport binary")
}

/// Kills the child when the test ends, passed or not.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sallyport backend ARGS` and returns it with the addresses it logged, in order.
fn start_backend(args: &[&str], expect: usize) -> (KillOnDrop, Vec<SocketAddr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sallyport"))
        .arg("backend")
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sallyport backend");
    let stderr = child.stderr.take().expect("piped stderr");
    let child = KillOnDrop(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("addr=").nth(1) {
                let addr = addr.split_whitespace().next().unwrap_or_default();
                if tx.send(addr.parse::<SocketAddr>()).is_err() {
                    return;
                }
            }
        }
    });
    let addrs = (0..expect)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(20))
                .expect("the backend logs its listening address")
                .expect("a socket address in the log line")
        })
        .collect();
    (child, addrs)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

#[test]
fn backend_serves_http_and_echo_on_the_given_addresses() {
    let (_child, addrs) = start_backend(&["--http", "127.0.0.1:0", "--echo", "127.0.0.1:0"], 2);
    let (http, echo) = (addrs[0], addrs[1]);

    let mut s = connect(http);
    s.write_all(b"GET /orders?id=7 HTTP/1.1\r\nhost: erp.virtual\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("\"path\":\"/orders?id=7\""), "{resp}");
    assert!(resp.contains("\"host\":\"erp.virtual\""), "{resp}");

    let mut s = connect(echo);
    s.write_all(b"hello testbed").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"hello testbed");
}

#[test]
fn backend_without_addresses_says_what_to_give() {
    let out = sallyport(&["backend"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--http ADDR"), "{err}");
}

#[test]
fn backend_on_a_taken_address_names_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = sallyport(&["backend", "--echo", &addr]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("--echo {addr}: cannot listen")),
        "{err}"
    );
}

#[test]
fn keepalive_secs_must_be_at_least_one() {
    let common = ["--ca", "ca.pem", "--cert", "c.pem", "--key", "c.key"];
    for (cmd, extra) in [
        ("relay", ["--trusted-tenant", "t"]),
        ("connector", ["--relay", "127.0.0.1:9"]),
    ] {
        let mut args = vec![cmd];
        args.extend(common);
        args.extend(extra);
        args.extend(["--keepalive-secs", "0"]);
        let out = sallyport(&args);
        assert!(!out.status.success(), "{cmd} accepted --keepalive-secs 0");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--keepalive-secs"), "{cmd}: {err}");
    }
}
