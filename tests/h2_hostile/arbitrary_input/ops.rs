//! What the generated attacker does: the [`Op`]s, the strategies that generate them, and their
//! encoding into bytes.

use crate::hp;
use crate::peer::Peer;
use crate::wire::{
    cont, data, frame, goaway, headers, priority, push_promise, rst, settings_ack, settings_raw,
    unknown,
};
use proptest::prelude::*;
use sallyport::proto::frame::{flags, kind};
use sallyport::proto::h2::Role;
use sallyport::proto::Reason;

#[derive(Debug, Clone)]
pub enum Op {
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
pub struct Ids {
    pub opened: Vec<u32>,
    pub next: u32,
}

impl Ids {
    fn pick(&self, x: u8) -> u32 {
        match x {
            0..=229 if !self.opened.is_empty() => self.opened[usize::from(x) % self.opened.len()],
            0..=239 => self.next,
            240..=245 => 0,
            246..=249 => u32::from(x) - 240,
            _ => 0x7fff_fff0 + u32::from(x - 250),
        }
    }

    /// The next new stream id, now opened.
    pub fn open(&mut self) -> u32 {
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

pub fn op() -> impl Strategy<Value = Op> {
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

/// The attacker's bytes for one op (None for application calls).
pub fn encode_op(p: &mut Peer, ids: &mut Ids, op: &Op, counter: &mut u32) -> Option<Vec<u8>> {
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
        Op::GoAway { last, code } => goaway(ids.pick(*last), Reason::from_u32(u32::from(*code))),
        Op::WindowUpdate { id, inc } => {
            frame(kind::WINDOW_UPDATE, 0, ids.pick(*id), &inc.to_be_bytes())
        }
        Op::Priority { id, dep } => priority(ids.pick(*id), ids.pick(*dep)),
        Op::PushPromise { id, promised } => {
            push_promise(ids.pick(*id), ids.pick(*promised), &hp::request("/", &[]))
        }
        Op::Unknown { kind, id, len } => unknown(*kind, ids.pick(*id), &vec![0; usize::from(*len)]),
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
