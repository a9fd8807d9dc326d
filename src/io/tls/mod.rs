//! TLS 1.3 over a compio `TcpStream` with rustls' *unbuffered* API, full duplex.
//!
//! [`accept`] and [`connect`] run the handshake under a deadline and split the connection into
//! a [`TlsReader`] and a [`TlsWriter`] that can be used at the same time from two tasks on the
//! same thread (the tunnel reads and writes at once). Both are `!Send`, like every compio
//! object: they live on the thread that made them.
//!
//! Neither `read` nor `write` is cancel safe: compio cancels a dropped socket operation, and the
//! buffer it owned (ciphertext received, or a record half sent) goes with it. Run each half in
//! its own task; do not race it in a `select!` or wrap it in a timeout. A half whose future was
//! dropped mid-operation answers [`TlsIoError::Cancelled`] from then on. Timeouts belong around
//! the whole connection (the handshake has its own deadline).
//!
//! # How the two halves share one rustls connection
//!
//! ```text
//!  TlsReader task                       Shared (Rc<RefCell>)              TlsWriter task
//!  socket read ──► own ciphertext buf   conn: rustls connection           lock send side (async mutex)
//!  borrow: decrypt all complete ──────► shadow: copy of unconsumed tail ◄── borrow: WriteTraffic(shadow)
//!          records into `dst`           ctrl: records owed to the peer ──► prepend ctrl, encrypt chunks
//!          publish tail as shadow       (alerts)                          release borrow, send, repeat
//! ```
//!
//! The `RefCell` is never borrowed across an `.await`. rustls needs the incoming ciphertext for
//! every `process_tls_records` call, even the writer's (it keeps partial post-handshake messages
//! in the caller's buffer by offset), but the reader's buffer is inside a socket read while the
//! writer runs; so the reader publishes a copy of its unconsumed tail, the *shadow*, after each
//! pass (the copy replaces the compaction a single buffer would need, so it costs nothing
//! extra). Records the reader must send (a fatal alert) go through `ctrl`: a spawned task sends
//! them under the send lock, or the writer prepends them to its next batch. A key update
//! requested by the peer needs nothing from us here: rustls queues the reply and emits it ahead
//! of the next records we encrypt, which is when RFC 8446 §4.6.3 requires it.
//!
//! # Copies per payload byte
//!
//! * **Receive:** the kernel copies into our ciphertext buffer; rustls decrypts in place (the
//!   AES-GCM pass), then copies each record's plaintext into a `Vec` of its own (rustls 0.23
//!   hands out `&[u8]` of that `Vec`; in-place delivery is a TODO in rustls); [`TlsReader::read`]
//!   appends it to the caller's `BytesMut`. **2 user-space copies + 1 decryption pass.** The
//!   unconsumed tail of each read (less than one record of ciphertext) is copied once more, to
//!   the front of the next read buffer, as any compaction would; plaintext that arrived with
//!   the end of the handshake is copied once more too.
//! * **Send:** rustls copies each record's plaintext into a fresh `Vec`, encrypts it in place,
//!   and copies the record into our send buffer; the kernel copies it into the socket (io_uring
//!   `SEND_ZC` avoids this one on a real NIC; on loopback the kernel copies anyway).
//!   **2 user-space copies + 1 encryption pass** for chunks of 2 KiB or more; chunks smaller
//!   than that are first gathered into one record (**+1 copy** for those bytes only), because a
//!   record of its own would cost more (22 bytes on the wire, an AEAD setup, two allocations).

mod buf;
mod engine;
mod error;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use error::TlsIoError;
pub use reader::TlsReader;
pub use writer::TlsWriter;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use compio::net::TcpStream;
use rustls::client::UnbufferedClientConnection;
use rustls::server::UnbufferedServerConnection;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::{CertificateDer, ServerName};

use buf::{InBuf, OutBuf, READ_RESERVE};
use engine::{handshake, Conn, Unbuffered};

/// State both halves use; borrowed only between `.await`s.
struct Shared {
    conn: Conn,
    /// Copy of the reader's unconsumed ciphertext tail, for the writer's rustls calls.
    shadow: InBuf,
    /// Records the reader produced that must reach the peer before anything encrypted later.
    ctrl: Vec<u8>,
    /// A task to send `ctrl` has been spawned and has not run yet.
    flush_queued: bool,
    /// The connection hit a TLS error; neither half may use it any more.
    failed: bool,
    /// The peer's close_notify was seen (by whichever half saw it first).
    peer_closed: bool,
}

