//! RST_STREAM both ways, including an early response that stops reading the request.

use crate::harness::{
    bounded, h2_recv, h2_recv_n, h2_req, h2_response, h2_to_ours, ours_to_h2, H2Server, BIG,
};
use crate::support::{self, pattern, Client, Collector, Ctx, Fed, PIPE};
use bytes::Bytes;
use http::{Method, StatusCode};
use sallyport::proto::h2::{Config, Event, RequestHead, ResponseHead, StreamError};
use sallyport::proto::{Reason, StreamId};
use std::time::Duration;
use tokio::sync::mpsc;

// ============================================================ our client ↔ h2::server

#[tokio::test]
async fn client_resets_both_ways() {
    bounded(async {
        let (cancelled_tx, mut cancelled_rx) =
            mpsc::unbounded_channel::<Result<usize, Option<h2::Reason>>>();
        let (got_some_tx, mut got_some_rx) = mpsc::unbounded_channel::<()>();
        let (a, b) = tokio::io::duplex(PIPE);
        let client = Client::spawn(a, Config::default());
        let server = H2Server::start(b, &h2::server::Builder::new(), move |req, mut respond| {
            let cancelled_tx = cancelled_tx.clone();
            let got_some_tx = got_some_tx.clone();
            async move {
                let path = req.uri().path().to_string();
                match path.as_str() {
                    "/upload" => {
                        // The client cancels mid-body: reading fails with its reason.
                        let mut body = req.into_body();
                        let mut n = 0;
                        let result = loop {
                            match body.data().await {
                                Some(Ok(chunk)) => {
                                    n += chunk.len();
                                    let _ = body.flow_control().release_capacity(chunk.len());
                                    let _ = got_some_tx.send(());
                                }
                                Some(Err(e)) => break Err(e.reason()),
                                None => break Ok(n),
                            }
                        };
                        let _ = cancelled_tx.send(result);
                    }
                    "/reset-now" => respond.send_reset(h2::Reason::INTERNAL_ERROR),
                    "/reset-mid" => {
                        let mut tx = respond.send_response(h2_response(200), false).unwrap();
                        tx.send_data(Bytes::from_static(b"partial"), false).unwrap();
                        // Give the DATA a moment to leave before the reset.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        tx.send_reset(h2::Reason::CANCEL);
                    }
                    _ => {
                        let mut body = req.into_body();
                        let got = h2_recv(&mut body).await.unwrap();
                        let mut tx = respond.send_response(h2_response(200), false).unwrap();
                        tx.send_data(Bytes::from(format!("{path}:{}", got.len())), true)
                            .unwrap();
                    }
                }
            }
        })
        .await;

        // A stream that stays open across all the resets.
        let survivor = client
            .open(
                RequestHead::new("POST", "http", "backend.local", "/survivor"),
                false,
            )
            .await
            .unwrap();
        survivor.send_data(pattern(7, 1000), false).await.unwrap();

        // Client cancels mid-body.
        let upload = client
            .open(
                RequestHead::new("POST", "http", "backend.local", "/upload"),
                false,
            )
            .await
            .unwrap();
        upload.send_data(pattern(3, 100_000), false).await.unwrap();
        got_some_rx.recv().await.unwrap();
        upload.reset(Reason::CANCEL).await;
        let result = cancelled_rx.recv().await.unwrap();
        assert_eq!(
            result,
            Err(Some(h2::Reason::CANCEL)),
            "h2 should see our CANCEL"
        );
        // Sending on the reset stream is refused locally.
        assert!(matches!(
            upload.send_data(Bytes::from_static(b"x"), true).await,
            Err(StreamError::UnknownStream(_))
        ));

        // Server resets before responding.
        let resp = client
            .request(
                RequestHead::new("GET", "http", "backend.local", "/reset-now"),
                Bytes::new(),
            )
            .await
            .unwrap();
        assert_eq!(resp.reset, Some((Reason::INTERNAL_ERROR, true)));
        assert!(resp.head.is_none());

        // Server resets after part of the body.
        let resp = client
            .request(
                RequestHead::new("GET", "http", "backend.local", "/reset-mid"),
                Bytes::new(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.body[..], b"partial");
        assert_eq!(resp.reset, Some((Reason::CANCEL, true)));

        // Other streams keep working: a new one, and the one open all along.
        let resp = client
            .request(
                RequestHead::new("POST", "http", "backend.local", "/after"),
                Bytes::from_static(b"abc"),
            )
            .await
            .unwrap();
        assert_eq!(&resp.body[..], b"/after:3");
        survivor.send_data(pattern(7, 1000), true).await.unwrap();
        let resp = survivor.response().await;
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.body[..], b"/survivor:2000");
        server.check_handlers().await;
    })
    .await
}

// ============================================================ h2::client ↔ our server

