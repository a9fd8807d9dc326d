//! Hostile-peer tests for the HTTP/2 connection's built-in limits.
//!
//! Each test drives a [`Connection`] directly, sans-IO, with a fake clock. The "attacker" is the
//! test itself: it builds frames with [`Frame::encode`] (or by hand for malformed ones), HPACK
//! blocks with [`Encoder`] (or by hand, when the exact dynamic-table effect matters), feeds them
//! through `recv`, and parses everything `poll_transmit` hands out back into frames to assert on
//! the exact answer: which GOAWAY code, which RST_STREAM code, which response head.
//!
//! Memory bounds are asserted from the outside: streams held (`open_streams`), bytes the codec
//! queued for a peer that never reads (everything `poll_transmit` returns after the attack), and
//! input the codec consumed before it gave up.

#![deny(unsafe_code)]

use bytes::{Buf, Bytes, BytesMut};
use sallyport::proto::frame::{
    flags, kind, Continuation, Data, Frame, FrameHeader, GoAway, Headers, Ping, Priority,
    PrioritySpec, PushPromise, RstStream, Settings, SettingsFrame, Unknown, WindowUpdate,
    HEADER_LEN, PREFACE,
};
use sallyport::proto::h2::{
    Config, Connection, ConnectionError, Event, Flood, Keepalive, RateLimit, RequestHead,
    ResponseHead, Role, StreamError,
};
use sallyport::proto::hpack::{Decoder, Encoder, Field};
use sallyport::proto::{Reason, StreamId, Timestamp};
use std::time::Duration;

const EYC: Reason = Reason::ENHANCE_YOUR_CALM;

// ====================================================================== attacker's toolbox

/// Frame builders: what a hostile peer writes on the wire.
mod wire {
    use super::*;

    pub fn enc(f: Frame) -> Vec<u8> {
        let mut b = BytesMut::new();
        f.encode(&mut b);
        b.to_vec()
    }

    /// A frame whose 9-byte header is written by hand: `len` need not match `payload`.
    pub fn raw(len: u32, kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
        let l = len.to_be_bytes();
        let mut v = vec![l[1], l[2], l[3], kind, flags];
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// A frame with a matching length.
    pub fn frame(kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
        raw(payload.len() as u32, kind, flags, id, payload)
    }

    pub fn headers(id: u32, block: &[u8], end_stream: bool, end_headers: bool) -> Vec<u8> {
        enc(Frame::Headers(Headers {
            stream_id: StreamId::new(id),
            fragment: Bytes::copy_from_slice(block),
            end_stream,
            end_headers,
            priority: None,
        }))
    }

    pub fn cont(id: u32, fragment: &[u8], end_headers: bool) -> Vec<u8> {
        enc(Frame::Continuation(Continuation {
            stream_id: StreamId::new(id),
            fragment: Bytes::copy_from_slice(fragment),
            end_headers,
        }))
    }

    pub fn data(id: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
        enc(Frame::Data(Data {
            stream_id: StreamId::new(id),
            payload: Bytes::copy_from_slice(payload),
            end_stream,
            flow_len: payload.len() as u32,
        }))
    }

    pub fn rst(id: u32, reason: Reason) -> Vec<u8> {
        enc(Frame::RstStream(RstStream {
            stream_id: StreamId::new(id),
            reason,
        }))
    }

    pub fn ping(payload: [u8; 8]) -> Vec<u8> {
        enc(Frame::Ping(Ping {
            ack: false,
            payload,
        }))
    }

    pub fn settings(settings: Settings) -> Vec<u8> {
        enc(Frame::Settings(SettingsFrame {
            ack: false,
            settings,
        }))
    }

    pub fn settings_ack() -> Vec<u8> {
        enc(Frame::Settings(SettingsFrame {
            ack: true,
            settings: Settings::default(),
        }))
    }

    /// SETTINGS with raw (identifier, value) pairs, valid or not.
    pub fn settings_raw(params: &[(u16, u32)]) -> Vec<u8> {
        let mut p = Vec::new();
        for (id, v) in params {
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&v.to_be_bytes());
        }
        frame(kind::SETTINGS, 0, 0, &p)
    }

    pub fn window_update(id: u32, increment: u32) -> Vec<u8> {
        enc(Frame::WindowUpdate(WindowUpdate {
            stream_id: StreamId::new(id),
            increment,
        }))
    }

    pub fn priority(id: u32, dep: u32) -> Vec<u8> {
        enc(Frame::Priority(Priority {
            stream_id: StreamId::new(id),
            spec: PrioritySpec {
                dependency: StreamId::new(dep),
                exclusive: false,
                weight: 15,
            },
        }))
    }

    pub fn unknown(kind: u8, id: u32, payload: &[u8]) -> Vec<u8> {
        enc(Frame::Unknown(Unknown {
            header: FrameHeader {
                length: payload.len() as u32,
                kind,
                flags: 0,
                stream_id: StreamId::new(id),
            },
            payload: Bytes::copy_from_slice(payload),
        }))
    }

    pub fn push_promise(id: u32, promised: u32, block: &[u8]) -> Vec<u8> {
        enc(Frame::PushPromise(PushPromise {
            stream_id: StreamId::new(id),
            promised_id: StreamId::new(promised),
            fragment: Bytes::copy_from_slice(block),
            end_headers: true,
        }))
    }

    pub fn goaway(last: u32, reason: Reason) -> Vec<u8> {
        enc(Frame::GoAway(GoAway {
            last_stream_id: StreamId::new(last),
            reason,
            debug_data: Bytes::new(),
        }))
    }
}

/// HPACK written by hand (RFC 7541), for exact control over the peer's dynamic table.
mod hp {
    /// §5.1 integer with an N-bit prefix; `pattern` holds the bits above the prefix.
    pub fn int(dst: &mut Vec<u8>, value: usize, prefix: u8, pattern: u8) {
        let max = (1usize << prefix) - 1;
        if value < max {
            dst.push(pattern | value as u8);
            return;
        }
        dst.push(pattern | max as u8);
        let mut rest = value - max;
        while rest >= 0x80 {
            dst.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        dst.push(rest as u8);
    }

    fn string(dst: &mut Vec<u8>, s: &[u8]) {
        int(dst, s.len(), 7, 0);
        dst.extend_from_slice(s);
    }

    /// §6.2.2 literal without indexing, new name: leaves the dynamic table alone.
    pub fn lit(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
        dst.push(0x00);
        string(dst, name);
        string(dst, value);
    }

    /// §6.2.1 literal with incremental indexing, new name: becomes dynamic index 62.
    pub fn insert(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
        dst.push(0x40);
        string(dst, name);
        string(dst, value);
    }

    /// §6.1 indexed field.
    pub fn indexed(dst: &mut Vec<u8>, index: usize) {
        int(dst, index, 7, 0x80);
    }

    /// A block of literals only.
    pub fn block(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (n, v) in fields {
            lit(&mut b, n, v);
        }
        b
    }

    /// A GET request of literals only, plus `extra` fields.
    pub fn request(path: &str, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut fields: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"example.test"),
            (b":path", path.as_bytes()),
        ];
        fields.extend_from_slice(extra);
        block(&fields)
    }
}

use wire::*;

/// A frame (or a reassembled header block) the codec sent.
#[derive(Debug)]
enum Sent {
    /// HEADERS (+ CONTINUATION), decoded.
    Head {
        id: u32,
        fields: Vec<(String, String)>,
        end_stream: bool,
    },
    /// Any other frame.
    Frame(Frame),
}

fn goaways(sent: &[Sent]) -> Vec<GoAway> {
    sent.iter()
        .filter_map(|s| match s {
            Sent::Frame(Frame::GoAway(g)) => Some(g.clone()),
            _ => None,
        })
        .collect()
}

fn rsts(sent: &[Sent]) -> Vec<(u32, Reason)> {
    sent.iter()
        .filter_map(|s| match s {
            Sent::Frame(Frame::RstStream(r)) => Some((r.stream_id.value(), r.reason)),
            _ => None,
        })
        .collect()
}

/// A decoded header block the codec sent: (stream, fields, END_STREAM).
type Head = (u32, Vec<(String, String)>, bool);

fn heads(sent: &[Sent]) -> Vec<Head> {
    sent.iter()
        .filter_map(|s| match s {
            Sent::Head {
                id,
                fields,
                end_stream,
            } => Some((*id, fields.clone(), *end_stream)),
            _ => None,
        })
        .collect()
}

/// (stream, payload length, END_STREAM) of every DATA frame.
fn datas(sent: &[Sent]) -> Vec<(u32, usize, bool)> {
    sent.iter()
        .filter_map(|s| match s {
            Sent::Frame(Frame::Data(d)) => {
                Some((d.stream_id.value(), d.payload.len(), d.end_stream))
            }
            _ => None,
        })
        .collect()
}

fn count_requests(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Request { .. }))
        .count()
}

/// The codec under test plus the attacker's state.
struct Peer {
    conn: Connection,
    now: Timestamp,
    /// The attacker's HPACK encoder (well-formed blocks).
    enc: Encoder,
    /// Decodes the header blocks the codec sends.
    dec: Decoder,
    /// Bytes given to `recv` and not consumed yet.
    inbuf: BytesMut,
    /// Output not parsed into frames yet.
    wire: BytesMut,
    client_preface_pending: bool,
    partial: Option<(u32, bool, Vec<u8>)>,
    /// Bytes `poll_transmit` handed out since the last handshake.
    sent_total: usize,
}

impl Peer {
    fn new(role: Role, config: Config) -> Self {
        Peer {
            conn: Connection::new(role, config, Timestamp::ZERO),
            now: Timestamp::ZERO,
            enc: Encoder::new(),
            dec: Decoder::new(4096),
            inbuf: BytesMut::new(),
            wire: BytesMut::new(),
            client_preface_pending: role == Role::Client,
            partial: None,
            sent_total: 0,
        }
    }

    fn server(config: Config) -> Self {
        Peer::new(Role::Server, config)
    }

    fn client(config: Config) -> Self {
        Peer::new(Role::Client, config)
    }

    /// Preface (toward a server), our SETTINGS and the ACK of the codec's SETTINGS; the codec's
    /// handshake output is read and checked, and `sent_total` starts from zero afterwards.
    #[track_caller]
    fn handshake(&mut self, settings: Settings) {
        let mut b = Vec::new();
        if self.conn.role() == Role::Server {
            b.extend_from_slice(PREFACE);
        }
        b.extend(wire::settings(settings));
        b.extend(settings_ack());
        self.feed(&b).expect("handshake");
        let sent = self.flush();
        assert!(
            sent.iter()
                .any(|s| matches!(s, Sent::Frame(Frame::Settings(f)) if f.ack)),
            "no SETTINGS ACK in {sent:?}"
        );
        self.sent_total = 0;
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        self.inbuf.extend_from_slice(bytes);
        self.conn.recv(&mut self.inbuf, self.now)
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now.saturating_add(d);
    }

