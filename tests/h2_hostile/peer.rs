//! The codec under test plus the attacker's state ([`Peer`]), and what the codec sent, parsed
//! back into frames and header blocks ([`Sent`]).

use crate::wire::{self, headers, settings_ack};
use bytes::{Buf, Bytes, BytesMut};
use sallyport::proto::frame::{Frame, FrameHeader, GoAway, Settings, HEADER_LEN, PREFACE};
use sallyport::proto::h2::{Config, Connection, ConnectionError, Event, Flood, RateLimit, Role};
use sallyport::proto::hpack::{Decoder, Encoder, Field};
use sallyport::proto::{Reason, Timestamp};
use std::time::Duration;

pub const EYC: Reason = Reason::ENHANCE_YOUR_CALM;

/// A frame (or a reassembled header block) the codec sent.
#[derive(Debug)]
pub enum Sent {
    /// HEADERS (+ CONTINUATION), decoded.
    Head {
        id: u32,
        fields: Vec<(String, String)>,
        end_stream: bool,
    },
    /// Any other frame.
    Frame(Frame),
}

pub fn goaways(sent: &[Sent]) -> Vec<GoAway> {
    sent.iter()
        .filter_map(|s| match s {
            Sent::Frame(Frame::GoAway(g)) => Some(g.clone()),
            _ => None,
        })
        .collect()
}

pub fn rsts(sent: &[Sent]) -> Vec<(u32, Reason)> {
    sent.iter()
        .filter_map(|s| match s {
            Sent::Frame(Frame::RstStream(r)) => Some((r.stream_id.value(), r.reason)),
            _ => None,
        })
        .collect()
}

/// A decoded header block the codec sent: (stream, fields, END_STREAM).
pub type Head = (u32, Vec<(String, String)>, bool);

pub fn heads(sent: &[Sent]) -> Vec<Head> {
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
pub fn datas(sent: &[Sent]) -> Vec<(u32, usize, bool)> {
    sent.iter()
        .filter_map(|s| match s {
            Sent::Frame(Frame::Data(d)) => {
                Some((d.stream_id.value(), d.payload.len(), d.end_stream))
            }
            _ => None,
        })
        .collect()
}

pub fn count_requests(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Request { .. }))
        .count()
}

/// The codec under test plus the attacker's state.
pub struct Peer {
    pub conn: Connection,
    pub now: Timestamp,
    /// The attacker's HPACK encoder (well-formed blocks).
    enc: Encoder,
    /// Decodes the header blocks the codec sends.
    dec: Decoder,
    /// Bytes given to `recv` and not consumed yet.
    pub inbuf: BytesMut,
    /// Output not parsed into frames yet.
    wire: BytesMut,
    client_preface_pending: bool,
    partial: Option<(u32, bool, Vec<u8>)>,
    /// Bytes `poll_transmit` handed out since the last handshake.
    pub sent_total: usize,
}

impl Peer {
    pub fn new(role: Role, config: Config) -> Self {
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

    pub fn server(config: Config) -> Self {
        Peer::new(Role::Server, config)
    }

    pub fn client(config: Config) -> Self {
        Peer::new(Role::Client, config)
    }

    /// Preface (toward a server), our SETTINGS and the ACK of the codec's SETTINGS; the codec's
    /// handshake output is read and checked, and `sent_total` starts from zero afterwards.
    #[track_caller]
    pub fn handshake(&mut self, settings: Settings) {
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

    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        self.inbuf.extend_from_slice(bytes);
        self.conn.recv(&mut self.inbuf, self.now)
    }

    pub fn advance(&mut self, d: Duration) {
        self.now = self.now.saturating_add(d);
    }

    pub fn events(&mut self) -> Vec<Event> {
        let mut v = Vec::new();
        while let Some(e) = self.conn.poll_event() {
            v.push(e);
        }
        v
    }

    /// A request head block from the attacker's encoder (dynamic table in use).
    pub fn request_block(&mut self, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut fields = vec![
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "example.test"),
            (":path", path),
        ];
        fields.extend_from_slice(extra);
        self.block(&fields)
    }

    pub fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
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
    pub fn request(&mut self, id: u32, end_stream: bool) -> Vec<u8> {
        let block = self.request_block(&format!("/r/{id}"), &[]);
        headers(id, &block, end_stream, true)
    }

    /// Everything the codec wants to send, parsed.
    #[track_caller]
    pub fn flush(&mut self) -> Vec<Sent> {
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
    pub fn expect_goaway(&mut self, err: &ConnectionError, reason: Reason) -> GoAway {
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
    pub fn expect_protocol(&mut self, res: Result<(), ConnectionError>, reason: Reason) -> GoAway {
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
    pub fn expect_flood(&mut self, res: Result<(), ConnectionError>, what: Flood) -> GoAway {
        let err = res.expect_err("expected a flood error");
        assert_eq!(err, ConnectionError::Flood(what));
        self.expect_goaway(&err, EYC)
    }

    /// The connection is healthy: a fresh request on `id` comes out as `Event::Request`.
    #[track_caller]
    pub fn expect_usable(&mut self, id: u32) {
        let f = self.request(id, true);
        self.feed(&f).expect("connection should still be usable");
        let ev = self.events();
        assert!(
            ev.iter()
                .any(|e| matches!(e, Event::Request { stream_id, .. } if stream_id.value() == id)),
            "no request event for {id}: {ev:?}"
        );
    }

    /// Flushes without the GOAWAY checks (for tests that look at what preceded it).
    pub fn flush_keep(&mut self, res: &Result<(), ConnectionError>) -> Vec<Sent> {
        assert!(res.is_err(), "expected an error, got {res:?}");
        self.flush()
    }

    /// `expect_flood` for output already flushed into `sent`.
    #[track_caller]
    pub fn expect_flood_after_flush(
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

pub fn pairs(fields: &[Field]) -> Vec<(String, String)> {
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

pub fn handshaken_server(config: Config) -> Peer {
    let mut p = Peer::server(config);
    p.handshake(Settings::default());
    p
}

pub fn generous(burst: u32) -> RateLimit {
    RateLimit {
        burst,
        per_second: burst,
    }
}
