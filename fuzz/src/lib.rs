//! Shared driver for the connection fuzz targets (`conn_server`, `conn_client`).
//!
//! Input layout: `[seed: 4 bytes][knobs: 1 byte][peer bytes ...]`. The seed drives a small
//! PRNG that picks chunk sizes, clock steps, transmit budgets and the application's reactions,
//! so the peer bytes stay a plain HTTP/2 byte stream (seeds are real exchanges) while the
//! fuzzer still controls fragmentation and timing by mutating the first four bytes.
//!
//! Knobs: bit 0 = tight configuration (tiny limits and budgets, keep-alive on), bit 1 = the
//! harness-provided prefix also acknowledges our SETTINGS, bit 2 = the application is lazy
//! (holds received bytes instead of releasing capacity at once).
//!
//! Besides "no panic", the driver checks what the connection *emits* against a shadow of the
//! peer's view (see [`Shadow`]): every emitted frame decodes, header blocks decode with an
//! independent HPACK decoder, DATA stays within the connection and stream windows the peer
//! granted, frame sizes respect the peer's SETTINGS_MAX_FRAME_SIZE, nothing but RST_STREAM,
//! WINDOW_UPDATE or PRIORITY follows our END_STREAM / RST_STREAM on a stream, and a server only
//! answers streams the peer opened, nothing at all follows the GOAWAY of a connection error,
//! and `wants_transmit()` is only true when `poll_transmit` then hands out bytes. Once `recv`
//! or `handle_timeout` failed, `recv` must keep failing and the connection must report
//! `is_done()` after a flush.
#![deny(unsafe_code)]

use bytes::{Bytes, BytesMut};
use sallyport::proto::frame::{self, Frame, FrameHeader, HEADER_LEN, PREFACE};
use sallyport::proto::h2::{
    field, Config, Connection, Event, Keepalive, RateLimit, RequestHead, ResponseHead, Role,
};
use sallyport::proto::hpack::{self, Field};
use sallyport::proto::{Reason, StreamId, Timestamp};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Duration;

/// `SALLYPORT_FUZZ_TRACE=1` prints every event and emitted frame: run a single input with it
/// to see what a crash did (`cargo fuzz run conn_server artifacts/conn_server/crash-...`).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("SALLYPORT_FUZZ_TRACE").is_some())
}

macro_rules! trace {
    ($($t:tt)*) => {
        if trace() {
            eprintln!($($t)*);
        }
    };
}

/// splitmix64: tiny, deterministic, good enough to turn 4 seed bytes into choices.
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// The limits the `tight` knob selects: every budget and cap is small enough for a short
/// fuzz input to reach it.
pub fn tight_config() -> Config {
    let rl = RateLimit {
        burst: 4,
        per_second: 2,
    };
    Config {
        header_table_size: 256,
        max_concurrent_streams: 4,
        initial_stream_window: 16_384,
        connection_window: 65_535,
        max_frame_size: 16_384,
        max_header_list_size: 512,
        max_header_block_size: 1024,
        max_continuation_frames: 3,
        enable_connect_protocol: true,
        max_send_buffer_per_stream: 4096,
        max_pending_control_bytes: 256,
        peer_reset_budget: rl,
        local_reset_budget: rl,
        ping_budget: rl,
        settings_budget: rl,
        empty_frame_budget: rl,
        settings_timeout: Duration::from_millis(1500),
        keepalive: Some(Keepalive {
            interval: Duration::from_millis(700),
            max_missed: 2,
        }),
        drain_timeout: Duration::from_secs(2),
    }
}

/// Encodes a frame into a fresh buffer.
pub fn frame_bytes(f: &Frame) -> BytesMut {
    let mut b = BytesMut::new();
    f.encode(&mut b);
    b
}