    fn events(&mut self) -> Vec<Event> {
        let mut v = Vec::new();
        while let Some(e) = self.conn.poll_event() {
            v.push(e);
        }
        v
    }

    /// A request head block from the attacker's encoder (dynamic table in use).
    fn request_block(&mut self, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut fields = vec![
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "example.test"),
            (":path", path),
        ];
        fields.extend_from_slice(extra);
        self.block(&fields)
    }

    fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut b = BytesMut::new();
        self.enc.encode(
            fields
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes(), false)),
            &mut b,
        );
        b.to_vec()
    }

    /// A HEADERS frame with a valid GET request on `id`.
    fn request(&mut self, id: u32, end_stream: bool) -> Vec<u8> {
        let block = self.request_block(&format!("/r/{id}"), &[]);
        headers(id, &block, end_stream, true)
    }

    /// Everything the codec wants to send, parsed.
    #[track_caller]
    fn flush(&mut self) -> Vec<Sent> {
        let mut chunks = Vec::new();
        let n = self.conn.poll_transmit(&mut chunks, usize::MAX);
        assert_eq!(n, chunks.iter().map(Bytes::len).sum::<usize>());
        self.sent_total += n;
        for c in chunks {
            self.wire.extend_from_slice(&c);
        }
        if self.client_preface_pending && self.wire.len() >= PREFACE.len() {
            assert_eq!(&self.wire[..PREFACE.len()], &PREFACE[..]);
            self.wire.advance(PREFACE.len());
            self.client_preface_pending = false;
        }
        let mut out = Vec::new();
        while let Some(h) = FrameHeader::parse(&self.wire) {
            let total = HEADER_LEN + h.length as usize;
            if self.wire.len() < total {
                break;
            }
            self.wire.advance(HEADER_LEN);
            let payload = self.wire.split_to(h.length as usize).freeze();
            let f = Frame::decode(h, payload)
                .unwrap_or_else(|e| panic!("codec emitted an invalid frame {h:?}: {e}"));
            match f {
                Frame::Headers(hd) => {
                    assert!(self.partial.is_none(), "HEADERS inside a header block");
                    let id = hd.stream_id.value();
                    if hd.end_headers {
                        out.push(self.decode_head(id, &hd.fragment, hd.end_stream));
                    } else {
                        self.partial = Some((id, hd.end_stream, hd.fragment.to_vec()));
                    }
                }
                Frame::Continuation(c) => {
                    let (id, end_stream, mut block) =
                        self.partial.take().expect("CONTINUATION without HEADERS");
                    assert_eq!(id, c.stream_id.value());
                    block.extend_from_slice(&c.fragment);
                    if c.end_headers {
                        out.push(self.decode_head(id, &block, end_stream));
                    } else {
                        self.partial = Some((id, end_stream, block));
                    }
                }
                other => {
                    assert!(self.partial.is_none(), "{other:?} inside a header block");
                    out.push(Sent::Frame(other));
                }
            }
        }
        out
    }

    fn decode_head(&mut self, id: u32, block: &[u8], end_stream: bool) -> Sent {
        let mut fields = Vec::new();
        self.dec
            .decode(&Bytes::copy_from_slice(block), usize::MAX, &mut fields)
            .unwrap_or_else(|e| panic!("codec emitted a header block that does not decode: {e}"));
        Sent::Head {
            id,
            fields: pairs(&fields),
            end_stream,
        }
    }

    /// After a connection error: exactly one GOAWAY went out, with `reason`; nothing follows
    /// it; the connection stays dead (`recv` keeps failing with the same error, no output).
    #[track_caller]
    fn expect_goaway(&mut self, err: &ConnectionError, reason: Reason) -> GoAway {
        let sent = self.flush();
        let g = goaways(&sent);
        assert_eq!(g.len(), 1, "expected exactly one GOAWAY, got {sent:?}");
        assert_eq!(g[0].reason, reason, "GOAWAY code; sent {sent:?}");
        assert!(
            matches!(sent.last(), Some(Sent::Frame(Frame::GoAway(_)))),
            "frames after the GOAWAY: {sent:?}"
        );
        assert_eq!(self.conn.error(), Some(err));
        // Sticky: more input changes nothing and produces nothing.
        let again = self.feed(&wire::ping(*b"stillthr"));
        assert_eq!(again.as_ref(), Err(err));
        assert!(self.flush().is_empty());
        assert!(self.conn.is_done());
        assert_eq!(self.conn.poll_timeout(), None);
        g[0].clone()
    }

    /// `res` is a protocol error with `reason`, announced by one GOAWAY(reason).
    #[track_caller]
    fn expect_protocol(&mut self, res: Result<(), ConnectionError>, reason: Reason) -> GoAway {
        let err = res.expect_err("expected a connection error");
        match &err {
            ConnectionError::Protocol { reason: r, .. } => {
                assert_eq!(*r, reason, "wrong error code: {err}")
            }
            other => panic!("expected Protocol({reason}), got {other:?}"),
        }
        self.expect_goaway(&err, reason)
    }

    /// `res` is `Flood(what)`, announced by one GOAWAY(ENHANCE_YOUR_CALM).
    #[track_caller]
    fn expect_flood(&mut self, res: Result<(), ConnectionError>, what: Flood) -> GoAway {
        let err = res.expect_err("expected a flood error");
        assert_eq!(err, ConnectionError::Flood(what));
        self.expect_goaway(&err, EYC)
    }

    /// The connection is healthy: a fresh request on `id` comes out as `Event::Request`.
    #[track_caller]
    fn expect_usable(&mut self, id: u32) {
        let f = self.request(id, true);
        self.feed(&f).expect("connection should still be usable");
        let ev = self.events();
        assert!(
            ev.iter()
                .any(|e| matches!(e, Event::Request { stream_id, .. } if stream_id.value() == id)),
            "no request event for {id}: {ev:?}"
        );
    }
}

fn pairs(fields: &[Field]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|f| {
            (
                String::from_utf8_lossy(&f.name).into_owned(),
                String::from_utf8_lossy(&f.value).into_owned(),
            )
        })
        .collect()
}

fn handshaken_server(config: Config) -> Peer {
    let mut p = Peer::server(config);
    p.handshake(Settings::default());
    p
}

fn generous(burst: u32) -> RateLimit {
    RateLimit {
        burst,
        per_second: burst,
    }
}

// ====================================================================== 1. rapid reset

/// CVE-2023-44487: HEADERS + RST_STREAM, thousands of times at one instant.
#[test]
fn rapid_reset_burst_is_calmed() {
    let mut p = handshaken_server(Config::default());
    let mut attack = Vec::new();
    for i in 0..5000u32 {
        let id = 1 + 2 * i;
        attack.extend(p.request(id, false));
        attack.extend(rst(id, Reason::CANCEL));
    }
    let res = p.feed(&attack);
    // The burst is 200: the 201st RST_STREAM trips, and nothing after it is even parsed.
    let events = p.events();
    assert_eq!(count_requests(&events), 201);
    assert!(p.conn.open_streams() <= 1, "{}", p.conn.open_streams());
    assert!(p.inbuf.len() > attack.len() * 9 / 10, "kept parsing");
    let g = p.expect_flood(res, Flood::PeerResets);
    assert_eq!(g.last_stream_id.value(), 401);
    // The attacker never read: all we queued for it is the GOAWAY.
    assert!(p.sent_total <= 64, "{} bytes queued", p.sent_total);
}

/// The same pattern at a sustainable rate (a client legitimately cancelling a lot) never trips.
#[test]
fn resets_within_budget_rate_are_tolerated() {
    let mut p = handshaken_server(Config::default());
    // 150 at once (within the burst of 200), then 2000 more at ~90/s (the refill is 100/s).
    for i in 0..2150u32 {
        if i >= 150 {
            p.advance(Duration::from_micros(11_112));
        }
        let id = 1 + 2 * i;
        let mut f = p.request(id, false);
        f.extend(rst(id, Reason::CANCEL));
        p.feed(&f)
            .unwrap_or_else(|e| panic!("pair {i} tripped: {e}"));
        let ev = p.events();
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(matches!(
            ev[1],
            Event::Reset {
                reason: Reason::CANCEL,
                remote: true,
                ..
            }
        ));
        assert_eq!(p.conn.open_streams(), 0);
    }
    assert!(p.conn.error().is_none());
    assert!(p.flush().is_empty(), "resets provoke no output");
    p.expect_usable(1 + 2 * 2150);
}

// ====================================================================== 2. made-you-reset

/// The peer provokes stream errors: DATA on streams it already ended.
#[test]
fn made_you_reset_data_after_end_stream() {
    let mut p = handshaken_server(Config::default());
    let mut attack = Vec::new();
    for i in 0..2000u32 {
        let id = 1 + 2 * i;
        attack.extend(p.request(id, true));
        attack.extend(data(id, b"x", false));
    }
    let res = p.feed(&attack);
    let events = p.events();
    assert_eq!(count_requests(&events), 201);
    let local_resets = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Reset {
                    reason: Reason::STREAM_CLOSED,
                    remote: false,
                    ..
                }
            )
        })
        .count();
    assert_eq!(local_resets, 200);
    assert!(p.conn.open_streams() <= 1);
    let sent = p.flush_keep(&res);
    let r = rsts(&sent);
    assert_eq!(r.len(), 200);
    assert!(r.iter().all(|&(_, reason)| reason == Reason::STREAM_CLOSED));
    // 200 RST_STREAM + GOAWAY is all a non-reading attacker made us queue.
    assert!(p.sent_total <= 200 * 13 + 64, "{}", p.sent_total);
    p.expect_flood_after_flush(res, Flood::LocalResets, sent);
}

/// The peer provokes stream errors with malformed request heads.
#[test]
fn made_you_reset_malformed_heads() {
    let mut p = handshaken_server(Config::default());
    let mut attack = Vec::new();
    for i in 0..2000u32 {
        let block = hp::request("/", &[(b"X-Upper", b"v")]);
        attack.extend(headers(1 + 2 * i, &block, true, true));
    }
    let res = p.feed(&attack);
    assert_eq!(count_requests(&p.events()), 0);
    assert_eq!(p.conn.open_streams(), 0);
    let sent = p.flush_keep(&res);
    let r = rsts(&sent);
    assert_eq!(r.len(), 200);
    assert!(r
        .iter()
        .all(|&(_, reason)| reason == Reason::PROTOCOL_ERROR));
    p.expect_flood_after_flush(res, Flood::LocalResets, sent);
}

