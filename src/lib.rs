//! sallyport — a reverse-invoke tunnel appliance.
//!
//! An on-premise **connector** dials *out* over TLS 1.3 (mutual TLS) to a cloud **relay** and
//! serves HTTP/2 over that outbound connection; the relay sends requests *into* the tunnel.
//!
//! ```text
//!  cloud app ──HTTP proxy──┐                                  ┌── HTTP/1.1 backend
//!  cloud app ──SOCKS5──────┤ RELAY  (HTTP/2 client)           │
//!                          └──────── ◄══ TLS 1.3 mTLS ══ CONNECTOR (HTTP/2 server) ── TCP backend
//!                                     one tunnel, many streams
//! ```
//!
//! # Layers
//!
//! * [`proto`] is sans-IO: bytes and a [`proto::Timestamp`] go in; bytes to send, events and the
//!   next timer come out. It never touches a socket or reads a clock, which is what makes it
//!   deterministic to test, simulate and fuzz.
//!   * [`proto::frame`] — HTTP/2 frames (RFC 9113 §4, §6): a checked parse and an emit.
//!   * [`proto::hpack`] — header compression (RFC 7541).
//!   * [`proto::h2`] — the connection state machine for both roles: streams, flow control,
//!     limits against hostile peers.
//!
//! Data flows through the codec without copies: DATA payloads come out as [`bytes::Bytes`]
//! slices of the receive buffer, and outgoing DATA payloads are handed to the transport as the
//! same `Bytes` the application queued.
#![deny(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod config;
pub mod connector;
pub mod demo;
pub mod io;
pub mod pki;
pub mod policy;
pub mod proto;
pub mod relay;
pub mod reload;
pub mod tls;
pub mod tunnel;
