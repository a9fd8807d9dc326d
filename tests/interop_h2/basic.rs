//! Plain exchanges: requests with and without bodies, interim (1xx) and HEAD responses, and
//! server push turned off.

use crate::harness::{bounded, echo_server, h2_recv, h2_req, h2_response, h2_to_ours, ours_to_h2};
use crate::support::{get, Collector, Ctx, Fed};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use sallyport::proto::h2::{field, Config, Event, RequestHead, ResponseHead};

// ============================================================ our client ↔ h2::server

#[tokio::test]
async fn client_get_without_body() {
    bounded(async {
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |req, mut respond| async move {
                assert_eq!(req.method(), Method::GET);
                assert_eq!(req.uri().authority().unwrap().as_str(), "backend.local");
                assert_eq!(req.uri().scheme_str(), Some("http"));
                assert!(req.body().is_end_stream());
                if req.uri().path() == "/empty" {
                    // A response without a body: END_STREAM on the HEADERS frame.
                    respond.send_response(h2_response(204), true).unwrap();
                    return;
                }
                assert_eq!(req.uri().path(), "/hello");
                assert_eq!(req.headers()["x-test"], "yes");
                let resp = http::Response::builder()
                    .status(200)
                    .header("content-type", "text/plain")
                    .body(())
                    .unwrap();
                let mut body = respond.send_response(resp, false).unwrap();
                body.send_data(Bytes::from_static(b"hello world"), true)
                    .unwrap();
            },
        )
        .await;
        let mut head = RequestHead::new("GET", "http", "backend.local", "/hello");
        head.fields.push(field("x-test", "yes"));
        let resp = client.request(head, Bytes::new()).await.unwrap();
        assert_eq!(resp.reset, None);
        assert!(resp.ended);
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.head.as_ref().unwrap().get("content-type").unwrap(),
            "text/plain"
        );
        assert_eq!(&resp.body[..], b"hello world");
        let resp = client
            .request(
                RequestHead::new("GET", "http", "backend.local", "/empty"),
                Bytes::new(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        assert!(resp.ended && resp.body.is_empty() && resp.reset.is_none());
        server.check_handlers().await;
    })
    .await
}

#[tokio::test]
async fn client_post_small_body() {
    bounded(async {
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |req, mut respond| async move {
                assert_eq!(req.method(), Method::POST);
                assert_eq!(req.headers()["content-length"], "9");
                let mut body = req.into_body();
                let got = h2_recv(&mut body).await.unwrap();
                assert_eq!(&got[..], b"ping pong");
                let mut tx = respond.send_response(h2_response(201), false).unwrap();
                let mut echo = b"echo: ".to_vec();
                echo.extend_from_slice(&got);
                tx.send_data(echo.into(), true).unwrap();
            },
        )
        .await;
        let mut head = RequestHead::new("POST", "http", "backend.local", "/echo");
        head.fields.push(field("content-length", "9"));
        let resp = client
            .request(head, Bytes::from_static(b"ping pong"))
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        assert_eq!(&resp.body[..], b"echo: ping pong");
        assert!(resp.ended && resp.reset.is_none());
        server.check_handlers().await;
    })
    .await
}

// ============================================================ h2::client ↔ our server

#[tokio::test]
async fn server_get_without_body() {
    bounded(async {
        let mut requests = Collector::default();
        let (h2c, _server) = h2_to_ours(
            Config::default(),
            &h2::client::Builder::new(),
            move |ctx: &mut Ctx<'_>, ev: Event| {
                if let Fed::Complete(id) = requests.feed(ev) {
                    let req = &requests.requests[&id];
                    assert_eq!(&req.head.method[..], b"GET");
                    assert_eq!(req.path(), "/hello");
                    assert_eq!(req.head.authority.as_deref(), Some(&b"backend.local"[..]));
                    assert_eq!(req.head.scheme.as_deref(), Some(&b"http"[..]));
                    assert_eq!(get(&req.head.fields, "x-test"), Some("yes"));
                    let mut head = ResponseHead::new(200);
                    head.fields.push(field("content-type", "text/plain"));
                    ctx.respond(id, &head, Bytes::from_static(b"hello world"))
                        .unwrap();
                }
            },
        )
        .await;
        let mut req = h2_req(Method::GET, "/hello");
        req.headers_mut()
            .insert("x-test", HeaderValue::from_static("yes"));
        let (resp, _) = h2c.request(req, true).await;
        let resp = resp.await.expect("h2 response");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/plain");
        let mut body = resp.into_body();
        assert_eq!(&h2_recv(&mut body).await.unwrap()[..], b"hello world");
    })
    .await
}

