//! A tapped transport (records writes, can hold reads back) and a frame splitter for what it
//! recorded.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};

/// Shared state of a [`Wire`].
#[derive(Default)]
struct WireState {
    reads_paused: bool,
    read_waker: Option<std::task::Waker>,
    written: BytesMut,
}

/// Controls a [`Wire`]: pause its reads, look at what was written through it.
#[derive(Clone, Default)]
pub struct WireControl(std::sync::Arc<std::sync::Mutex<WireState>>);

impl WireControl {
    /// Reads block until [`resume_reads`](Self::resume_reads).
    pub fn pause_reads(&self) {
        self.0.lock().unwrap().reads_paused = true;
    }

    /// Lets reads proceed.
    pub fn resume_reads(&self) {
        let mut st = self.0.lock().unwrap();
        st.reads_paused = false;
        if let Some(w) = st.read_waker.take() {
            w.wake();
        }
    }

    /// Every byte written through the wire so far.
    pub fn written(&self) -> Bytes {
        Bytes::copy_from_slice(&self.0.lock().unwrap().written)
    }
}

/// A transport wrapper for tests: records what is written and can hold reads back, to
/// order events across the two ends deterministically.
pub struct Wire<IO> {
    inner: IO,
    control: WireControl,
}

impl<IO> Wire<IO> {
    /// Wraps `inner`.
    pub fn new(inner: IO) -> (Wire<IO>, WireControl) {
        let control = WireControl::default();
        (
            Wire {
                inner,
                control: control.clone(),
            },
            control,
        )
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Wire<IO> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        {
            let mut st = self.control.0.lock().unwrap();
            if st.reads_paused {
                st.read_waker = Some(cx.waker().clone());
                return std::task::Poll::Pending;
            }
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Wire<IO> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            self.control
                .0
                .lock()
                .unwrap()
                .written
                .extend_from_slice(&buf[..*n]);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Splits a recorded byte stream into frames (skipping the client preface if present).
pub fn frames(mut wire: Bytes) -> Vec<sallyport::proto::frame::Frame> {
    use sallyport::proto::frame::{Frame, FrameHeader, HEADER_LEN, PREFACE};
    if wire.starts_with(PREFACE) {
        wire.advance(PREFACE.len());
    }
    let mut out = Vec::new();
    while let Some(h) = FrameHeader::parse(&wire) {
        let total = HEADER_LEN + h.length as usize;
        if wire.len() < total {
            break;
        }
        wire.advance(HEADER_LEN);
        let payload = wire.split_to(h.length as usize);
        out.push(Frame::decode(h, payload).expect("we wrote a frame that does not decode"));
    }
    out
}
