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
//!
//! Layout: `peer.rs` holds the codec under test and parses what it sends; `wire.rs` and `hp.rs`
//! are the attacker's frame and HPACK builders; every other module is one kind of attack.

#![deny(unsafe_code)]

// The attacker's toolbox.
mod hp;
mod peer;
mod wire;

// The attacks.
mod arbitrary_input;
mod client_role;
mod concurrent_streams;
mod continuation;
mod floods;
mod hpack_bomb;
mod protocol_errors;
mod stream_errors;
mod timers;
mod windows;