#[tokio::test]
async fn server_post_small_body() {
    bounded(async {
        let (h2c, _server) = h2_to_ours(
            Config::default(),
            &h2::client::Builder::new(),
            echo_server(),
        )
        .await;
        let mut req = h2_req(Method::POST, "/echo");
        req.headers_mut()
            .insert("content-length", HeaderValue::from_static("9"));
        let (resp, mut tx) = h2c.request(req, false).await;
        tx.send_data(Bytes::from_static(b"ping pong"), true)
            .unwrap();
        let resp = resp.await.expect("h2 response");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-path"], "/echo");
        let mut body = resp.into_body();
        assert_eq!(&h2_recv(&mut body).await.unwrap()[..], b"ping pong");
    })
    .await
}

// ============================================================ edge cases, our client

/// Interim (1xx) responses before the final one; HEAD with a content-length and no body.
#[tokio::test]
async fn client_interim_and_head_responses() {
    bounded(async {
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |req, mut respond| async move {
                if req.method() == Method::HEAD {
                    let resp = http::Response::builder()
                        .status(200)
                        .header("content-length", "1234")
                        .body(())
                        .unwrap();
                    respond.send_response(resp, true).unwrap();
                    return;
                }
                let hints = http::Response::builder()
                    .status(103)
                    .header("link", "</style.css>; rel=preload")
                    .body(())
                    .unwrap();
                respond.send_informational(hints).unwrap();
                let mut tx = respond.send_response(h2_response(200), false).unwrap();
                tx.send_data(Bytes::from_static(b"final"), true).unwrap();
            },
        )
        .await;
        let resp = client
            .request(
                RequestHead::new("GET", "http", "backend.local", "/hints"),
                Bytes::new(),
            )
            .await
            .unwrap();
        assert_eq!(resp.interim.len(), 1);
        assert_eq!(resp.interim[0].status, 103);
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.body[..], b"final");
        let resp = client
            .request(
                RequestHead::new("HEAD", "http", "backend.local", "/"),
                Bytes::new(),
            )
            .await
            .unwrap();
        assert_eq!(resp.reset, None);
        assert_eq!(resp.status(), 200);
        assert!(resp.ended && resp.body.is_empty());
        server.check_handlers().await;
    })
    .await
}

/// Our client advertises SETTINGS_ENABLE_PUSH = 0: h2 must refuse to push.
#[tokio::test]
async fn client_disables_push() {
    bounded(async {
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |_req, mut respond| async move {
                let pushed = respond.push_request(h2_req(Method::GET, "/pushed"));
                assert!(pushed.is_err(), "h2 may push although we disabled it");
                respond.send_response(h2_response(204), true).unwrap();
            },
        )
        .await;
        let resp = client
            .request(
                RequestHead::new("GET", "http", "backend.local", "/"),
                Bytes::new(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        server.check_handlers().await;
    })
    .await
}

// ============================================================ edge cases, our server

/// Our server sends an interim 103 before the final response; h2 delivers the final one.
#[tokio::test]
async fn server_interim_response() {
    bounded(async {
        let handler = move |ctx: &mut Ctx<'_>, ev: Event| {
            if let Event::Request { stream_id, .. } = ev {
                let mut hints = ResponseHead::new(103);
                hints
                    .fields
                    .push(field("link", "</style.css>; rel=preload"));
                ctx.conn.send_response(stream_id, &hints, false).unwrap();
                ctx.respond(
                    stream_id,
                    &ResponseHead::new(200),
                    Bytes::from_static(b"final"),
                )
                .unwrap();
            }
        };
        let (h2c, _server) =
            h2_to_ours(Config::default(), &h2::client::Builder::new(), handler).await;
        let (resp, _) = h2c.request(h2_req(Method::GET, "/hints"), true).await;
        let resp = resp.await.expect("final response");
        assert_eq!(resp.status(), StatusCode::OK);
        let mut body = resp.into_body();
        assert_eq!(&h2_recv(&mut body).await.unwrap()[..], b"final");
    })
    .await
}
