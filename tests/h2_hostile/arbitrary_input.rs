//! Arbitrary input against both roles: generated frame sequences (well-formed or not), fed in
//! random chunks, mixed with application calls and clock advances. Whatever arrives, the codec
//! sends at most one GOAWAY and nothing after it, stays failed once failed, and never holds more
//! streams than allowed.

use crate::peer::{goaways, Peer};
use crate::wire::{self, headers, settings_ack};
use bytes::Bytes;
use proptest::prelude::*;
use sallyport::proto::frame::{Settings, PREFACE};
use sallyport::proto::h2::{
    Config, ConnectionError, Event, RateLimit, RequestHead, ResponseHead, Role,
};
use sallyport::proto::{Reason, StreamId};
use std::time::Duration;

mod ops;

use ops::{encode_op, op, Ids, Op};

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
                let _ =
                    self.p
                        .conn
                        .send_data(pick(i), Bytes::from(vec![0xaa; usize::from(len)]), end);
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
                let bytes = encode_op(&mut r.p, &mut r.ids, op, &mut counter).unwrap_or_default();
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
