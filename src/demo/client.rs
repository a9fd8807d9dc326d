//! A small blocking HTTP/1.1 proxy client for the demo script and the integration tests.

use crate::proto::http1::{self, BodyKind, ChunkedDecoder, ChunkedItem, Limits};
use bytes::{Buf, BytesMut};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

fn connect(proxy: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect_timeout(&proxy, TIMEOUT)
        .map_err(|e| format!("connect to proxy: {e}"))?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// Sends `head` (+ `body`) and reads one response: (status, body).
pub fn exchange(sock: &mut TcpStream, head: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    sock.write_all(head.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    sock.write_all(body)
        .map_err(|e| format!("send body: {e}"))?;
    read_response(sock, false)
}

/// Reads one response from `sock`.
pub fn read_response(sock: &mut TcpStream, head_request: bool) -> Result<(u16, Vec<u8>), String> {
    let mut buf = BytesMut::new();
    let mut tmp = vec![0u8; 64 << 10];
    let mut fill = |buf: &mut BytesMut| -> Result<(), String> {
        loop {
            return match sock.read(&mut tmp) {
                Ok(0) => Err("connection closed".into()),
                Ok(n) => {
                    buf.extend_from_slice(&tmp[..n]);
                    Ok(())
                }
                // A signal landed on this thread during the read: nothing was lost, read again.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(format!("receive: {e}")),
            };
        }
    };
    let resp = loop {
        if let Some((r, used)) = http1::parse_response(&buf, &Limits::default(), head_request)
            .map_err(|e| format!("bad response: {e}"))?
        {
            buf.advance(used);
            if r.is_informational() {
                continue;
            }
            break r;
        }
        fill(&mut buf)?;
    };
    let mut body = Vec::new();
    match resp.body {
        BodyKind::Empty => {}
        BodyKind::Length(n) => {
            while (buf.len() as u64) < n {
                fill(&mut buf)?;
            }
            body.extend_from_slice(&buf[..n as usize]);
        }
        BodyKind::Chunked => {
            let mut dec = ChunkedDecoder::new();
            loop {
                match dec
                    .decode(&mut buf)
                    .map_err(|e| format!("bad chunked body: {e}"))?
                {
                    Some(ChunkedItem::Data(d)) => body.extend_from_slice(&d),
                    Some(ChunkedItem::End(_)) => break,
                    None => fill(&mut buf)?,
                }
            }
        }
        BodyKind::UntilClose => {
            body.extend_from_slice(&buf);
            while fill(&mut buf).is_ok() {}
            body = buf.to_vec();
        }
    }
    Ok((resp.status, body))
}

/// `GET url` through the proxy with extra header lines.
pub fn get(
    proxy: SocketAddr,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, Vec<u8>), String> {
    let host = host_of(url);
    let mut head = format!("GET {url} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    push_headers(&mut head, headers);
    exchange(&mut connect(proxy)?, &head, &[])
}

/// `POST url` with `body` (content-length framing) through the proxy.
pub fn post(proxy: SocketAddr, url: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    post_with(proxy, url, &[], body)
}

/// [`post`] with extra header lines.
pub fn post_with(
    proxy: SocketAddr,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let host = host_of(url);
    let mut head = format!(
        "POST {url} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    push_headers(&mut head, headers);
    exchange(&mut connect(proxy)?, &head, body)
}

fn push_headers(head: &mut String, headers: &[(&str, &str)]) {
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
}

/// The header pair `Proxy-Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> (&'static str, String) {
    ("proxy-authorization", format!("Bearer {token}"))
}

/// CONNECT to `authority`, send `payload`, half-close, and read everything echoed back.
pub fn connect_echo(proxy: SocketAddr, authority: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
    connect_echo_with(proxy, authority, &[], payload)
}

/// [`connect_echo`] with extra header lines on the CONNECT request.
pub fn connect_echo_with(
    proxy: SocketAddr,
    authority: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    let mut sock = connect(proxy)?;
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n");
    push_headers(&mut head, headers);
    sock.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut tmp = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = match sock.read(&mut tmp) {
            Ok(0) => return Err("proxy closed during CONNECT".into()),
            Ok(n) => n,
            // A signal landed on this thread during the read: nothing was lost, read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("receive CONNECT answer: {e}")),
        };
        got.extend_from_slice(&tmp[..n]);
    }
    let text = String::from_utf8_lossy(&got).to_string();
    if !text.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "CONNECT refused: {}",
            text.lines().next().unwrap_or("")
        ));
    }
    let start = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(got.len(), |p| p + 4);
    let mut echo = got[start..].to_vec();
    sock.write_all(payload).map_err(|e| e.to_string())?;
    sock.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
    loop {
        match sock.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => echo.extend_from_slice(&tmp[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("receive: {e}")),
        }
    }
    if echo != payload {
        return Err(format!("echo differs: got {} bytes", echo.len()));
    }
    Ok(echo)
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}
