use super::*;
use crate::proto::h2::{field, Config, ResponseHead};
use compio::net::{TcpListener, TcpStream};

/// A client and a server tunnel over loopback TCP, both driven on this thread.
async fn pair(client_cfg: Config, server_cfg: Config) -> (Tunnel, Tunnel) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (c, s) = futures_util::join!(TcpStream::connect(addr), listener.accept());
    let client = Tunnel::new(Role::Client, client_cfg);
    let server = Tunnel::new(Role::Server, server_cfg);
    let (c2, s2) = (client.clone(), server.clone());
    compio::runtime::spawn(async move { c2.run(TcpTransport(c.unwrap())).await }).detach();
    compio::runtime::spawn(async move { s2.run(TcpTransport(s.unwrap().0)).await }).detach();
    (client, server)
}

/// Echo server: answers every stream with 200 and sends the request body back.
fn serve_echo(server: Tunnel) {
    compio::runtime::spawn(async move {
        while let Some((stream, _head, end)) = server.accept().await {
            compio::runtime::spawn(async move {
                stream.send_response(&ResponseHead::new(200), end).unwrap();
                if end {
                    return;
                }
                while let Some(ev) = stream.next().await {
                    match ev {
                        StreamEvent::Data { data, end_stream } => {
                            let n = data.len();
                            stream.send_data(data, end_stream).await.unwrap();
                            stream.release(n);
                            if end_stream {
                                return;
                            }
                        }
                        other => panic!("server got {other:?}"),
                    }
                }
            })
            .detach();
        }
    })
    .detach();
}

async fn collect(stream: &StreamHandle) -> (u16, Vec<u8>) {
    let mut status = 0;
    let mut body = Vec::new();
    while let Some(ev) = stream.next().await {
        match ev {
            StreamEvent::Response { head, end_stream } => {
                status = head.status;
                if end_stream {
                    break;
                }
            }
            StreamEvent::Data { data, end_stream } => {
                body.extend_from_slice(&data);
                stream.release(data.len());
                if end_stream {
                    break;
                }
            }
            other => panic!("client got {other:?}"),
        }
    }
    (status, body)
}

#[compio::test]
async fn echo_over_loopback_with_bodies_larger_than_the_windows() {
    let small = Config {
        initial_stream_window: 65_535,
        connection_window: 65_535,
        ..Config::default()
    };
    let (client, server) = pair(small.clone(), small).await;
    serve_echo(server);
    let body: Bytes = (0..(3 << 20))
        .map(|i| (i % 253) as u8)
        .collect::<Vec<_>>()
        .into();
    let mut head = RequestHead::new("POST", "http", "erp:80", "/echo");
    head.fields.push(field("x-test", "1"));
    let stream = client.open(&head, false).unwrap();
    // Full duplex: the echo only proceeds as the reader releases what it received.
    let (sent, (status, echoed)) =
        futures_util::join!(stream.send_data(body.clone(), true), collect(&stream));
    sent.unwrap();
    assert_eq!(status, 200);
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body[..], "echoed body differs");
}

