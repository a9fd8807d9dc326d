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
//!   * [`proto::http1`] — strict HTTP/1.1 heads and bodies (front door and backends).
//!   * [`proto::socks5`] — SOCKS5 with SAP's method 0x80, both sides.
//! * [`io`] — compio runtimes (io_uring or epoll), TLS over rustls' unbuffered API, SIGHUP; the
//!   only module with `unsafe`.
//! * [`tunnel`] drives one HTTP/2 connection over a transport; [`relay`] and [`connector`] are
//!   the two ends, with the front doors ([`relay::front`], [`relay::socks`]) and the forwarding
//!   to backends.
//! * [`policy`] — systems and the path whitelist, compiled; its [`policy::Admitted`] proof token
//!   is the only way to reach a backend.
//! * [`config`] (TOML files with positioned errors), [`reload`] (SIGHUP and file watch),
//!   [`audit`] (hash-chained, signed audit trail), [`auth`] (JWT, passwords), [`tls`] and
//!   [`pki`] (mTLS identities), [`demo`] (the loopback stack).
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
