//! CONNECT tunnels both ways.

use crate::harness::{bounded, h2_recv, h2_recv_n, h2_response, h2_to_ours, ours_to_h2};
use crate::support::Ctx;
use bytes::{Bytes, BytesMut};
use http::{Method, Request, StatusCode};
use sallyport::proto::h2::{Config, Event, RequestHead, ResponseHead};
use sallyport::proto::StreamId;
use tokio::sync::mpsc;

// ============================================================ our client ↔ h2::server

#[tokio::test]
async fn client_connect_tunnel() {
    bounded(async {
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |req, mut respond| async move {
                assert_eq!(req.method(), Method::CONNECT);
                assert_eq!(req.uri().authority().unwrap().as_str(), "backend:9");
                assert!(req.uri().scheme().is_none());
                let mut body = req.into_body();
                let mut tx = respond.send_response(h2_response(200), false).unwrap();
                // Echo until the client half-closes, then answer once more and close.
                let mut total = 0;
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.unwrap();
                    body.flow_control().release_capacity(chunk.len()).unwrap();
                    total += chunk.len();
                    tx.send_data(chunk, false).unwrap();
                }
                assert!(body.is_end_stream());
                tx.send_data(Bytes::from(format!("|eof after {total}")), true)
                    .unwrap();
            },
        )
        .await;
        let mut stream = client
            .open(RequestHead::connect("backend:9"), false)
            .await
            .unwrap();
        match stream.next().await.unwrap() {
            Event::Response {
                head, end_stream, ..
            } => {
                assert_eq!(head.status, 200);
                assert!(!end_stream);
            }
            other => panic!("expected the CONNECT response, got {other:?}"),
        }
        stream
            .send_data(Bytes::from_static(b"hello"), false)
            .await
            .unwrap();
        let mut echoed = BytesMut::new();
        while echoed.len() < 5 {
            match stream.next().await.unwrap() {
                Event::Data {
                    data, end_stream, ..
                } => {
                    assert!(!end_stream);
                    echoed.extend_from_slice(&data);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(&echoed[..], b"hello");
        // Half-close our direction; the other one stays open until the server closes it.
        stream
            .send_data(Bytes::from_static(b"bye"), true)
            .await
            .unwrap();
        let resp = stream.response().await;
        assert!(resp.ended && resp.reset.is_none());
        assert_eq!(&resp.body[..], b"bye|eof after 8");
        server.check_handlers().await;
    })
    .await
}

// ============================================================ h2::client ↔ our server

#[tokio::test]
async fn server_connect_tunnel() {
    bounded(async {
        let (report, mut reports) = mpsc::unbounded_channel::<RequestHead>();
        let mut total = std::collections::HashMap::<StreamId, usize>::new();
        let handler = move |ctx: &mut Ctx<'_>, ev: Event| match ev {
            Event::Request {
                stream_id,
                head,
                end_stream,
            } => {
                assert!(head.is_connect() && !end_stream);
                report.send(head).unwrap();
                ctx.conn
                    .send_response(stream_id, &ResponseHead::new(200), false)
                    .unwrap();
            }
            Event::Data {
                stream_id,
                data,
                end_stream,
            } => {
                *total.entry(stream_id).or_default() += data.len();
                if !data.is_empty() {
                    ctx.send_data(stream_id, data, false).unwrap();
                }
                if end_stream {
                    let msg = format!("|eof after {}", total[&stream_id]);
                    ctx.send_data(stream_id, Bytes::from(msg), true).unwrap();
                }
            }
            Event::Reset {
                stream_id, reason, ..
            } => panic!("stream {stream_id} reset: {reason}"),
            _ => {}
        };
        let (h2c, _server) =
            h2_to_ours(Config::default(), &h2::client::Builder::new(), handler).await;
        let req = Request::builder()
            .method(Method::CONNECT)
            .uri("backend:9")
            .body(())
            .unwrap();
        let (resp, mut tx) = h2c.request(req, false).await;
        let resp = resp.await.expect("CONNECT response");
        assert_eq!(resp.status(), StatusCode::OK);
        let head = reports.recv().await.unwrap();
        assert_eq!(head.authority.as_deref(), Some(&b"backend:9"[..]));
        assert!(head.scheme.is_none() && head.path.is_none());
        let mut body = resp.into_body();
        tx.send_data(Bytes::from_static(b"hello"), false).unwrap();
        assert_eq!(&h2_recv_n(&mut body, 5).await.unwrap()[..], b"hello");
        // Half-close our direction; the server answers and closes its own.
        tx.send_data(Bytes::from_static(b"bye"), true).unwrap();
        assert_eq!(&h2_recv(&mut body).await.unwrap()[..], b"bye|eof after 8");
    })
    .await
}
