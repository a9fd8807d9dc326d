//! How the load generator reaches the backend: the pluggable "connect step". Every workload
//! dials through a [`Dialer`] and then speaks plain HTTP/1.1 on the stream it gets back, so a
//! tunnel is measured carrying exactly the bytes the direct path carries.
//!
//! Spec strings (the driver passes them; addresses are parameters so the same workloads can
//! run across network namespaces later):
//! * `direct:HOST:PORT` — plain TCP to the backend (or to a TCP-forwarding tunnel's entry).
//! * `connect:PROXY:PORT/TARGET:TPORT` — HTTP/1.1 `CONNECT TARGET:TPORT` through a proxy.
//! * `socks5:PROXY:PORT/TARGET:TPORT[#USER:PASS]` — SOCKS5 CONNECT with a domain-name
//!   address, no authentication or RFC 1929 user/password.
//! * `proxy:PROXY:PORT/TARGET:TPORT` — an HTTP forward proxy used the plain way: TCP to the
//!   proxy, requests in absolute form (`GET http://TARGET:TPORT/path`), see
//!   [`Dialer::request_prefix`].

use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A way to open a byte stream to the backend.
#[derive(Clone, Debug)]
pub enum Dialer {
    /// Plain TCP.
    Direct {
        /// `host:port` to dial.
        addr: String,
    },
    /// HTTP CONNECT through a forward proxy.
    HttpConnect {
        /// The proxy's `host:port`.
        proxy: String,
        /// The authority named in the CONNECT request.
        target: String,
    },
    /// Absolute-form HTTP requests to a forward proxy (no tunnel: the proxy routes each request).
    HttpProxy {
        /// The proxy's `host:port`.
        proxy: String,
        /// The `host:port` named in every request's target.
        target: String,
    },
    /// SOCKS5 CONNECT.
    Socks5 {
        /// The SOCKS server's `host:port`.
        proxy: String,
        /// Target host (sent as a domain name).
        host: String,
        /// Target port.
        port: u16,
        /// RFC 1929 credentials; `None` offers only "no authentication".
        auth: Option<(String, String)>,
    },
}

fn bad(spec: &str, why: &str) -> String {
    format!("dialer '{spec}': {why} (expected direct:H:P, connect:H:P/T:TP or socks5:H:P/T:TP[#user:pass])")
}

impl Dialer {
    /// Parses a spec string (see the module documentation).
    pub fn parse(spec: &str) -> Result<Dialer, String> {
        let (kind, rest) = spec.split_once(':').ok_or_else(|| bad(spec, "no kind"))?;
        match kind {
            "direct" => Ok(Dialer::Direct {
                addr: rest.to_string(),
            }),
            "connect" => {
                let (proxy, target) = rest
                    .split_once('/')
                    .ok_or_else(|| bad(spec, "no /target"))?;
                Ok(Dialer::HttpConnect {
                    proxy: proxy.into(),
                    target: target.into(),
                })
            }
            "proxy" => {
                let (proxy, target) = rest
                    .split_once('/')
                    .ok_or_else(|| bad(spec, "no /target"))?;
                Ok(Dialer::HttpProxy {
                    proxy: proxy.into(),
                    target: target.into(),
                })
            }
            "socks5" => {
                let (rest, auth) = match rest.split_once('#') {
                    Some((r, a)) => {
                        let (u, p) = a
                            .split_once(':')
                            .ok_or_else(|| bad(spec, "credentials are user:pass"))?;
                        (r, Some((u.to_string(), p.to_string())))
                    }
                    None => (rest, None),
                };
                let (proxy, target) = rest
                    .split_once('/')
                    .ok_or_else(|| bad(spec, "no /target"))?;
                let (host, port) = target
                    .rsplit_once(':')
                    .ok_or_else(|| bad(spec, "target needs :port"))?;
                let port = port
                    .parse()
                    .map_err(|_| bad(spec, "target port is not a number"))?;
                Ok(Dialer::Socks5 {
                    proxy: proxy.into(),
                    host: host.into(),
                    port,
                    auth,
                })
            }
            _ => Err(bad(spec, "unknown kind")),
        }
    }

    /// What goes before the path in a request line: `http://TARGET` for [`Dialer::HttpProxy`],
    /// nothing otherwise.
    pub fn request_prefix(&self) -> String {
        match self {
            Dialer::HttpProxy { target, .. } => format!("http://{target}"),
            _ => String::new(),
        }
    }

    /// The Host header value requests carry.
    pub fn host_header(&self) -> String {
        match self {
            Dialer::HttpProxy { target, .. } | Dialer::HttpConnect { target, .. } => target.clone(),
            Dialer::Socks5 { host, port, .. } => format!("{host}:{port}"),
            Dialer::Direct { .. } => "backend.bench".into(),
        }
    }

