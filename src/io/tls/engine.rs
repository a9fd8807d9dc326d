//! The rustls unbuffered state loops: handshake, decrypting what was received, and getting a
//! `WriteTraffic` to encrypt into.
//!
//! Each call to `process_tls_records` handles about one record and returns a state that must be
//! handled before the next call; `discard` bytes must then be dropped from the front of the
//! buffer that was passed in.

use bytes::BytesMut;
use compio::net::TcpStream;
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{
    ConnectionState, UnbufferedConnectionCommon, UnbufferedStatus, WriteTraffic,
};

use super::buf::{encode_into_vec, InBuf, OutBuf};
use super::error::TlsIoError;

/// Client and server connections share the state machine but not a type.
pub(super) trait Unbuffered:
    std::ops::Deref<Target = UnbufferedConnectionCommon<Self::Data>>
{
    type Data;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
}

impl Unbuffered for UnbufferedClientConnection {
    type Data = ClientConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

impl Unbuffered for UnbufferedServerConnection {
    type Data = ServerConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

/// The connection behind a reader/writer pair.
pub(super) enum Conn {
    Client(UnbufferedClientConnection),
    Server(UnbufferedServerConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection (the body is compiled twice).
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::io::tls::engine::Conn::Client($c) => $body,
            $crate::io::tls::engine::Conn::Server($c) => $body,
        }
    };
}
pub(super) use with_conn;

/// After `process_tls_records` returned an error, rustls has usually queued a fatal alert: the
/// next calls return `EncodeTlsData` for it (the error itself is sticky). Encode those records
/// with `sink` so the peer sees a real alert rather than a bare reset.
fn collect_alerts<C: Unbuffered>(
    conn: &mut C,
    inb: &mut InBuf,
    mut sink: impl FnMut(&mut rustls::unbuffered::EncodeTlsData<'_, C::Data>),
) {
    // An alert is one record; the bound only guards against a state that never settles.
    for _ in 0..4 {
        let UnbufferedStatus { discard, state } = conn.process(inb.data());
        let more = match state {
            Ok(ConnectionState::EncodeTlsData(mut s)) => {
                sink(&mut s);
                true
            }
            Ok(ConnectionState::TransmitTlsData(s)) => {
                s.done();
                false
            }
            _ => false,
        };
        inb.discard(discard);
        if !more {
            break;
        }
    }
}

enum Next {
    /// Call rustls again.
    Continue,
    /// Send what is encoded, then read more.
    Read,
    /// Keys are up for sending; done unless rustls is still handshaking.
    Write,
    /// Application data has been decrypted: done.
    Done,
}

/// Drives the handshake to completion: until traffic keys are up *and* rustls no longer
/// reports `is_handshaking()`. For a server that requires client certificates this means the
/// client's certificate has been verified.
///
/// Leftover ciphertext (the first application data can arrive with the client's Finished)
/// stays in `inb`; rustls keeps any plaintext it already decrypted queued for the next call.
pub(super) async fn handshake<C: Unbuffered>(
    conn: &mut C,
    sock: &mut TcpStream,
    inb: &mut InBuf,
    out: &mut OutBuf,
) -> Result<(), TlsIoError> {
    loop {
        let UnbufferedStatus { discard, state } = conn.process(inb.data());
        let next = match state {
            Err(e) => {
                inb.discard(discard);
                collect_alerts(conn, inb, |s| {
                    let _ = out.encode(s);
                });
                // Best effort: the handshake failed whatever happens to the alert.
                let _ = out.flush(sock).await;
                return Err(TlsIoError::from_rustls(e));
            }
            Ok(ConnectionState::EncodeTlsData(mut s)) => {
                out.encode(&mut s)?;
                Next::Continue
            }
            // Encoded records go out below before we block on a read; `done()` only clears
            // rustls' "wants write" flag.
            Ok(ConnectionState::TransmitTlsData(s)) => {
                s.done();
                Next::Continue
            }
            Ok(ConnectionState::BlockedHandshake) => Next::Read,
            Ok(ConnectionState::WriteTraffic(_)) => Next::Write,
            Ok(ConnectionState::ReadTraffic(_)) => Next::Done,
            Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => {
                return Err(TlsIoError::HandshakeEof)
            }
            Ok(_) => {
                return Err(TlsIoError::Internal(
                    "unexpected state during the handshake",
                ))
            }
        };
        inb.discard(discard);
        let read = match next {
            Next::Continue => continue,
            Next::Read => true,
            // A server that does not ask for client certificates may send before the client's
            // Finished arrives; we still wait for it.
            Next::Write => conn.is_handshaking(),
            Next::Done => false,
        };
        out.flush(sock).await?;
        if !read {
            return Ok(());
        }
        if inb.read_more(sock).await? == 0 {
            return Err(TlsIoError::HandshakeEof);
        }
    }
}

/// What one pass over the received ciphertext produced.
#[derive(Default)]
pub(super) struct Drained {
    /// Plaintext bytes appended to the destination.
    pub(super) appended: usize,
    /// The peer's close_notify was seen (or the connection is fully closed).
    pub(super) peer_closed: bool,
}

/// Decrypts every complete record in `inb`, appending the plaintext to `dst`. Records rustls
/// wants sent in response (alerts) are appended to `ctrl`.
///
/// On return `inb` holds only what rustls could not use yet: a partial record, and any partial
/// post-handshake message whose offsets rustls remembers.
pub(super) fn drain<C: Unbuffered>(
    conn: &mut C,
    inb: &mut InBuf,
    dst: &mut BytesMut,
    ctrl: &mut Vec<u8>,
) -> Result<Drained, TlsIoError> {
    let mut drained = Drained::default();
    loop {
        let UnbufferedStatus { discard, state } = conn.process(inb.data());
        let state = match state {
            Ok(s) => s,
            Err(e) => {
                inb.discard(discard);
                collect_alerts(conn, inb, |s| encode_into_vec(s, ctrl));
                return Err(TlsIoError::from_rustls(e));
            }
        };
        let stop = match state {
            ConnectionState::ReadTraffic(mut r) => {
                // rustls 0.23 decrypts the record in place in `inb`, then copies the plaintext
                // into a Vec of its own; this appends that Vec to `dst` (the copy the API forces
                // on us: the payload is a borrowed `&[u8]` owned by rustls).
                while let Some(rec) = r.next_record() {
                    let rec = rec.map_err(TlsIoError::from_rustls)?;
                    dst.extend_from_slice(rec.payload);
                    drained.appended += rec.payload.len();
                }
                false
            }
            ConnectionState::EncodeTlsData(mut s) => {
                encode_into_vec(&mut s, ctrl);
                false
            }
            // `ctrl` is sent by the reader's flush task; see reader.rs.
            ConnectionState::TransmitTlsData(s) => {
                s.done();
                false
            }
            // Edge-triggered, once: rustls continues with WriteTraffic or Closed.
            ConnectionState::PeerClosed => {
                drained.peer_closed = true;
                false
            }
            ConnectionState::Closed => {
                drained.peer_closed = true;
                true
            }
            // Nothing complete is left to decrypt: more ciphertext is needed.
            ConnectionState::WriteTraffic(_) => true,
            ConnectionState::BlockedHandshake => {
                return Err(TlsIoError::Internal("handshake state after the handshake"))
            }
            _ => return Err(TlsIoError::Internal("unexpected state while reading")),
        };
        inb.discard(discard);
        if stop {
            return Ok(drained);
        }
    }
}

/// Gets the connection to `WriteTraffic` and runs `f` with it, for the writer.
///
/// The writer passes the reader's *shadow* buffer, a copy of the ciphertext tail the reader
/// left unconsumed, never an empty slice: rustls remembers the offsets of a partial
/// post-handshake message inside the incoming buffer and would index out of bounds. The
/// shadow holds no complete record, so rustls consumes nothing (`discard` stays 0) and the
/// reader's own copy stays in step.
///
/// Returns `Ok(None)` when both sides have closed (nothing can be written any more).
pub(super) fn with_write_traffic<C: Unbuffered, R>(
    conn: &mut C,
    shadow: &mut InBuf,
    out: &mut OutBuf,
    peer_closed: &mut bool,
    f: impl FnOnce(WriteTraffic<'_, C::Data>, &mut OutBuf) -> Result<R, TlsIoError>,
) -> Result<Option<R>, TlsIoError> {
    // Every state but WriteTraffic is transient here; the bound guards against one that is not.
    for _ in 0..64 {
        let UnbufferedStatus { discard, state } = conn.process(shadow.data());
        if discard != 0 {
            return Err(TlsIoError::Internal("writer consumed received ciphertext"));
        }
        match state.map_err(TlsIoError::from_rustls)? {
            ConnectionState::WriteTraffic(w) => return f(w, out).map(Some),
            // Records rustls queued (a key update we asked for, an alert): they go out first,
            // keeping record order.
            ConnectionState::EncodeTlsData(mut s) => out.encode(&mut s)?,
            ConnectionState::TransmitTlsData(s) => s.done(),
            ConnectionState::PeerClosed => *peer_closed = true,
            ConnectionState::Closed => return Ok(None),
            ConnectionState::ReadTraffic(_) => {
                return Err(TlsIoError::Internal("writer saw undelivered plaintext"))
            }
            _ => return Err(TlsIoError::Internal("unexpected state while writing")),
        }
    }
    Err(TlsIoError::Internal("writer found no WriteTraffic state"))
}