#[compio::test]
async fn many_concurrent_streams() {
    let (client, server) = pair(Config::default(), Config::default()).await;
    serve_echo(server);
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let client = client.clone();
        tasks.push(compio::runtime::spawn(async move {
            let head = RequestHead::new("POST", "http", "erp:80", "/n");
            let stream = client.open(&head, false).unwrap();
            let payload = Bytes::from(i.to_be_bytes().repeat(100));
            stream.send_data(payload.clone(), true).await.unwrap();
            let (status, got) = collect(&stream).await;
            assert_eq!(status, 200);
            assert_eq!(got, payload);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(client.open_streams(), 0);
}

#[compio::test]
async fn dropping_a_handle_resets_the_stream_at_the_peer() {
    let (client, server) = pair(Config::default(), Config::default()).await;
    let head = RequestHead::new("POST", "http", "erp:80", "/upload");
    let stream = client.open(&head, false).unwrap();
    let (served, _, _) = server.accept().await.unwrap();
    drop(stream);
    assert_eq!(
        served.next().await,
        Some(StreamEvent::Reset(crate::proto::Reason::CANCEL))
    );
}

#[compio::test]
async fn peer_close_ends_open_streams_with_tunnel_closed() {
    let (client, server) = pair(Config::default(), Config::default()).await;
    let head = RequestHead::new("GET", "http", "erp:80", "/");
    let stream = client.open(&head, true).unwrap();
    let (served, _, _) = server.accept().await.unwrap();
    server.go_away();
    drop(served);
    // The server's GOAWAY + reset reach the client; then the tunnel drains.
    let ev = stream.next().await;
    assert!(
        matches!(
            ev,
            Some(StreamEvent::Reset(_)) | Some(StreamEvent::TunnelClosed(_))
        ),
        "{ev:?}"
    );
}

#[compio::test]
async fn extended_connect_waits_for_the_servers_settings() {
    let server_cfg = Config {
        enable_connect_protocol: true,
        ..Config::default()
    };
    let (client, server) = pair(Config::default(), server_cfg).await;
    let mut ws = RequestHead::new("CONNECT", "http", "chat.virtual", "/chat");
    ws.protocol = Some(Bytes::from_static(b"websocket"));
    // Right after the connection is up the server's SETTINGS may not have arrived; once they
    // have, extended CONNECT is allowed.
    assert!(client.peer_settings().await);
    serve_echo(server);
    let stream = client.open(&ws, false).unwrap();
    stream
        .send_data(Bytes::from_static(b"frame"), true)
        .await
        .unwrap();
    assert_eq!(collect(&stream).await, (200, b"frame".to_vec()));
    // A server that does not enable it: the wait ends, and the answer is no.
    let (plain, _server) = pair(Config::default(), Config::default()).await;
    assert!(!plain.peer_settings().await);
    assert!(matches!(
        plain.open(&ws, false),
        Err(OpenError::Stream(StreamError::InvalidHead(_)))
    ));
}

/// A stream dropped with DATA still unread gives that DATA's connection window back: without
/// it every abandoned download would shrink what the peer may send on all other streams, and
/// after a few the tunnel would stall.
#[compio::test]
async fn dropping_a_stream_with_unread_data_returns_the_connection_window() {
    let client_cfg = Config {
        initial_stream_window: 48 << 10,
        connection_window: 64 << 10,
        ..Config::default()
    };
    let (client, server) = pair(client_cfg, Config::default()).await;
    // The server answers every stream with 40 KiB: more than half the client's connection
    // window, so two unreleased answers would not fit.
    compio::runtime::spawn(async move {
        while let Some((stream, _head, _end)) = server.accept().await {
            compio::runtime::spawn(async move {
                stream
                    .send_response(&ResponseHead::new(200), false)
                    .unwrap();
                let _ = stream
                    .send_data(Bytes::from(vec![7u8; 40 << 10]), true)
                    .await;
            })
            .detach();
        }
    })
    .detach();
    for round in 0..4 {
        let head = RequestHead::new("GET", "http", "erp:80", "/big");
        let abandoned = client.open(&head, true).unwrap();
        // Wait until its whole answer has arrived, then drop it unread.
        let arrived = std::time::Instant::now();
        loop {
            let queued: usize = {
                let s = client.shared.borrow();
                s.slots.get(&abandoned.id()).map_or(0, Slot::unread_bytes)
            };
            if queued == 40 << 10 {
                break;
            }
            assert!(
                arrived.elapsed() < std::time::Duration::from_secs(10),
                "round {round}: only {queued} bytes arrived: the connection window was not returned"
            );
            compio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        drop(abandoned);
    }
    // And a stream read to the end still gets its whole answer.
    let stream = client
        .open(&RequestHead::new("GET", "http", "erp:80", "/big"), true)
        .unwrap();
    let (status, body) = collect(&stream).await;
    assert_eq!(status, 200);
    assert_eq!(body.len(), 40 << 10);
}

/// A transport whose reading half panics on its first read, after `after` (a stand-in for a
/// bug anywhere in the tasks that drive a tunnel). Its writing half is plain TCP.
pub(crate) struct PanickingTransport {
    pub(crate) sock: TcpStream,
    pub(crate) after: std::time::Duration,
}

pub(crate) struct PanickingRead(std::time::Duration);

impl Transport for PanickingTransport {
    type Read = PanickingRead;
    type Write = TcpWrite;
    fn split(self) -> (PanickingRead, TcpWrite) {
        (PanickingRead(self.after), TcpTransport(self.sock).split().1)
    }
}

impl TransportRead for PanickingRead {
    async fn read(&mut self, _dst: &mut BytesMut) -> std::io::Result<usize> {
        compio::time::sleep(self.0).await;
        panic!("injected: the tunnel's read loop panics");
    }
}

/// A panic in the task driving a tunnel fails the open streams instead of leaving them (and
/// the door connections behind them) waiting forever, and the tunnel refuses new streams.
#[compio::test]
async fn a_panic_driving_the_tunnel_fails_its_streams() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (c, _s) = futures_util::join!(TcpStream::connect(addr), listener.accept());
    let client = Tunnel::new(Role::Client, Config::default());
    let driver = client.clone();
    let task = compio::runtime::spawn(async move {
        // Late enough for the writer to send the preface and the HEADERS first.
        let after = std::time::Duration::from_millis(20);
        driver
            .run(PanickingTransport {
                sock: c.unwrap(),
                after,
            })
            .await
    });
    let stream = client
        .open(&RequestHead::new("GET", "http", "erp:80", "/"), true)
        .unwrap();
    assert!(task.await.is_err(), "the driving task panicked");
    let ev = compio::time::timeout(std::time::Duration::from_secs(5), stream.next()).await;
    assert_eq!(
        ev,
        Ok(Some(StreamEvent::TunnelClosed(TunnelError::Abandoned))),
        "the stream must fail, not wait"
    );
    assert!(!client.is_usable());
    assert!(matches!(
        client.open(&RequestHead::new("GET", "http", "erp:80", "/"), true),
        Err(OpenError::Unavailable)
    ));
}

/// Dropping the future that drives a tunnel (a caller's timeout, say) closes it the same way.
#[compio::test]
async fn dropping_the_driving_future_fails_its_streams() {
    let (c, _s) = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        futures_util::join!(TcpStream::connect(addr), listener.accept())
    };
    let client = Tunnel::new(Role::Client, Config::default());
    let stream = client
        .open(&RequestHead::new("GET", "http", "erp:80", "/"), true)
        .unwrap();
    let ended = compio::time::timeout(
        std::time::Duration::from_millis(20),
        client.run(TcpTransport(c.unwrap())),
    )
    .await;
    assert!(
        ended.is_err(),
        "the silent peer keeps the tunnel up until the timeout"
    );
    let ev = compio::time::timeout(std::time::Duration::from_secs(5), stream.next()).await;
    assert_eq!(
        ev,
        Ok(Some(StreamEvent::TunnelClosed(TunnelError::Abandoned))),
        "the stream must fail, not wait"
    );
}
