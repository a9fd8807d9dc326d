//! Codec benchmark: a client/server pair exchanging requests entirely in memory, for our
//! sans-IO codec and for the `h2` crate doing the same work.
//!
//! * **ours**: two [`Connection`]s in one thread. Bytes move by `poll_transmit` on one side,
//!   appending the chunks to the other side's receive `BytesMut` (one copy, standing in for the
//!   transport), and `recv` there. No I/O, no async, no clock reads inside the codec.
//! * **h2**: `h2::client` and `h2::server` over `tokio::io::duplex` in a current-thread tokio
//!   runtime, the cheapest way h2 can run. It carries an async runtime (task wake-ups, one task
//!   per connection side, one per upload request) and the duplex adds a copy on top of h2's own
//!   buffers: that is what a user of h2 pays, and why the numbers are "ours vs what you would
//!   build instead", not a pure codec-to-codec comparison.
//!
//! Both sides use the same windows (1 MiB per stream, 16 MiB per connection), 64 KiB frames,
//! 1024 concurrent streams, and consume and release every received byte.
//!
//! Workloads:
//! * `small`: 100 concurrent GETs with 6 typical headers (one of them a per-request id), each
//!   answered with a 200, 4 headers and a 100-byte body. Rate: requests/s.
//! * `bulk`: one stream uploads 1 MiB (POST with content-length), the server reads it all,
//!   then answers with a 1 MiB body. Throughput counts both directions: 2 MiB per iteration.
//!
//! After criterion's own report, a summary table times the same closures again (best of 5
//! runs) and prints ours vs h2 with the ratio, which criterion does not print.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput};
use sallyport::proto::h2::{field, Config, Connection, Event, RequestHead, ResponseHead, Role};
use sallyport::proto::{StreamId, Timestamp};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BATCH: usize = 100;
const SMALL_BODY: usize = 100;
const BULK: usize = 1 << 20;
const STREAM_WINDOW: u32 = 1 << 20;
const CONN_WINDOW: u32 = 16 << 20;
const FRAME: u32 = 64 << 10;
/// What one `poll_transmit` may hand out before the bytes are delivered: a transport write.
const WRITE: usize = 256 << 10;
/// The duplex pipe's buffer for h2, the same size.
const DUPLEX: usize = 256 << 10;

static SMALL: [u8; SMALL_BODY] = [b'a'; SMALL_BODY];

fn request_id(n: u64) -> Bytes {
    Bytes::from(format!("{n:016x}"))
}

// ------------------------------------------------------------------------------------ ours

struct Ours {
    client: Connection,
    server: Connection,
    to_server: BytesMut,
    to_client: BytesMut,
    chunks: Vec<Bytes>,
    now: Timestamp,
    response: ResponseHead,
    bulk: Bytes,
    next_request: u64,
}

impl Ours {
    fn new() -> Self {
        let config = Config {
            initial_stream_window: STREAM_WINDOW,
            connection_window: CONN_WINDOW,
            max_frame_size: FRAME,
            max_concurrent_streams: 1024,
            max_send_buffer_per_stream: BULK as u32,
            ..Config::default()
        };
        let now = Timestamp::ZERO;
        let mut response = ResponseHead::new(200);
        response
            .fields
            .push(field("content-type", "application/json"));
        response.fields.push(field("content-length", "100"));
        response.fields.push(field("cache-control", "no-store"));
        response
            .fields
            .push(field("date", "Tue, 21 Oct 2025 07:28:00 GMT"));
        let mut pair = Ours {
            client: Connection::new(Role::Client, config.clone(), now),
            server: Connection::new(Role::Server, config, now),
            to_server: BytesMut::with_capacity(WRITE * 2),
            to_client: BytesMut::with_capacity(WRITE * 2),
            chunks: Vec::new(),
            now,
            response,
            bulk: Bytes::from(vec![b'b'; BULK]),
            next_request: 0,
        };
        // Preface and SETTINGS both ways, and the ACKs.
        for _ in 0..3 {
            pair.pump();
        }
        pair
    }

    /// Moves everything each side wants to send to the other side; true if anything moved.
    fn pump(&mut self) -> bool {
        let a = transfer(
            &mut self.client,
            &mut self.server,
            &mut self.to_server,
            &mut self.chunks,
            self.now,
        );
        let b = transfer(
            &mut self.server,
            &mut self.client,
            &mut self.to_client,
            &mut self.chunks,
            self.now,
        );
        a || b
    }