impl Peer {
    /// Flushes without the GOAWAY checks (for tests that look at what preceded it).
    fn flush_keep(&mut self, res: &Result<(), ConnectionError>) -> Vec<Sent> {
        assert!(res.is_err(), "expected an error, got {res:?}");
        self.flush()
    }

    /// `expect_flood` for output already flushed into `sent`.
    #[track_caller]
    fn expect_flood_after_flush(
        &mut self,
        res: Result<(), ConnectionError>,
        what: Flood,
        sent: Vec<Sent>,
    ) {
        let err = res.expect_err("flood");
        assert_eq!(err, ConnectionError::Flood(what));
        let g = goaways(&sent);
        assert_eq!(g.len(), 1, "{sent:?}");
        assert_eq!(g[0].reason, EYC);
        assert!(matches!(sent.last(), Some(Sent::Frame(Frame::GoAway(_)))));
        assert_eq!(self.feed(&wire::ping([0; 8])), Err(err));
        assert!(self.flush().is_empty());
        assert!(self.conn.is_done());
    }
}

// ====================================================================== 3. CONTINUATION flood

/// CVE-2024-27316: endless CONTINUATION; the frame-count cap (16) trips first.
#[test]
fn continuation_flood_frame_cap() {
    let mut p = handshaken_server(Config::default());
    let mut attack = headers(1, &[b'a'; 100], false, false);
    let first = attack.len();
    for _ in 0..10_000 {
        attack.extend(cont(1, &[b'a'; 100], false));
    }
    let res = p.feed(&attack);
    let consumed = attack.len() - p.inbuf.len();
    assert_eq!(
        consumed,
        first + 17 * (HEADER_LEN + 100),
        "consumed {consumed}"
    );
    assert_eq!(p.conn.open_streams(), 0);
    p.expect_flood(res, Flood::HeaderBlock);
    assert!(p.sent_total <= 64);
}

/// The byte cap trips before more than `max_header_block_size` is buffered.
#[test]
fn continuation_flood_byte_cap() {
    let cap = 64 << 10;
    let mut p = handshaken_server(Config {
        max_continuation_frames: 1_000_000,
        max_header_block_size: cap,
        ..Config::default()
    });
    let frag = vec![b'a'; 16_000];
    let mut attack = headers(1, &frag, false, false);
    for _ in 0..1000 {
        attack.extend(cont(1, &frag, false));
    }
    let res = p.feed(&attack);
    let consumed = attack.len() - p.inbuf.len();
    let frames = consumed / (HEADER_LEN + frag.len());
    // 4 fragments = 64 000 bytes fit; the 5th would make 80 000 > 65 536.
    assert_eq!(frames, 5, "consumed {consumed}");
    assert!((frames - 1) * frag.len() <= cap as usize);
    p.expect_flood(res, Flood::HeaderBlock);
}

/// Empty CONTINUATION frames: still capped by the frame count.
#[test]
fn continuation_flood_empty_frames() {
    let mut p = handshaken_server(Config::default());
    let mut attack = headers(1, b"\x00\x01", false, false);
    for _ in 0..10_000 {
        attack.extend(cont(1, b"", false));
    }
    let res = p.feed(&attack);
    assert!(p.inbuf.len() >= (10_000 - 17) * HEADER_LEN);
    p.expect_flood(res, Flood::HeaderBlock);
}

/// Empty CONTINUATION frames with the count cap lifted: the empty-frame budget stops them.
#[test]
fn continuation_flood_empty_frames_uncapped_count() {
    let mut p = handshaken_server(Config {
        max_continuation_frames: u32::MAX,
        ..Config::default()
    });
    let mut attack = headers(1, b"\x00\x01", false, false);
    let first = attack.len();
    for _ in 0..10_000 {
        attack.extend(cont(1, b"", false));
    }
    let res = p.feed(&attack);
    let consumed = attack.len() - p.inbuf.len();
    assert_eq!(consumed, first + 201 * HEADER_LEN);
    p.expect_flood(res, Flood::EmptyFrames);
}

/// A first fragment already over the block cap is refused before it is buffered.
#[test]
fn header_block_first_fragment_over_cap() {
    let mut p = handshaken_server(Config {
        max_header_block_size: 4096,
        ..Config::default()
    });
    let res = p.feed(&headers(1, &[b'a'; 8000], false, false));
    p.expect_flood(res, Flood::HeaderBlock);
}

/// A large but legitimate block split over CONTINUATION frames within the caps is accepted.
#[test]
fn continuation_within_caps_is_fine() {
    let mut p = handshaken_server(Config::default());
    let big = vec![b'b'; 40_000];
    let block = hp::request("/big", &[(b"x-big", &big)]);
    let (a, rest) = block.split_at(16_000);
    let (b, c) = rest.split_at(16_000);
    let mut f = headers(1, a, true, false);
    f.extend(cont(1, b, false));
    f.extend(cont(1, c, true));
    p.feed(&f).expect("legit CONTINUATION");
    let ev = p.events();
    match &ev[..] {
        [Event::Request { head, .. }] => {
            assert_eq!(head.get("x-big").map(|v| v.len()), Some(40_000))
        }
        other => panic!("{other:?}"),
    }
}

// ====================================================================== 4. HPACK bomb

const BOMB_VALUE: usize = 4000;

/// Block 1: a request that inserts a 4000-byte value (dynamic index 62).
fn bomb_seed() -> Vec<u8> {
    let mut b = hp::request("/seed", &[]);
    hp::insert(&mut b, b"x-bomb", &[b'a'; BOMB_VALUE]);
    b
}

/// Block 2: a request referencing index 62 `refs` times.
fn bomb(refs: usize) -> Vec<u8> {
    let mut b = hp::request("/bomb", &[]);
    for _ in 0..refs {
        hp::indexed(&mut b, 62);
    }
    b
}

/// Block 3: a normal request referencing index 62 once (checks the table is in sync).
fn bomb_after() -> Vec<u8> {
    let mut b = hp::request("/after", &[]);
    hp::indexed(&mut b, 62);
    b
}

/// CVE-2016-6581: 4000 one-byte references to a 4 KB entry decode to 16 MB.
#[test]
fn hpack_bomb_gets_431_and_connection_survives() {
    let mut p = handshaken_server(Config::default());
    p.feed(&headers(1, &bomb_seed(), true, true)).unwrap();
    let ev = p.events();
    assert!(
        matches!(&ev[..], [Event::Request { head, .. }] if head.get("x-bomb").map(|v| v.len()) == Some(BOMB_VALUE))
    );
    p.conn
        .send_response(StreamId::new(1), &ResponseHead::new(200), true)
        .unwrap();
    p.flush();
    assert_eq!(p.conn.open_streams(), 0);

    let block = bomb(4000);
    assert!(block.len() < 4100);
    p.feed(&headers(3, &block, true, true))
        .expect("a bomb is a stream error");
    assert_eq!(count_requests(&p.events()), 0);
    assert_eq!(p.conn.open_streams(), 0);
    let sent = p.flush();
    let h = heads(&sent);
    assert_eq!(h.len(), 1, "{sent:?}");
    assert_eq!(h[0].0, 3);
    assert_eq!(h[0].1, vec![(":status".to_owned(), "431".to_owned())]);
    assert!(h[0].2, "431 ends the stream");
    // RFC 9113 §8.1: the rest of the request is refused with RST_STREAM(NO_ERROR).
    assert_eq!(rsts(&sent), vec![(3, Reason::NO_ERROR)]);
    assert!(p.sent_total < 200, "{}", p.sent_total);

    // HPACK state is in sync: index 62 is still the 4000-byte entry.
    p.feed(&headers(5, &bomb_after(), true, true)).unwrap();
    let ev = p.events();
    match &ev[..] {
        [Event::Request {
            stream_id, head, ..
        }] => {
            assert_eq!(stream_id.value(), 5);
            assert_eq!(head.get("x-bomb").map(|v| v.len()), Some(BOMB_VALUE));
        }
        other => panic!("{other:?}"),
    }
}

/// The decoder itself never holds more than the header-list limit while decoding a bomb.
#[test]
fn hpack_bomb_decoder_memory_is_bounded() {
    let limit = 64 << 10;
    let mut d = Decoder::new(4096);
    let mut out = Vec::new();
    d.decode(&Bytes::from(bomb_seed()), limit, &mut out)
        .unwrap();
    out.clear();
    out.shrink_to_fit();
    let err = d.decode(&Bytes::from(bomb(4000)), limit, &mut out);
    assert!(err.is_err());
    assert!(!err.unwrap_err().is_connection_fatal());
    assert!(out.is_empty());
    // At most limit / 4038 ≈ 16 fields were ever admitted; the Vec never grew toward 4000.
    assert!(
        out.capacity() <= 64,
        "list grew to {} entries",
        out.capacity()
    );
    d.decode(&Bytes::from(bomb_after()), limit, &mut out)
        .unwrap();
    assert_eq!(out.len(), 5);
}

/// Repeated bombs: each costs a local-reset token, output stays small, the budget ends it.
#[test]
fn hpack_bomb_repeated_is_bounded() {
    let mut p = handshaken_server(Config::default());
    let mut attack = headers(1, &bomb_seed(), true, true);
    for i in 1..1000u32 {
        attack.extend(headers(1 + 2 * i, &bomb(100), true, true));
    }
    let res = p.feed(&attack);
    assert!(p.conn.open_streams() <= 1);
    let sent = p.flush_keep(&res);
    assert_eq!(heads(&sent).len(), 200);
    assert!(p.sent_total < 200 * 40 + 64, "{}", p.sent_total);
    p.expect_flood_after_flush(res, Flood::LocalResets, sent);
}

// ====================================================================== 5. control-frame floods

#[test]
fn ping_flood() {
    let mut p = handshaken_server(Config::default());
    let attack: Vec<u8> = (0..5000u32)
        .flat_map(|i| wire::ping(u64::from(i).to_be_bytes()))
        .collect();
    let res = p.feed(&attack);
    let sent = p.flush_keep(&res);
    let acks = sent
        .iter()
        .filter(|s| matches!(s, Sent::Frame(Frame::Ping(Ping { ack: true, .. }))))
        .count();
    assert_eq!(acks, 20, "burst of 20");
    assert!(p.sent_total <= 20 * 17 + 64);
    p.expect_flood_after_flush(res, Flood::Pings, sent);
}

#[test]
fn pings_within_rate_are_answered() {
    let mut p = handshaken_server(Config::default());
    for i in 0..300u64 {
        p.advance(Duration::from_millis(250)); // 4/s, the refill is 5/s
        p.feed(&wire::ping(i.to_be_bytes())).unwrap();
        let sent = p.flush();
        assert!(
            matches!(&sent[..], [Sent::Frame(Frame::Ping(Ping { ack: true, payload }))] if *payload == i.to_be_bytes())
        );
    }
}

