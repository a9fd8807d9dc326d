//! The baseline a user would build instead of sallyport: a reverse tunnel from the `h2` crate and
//! tokio-rustls on tokio, written the straightforward way.
//!
//! * `h2tunnel connector --relay A --relay-name N --ca --cert --key --backend B`: dials the relay
//!   over TLS 1.3 with its client certificate and serves HTTP/2 (h2 server) on that connection;
//!   every CONNECT stream gets a fresh TCP connection to `B`, copied both ways.
//! * `h2tunnel relay --tunnel-listen A --visitor-listen V --ca --cert --key`: waits for one
//!   connector, then opens one CONNECT stream per visitor TCP connection accepted on `V`.
//!
//! Window sizes: 1 MiB per stream and 16 MiB per connection on both sides (h2's defaults are
//! the RFC's 64 KiB, which caps a stream at one window per round trip); frames stay at the
//! default 16 KiB; the connector admits up to 20 000 concurrent streams (h2's server default
//! is unlimited; stated explicitly so the idle-connection test cannot depend on it).

use bytes::{Bytes, BytesMut};
use h2::{RecvStream, SendStream};
use sallyport_bench::args::Args;
use sallyport_bench::tlsfiles;
use std::future::poll_fn;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;
const MAX_STREAMS: u32 = 20_000;
const READ_CHUNK: usize = 64 << 10;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.split_first() {
        Some((cmd, rest)) => match Args::parse(rest) {
            Ok(a) => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build();
                match (rt, cmd.as_str()) {
                    (Ok(rt), "relay") => rt.block_on(relay(a)),
                    (Ok(rt), "connector") => rt.block_on(connector(a)),
                    (Err(e), _) => Err(format!("tokio runtime: {e}")),
                    (_, other) => Err(format!("unknown subcommand '{other}': relay or connector")),
                }
            }
            Err(e) => Err(e),
        },
        None => Err("usage: h2tunnel relay|connector --flags…".into()),
    };
    if let Err(e) = result {
        eprintln!("h2tunnel: {e}");
        std::process::exit(1);
    }
}

async fn relay(a: Args) -> Result<(), String> {
    let cfg = tlsfiles::server_config(
        Path::new(a.req("ca")?),
        Path::new(a.req("cert")?),
        Path::new(a.req("key")?),
    )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let tunnel_listen = a.req("tunnel-listen")?;
    let visitor_listen = a.req("visitor-listen")?;
    let tunnels = TcpListener::bind(tunnel_listen)
        .await
        .map_err(|e| format!("tunnel listener {tunnel_listen}: {e}"))?;
    let visitors = TcpListener::bind(visitor_listen)
        .await
        .map_err(|e| format!("visitor listener {visitor_listen}: {e}"))?;
    let (tcp, _) = tunnels
        .accept()
        .await
        .map_err(|e| format!("accept connector: {e}"))?;
    tcp.set_nodelay(true).ok();
    let tls = acceptor
        .accept(tcp)
        .await
        .map_err(|e| format!("TLS handshake with the connector: {e}"))?;
    let (send, conn) = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake::<_, Bytes>(tls)
        .await
        .map_err(|e| format!("h2 handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("h2tunnel relay: tunnel connection ended: {e}");
        }
    });
    loop {
        let (visitor, _) = match visitors.accept().await {
            Ok(v) => v,
            Err(e) => {
                // EMFILE and friends: keep serving the connections we have.
                eprintln!("h2tunnel relay: accept visitor: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        visitor.set_nodelay(true).ok();
        let send = send.clone();
        tokio::spawn(async move {
            if let Err(e) = visit(visitor, send).await {
                eprintln!("h2tunnel relay: visitor: {e}");
            }
        });
    }
}

async fn visit(visitor: TcpStream, send: h2::client::SendRequest<Bytes>) -> Result<(), String> {
    let mut send = send
        .ready()
        .await
        .map_err(|e| format!("tunnel not ready: {e}"))?;
    let req = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri("backend.bench:80")
        .body(())
        .map_err(|e| e.to_string())?;
    let (resp, tx) = send
        .send_request(req, false)
        .map_err(|e| format!("open stream: {e}"))?;
    let resp = resp.await.map_err(|e| format!("CONNECT response: {e}"))?;
    if resp.status() != http::StatusCode::OK {
        return Err(format!("connector answered {}", resp.status()));
    }
    splice(visitor, tx, resp.into_body()).await;
    Ok(())
}

async fn connector(a: Args) -> Result<(), String> {
    let cfg = tlsfiles::client_config(
        Path::new(a.req("ca")?),
        Path::new(a.req("cert")?),
        Path::new(a.req("key")?),
    )?;
    let relay_addr = a.req("relay")?;
    let backend = a.req("backend")?.to_string();
    let name = rustls::pki_types::ServerName::try_from(
        a.opt("relay-name").unwrap_or("localhost").to_string(),
    )
    .map_err(|e| format!("--relay-name: {e}"))?;
    let tcp = TcpStream::connect(relay_addr)
        .await
        .map_err(|e| format!("dial relay {relay_addr}: {e}"))?;
    tcp.set_nodelay(true).ok();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with the relay: {e}"))?;
    let mut conn = h2::server::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_concurrent_streams(MAX_STREAMS)
        .handshake::<_, Bytes>(tls)
        .await
        .map_err(|e| format!("h2 handshake: {e}"))?;
    while let Some(next) = conn.accept().await {
        let (req, mut respond) = next.map_err(|e| format!("tunnel connection: {e}"))?;
        let backend = backend.clone();
        tokio::spawn(async move {
            let upstream = match TcpStream::connect(&backend).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("h2tunnel connector: dial {backend}: {e}");
                    let resp = http::Response::builder()
                        .status(502)
                        .body(())
                        .unwrap_or_default();
                    let _ = respond.send_response(resp, true);
                    return;
                }
            };
            upstream.set_nodelay(true).ok();
            let resp = http::Response::builder()
                .status(200)
                .body(())
                .unwrap_or_default();
            match respond.send_response(resp, false) {
                Ok(tx) => splice(upstream, tx, req.into_body()).await,
                Err(e) => eprintln!("h2tunnel connector: respond: {e}"),
            }
        });
    }
    Ok(())
}

/// Copies `tcp` → `tx` and `rx` → `tcp` until both directions ended.
async fn splice(tcp: TcpStream, mut tx: SendStream<Bytes>, mut rx: RecvStream) {
    let (mut rd, mut wr) = tcp.into_split();
    let up = async move {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            buf.reserve(READ_CHUNK);
            let n = rd.read_buf(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return tx.send_data(Bytes::new(), true).map_err(|e| e.to_string());
            }
            let mut chunk = buf.split().freeze();
            while !chunk.is_empty() {
                tx.reserve_capacity(chunk.len());
                let cap = match poll_fn(|cx| tx.poll_capacity(cx)).await {
                    Some(Ok(c)) => c,
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("stream closed".to_string()),
                };
                if cap == 0 {
                    continue;
                }
                let part = chunk.split_to(cap.min(chunk.len()));
                tx.send_data(part, false).map_err(|e| e.to_string())?;
            }
        }
    };
    let down = async move {
        while let Some(data) = rx.data().await {
            let data = data.map_err(|e| e.to_string())?;
            let n = data.len();
            wr.write_all(&data).await.map_err(|e| e.to_string())?;
            let _ = rx.flow_control().release_capacity(n);
        }
        wr.shutdown().await.map_err(|e| e.to_string())
    };
    let _ = tokio::join!(up, down);
}
