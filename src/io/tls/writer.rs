//! The sending half: encrypts chunks into an owned buffer and sends it, pipelining zero-copy
//! sends on io_uring.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;
use compio::buf::{BufResult, IntoInner};
use compio::io::{AsyncWriteExt, AsyncWriteZerocopy};
use compio::net::TcpStream;
use futures_util::lock::Mutex;
use rustls::unbuffered::WriteTraffic;

use super::buf::OutBuf;
use super::engine::{with_conn, with_write_traffic};
use super::{Shared, TlsIoError};

/// Largest plaintext of one TLS record.
const MAX_PLAINTEXT: usize = 16 * 1024;
/// Chunks shorter than this are gathered (copied) into one record with their neighbours
/// instead of each becoming a record (see the copy count in `mod.rs`).
const SMALL_CHUNK: usize = 2 * 1024;
/// Ciphertext collected before a send. Large sends mean few syscalls; with zero-copy sends two
/// of these are pinned per connection (one sending, one being filled).
const BATCH: usize = 256 * 1024;
/// Smallest send worth `SEND_ZC`: below it, page pinning and the extra completion cost more
/// than the copy they save.
const ZEROCOPY_MIN: usize = 64 * 1024;
/// Send-buffer size: a batch may overshoot by one record group.
const OUT_CAPACITY: usize = BATCH + 2 * MAX_PLAINTEXT;

/// A send buffer that the kernel still references after a zero-copy send; resolves to the
/// buffer when the kernel has released its pages.
type Returning = Pin<Box<dyn Future<Output = Vec<u8>>>>;

/// The socket's sending side and its buffers; behind an async mutex so that records go out
/// in the order they were encrypted, whichever task sends them.
pub(super) struct SendSide {
    sock: TcpStream,
    pub(super) out: OutBuf,
    /// The other buffer, on its way back from a zero-copy send.
    returning: Option<Returning>,
    zerocopy: bool,
    /// A send is in flight. Still set when the next operation starts means the previous one's
    /// future was dropped mid-send: part of a record may be on the wire, the stream is broken.
    busy: bool,
}

impl SendSide {
    pub(super) fn shared(sock: TcpStream, zerocopy: bool) -> Rc<Mutex<SendSide>> {
        Rc::new(Mutex::new(SendSide {
            sock,
            out: OutBuf::new(OUT_CAPACITY),
            returning: None,
            zerocopy,
            busy: false,
        }))
    }

    /// Whether an earlier send was abandoned mid-way (see `busy`).
    pub(super) fn broken(&self) -> bool {
        self.busy
    }

    /// Sends `out[..used]` and empties it.
    pub(super) async fn send(&mut self) -> std::io::Result<()> {
        if self.out.used == 0 {
            return Ok(());
        }
        self.busy = true;
        let sent = if self.zerocopy && self.out.used >= ZEROCOPY_MIN {
            self.send_zerocopy().await
        } else {
            self.out.flush(&mut self.sock).await
        };
        self.busy = false;
        sent
    }

    /// `SEND_ZC`, pipelined: once the kernel has queued the whole buffer, keep its release
    /// pending and continue with the other buffer, so the next batch is encrypted while the
    /// kernel still holds this one.
    async fn send_zerocopy(&mut self) -> std::io::Result<()> {
        let used = std::mem::replace(&mut self.out.used, 0);
        let mut buf = std::mem::take(&mut self.out.buf);
        let mut off = 0;
        loop {
            // By path: `IoBuf` in scope would shadow `Vec`'s inherent methods.
            let slice = compio::buf::IoBuf::slice(buf, off..used);
            let BufResult(res, ready) = self.sock.write_zerocopy(slice).await;
            match res {
                Ok(n) if n > 0 && off + n >= used => {
                    // Everything is queued in the kernel: the stream is consistent even if this
                    // future is dropped while waiting for the other buffer below (the empty
                    // buffer left behind then simply grows again).
                    self.busy = false;
                    let returning: Returning = Box::pin(async move { ready.await.into_inner() });
                    self.out.buf = match self.returning.replace(returning) {
                        Some(previous) => previous.await,
                        None => vec![0; OUT_CAPACITY],
                    };
                    return Ok(());
                }
                // Partial send: the buffer is the kernel's until released; then send the rest.
                Ok(n) if n > 0 => {
                    off += n;
                    buf = ready.await.into_inner();
                }
                Ok(_) => {
                    self.out.buf = ready.await.into_inner();
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                Err(e) => {
                    buf = ready.await.into_inner();
                    // Kernels before 6.0 lack SEND_ZC (EINVAL); pinning can hit the memlock or
                    // optmem limits (ENOBUFS, ENOMEM). Plain sends still work.
                    let fallback = matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL | libc::EOPNOTSUPP | libc::ENOBUFS | libc::ENOMEM)
                    );
                    if !fallback {
                        self.out.buf = buf;
                        return Err(e);
                    }
                    tracing::debug!("zero-copy send unavailable ({e}); using plain sends");
                    self.zerocopy = false;
                    let BufResult(res, slice) = self
                        .sock
                        .write_all(compio::buf::IoBuf::slice(buf, off..used))
                        .await;
                    self.out.buf = slice.into_inner();
                    return res;
                }
            }
        }
    }

    /// Waits until the kernel has released the buffer of the last zero-copy send.
    async fn settle(&mut self) {
        if let Some(returning) = self.returning.take() {
            drop(returning.await);
        }
    }
}

