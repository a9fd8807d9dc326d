//! GOAWAY both ways: graceful, abrupt, and last-stream-id handling.

use crate::harness::{
    bounded, h2_recv, h2_req, h2_response, h2_to_ours, ours_to_h2, H2Client, H2Server,
};
use crate::support::{self, Collector, Ctx, DriverError, Fed, PIPE};
use bytes::Bytes;
use http::Method;
use sallyport::proto::frame::Frame;
use sallyport::proto::h2::{
    Config, ConnectionError, Event, RequestHead, ResponseHead, Role, StreamError,
};
use sallyport::proto::{Reason, StreamId};
use std::time::Duration;
use tokio::sync::mpsc;

// ============================================================ our client ↔ h2::server

#[tokio::test]
async fn client_goaway_from_h2_server() {
    bounded(async {
        let (arrived_tx, mut arrived_rx) = mpsc::unbounded_channel::<()>();
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            move |req, mut respond| {
                let arrived_tx = arrived_tx.clone();
                async move {
                    arrived_tx.send(()).unwrap();
                    let mut body = req.into_body();
                    let got = h2_recv(&mut body).await.unwrap();
                    let mut tx = respond.send_response(h2_response(200), false).unwrap();
                    tx.send_data(Bytes::from(format!("got {}", got.len())), true)
                        .unwrap();
                }
            },
        )
        .await;
        let mut client = client;
        let stream = client
            .open(
                RequestHead::new("POST", "http", "backend.local", "/slow"),
                false,
            )
            .await
            .unwrap();
        stream
            .send_data(Bytes::from_static(b"first half "), false)
            .await
            .unwrap();
        arrived_rx.recv().await.unwrap();

        server.graceful_shutdown();
        // h2 announces the shutdown, pings, then sends the final last-stream-id.
        let mut last_ids = Vec::new();
        while last_ids.last() != Some(&stream.id) {
            match client.conn_event().await.expect("driver stopped") {
                Event::GoAway {
                    last_stream_id,
                    reason,
                    ..
                } => {
                    assert_eq!(reason, Reason::NO_ERROR);
                    last_ids.push(last_stream_id);
                }
                other => panic!("unexpected connection event {other:?}"),
            }
        }
        // New streams are refused locally once the peer is going away.
        assert!(matches!(
            client
                .open(
                    RequestHead::new("GET", "http", "backend.local", "/late"),
                    true
                )
                .await,
            Err(StreamError::GoingAway)
        ));
        assert!(
            !client
                .driver
                .exec(|ctx, _| ctx.conn.can_open_stream())
                .await
        );

        // The stream in flight finishes.
        stream
            .send_data(Bytes::from_static(b"second half"), true)
            .await
            .unwrap();
        let resp = stream.response().await;
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.body[..], b"got 22");
        server.check_handlers().await;
        // Both ends close the connection once nothing is open.
        let H2Server { conn, .. } = server;
        conn.await.unwrap().expect("h2 server connection");
        client.join().await.expect("our client ends cleanly");
    })
    .await
}

// ============================================================ h2::client ↔ our server

#[tokio::test]
async fn server_goaway_graceful() {
    bounded(async {
        let (report, mut reports) = mpsc::unbounded_channel::<StreamId>();
        let mut requests = Collector::default();
        let handler = move |ctx: &mut Ctx<'_>, ev: Event| match requests.feed(ev) {
            Fed::Head(id) => report.send(id).unwrap(),
            Fed::Complete(id) => {
                let req = requests.requests.remove(&id).unwrap();
                let body = Bytes::from(format!("got {}", req.body.len()));
                ctx.respond(id, &ResponseHead::new(200), body).unwrap();
            }
            _ => {}
        };
        let (h2c, server) =
            h2_to_ours(Config::default(), &h2::client::Builder::new(), handler).await;
        let (resp, mut tx) = h2c.request(h2_req(Method::POST, "/slow"), false).await;
        tx.send_data(Bytes::from_static(b"first half "), false)
            .unwrap();
        let in_flight = reports.recv().await.unwrap();

        server.exec(|ctx, _| ctx.go_away(Reason::NO_ERROR)).await;
        // h2 refuses new streams once it has seen the GOAWAY.
        let refused = loop {
            match h2c.send.clone().ready().await {
                Err(e) => break e,
                Ok(mut send) => match send.send_request(h2_req(Method::GET, "/late"), true) {
                    Err(e) => break e,
                    Ok((late, _)) => {
                        // Raced the GOAWAY: it must fail as never processed.
                        let e = late.await.expect_err("a stream above last_stream_id");
                        assert!(
                            e.is_go_away() || e.reason() == Some(h2::Reason::REFUSED_STREAM),
                            "{e}"
                        );
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                },
            }
        };
        assert!(refused.is_go_away(), "{refused}");
        assert_eq!(refused.reason(), Some(h2::Reason::NO_ERROR));
        assert!(!server.exec(|ctx, _| ctx.conn.can_open_stream()).await);

        // The stream in flight finishes.
        tx.send_data(Bytes::from_static(b"second half"), true)
            .unwrap();
        let resp = resp.await.expect("in-flight stream finishes");
        let mut body = resp.into_body();
        assert_eq!(&h2_recv(&mut body).await.unwrap()[..], b"got 22");
        assert_eq!(in_flight, StreamId::new(1));
        // Then our server closes the connection, and h2 sees a clean end.
        server.join().await.expect("our server ends cleanly");
        let H2Client { conn, send, .. } = h2c;
        drop(send);
        conn.await
            .unwrap()
            .expect("h2 client connection ends cleanly");
    })
    .await
}

