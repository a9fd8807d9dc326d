//! Flow control at the edges: windows changed by SETTINGS, negative windows, and streams blocked
//! on the connection window.

use crate::harness::{bounded, h2_recv, h2_response, ours_to_h2, H2Server};
use crate::support::{assert_body, pattern, Client, PIPE};
use bytes::Bytes;
use sallyport::proto::h2::{field, Config, Event, RequestHead};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

// ============================================================ edge cases, our client

/// Our client sends a whole default window before h2's SETTINGS (initial window 1000)
/// arrive: the stream's send window goes negative and must recover through WINDOW_UPDATEs.
#[tokio::test]
async fn client_window_goes_negative_on_h2_settings() {
    bounded(async {
        let (a, b) = tokio::io::duplex(PIPE);
        let client = Client::spawn(a, Config::default());
        let stream = client
            .open(
                RequestHead::new("POST", "http", "backend.local", "/big"),
                false,
            )
            .await
            .unwrap();
        // Queued (and handed to the transport up to the default 65 535) before h2 even starts.
        stream.send_data(pattern(1, 300_000), true).await.unwrap();
        let mut builder = h2::server::Builder::new();
        builder.initial_window_size(1000);
        let server = H2Server::start(b, &builder, |req, mut respond| async move {
            let mut body = req.into_body();
            let got = h2_recv(&mut body).await.unwrap();
            assert_body("h2 server received", &got, &pattern(1, 300_000));
            let mut tx = respond.send_response(h2_response(200), false).unwrap();
            tx.send_data(Bytes::from(got.len().to_string()), true)
                .unwrap();
        })
        .await;
        let resp = stream.response().await;
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.body[..], b"300000");
        server.check_handlers().await;
    })
    .await
}

/// h2 raises SETTINGS_INITIAL_WINDOW_SIZE while our upload is blocked on the stream window:
/// the delta alone (no WINDOW_UPDATE) must let the rest go.
#[tokio::test]
async fn client_window_grows_via_h2_settings() {
    bounded(async {
        // Below h2's connection window (65 535), so only the stream window can block.
        const LEN: usize = 50_000;
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let go_rx = Arc::new(Mutex::new(Some(go_rx)));
        let mut builder = h2::server::Builder::new();
        builder.initial_window_size(1000);
        let (mut client, server) =
            ours_to_h2(Config::default(), &builder, move |req, mut respond| {
                let go_rx = go_rx.lock().unwrap().take().expect("one request");
                async move {
                    // Do not read (so no WINDOW_UPDATE) until told.
                    go_rx.await.unwrap();
                    let mut body = req.into_body();
                    let got = h2_recv(&mut body).await.unwrap();
                    assert_body("h2 server received", &got, &pattern(4, LEN));
                    respond.send_response(h2_response(200), true).unwrap();
                }
            })
            .await;
        // A PING round trip: h2's SETTINGS have been applied by then.
        client.ping([0; 8]).await;
        assert!(matches!(
            client.conn_event().await,
            Some(Event::PingAck { .. })
        ));
        let stream = client
            .open(
                RequestHead::new("POST", "http", "backend.local", "/up"),
                false,
            )
            .await
            .unwrap();
        stream.send_data(pattern(4, LEN), false).await.unwrap();
        let id = stream.id;
        let full = Config::default().max_send_buffer_per_stream as usize;
        let capacity = || client.driver.exec(move |ctx, _| ctx.conn.send_capacity(id));
        // Exactly the 1000-byte window leaves, and then nothing more.
        while capacity().await != full - (LEN - 1000) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            capacity().await,
            full - (LEN - 1000),
            "sent beyond the stream window"
        );
        // The larger initial window alone lets the rest go (h2 reads nothing yet).
        server.control(|c| c.set_initial_window_size(1 << 20).unwrap());
        while capacity().await != full {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stream.send_data(Bytes::new(), true).await.unwrap();
        go_tx.send(()).unwrap();
        let resp = stream.response().await;
        assert_eq!(resp.status(), 200);
        assert!(resp.ended);
        server.check_handlers().await;
    })
    .await
}

