//! I/O glue: compio runtimes and TLS over compio sockets.
//!
//! * [`idle`] closes spliced streams that have been quiet for too long.
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

pub mod idle;
pub mod runtime;
pub mod signals;
pub mod tls;

/// A duplicate of a connected socket's descriptor, for another thread's runtime to adopt
/// (`compio::net::TcpStream::from_std`): compio sockets are `!Send`, a descriptor is not. The
/// caller then drops its own socket (and every clone of it), so no operation of this runtime
/// can still refer to the connection. Call it only with no operation in flight on the socket
/// (right after `accept`, or between a door's reads and writes).
pub fn duplicate_tcp(sock: &compio::net::TcpStream) -> std::io::Result<std::net::TcpStream> {
    use std::os::fd::AsFd;
    Ok(std::net::TcpStream::from(
        sock.as_fd().try_clone_to_owned()?,
    ))
}

/// Shuts the write side of a TCP socket (sends FIN) with a direct `shutdown(2)`.
///
/// compio's `shutdown()` submits `IORING_OP_SHUTDOWN`, which the kernel always hands to an
/// io-wq worker thread: one more thread wake-up per half-close, measured in the connection
/// latency profile (`perf sched`: an `iou-wrk` wake at every stream end). `shutdown(SHUT_WR)`
/// on a TCP socket never blocks (it queues the FIN), so the direct call costs one syscall and
/// no thread.
///
/// A socket the peer has already torn down (`ENOTCONN`) counts as shut: there is nobody left
/// to send the FIN to, which is what compio's own `shutdown` reports too.
pub fn shutdown_write(sock: &impl std::os::fd::AsFd) -> std::io::Result<()> {
    match socket2::SockRef::from(sock).shutdown(std::net::Shutdown::Write) {
        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// Waits until `sock` has something to read (data, EOF or an error), without lending it a
/// buffer.
///
/// A read on io_uring owns its buffer until it completes, so a connection that waits for
/// bytes with a 64 KiB read in flight keeps that buffer (and the pages it touched) for as long
/// as it stays quiet. Splices call this first when their last read drained the socket:
/// thousands of idle connections then hold no read buffer at all (one `POLL_ADD`, no memory),
/// while a busy one, whose reads come back full, reads straight on.
pub async fn readable(sock: &compio::net::TcpStream) -> std::io::Result<()> {
    sock.to_poll_fd()?.read_ready().await
}