/// The peer's view of the connection, built from the bytes the connection consumed (what
/// the peer granted us) and the bytes it emitted (what we did with it).
pub struct Shadow {
    role: Role,
    // ---- peer -> us (consumed by `recv`)
    skip_in: usize,
    in_buf: BytesMut,
    peer_initial_window: i64,
    max_frame_ever: u32,
    conn_granted: i64,
    stream_granted: HashMap<u32, i64>,
    peer_opened: HashSet<u32>,
    // ---- us -> peer (emitted by `poll_transmit`)
    out_preface: usize,
    out_buf: BytesMut,
    saw_settings: bool,
    conn_sent: i64,
    stream_sent: HashMap<u32, i64>,
    send_closed: HashSet<u32>,
    we_opened: HashSet<u32>,
    hpack: hpack::Decoder,
    block: Option<(u32, BytesMut)>,
    fields: Vec<Field>,
    goaway_error_sent: bool,
}

impl Shadow {
    /// A shadow for a connection in `role`.
    pub fn new(role: Role) -> Self {
        Shadow {
            role,
            skip_in: if role == Role::Server {
                PREFACE.len()
            } else {
                0
            },
            in_buf: BytesMut::new(),
            peer_initial_window: i64::from(frame::DEFAULT_INITIAL_WINDOW_SIZE),
            max_frame_ever: frame::DEFAULT_MAX_FRAME_SIZE,
            conn_granted: i64::from(frame::DEFAULT_INITIAL_WINDOW_SIZE),
            stream_granted: HashMap::new(),
            peer_opened: HashSet::new(),
            out_preface: if role == Role::Client {
                PREFACE.len()
            } else {
                0
            },
            out_buf: BytesMut::new(),
            saw_settings: false,
            conn_sent: 0,
            stream_sent: HashMap::new(),
            send_closed: HashSet::new(),
            we_opened: HashSet::new(),
            // Both ends start at the protocol default; our encoder never goes above it, and a
            // table size update it emits must be within it.
            hpack: hpack::Decoder::new(hpack::DEFAULT_TABLE_SIZE),
            block: None,
            fields: Vec::new(),
            goaway_error_sent: false,
        }
    }

    /// Bytes `recv` consumed from the front of the receive buffer.
    pub fn consumed(&mut self, mut bytes: &[u8]) {
        let skip = self.skip_in.min(bytes.len());
        self.skip_in -= skip;
        bytes = &bytes[skip..];
        self.in_buf.extend_from_slice(bytes);
        while let Some(h) = FrameHeader::parse(&self.in_buf) {
            let total = HEADER_LEN + h.length as usize;
            if self.in_buf.len() < total {
                break;
            }
            let mut f = self.in_buf.split_to(total).freeze();
            let payload = f.split_off(HEADER_LEN);
            let frame = Frame::decode(h, payload);
            trace!("  in:  {frame:?}");
            let Ok(frame) = frame else {
                continue;
            };
            match frame {
                Frame::Settings(s) if !s.ack => {
                    let s = s.settings;
                    if let Some(n) = s.initial_window_size {
                        self.peer_initial_window = i64::from(n);
                    }
                    if let Some(n) = s.max_frame_size {
                        self.max_frame_ever = self.max_frame_ever.max(n);
                    }
                }
                Frame::WindowUpdate(w) => {
                    let inc = i64::from(w.increment);
                    if w.stream_id.is_connection() {
                        self.conn_granted += inc;
                    } else {
                        *self.stream_granted.entry(w.stream_id.value()).or_default() += inc;
                    }
                }
                Frame::Headers(hd) => {
                    self.peer_opened.insert(hd.stream_id.value());
                }
                _ => {}
            }
        }
    }

    /// Chunks `poll_transmit` appended, in order.
    pub fn emitted(&mut self, chunks: &[Bytes]) {
        for c in chunks {
            let mut c = &c[..];
            if self.out_preface > 0 {
                let n = self.out_preface.min(c.len());
                let at = PREFACE.len() - self.out_preface;
                assert_eq!(
                    &c[..n],
                    &PREFACE[at..at + n],
                    "client must start with the preface"
                );
                self.out_preface -= n;
                c = &c[n..];
            }
            self.out_buf.extend_from_slice(c);
        }
        while let Some(h) = FrameHeader::parse(&self.out_buf) {
            let total = HEADER_LEN + h.length as usize;
            if self.out_buf.len() < total {
                break;
            }
            let mut f = self.out_buf.split_to(total).freeze();
            let payload = f.split_off(HEADER_LEN);
            self.check_out(h, payload);
        }
    }

