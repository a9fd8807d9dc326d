//! Large bodies both ways, with default and minimal windows and with large frames.

use crate::harness::{
    bounded, h2_recv, h2_req, h2_response, h2_send, h2_to_ours, ours_to_h2, tiny_windows, BIG,
};
use crate::support::{assert_body, pattern, Collector, Ctx, Fed};
use bytes::BytesMut;
use http::{Method, StatusCode};
use sallyport::proto::h2::{Config, Event, RequestHead, ResponseHead};
use tokio::sync::mpsc;

// ============================================================ our client ↔ h2::server

/// 8 MiB up and 8 MiB down at the same time on one stream.
async fn client_large_bodies(config: Config, builder: h2::server::Builder) {
    let (client, server) = ours_to_h2(config, &builder, |req, mut respond| async move {
        let mut body = req.into_body();
        let mut tx = respond.send_response(h2_response(200), false).unwrap();
        let (got, sent) = tokio::join!(h2_recv(&mut body), h2_send(&mut tx, pattern(2, BIG), true));
        sent.unwrap();
        assert_body("h2 server received", &got.unwrap(), &pattern(1, BIG));
    })
    .await;
    let stream = client
        .open(
            RequestHead::new("POST", "http", "backend.local", "/big"),
            false,
        )
        .await
        .unwrap();
    stream.send_data(pattern(1, BIG), true).await.unwrap();
    let resp = stream.response().await;
    assert_eq!(resp.reset, None);
    assert!(resp.ended);
    assert_eq!(resp.status(), 200);
    assert_body("our client received", &resp.body, &pattern(2, BIG));
    server.check_handlers().await;
}

#[tokio::test]
async fn client_large_bodies_default_windows() {
    bounded(client_large_bodies(
        Config::default(),
        h2::server::Builder::new(),
    ))
    .await
}

#[tokio::test]
async fn client_large_bodies_tiny_windows() {
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(65_535)
        .initial_connection_window_size(65_535);
    bounded(client_large_bodies(tiny_windows(), builder)).await
}

// ============================================================ h2::client ↔ our server

/// 8 MiB up and 8 MiB down at the same time on one stream; the upload is checked by the
/// server handler and reported.
async fn server_large_bodies(config: Config, builder: h2::client::Builder) {
    let (report, mut reports) = mpsc::unbounded_channel::<BytesMut>();
    let mut requests = Collector::default();
    let handler = move |ctx: &mut Ctx<'_>, ev: Event| match requests.feed(ev) {
        Fed::Head(id) => {
            ctx.conn
                .send_response(id, &ResponseHead::new(200), false)
                .unwrap();
            ctx.send_data(id, pattern(2, BIG), true).unwrap();
        }
        Fed::Complete(id) => {
            let req = requests.requests.remove(&id).unwrap();
            report.send(req.body).unwrap();
        }
        Fed::Reset(id, reason, remote) => panic!("stream {id} reset: {reason} (remote {remote})"),
        _ => {}
    };
    let (h2c, _server) = h2_to_ours(config, &builder, handler).await;
    let (resp, mut tx) = h2c.request(h2_req(Method::POST, "/big"), false).await;
    let upload = async move { h2_send(&mut tx, pattern(1, BIG), true).await };
    let download = async move {
        let resp = resp.await?;
        assert_eq!(resp.status(), StatusCode::OK);
        let mut body = resp.into_body();
        h2_recv(&mut body).await
    };
    let (up, down) = tokio::join!(upload, download);
    up.expect("h2 upload");
    assert_body(
        "h2 client received",
        &down.expect("h2 download"),
        &pattern(2, BIG),
    );
    let got = reports.recv().await.unwrap();
    assert_body("our server received", &got, &pattern(1, BIG));
}

#[tokio::test]
async fn server_large_bodies_default_windows() {
    bounded(server_large_bodies(
        Config::default(),
        h2::client::Builder::new(),
    ))
    .await
}

#[tokio::test]
async fn server_large_bodies_tiny_windows() {
    let mut builder = h2::client::Builder::new();
    builder
        .initial_window_size(65_535)
        .initial_connection_window_size(65_535);
    bounded(server_large_bodies(tiny_windows(), builder)).await
}

// ============================================================ edge cases, our client

/// Frames far above the 16 KiB default both ways (both ends advertise 1 MiB frames).
#[tokio::test]
async fn client_large_bodies_big_frames() {
    let config = Config {
        max_frame_size: 1 << 20,
        initial_stream_window: 4 << 20,
        ..Config::default()
    };
    let mut builder = h2::server::Builder::new();
    builder
        .max_frame_size(1 << 20)
        .initial_window_size(4 << 20)
        .initial_connection_window_size(16 << 20);
    bounded(client_large_bodies(config, builder)).await
}

// ============================================================ edge cases, our server

/// Frames far above the 16 KiB default both ways (both ends advertise 1 MiB frames).
#[tokio::test]
async fn server_large_bodies_big_frames() {
    let config = Config {
        max_frame_size: 1 << 20,
        initial_stream_window: 4 << 20,
        ..Config::default()
    };
    let mut builder = h2::client::Builder::new();
    builder
        .max_frame_size(1 << 20)
        .initial_window_size(4 << 20)
        .initial_connection_window_size(16 << 20);
    bounded(server_large_bodies(config, builder)).await
}