#[tokio::test]
async fn server_resets_both_ways() {
    bounded(async {
        #[derive(Debug, PartialEq)]
        enum Seen {
            Data(StreamId, usize),
            Reset(StreamId, Reason, bool),
        }
        let (report, mut reports) = mpsc::unbounded_channel::<Seen>();
        let mut requests = Collector::default();
        let handler = move |ctx: &mut Ctx<'_>, ev: Event| match requests.feed(ev) {
            Fed::Head(id) | Fed::Complete(id) if requests.requests[&id].body.is_empty() => {
                match requests.requests[&id].path() {
                    "/reset-now" => ctx.reset(id, Reason::INTERNAL_ERROR),
                    "/reset-mid" => {
                        ctx.conn
                            .send_response(id, &ResponseHead::new(200), false)
                            .unwrap();
                        ctx.send_data(id, Bytes::from_static(b"partial"), false)
                            .unwrap();
                        // The test resets it once h2 has read the partial body.
                    }
                    _ => {}
                }
                if requests.requests[&id].ended && requests.requests[&id].path() == "/after" {
                    ctx.respond(id, &ResponseHead::new(200), Bytes::from_static(b"after"))
                        .unwrap();
                }
            }
            Fed::Data(id) => {
                report
                    .send(Seen::Data(id, requests.requests[&id].body.len()))
                    .unwrap();
            }
            Fed::Complete(id) => {
                let req = requests.requests.remove(&id).unwrap();
                let body = Bytes::from(format!("{}:{}", req.path(), req.body.len()));
                ctx.respond(id, &ResponseHead::new(200), body).unwrap();
            }
            Fed::Reset(id, reason, remote) => report.send(Seen::Reset(id, reason, remote)).unwrap(),
            _ => {}
        };
        let (h2c, server) =
            h2_to_ours(Config::default(), &h2::client::Builder::new(), handler).await;

        // A stream that stays open across all the resets.
        let (survivor, mut survivor_tx) =
            h2c.request(h2_req(Method::POST, "/survivor"), false).await;
        survivor_tx.send_data(pattern(7, 1000), false).unwrap();
        let survivor_id = StreamId::new(survivor_tx.stream_id().as_u32());
        loop {
            match reports.recv().await.unwrap() {
                Seen::Data(id, n) if id == survivor_id && n == 1000 => break,
                Seen::Data(..) => {}
                other => panic!("unexpected {other:?}"),
            }
        }

        // The h2 client cancels mid-body.
        let (upload, mut upload_tx) = h2c.request(h2_req(Method::POST, "/upload"), false).await;
        let upload_id = StreamId::new(upload_tx.stream_id().as_u32());
        upload_tx.send_data(pattern(3, 10_000), false).unwrap();
        loop {
            match reports.recv().await.unwrap() {
                Seen::Data(id, n) if id == upload_id && n == 10_000 => break,
                Seen::Data(..) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        upload_tx.send_reset(h2::Reason::CANCEL);
        assert_eq!(
            reports.recv().await.unwrap(),
            Seen::Reset(upload_id, Reason::CANCEL, true)
        );
        drop(upload);

        // Our server resets before responding.
        let (resp, _) = h2c.request(h2_req(Method::GET, "/reset-now"), true).await;
        let err = resp.await.expect_err("reset before the response");
        assert_eq!(err.reason(), Some(h2::Reason::INTERNAL_ERROR), "{err}");

        // Our server resets after part of the body.
        let (resp, _) = h2c.request(h2_req(Method::GET, "/reset-mid"), true).await;
        let resp = resp.await.expect("response head before the reset");
        assert_eq!(resp.status(), StatusCode::OK);
        let mut body = resp.into_body();
        let partial = h2_recv_n(&mut body, 7).await.unwrap();
        assert_eq!(&partial[..], b"partial");
        let mid_id = StreamId::new(body.stream_id().as_u32());
        server
            .exec(move |ctx, _| ctx.reset(mid_id, Reason::CANCEL))
            .await;
        let err = body
            .data()
            .await
            .expect("an error, not the end")
            .expect_err("reset mid-body");
        assert_eq!(err.reason(), Some(h2::Reason::CANCEL), "{err}");

        // Other streams keep working: a new one, and the one open all along.
        let (resp, _) = h2c.request(h2_req(Method::GET, "/after"), true).await;
        let mut body = resp.await.expect("h2 response").into_body();
        assert_eq!(&h2_recv(&mut body).await.unwrap()[..], b"after");
        survivor_tx.send_data(pattern(7, 1000), true).unwrap();
        let mut body = survivor.await.expect("survivor response").into_body();
        assert_eq!(&h2_recv(&mut body).await.unwrap()[..], b"/survivor:2000");
    })
    .await
}

// ============================================================ edge cases, our client

/// h2 answers before reading the request body and stops reading it (RST_STREAM NO_ERROR,
/// RFC 9113 §8.1): the complete response still counts, and the connection goes on.
#[tokio::test]
async fn client_early_response() {
    bounded(async {
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |req, mut respond| async move {
                if req.uri().path() == "/early" {
                    let mut tx = respond.send_response(h2_response(413), false).unwrap();
                    tx.send_data(Bytes::from_static(b"too big"), true).unwrap();
                    drop(req);
                } else {
                    let mut body = req.into_body();
                    let got = h2_recv(&mut body).await.unwrap();
                    let mut tx = respond.send_response(h2_response(200), false).unwrap();
                    tx.send_data(Bytes::from(got.len().to_string()), true)
                        .unwrap();
                }
            },
        )
        .await;
        let mut early = client
            .open_with(
                RequestHead::new("POST", "http", "backend.local", "/early"),
                pattern(6, BIG),
                true,
            )
            .await
            .unwrap();
        let mut resp = support::Response::default();
        while !resp.absorb(early.next().await.unwrap()) {}
        assert_eq!(resp.status(), 413);
        assert_eq!(&resp.body[..], b"too big");
        assert!(resp.ended);
        // h2 then stops the upload.
        match early.next().await.unwrap() {
            Event::Reset { reason, remote, .. } => {
                assert_eq!(reason, Reason::NO_ERROR);
                assert!(remote);
            }
            other => panic!("unexpected {other:?}"),
        }
        let resp = client
            .request(
                RequestHead::new("POST", "http", "backend.local", "/next"),
                pattern(1, 100_000),
            )
            .await
            .unwrap();
        assert_eq!(&resp.body[..], b"100000");
        server.check_handlers().await;
    })
    .await
}