#[tokio::test]
async fn server_sees_client_goaway() {
    bounded(async {
        let (report, mut reports) = mpsc::unbounded_channel::<Event>();
        let handler = move |ctx: &mut Ctx<'_>, ev: Event| match ev {
            Event::Request { stream_id, .. } => ctx
                .respond(
                    stream_id,
                    &ResponseHead::new(200),
                    Bytes::from_static(b"ok"),
                )
                .unwrap(),
            ev @ Event::GoAway { .. } => report.send(ev).unwrap(),
            _ => {}
        };
        let (h2c, server) =
            h2_to_ours(Config::default(), &h2::client::Builder::new(), handler).await;
        let (resp, _) = h2c.request(h2_req(Method::GET, "/one"), true).await;
        let mut body = resp.await.unwrap().into_body();
        assert_eq!(&h2_recv(&mut body).await.unwrap()[..], b"ok");
        drop(body);
        // Dropping every handle makes h2 close the connection with GOAWAY(NO_ERROR).
        let H2Client { send, ping, conn } = h2c;
        drop((send, ping));
        conn.await.unwrap().expect("h2 client closes cleanly");
        match reports.recv().await.expect("GoAway event") {
            Event::GoAway {
                last_stream_id,
                reason,
                ..
            } => {
                assert_eq!(reason, Reason::NO_ERROR);
                assert_eq!(last_stream_id, StreamId::new(0));
            }
            other => panic!("unexpected {other:?}"),
        }
        server.join().await.expect("our server ends cleanly");
    })
    .await
}

// ============================================================ edge cases, our client

/// h2 shuts the connection down with an error code: the codec reports the documented
/// `ConnectionError::PeerGoAway`.
#[tokio::test]
async fn client_sees_h2_abrupt_shutdown() {
    bounded(async {
        let (arrived_tx, mut arrived_rx) = mpsc::unbounded_channel::<()>();
        let (mut client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            move |req, _respond| {
                let arrived_tx = arrived_tx.clone();
                async move {
                    arrived_tx.send(()).unwrap();
                    let mut body = req.into_body();
                    let _ = h2_recv(&mut body).await;
                }
            },
        )
        .await;
        let stream = client
            .open(
                RequestHead::new("POST", "http", "backend.local", "/x"),
                false,
            )
            .await
            .unwrap();
        arrived_rx.recv().await.unwrap();
        server.control(|c| c.abrupt_shutdown(h2::Reason::INTERNAL_ERROR));
        match client.conn_event().await.unwrap() {
            Event::GoAway {
                reason,
                last_stream_id,
                ..
            } => {
                assert_eq!(reason, Reason::INTERNAL_ERROR);
                assert_eq!(last_stream_id, stream.id);
            }
            other => panic!("unexpected {other:?}"),
        }
        let ended = client.join().await;
        assert!(
            matches!(
                ended,
                Err(DriverError::Connection(ConnectionError::PeerGoAway {
                    reason: Reason::INTERNAL_ERROR,
                    ..
                }))
            ),
            "recv should fail with PeerGoAway(INTERNAL_ERROR), driver ended with {ended:?}"
        );
    })
    .await
}