    /// After the last transmit: everything emitted was whole frames.
    pub fn finish(&self) {
        assert!(
            self.out_buf.is_empty(),
            "connection emitted a partial frame: {:02x?}",
            &self.out_buf[..]
        );
    }

    fn check_out(&mut self, h: FrameHeader, payload: Bytes) {
        assert!(
            !self.goaway_error_sent,
            "frame {h:?} emitted after a GOAWAY for a connection error"
        );
        assert!(
            h.length <= self.max_frame_ever,
            "emitted {h:?} larger than the peer's SETTINGS_MAX_FRAME_SIZE {}",
            self.max_frame_ever
        );
        let frame = match Frame::decode(h, payload) {
            Ok(f) => f,
            Err(e) => panic!("emitted an invalid frame {h:?}: {e}"),
        };
        trace!("  out: {frame:?}");
        if !self.saw_settings {
            assert!(
                matches!(&frame, Frame::Settings(s) if !s.ack),
                "first emitted frame is not SETTINGS: {frame:?}"
            );
            self.saw_settings = true;
        }
        if let Some((id, _)) = &self.block {
            assert!(
                matches!(&frame, Frame::Continuation(c) if c.stream_id.value() == *id),
                "emitted {frame:?} inside a header block"
            );
        }
        let sid = frame.stream_id().value();
        match &frame {
            Frame::Data(_) | Frame::Headers(_) | Frame::Continuation(_) => {
                assert!(
                    !self.send_closed.contains(&sid),
                    "emitted {frame:?} after our END_STREAM or RST_STREAM on stream {sid}"
                );
            }
            _ => {}
        }
        match frame {
            Frame::Data(d) => {
                let n = i64::from(d.flow_len);
                self.assert_opened(sid, "DATA");
                self.conn_sent += n;
                assert!(
                    self.conn_sent <= self.conn_granted,
                    "DATA beyond the connection window: sent {} granted {}",
                    self.conn_sent,
                    self.conn_granted
                );
                let sent = self.stream_sent.entry(sid).or_default();
                *sent += n;
                let granted = self.peer_initial_window
                    + self.stream_granted.get(&sid).copied().unwrap_or_default();
                assert!(
                    *sent <= granted,
                    "DATA beyond stream {sid}'s window: sent {sent} granted {granted}"
                );
                if d.end_stream {
                    self.send_closed.insert(sid);
                }
            }
            Frame::Headers(hd) => {
                if self.role == Role::Client && !self.we_opened.contains(&sid) {
                    assert!(sid % 2 == 1, "client opened even stream {sid}");
                    assert!(
                        self.we_opened.iter().all(|&o| o < sid),
                        "client opened stream {sid} out of order"
                    );
                    self.we_opened.insert(sid);
                }
                self.assert_opened(sid, "HEADERS");
                if hd.end_stream {
                    self.send_closed.insert(sid);
                }
                let mut b = BytesMut::from(&hd.fragment[..]);
                if hd.end_headers {
                    self.decode_block(sid, b.split().freeze());
                } else {
                    self.block = Some((sid, b));
                }
            }
            Frame::Continuation(c) => {
                let Some((id, mut b)) = self.block.take() else {
                    panic!("emitted CONTINUATION outside a header block: {c:?}");
                };
                b.extend_from_slice(&c.fragment);
                if c.end_headers {
                    self.decode_block(id, b.freeze());
                } else {
                    self.block = Some((id, b));
                }
            }
            Frame::RstStream(_) => {
                self.send_closed.insert(sid);
            }
            Frame::PushPromise(p) => panic!("emitted PUSH_PROMISE {p:?}"),
            Frame::GoAway(g) => {
                if g.reason != Reason::NO_ERROR {
                    self.goaway_error_sent = true;
                }
            }
            Frame::Unknown(u) => panic!("emitted a frame of unknown type {:?}", u.header),
            Frame::Priority(_) | Frame::Settings(_) | Frame::Ping(_) | Frame::WindowUpdate(_) => {}
        }
    }

    fn assert_opened(&self, sid: u32, what: &str) {
        let ok = match self.role {
            Role::Server => sid % 2 == 1 && self.peer_opened.contains(&sid),
            Role::Client => self.we_opened.contains(&sid),
        };
        assert!(ok, "emitted {what} on stream {sid}, which was never opened");
    }