#[test]
fn settings_flood() {
    let mut p = handshaken_server(Config::default());
    let attack: Vec<u8> = (0..5000)
        .flat_map(|_| wire::settings(Settings::default()))
        .collect();
    let res = p.feed(&attack);
    let sent = p.flush_keep(&res);
    let acks = sent
        .iter()
        .filter(|s| {
            matches!(
                s,
                Sent::Frame(Frame::Settings(SettingsFrame { ack: true, .. }))
            )
        })
        .count();
    // The handshake SETTINGS took one token of the burst of 20.
    assert_eq!(acks, 19);
    p.expect_flood_after_flush(res, Flood::Settings, sent);
}

#[test]
fn empty_data_flood() {
    let mut p = handshaken_server(Config::default());
    let mut attack = p.request(1, false);
    for _ in 0..5000 {
        attack.extend(data(1, b"", false));
    }
    let res = p.feed(&attack);
    assert!(p.inbuf.len() >= (5000 - 201) * HEADER_LEN);
    p.expect_flood(res, Flood::EmptyFrames);
}

#[test]
fn priority_flood() {
    let mut p = handshaken_server(Config::default());
    let attack: Vec<u8> = (0..5000u32).flat_map(|i| priority(1 + 2 * i, 0)).collect();
    let res = p.feed(&attack);
    assert_eq!(p.conn.open_streams(), 0);
    p.expect_flood(res, Flood::EmptyFrames);
}

#[test]
fn unknown_frame_flood() {
    let mut p = handshaken_server(Config::default());
    let attack: Vec<u8> = (0..5000).flat_map(|_| unknown(0x21, 0, b"junk")).collect();
    let res = p.feed(&attack);
    p.expect_flood(res, Flood::EmptyFrames);
}

/// Empty DATA frames on a stream we reset carry no progress either, yet the codec drops them
/// before charging the empty-frame budget.
#[test]
fn empty_data_flood_on_reset_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.conn.reset(StreamId::new(1), Reason::CANCEL);
    p.flush();
    let attack: Vec<u8> = (0..5000).flat_map(|_| data(1, b"", false)).collect();
    let res = p.feed(&attack);
    p.expect_flood(res, Flood::EmptyFrames);
}

// ====================================================================== 6. peer that never reads

/// PINGs within budget, but the peer never reads our ACKs: the pending-control cap trips.
#[test]
fn never_reading_peer_hits_pending_control_cap() {
    let cap: u32 = 64 << 10;
    let mut p = handshaken_server(Config {
        ping_budget: generous(1_000_000),
        max_pending_control_bytes: cap,
        ..Config::default()
    });
    let mut res = Ok(());
    let mut sent_pings = 0;
    for i in 0..100_000u64 {
        res = p.feed(&wire::ping(i.to_be_bytes()));
        sent_pings += 1;
        if res.is_err() {
            break;
        }
    }
    // 17 bytes per ACK: 3855 fit, the 3856th goes over.
    assert_eq!(sent_pings, cap as usize / 17 + 1);
    let sent = p.flush_keep(&res);
    assert!(
        p.sent_total <= cap as usize + 17 + 64,
        "queued {} bytes for a peer that never reads",
        p.sent_total
    );
    p.expect_flood_after_flush(res, Flood::PendingControl, sent);
}

/// The same PING volume from a peer that reads is fine.
#[test]
fn reading_peer_is_not_limited_by_pending_cap() {
    let mut p = handshaken_server(Config {
        ping_budget: generous(1_000_000),
        max_pending_control_bytes: 4096,
        ..Config::default()
    });
    for batch in 0..50u64 {
        let pings: Vec<u8> = (0..200u64)
            .flat_map(|i| wire::ping((batch * 1000 + i).to_be_bytes()))
            .collect();
        p.feed(&pings).unwrap();
        assert_eq!(p.flush().len(), 200);
    }
}

// ====================================================================== 7. stalled window

/// The peer opens streams with a zero window: `send_data` is refused past the per-stream
/// buffer, so what we hold stays bounded; WINDOW_UPDATE lets it drain and signals Writable.
#[test]
fn stalled_stream_window_bounds_send_buffer() {
    let cap = 16 << 10;
    let mut p = Peer::server(Config {
        max_send_buffer_per_stream: cap,
        ..Config::default()
    });
    p.handshake(Settings {
        initial_window_size: Some(0),
        ..Settings::default()
    });
    let streams: Vec<u32> = (0..50u32).map(|i| 1 + 2 * i).collect();
    for &id in &streams {
        let f = p.request(id, true);
        p.feed(&f).unwrap();
        let sid = StreamId::new(id);
        p.conn
            .send_response(sid, &ResponseHead::new(200), false)
            .unwrap();
        p.conn
            .send_data(sid, Bytes::from(vec![7u8; cap as usize]), false)
            .unwrap();
        assert_eq!(p.conn.send_capacity(sid), 0);
        assert_eq!(
            p.conn.send_data(sid, Bytes::from_static(b"x"), false),
            Err(StreamError::BufferFull {
                stream_id: sid,
                capacity: 0
            })
        );
    }
    p.events();
    let sent = p.flush();
    assert_eq!(heads(&sent).len(), 50);
    assert!(datas(&sent).is_empty(), "DATA sent into a zero window");
    assert!(!p.conn.wants_transmit());
    assert!(p.sent_total < 50 * 64, "{}", p.sent_total);

    // Open stream 1's window: its whole buffer drains and the application hears Writable.
    p.feed(&window_update(1, cap)).unwrap();
    let sent = p.flush();
    let d = datas(&sent);
    assert_eq!(d.iter().map(|x| x.1).sum::<usize>(), cap as usize);
    assert!(d.iter().all(|x| x.0 == 1));
    let ev = p.events();
    assert!(ev.contains(&Event::Writable {
        stream_id: StreamId::new(1)
    }));
    p.conn
        .send_data(StreamId::new(1), Bytes::from_static(b"tail"), true)
        .unwrap();
    assert!(p.flush().is_empty(), "window used up: the tail waits");
    p.feed(&window_update(1, 4)).unwrap();
    let sent = p.flush();
    assert_eq!(datas(&sent), vec![(1, 4, true)]);
}

/// A peer that never opens the connection window: once every ready stream is blocked on it,
/// `wants_transmit` must turn false (its doc: "poll_transmit has something to send"), or an
/// I/O loop driven by it spins.
#[test]
fn stalled_connection_window_does_not_want_transmit() {
    let mut p = Peer::server(Config::default());
    p.handshake(Settings {
        initial_window_size: Some(1 << 20),
        ..Settings::default()
    });
    let f = p.request(1, true);
    p.feed(&f).unwrap();
    let id = StreamId::new(1);
    p.conn
        .send_response(id, &ResponseHead::new(200), false)
        .unwrap();
    p.conn
        .send_data(id, Bytes::from(vec![1u8; 100_000]), true)
        .unwrap();
    let sent = p.flush();
    assert_eq!(datas(&sent).iter().map(|d| d.1).sum::<usize>(), 65_535);
    let mut out = Vec::new();
    assert_eq!(p.conn.poll_transmit(&mut out, usize::MAX), 0);
    assert!(
        !p.conn.wants_transmit(),
        "wants_transmit() is true while everything is blocked on the connection window"
    );
    p.feed(&window_update(0, 100_000)).unwrap();
    let sent = p.flush();
    let d = datas(&sent);
    assert_eq!(d.iter().map(|d| d.1).sum::<usize>(), 100_000 - 65_535);
    assert!(d.last().unwrap().2);
}

// ====================================================================== 8. MAX_CONCURRENT_STREAMS

#[test]
fn excess_streams_are_refused_and_hpack_stays_in_sync() {
    let mut p = handshaken_server(Config {
        max_concurrent_streams: 4,
        ..Config::default()
    });
    // Every request carries a unique field the attacker's encoder inserts into its table.
    let mut f = Vec::new();
    for id in [1u32, 3, 5, 7, 9, 11] {
        let tag = format!("tag-{id}");
        let block = p.request_block("/", &[("x-tag", &tag)]);
        f.extend(headers(id, &block, true, true));
    }
    p.feed(&f).unwrap();
    assert_eq!(count_requests(&p.events()), 4);
    assert_eq!(p.conn.open_streams(), 4);
    let sent = p.flush();
    assert_eq!(
        rsts(&sent),
        vec![(9, Reason::REFUSED_STREAM), (11, Reason::REFUSED_STREAM)]
    );
    // Finish one stream, then reuse the refused request's field: the encoder sends it as an
    // index into entries inserted by the refused blocks.
    p.conn
        .send_response(StreamId::new(1), &ResponseHead::new(204), true)
        .unwrap();
    p.flush();
    let block = p.request_block("/", &[("x-tag", "tag-11")]);
    assert!(
        block.len() < 12,
        "the encoder should index everything: {block:?}"
    );
    p.feed(&headers(13, &block, true, true)).unwrap();
    match &p.events()[..] {
        [Event::Request {
            stream_id, head, ..
        }] => {
            assert_eq!(stream_id.value(), 13);
            assert_eq!(head.get("x-tag").map(|v| &v[..]), Some(&b"tag-11"[..]));
        }
        other => panic!("{other:?}"),
    }
}

/// Thousands of streams over the limit: open streams stay at the limit and the refusals are
/// budgeted.
#[test]
fn stream_open_flood_is_bounded() {
    let mut p = handshaken_server(Config {
        max_concurrent_streams: 4,
        ..Config::default()
    });
    let mut f = Vec::new();
    for i in 0..5000u32 {
        f.extend(p.request(1 + 2 * i, false));
    }
    let res = p.feed(&f);
    assert_eq!(p.conn.open_streams(), 4);
    let sent = p.flush_keep(&res);
    assert_eq!(rsts(&sent).len(), 200);
    p.expect_flood_after_flush(res, Flood::LocalResets, sent);
}

// ====================================================================== 9. connection errors

#[test]
fn bad_preface() {
    let mut p = Peer::server(Config::default());
    let res = p.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let err = res.expect_err("bad preface");
    assert!(matches!(
        err,
        ConnectionError::Protocol {
            reason: Reason::PROTOCOL_ERROR,
            ..
        }
    ));
    // §3.4: the GOAWAY may be omitted; if sent it must say PROTOCOL_ERROR.
    let sent = p.flush();
    for g in goaways(&sent) {
        assert_eq!(g.reason, Reason::PROTOCOL_ERROR);
    }
    assert!(goaways(&sent).len() <= 1);
    assert!(p.feed(PREFACE).is_err());
}

