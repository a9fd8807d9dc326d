//! I/O glue: compio runtimes and TLS over compio sockets.
//!
//! * [`runtime`] picks the I/O backend (io_uring, or epoll when io_uring is blocked or missing),
//!   says clearly why io_uring could not be used, and runs one runtime per OS thread.
//! * [`signals`] lets the supervising thread wait for SIGHUP (configuration reload).
//! * [`tls`] runs TLS 1.3 over a compio `TcpStream` with rustls' unbuffered API: a reader and a
//!   writer half that work at the same time from two tasks on one thread.
//!
//! compio runtimes and everything created inside them are `!Send`: a connection lives and dies on
//! the thread that accepted or dialled it.
//!
//! This is the only module where `unsafe` is allowed (the signal mask in [`signals`], and the
//! test that installs a seccomp filter to simulate a host without io_uring); every block must
//! carry a `// SAFETY:` comment.
#![allow(unsafe_code)]

pub mod runtime;
pub mod signals;
pub mod tls;