    fn request(&mut self, method: &'static str, path: &str) -> RequestHead {
        let mut h = RequestHead::new(method, "https", "erp.internal:443", path);
        h.fields.push(field("accept", "application/json"));
        h.fields.push(field("accept-encoding", "gzip, deflate, br"));
        h.fields.push(field("accept-language", "en-US,en;q=0.9"));
        h.fields.push(field("user-agent", "sallyport-relay/0.1"));
        h.fields.push(field("x-forwarded-for", "10.20.30.40"));
        h.fields
            .push(field("x-request-id", request_id(self.next_request)));
        self.next_request += 1;
        h
    }

    /// `BATCH` GETs in flight at once, all answered.
    fn small_batch(&mut self) {
        for _ in 0..BATCH {
            let head = self.request("GET", "/api/v1/items?id=42");
            self.client.send_request(&head, true).expect("send_request");
        }
        let mut done = 0;
        while done < BATCH {
            let mut progressed = self.pump();
            while let Some(ev) = self.server.poll_event() {
                progressed = true;
                if let Event::Request { stream_id, .. } = ev {
                    self.server
                        .send_response(stream_id, &self.response, false)
                        .expect("send_response");
                    self.server
                        .send_data(stream_id, Bytes::from_static(&SMALL), true)
                        .expect("send_data");
                }
            }
            while let Some(ev) = self.client.poll_event() {
                progressed = true;
                match ev {
                    Event::Data {
                        stream_id,
                        data,
                        end_stream,
                    } => {
                        self.client.release_capacity(stream_id, data.len());
                        black_box(&data);
                        done += usize::from(end_stream);
                    }
                    Event::Response { end_stream, .. } => done += usize::from(end_stream),
                    other => panic!("unexpected client event {other:?}"),
                }
            }
            assert!(progressed, "small batch stalled after {done} responses");
        }
    }

    /// 1 MiB up, then 1 MiB down, on one stream.
    fn bulk(&mut self) {
        let mut head = self.request("POST", "/upload");
        head.fields.push(field("content-length", BULK.to_string()));
        let id = self
            .client
            .send_request(&head, false)
            .expect("send_request");
        self.client
            .send_data(id, self.bulk.clone(), true)
            .expect("send_data");
        let (mut up, mut down) = (0, 0);
        let mut finished = false;
        while !finished {
            let mut progressed = self.pump();
            while let Some(ev) = self.server.poll_event() {
                progressed = true;
                match ev {
                    Event::Request { .. } => {}
                    Event::Data {
                        stream_id,
                        data,
                        end_stream,
                    } => {
                        up += data.len();
                        self.server.release_capacity(stream_id, data.len());
                        black_box(&data);
                        if end_stream {
                            assert_eq!(up, BULK);
                            self.respond_bulk(stream_id);
                        }
                    }
                    other => panic!("unexpected server event {other:?}"),
                }
            }
            while let Some(ev) = self.client.poll_event() {
                progressed = true;
                match ev {
                    Event::Response { .. } => {}
                    Event::Data {
                        stream_id,
                        data,
                        end_stream,
                    } => {
                        down += data.len();
                        self.client.release_capacity(stream_id, data.len());
                        black_box(&data);
                        finished = end_stream;
                    }
                    other => panic!("unexpected client event {other:?}"),
                }
            }
            assert!(progressed, "bulk transfer stalled at {up} up / {down} down");
        }
        assert_eq!(down, BULK);
    }

    fn respond_bulk(&mut self, id: StreamId) {
        let mut head = ResponseHead::new(200);
        head.fields
            .push(field("content-type", "application/octet-stream"));
        head.fields.push(field("content-length", BULK.to_string()));
        self.server
            .send_response(id, &head, false)
            .expect("send_response");
        self.server
            .send_data(id, self.bulk.clone(), true)
            .expect("send_data");
    }
}

/// Hands `from`'s output to `to`, one transport write at a time.
fn transfer(
    from: &mut Connection,
    to: &mut Connection,
    buf: &mut BytesMut,
    chunks: &mut Vec<Bytes>,
    now: Timestamp,
) -> bool {
    let mut moved = false;
    while from.wants_transmit() {
        chunks.clear();
        if from.poll_transmit(chunks, WRITE) == 0 {
            break;
        }
        for c in chunks.drain(..) {
            buf.extend_from_slice(&c);
        }
        to.recv(buf, now).expect("recv");
        moved = true;
    }
    moved
}