    fn decode_block(&mut self, sid: u32, block: Bytes) {
        self.fields.clear();
        if let Err(e) = self.hpack.decode(&block, usize::MAX, &mut self.fields) {
            panic!("our header block on stream {sid} does not decode ({e}): {block:02x?}");
        }
        let pseudo = self.fields.iter().take_while(|f| f.name.starts_with(b":"));
        match self.role {
            Role::Server => {
                let n = self
                    .fields
                    .iter()
                    .filter(|f| f.name.starts_with(b":"))
                    .count();
                // Responses carry exactly :status; trailers carry none.
                assert!(n <= 1, "response head with {n} pseudo-header fields");
                assert_eq!(pseudo.count(), n, "pseudo-header after a regular field");
            }
            Role::Client => {
                let n = self
                    .fields
                    .iter()
                    .filter(|f| f.name.starts_with(b":"))
                    .count();
                assert_eq!(pseudo.count(), n, "pseudo-header after a regular field");
            }
        }
    }
}

/// What the application side of the harness remembers between steps.
#[derive(Default)]
struct App {
    /// Streams we may still send on, with how many body bytes are left to send.
    sending: HashMap<u32, usize>,
    /// Server: requests not answered yet.
    unanswered: Vec<StreamId>,
    /// Received bytes not yet released (lazy application).
    held: Vec<(StreamId, usize)>,
}

const BODY: &[u8] = &[b'x'; 8192];

fn body(n: usize) -> Bytes {
    Bytes::from_static(&BODY[..n.min(BODY.len())])
}

