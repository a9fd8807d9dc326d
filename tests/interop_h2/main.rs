//! Interoperability of the sans-IO HTTP/2 codec with the `h2` crate, both ways round:
//! our client against `h2::server`, and `h2::client` against our server, over in-memory
//! pipes. Every test is bounded by a timeout so that a hang fails instead of blocking CI.
//!
//! Tests are grouped by topic, one module each; `harness.rs` holds what they share (timeouts,
//! h2-side helpers, the two pairings) and `../support` the driver for our side.

#[path = "../support/mod.rs"]
mod support;

mod harness;

mod basic;
mod bodies;
mod concurrency;
mod connect;
mod flow_control;
mod goaway;
mod headers;
mod ping;
mod resets;
mod trailers;
