//! Test support: an async driver that runs one sallyport [`Connection`] over any tokio byte
//! stream, plus a client façade on top of it.
//!
//! * [`spawn`] runs a connection (either role) in a task. The application side is a
//!   [`Handler`] that sees every [`Event`] together with a [`Ctx`] (the connection plus a
//!   body outbox), and tests can run code inside the driver with [`Driver::exec`].
//! * [`Client`] wraps a client-role driver: open streams, send bodies, await responses.
//!
//! The driver does what a real I/O layer must: it feeds every read into one `BytesMut`,
//! hands the connection's output to the transport in order while still reading (so neither
//! side can deadlock on full pipes), releases flow-control capacity once a handler has
//! consumed [`Event::Data`], feeds large bodies through the bounded send buffer (resuming on
//! [`Event::Writable`]), and runs the timers on a [`Timestamp`] derived from a tokio
//! [`Instant`].
//!
//! Layout: `driver.rs` (the driver and the [`Ctx`] outbox), `client.rs` (the client façade),
//! `server.rs` (a request [`Collector`]), `wire.rs` (a tapped [`Wire`] transport and
//! [`frames`]).
#![allow(dead_code)]

mod client;
mod driver;
mod server;
mod wire;

// The whole API stays reachable as `support::Name`; a test target may use only part of it.
#[allow(unused_imports)]
pub use {
    client::{Client, ClientApp, ClientStream, Response},
    driver::{spawn, Command, Ctx, Driver, DriverError, Handler},
    server::{Collector, Fed, Request},
    wire::{frames, Wire, WireControl},
};

use bytes::Bytes;
use sallyport::proto::h2::Event;
use sallyport::proto::hpack::Field;
use sallyport::proto::StreamId;

/// Size of each direction of the in-memory pipes the tests use.
pub const PIPE: usize = 64 * 1024;

// ---------------------------------------------------------------------------------- helpers

/// A deterministic body of `len` bytes. Each byte depends on its offset (hashed, so a
/// duplicated, dropped or reordered chunk shows up) and on `seed` (so bodies of different
/// streams differ).
pub fn pattern(seed: u32, len: usize) -> Bytes {
    (0..len)
        .map(|i| {
            let x = (i as u32).wrapping_mul(0x9E37_79B1) ^ seed.wrapping_mul(0x85EB_CA6B);
            (x >> 24) as u8 ^ (x >> 11) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// Compares two bodies without dumping megabytes on failure: reports lengths and the first
/// differing offset.
#[track_caller]
pub fn assert_body(what: &str, got: &[u8], want: &[u8]) {
    if got == want {
        return;
    }
    let first = got.iter().zip(want).position(|(a, b)| a != b);
    panic!(
        "{what}: body mismatch: got {} bytes, want {} bytes, first difference at {:?}",
        got.len(),
        want.len(),
        first
    );
}

/// A regular header field with an owned name (the crate's `field` takes `&'static str`).
pub fn fld(name: &str, value: &str) -> Field {
    Field {
        name: Bytes::copy_from_slice(name.as_bytes()),
        value: Bytes::copy_from_slice(value.as_bytes()),
        sensitive: false,
    }
}

/// The value of `name` in `fields`, as a string.
pub fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| &f.name[..] == name.as_bytes())
        .map(|f| std::str::from_utf8(&f.value).expect("utf-8 field value"))
}

/// The stream an event belongs to, if any.
pub fn stream_of(ev: &Event) -> Option<StreamId> {
    match ev {
        Event::Request { stream_id, .. }
        | Event::Response { stream_id, .. }
        | Event::Data { stream_id, .. }
        | Event::Trailers { stream_id, .. }
        | Event::Reset { stream_id, .. }
        | Event::Writable { stream_id } => Some(*stream_id),
        Event::PingAck { .. } | Event::GoAway { .. } => None,
    }
}
