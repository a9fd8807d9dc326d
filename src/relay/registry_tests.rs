//! The registry's two paths: a stream on a tunnel of the caller's own thread (local), and one
//! bridged from another thread (remote). Both carry bytes both ways and end cleanly.

use super::*;
use crate::proto::h2::{Config, ResponseHead, Role};
use crate::tunnel::TcpTransport;
use bytes::Bytes;
use compio::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TENANT: &str = "acme";
const LOCATION: &str = "berlin";

fn connect_head() -> RequestHead {
    RequestHead {
        method: Bytes::from_static(b"CONNECT"),
        authority: Some(Bytes::from_static(b"ldap.virtual:389")),
        ..Default::default()
    }
}

/// The connector's side: answers every stream with 200 and echoes its bytes, END_STREAM too.
fn serve_echo(server: Tunnel) {
    compio::runtime::spawn(async move {
        while let Some((stream, _head, _end)) = server.accept().await {
            compio::runtime::spawn(async move {
                stream
                    .send_response(&ResponseHead::new(200), false)
                    .expect("response head");
                while let Some(StreamEvent::Data { data, end_stream }) = stream.next().await {
                    let n = data.len();
                    if stream.send_data(data, end_stream).await.is_err() || end_stream {
                        return;
                    }
                    stream.release(n);
                }
            })
            .detach();
        }
    })
    .detach();
}

/// 200, then "hello" and its echo, then END_STREAM both ways.
async fn echo_round_trip(mut s: TunnelStream) {
    match s.events.next().await {
        Some(StreamEvent::Response { head, .. }) => assert_eq!(head.status, 200),
        other => panic!("expected the response head, got {other:?}"),
    }
    s.to_tunnel
        .send(Outbound::Data(Bytes::from_static(b"hello"), false))
        .await
        .expect("send");
    match s.events.next().await {
        Some(StreamEvent::Data { data, end_stream }) => {
            assert_eq!(&data[..], b"hello");
            assert!(!end_stream);
        }
        other => panic!("expected the echo, got {other:?}"),
    }
    s.to_tunnel
        .send(Outbound::Data(Bytes::new(), true))
        .await
        .expect("end");
    loop {
        match s.events.next().await {
            Some(StreamEvent::Data {
                end_stream: true, ..
            }) => break,
            Some(StreamEvent::Data { .. }) => continue,
            other => panic!("expected END_STREAM, got {other:?}"),
        }
    }
}

/// A tunnel registered in `registry` for the test tenant, on this thread, with its connector
/// side (echoing when `echo`) run here too; returns the connector side's `run`, which ends when
/// the tunnel does.
async fn registered_tunnel(
    registry: &Arc<Registry>,
    echo: bool,
) -> compio::runtime::JoinHandle<crate::tunnel::TunnelError> {
    registered_tunnel_with(registry, |server| {
        if echo {
            serve_echo(server);
        }
    })
    .await
}

/// [`registered_tunnel`] with the connector's side served by `serve` (given its tunnel).
async fn registered_tunnel_with(
    registry: &Arc<Registry>,
    serve: impl FnOnce(Tunnel),
) -> compio::runtime::JoinHandle<crate::tunnel::TunnelError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (c, s) = futures_util::join!(TcpStream::connect(addr), listener.accept());
    let server = Tunnel::new(Role::Server, Config::default());
    serve(server.clone());
    let sock = s.expect("accept").0;
    let connector = compio::runtime::spawn(async move { server.run(TcpTransport(sock)).await });
    let serving = registry.clone();
    let sock = c.expect("connect");
    compio::runtime::spawn(async move {
        let identity = Identity {
            tenant: TENANT.into(),
            location: LOCATION.into(),
        };
        let client = Tunnel::new(Role::Client, Config::default());
        serving
            .serve_tunnel(&identity, client, TcpTransport(sock))
            .await
    })
    .detach();
    while registry.count(TENANT, LOCATION) == 0 {
        compio::time::sleep(Duration::from_millis(1)).await;
    }
    connector
}

