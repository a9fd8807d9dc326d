//! Sample backends for the demo and the integration tests: an HTTP/1.1 server that answers
//! with what it received, and a TCP echo server. Plain blocking threads on loopback: they
//! stand in for the corporate systems, not for sallyport.

use crate::proto::http1::{self, BodyKind, ChunkedDecoder, ChunkedItem, Limits};
use bytes::{Buf, BytesMut};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// A running sample backend.
pub struct Backend {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Every request line it received, in order (the proof of what was forwarded).
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// Connections that ended (the peer closed or reset them); counted by the echo backend.
    pub closed: Arc<AtomicUsize>,
}

/// Starts the HTTP backend on an ephemeral loopback port. It answers every request with 200
/// and a small JSON text naming method, path, host and body length; `GET /bytes/N` answers N
/// bytes of a fixed pattern (for large-body tests); `GET /slow` never answers; `GET /stall` sends
/// its head and 10 of the 100 body bytes it announces, then stalls.
pub fn http_backend() -> std::io::Result<Backend> {
    http_backend_on("127.0.0.1:0")
}

/// [`http_backend`] on a chosen address (the testbed binds corp-side addresses with
/// `sallyport backend`).
pub fn http_backend_on(addr: impl ToSocketAddrs) -> std::io::Result<Backend> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let requests = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (reqs, conns) = (requests.clone(), connections.clone());
    thread::Builder::new()
        .name("demo-http-backend".into())
        .spawn(move || {
            for sock in listener.incoming().flatten() {
                conns.fetch_add(1, Ordering::Relaxed);
                let reqs = reqs.clone();
                let _ = thread::Builder::new().spawn(move || serve_http(sock, reqs));
            }
        })?;
    Ok(Backend {
        addr,
        requests,
        connections,
        closed: Arc::new(AtomicUsize::new(0)),
    })
}

fn serve_http(mut sock: TcpStream, requests: Arc<Mutex<Vec<String>>>) {
    let mut buf = BytesMut::with_capacity(64 << 10);
    let mut tmp = vec![0u8; 64 << 10];
    let limits = Limits::default();
    loop {
        let head = loop {
            match http1::parse_request(&buf, &limits) {
                Ok(Some((h, used))) => {
                    buf.advance(used);
                    break h;
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = sock.write_all(&http1::error_response(e.status(), &e.to_string()));
                    return;
                }
            }
            match sock.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        };
        let path = match &head.target {
            http1::Target::Origin(p) => String::from_utf8_lossy(p).into_owned(),
            other => format!("{other:?}"),
        };
        let method = String::from_utf8_lossy(head.method.as_bytes()).into_owned();
        if let Ok(mut r) = requests.lock() {
            r.push(format!("{method} {path}"));
        }
        // Read (and count) the body.
        let mut body_len: u64 = 0;
        match head.body {
            BodyKind::Length(mut left) => {
                while left > 0 {
                    if buf.is_empty() {
                        match sock.read(&mut tmp) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    }
                    let n = (buf.len() as u64).min(left) as usize;
                    buf.advance(n);
                    left -= n as u64;
                    body_len += n as u64;
                }
            }
            BodyKind::Chunked => {
                let mut dec = ChunkedDecoder::new();
                loop {
                    match dec.decode(&mut buf) {
                        Ok(Some(ChunkedItem::Data(d))) => body_len += d.len() as u64,
                        Ok(Some(ChunkedItem::End(_))) => break,
                        Ok(None) => match sock.read(&mut tmp) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        },
                        Err(_) => return,
                    }
                }
            }
            _ => {}
        }
        if path == "/slow" {
            // Never answers: the connector's response timeout must fire.
            thread::sleep(std::time::Duration::from_secs(3600));
            return;
        }
        if path == "/stall" {
            // Answers, sends 10 of the 100 body bytes it announced, then stalls: the
            // connector's idle limit on response bodies must fire.
            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789");
            thread::sleep(std::time::Duration::from_secs(3600));
            return;
        }
        let host = head
            .header("host")
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .unwrap_or_default();
        let ok = if let Some(n) = path
            .strip_prefix("/bytes/")
            .and_then(|n| n.parse::<u64>().ok())
        {
            write_pattern(&mut sock, n)
        } else {
            let body = format!(
                "{{\"method\":\"{method}\",\"path\":\"{path}\",\"host\":\"{host}\",\"received\":{body_len}}}\n"
            );
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(resp.as_bytes()).is_ok()
        };
        if !ok || !head.keep_alive {
            return;
        }
    }
}

/// The byte at offset `i` of a `/bytes/N` body.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

fn write_pattern(sock: &mut TcpStream, n: u64) -> bool {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {n}\r\n\r\n"
    );
    if sock.write_all(head.as_bytes()).is_err() {
        return false;
    }
    let block: Vec<u8> = (0..251 * 256).map(pattern_byte).collect();
    let mut left = n;
    while left > 0 {
        let k = (block.len() as u64).min(left) as usize;
        if sock.write_all(&block[..k]).is_err() {
            return false;
        }
        left -= k as u64;
    }
    true
}

/// Starts the TCP echo backend on an ephemeral loopback port: echoes until EOF, then
/// half-closes.
pub fn tcp_echo_backend() -> std::io::Result<Backend> {
    tcp_echo_backend_on("127.0.0.1:0")
}

/// [`tcp_echo_backend`] on a chosen address.
pub fn tcp_echo_backend_on(addr: impl ToSocketAddrs) -> std::io::Result<Backend> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let connections = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let conns = connections.clone();
    let ended = closed.clone();
    thread::Builder::new()
        .name("demo-echo-backend".into())
        .spawn(move || {
            for mut sock in listener.incoming().flatten() {
                conns.fetch_add(1, Ordering::Relaxed);
                let ended = ended.clone();
                let _ = thread::Builder::new().spawn(move || {
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        match sock.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if sock.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    ended.fetch_add(1, Ordering::Relaxed);
                    let _ = sock.shutdown(Shutdown::Write);
                });
            }
        })?;
    Ok(Backend {
        addr,
        requests: Arc::new(Mutex::new(Vec::new())),
        connections,
        closed,
    })
}
