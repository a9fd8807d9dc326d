//! Trailers both ways, with and without a body.

use crate::harness::{bounded, echo_server, h2_recv, h2_req, h2_response, h2_to_ours, ours_to_h2};
use crate::support::get;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use sallyport::proto::h2::{field, Config, RequestHead};

// ============================================================ our client ↔ h2::server

#[tokio::test]
async fn client_trailers_both_ways() {
    bounded(async {
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |req, mut respond| async move {
                let mut body = req.into_body();
                let got = h2_recv(&mut body).await.unwrap();
                assert_eq!(&got[..], b"payload");
                let trailers = body.trailers().await.unwrap().expect("request trailers");
                assert_eq!(trailers["x-checksum"], "abc123");
                assert_eq!(trailers["x-count"], "7");
                let mut tx = respond.send_response(h2_response(200), false).unwrap();
                tx.send_data(Bytes::from_static(b"response body"), false)
                    .unwrap();
                let mut t = HeaderMap::new();
                t.insert("grpc-status", HeaderValue::from_static("0"));
                t.insert("grpc-message", HeaderValue::from_static("fine"));
                tx.send_trailers(t).unwrap();
            },
        )
        .await;
        let stream = client
            .open(
                RequestHead::new("POST", "http", "backend.local", "/rpc"),
                false,
            )
            .await
            .unwrap();
        stream
            .send_data(Bytes::from_static(b"payload"), false)
            .await
            .unwrap();
        stream
            .send_trailers(vec![field("x-checksum", "abc123"), field("x-count", "7")])
            .await
            .unwrap();
        let resp = stream.response().await;
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.body[..], b"response body");
        let trailers = resp.trailers.expect("response trailers");
        assert_eq!(get(&trailers, "grpc-status"), Some("0"));
        assert_eq!(get(&trailers, "grpc-message"), Some("fine"));
        server.check_handlers().await;
    })
    .await
}

// ============================================================ h2::client ↔ our server

#[tokio::test]
async fn server_trailers_both_ways() {
    bounded(async {
        let (h2c, _server) = h2_to_ours(
            Config::default(),
            &h2::client::Builder::new(),
            echo_server(),
        )
        .await;
        let (resp, mut tx) = h2c.request(h2_req(Method::POST, "/rpc"), false).await;
        tx.send_data(Bytes::from_static(b"payload"), false).unwrap();
        let mut t = HeaderMap::new();
        t.insert("x-checksum", HeaderValue::from_static("abc123"));
        tx.send_trailers(t).unwrap();
        let resp = resp.await.expect("h2 response");
        assert_eq!(resp.status(), StatusCode::OK);
        let mut body = resp.into_body();
        assert_eq!(&h2_recv(&mut body).await.unwrap()[..], b"payload");
        let trailers = body.trailers().await.unwrap().expect("response trailers");
        assert_eq!(trailers["x-echo-x-checksum"], "abc123");
    })
    .await
}

// ============================================================ edge cases, our client

/// Trailers directly after the head (no DATA at all), both ways.
#[tokio::test]
async fn client_trailers_without_body() {
    bounded(async {
        let (client, server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |req, mut respond| async move {
                let mut body = req.into_body();
                assert!(h2_recv(&mut body).await.unwrap().is_empty());
                let trailers = body.trailers().await.unwrap().expect("request trailers");
                assert_eq!(trailers["x-only"], "trailers");
                let mut tx = respond.send_response(h2_response(200), false).unwrap();
                let mut t = HeaderMap::new();
                t.insert("grpc-status", HeaderValue::from_static("7"));
                tx.send_trailers(t).unwrap();
            },
        )
        .await;
        let stream = client
            .open(
                RequestHead::new("POST", "http", "backend.local", "/rpc"),
                false,
            )
            .await
            .unwrap();
        stream
            .send_trailers(vec![field("x-only", "trailers")])
            .await
            .unwrap();
        let resp = stream.response().await;
        assert_eq!(resp.status(), 200);
        assert!(resp.body.is_empty());
        assert_eq!(
            get(&resp.trailers.expect("response trailers"), "grpc-status"),
            Some("7")
        );
        server.check_handlers().await;
    })
    .await
}
