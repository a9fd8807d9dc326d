//! HTTP/1.1 bodies between a proxy-door client and its tunnel stream: the request body into
//! the stream, then the response head and body back, with the idle limit on both bodies.

use super::front::Client;
use super::stream::{Outbound, StreamEvents, StreamSender};
use super::RelayConfig;
use crate::io::idle::{within, IdleDeadline};
use crate::proto::http1::{self, BodyKind, ChunkedDecoder, ChunkedItem, RequestHead};
use crate::tunnel::StreamEvent;
use bytes::{Bytes, BytesMut};

/// Client → tunnel: sends the request body into the stream, touching `idle` at each read from
/// the client. Returns true when the whole body was read and handed over.
pub(super) async fn upload(
    c: &mut Client,
    head: &RequestHead,
    to: &mut StreamSender,
    idle: &IdleDeadline,
) -> bool {
    match head.body {
        BodyKind::Length(mut left) => {
            while left > 0 {
                if c.buf.is_empty() && !matches!(c.fill().await, Ok(n) if n > 0) {
                    let _ = to.send(Outbound::Reset(crate::proto::Reason::CANCEL)).await;
                    return false;
                }
                idle.touch();
                let n = (c.buf.len() as u64).min(left) as usize;
                left -= n as u64;
                let chunk = c.buf.split_to(n).freeze();
                if to.send(Outbound::Data(chunk, left == 0)).await.is_err() {
                    return false;
                }
            }
            true
        }
        BodyKind::Chunked => {
            let mut dec = ChunkedDecoder::new();
            loop {
                match dec.decode(&mut c.buf) {
                    Ok(Some(ChunkedItem::Data(d))) => {
                        if to.send(Outbound::Data(d, false)).await.is_err() {
                            return false;
                        }
                    }
                    Ok(Some(ChunkedItem::End(_))) => {
                        return to.send(Outbound::Data(Bytes::new(), true)).await.is_ok();
                    }
                    Ok(None) => {
                        if !matches!(c.fill().await, Ok(n) if n > 0) {
                            let _ = to.send(Outbound::Reset(crate::proto::Reason::CANCEL)).await;
                            return false;
                        }
                        idle.touch();
                    }
                    Err(_) => {
                        let _ = to.send(Outbound::Reset(crate::proto::Reason::CANCEL)).await;
                        return false;
                    }
                }
            }
        }
        _ => true,
    }
}

/// Tunnel → client. Returns true when a complete response was written.
pub(super) async fn download(
    c: &mut Client,
    cfg: &RelayConfig,
    events: &mut StreamEvents,
    head_only: bool,
) -> bool {
    match await_response(c, cfg, events).await {
        Some((resp, end)) => write_response(c, cfg, resp, end, events, head_only).await,
        None => false,
    }
}

/// The final response head from the tunnel (interim heads skipped), and whether the stream
/// ended with it. `None` once the client has been told why there is none (502, 504).
pub(super) async fn await_response(
    c: &mut Client,
    cfg: &RelayConfig,
    events: &mut StreamEvents,
) -> Option<(crate::proto::h2::ResponseHead, bool)> {
    let answer = loop {
        match compio::time::timeout(cfg.response_timeout, events.next()).await {
            Err(_) => {
                let t = cfg.response_timeout;
                c.fail(
                    504,
                    &format!("no response through the tunnel within {t:?}\n"),
                )
                .await;
                return None;
            }
            Ok(Some(StreamEvent::Response { head, end_stream })) => {
                if head.is_informational() {
                    continue;
                }
                break (head, end_stream);
            }
            Ok(Some(StreamEvent::Reset(r))) => {
                c.fail(502, &format!("the connector reset the request ({r})\n"))
                    .await;
                return None;
            }
            Ok(other) => {
                let why = match other {
                    Some(StreamEvent::TunnelClosed(e)) => e.to_string(),
                    _ => "stream ended without a response".to_string(),
                };
                c.fail(502, &format!("tunnel failed: {why}\n")).await;
                return None;
            }
        }
    };
    Some(answer)
}

/// Writes a response from the tunnel to the client in HTTP/1.1, body included. Returns true
/// when it was complete.
pub(super) async fn write_response(
    c: &mut Client,
    cfg: &RelayConfig,
    resp: crate::proto::h2::ResponseHead,
    end: bool,
    events: &mut StreamEvents,
    head_only: bool,
) -> bool {
    let body = if end || head_only {
        resp.content_length()
            .filter(|_| head_only)
            .map_or(BodyKind::Length(0), |_| BodyKind::Empty)
    } else {
        resp.content_length()
            .map_or(BodyKind::Chunked, BodyKind::Length)
    };
    let mut out = BytesMut::with_capacity(512);
    let fields = resp.fields.iter().map(|f| (&f.name[..], &f.value[..]));
    if http1::write_response_head(resp.status, b"", fields, body, &mut out).is_err() {
        c.fail(
            502,
            "the backend's response cannot be expressed in HTTP/1.1\n",
        )
        .await;
        return false;
    }
    if !c.send(out.freeze()).await {
        return false;
    }
    if end {
        return true;
    }
    let chunked = body == BodyKind::Chunked;
    // A body that stalls for the idle limit ends the response: mid-body, closing the
    // connection is the only honest signal HTTP/1.1 has.
    let idle = IdleDeadline::new(cfg.idle_timeout);
    let body = within(&idle, async {
        while let Some(ev) = events.next().await {
            idle.touch();
            match ev {
                StreamEvent::Data { data, end_stream } => {
                    let mut chunks = Vec::with_capacity(4);
                    if chunked && !data.is_empty() {
                        let mut h = BytesMut::with_capacity(16);
                        http1::chunk_header(data.len(), &mut h);
                        chunks.extend([h.freeze(), data, Bytes::from_static(b"\r\n")]);
                    } else if !data.is_empty() {
                        chunks.push(data);
                    }
                    if end_stream && chunked {
                        chunks.push(Bytes::from_static(b"0\r\n\r\n"));
                    }
                    if !chunks.is_empty() && !c.send_all(chunks).await {
                        return false;
                    }
                    if end_stream {
                        return true;
                    }
                }
                StreamEvent::Trailers(_) => {
                    return !chunked || c.send(Bytes::from_static(b"0\r\n\r\n")).await;
                }
                // Mid-body failure: the only honest signal left in HTTP/1.1 is closing.
                _ => return false,
            }
        }
        false
    });
    match body.await {
        Some(complete) => complete,
        None => {
            tracing::info!(peer = %c.peer, "response body stalled: no byte for {:?}; closing", cfg.idle_timeout);
            false
        }
    }
}