// -------------------------------------------------------------------------------------- h2

mod baseline {
    use super::*;
    use h2::client::SendRequest;
    use h2::RecvStream;
    use http::{HeaderMap, HeaderValue, Method, Request, Response};
    use tokio::runtime::Runtime;

    pub struct H2 {
        rt: Runtime,
        client: SendRequest<Bytes>,
        next_request: u64,
        bulk: Bytes,
    }

    fn response_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("content-length", HeaderValue::from_static("100"));
        h.insert("cache-control", HeaderValue::from_static("no-store"));
        h.insert(
            "date",
            HeaderValue::from_static("Tue, 21 Oct 2025 07:28:00 GMT"),
        );
        h
    }

    async fn drain(mut body: RecvStream) -> usize {
        let mut n = 0;
        while let Some(chunk) = body.data().await {
            let chunk = chunk.expect("body chunk");
            n += chunk.len();
            body.flow_control()
                .release_capacity(chunk.len())
                .expect("release_capacity");
            black_box(&chunk);
        }
        n
    }

    async fn serve(io: tokio::io::DuplexStream, bulk: Bytes) {
        let mut conn = h2::server::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONN_WINDOW)
            .max_frame_size(FRAME)
            .max_concurrent_streams(1024)
            .max_send_buffer_size(BULK)
            .handshake::<_, Bytes>(io)
            .await
            .expect("server handshake");
        let small_headers = response_headers();
        while let Some(r) = conn.accept().await {
            let (req, mut respond) = match r {
                Ok(x) => x,
                Err(_) => return,
            };
            if req.method() == Method::GET {
                // No body to wait for: answer inline, without a task.
                let mut resp = Response::new(());
                *resp.headers_mut() = small_headers.clone();
                let mut s = respond.send_response(resp, false).expect("send_response");
                s.send_data(Bytes::from_static(&SMALL), true)
                    .expect("send_data");
            } else {
                let bulk = bulk.clone();
                tokio::spawn(async move {
                    let n = drain(req.into_body()).await;
                    assert_eq!(n, BULK);
                    let resp = Response::builder()
                        .header("content-type", "application/octet-stream")
                        .header("content-length", BULK)
                        .body(())
                        .expect("response");
                    let mut s = respond.send_response(resp, false).expect("send_response");
                    s.send_data(bulk, true).expect("send_data");
                });
            }
        }
    }

    impl H2 {
        pub fn new() -> Self {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            let bulk = Bytes::from(vec![b'b'; BULK]);
            let server_bulk = bulk.clone();
            let client = rt.block_on(async move {
                let (c, s) = tokio::io::duplex(DUPLEX);
                tokio::spawn(serve(s, server_bulk));
                let (client, conn) = h2::client::Builder::new()
                    .initial_window_size(STREAM_WINDOW)
                    .initial_connection_window_size(CONN_WINDOW)
                    .max_frame_size(FRAME)
                    .max_concurrent_streams(1024)
                    .max_send_buffer_size(BULK)
                    .handshake::<_, Bytes>(c)
                    .await
                    .expect("client handshake");
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                client
            });
            let mut h2 = H2 {
                rt,
                client,
                next_request: 0,
                bulk,
            };
            // Let the SETTINGS exchange finish before measuring.
            h2.small_batch();
            h2
        }

        fn request(&mut self, method: Method, uri: &str) -> Request<()> {
            let id = request_id(self.next_request);
            self.next_request += 1;
            Request::builder()
                .method(method)
                .uri(uri)
                .header("accept", "application/json")
                .header("accept-encoding", "gzip, deflate, br")
                .header("accept-language", "en-US,en;q=0.9")
                .header("user-agent", "sallyport-relay/0.1")
                .header("x-forwarded-for", "10.20.30.40")
                .header(
                    "x-request-id",
                    HeaderValue::from_maybe_shared(id).expect("header value"),
                )
                .body(())
                .expect("request")
        }

        pub fn small_batch(&mut self) {
            let reqs: Vec<Request<()>> = (0..BATCH)
                .map(|_| self.request(Method::GET, "https://erp.internal:443/api/v1/items?id=42"))
                .collect();
            let client = &mut self.client;
            self.rt.block_on(async {
                let mut pending = Vec::with_capacity(BATCH);
                for req in reqs {
                    std::future::poll_fn(|cx| client.poll_ready(cx))
                        .await
                        .expect("ready");
                    let (resp, _) = client.send_request(req, true).expect("send_request");
                    pending.push(resp);
                }
                for resp in pending {
                    let resp = resp.await.expect("response");
                    let n = drain(resp.into_body()).await;
                    debug_assert_eq!(n, SMALL_BODY);
                }
            });
        }

        pub fn bulk(&mut self) {
            let req = {
                let mut r = self.request(Method::POST, "https://erp.internal:443/upload");
                r.headers_mut()
                    .insert("content-length", HeaderValue::from(BULK));
                r
            };
            let client = &mut self.client;
            let bulk = self.bulk.clone();
            self.rt.block_on(async {
                std::future::poll_fn(|cx| client.poll_ready(cx))
                    .await
                    .expect("ready");
                let (resp, mut body) = client.send_request(req, false).expect("send_request");
                body.send_data(bulk, true).expect("send_data");
                let resp = resp.await.expect("response");
                let n = drain(resp.into_body()).await;
                assert_eq!(n, BULK);
            });
        }
    }
}