/// Runs one fuzz input through a connection in `role`.
pub fn run(role: Role, data: &[u8]) {
    let mut head = [0u8; 5];
    let n = data.len().min(5);
    head[..n].copy_from_slice(&data[..n]);
    let stream = &data[n..];
    let mut rng = Rng::new(u64::from(u32::from_le_bytes([
        head[0], head[1], head[2], head[3],
    ])));
    let knobs = head[4];
    let tight = knobs & 1 != 0;
    let ack_prefix = knobs & 2 != 0;
    let lazy = knobs & 4 != 0;
    let config = if tight {
        tight_config()
    } else {
        Config::default()
    };

    let mut now = Timestamp::ZERO;
    let mut conn = Connection::new(role, config, now);
    let mut shadow = Shadow::new(role);
    let mut app = App::default();
    let mut out: Vec<Bytes> = Vec::new();

    // The harness-provided prefix: what any peer sends first.
    let mut input = BytesMut::new();
    if role == Role::Server {
        input.extend_from_slice(PREFACE);
    }
    input.extend_from_slice(&frame_bytes(&Frame::Settings(Default::default())));
    if ack_prefix {
        input.extend_from_slice(&frame_bytes(&Frame::Settings(frame::SettingsFrame {
            ack: true,
            ..Default::default()
        })));
    }
    if role == Role::Client {
        open_requests(&mut conn, &mut app, &mut rng, 3);
    }

    let mut rest = stream;
    let mut failed = false;
    let mut steps = 0usize;
    let mut idle_rounds = 0;
    loop {
        steps += 1;
        if steps > 4 * data.len() + 64 {
            break;
        }
        // 1. more bytes from the peer, in a chunk of fuzzer-chosen size
        if !rest.is_empty() {
            let take = match rng.below(8) {
                0 => 1,
                1..=3 => 1 + rng.below(16) as usize,
                4..=5 => 1 + rng.below(512) as usize,
                _ => rest.len(),
            }
            .min(rest.len());
            input.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        // 2. the clock moves
        now = now.saturating_add(match rng.below(20) {
            0..=13 => Duration::from_micros(rng.below(10_000)),
            14..=18 => Duration::from_millis(rng.below(1000)),
            _ => Duration::from_millis(rng.below(15_000)),
        });
        // 3. receive
        let before = input.clone();
        let r = conn.recv(&mut input, now);
        let used = before.len() - input.len();
        shadow.consumed(&before[..used]);
        if failed {
            assert!(r.is_err(), "recv succeeded after the connection failed");
        }
        if let Err(e) = &r {
            trace!("recv error: {e}");
        }
        if r.is_err() {
            failed = true;
            assert!(conn.error().is_some(), "recv failed but error() is None");
            assert!(conn.recv(&mut BytesMut::new(), now).is_err());
        }
        // 4. the application reacts
        react(&mut conn, &mut app, &mut rng, lazy, failed, now);
        // 5. timers
        if let Some(at) = conn.poll_timeout() {
            if at <= now || rng.chance(1, 8) {
                now = now.max(at);
                if let Err(e) = conn.handle_timeout(now) {
                    trace!("timeout error at {now:?}: {e}");
                    failed = true;
                }
            }
        }
        if failed {
            assert!(conn.error().is_some());
            assert!(
                conn.poll_timeout().is_none(),
                "timer armed on a failed connection"
            );
            assert!(conn.handle_timeout(now).is_err());
            let get = RequestHead::new("GET", "https", "a", "/");
            assert!(conn.send_request(&get, true).is_err());
            assert!(!conn.can_open_stream());
        }
        // 6. transmit, in one or several budgets
        let mut rounds = 0;
        while conn.wants_transmit() && rounds < 64 {
            rounds += 1;
            out.clear();
            let budget = match rng.below(4) {
                0 => 1 + rng.below(100) as usize,
                1 => 1 + rng.below(20_000) as usize,
                _ => usize::MAX,
            };
            let n = conn.poll_transmit(&mut out, budget);
            assert_eq!(n, out.iter().map(Bytes::len).sum::<usize>());
            // Liveness: wants_transmit() promised something to send (a transport loop
            // `while wants_transmit() { poll_transmit; write }` must never spin).
            assert!(
                n > 0,
                "wants_transmit() was true but poll_transmit sent nothing"
            );
            shadow.emitted(&out);
            if rng.chance(1, 3) {
                break;
            }
        }
        if failed {
            out.clear();
            conn.poll_transmit(&mut out, usize::MAX);
            shadow.emitted(&out);
            assert!(
                !conn.wants_transmit(),
                "failed connection still wants to transmit"
            );
            assert!(conn.is_done(), "failed connection not done after a flush");
        }
        if rest.is_empty() {
            if failed || conn.is_done() {
                break;
            }
            idle_rounds += 1;
            if idle_rounds > 6 {
                break;
            }
        }
    }
    // Flush what is left and check it.
    out.clear();
    while conn.wants_transmit() && out.len() < 100_000 {
        let before = out.len();
        conn.poll_transmit(&mut out, usize::MAX);
        if out.len() == before {
            break;
        }
    }
    shadow.emitted(&out);
    shadow.finish();
}

fn open_requests(conn: &mut Connection, app: &mut App, rng: &mut Rng, n: usize) {
    for i in 0..n {
        if !conn.can_open_stream() {
            return;
        }
        let (head, end, body_len) = match (i as u64 + rng.below(4)) % 4 {
            0 => {
                let mut h = RequestHead::new("GET", "https", "erp.internal:443", "/a?b=c");
                h.fields.push(field("accept", "*/*"));
                h.fields.push(field("user-agent", "fuzz/1"));
                (h, true, 0)
            }
            1 => {
                let mut h = RequestHead::new("POST", "https", "erp.internal:443", "/upload");
                h.fields
                    .push(field("content-type", "application/octet-stream"));
                (h, false, 1 + rng.below(40_000) as usize)
            }
            2 => (RequestHead::connect("ldap.internal:389"), false, 64),
            _ => {
                let mut h = RequestHead::new("HEAD", "http", "erp.internal", "/");
                h.fields.push(Field {
                    name: Bytes::from_static(b"authorization"),
                    value: Bytes::from_static(b"Bearer secret"),
                    sensitive: true,
                });
                (h, true, 0)
            }
        };
        if let Ok(id) = conn.send_request(&head, end) {
            if !end {
                app.sending.insert(id.value(), body_len);
                pump_body(conn, app, rng, id);
            }
        }
    }
}

/// Queues as much of the stream's remaining body as the send buffer takes.
fn pump_body(conn: &mut Connection, app: &mut App, rng: &mut Rng, id: StreamId) {
    let Some(left) = app.sending.get_mut(&id.value()) else {
        return;
    };
    while *left > 0 {
        let n = (*left).min(1 + rng.below(BODY.len() as u64) as usize);
        let end = n == *left;
        match conn.send_data(id, body(n), end) {
            Ok(()) => *left -= n,
            Err(_) => return,
        }
        if end {
            app.sending.remove(&id.value());
            return;
        }
    }
}

fn react(
    conn: &mut Connection,
    app: &mut App,
    rng: &mut Rng,
    lazy: bool,
    failed: bool,
    now: Timestamp,
) {
    while let Some(ev) = conn.poll_event() {
        trace!("event: {ev:?}");
        match ev {
            Event::Request { stream_id, .. } => {
                assert_eq!(conn.role(), Role::Server);
                assert!(stream_id.is_client_initiated());
                app.unanswered.push(stream_id);
            }
            Event::Response { stream_id, .. } => {
                assert_eq!(conn.role(), Role::Client);
                assert!(stream_id.is_client_initiated());
            }
            Event::Data {
                stream_id, data, ..
            } => {
                if lazy && app.held.len() < 64 {
                    app.held.push((stream_id, data.len()));
                } else {
                    conn.release_capacity(stream_id, data.len());
                }
            }
            Event::Trailers { .. } | Event::PingAck { .. } | Event::GoAway { .. } => {}
            Event::Reset { stream_id, .. } => {
                app.sending.remove(&stream_id.value());
                app.unanswered.retain(|&s| s != stream_id);
            }
            Event::Writable { stream_id } => pump_body(conn, app, rng, stream_id),
        }
    }
    if failed {
        // The application stops initiating; it only drains what is queued.
        return;
    }
    if !app.held.is_empty() && rng.chance(1, 3) {
        for (id, n) in std::mem::take(&mut app.held) {
            conn.release_capacity(id, n);
        }
    }
    // Answer some requests.
    let mut i = 0;
    while i < app.unanswered.len() {
        if rng.chance(1, 4) {
            i += 1;
            continue;
        }
        let id = app.unanswered.swap_remove(i);
        match rng.below(8) {
            0 => {
                let _ = conn.send_response(id, &ResponseHead::new(204), true);
            }
            1 => conn.reset(id, Reason::CANCEL),
            2 => {
                let _ = conn.send_response(id, &ResponseHead::new(100), false);
                app.unanswered.push(id);
            }
            3 => {
                let mut h = ResponseHead::new(200);
                h.fields.push(field("grpc-encoding", "identity"));
                if conn.send_response(id, &h, false).is_ok() {
                    let _ = conn.send_data(id, body(10), false);
                    let _ = conn.send_trailers(id, vec![field("grpc-status", "0")]);
                }
            }
            4 => {
                let mut h = ResponseHead::new(200);
                h.fields
                    .push(field("content-type", "application/octet-stream"));
                if conn.send_response(id, &h, false).is_ok() {
                    app.sending
                        .insert(id.value(), 1 + rng.below(200_000) as usize);
                    pump_body(conn, app, rng, id);
                }
            }
            _ => {
                let mut h = ResponseHead::new(200);
                h.fields.push(field("content-length", "100"));
                h.fields.push(field("cache-control", "no-store"));
                if conn.send_response(id, &h, false).is_ok() {
                    let _ = conn.send_data(id, body(100), true);
                }
            }
        }
    }
    // Occasional spontaneous actions.
    match rng.below(40) {
        0 => conn.ping(*b"fuzzping"),
        1 => {
            let ids: Vec<u32> = app.sending.keys().copied().collect();
            if let Some(&id) = ids.first() {
                conn.reset(StreamId::new(id), Reason::CANCEL);
                app.sending.remove(&id);
            }
        }
        2 if conn.role() == Role::Client => open_requests(conn, app, rng, 1),
        3 if rng.chance(1, 4) => conn.go_away(Reason::NO_ERROR, now),
        _ => {}
    }
    let ids: Vec<u32> = app.sending.keys().copied().collect();
    for id in ids {
        if conn.send_capacity(StreamId::new(id)) > 0 && rng.chance(1, 2) {
            pump_body(conn, app, rng, StreamId::new(id));
        }
    }
}