/// Waits (bounded) until `registry` lists a tunnel for the test tenant.
fn wait_registered(registry: &Registry) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while registry.count(TENANT, LOCATION) == 0 {
        assert!(Instant::now() < deadline, "the tunnel never registered");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn streams_open_locally_on_the_tunnels_thread_and_bridged_from_others() {
    let registry = Arc::new(Registry::default());
    let (done, finished) = futures_channel::oneshot::channel::<()>();
    let reg = registry.clone();
    // Thread A runs the tunnel (and, as its peer, the echoing connector side).
    let a = std::thread::spawn(move || {
        let rt = compio::runtime::Runtime::new().expect("runtime A");
        rt.block_on(async move {
            let _connector = registered_tunnel(&reg, true).await;
            let local = reg
                .open(TENANT, LOCATION, connect_head(), false)
                .await
                .expect("local open");
            assert!(local.is_local(), "the tunnel's own thread must not bridge");
            echo_round_trip(local).await;
            // Keep serving the tunnel until thread B is done with its bridged stream.
            let _ = compio::time::timeout(Duration::from_secs(20), finished).await;
        });
    });
    wait_registered(&registry);
    let b = std::thread::spawn(move || {
        let rt = compio::runtime::Runtime::new().expect("runtime B");
        rt.block_on(async move {
            let remote = registry
                .open(TENANT, LOCATION, connect_head(), false)
                .await
                .expect("remote open");
            assert!(
                !remote.is_local(),
                "another thread's tunnel is reached by a bridge"
            );
            echo_round_trip(remote).await;
            assert_eq!(registry.tunnels_per_thread(TENANT, LOCATION), vec![1]);
            let missing = registry
                .open(TENANT, "elsewhere", connect_head(), false)
                .await;
            assert!(matches!(missing, Err(RouteError::NoConnector { .. })));
        });
        let _ = done.send(());
    });
    b.join().expect("thread B");
    a.join().expect("thread A");
}

#[test]
fn a_dropped_sender_resets_an_unfinished_local_stream() {
    let rt = compio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (c, s) = futures_util::join!(TcpStream::connect(addr), listener.accept());
        let server = Tunnel::new(Role::Server, Config::default());
        let run = server.clone();
        let sock = s.expect("accept").0;
        compio::runtime::spawn(async move { run.run(TcpTransport(sock)).await }).detach();
        let client = Tunnel::new(Role::Client, Config::default());
        let run = client.clone();
        let sock = c.expect("connect");
        compio::runtime::spawn(async move { run.run(TcpTransport(sock)).await }).detach();
        let s = TunnelStream::local(client.open(&connect_head(), false).expect("open"));
        let (stream, _, _) = server.accept().await.expect("the server sees the stream");
        let TunnelStream { to_tunnel, events } = s;
        // The door gives up mid-request but still listens: the connector must hear of it.
        drop(to_tunnel);
        match compio::time::timeout(Duration::from_secs(5), stream.next()).await {
            Ok(Some(StreamEvent::Reset(reason))) => assert_eq!(reason, Reason::CANCEL),
            other => panic!("expected a CANCEL reset, got {other:?}"),
        }
        drop(events);
    });
}

#[test]
fn evicted_tunnels_leave_the_registry_and_get_goaway() {
    let rt = compio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let registry = Arc::new(Registry::default());
        // The connector's side: its `run` ends once the relay's GOAWAY has drained the tunnel.
        let connector = registered_tunnel(&registry, false).await;
        assert!(registry.evict(|_, _| true).is_empty(), "kept when admitted");
        assert_eq!(registry.count(TENANT, LOCATION), 1);
        let closed = registry.evict(|t, _| t != TENANT);
        assert_eq!(closed, vec![(TENANT.to_string(), LOCATION.to_string(), 1)]);
        assert_eq!(registry.count(TENANT, LOCATION), 0);
        let open = registry.open(TENANT, LOCATION, connect_head(), false).await;
        assert!(matches!(open, Err(RouteError::NoConnector { .. })));
        let ended = compio::time::timeout(Duration::from_secs(10), connector)
            .await
            .expect("the connector's tunnel ends after GOAWAY");
        assert!(ended.is_ok(), "{ended:?}");
    });
}