// ------------------------------------------------------------------------------ harness

fn benches(c: &mut Criterion, ours: &mut Ours, h2: &mut baseline::H2) {
    let mut g = c.benchmark_group("small");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("ours", |b| b.iter(|| ours.small_batch()));
    g.bench_function("h2", |b| b.iter(|| h2.small_batch()));
    g.finish();

    let mut g = c.benchmark_group("bulk");
    g.throughput(Throughput::Bytes(2 * BULK as u64));
    g.bench_function("ours", |b| b.iter(|| ours.bulk()));
    g.bench_function("h2", |b| b.iter(|| h2.bulk()));
    g.finish();
}

/// Seconds per call of `iters` calls of `f`.
fn per_call(iters: u32, f: &mut impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_secs_f64() / f64::from(iters)
}

/// Best of 5 runs for each of `a` and `b`, interleaved so that load from other processes on
/// the machine hits both alike: seconds per call of each.
fn best_of_5(iters_a: u32, mut a: impl FnMut(), iters_b: u32, mut b: impl FnMut()) -> (f64, f64) {
    (0..5).fold((f64::INFINITY, f64::INFINITY), |(ta, tb), _| {
        (
            ta.min(per_call(iters_a, &mut a)),
            tb.min(per_call(iters_b, &mut b)),
        )
    })
}

fn summary(ours: &mut Ours, h2: &mut baseline::H2) {
    // Each run lasts roughly 0.1 s.
    let (small_ours, small_h2) = best_of_5(200, || ours.small_batch(), 100, || h2.small_batch());
    let (bulk_ours, bulk_h2) = best_of_5(600, || ours.bulk(), 400, || h2.bulk());
    let rps = |t: f64| BATCH as f64 / t;
    let gibps = |t: f64| (2 * BULK) as f64 / t / f64::from(1u32 << 30);
    println!();
    println!(
        "codec summary (best of 5 interleaved runs; h2 runs on a current-thread tokio runtime"
    );
    println!(
        "over a duplex pipe, so its column includes task wake-ups and one extra copy per byte)"
    );
    println!(
        "{:<44} {:>12} {:>12} {:>7}",
        "workload", "ours", "h2", "ratio"
    );
    println!(
        "{:<44} {:>12.0} {:>12.0} {:>6.2}x",
        "small: 100 concurrent GET/200+100B  (req/s)",
        rps(small_ours),
        rps(small_h2),
        small_h2 / small_ours
    );
    println!(
        "{:<44} {:>12.2} {:>12.2} {:>6.2}x",
        "bulk: 1 MiB up + 1 MiB down        (GiB/s)",
        gibps(bulk_ours),
        gibps(bulk_h2),
        bulk_h2 / bulk_ours
    );
    println!("ratio = ours / h2 in throughput (above 1: ours is faster)");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let benchmarking =
        args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20)
        .configure_from_args();
    let mut ours = Ours::new();
    let mut h2 = baseline::H2::new();
    benches(&mut c, &mut ours, &mut h2);
    c.final_summary();
    if benchmarking {
        summary(&mut ours, &mut h2);
    }
}