#[test]
fn partial_preface_waits() {
    let mut p = Peer::server(Config::default());
    p.feed(&PREFACE[..10]).unwrap();
    p.feed(&PREFACE[10..]).unwrap();
    p.feed(&wire::settings(Settings::default())).unwrap();
    assert!(p.conn.error().is_none());
}

#[test]
fn first_frame_not_settings() {
    let mut p = Peer::server(Config::default());
    let mut f = PREFACE.to_vec();
    f.extend(wire::ping([0; 8]));
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn first_frame_settings_ack() {
    let mut p = Peer::server(Config::default());
    let mut f = PREFACE.to_vec();
    f.extend(settings_ack());
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

/// A frame over our SETTINGS_MAX_FRAME_SIZE is refused from its header alone, before its
/// payload is buffered.
#[test]
fn frame_larger_than_max_frame_size() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    let res = p.feed(&raw((64 << 10) + 1, kind::DATA, 0, 1, &[]));
    p.expect_protocol(res, Reason::FRAME_SIZE_ERROR);
}

#[test]
fn huge_frame_header_is_not_buffered() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&raw(0xff_ffff, kind::HEADERS, 0, 1, b"abc"));
    assert!(
        p.inbuf.capacity() < (1 << 20),
        "reserved {}",
        p.inbuf.capacity()
    );
    p.expect_protocol(res, Reason::FRAME_SIZE_ERROR);
}

#[test]
fn data_on_stream_zero() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&frame(kind::DATA, 0, 0, b"x"));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn data_on_idle_stream() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&data(1, b"x", false));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn headers_with_even_stream_id_from_client() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(2, true);
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

/// §5.1.1: a new stream id must exceed every id the peer used; a lower never-used id is an
/// "unexpected stream identifier": connection error PROTOCOL_ERROR.
#[test]
fn stream_id_going_backwards() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(5, false);
    p.feed(&f).unwrap();
    let f = p.request(3, false);
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

/// §5.1: frames after END_STREAM on a closed stream: connection error STREAM_CLOSED.
#[test]
fn headers_on_closed_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, true);
    p.feed(&f).unwrap();
    p.conn
        .send_response(StreamId::new(1), &ResponseHead::new(200), true)
        .unwrap();
    p.flush();
    assert_eq!(p.conn.open_streams(), 0);
    let f = p.request(1, true);
    let res = p.feed(&f);
    p.expect_protocol(res, Reason::STREAM_CLOSED);
}

#[test]
fn push_promise_from_client() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    let block = hp::request("/pushed", &[]);
    let res = p.feed(&push_promise(1, 2, &block));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn window_update_overflows_connection_window() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&window_update(0, 0x7fff_ffff));
    p.expect_protocol(res, Reason::FLOW_CONTROL_ERROR);
}

#[test]
fn window_update_zero_on_connection() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0]));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn initial_window_size_overflows_open_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    // The stream's send window reaches exactly 2^31-1 ...
    p.feed(&window_update(1, 0x7fff_ffff - 65_535)).unwrap();
    assert!(p.flush().is_empty());
    // ... and a larger initial window pushes it over.
    let res = p.feed(&wire::settings(Settings {
        initial_window_size: Some(65_536),
        ..Settings::default()
    }));
    p.expect_protocol(res, Reason::FLOW_CONTROL_ERROR);
}

#[test]
fn data_beyond_connection_window() {
    let mut p = handshaken_server(Config {
        connection_window: 65_535,
        initial_stream_window: 1 << 20,
        ..Config::default()
    });
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&data(1, &[0; 40_000], false)).unwrap();
    let res = p.feed(&data(1, &[0; 40_000], false));
    p.expect_protocol(res, Reason::FLOW_CONTROL_ERROR);
}

#[test]
fn invalid_hpack_index_zero() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&headers(1, &[0x80], true, true));
    p.expect_protocol(res, Reason::COMPRESSION_ERROR);
}

#[test]
fn invalid_hpack_index_out_of_range() {
    let mut p = handshaken_server(Config::default());
    let mut b = Vec::new();
    hp::indexed(&mut b, 62 + 500);
    let res = p.feed(&headers(1, &b, true, true));
    p.expect_protocol(res, Reason::COMPRESSION_ERROR);
}

#[test]
fn invalid_hpack_table_size_update_above_settings() {
    let mut p = handshaken_server(Config::default());
    let mut b = Vec::new();
    hp::int(&mut b, 1 << 20, 5, 0x20);
    b.extend(hp::request("/", &[]));
    let res = p.feed(&headers(1, &b, true, true));
    p.expect_protocol(res, Reason::COMPRESSION_ERROR);
}

#[test]
fn invalid_hpack_truncated_literal() {
    let mut p = handshaken_server(Config::default());
    let mut b = hp::request("/", &[]);
    b.extend_from_slice(&[0x00, 0x05, b'a']);
    let res = p.feed(&headers(1, &b, true, true));
    p.expect_protocol(res, Reason::COMPRESSION_ERROR);
}

#[test]
fn frame_interleaved_in_header_block() {
    for intruder in [
        wire::ping([0; 8]),
        data(1, b"x", false),
        cont(3, b"", true),
        priority(3, 0),
        headers(3, &hp::request("/", &[]), true, true),
    ] {
        let mut p = handshaken_server(Config::default());
        let block = hp::request("/", &[]);
        let mut f = headers(1, &block[..4], true, false);
        f.extend(intruder);
        let res = p.feed(&f);
        p.expect_protocol(res, Reason::PROTOCOL_ERROR);
    }
}