    /// Opens a stream to the backend, handshaking with the proxy if there is one.
    pub async fn dial(&self) -> io::Result<TcpStream> {
        match self {
            Dialer::Direct { addr } | Dialer::HttpProxy { proxy: addr, .. } => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(s)
            }
            Dialer::HttpConnect { proxy, target } => {
                let mut s = TcpStream::connect(proxy).await?;
                s.set_nodelay(true)?;
                let req = format!("CONNECT {target} HTTP/1.1\r\nhost: {target}\r\n\r\n");
                s.write_all(req.as_bytes()).await?;
                // Read the response head byte by byte so no tunnelled byte is consumed.
                let mut head = Vec::with_capacity(128);
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if head.len() > 8192 {
                        return Err(other("CONNECT response head over 8 KiB"));
                    }
                    if s.read(&mut byte).await? == 0 {
                        return Err(other("proxy closed during CONNECT"));
                    }
                    head.push(byte[0]);
                }
                let status_ok =
                    head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200");
                if !status_ok {
                    let line =
                        String::from_utf8_lossy(head.split(|b| *b == b'\r').next().unwrap_or(&[]));
                    return Err(other(&format!("CONNECT refused: {line}")));
                }
                Ok(s)
            }
            Dialer::Socks5 {
                proxy,
                host,
                port,
                auth,
            } => {
                let mut s = TcpStream::connect(proxy).await?;
                s.set_nodelay(true)?;
                let method = if auth.is_some() { 0x02 } else { 0x00 };
                s.write_all(&[0x05, 0x01, method]).await?;
                let mut reply = [0u8; 2];
                s.read_exact(&mut reply).await?;
                if reply != [0x05, method] {
                    return Err(other(&format!("SOCKS5 method refused: {reply:?}")));
                }
                if let Some((user, pass)) = auth {
                    let mut m = vec![0x01, user.len() as u8];
                    m.extend_from_slice(user.as_bytes());
                    m.push(pass.len() as u8);
                    m.extend_from_slice(pass.as_bytes());
                    s.write_all(&m).await?;
                    s.read_exact(&mut reply).await?;
                    if reply[1] != 0 {
                        return Err(other("SOCKS5 user/password refused"));
                    }
                }
                let mut m = vec![0x05, 0x01, 0x00, 0x03, host.len() as u8];
                m.extend_from_slice(host.as_bytes());
                m.extend_from_slice(&port.to_be_bytes());
                s.write_all(&m).await?;
                let mut head = [0u8; 4];
                s.read_exact(&mut head).await?;
                if head[1] != 0 {
                    return Err(other(&format!(
                        "SOCKS5 CONNECT failed with reply code {}",
                        head[1]
                    )));
                }
                let rest = match head[3] {
                    0x01 => 4 + 2,
                    0x04 => 16 + 2,
                    0x03 => {
                        let mut len = [0u8; 1];
                        s.read_exact(&mut len).await?;
                        len[0] as usize + 2
                    }
                    t => return Err(other(&format!("SOCKS5 reply address type {t}"))),
                };
                let mut skip = vec![0u8; rest];
                s.read_exact(&mut skip).await?;
                Ok(s)
            }
        }
    }
}

fn other(msg: &str) -> io::Error {
    io::Error::other(msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert!(
            matches!(Dialer::parse("direct:127.0.0.1:9"), Ok(Dialer::Direct { addr }) if addr == "127.0.0.1:9")
        );
        match Dialer::parse("connect:127.0.0.1:20003/erp.virtual:80") {
            Ok(Dialer::HttpConnect { proxy, target }) => {
                assert_eq!(
                    (proxy.as_str(), target.as_str()),
                    ("127.0.0.1:20003", "erp.virtual:80")
                )
            }
            other => panic!("{other:?}"),
        }
        match Dialer::parse("socks5:127.0.0.1:20004/erp.virtual:443#u:p:w") {
            Ok(Dialer::Socks5 {
                proxy,
                host,
                port,
                auth,
            }) => {
                assert_eq!(proxy, "127.0.0.1:20004");
                assert_eq!((host.as_str(), port), ("erp.virtual", 443));
                assert_eq!(auth, Some(("u".into(), "p:w".into())));
            }
            other => panic!("{other:?}"),
        }
        let p = Dialer::parse("proxy:127.0.0.1:20003/bench.http:80").expect("proxy spec");
        assert_eq!(p.request_prefix(), "http://bench.http:80");
        assert_eq!(p.host_header(), "bench.http:80");
    }

    #[test]
    fn rejects_malformed_specs() {
        for bad in [
            "",
            "direct",
            "tcp:1.2.3.4:5",
            "connect:1.2.3.4:5",
            "socks5:1.2.3.4:5/host",
            "socks5:h:1/t:x",
        ] {
            assert!(Dialer::parse(bad).is_err(), "{bad} accepted");
        }
    }

    /// A SOCKS5 server stub on loopback: checks the greeting and CONNECT request bytes.
    #[tokio::test]
    async fn socks5_handshake_bytes() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.expect("accept");
            let mut greet = [0u8; 3];
            s.read_exact(&mut greet).await.expect("greeting");
            assert_eq!(greet, [5, 1, 0]);
            s.write_all(&[5, 0]).await.expect("method");
            let mut req = [0u8; 5 + 4 + 2];
            s.read_exact(&mut req).await.expect("request");
            assert_eq!(&req[..5], &[5, 1, 0, 3, 4]);
            assert_eq!(&req[5..9], b"host");
            assert_eq!(&req[9..], &8080u16.to_be_bytes());
            s.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 80])
                .await
                .expect("reply");
            s.write_all(b"payload").await.expect("payload");
        });
        let d = Dialer::parse(&format!("socks5:{addr}/host:8080")).expect("spec");
        let mut s = d.dial().await.expect("dial");
        let mut got = [0u8; 7];
        s.read_exact(&mut got).await.expect("payload");
        assert_eq!(&got, b"payload");
        server.await.expect("server");
    }
}
