//! What a tunnel runs over: a byte stream split into a reading and a writing half.
//!
//! In production that is TLS ([`crate::io::tls`]); plain TCP serves tests and benchmarks
//! that want the tunnel without encryption.

use bytes::{Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use std::future::Future;
use std::io;

/// A byte transport that can be split for concurrent reading and writing on one thread.
pub trait Transport {
    /// The reading half.
    type Read: TransportRead;
    /// The writing half.
    type Write: TransportWrite;
    /// Splits the transport.
    fn split(self) -> (Self::Read, Self::Write);
}

/// Reading half.
pub trait TransportRead {
    /// Appends what arrives to `dst` (into its spare capacity); `Ok(0)` at a clean end.
    fn read(&mut self, dst: &mut BytesMut) -> impl Future<Output = io::Result<usize>>;
}

/// Writing half.
pub trait TransportWrite {
    /// Writes every chunk, in order.
    fn write(&mut self, chunks: &[Bytes]) -> impl Future<Output = io::Result<()>>;
    /// Ends the writing direction (errors are of no use any more and are ignored).
    fn close(&mut self) -> impl Future<Output = ()>;
}

/// Plain TCP.
pub struct TcpTransport(pub TcpStream);

/// Reading half of [`TcpTransport`].
pub struct TcpRead(TcpStream);
/// Writing half of [`TcpTransport`].
pub struct TcpWrite(TcpStream);

impl Transport for TcpTransport {
    type Read = TcpRead;
    type Write = TcpWrite;
    fn split(self) -> (TcpRead, TcpWrite) {
        let (r, w) = self.0.into_split();
        (TcpRead(r), TcpWrite(w))
    }
}

impl TransportRead for TcpRead {
    async fn read(&mut self, dst: &mut BytesMut) -> io::Result<usize> {
        // compio takes the buffer by value and hands it back; `append` fills the spare
        // capacity behind what is already there.
        let buf = std::mem::take(dst);
        let BufResult(res, buf) = self.0.append(buf).await;
        *dst = buf;
        res
    }
}

impl TcpRead {
    /// Waits until the socket has something to read, lending no buffer (see
    /// [`crate::io::readable`]).
    pub async fn readable(&self) -> io::Result<()> {
        crate::io::readable(&self.0).await
    }
}

impl TransportWrite for TcpWrite {
    async fn write(&mut self, chunks: &[Bytes]) -> io::Result<()> {
        // Reference-count clones of the chunks, not copies of their bytes: one sendmsg.
        let BufResult(res, _) = self.0.write_vectored_all(chunks.to_vec()).await;
        res
    }

    async fn close(&mut self) {
        let _ = crate::io::shutdown_write(&self.0);
    }
}

/// TLS ([`crate::io::tls`]): the production transport.
pub struct TlsTransport(pub crate::io::tls::TlsReader, pub crate::io::tls::TlsWriter);

impl Transport for TlsTransport {
    type Read = crate::io::tls::TlsReader;
    type Write = crate::io::tls::TlsWriter;
    fn split(self) -> (Self::Read, Self::Write) {
        (self.0, self.1)
    }
}

impl TransportRead for crate::io::tls::TlsReader {
    async fn read(&mut self, dst: &mut BytesMut) -> io::Result<usize> {
        crate::io::tls::TlsReader::read(self, dst)
            .await
            .map_err(io::Error::other)
    }
}

impl TransportWrite for crate::io::tls::TlsWriter {
    async fn write(&mut self, chunks: &[Bytes]) -> io::Result<()> {
        crate::io::tls::TlsWriter::write(self, chunks)
            .await
            .map_err(io::Error::other)
    }

    async fn close(&mut self) {
        let _ = crate::io::tls::TlsWriter::close(self).await;
    }
}
