//! A stream through a tunnel as the front doors see it: the same two halves whether the
//! tunnel lives on the door connection's own thread or on another one.
//!
//! * **Local**: the tunnel runs on this thread. The halves call the [`StreamHandle`] directly:
//!   no channel, no extra task, no cross-thread wake-up. This is the common case (the relay
//!   spreads tunnels over its threads, and a door prefers a tunnel on its own thread), and it
//!   matters for latency: on the 2-vCPU machines we measure on, waking a thread on the other
//!   core costs ~25 µs, and a SOCKS5 connect + echo crossed threads four times.
//! * **Remote**: the tunnel runs on another thread. Bytes and events travel over two bounded
//!   channels to a bridge task on the tunnel's thread ([`super::registry`]); `Bytes` are moved,
//!   never copied.
//!
//! Both behave alike towards the tunnel: dropping the sending half before the request ended
//! resets the stream (CANCEL), a received chunk's flow-control window is given back once the
//! door has taken it, and dropping both halves of an unfinished stream resets it.

use crate::proto::Reason;
use crate::tunnel::{StreamEvent, StreamHandle};
use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::{SinkExt, StreamExt};
use std::rc::Rc;

/// What the front door sends towards the tunnel.
pub enum Outbound {
    /// Body bytes; `true` ends the request (or the TCP half-close for CONNECT).
    Data(Bytes, bool),
    /// Abandon the stream.
    Reset(Reason),
}

/// The stream is gone (reset, tunnel closed, or its bridge ended); nothing more can be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamGone;

/// A stream on some tunnel, as two halves that may be used by two tasks at once.
pub struct TunnelStream {
    /// Towards the tunnel.
    pub to_tunnel: StreamSender,
    /// From the tunnel.
    pub events: StreamEvents,
}

impl TunnelStream {
    /// A stream on a tunnel of this thread.
    pub(super) fn local(stream: StreamHandle) -> TunnelStream {
        let stream = Rc::new(stream);
        TunnelStream {
            to_tunnel: StreamSender(Sender::Local {
                stream: stream.clone(),
                ended: false,
            }),
            events: StreamEvents(Events::Local(stream)),
        }
    }

    /// A stream on another thread's tunnel, through the bridge's channels.
    pub(super) fn remote(
        to_tunnel: mpsc::Sender<Outbound>,
        events: mpsc::Receiver<StreamEvent>,
    ) -> TunnelStream {
        TunnelStream {
            to_tunnel: StreamSender(Sender::Remote(to_tunnel)),
            events: StreamEvents(Events::Remote(events)),
        }
    }

    /// Whether the tunnel runs on this thread (for tests and the latency breakdown).
    pub fn is_local(&self) -> bool {
        matches!(self.events.0, Events::Local(_))
    }
}

/// The sending half of a [`TunnelStream`].
pub struct StreamSender(Sender);

enum Sender {
    Local {
        stream: Rc<StreamHandle>,
        /// END_STREAM or a reset was sent: dropping the half changes nothing any more.
        ended: bool,
    },
    Remote(mpsc::Sender<Outbound>),
}

impl StreamSender {
    /// Sends body bytes or a reset, waiting while the stream's window (local) or the bridge's
    /// channel (remote) is full.
    pub async fn send(&mut self, out: Outbound) -> Result<(), StreamGone> {
        match &mut self.0 {
            Sender::Remote(tx) => tx.send(out).await.map_err(|_| StreamGone),
            Sender::Local { stream, ended } => match out {
                Outbound::Data(data, end) => {
                    if end {
                        *ended = true;
                    }
                    stream.send_data(data, end).await.map_err(|_| StreamGone)
                }
                Outbound::Reset(reason) => {
                    *ended = true;
                    stream.reset(reason);
                    Ok(())
                }
            },
        }
    }
}

impl StreamSender {
    /// Resets the stream (CANCEL) even after this side's END_STREAM: the door gave up on it
    /// (idle limit, client gone), so the connector must let go of its backend connection now
    /// rather than wait for bytes that nobody will read. A stream already closed both ways is
    /// left alone (a reset of it is no frame at all).
    ///
    /// Bridged, the reset goes through the channel if it has room; else the channel is
    /// closed, and the bridge resets once it has passed on what was queued before.
    pub fn abandon(&mut self) {
        match &mut self.0 {
            Sender::Local { stream, ended } => {
                *ended = true;
                stream.reset(Reason::CANCEL);
            }
            Sender::Remote(tx) => {
                let _ = tx.try_send(Outbound::Reset(Reason::CANCEL));
                tx.close_channel();
            }
        }
    }
}

impl Drop for StreamSender {
    fn drop(&mut self) {
        // As the bridge does when its channel closes: a request the door abandoned mid-way
        // must not leave the connector waiting for the rest.
        if let Sender::Local {
            stream,
            ended: false,
        } = &self.0
        {
            stream.reset(Reason::CANCEL);
        }
    }
}

/// The receiving half of a [`TunnelStream`].
pub struct StreamEvents(Events);

enum Events {
    Local(Rc<StreamHandle>),
    Remote(mpsc::Receiver<StreamEvent>),
}

impl StreamEvents {
    /// The next event from the connector; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<StreamEvent> {
        match &mut self.0 {
            Events::Remote(rx) => rx.next().await,
            Events::Local(stream) => {
                let ev = stream.next().await?;
                if let StreamEvent::Data { data, .. } = &ev {
                    // Handed to the door, which writes it before asking for more: the peer
                    // may send the next window's worth meanwhile.
                    stream.release(data.len());
                }
                Some(ev)
            }
        }
    }
}
