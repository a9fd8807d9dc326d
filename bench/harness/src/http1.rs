//! The HTTP/1.1 both ends of every workload speak: the benchmark backend (`GET /bytes/N` and
//! `GET /small`, keep-alive) and a minimal keep-alive client.

use crate::dialer::Dialer;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Body size of `GET /small`.
pub const SMALL_BODY: usize = 1024;

/// A keep-alive client connection with its read buffer.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    prefix: String,
    host: String,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl Client {
    /// Wraps a connected stream with a 16 KiB read buffer.
    pub fn new(stream: TcpStream) -> Client {
        Client::with_buffer(stream, 16 << 10)
    }

    /// Wraps a connected stream with a `size`-byte read buffer (bulk downloads want a large one,
    /// ten thousand idle connections a small one).
    pub fn with_buffer(stream: TcpStream, size: usize) -> Client {
        Client {
            stream,
            buf: vec![0; size.max(4096)],
            filled: 0,
            prefix: String::new(),
            host: "backend.bench".into(),
        }
    }

    /// Wraps a stream `dialer` opened, writing request lines and Host headers the way that
    /// dialer's path expects (absolute form through a plain forward proxy).
    pub fn for_dialer(stream: TcpStream, dialer: &Dialer, size: usize) -> Client {
        let mut c = Client::with_buffer(stream, size);
        c.prefix = dialer.request_prefix();
        c.host = dialer.host_header();
        c
    }

    /// Sends `GET path` and reads the whole response; returns the body length.
    pub async fn get(&mut self, path: &str) -> io::Result<u64> {
        let req = format!(
            "GET {}{path} HTTP/1.1\r\nhost: {}\r\n\r\n",
            self.prefix, self.host
        );
        self.stream.write_all(req.as_bytes()).await?;
        // Head.
        let head_end = loop {
            if let Some(p) = self.buf[..self.filled]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break p + 4;
            }
            if self.filled == self.buf.len() {
                return Err(invalid("response head too large"));
            }
            let n = self.stream.read(&mut self.buf[self.filled..]).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before response head",
                ));
            }
            self.filled += n;
        };
        let head =
            std::str::from_utf8(&self.buf[..head_end]).map_err(|_| invalid("non-UTF-8 head"))?;
        if !head.starts_with("HTTP/1.1 200") {
            let line = head.lines().next().unwrap_or("");
            return Err(invalid(&format!("status line '{line}'")));
        }
        let len: u64 = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .ok_or_else(|| invalid("no content-length"))?;
        // Body: what is already buffered, then straight reads.
        let buffered = (self.filled - head_end) as u64;
        let mut remaining = len;
        if buffered >= len {
            let used = head_end + len as usize;
            self.buf.copy_within(used..self.filled, 0);
            self.filled -= used;
            return Ok(len);
        }
        remaining -= buffered;
        self.filled = 0;
        while remaining > 0 {
            let want = remaining.min(self.buf.len() as u64) as usize;
            let n = self.stream.read(&mut self.buf[..want]).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed mid-body",
                ));
            }
            remaining -= n as u64;
        }
        Ok(len)
    }
}

/// The bytes every response body is cut from: shared, so an idle backend connection costs
/// only its task and its request buffer.
static BODY: [u8; 256 << 10] = [b'x'; 256 << 10];

/// Serves one backend connection until the peer closes it.
pub async fn serve(mut s: TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    let chunk = &BODY[..];
    let mut buf = vec![0u8; 2048];
    let mut filled = 0usize;
    loop {
        let end = loop {
            if let Some(p) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if filled == buf.len() {
                return Err(invalid("request head too large"));
            }
            let n = s.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Ok(());
            }
            filled += n;
        };
        let line = std::str::from_utf8(&buf[..end])
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        buf.copy_within(end..filled, 0);
        filled -= end;
        let path = line.split(' ').nth(1).unwrap_or("");
        let body_len: u64 = if path == "/small" {
            SMALL_BODY as u64
        } else if let Some(n) = path.strip_prefix("/bytes/").and_then(|n| n.parse().ok()) {
            n
        } else {
            s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await?;
            continue;
        };
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {body_len}\r\n\r\n");
        if body_len <= SMALL_BODY as u64 {
            // One write for head and body, as a real small response would be.
            let mut out = head.into_bytes();
            out.extend_from_slice(&chunk[..body_len as usize]);
            s.write_all(&out).await?;
        } else {
            s.write_all(head.as_bytes()).await?;
            let mut left = body_len;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                s.write_all(&chunk[..n]).await?;
                left -= n as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client and the backend agree on keep-alive framing: small and large bodies in turn
    /// on one connection, and 404 is an error.
    #[tokio::test]
    async fn keep_alive_round_trips() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            let (s, _) = l.accept().await.expect("accept");
            let _ = serve(s).await;
        });
        let d = Dialer::parse(&format!("direct:{addr}")).expect("spec");
        let mut c = Client::for_dialer(d.dial().await.expect("dial"), &d, 4096);
        assert_eq!(c.get("/small").await.expect("small"), SMALL_BODY as u64);
        assert_eq!(c.get("/bytes/1000000").await.expect("bulk"), 1_000_000);
        assert_eq!(c.get("/bytes/0").await.expect("empty"), 0);
        assert_eq!(
            c.get("/small").await.expect("small again"),
            SMALL_BODY as u64
        );
        assert!(c.get("/nope").await.is_err());
    }
}