/// A tunnel whose driving task panics leaves the routing tables, so later requests get "no
/// connector" at once instead of a stream on a connection nobody drives.
#[test]
fn a_tunnel_that_panics_leaves_the_registry() {
    let rt = compio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let registry = Arc::new(Registry::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (c, _s) = futures_util::join!(TcpStream::connect(addr), listener.accept());
        let serving = registry.clone();
        let task = compio::runtime::spawn(async move {
            let identity = Identity {
                tenant: TENANT.into(),
                location: LOCATION.into(),
            };
            let transport = crate::tunnel::tests::PanickingTransport {
                sock: c.expect("connect"),
                after: Duration::from_millis(50),
            };
            let client = Tunnel::new(Role::Client, Config::default());
            serving.serve_tunnel(&identity, client, transport).await
        });
        while registry.count(TENANT, LOCATION) == 0 {
            compio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(task.await.is_err(), "the tunnel's task panicked");
        assert_eq!(registry.count(TENANT, LOCATION), 0);
        assert_eq!(LOCAL_TUNNELS.with(|t| t.borrow().len()), 0);
        let open = registry.open(TENANT, LOCATION, connect_head(), false).await;
        assert!(matches!(open, Err(RouteError::NoConnector { .. })));
    });
}

/// Sends END_STREAM, lets it reach the connector (as in a splice that idles later), then gives
/// the stream up.
async fn end_then_abandon(s: &mut TunnelStream) {
    s.to_tunnel
        .send(Outbound::Data(Bytes::new(), true))
        .await
        .expect("end");
    compio::time::sleep(Duration::from_millis(200)).await;
    s.to_tunnel.abandon();
}

/// A door that gives up on a stream after its own END_STREAM (`StreamSender::abandon`) still
/// resets it at the connector, on both paths: the connector must release its backend then.
#[test]
fn an_abandoned_stream_is_reset_after_end_stream_local_and_bridged() {
    let registry = Arc::new(Registry::default());
    let (seen_tx, seen) = std::sync::mpsc::channel::<Option<StreamEvent>>();
    let (done, finished) = futures_channel::oneshot::channel::<()>();
    let reg = registry.clone();
    // The connector's side reports, per stream, what follows the door's END_STREAM.
    let a = std::thread::spawn(move || {
        let rt = compio::runtime::Runtime::new().expect("runtime A");
        rt.block_on(async move {
            let _connector = registered_tunnel_with(&reg, |server| {
                compio::runtime::spawn(async move {
                    while let Some((stream, _, _)) = server.accept().await {
                        let seen_tx = seen_tx.clone();
                        compio::runtime::spawn(async move {
                            let _ = stream.send_response(&ResponseHead::new(200), false);
                            loop {
                                match stream.next().await {
                                    Some(StreamEvent::Data {
                                        end_stream: true, ..
                                    }) => break,
                                    Some(_) => {}
                                    None => return,
                                }
                            }
                            let next =
                                compio::time::timeout(Duration::from_secs(10), stream.next());
                            let _ = seen_tx.send(next.await.ok().flatten());
                        })
                        .detach();
                    }
                })
                .detach();
            })
            .await;
            let mut local = reg
                .open(TENANT, LOCATION, connect_head(), false)
                .await
                .expect("local open");
            assert!(local.is_local());
            end_then_abandon(&mut local).await;
            let _ = compio::time::timeout(Duration::from_secs(20), finished).await;
        });
    });
    assert_eq!(
        seen.recv_timeout(Duration::from_secs(10))
            .expect("local report"),
        Some(StreamEvent::Reset(Reason::CANCEL)),
        "local"
    );
    let b = std::thread::spawn(move || {
        let rt = compio::runtime::Runtime::new().expect("runtime B");
        rt.block_on(async move {
            let mut remote = registry
                .open(TENANT, LOCATION, connect_head(), false)
                .await
                .expect("remote open");
            assert!(!remote.is_local());
            end_then_abandon(&mut remote).await;
            // Keep the events half: the reset must not depend on the door dropping it.
            compio::time::sleep(Duration::from_millis(500)).await;
            drop(remote);
        });
    });
    assert_eq!(
        seen.recv_timeout(Duration::from_secs(10))
            .expect("bridged report"),
        Some(StreamEvent::Reset(Reason::CANCEL)),
        "bridged"
    );
    b.join().expect("thread B");
    let _ = done.send(());
    a.join().expect("thread A");
}