/// Position in the caller's chunk list.
#[derive(Default)]
struct Cursor {
    chunk: usize,
    off: usize,
}

/// Encrypts chunks from `cur` on until about [`BATCH`] bytes of records are in `out` or the
/// chunks run out. Small chunks are gathered in `stage` to share a record; large ones are
/// encrypted from their own memory, cut at record boundaries when a batch ends inside one.
fn fill<D>(
    w: &mut WriteTraffic<'_, D>,
    out: &mut OutBuf,
    stage: &mut Vec<u8>,
    chunks: &[Bytes],
    cur: &mut Cursor,
) -> Result<(), TlsIoError> {
    while out.used < BATCH {
        let Some(chunk) = chunks.get(cur.chunk) else {
            break;
        };
        let rest = chunk.get(cur.off..).unwrap_or_default();
        if rest.is_empty() {
            *cur = Cursor {
                chunk: cur.chunk + 1,
                off: 0,
            };
            continue;
        }
        if rest.len() < SMALL_CHUNK {
            if stage.len() + rest.len() > MAX_PLAINTEXT {
                out.encrypt(w, stage)?;
                stage.clear();
            }
            stage.extend_from_slice(rest);
            *cur = Cursor {
                chunk: cur.chunk + 1,
                off: 0,
            };
            continue;
        }
        if !stage.is_empty() {
            out.encrypt(w, stage)?;
            stage.clear();
            // The staged records may have filled the batch: look again before measuring
            // the room left (an overfull batch has none, and `BATCH - used` would underflow).
            continue;
        }
        let room = BATCH - out.used;
        let take = if rest.len() <= room {
            rest.len()
        } else {
            ((room / MAX_PLAINTEXT).max(1) * MAX_PLAINTEXT).min(rest.len())
        };
        out.encrypt(w, &rest[..take])?;
        cur.off += take;
    }
    if cur.chunk >= chunks.len() && !stage.is_empty() {
        out.encrypt(w, stage)?;
        stage.clear();
    }
    Ok(())
}

/// The sending half of a TLS connection.
pub struct TlsWriter {
    shared: Rc<RefCell<Shared>>,
    send: Rc<Mutex<SendSide>>,
    /// Small chunks waiting to share a record; always empty between calls.
    stage: Vec<u8>,
    closed: bool,
}

/// What to do with the connection once it is at `WriteTraffic`.
enum Op<'a> {
    Write(&'a [Bytes], &'a mut Vec<u8>, &'a mut Cursor),
    UpdateKeys,
    /// Only encode what rustls has queued (the KeyUpdate after `UpdateKeys`).
    Flush,
    CloseNotify,
}

impl TlsWriter {
    pub(super) fn new(shared: Rc<RefCell<Shared>>, send: Rc<Mutex<SendSide>>) -> Self {
        TlsWriter {
            shared,
            send,
            stage: Vec::with_capacity(MAX_PLAINTEXT),
            closed: false,
        }
    }

