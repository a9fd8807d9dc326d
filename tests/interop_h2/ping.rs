//! PINGs both ways, keep-alive and the SETTINGS acknowledgement timeout.

use crate::harness::{bounded, h2_req, h2_response, h2_to_ours, ours_to_h2};
use crate::support::Ctx;
use bytes::Bytes;
use http::{Method, StatusCode};
use sallyport::proto::h2::{Config, Event, RequestHead, ResponseHead};
use std::time::Duration;
use tokio::sync::mpsc;

// ============================================================ our client ↔ h2::server

#[tokio::test]
async fn client_ping_both_ways() {
    bounded(async {
        let (mut client, mut server) = ours_to_h2(
            Config::default(),
            &h2::server::Builder::new(),
            |_req, _respond| async {},
        )
        .await;
        client.ping(*b"12345678").await;
        match client.conn_event().await.unwrap() {
            Event::PingAck { payload } => assert_eq!(&payload, b"12345678"),
            other => panic!("expected PingAck, got {other:?}"),
        }
        // h2's PINGs are answered by our side.
        let mut pp = server.ping.take().unwrap();
        for _ in 0..3 {
            pp.ping(h2::Ping::opaque()).await.expect("h2 ping answered");
        }
        // And the connection still works.
        client.ping(*b"abcdefgh").await;
        match client.conn_event().await.unwrap() {
            Event::PingAck { payload } => assert_eq!(&payload, b"abcdefgh"),
            other => panic!("expected PingAck, got {other:?}"),
        }
    })
    .await
}

// ============================================================ h2::client ↔ our server

#[tokio::test]
async fn server_ping_both_ways() {
    bounded(async {
        let (report, mut reports) = mpsc::unbounded_channel::<[u8; 8]>();
        let handler = move |_ctx: &mut Ctx<'_>, ev: Event| {
            if let Event::PingAck { payload } = ev {
                report.send(payload).unwrap();
            }
        };
        let (mut h2c, server) =
            h2_to_ours(Config::default(), &h2::client::Builder::new(), handler).await;
        for _ in 0..3 {
            h2c.ping
                .ping(h2::Ping::opaque())
                .await
                .expect("h2 ping answered");
        }
        server.exec(|ctx, _| ctx.conn.ping(*b"sallyprt")).await;
        assert_eq!(&reports.recv().await.unwrap(), b"sallyprt");
    })
    .await
}

// ============================================================ edge cases, our client

/// Timers against a live peer: keep-alive PINGs are answered (and not surfaced as
/// `PingAck`), our SETTINGS are acknowledged before the settings timeout.
#[tokio::test]
async fn client_keepalive_and_settings_timeout() {
    bounded(async {
        let config = Config {
            keepalive: Some(sallyport::proto::h2::Keepalive {
                interval: Duration::from_millis(20),
                max_missed: 2,
            }),
            settings_timeout: Duration::from_millis(100),
            ..Config::default()
        };
        let (mut client, server) = ours_to_h2(
            config,
            &h2::server::Builder::new(),
            |_req, mut respond| async move {
                respond.send_response(h2_response(204), true).unwrap();
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!client.driver.is_finished(), "connection died while idle");
        let resp = client
            .request(
                RequestHead::new("GET", "http", "backend.local", "/"),
                Bytes::new(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        client.ping(*b"user-png").await;
        match client.conn_event().await.unwrap() {
            Event::PingAck { payload } => assert_eq!(&payload, b"user-png"),
            other => panic!("keep-alive leaked or unexpected event: {other:?}"),
        }
        server.check_handlers().await;
    })
    .await
}

// ============================================================ edge cases, our server

/// Timers on our server: keep-alive PINGs to h2 are answered, SETTINGS acknowledged in time.
#[tokio::test]
async fn server_keepalive_and_settings_timeout() {
    bounded(async {
        let config = Config {
            keepalive: Some(sallyport::proto::h2::Keepalive {
                interval: Duration::from_millis(20),
                max_missed: 2,
            }),
            settings_timeout: Duration::from_millis(100),
            ..Config::default()
        };
        let (report, mut reports) = mpsc::unbounded_channel::<Event>();
        let handler = move |ctx: &mut Ctx<'_>, ev: Event| match ev {
            Event::Request { stream_id, .. } => ctx
                .respond(stream_id, &ResponseHead::new(204), Bytes::new())
                .unwrap(),
            ev @ Event::PingAck { .. } => report.send(ev).unwrap(),
            _ => {}
        };
        let (h2c, server) = h2_to_ours(config, &h2::client::Builder::new(), handler).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!server.is_finished(), "connection died while idle");
        let (resp, _) = h2c.request(h2_req(Method::GET, "/"), true).await;
        assert_eq!(resp.await.unwrap().status(), StatusCode::NO_CONTENT);
        assert!(
            reports.try_recv().is_err(),
            "keep-alive acks surfaced as PingAck"
        );
    })
    .await
}
