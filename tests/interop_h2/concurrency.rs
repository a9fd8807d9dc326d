//! Many concurrent streams, and SETTINGS_MAX_CONCURRENT_STREAMS without leaked slots.

use crate::harness::{bounded, h2_recv, h2_req, h2_response, h2_to_ours, ours_to_h2, MANY};
use crate::support::{self, Collector, Ctx, Fed};
use bytes::Bytes;
use http::{Method, StatusCode};
use sallyport::proto::h2::{Config, Event, RequestHead, ResponseHead, StreamError};
use sallyport::proto::{Reason, StreamId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Barrier};

// ============================================================ our client ↔ h2::server

#[tokio::test]
async fn client_150_concurrent_streams() {
    bounded(async {
        let barrier = Arc::new(Barrier::new(MANY));
        let mut builder = h2::server::Builder::new();
        builder.max_concurrent_streams(256);
        let (client, server) = ours_to_h2(Config::default(), &builder, move |req, mut respond| {
            let barrier = barrier.clone();
            async move {
                // No response until all the streams are open at once.
                barrier.wait().await;
                let path = req.uri().path().to_string();
                let mut tx = respond.send_response(h2_response(200), false).unwrap();
                tx.send_data(Bytes::from(path), true).unwrap();
            }
        })
        .await;
        let mut streams = Vec::new();
        for i in 0..MANY {
            if i == MANY - 1 {
                // Nothing can have completed before the last stream reaches the barrier.
                let open = client.driver.exec(|ctx, _| ctx.conn.open_streams()).await;
                assert_eq!(open, MANY - 1);
            }
            let head = RequestHead::new("GET", "http", "backend.local", &format!("/s/{i}"));
            streams.push(client.open(head, true).await.unwrap());
        }
        for (i, s) in streams.into_iter().enumerate() {
            let resp = s.response().await;
            assert_eq!(resp.status(), 200);
            assert_eq!(std::str::from_utf8(&resp.body).unwrap(), format!("/s/{i}"));
        }
        server.check_handlers().await;
    })
    .await
}

// ============================================================ h2::client ↔ our server

#[tokio::test]
async fn server_150_concurrent_streams() {
    bounded(async {
        let mut requests = Collector::default();
        let mut waiting = Vec::new();
        let handler = move |ctx: &mut Ctx<'_>, ev: Event| {
            if let Fed::Complete(id) = requests.feed(ev) {
                waiting.push(id);
                // No response until all the streams are open at once.
                if waiting.len() == MANY {
                    assert_eq!(ctx.conn.open_streams(), MANY);
                    for id in waiting.drain(..) {
                        let req = requests.requests.remove(&id).unwrap();
                        let body = Bytes::from(req.path().to_string());
                        ctx.respond(id, &ResponseHead::new(200), body).unwrap();
                    }
                }
            }
        };
        let (h2c, _server) =
            h2_to_ours(Config::default(), &h2::client::Builder::new(), handler).await;
        let mut responses = Vec::new();
        for i in 0..MANY {
            let (resp, _) = h2c
                .request(h2_req(Method::GET, &format!("/s/{i}")), true)
                .await;
            responses.push(resp);
        }
        for (i, resp) in responses.into_iter().enumerate() {
            let resp = resp.await.expect("h2 response");
            assert_eq!(resp.status(), StatusCode::OK);
            let mut body = resp.into_body();
            let got = h2_recv(&mut body).await.unwrap();
            assert_eq!(std::str::from_utf8(&got).unwrap(), format!("/s/{i}"));
        }
    })
    .await
}

// ============================================================ edge cases, our client