    /// Encrypts `chunks` in order and sends them; returns when everything has been handed to
    /// the kernel. Small chunks are coalesced into records of up to 16 KiB of plaintext.
    ///
    /// On io_uring, batches of 64 KiB or more go out with zero-copy sends, pipelined: the
    /// next batch is encrypted into a second buffer while the kernel holds the first.
    ///
    /// Not cancel safe: dropping the future mid-send can leave part of a record on the wire;
    /// every later call then returns [`TlsIoError::Cancelled`].
    pub async fn write(&mut self, chunks: &[Bytes]) -> Result<(), TlsIoError> {
        let mut cur = Cursor::default();
        let mut stage = std::mem::take(&mut self.stage);
        let result = self.run(Op::Write(chunks, &mut stage, &mut cur)).await;
        stage.clear();
        self.stage = stage;
        result
    }

    /// Renews our sending keys and asks the peer to renew its own (a TLS 1.3 KeyUpdate with
    /// `update_requested`), sending the request at once. Long-lived tunnels can call this
    /// periodically; rustls also renews keys by itself before they wear out.
    pub async fn update_keys(&mut self) -> Result<(), TlsIoError> {
        self.run(Op::UpdateKeys).await
    }

    /// Sends close_notify, then shuts the socket's write side (TCP FIN). Later calls on the
    /// writer return [`TlsIoError::Closed`]; `close` itself may be called again harmlessly.
    /// The reader keeps working until the peer closes its side.
    pub async fn close(&mut self) -> Result<(), TlsIoError> {
        if self.closed {
            return Ok(());
        }
        let notified = self.run(Op::CloseNotify).await;
        self.closed = true;
        let mut send = self.send.lock().await;
        send.settle().await;
        let shut = super::super::shutdown_write(&send.sock);
        match notified {
            // Already failed, broken or fully closed: no close_notify, but still send the FIN.
            Ok(()) | Err(TlsIoError::Closed | TlsIoError::Cancelled) => {
                shut.map_err(TlsIoError::Io)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs `op` under the send lock: encrypt (with the shared state borrowed, no `.await`),
    /// then send; repeat until `op` is done.
    async fn run(&mut self, mut op: Op<'_>) -> Result<(), TlsIoError> {
        if self.closed {
            return Err(TlsIoError::Closed);
        }
        let mut send = self.send.lock().await;
        if send.broken() {
            self.closed = true;
            return Err(TlsIoError::Cancelled);
        }
        loop {
            let step = {
                let mut guard = self.shared.borrow_mut();
                let sh = &mut *guard;
                if sh.failed {
                    Err(TlsIoError::Closed)
                } else {
                    // Records the reader owes the peer were encrypted before anything we
                    // encrypt now, so they go first.
                    if !sh.ctrl.is_empty() {
                        send.out.append(&sh.ctrl);
                        sh.ctrl.clear();
                    }
                    let out = &mut send.out;
                    let op = &mut op;
                    let r = with_conn!(&mut sh.conn, c => with_write_traffic(
                        c,
                        &mut sh.shadow,
                        out,
                        &mut sh.peer_closed,
                        |mut w, out| match op {
                            Op::Write(chunks, stage, cur) => {
                                fill(&mut w, out, stage, chunks, cur)?;
                                Ok(cur.chunk < chunks.len())
                            }
                            Op::UpdateKeys => {
                                w.refresh_traffic_keys().map_err(TlsIoError::from_rustls)?;
                                // The KeyUpdate is queued in rustls; one more round encodes it.
                                Ok(true)
                            }
                            Op::Flush => Ok(false),
                            Op::CloseNotify => out.close_notify(&mut w).map(|()| false),
                        },
                    ));
                    match r {
                        // Both sides have closed: nothing may be sent any more.
                        Ok(None) => Err(TlsIoError::Closed),
                        Ok(Some(more)) => Ok(more),
                        Err(e) => {
                            sh.failed = true;
                            Err(e)
                        }
                    }
                }
            };
            let more = match step {
                Ok(more) => more,
                Err(e) => {
                    self.closed = true;
                    return Err(e);
                }
            };
            if let Err(e) = send.send().await {
                self.closed = true;
                return Err(TlsIoError::Io(e));
            }
            if !more {
                return Ok(());
            }
            if let Op::UpdateKeys = op {
                op = Op::Flush;
            }
        }
    }
}