#[test]
fn continuation_without_headers() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    let res = p.feed(&cont(1, &hp::request("/", &[]), true));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn rst_stream_on_idle_stream() {
    let mut p = handshaken_server(Config::default());
    let res = p.feed(&rst(7, Reason::CANCEL));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn malformed_fixed_size_frames() {
    let cases: Vec<(Vec<u8>, Reason)> = vec![
        (frame(kind::PING, 0, 0, &[0; 7]), Reason::FRAME_SIZE_ERROR),
        (frame(kind::PING, 0, 1, &[0; 8]), Reason::PROTOCOL_ERROR),
        (
            frame(kind::SETTINGS, 0, 0, &[0; 5]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (frame(kind::SETTINGS, 0, 1, &[]), Reason::PROTOCOL_ERROR),
        (
            frame(kind::SETTINGS, flags::ACK, 0, &[0; 6]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (
            frame(kind::RST_STREAM, 0, 1, &[0; 3]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (
            frame(kind::RST_STREAM, 0, 0, &[0; 4]),
            Reason::PROTOCOL_ERROR,
        ),
        (
            frame(kind::WINDOW_UPDATE, 0, 0, &[0; 5]),
            Reason::FRAME_SIZE_ERROR,
        ),
        (frame(kind::GOAWAY, 0, 0, &[0; 7]), Reason::FRAME_SIZE_ERROR),
        (frame(kind::GOAWAY, 0, 1, &[0; 8]), Reason::PROTOCOL_ERROR),
        (frame(kind::PRIORITY, 0, 0, &[0; 5]), Reason::PROTOCOL_ERROR),
        // Padding as long as the payload.
        (
            frame(kind::DATA, flags::PADDED, 1, &[4, 0, 0, 0]),
            Reason::PROTOCOL_ERROR,
        ),
        (
            frame(
                kind::HEADERS,
                flags::PADDED | flags::END_HEADERS,
                3,
                &[2, 0x82],
            ),
            Reason::PROTOCOL_ERROR,
        ),
    ];
    for (i, (f, reason)) in cases.into_iter().enumerate() {
        let mut p = handshaken_server(Config::default());
        let open = p.request(1, false);
        p.feed(&open).unwrap();
        let res = p.feed(&f);
        assert!(res.is_err(), "case {i} accepted");
        p.expect_protocol(res, reason);
    }
}

#[test]
fn invalid_settings_values() {
    let cases = [
        ((0x2u16, 2u32), Reason::PROTOCOL_ERROR),
        ((0x4, 0x8000_0000), Reason::FLOW_CONTROL_ERROR),
        ((0x5, 16_383), Reason::PROTOCOL_ERROR),
        ((0x5, 1 << 24), Reason::PROTOCOL_ERROR),
        ((0x8, 2), Reason::PROTOCOL_ERROR),
    ];
    for (param, reason) in cases {
        let mut p = handshaken_server(Config::default());
        let res = p.feed(&settings_raw(&[param]));
        p.expect_protocol(res, reason);
    }
    // Unknown identifiers are ignored.
    let mut p = handshaken_server(Config::default());
    p.feed(&settings_raw(&[(0x99, 7), (0x7, 1)])).unwrap();
}

/// A graceful GOAWAY followed by a connection error: the second GOAWAY must not raise the
/// last stream id (§6.8 "MUST NOT increase"), or the client will not retry streams we ignored.
#[test]
fn error_after_graceful_goaway_keeps_last_stream_id() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    assert_eq!(count_requests(&p.events()), 1);
    p.conn.go_away(Reason::NO_ERROR, p.now);
    let sent = p.flush();
    let g = goaways(&sent);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].last_stream_id.value(), 1);
    // The client had stream 3 in flight: ignored, as §6.8 allows.
    let f = p.request(3, true);
    p.feed(&f).unwrap();
    assert_eq!(count_requests(&p.events()), 0);
    // Then a protocol error.
    let res = p.feed(&data(0x7fff_0001, b"x", false));
    assert!(res.is_err());
    let sent = p.flush();
    let g = goaways(&sent);
    assert_eq!(g.len(), 1, "{sent:?}");
    assert_eq!(g[0].reason, Reason::PROTOCOL_ERROR);
    assert!(
        g[0].last_stream_id.value() <= 1,
        "second GOAWAY raised last_stream_id to {} (stream 3 was never processed)",
        g[0].last_stream_id.value()
    );
}

/// HEADERS that depends on itself is a stream error (§5.3.1), but its header block must still
/// be decoded: the HPACK context is shared by the connection (§4.3).
#[test]
fn self_dependent_headers_keep_hpack_in_sync() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.events();
    // Trailers on stream 1 that insert an entry, with a priority on itself.
    let mut block = Vec::new();
    hp::insert(&mut block, b"x-trailer", b"inserted");
    let mut payload = 1u32.to_be_bytes().to_vec();
    payload.push(15);
    payload.extend(&block);
    let f = frame(
        kind::HEADERS,
        flags::PRIORITY | flags::END_HEADERS | flags::END_STREAM,
        1,
        &payload,
    );
    let res = p.feed(&f);
    if res.is_ok() {
        // A stream error was chosen: the entry must now be index 62.
        let sent = p.flush();
        assert_eq!(rsts(&sent), vec![(1, Reason::PROTOCOL_ERROR)]);
        p.events();
        let mut b = hp::request("/next", &[]);
        hp::indexed(&mut b, 62);
        let res = p.feed(&headers(3, &b, true, true));
        assert!(
            res.is_ok(),
            "HPACK out of sync after the stream error: {res:?}"
        );
        match &p.events()[..] {
            [Event::Request { head, .. }] => {
                assert_eq!(
                    head.get("x-trailer").map(|v| &v[..]),
                    Some(&b"inserted"[..])
                )
            }
            other => panic!("HPACK out of sync: {other:?}"),
        }
    } else {
        // Treating it as a connection error is allowed (§5.4.1).
        p.expect_protocol(res, Reason::PROTOCOL_ERROR);
    }
}

// ------------------------------------------------------------------ client role

fn client_with_request() -> (Peer, StreamId) {
    let mut p = Peer::client(Config::default());
    p.handshake(Settings::default());
    let id = p
        .conn
        .send_request(&RequestHead::new("GET", "https", "example.test", "/"), true)
        .unwrap();
    p.flush();
    (p, id)
}

fn response_block(p: &mut Peer, status: &str) -> Vec<u8> {
    p.block(&[(":status", status)])
}

#[test]
fn client_rejects_push_promise() {
    let (mut p, id) = client_with_request();
    let block = hp::request("/pushed", &[]);
    let res = p.feed(&push_promise(id.value(), 2, &block));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn client_rejects_server_opened_stream() {
    let (mut p, _) = client_with_request();
    let block = response_block(&mut p, "200");
    let res = p.feed(&headers(2, &block, true, true));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn client_rejects_headers_on_idle_own_stream() {
    let (mut p, _) = client_with_request();
    let block = response_block(&mut p, "200");
    let res = p.feed(&headers(5, &block, true, true));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

/// RFC 9113 §6.5.2: "A client MUST treat receipt of a SETTINGS frame with
/// SETTINGS_ENABLE_PUSH set to 1 as a connection error of type PROTOCOL_ERROR."
#[test]
fn client_rejects_enable_push_from_server() {
    let mut p = Peer::client(Config::default());
    p.flush();
    let res = p.feed(&wire::settings(Settings {
        enable_push: Some(true),
        ..Settings::default()
    }));
    p.expect_protocol(res, Reason::PROTOCOL_ERROR);
}

#[test]
fn client_ping_flood() {
    let (mut p, _) = client_with_request();
    let attack: Vec<u8> = (0..1000u64)
        .flat_map(|i| wire::ping(i.to_be_bytes()))
        .collect();
    let res = p.feed(&attack);
    p.expect_flood(res, Flood::Pings);
}

/// A response HPACK bomb: the client resets that stream; the connection survives.
#[test]
fn client_survives_response_hpack_bomb() {
    let mut p = Peer::client(Config::default());
    p.handshake(Settings::default());
    let head = RequestHead::new("GET", "https", "example.test", "/");
    let a = p.conn.send_request(&head, true).unwrap();
    let b = p.conn.send_request(&head, true).unwrap();
    p.flush();
    let mut bomb_block = hp::block(&[(b":status", b"200")]);
    for _ in 0..4000 {
        hp::indexed(&mut bomb_block, 62);
    }
    let mut first = hp::block(&[(b":status", b"100")]);
    hp::insert(&mut first, b"x-bomb", &[b'a'; BOMB_VALUE]);
    p.feed(&headers(a.value(), &first, false, true)).unwrap();
    p.events();
    p.feed(&headers(a.value(), &bomb_block, true, true))
        .expect("a bomb is a stream error");
    let ev = p.events();
    assert!(
        matches!(&ev[..], [Event::Reset { stream_id, remote: false, .. }] if *stream_id == a),
        "{ev:?}"
    );
    assert_eq!(rsts(&p.flush()).len(), 1);
    let mut ok = hp::block(&[(b":status", b"200")]);
    hp::indexed(&mut ok, 62);
    p.feed(&headers(b.value(), &ok, true, true)).unwrap();
    match &p.events()[..] {
        [Event::Response { head, .. }] => {
            assert_eq!(head.status, 200);
            assert_eq!(head.get("x-bomb").map(|v| v.len()), Some(BOMB_VALUE));
        }
        other => panic!("{other:?}"),
    }
}

// ====================================================================== 10. stream errors

/// Each malformed head gets RST_STREAM(PROTOCOL_ERROR); no request reaches the application and
/// the connection goes on.
#[test]
fn malformed_request_heads_are_stream_errors() {
    let get: [(&[u8], &[u8]); 4] = [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"example.test"),
        (b":path", b"/"),
    ];
    let with = |extra: (&'static [u8], &'static [u8])| {
        let mut v = get.to_vec();
        v.push(extra);
        hp::block(&v)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("uppercase name", with((b"X-Upper", b"v"))),
        ("connection header", with((b"connection", b"keep-alive"))),
        (
            "transfer-encoding",
            with((b"transfer-encoding", b"chunked")),
        ),
        ("te other than trailers", with((b"te", b"gzip"))),
        ("CR LF in value", with((b"x-smuggle", b"a\r\nb: c"))),
        ("NUL in value", with((b"x", b"a\0b"))),
        ("leading space", with((b"x", b" a"))),
        ("two content-lengths", {
            let mut v = get.to_vec();
            v.push((b"content-length", b"1"));
            v.push((b"content-length", b"1"));
            hp::block(&v)
        }),
        (
            "content-length not a number",
            with((b"content-length", b"1x")),
        ),
        (
            "missing :path",
            hp::block(&[
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", b"example.test"),
            ]),
        ),
        ("duplicate :path", with((b":path", b"/again"))),
        ("pseudo after regular", {
            let mut v = vec![(&b"x"[..], &b"y"[..])];
            v.extend_from_slice(&get);
            hp::block(&v)
        }),
        ("response pseudo-header", with((b":status", b"200"))),
        ("userinfo in :authority", {
            let mut v = get.to_vec();
            v[2] = (b":authority", b"user@example.test");
            hp::block(&v)
        }),
        (
            "host differs from :authority",
            with((b"host", b"other.test")),
        ),
        ("empty name", with((b"", b"v"))),
        ("space in name", with((b"a b", b"v"))),
    ];
    let mut p = handshaken_server(Config::default());
    let mut id = 1;
    for (what, block) in cases {
        p.feed(&headers(id, &block, true, true))
            .unwrap_or_else(|e| panic!("{what}: connection error {e}"));
        assert_eq!(
            count_requests(&p.events()),
            0,
            "{what} reached the application"
        );
        assert_eq!(
            rsts(&p.flush()),
            vec![(id, Reason::PROTOCOL_ERROR)],
            "{what}"
        );
        id += 2;
    }
    p.expect_usable(id);
}

#[test]
fn content_length_mismatch() {
    let mut p = handshaken_server(Config::default());
    // Body shorter than announced.
    let b = p.request_block("/", &[("content-length", "10")]);
    p.feed(&headers(1, &b, false, true)).unwrap();
    p.feed(&data(1, b"12345", true)).unwrap();
    // Body longer than announced.
    let b = p.request_block("/", &[("content-length", "3")]);
    p.feed(&headers(3, &b, false, true)).unwrap();
    p.feed(&data(3, b"12345", false)).unwrap();
    // END_STREAM on the head although a body is announced.
    let b = p.request_block("/", &[("content-length", "3")]);
    p.feed(&headers(5, &b, true, true)).unwrap();
    assert_eq!(
        rsts(&p.flush()),
        vec![
            (1, Reason::PROTOCOL_ERROR),
            (3, Reason::PROTOCOL_ERROR),
            (5, Reason::PROTOCOL_ERROR)
        ]
    );
    let ev = p.events();
    assert!(
        ev.iter().all(|e| !matches!(e, Event::Data { .. })),
        "{ev:?}"
    );
    assert_eq!(p.conn.open_streams(), 0);
    // A matching one works.
    let b = p.request_block("/", &[("content-length", "5")]);
    p.feed(&headers(7, &b, false, true)).unwrap();
    p.feed(&data(7, b"12345", true)).unwrap();
    assert!(p.flush().is_empty());
    let ev = p.events();
    assert!(ev.contains(&Event::Data {
        stream_id: StreamId::new(7),
        data: Bytes::from_static(b"12345"),
        end_stream: true
    }));
}

#[test]
fn data_exceeding_stream_window() {
    let mut p = handshaken_server(Config {
        initial_stream_window: 16_384,
        ..Config::default()
    });
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&data(1, &[0; 16_000], false)).unwrap();
    p.feed(&data(1, &[0; 385], false)).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::FLOW_CONTROL_ERROR)]);
    let ev = p.events();
    assert!(ev.contains(&Event::Reset {
        stream_id: StreamId::new(1),
        reason: Reason::FLOW_CONTROL_ERROR,
        remote: false
    }));
    // The connection goes on: a new stream can use its full window.
    let f = p.request(3, false);
    p.feed(&f).unwrap();
    p.feed(&data(3, &[0; 16_384], true)).unwrap();
    assert!(p.conn.error().is_none());
}

#[test]
fn window_update_overflowing_stream_window() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&window_update(1, 0x7fff_ffff)).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::FLOW_CONTROL_ERROR)]);
    assert_eq!(p.conn.open_streams(), 0);
    p.expect_usable(3);
}

#[test]
fn window_update_zero_on_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&frame(kind::WINDOW_UPDATE, 0, 1, &[0, 0, 0, 0]))
        .unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::PROTOCOL_ERROR)]);
    p.expect_usable(3);
}

#[test]
fn headers_after_end_stream_on_half_closed_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, true);
    p.feed(&f).unwrap();
    let b = p.block(&[("x-late", "1")]);
    p.feed(&headers(1, &b, true, true)).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::STREAM_CLOSED)]);
    p.expect_usable(3);
}

#[test]
fn trailers_without_end_stream() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    let b = p.block(&[("x-trailer", "1")]);
    p.feed(&headers(1, &b, false, true)).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::PROTOCOL_ERROR)]);
    p.expect_usable(3);
}

#[test]
fn priority_with_bad_length_is_stream_error() {
    let mut p = handshaken_server(Config::default());
    let f = p.request(1, false);
    p.feed(&f).unwrap();
    p.feed(&frame(kind::PRIORITY, 0, 1, &[0; 4])).unwrap();
    assert_eq!(rsts(&p.flush()), vec![(1, Reason::FRAME_SIZE_ERROR)]);
    p.expect_usable(3);
}