/// h2's SETTINGS_MAX_CONCURRENT_STREAMS is honoured, and no way of ending a stream leaks a
/// slot.
#[tokio::test]
async fn client_concurrency_limit_without_leaks() {
    bounded(async {
        const LIMIT: usize = 4;
        let mut builder = h2::server::Builder::new();
        builder.max_concurrent_streams(LIMIT as u32);
        let (mut client, server) =
            ours_to_h2(Config::default(), &builder, |req, mut respond| async move {
                let path = req.uri().path().to_string();
                let mut body = req.into_body();
                match path.as_str() {
                    "/server-reset" => {
                        // Reset once the first body bytes arrive.
                        let _ = body.data().await;
                        respond.send_reset(h2::Reason::INTERNAL_ERROR);
                    }
                    "/client-reset" => {
                        let _ = h2_recv(&mut body).await;
                    }
                    "/early" => {
                        // Complete response first; the request body ends afterwards.
                        respond.send_response(h2_response(200), true).unwrap();
                        let _ = h2_recv(&mut body).await;
                    }
                    _ => {
                        h2_recv(&mut body).await.unwrap();
                        respond.send_response(h2_response(200), true).unwrap();
                    }
                }
            })
            .await;
        client.ping([0; 8]).await;
        assert!(matches!(
            client.conn_event().await,
            Some(Event::PingAck { .. })
        ));
        let head = |p: &str| RequestHead::new("POST", "http", "backend.local", p);
        for round in 0..10 {
            let mut open = Vec::new();
            for p in ["/server-reset", "/client-reset", "/early", "/ok"] {
                open.push(client.open(head(p), false).await.unwrap());
            }
            // All four are held open by h2 until their bodies arrive.
            assert!(matches!(
                client.open(head("/ok"), true).await,
                Err(StreamError::ConcurrencyLimit)
            ));
            assert!(
                !client
                    .driver
                    .exec(|ctx, _| ctx.conn.can_open_stream())
                    .await
            );
            let mut it = open.into_iter();
            let server_reset = it.next().unwrap();
            server_reset
                .send_data(Bytes::from_static(b"x"), false)
                .await
                .unwrap();
            assert_eq!(
                server_reset.response().await.reset,
                Some((Reason::INTERNAL_ERROR, true)),
                "round {round}"
            );
            it.next().unwrap().reset(Reason::CANCEL).await;
            let mut early = it.next().unwrap();
            let mut resp = support::Response::default();
            while !resp.absorb(early.next().await.unwrap()) {}
            assert_eq!(resp.status(), 200);
            early
                .send_data(Bytes::from_static(b"late body"), true)
                .await
                .unwrap();
            let ok = it.next().unwrap();
            ok.send_data(Bytes::from_static(b"x"), true).await.unwrap();
            assert_eq!(ok.response().await.status(), 200);
            // The early stream closes once its END_STREAM has left.
            let mut tries = 0;
            while client.driver.exec(|ctx, _| ctx.conn.open_streams()).await != 0 {
                tries += 1;
                assert!(tries < 1000, "round {round}: streams never closed");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert!(
                client
                    .driver
                    .exec(|ctx, _| ctx.conn.can_open_stream())
                    .await
            );
        }
        server.check_handlers().await;
    })
    .await
}

// ============================================================ edge cases, our server

/// Our SETTINGS_MAX_CONCURRENT_STREAMS holds h2 back, and no way of ending a stream leaks a
/// slot (a leak would make us refuse streams h2 may open).
#[tokio::test]
async fn server_concurrency_limit_without_leaks() {
    bounded(async {
        const LIMIT: u32 = 4;
        #[derive(Debug)]
        enum Seen {
            Head(StreamId, String),
            Reset(StreamId, Reason, bool),
        }
        let (report, mut reports) = mpsc::unbounded_channel::<Seen>();
        let mut requests = Collector::default();
        let handler = move |ctx: &mut Ctx<'_>, ev: Event| match requests.feed(ev) {
            Fed::Head(id) => {
                let path = requests.requests[&id].path().to_string();
                match path.as_str() {
                    "/server-reset" => ctx.reset(id, Reason::INTERNAL_ERROR),
                    "/early" => {
                        // Complete response first; the request body ends afterwards.
                        ctx.respond(id, &ResponseHead::new(200), Bytes::from_static(b"early"))
                            .unwrap();
                    }
                    _ => {}
                }
                report.send(Seen::Head(id, path)).unwrap();
            }
            Fed::Complete(id) => {
                let req = requests.requests.remove(&id).unwrap();
                if req.path() != "/early" {
                    ctx.respond(id, &ResponseHead::new(200), Bytes::from_static(b"ok"))
                        .unwrap();
                }
            }
            Fed::Reset(id, reason, remote) => {
                requests.requests.remove(&id);
                report.send(Seen::Reset(id, reason, remote)).unwrap();
            }
            _ => {}
        };
        let config = Config {
            max_concurrent_streams: LIMIT,
            ..Config::default()
        };
        let (mut h2c, server) = h2_to_ours(config, &h2::client::Builder::new(), handler).await;
        // A PING round trip: h2 knows our limit by then.
        h2c.ping.ping(h2::Ping::opaque()).await.unwrap();
        for round in 0..10 {
            let mut cancel = None;
            let mut early = None;
            let mut ok = None;
            let mut server_reset = None;
            for p in ["/server-reset", "/client-reset", "/early", "/ok"] {
                let (resp, tx) = h2c.request(h2_req(Method::POST, p), false).await;
                match p {
                    "/server-reset" => server_reset = Some(resp),
                    "/client-reset" => cancel = Some(tx),
                    "/early" => early = Some((resp, tx)),
                    _ => ok = Some((resp, tx)),
                }
            }
            // A fifth stream: h2 holds it until one of the four ends.
            let (fifth, mut fifth_tx) = h2c.request(h2_req(Method::POST, "/ok"), false).await;
            fifth_tx.send_data(Bytes::from_static(b"5"), true).unwrap();
            // Wait until our server has seen the first four.
            let mut heads = 0;
            let mut cancel_id = None;
            while heads < 4 {
                match reports.recv().await.unwrap() {
                    Seen::Head(id, p) => {
                        heads += 1;
                        if p == "/client-reset" {
                            cancel_id = Some(id);
                        }
                    }
                    other => panic!("round {round}: unexpected {other:?}"),
                }
            }
            let err = server_reset
                .unwrap()
                .await
                .expect_err("reset by our server");
            assert_eq!(
                err.reason(),
                Some(h2::Reason::INTERNAL_ERROR),
                "round {round}: {err}"
            );
            let mut cancel = cancel.unwrap();
            cancel.send_reset(h2::Reason::CANCEL);
            let (early_resp, mut early_tx) = early.unwrap();
            let early_resp = early_resp.await.expect("early response");
            assert_eq!(early_resp.status(), StatusCode::OK);
            early_tx
                .send_data(Bytes::from_static(b"late body"), true)
                .unwrap();
            let (ok_resp, mut ok_tx) = ok.unwrap();
            ok_tx.send_data(Bytes::from_static(b"x"), true).unwrap();
            assert_eq!(ok_resp.await.expect("ok response").status(), StatusCode::OK);
            let fifth = fifth
                .await
                .expect("the fifth stream is served, not refused");
            assert_eq!(fifth.status(), StatusCode::OK);
            // Our server saw the head of the fifth, and h2's CANCEL.
            let mut seen_cancel = false;
            let mut seen_fifth = false;
            while !(seen_cancel && seen_fifth) {
                match reports.recv().await.unwrap() {
                    Seen::Reset(id, Reason::CANCEL, true) if Some(id) == cancel_id => {
                        seen_cancel = true
                    }
                    Seen::Head(_, p) if p == "/ok" => seen_fifth = true,
                    other => panic!("round {round}: unexpected {other:?}"),
                }
            }
            let mut tries = 0;
            while server.exec(|ctx, _| ctx.conn.open_streams()).await != 0 {
                tries += 1;
                assert!(tries < 1000, "round {round}: streams never closed");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    })
    .await
}
