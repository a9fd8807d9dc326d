//! Ciphertext buffers for the unbuffered rustls API.

use compio::buf::{BufResult, IntoInner};
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use rustls::unbuffered::{
    EncodeError, EncodeTlsData, EncryptError, InsufficientSizeError, WriteTraffic,
};

use super::error::TlsIoError;

/// Spare room reserved before every socket read. Large reads mean few syscalls; the tunnel has
/// few connections, so the memory (three such buffers per reader, see `reader.rs`) is cheap.
pub(super) const READ_RESERVE: usize = 256 * 1024;

/// Received ciphertext. The valid bytes are `buf[start..]`.
///
/// rustls reports how much to drop from the front after each record (`discard`). Dropping by
/// moving the rest forward each time would be quadratic; instead `start` advances, and the
/// tail (at most one partial record plus any partial handshake message) moves to the front
/// once per socket read.
#[derive(Default)]
pub(super) struct InBuf {
    buf: Vec<u8>,
    start: usize,
}

impl InBuf {
    pub(super) fn with_capacity(n: usize) -> Self {
        InBuf {
            buf: Vec::with_capacity(n),
            start: 0,
        }
    }

    /// The bytes rustls has not told us to discard yet.
    pub(super) fn data(&mut self) -> &mut [u8] {
        let s = self.start;
        &mut self.buf[s..]
    }

    pub(super) fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    /// Applies rustls' `discard`: drops `n` bytes from the front of [`InBuf::data`].
    pub(super) fn discard(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.clear();
        }
    }

    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    /// Makes this buffer hold a copy of `tail` only (capacity is kept).
    pub(super) fn set_to(&mut self, tail: &[u8]) {
        self.clear();
        self.buf.extend_from_slice(tail);
    }

    /// Reads more ciphertext after the valid bytes; returns the count, 0 at end of stream.
    pub(super) async fn read_more(&mut self, sock: &mut TcpStream) -> std::io::Result<usize> {
        if self.start > 0 {
            let len = self.buf.len();
            self.buf.copy_within(self.start..len, 0);
            self.buf.truncate(len - self.start);
            self.start = 0;
        }
        // `append` reads into the spare capacity. With none it submits a zero-length read whose
        // Ok(0) looks exactly like end of stream, so room must be reserved first.
        self.buf.reserve(READ_RESERVE);
        let BufResult(res, b) = sock.append(std::mem::take(&mut self.buf)).await;
        self.buf = b;
        res
    }
}

/// Ciphertext to send.
///
/// rustls writes records into a `&mut [u8]`, which must be initialised memory. The vector is
/// kept zero-filled up to its full length once, and `used` counts the bytes that are records,
/// so no call has to clear or fill memory again.
pub(super) struct OutBuf {
    pub(super) buf: Vec<u8>,
    pub(super) used: usize,
}

impl OutBuf {
    pub(super) fn new(capacity: usize) -> Self {
        OutBuf {
            buf: vec![0; capacity],
            used: 0,
        }
    }

    fn spare(&mut self) -> &mut [u8] {
        let u = self.used;
        &mut self.buf[u..]
    }

    /// rustls reported that the records need `required_size` bytes.
    fn grow_for(&mut self, e: InsufficientSizeError) {
        let need = self.used + e.required_size;
        self.buf.resize(need.max(self.buf.len() * 2), 0);
    }

    /// Writes a record rustls prepared (handshake message, alert, key update).
    pub(super) fn encode<D>(&mut self, s: &mut EncodeTlsData<'_, D>) -> Result<(), TlsIoError> {
        loop {
            match s.encode(self.spare()) {
                Ok(n) => {
                    self.used += n;
                    return Ok(());
                }
                Err(EncodeError::InsufficientSize(e)) => self.grow_for(e),
                // Already written by an earlier call: nothing left to do.
                Err(EncodeError::AlreadyEncoded) => return Ok(()),
            }
        }
    }

    /// Encrypts `plain` into records of at most 16 KiB of plaintext each.
    pub(super) fn encrypt<D>(
        &mut self,
        w: &mut WriteTraffic<'_, D>,
        plain: &[u8],
    ) -> Result<(), TlsIoError> {
        loop {
            match w.encrypt(plain, self.spare()) {
                Ok(n) => {
                    self.used += n;
                    return Ok(());
                }
                Err(EncryptError::InsufficientSize(e)) => self.grow_for(e),
                Err(EncryptError::EncryptExhausted) => return Err(TlsIoError::KeysExhausted),
            }
        }
    }

    /// Writes a close_notify alert.
    pub(super) fn close_notify<D>(
        &mut self,
        w: &mut WriteTraffic<'_, D>,
    ) -> Result<(), TlsIoError> {
        loop {
            match w.queue_close_notify(self.spare()) {
                Ok(n) => {
                    self.used += n;
                    return Ok(());
                }
                Err(EncryptError::InsufficientSize(e)) => self.grow_for(e),
                Err(EncryptError::EncryptExhausted) => return Err(TlsIoError::KeysExhausted),
            }
        }
    }

    /// Appends records that were encoded elsewhere (the reader's control records).
    pub(super) fn append(&mut self, records: &[u8]) {
        let end = self.used + records.len();
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.buf[self.used..end].copy_from_slice(records);
        self.used = end;
    }

    /// Sends everything with plain `send`s (`write_all`).
    pub(super) async fn flush(&mut self, sock: &mut TcpStream) -> std::io::Result<()> {
        if self.used == 0 {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        // Called by path: with `IoBuf` imported, its `slice`/`is_empty` would shadow the
        // inherent methods of `Vec` elsewhere in this file.
        let BufResult(res, slice) = sock
            .write_all(compio::buf::IoBuf::slice(buf, ..self.used))
            .await;
        self.buf = slice.into_inner();
        self.used = 0;
        res
    }
}

/// Encodes a record rustls prepared into a plain growing vector (the reader's control records,
/// which are rare and small).
pub(super) fn encode_into_vec<D>(s: &mut EncodeTlsData<'_, D>, out: &mut Vec<u8>) {
    let start = out.len();
    let mut want = 512;
    loop {
        out.resize(start + want, 0);
        match s.encode(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return;
            }
            Err(EncodeError::InsufficientSize(e)) => want = e.required_size.max(want * 2),
            Err(EncodeError::AlreadyEncoded) => {
                out.truncate(start);
                return;
            }
        }
    }
}
