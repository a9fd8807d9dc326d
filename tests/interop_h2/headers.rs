//! Header blocks: CONTINUATION for large blocks, small HPACK tables.

use crate::harness::{bounded, h2_req, h2_to_ours, ours_to_h2};
use crate::support::{fld, get, pattern, Ctx};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use sallyport::proto::h2::{Config, Event, RequestHead, ResponseHead};

// ============================================================ edge cases, our client

fn big_value(seed: u32, len: usize) -> String {
    pattern(seed, len)
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect()
}

/// Header blocks larger than a frame go out as HEADERS + CONTINUATION both ways.
#[tokio::test]
async fn client_large_headers_continuation() {
    bounded(async {
        let config = Config {
            max_frame_size: 16_384,
            ..Config::default()
        };
        let (client, server) = ours_to_h2(
            config,
            &h2::server::Builder::new(),
            |req, mut respond| async move {
                for i in 0..3u32 {
                    let v = req.headers()[format!("x-big-{i}").as_str()]
                        .to_str()
                        .unwrap();
                    assert_eq!(v, big_value(i, 12_000));
                }
                let mut resp = http::Response::builder().status(200);
                for i in 10..13u32 {
                    resp = resp.header(format!("x-big-{i}"), big_value(i, 12_000));
                }
                respond.send_response(resp.body(()).unwrap(), true).unwrap();
            },
        )
        .await;
        let mut head = RequestHead::new("GET", "http", "backend.local", "/big-headers");
        for i in 0..3u32 {
            head.fields
                .push(fld(&format!("x-big-{i}"), &big_value(i, 12_000)));
        }
        let resp = client.request(head, Bytes::new()).await.unwrap();
        assert_eq!(resp.status(), 200);
        let head = resp.head.unwrap();
        for i in 10..13u32 {
            assert_eq!(
                get(&head.fields, &format!("x-big-{i}")),
                Some(&big_value(i, 12_000)[..])
            );
        }
        server.check_handlers().await;
    })
    .await
}

/// h2 advertises a small HPACK table: our encoder must shrink to it (and evict), many
/// requests with changing headers stay decodable.
#[tokio::test]
async fn client_hpack_small_peer_table() {
    bounded(async {
        for table in [0u32, 100] {
            let mut builder = h2::server::Builder::new();
            builder.header_table_size(table);
            let (mut client, server) =
                ours_to_h2(Config::default(), &builder, |req, mut respond| async move {
                    let i = req.headers()["x-i"].to_str().unwrap().to_string();
                    assert_eq!(
                        req.headers()["x-value"].to_str().unwrap(),
                        format!("value-{i}")
                    );
                    let resp = http::Response::builder()
                        .status(200)
                        .header("x-echo", format!("echo-{i}"))
                        .body(())
                        .unwrap();
                    respond.send_response(resp, true).unwrap();
                })
                .await;
            client.ping([0; 8]).await;
            assert!(matches!(
                client.conn_event().await,
                Some(Event::PingAck { .. })
            ));
            for i in 0..40 {
                let mut head = RequestHead::new("GET", "http", "backend.local", &format!("/{i}"));
                head.fields.push(fld("x-i", &(i % 7).to_string()));
                head.fields
                    .push(fld("x-value", &format!("value-{}", i % 7)));
                let resp = client.request(head, Bytes::new()).await.unwrap();
                assert_eq!(resp.status(), 200, "table {table}, request {i}");
                let echo = format!("echo-{}", i % 7);
                assert_eq!(get(&resp.head.unwrap().fields, "x-echo"), Some(&echo[..]));
            }
            server.check_handlers().await;
        }
    })
    .await
}

// ============================================================ edge cases, our server

/// Header blocks larger than a frame, both ways (h2 sends CONTINUATION to us; we send
/// CONTINUATION to h2).
#[tokio::test]
async fn server_large_headers_continuation() {
    bounded(async {
        let config = Config {
            max_frame_size: 16_384,
            ..Config::default()
        };
        let handler = move |ctx: &mut Ctx<'_>, ev: Event| {
            if let Event::Request {
                stream_id, head, ..
            } = ev
            {
                for i in 0..3u32 {
                    let v = get(&head.fields, &format!("x-big-{i}")).unwrap();
                    assert_eq!(v, big_value(i, 12_000));
                }
                let mut resp = ResponseHead::new(200);
                for i in 10..13u32 {
                    resp.fields
                        .push(fld(&format!("x-big-{i}"), &big_value(i, 12_000)));
                }
                ctx.respond(stream_id, &resp, Bytes::new()).unwrap();
            }
        };
        let (h2c, _server) = h2_to_ours(config, &h2::client::Builder::new(), handler).await;
        let mut req = h2_req(Method::GET, "/big-headers");
        for i in 0..3u32 {
            req.headers_mut().insert(
                http::HeaderName::try_from(format!("x-big-{i}")).unwrap(),
                HeaderValue::try_from(big_value(i, 12_000)).unwrap(),
            );
        }
        let (resp, _) = h2c.request(req, true).await;
        let resp = resp.await.expect("h2 response");
        assert_eq!(resp.status(), StatusCode::OK);
        for i in 10..13u32 {
            assert_eq!(
                resp.headers()[format!("x-big-{i}").as_str()],
                big_value(i, 12_000).as_str()
            );
        }
    })
    .await
}

/// Small HPACK tables on both sides: our decoder with a small advertised table, h2's with a
/// small one for our encoder; many requests with changing headers.
#[tokio::test]
async fn server_hpack_small_tables() {
    bounded(async {
        for table in [0u32, 100] {
            let config = Config {
                header_table_size: table,
                ..Config::default()
            };
            let handler = move |ctx: &mut Ctx<'_>, ev: Event| {
                if let Event::Request {
                    stream_id, head, ..
                } = ev
                {
                    let i = get(&head.fields, "x-i").unwrap().to_string();
                    assert_eq!(
                        get(&head.fields, "x-value"),
                        Some(&format!("value-{i}")[..])
                    );
                    let mut resp = ResponseHead::new(200);
                    resp.fields.push(fld("x-echo", &format!("echo-{i}")));
                    ctx.respond(stream_id, &resp, Bytes::new()).unwrap();
                }
            };
            let mut builder = h2::client::Builder::new();
            builder.header_table_size(table);
            let (mut h2c, _server) = h2_to_ours(config, &builder, handler).await;
            h2c.ping.ping(h2::Ping::opaque()).await.unwrap();
            for i in 0..40 {
                let mut req = h2_req(Method::GET, &format!("/{i}"));
                req.headers_mut().insert("x-i", HeaderValue::from(i % 7));
                req.headers_mut().insert(
                    "x-value",
                    HeaderValue::try_from(format!("value-{}", i % 7)).unwrap(),
                );
                let (resp, _) = h2c.request(req, true).await;
                let resp = resp
                    .await
                    .unwrap_or_else(|e| panic!("table {table}, request {i}: {e}"));
                assert_eq!(resp.headers()["x-echo"], format!("echo-{}", i % 7).as_str());
            }
        }
    })
    .await
}