/// Accepts a TLS connection on `tcp` as the server, with `cfg`.
///
/// Returns the two halves and the peer's certificate chain, leaf first, as verified by `cfg`'s
/// client-certificate verifier (empty if `cfg` does not ask for client certificates). Sets
/// `TCP_NODELAY`: records are already batched here, and delaying them only adds latency.
///
/// The whole handshake, including sending a fatal alert when it fails, must finish within
/// `handshake_timeout`, or [`TlsIoError::HandshakeTimeout`] is returned and the socket dropped.
pub async fn accept(
    tcp: TcpStream,
    cfg: Arc<ServerConfig>,
    handshake_timeout: Duration,
) -> Result<(TlsReader, TlsWriter, Vec<CertificateDer<'static>>), TlsIoError> {
    let conn = UnbufferedServerConnection::new(cfg).map_err(TlsIoError::from_rustls)?;
    let (conn, sock, inb) = establish(conn, tcp, handshake_timeout).await?;
    let certs = conn
        .peer_certificates()
        .map(<[CertificateDer<'static>]>::to_vec)
        .unwrap_or_default();
    let (reader, writer) = split(Conn::Server(conn), sock, inb).await?;
    Ok((reader, writer, certs))
}

/// Connects TLS on `tcp` as the client of `server_name`, with `cfg`.
///
/// In TLS 1.3 the client finishes its handshake before the server has checked the client's
/// certificate: if the server rejects it, the first [`TlsReader::read`] returns
/// [`TlsIoError::RejectedByPeer`]. Deadline and `TCP_NODELAY` as for [`accept`].
pub async fn connect(
    tcp: TcpStream,
    cfg: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    handshake_timeout: Duration,
) -> Result<(TlsReader, TlsWriter), TlsIoError> {
    let conn =
        UnbufferedClientConnection::new(cfg, server_name).map_err(TlsIoError::from_rustls)?;
    let (conn, sock, inb) = establish(conn, tcp, handshake_timeout).await?;
    split(Conn::Client(conn), sock, inb).await
}

async fn establish<C: Unbuffered>(
    mut conn: C,
    mut sock: TcpStream,
    deadline: Duration,
) -> Result<(C, TcpStream, InBuf), TlsIoError> {
    sock.set_nodelay(true)?;
    let mut inb = InBuf::with_capacity(READ_RESERVE);
    // Handshake flights are a few KiB; OutBuf grows if a certificate chain is larger.
    let mut out = OutBuf::new(8 * 1024);
    // Dropping the handshake future on timeout cancels its pending socket operation; the socket
    // is dropped with it.
    compio::time::timeout(
        deadline,
        handshake(&mut conn, &mut sock, &mut inb, &mut out),
    )
    .await
    .map_err(|_| TlsIoError::HandshakeTimeout(deadline))??;
    Ok((conn, sock, inb))
}

/// Makes the two halves.
///
/// The handshake may stop with application data already received: decrypted plaintext queued
/// in rustls and more complete records in `inb`. Both are processed here, before the writer
/// can run, because the writer's rustls calls must find nothing to decrypt (see
/// [`engine::with_write_traffic`]). The plaintext (the peer's first bytes, at most what one
/// read brought) waits in the reader.
async fn split(
    mut conn: Conn,
    mut sock: TcpStream,
    mut inb: InBuf,
) -> Result<(TlsReader, TlsWriter), TlsIoError> {
    let mut early = BytesMut::new();
    let mut ctrl = Vec::new();
    let drained =
        engine::with_conn!(&mut conn, c => engine::drain(c, &mut inb, &mut early, &mut ctrl));
    let peer_closed = match drained {
        Ok(d) => d.peer_closed,
        Err(e) => {
            // Best effort: the alert for the bad record.
            let _ = compio::io::AsyncWriteExt::write_all(&mut sock, ctrl).await;
            return Err(e);
        }
    };
    let mut shadow = InBuf::default();
    shadow.set_to(inb.data());
    let shared = Rc::new(RefCell::new(Shared {
        conn,
        shadow,
        ctrl,
        flush_queued: false,
        failed: false,
        peer_closed,
    }));
    // Zero-copy sends only pay off (and only exist) on io_uring.
    let uring = compio::runtime::Runtime::try_with_current(|rt| rt.driver_type().is_iouring())
        .unwrap_or(false);
    // Two handles on one socket: each half owns one, so each can be in a socket operation.
    let (rsock, wsock) = sock.into_split();
    let send = writer::SendSide::shared(wsock, uring);
    let reader = TlsReader::new(shared.clone(), send.clone(), rsock, inb, early, peer_closed);
    let writer = TlsWriter::new(shared, send);
    Ok((reader, writer))
}
