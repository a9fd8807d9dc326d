//! The receiving half: reads ciphertext, decrypts it, appends the plaintext to the caller's
//! buffer.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::BytesMut;
use compio::net::TcpStream;
use futures_util::lock::Mutex;

use super::buf::{InBuf, READ_RESERVE};
use super::engine::{drain, with_conn};
use super::writer::SendSide;
use super::{Shared, TlsIoError};

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Open,
    /// The peer sent close_notify: every later read returns `Ok(0)`.
    PeerClosed,
    /// A read failed; that call returned the cause.
    Failed,
}

/// The receiving half of a TLS connection.
pub struct TlsReader {
    shared: Rc<RefCell<Shared>>,
    send: Rc<Mutex<SendSide>>,
    sock: TcpStream,
    /// Ciphertext read from the socket.
    inb: InBuf,
    /// The buffer the writer's shadow used before the last swap; the next tail copy goes here.
    spare: InBuf,
    /// `inb` holds bytes that have not been through rustls yet.
    fresh: bool,
    /// Plaintext that arrived with the end of the handshake, not yet handed out.
    early: BytesMut,
    /// A socket read is in flight. Still set when `read` starts again means the previous
    /// `read` future was dropped mid-read, taking the buffered ciphertext with it.
    reading: bool,
    state: ReadState,
}

impl TlsReader {
    pub(super) fn new(
        shared: Rc<RefCell<Shared>>,
        send: Rc<Mutex<SendSide>>,
        sock: TcpStream,
        inb: InBuf,
        early: BytesMut,
        peer_closed: bool,
    ) -> Self {
        TlsReader {
            shared,
            send,
            sock,
            inb,
            spare: InBuf::with_capacity(READ_RESERVE),
            // `split` has already decrypted what the handshake left behind.
            fresh: false,
            early,
            reading: false,
            state: if peer_closed {
                ReadState::PeerClosed
            } else {
                ReadState::Open
            },
        }
    }

    /// Reads and decrypts, **appending** the plaintext to `dst`; returns the number of bytes
    /// appended, at least 1, or `Ok(0)` once the peer has closed cleanly (close_notify).
    ///
    /// A TCP end of stream without close_notify is [`TlsIoError::Truncated`]. Reads as much as
    /// one socket read brings (up to 256 KiB of ciphertext) and decrypts all of it.
    ///
    /// Not cancel safe: dropping the future while it waits on the socket loses the buffered
    /// ciphertext (compio cancels the operation, which owns the buffer), and the next call
    /// returns [`TlsIoError::Cancelled`]. Run the reader in its own task rather than racing it
    /// in a `select!` or under a timeout.
    pub async fn read(&mut self, dst: &mut BytesMut) -> Result<usize, TlsIoError> {
        if self.reading {
            self.state = ReadState::Failed;
            self.reading = false;
            return Err(TlsIoError::Cancelled);
        }
        if !self.early.is_empty() {
            // One extra copy, of the handshake's leftover only.
            let n = self.early.len();
            dst.extend_from_slice(&self.early);
            self.early = BytesMut::new();
            return Ok(n);
        }
        loop {
            match self.state {
                ReadState::Open => {}
                ReadState::PeerClosed => return Ok(0),
                ReadState::Failed => return Err(TlsIoError::Closed),
            }
            if self.fresh {
                self.fresh = false;
                if let Some(n) = self.decrypt(dst)? {
                    return Ok(n);
                }
            }
            // Normally the reader sees close_notify itself; this covers the writer's rustls call
            // having taken the one-time PeerClosed state first.
            if self.shared.borrow().peer_closed {
                self.state = ReadState::PeerClosed;
                return Ok(0);
            }
            self.reading = true;
            let got = self.inb.read_more(&mut self.sock).await;
            self.reading = false;
            match got {
                Ok(0) => {
                    self.state = ReadState::Failed;
                    return Err(TlsIoError::Truncated);
                }
                Ok(_) => self.fresh = true,
                Err(e) => {
                    self.state = ReadState::Failed;
                    return Err(TlsIoError::Io(e));
                }
            }
        }
    }

    /// Decrypts what `inb` holds. `Some(n)`: return `n` to the caller; `None`: read more.
    fn decrypt(&mut self, dst: &mut BytesMut) -> Result<Option<usize>, TlsIoError> {
        let (drained, flush) = {
            let mut guard = self.shared.borrow_mut();
            let sh = &mut *guard;
            if sh.failed {
                self.state = ReadState::Failed;
                return Err(TlsIoError::Closed);
            }
            let drained = with_conn!(&mut sh.conn, c => drain(c, &mut self.inb, dst, &mut sh.ctrl));
            publish_tail(&mut self.inb, &mut self.spare, &mut sh.shadow);
            if drained.is_err() {
                sh.failed = true;
            }
            if matches!(drained, Ok(ref d) if d.peer_closed) {
                sh.peer_closed = true;
            }
            let flush = !sh.ctrl.is_empty() && !sh.flush_queued;
            sh.flush_queued |= flush;
            (drained.map(|d| (d.appended, sh.peer_closed)), flush)
        };
        if flush {
            self.spawn_ctrl_flush();
        }
        match drained {
            Err(e) => {
                self.state = ReadState::Failed;
                Err(e)
            }
            Ok((appended, peer_closed)) => {
                if peer_closed {
                    self.state = ReadState::PeerClosed;
                }
                Ok((appended > 0 || peer_closed).then_some(appended))
            }
        }
    }

    /// Sends the records the reader produced. A task of its own, because the writer may be
    /// holding the send lock while blocked on a full socket, and the reader must keep reading
    /// meanwhile (or both peers could wait on each other).
    fn spawn_ctrl_flush(&self) {
        let (shared, send) = (self.shared.clone(), self.send.clone());
        compio::runtime::spawn(async move {
            let mut send = send.lock().await;
            if send.broken() {
                return;
            }
            let records = {
                let mut sh = shared.borrow_mut();
                sh.flush_queued = false;
                std::mem::take(&mut sh.ctrl)
            };
            if !records.is_empty() {
                send.out.append(&records);
                // Best effort: these are alerts of a connection that is failing anyway.
                let _ = send.send().await;
            }
        })
        // Dropping a compio JoinHandle cancels its task.
        .detach();
    }
}

/// Gives the writer a copy of the ciphertext tail that rustls left in `inb`, by swapping
/// buffers: the current buffer (with its `start` at the tail) becomes the shadow, and the
/// reader continues in `spare` holding a copy of the tail at offset 0. The copy replaces the
/// compaction the next read would otherwise do.
fn publish_tail(inb: &mut InBuf, spare: &mut InBuf, shadow: &mut InBuf) {
    if inb.is_empty() {
        inb.clear();
        shadow.clear();
        return;
    }
    spare.set_to(inb.data());
    std::mem::swap(shadow, inb);
    std::mem::swap(inb, spare);
}