/// Makes an h2 handler wait, without reading (so without crediting any window), until
/// `n` bytes of the request body are buffered in h2.
async fn h2_wait_buffered(body: &mut h2::RecvStream, n: usize) {
    while body.flow_control().used_capacity() < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A stream that only has END_STREAM or trailers left to send must not wait behind a stream
/// blocked on the connection window: neither needs flow-control credit (RFC 9113 §6.9), and
/// the peer may be waiting for that end before it reads (and credits) anything else.
#[tokio::test]
async fn client_stream_end_not_blocked_by_connection_window() {
    bounded(async {
        let (a_full_tx, mut a_full_rx) = mpsc::unbounded_channel::<()>();
        let (ends_tx, ends_rx) = mpsc::unbounded_channel::<()>();
        let ends_rx = Arc::new(tokio::sync::Mutex::new(ends_rx));
        // h2's connection window stays at its default 65 535; its stream windows are larger,
        // so A ends up blocked on the connection window alone.
        let mut builder = h2::server::Builder::new();
        builder.initial_window_size(1 << 20);
        let (client, server) = ours_to_h2(Config::default(), &builder, move |req, mut respond| {
            let (a_full_tx, ends_tx, ends_rx) =
                (a_full_tx.clone(), ends_tx.clone(), ends_rx.clone());
            async move {
                let path = req.uri().path().to_string();
                let mut body = req.into_body();
                if path == "/a" {
                    // A: not read (no connection credit) until B and C have finished.
                    h2_wait_buffered(&mut body, 65_535 - 2).await;
                    a_full_tx.send(()).unwrap();
                    let mut ends = ends_rx.lock().await;
                    ends.recv().await.unwrap();
                    ends.recv().await.unwrap();
                    let got = h2_recv(&mut body).await.unwrap();
                    assert_eq!(got.len(), 200_000);
                } else {
                    // B and C: read to the end (B has trailers).
                    let got = h2_recv(&mut body).await.unwrap();
                    assert_eq!(got.len(), 1);
                    assert_eq!(body.trailers().await.unwrap().is_some(), path == "/b");
                    ends_tx.send(()).unwrap();
                }
                respond.send_response(h2_response(200), true).unwrap();
            }
        })
        .await;
        let open =
            |p: &str| client.open(RequestHead::new("POST", "http", "backend.local", p), false);
        let b = open("/b").await.unwrap();
        b.send_data(Bytes::from_static(b"b"), false).await.unwrap();
        let c = open("/c").await.unwrap();
        c.send_data(Bytes::from_static(b"c"), false).await.unwrap();
        let a = open("/a").await.unwrap();
        a.send_data(pattern(5, 200_000), true).await.unwrap();
        // A has used up the connection window.
        a_full_rx.recv().await.unwrap();
        b.send_trailers(vec![field("x-done", "1")]).await.unwrap();
        c.send_data(Bytes::new(), true).await.unwrap();
        let b = tokio::time::timeout(Duration::from_secs(2), b.response())
            .await
            .expect("B's trailers never left: queued behind A, which waits for connection credit");
        assert_eq!(b.status(), 200);
        let c = tokio::time::timeout(Duration::from_secs(2), c.response())
            .await
            .expect(
                "C's END_STREAM never left: queued behind A, which waits for connection credit",
            );
        assert_eq!(c.status(), 200);
        let a = a.response().await;
        assert_eq!(a.status(), 200);
        server.check_handlers().await;
    })
    .await
}

/// `wants_transmit()` is documented as "poll_transmit has something to send": it must be
/// false while the only queued DATA waits for connection credit, or an I/O loop of the form
/// `while wants_transmit() { poll_transmit(); write() }` spins.
#[tokio::test]
async fn client_wants_transmit_false_when_blocked_on_connection_window() {
    bounded(async {
        let (full_tx, mut full_rx) = mpsc::unbounded_channel::<()>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let done_rx = Arc::new(Mutex::new(Some(done_rx)));
        let mut builder = h2::server::Builder::new();
        builder.initial_window_size(1 << 20);
        let (client, server) = ours_to_h2(Config::default(), &builder, move |req, mut respond| {
            let full_tx = full_tx.clone();
            let done_rx = done_rx.lock().unwrap().take().unwrap();
            async move {
                let mut body = req.into_body();
                h2_wait_buffered(&mut body, 65_535).await;
                full_tx.send(()).unwrap();
                done_rx.await.unwrap();
                let got = h2_recv(&mut body).await.unwrap();
                assert_eq!(got.len(), 200_000);
                respond.send_response(h2_response(200), true).unwrap();
            }
        })
        .await;
        let a = client
            .open_with(
                RequestHead::new("POST", "http", "backend.local", "/a"),
                pattern(5, 200_000),
                true,
            )
            .await
            .unwrap();
        full_rx.recv().await.unwrap();
        let (wants, sent) = client
            .driver
            .exec(|ctx, _| {
                let wants = ctx.conn.wants_transmit();
                let mut out = Vec::new();
                let sent = ctx.conn.poll_transmit(&mut out, usize::MAX);
                (wants, sent)
            })
            .await;
        assert_eq!(sent, 0, "sent beyond the connection window");
        assert!(
            !wants,
            "wants_transmit() is true but poll_transmit() has nothing to send"
        );
        done_tx.send(()).unwrap();
        assert_eq!(a.response().await.status(), 200);
        server.check_handlers().await;
    })
    .await
}