/// Self-dependent HEADERS opening a new stream, with its block split over CONTINUATION: still
/// decoded (HPACK in sync), whichever error is chosen.
#[test]
fn self_dependent_new_stream_with_continuation_keeps_hpack_in_sync() {
    let mut p = handshaken_server(Config::default());
    let mut block = hp::request("/", &[]);
    hp::insert(&mut block, b"x-dep", b"kept");
    let (a, b) = block.split_at(10);
    let mut payload = 3u32.to_be_bytes().to_vec();
    payload.push(15);
    payload.extend_from_slice(a);
    let mut f = frame(
        kind::HEADERS,
        flags::PRIORITY | flags::END_STREAM,
        3,
        &payload,
    );
    f.extend(cont(3, b, true));
    let res = p.feed(&f);
    if res.is_err() {
        p.expect_protocol(res, Reason::PROTOCOL_ERROR);
        return;
    }
    assert_eq!(rsts(&p.flush()), vec![(3, Reason::PROTOCOL_ERROR)]);
    assert_eq!(count_requests(&p.events()), 0);
    let mut b = hp::request("/next", &[]);
    hp::indexed(&mut b, 62);
    p.feed(&headers(5, &b, true, true)).unwrap();
    match &p.events()[..] {
        [Event::Request { head, .. }] => {
            assert_eq!(head.get("x-dep").map(|v| &v[..]), Some(&b"kept"[..]))
        }
        other => panic!("HPACK out of sync: {other:?}"),
    }
}

// ------------------------------------------------------------------ silent peers (timers)

/// A peer that never acknowledges our SETTINGS is dropped after `settings_timeout`.
#[test]
fn peer_that_never_acks_settings_times_out() {
    let mut p = Peer::server(Config::default());
    let mut f = PREFACE.to_vec();
    f.extend(wire::settings(Settings::default()));
    p.feed(&f).unwrap();
    p.flush();
    let deadline = p.conn.poll_timeout().expect("a SETTINGS timer");
    assert_eq!(deadline, Timestamp::from_duration(Duration::from_secs(10)));
    let early = Timestamp::from_duration(Duration::from_millis(9_999));
    assert_eq!(p.conn.handle_timeout(early), Ok(()));
    assert!(p.flush().is_empty());
    let res = p.conn.handle_timeout(deadline);
    assert_eq!(res, Err(ConnectionError::SettingsTimeout));
    p.expect_goaway(&ConnectionError::SettingsTimeout, Reason::SETTINGS_TIMEOUT);
}

/// A peer that stops answering keep-alive PINGs is declared dead after `max_missed`.
#[test]
fn peer_that_ignores_keepalive_is_dropped() {
    let secs = |n: u64| Timestamp::from_duration(Duration::from_secs(n));
    let mut p = handshaken_server(Config {
        keepalive: Some(Keepalive {
            interval: Duration::from_secs(1),
            max_missed: 2,
        }),
        ..Config::default()
    });
    // Answered PINGs keep it alive indefinitely.
    for n in 1..=5 {
        assert_eq!(p.conn.poll_timeout(), Some(secs(n)));
        p.conn.handle_timeout(secs(n)).unwrap();
        let sent = p.flush();
        let payload = match &sent[..] {
            [Sent::Frame(Frame::Ping(Ping {
                ack: false,
                payload,
            }))] => *payload,
            other => panic!("{other:?}"),
        };
        p.feed(&frame(kind::PING, flags::ACK, 0, &payload)).unwrap();
        assert!(p.events().is_empty(), "keep-alive ACKs are not reported");
    }
    // Then silence.
    p.conn.handle_timeout(secs(6)).unwrap();
    p.flush();
    p.conn.handle_timeout(secs(7)).unwrap();
    p.flush();
    let res = p.conn.handle_timeout(secs(8));
    assert_eq!(res, Err(ConnectionError::KeepaliveTimeout));
    p.expect_goaway(&ConnectionError::KeepaliveTimeout, Reason::NO_ERROR);
}

/// Stream ids are chosen by the peer, and `IdHasher` is an unkeyed multiplicative hash whose
/// low bits (what hashbrown uses to pick a bucket) depend only on the id's low bits: ids
/// `1 + k * 2^21` all land in one probe chain. Bounded by MAX_CONCURRENT_STREAMS, but every
/// frame lookup then walks ~64 groups. Timing-based, so not run by default:
/// `cargo test --release --test h2_hostile -- --ignored --nocapture`.
#[test]
#[ignore]
fn stream_id_hash_collisions_cost() {
    let mut times = Vec::new();
    for stride in [2u32, 1 << 21] {
        let mut p = handshaken_server(Config::default());
        let ids: Vec<u32> = (0..1024u32).map(|i| 1 + i * stride).collect();
        let mut f = Vec::new();
        for &id in &ids {
            f.extend(headers(id, &hp::request("/", &[]), false, true));
        }
        p.feed(&f).unwrap();
        assert_eq!(p.conn.open_streams(), 1024);
        let mut w = Vec::new();
        for _ in 0..50 {
            for &id in &ids {
                w.extend(window_update(id, 1));
            }
        }
        let t0 = std::time::Instant::now();
        p.feed(&w).unwrap();
        let took = t0.elapsed();
        eprintln!("stride {stride}: {} WINDOW_UPDATE in {took:?}", 50 * 1024);
        times.push(took);
    }
    let ratio = times[1].as_secs_f64() / times[0].as_secs_f64();
    assert!(
        ratio < 3.0,
        "colliding stream ids make each frame {ratio:.1}x slower"
    );
}

// ====================================================================== 11. arbitrary input