/// Our client going away: h2 finishes the stream in flight, then both close.
#[tokio::test]
async fn client_goaway_to_h2_server() {
    bounded(async {
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |req, mut respond| async move {
                let mut body = req.into_body();
                let got = h2_recv(&mut body).await.unwrap();
                let mut tx = respond.send_response(h2_response(200), false).unwrap();
                tx.send_data(Bytes::from(got.len().to_string()), true)
                    .unwrap();
            },
        )
        .await;
        let stream = client
            .open(
                RequestHead::new("POST", "http", "backend.local", "/x"),
                false,
            )
            .await
            .unwrap();
        stream
            .send_data(Bytes::from_static(b"12345"), false)
            .await
            .unwrap();
        client
            .driver
            .exec(|ctx, _| ctx.go_away(Reason::NO_ERROR))
            .await;
        assert!(matches!(
            client
                .open(RequestHead::new("GET", "http", "backend.local", "/y"), true)
                .await,
            Err(StreamError::GoingAway)
        ));
        stream
            .send_data(Bytes::from_static(b"678"), true)
            .await
            .unwrap();
        let resp = stream.response().await;
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.body[..], b"8");
        client.join().await.expect("our client ends cleanly");
        server.check_handlers().await;
        let H2Server { conn, .. } = server;
        conn.await.unwrap().expect("h2 server ends cleanly");
    })
    .await
}

// ============================================================ edge cases, our server

/// After our GOAWAY, a stream h2 opened before it saw the GOAWAY is ignored; a later GOAWAY
/// (here: the drain timeout) must not raise last_stream_id (RFC 9113 §6.8: "Endpoints MUST
/// NOT increase the value they send in the last stream identifier").
#[tokio::test]
async fn server_goaway_last_stream_id_never_increases() {
    bounded(async {
        let (report, mut reports) = mpsc::unbounded_channel::<StreamId>();
        let handler = move |_ctx: &mut Ctx<'_>, ev: Event| {
            if let Event::Request { stream_id, .. } = ev {
                report.send(stream_id).unwrap();
            }
        };
        let config = Config {
            drain_timeout: Duration::from_millis(100),
            ..Config::default()
        };
        let (a, b) = tokio::io::duplex(PIPE);
        let (wire, tap) = support::Wire::new(b);
        let server = support::spawn(Role::Server, config, wire, handler);
        let (a, h2tap) = support::Wire::new(a);
        let (send, conn) = h2::client::handshake(a).await.unwrap();
        let h2_conn = tokio::spawn(conn);
        let mut send = send.ready().await.unwrap();
        let (_in_flight, mut tx) = send
            .send_request(h2_req(Method::POST, "/slow"), false)
            .unwrap();
        tx.send_data(Bytes::from_static(b"x"), false).unwrap();
        assert_eq!(reports.recv().await.unwrap(), StreamId::new(1));

        // h2 opens stream 3 while our server is not reading, then we go away.
        tap.pause_reads();
        let (late, _) = send
            .send_request(h2_req(Method::GET, "/late"), true)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        server.exec(|ctx, _| ctx.go_away(Reason::NO_ERROR)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        tap.resume_reads();
        let e = late.await.expect_err("stream 3 is above last_stream_id");
        assert!(e.is_go_away(), "{e}");

        // Stream 1 never finishes: the drain timeout ends the connection.
        match server.join().await {
            Err(DriverError::Connection(ConnectionError::DrainTimeout)) => {}
            other => panic!("expected the drain timeout, got {other:?}"),
        }
        assert!(
            reports.try_recv().is_err(),
            "stream 3 must not reach the application"
        );
        let goaways: Vec<(StreamId, Reason)> = support::frames(tap.written())
            .into_iter()
            .filter_map(|f| match f {
                Frame::GoAway(g) => Some((g.last_stream_id, g.reason)),
                _ => None,
            })
            .collect();
        // The scenario happened: h2 did send stream 3 (before it saw our GOAWAY).
        let h2_opened_3 = support::frames(h2tap.written())
            .into_iter()
            .any(|f| matches!(f, Frame::Headers(h) if h.stream_id == StreamId::new(3)));
        assert!(
            h2_opened_3,
            "h2 did not open stream 3; the test did not set up its case"
        );
        assert_eq!(goaways.first(), Some(&(StreamId::new(1), Reason::NO_ERROR)));
        assert!(
            goaways.iter().all(|(last, _)| last.value() <= 1),
            "a later GOAWAY raised last_stream_id: {goaways:?}"
        );
        let _ = h2_conn.await;
    })
    .await
}
