//! CONNECT streams shared by both front doors: waiting for the connector's answer, then
//! moving bytes both ways between the client socket and the tunnel stream with half-close.

use super::stream::{Outbound, StreamEvents, TunnelStream};
use crate::io::idle::{drive, IdleDeadline, SpliceEnd};
use crate::tunnel::StreamEvent;
use bytes::{Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use std::time::Duration;

const READ_CHUNK: usize = 64 << 10;
/// At most this much of a refusal's text body is kept.
const MAX_REFUSAL_TEXT: usize = 4096;

/// A door socket that another thread duplicated ([`crate::io::duplicate_tcp`]) and moved
/// here, on this thread's runtime, as its reading and writing halves.
pub(super) fn adopt(sock: std::net::TcpStream) -> std::io::Result<(TcpStream, TcpStream)> {
    Ok(TcpStream::from_std(sock)?.into_split())
}

/// How the connector answered a CONNECT stream.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnectAnswer {
    /// 200: the backend connection is up; bytes may flow.
    Open,
    /// Another status, with the start of its text body (the connector says why).
    Refused {
        /// The status (403 no mapping, 502 backend unreachable, 504 backend timeout, ...).
        status: u16,
        /// Up to 4 KiB of the body.
        text: Vec<u8>,
    },
    /// No answer within the deadline.
    Timeout,
    /// The stream was reset or the tunnel closed before an answer.
    Failed,
}

/// Waits up to `timeout` for the connector's response head to a CONNECT.
pub async fn await_answer(events: &mut StreamEvents, timeout: Duration) -> ConnectAnswer {
    match compio::time::timeout(timeout, events.next()).await {
        Ok(Some(StreamEvent::Response { head, .. })) if head.status == 200 => ConnectAnswer::Open,
        Ok(Some(StreamEvent::Response { head, end_stream })) => {
            let mut text = Vec::new();
            if !end_stream {
                // The connector's answer is short and ends the stream; bound the wait anyway.
                let collect = async {
                    while let Some(StreamEvent::Data { data, end_stream }) = events.next().await {
                        let room = MAX_REFUSAL_TEXT.saturating_sub(text.len());
                        text.extend_from_slice(&data[..data.len().min(room)]);
                        if end_stream {
                            break;
                        }
                    }
                };
                let _ = compio::time::timeout(timeout, collect).await;
            }
            ConnectAnswer::Refused {
                status: head.status,
                text,
            }
        }
        Err(_) => ConnectAnswer::Timeout,
        Ok(_) => ConnectAnswer::Failed,
    }
}

/// Runs [`splice`] on a task of its own that owns the client socket, so that the door's task,
/// and everything it held to read, authenticate and route the request, ends now: a long quiet
/// splice then costs only its own state (DESIGN §7.2, idle memory). The socket closes when the
/// splice ends.
pub(super) fn spawn_splice(
    mut rd: TcpStream,
    mut wr: TcpStream,
    mut pending: BytesMut,
    stream: TunnelStream,
    idle_limit: Duration,
    peer: String,
) {
    compio::runtime::spawn(async move {
        splice(&mut rd, &mut wr, &mut pending, stream, idle_limit, &peer).await;
    })
    .detach();
}

/// Moves bytes between the client (`rd`/`wr`) and an open CONNECT stream until both
/// directions have ended, or until nothing has moved either way for `idle_limit`.
/// `pending` holds bytes the client sent ahead (they go first); `peer` names the client in
/// the log line of an idle close.
///
/// A clean half-close in one direction leaves the other running (TCP semantics); a failure
/// in either ends both, closing the client socket. Whatever ends the splice other than
/// cleanly resets the stream (CANCEL) towards the connector and its backend, even after the
/// client's half-close (`StreamSender::abandon`).
async fn splice(
    rd: &mut TcpStream,
    wr: &mut TcpStream,
    pending: &mut BytesMut,
    stream: TunnelStream,
    idle_limit: Duration,
    peer: &str,
) -> SpliceEnd {
    let TunnelStream {
        mut to_tunnel,
        mut events,
    } = stream;
    let idle = IdleDeadline::new(idle_limit);
    let end = drive(
        // Client → tunnel.
        std::pin::pin!(async {
            if !pending.is_empty() {
                let first = pending.split().freeze();
                if to_tunnel.send(Outbound::Data(first, false)).await.is_err() {
                    return false;
                }
            }
            // Whether the last read drained the socket: then wait for the next bytes without a
            // buffer, so a quiet client connection holds none (see `crate::io::readable`).
            let mut drained = true;
            loop {
                if drained {
                    *pending = BytesMut::new();
                    // On an error the read that follows reports it.
                    let _ = crate::io::readable(rd).await;
                }
                pending.reserve(READ_CHUNK);
                let room = pending.capacity() - pending.len();
                let b = std::mem::take(pending);
                let BufResult(r, b) = rd.append(b).await;
                *pending = b;
                match r {
                    Ok(0) => {
                        return to_tunnel
                            .send(Outbound::Data(Bytes::new(), true))
                            .await
                            .is_ok();
                    }
                    Ok(n) => {
                        drained = n < room;
                        idle.touch();
                        let chunk = pending.split().freeze();
                        if to_tunnel.send(Outbound::Data(chunk, false)).await.is_err() {
                            return false;
                        }
                    }
                    Err(_) => {
                        let _ = to_tunnel
                            .send(Outbound::Reset(crate::proto::Reason::CONNECT_ERROR))
                            .await;
                        return false;
                    }
                }
            }
        }),
        // Tunnel → client.
        std::pin::pin!(async {
            while let Some(ev) = events.next().await {
                match ev {
                    StreamEvent::Data { data, end_stream } => {
                        if !data.is_empty() {
                            idle.touch();
                            let BufResult(r, _) = wr.write_all(data).await;
                            if r.is_err() {
                                return false;
                            }
                        }
                        if end_stream {
                            let _ = crate::io::shutdown_write(wr);
                            return true;
                        }
                    }
                    _ => return false,
                }
            }
            false
        }),
        &idle,
    )
    .await;
    if end != SpliceEnd::Finished {
        // Dropping the halves resets only a stream whose request side is still open: after
        // the client's half-close the connector would keep its backend connection.
        to_tunnel.abandon();
    }
    if end == SpliceEnd::Idle {
        tracing::info!(%peer, "spliced stream closed: no byte either way for {idle_limit:?}");
    }
    end
}