mod arbitrary_input {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// A header block: 0 the head the role expects (request to a server, response to a
        /// client), 1 the other one, 2 trailers, 3 malformed, 4 bomb, 5 garbage; `split` sends
        /// it as HEADERS + CONTINUATION.
        Head {
            id: u8,
            what: u8,
            end_stream: bool,
            split: bool,
        },
        /// A stray CONTINUATION.
        Cont {
            id: u8,
            bytes: Vec<u8>,
            end_headers: bool,
        },
        Data {
            id: u8,
            len: u16,
            end_stream: bool,
            pad: Option<u8>,
        },
        Rst {
            id: u8,
            code: u8,
        },
        Settings(Vec<(u8, u32)>),
        SettingsAck,
        Ping(bool),
        GoAway {
            last: u8,
            code: u8,
        },
        WindowUpdate {
            id: u8,
            inc: u32,
        },
        Priority {
            id: u8,
            dep: u8,
        },
        PushPromise {
            id: u8,
            promised: u8,
        },
        Unknown {
            kind: u8,
            id: u8,
            len: u8,
        },
        /// A frame header with any fields, followed by `payload`.
        RawFrame {
            kind: u8,
            flags: u8,
            id: u8,
            payload: Vec<u8>,
        },
        Garbage(Vec<u8>),
        Advance(u16),
        /// Application calls on the `pick`-th known stream.
        Respond {
            pick: u8,
            end: bool,
        },
        SendData {
            pick: u8,
            len: u16,
            end: bool,
        },
        Reset {
            pick: u8,
        },
        Flush,
    }

    /// Stream ids as the attacker sees them: mostly streams it opened (so frames reach the
    /// stream logic), sometimes the next new one, stream 0, or something odd.
    struct Ids {
        opened: Vec<u32>,
        next: u32,
    }

    impl Ids {
        fn pick(&self, x: u8) -> u32 {
            match x {
                0..=229 if !self.opened.is_empty() => {
                    self.opened[usize::from(x) % self.opened.len()]
                }
                0..=239 => self.next,
                240..=245 => 0,
                246..=249 => u32::from(x) - 240,
                _ => 0x7fff_fff0 + u32::from(x - 250),
            }
        }

        /// The next new stream id, now opened.
        fn open(&mut self) -> u32 {
            let id = self.next;
            self.next = self.next.saturating_add(2).min(0x7fff_ffff);
            self.opened.push(id);
            if self.opened.len() > 16 {
                self.opened.remove(0);
            }
            id
        }
    }

    fn id() -> impl Strategy<Value = u8> {
        prop_oneof![9 => 0u8..230, 1 => any::<u8>()]
    }

    fn op() -> impl Strategy<Value = Op> {
        let what = prop_oneof![5 => Just(0u8), 1 => 1u8..6];
        let head = (id(), what, any::<bool>(), prop::bool::weighted(0.2)).prop_map(
            |(id, what, end_stream, split)| Op::Head {
                id,
                what,
                end_stream,
                split,
            },
        );
        let cont = (
            id(),
            prop::collection::vec(any::<u8>(), 0..40),
            any::<bool>(),
        )
            .prop_map(|(id, bytes, end_headers)| Op::Cont {
                id,
                bytes,
                end_headers,
            });
        let data = (
            id(),
            prop_oneof![4 => 0u16..100, 4 => 0u16..16_000, 1 => 0u16..20_000],
            any::<bool>(),
            prop::option::weighted(0.1, any::<u8>()),
        )
            .prop_map(|(id, len, end_stream, pad)| Op::Data {
                id,
                len,
                end_stream,
                pad,
            });
        let value = prop_oneof![4 => 0u32..2, 4 => 16_384u32..70_000, 1 => any::<u32>()];
        let settings = prop::collection::vec((0u8..10, value), 0..4).prop_map(Op::Settings);
        let raw = (
            0u8..12,
            any::<u8>(),
            id(),
            prop::collection::vec(any::<u8>(), 0..24),
        )
            .prop_map(|(kind, flags, id, payload)| Op::RawFrame {
                kind,
                flags,
                id,
                payload,
            });
        prop_oneof![
            48 => head.boxed(),
            1 => cont.boxed(),
            36 => data.boxed(),
            8 => (id(), 0u8..16).prop_map(|(id, code)| Op::Rst { id, code }).boxed(),
            6 => settings.boxed(),
            3 => Just(Op::SettingsAck).boxed(),
            8 => any::<bool>().prop_map(Op::Ping).boxed(),
            1 => (id(), 0u8..16).prop_map(|(last, code)| Op::GoAway { last, code }).boxed(),
            16 => (id(), prop_oneof![1u32..70_000, any::<u32>()])
                .prop_map(|(id, inc)| Op::WindowUpdate { id, inc })
                .boxed(),
            4 => (id(), id()).prop_map(|(id, dep)| Op::Priority { id, dep }).boxed(),
            1 => (id(), id())
                .prop_map(|(id, promised)| Op::PushPromise { id, promised })
                .boxed(),
            4 => (10u8..255, id(), any::<u8>())
                .prop_map(|(kind, id, len)| Op::Unknown { kind, id, len })
                .boxed(),
            1 => raw.boxed(),
            1 => prop::collection::vec(any::<u8>(), 1..30).prop_map(Op::Garbage).boxed(),
            8 => prop_oneof![4 => 0u16..50, 1 => any::<u16>()]
                .prop_map(Op::Advance)
                .boxed(),
            16 => (any::<u8>(), any::<bool>())
                .prop_map(|(pick, end)| Op::Respond { pick, end })
                .boxed(),
            16 => (any::<u8>(), 0u16..40_000, any::<bool>())
                .prop_map(|(pick, len, end)| Op::SendData { pick, len, end })
                .boxed(),
            4 => any::<u8>().prop_map(|pick| Op::Reset { pick }).boxed(),
            16 => Just(Op::Flush).boxed(),
        ]
    }

    fn small_config() -> Config {
        let tight = RateLimit {
            burst: 8,
            per_second: 4,
        };
        Config {
            max_concurrent_streams: 4,
            initial_stream_window: 16_384,
            connection_window: 65_535,
            max_frame_size: 16_384,
            max_header_list_size: 8192,
            max_header_block_size: 8192,
            max_continuation_frames: 3,
            max_send_buffer_per_stream: 8192,
            max_pending_control_bytes: 512,
            peer_reset_budget: tight,
            local_reset_budget: tight,
            ping_budget: tight,
            settings_budget: tight,
            empty_frame_budget: tight,
            ..Config::default()
        }
    }

    /// The attacker's bytes for one op (None for application calls).
    fn encode_op(p: &mut Peer, ids: &mut Ids, op: &Op, counter: &mut u32) -> Option<Vec<u8>> {
        *counter += 1;
        let n = *counter;
        Some(match op {
            Op::Head {
                id,
                what,
                end_stream,
                split,
            } => {
                let server = p.conn.role() == Role::Server;
                let what = match what {
                    0 if !server => 1,
                    1 if !server => 0,
                    w => *w,
                };
                let block = match what {
                    0 => p.request_block(&format!("/p/{n}"), &[("x-n", &n.to_string())]),
                    1 => p.block(&[(":status", if n % 3 == 0 { "100" } else { "200" })]),
                    2 => p.block(&[("x-trailer", &n.to_string())]),
                    3 => hp::request("/", &[(b"Bad", b"x")]),
                    4 => {
                        let mut b = hp::request("/", &[]);
                        for _ in 0..500 {
                            hp::indexed(&mut b, 2);
                        }
                        b
                    }
                    _ => (0..n % 17).map(|i| (i * 37 + n) as u8).collect(),
                };
                // Requests toward a server mostly open the next stream.
                let sid = if what == 0 && server && *id < 150 {
                    ids.open()
                } else {
                    ids.pick(*id)
                };
                if *split && block.len() > 1 {
                    // HEADERS + CONTINUATION, within the caps.
                    let (a, b) = block.split_at(block.len() / 2);
                    let mut f = headers(sid, a, *end_stream, false);
                    f.extend(cont(sid, b, true));
                    f
                } else {
                    headers(sid, &block, *end_stream, true)
                }
            }
            Op::Cont {
                id,
                bytes,
                end_headers,
            } => cont(ids.pick(*id), bytes, *end_headers),
            Op::Data {
                id,
                len,
                end_stream,
                pad,
            } => match pad {
                None => data(ids.pick(*id), &vec![0x55; usize::from(*len)], *end_stream),
                Some(pad) => {
                    let mut payload = vec![*pad];
                    payload.extend(vec![0x55; usize::from(*pad) + usize::from(*len % 300)]);
                    let fl = flags::PADDED | if *end_stream { flags::END_STREAM } else { 0 };
                    frame(kind::DATA, fl, ids.pick(*id), &payload)
                }
            },
            Op::Rst { id, code } => rst(ids.pick(*id), Reason::from_u32(u32::from(*code))),
            Op::Settings(params) => settings_raw(
                &params
                    .iter()
                    .map(|&(i, v)| (u16::from(i), v))
                    .collect::<Vec<_>>(),
            ),
            Op::SettingsAck => settings_ack(),
            Op::Ping(ack) => frame(
                kind::PING,
                if *ack { flags::ACK } else { 0 },
                0,
                &u64::from(n).to_be_bytes(),
            ),
            Op::GoAway { last, code } => {
                goaway(ids.pick(*last), Reason::from_u32(u32::from(*code)))
            }
            Op::WindowUpdate { id, inc } => {
                frame(kind::WINDOW_UPDATE, 0, ids.pick(*id), &inc.to_be_bytes())
            }
            Op::Priority { id, dep } => priority(ids.pick(*id), ids.pick(*dep)),
            Op::PushPromise { id, promised } => {
                push_promise(ids.pick(*id), ids.pick(*promised), &hp::request("/", &[]))
            }
            Op::Unknown { kind, id, len } => {
                unknown(*kind, ids.pick(*id), &vec![0; usize::from(*len)])
            }
            Op::RawFrame {
                kind,
                flags,
                id,
                payload,
            } => frame(*kind, *flags, ids.pick(*id), payload),
            Op::Garbage(g) => g.clone(),
            _ => return None,
        })
    }

    struct Run {
        p: Peer,
        known: Vec<StreamId>,
        error: Option<ConnectionError>,
        goaways: usize,
        max_streams: usize,
        ids: Ids,
    }

    impl Run {
        fn flush(&mut self) -> Result<(), TestCaseError> {
            let sent = self.p.flush();
            self.goaways += goaways(&sent).len();
            prop_assert!(self.goaways <= 1, "more than one GOAWAY: {:?}", sent);
            if self.error.is_some() {
                // Once failed, the flush that carries the GOAWAY is the last output.
                let again = self.p.flush();
                prop_assert!(again.is_empty(), "output after the error: {:?}", again);
            }
            Ok(())
        }

        fn events(&mut self) {
            for e in self.p.events() {
                match e {
                    Event::Request { stream_id, .. } => self.known.push(stream_id),
                    Event::Data {
                        stream_id, data, ..
                    } => self.p.conn.release_capacity(stream_id, data.len()),
                    _ => {}
                }
            }
        }

        fn feed(
            &mut self,
            bytes: &[u8],
            chunks: &[usize],
            ci: &mut usize,
        ) -> Result<(), TestCaseError> {
            let mut rest = bytes;
            while !rest.is_empty() {
                let n = chunks[*ci % chunks.len()].min(rest.len());
                *ci += 1;
                let (now, later) = rest.split_at(n);
                rest = later;
                let res = self.p.feed(now);
                match (&self.error, res) {
                    (None, Ok(())) => {}
                    (None, Err(e)) => {
                        // Every error of ours sends a GOAWAY; the peer's own error GOAWAY
                        // ends the connection without one from us.
                        prop_assert!(
                            e.goaway_reason().is_some()
                                || matches!(e, ConnectionError::PeerGoAway { .. }),
                            "{e:?} sends no GOAWAY"
                        );
                        self.error = Some(e);
                    }
                    (Some(first), res) => {
                        prop_assert_eq!(res, Err(first.clone()), "recv succeeded after an error");
                    }
                }
                prop_assert!(
                    self.p.conn.open_streams() <= self.max_streams,
                    "{} open streams",
                    self.p.conn.open_streams()
                );
                self.events();
            }
            Ok(())
        }

        fn app(&mut self, op: &Op) {
            if self.error.is_some() || self.known.is_empty() {
                return;
            }
            let pick = |i: u8| self.known[usize::from(i) % self.known.len()];
            match *op {
                Op::Respond { pick: i, end } => {
                    let _ = self
                        .p
                        .conn
                        .send_response(pick(i), &ResponseHead::new(200), end);
                }
                Op::SendData { pick: i, len, end } => {
                    let _ = self.p.conn.send_data(
                        pick(i),
                        Bytes::from(vec![0xaa; usize::from(len)]),
                        end,
                    );
                }
                Op::Reset { pick: i } => self.p.conn.reset(pick(i), Reason::CANCEL),
                _ => {}
            }
        }
    }

    fn run(
        role: Role,
        small: bool,
        clean_start: bool,
        ops: Vec<Op>,
        chunks: Vec<usize>,
    ) -> Result<(), TestCaseError> {
        let config = if small {
            small_config()
        } else {
            Config::default()
        };
        let max_streams = config.max_concurrent_streams as usize + 2;
        let mut r = Run {
            p: Peer::new(role, config),
            known: Vec::new(),
            error: None,
            goaways: 0,
            max_streams,
            ids: Ids {
                opened: Vec::new(),
                next: if role == Role::Server { 1 } else { 2 },
            },
        };
        r.flush()?;
        if role == Role::Client {
            let head = RequestHead::new("POST", "https", "example.test", "/up");
            for _ in 0..2 {
                if let Ok(id) = r.p.conn.send_request(&head, false) {
                    r.known.push(id);
                    r.ids.opened.push(id.value());
                }
            }
        }
        let mut ci = 0;
        if clean_start {
            let mut start = if role == Role::Server {
                PREFACE.to_vec()
            } else {
                Vec::new()
            };
            start.extend(wire::settings(Settings::default()));
            start.extend(settings_ack());
            if role == Role::Server {
                let id = r.ids.open();
                let block = r.p.request_block("/first", &[]);
                start.extend(headers(id, &block, false, true));
            }
            r.feed(&start, &chunks, &mut ci)?;
        }
        let mut counter = 0;
        for op in &ops {
            match op {
                Op::Advance(ms) => {
                    r.p.advance(Duration::from_millis(u64::from(*ms)));
                    let now = r.p.now;
                    if let Err(e) = r.p.conn.handle_timeout(now) {
                        if r.error.is_none() {
                            r.error = Some(e);
                        }
                    }
                }
                Op::Flush => r.flush()?,
                Op::Respond { .. } | Op::SendData { .. } | Op::Reset { .. } => r.app(op),
                _ => {
                    let bytes =
                        encode_op(&mut r.p, &mut r.ids, op, &mut counter).unwrap_or_default();
                    r.feed(&bytes, &chunks, &mut ci)?;
                }
            }
        }
        r.flush()?;
        if let Some(e) = &r.error {
            if e.goaway_reason().is_some() {
                prop_assert_eq!(r.goaways, 1, "error {:?} without a GOAWAY", e);
            }
            prop_assert!(r.p.conn.is_done());
            prop_assert!(r.p.feed(&wire::ping([1; 8])).is_err());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn server_survives_arbitrary_input(
            small in any::<bool>(),
            clean_start in prop::bool::weighted(0.9),
            ops in prop::collection::vec(op(), 0..80),
            chunks in prop::collection::vec(prop_oneof![1usize..16, 1usize..4000], 1..6),
        ) {
            run(Role::Server, small, clean_start, ops, chunks)?;
        }

        #[test]
        fn client_survives_arbitrary_input(
            small in any::<bool>(),
            clean_start in prop::bool::weighted(0.9),
            ops in prop::collection::vec(op(), 0..80),
            chunks in prop::collection::vec(prop_oneof![1usize..16, 1usize..4000], 1..6),
        ) {
            run(Role::Client, small, clean_start, ops, chunks)?;
        }
    }
}
