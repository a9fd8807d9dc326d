//! WebSocket streams: an extended CONNECT with `:protocol websocket` (RFC 8441) becomes the
//! HTTP/1.1 upgrade handshake of RFC 6455 towards the backend; after `101` the stream and
//! the backend connection carry the WebSocket frames both ways, untouched.
//!
//! ```text
//! relay ── CONNECT :protocol websocket :path /chat ──► connector ── GET /chat Upgrade ──► backend
//! relay ◄──────────── 200 sec-websocket-accept ────── connector ◄── 101 ───────────────── backend
//!       ◄═══════════════════ frames, spliced like a CONNECT tunnel ═══════════════════►
//! ```
//!
//! The policy has already decided (the resource's `websocket` flag); this only translates.
//! Any answer other than `101` goes back as an ordinary response with its body, and the
//! backend connection is never pooled (it was asked to switch protocols).

use super::forward::{
    answer, backend_fields, connect, relay_response, BackendConn, Context, READ_CHUNK,
};
use crate::policy::Admitted;
use crate::proto::h2::{RequestHead, ResponseHead};
use crate::proto::hpack::Field;
use crate::proto::http1::{self, BodyKind, Limits, Method};
use crate::tunnel::StreamHandle;
use bytes::{Buf, Bytes, BytesMut};

/// How the backend answered the upgrade request.
enum Handshake {
    /// `101` naming `websocket`: the head, and the frames that followed it in the same read.
    Switched(http1::ResponseHead, BytesMut),
    /// A final status: `buf` still holds its head (and whatever of the body arrived).
    Refused(BytesMut),
    /// Nothing usable; the stream has been answered already.
    Failed,
}

/// Performs the backend handshake of an admitted WebSocket stream and answers the stream;
/// once accepted, the backend connection and the frames that came with its `101`, for the
/// caller to splice. `None` when the stream got another answer.
pub(super) async fn forward(
    ctx: &Context,
    stream: &StreamHandle,
    head: RequestHead,
    end_stream: bool,
    admitted: &Admitted,
) -> Option<(BackendConn, BytesMut)> {
    if end_stream {
        // RFC 8441 §4: the stream stays open for the frames; END_STREAM on the head is a
        // client that will never send any.
        let text = "a websocket stream must stay open after its head (END_STREAM set)\n";
        answer(stream, 400, text).await;
        return None;
    }
    let Some(path) = admitted.path() else {
        answer(stream, 500, "admitted without a path\n").await;
        return None;
    };
    // The handshake as RFC 6455 §4.1 has it; the `sec-websocket-*` fields travel as the
    // client sent them (the backend computes the accept value from the key).
    let upgrade = [
        (
            Bytes::from_static(b"upgrade"),
            Bytes::from_static(b"websocket"),
        ),
        (
            Bytes::from_static(b"connection"),
            Bytes::from_static(b"Upgrade"),
        ),
    ];
    let fields = backend_fields(&head, admitted).chain(upgrade);
    let host = admitted.host_header();
    let mut out = BytesMut::with_capacity(1024);
    if let Err(e) = http1::write_request_head(
        &Method::Get,
        path.raw(),
        &host,
        fields,
        BodyKind::Empty,
        &mut out,
    ) {
        answer(stream, 400, &format!("request cannot be forwarded: {e}\n")).await;
        return None;
    }
    // Only a request that can be written opens a backend connection.
    let mut backend = match connect(ctx, admitted).await {
        Ok(b) => b,
        Err(e) => {
            answer(stream, 502, &format!("backend unreachable: {e}\n")).await;
            return None;
        }
    };
    if let Err(e) = backend.wr.write(&[out.freeze()]).await {
        answer(stream, 502, &format!("backend reset: {e}\n")).await;
        return None;
    }
    let deadline = ctx.timeouts.response;
    let handshake =
        match compio::time::timeout(deadline, read_handshake(stream, &mut backend)).await {
            Ok(h) => h,
            Err(_) => {
                let text =
                    format!("backend did not answer the websocket upgrade within {deadline:?}\n");
                answer(stream, 504, &text).await;
                return None;
            }
        };
    match handshake {
        Handshake::Switched(resp, early) => {
            stream.send_response(&accepted(&resp), false).ok()?;
            Some((backend, early))
        }
        Handshake::Refused(buf) => {
            relay_response(ctx, stream, backend, buf, admitted, None, false).await;
            None
        }
        Handshake::Failed => None,
    }
}

/// Reads up to the backend's answer to the upgrade, skipping interim `1xx` heads other
/// than `101`.
async fn read_handshake(stream: &StreamHandle, backend: &mut BackendConn) -> Handshake {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let limits = Limits::default();
    loop {
        match http1::parse_response(&buf, &limits, false) {
            Ok(Some((resp, used))) if resp.status == 101 => {
                if !names_websocket(resp.header("upgrade")) {
                    let text = "backend switched protocols, but not to websocket\n";
                    answer(stream, 502, text).await;
                    return Handshake::Failed;
                }
                buf.advance(used);
                return Handshake::Switched(resp, buf);
            }
            Ok(Some((resp, used))) if resp.is_informational() => buf.advance(used),
            Ok(Some(_)) => return Handshake::Refused(buf),
            Ok(None) => match backend.rd.read(&mut buf).await {
                Ok(0) => {
                    let text = "backend closed the connection without answering the upgrade\n";
                    answer(stream, 502, text).await;
                    return Handshake::Failed;
                }
                Ok(_) => {}
                Err(e) => {
                    answer(stream, 502, &format!("backend reset: {e}\n")).await;
                    return Handshake::Failed;
                }
            },
            Err(e) => {
                let text = format!("backend sent an invalid response: {e}\n");
                answer(stream, 502, &text).await;
                return Handshake::Failed;
            }
        }
    }
}

/// True if an `Upgrade` value lists the `websocket` token (any case).
fn names_websocket(value: Option<&Bytes>) -> bool {
    value.is_some_and(|v| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    })
}

/// The `200` that tells the relay the backend switched: the backend's end-to-end fields
/// (`sec-websocket-accept`, `-protocol`, `-extensions`, cookies), without the framing ones a
/// stream of frames has no use for.
fn accepted(resp: &http1::ResponseHead) -> ResponseHead {
    let mut head = ResponseHead::new(200);
    head.fields.extend(
        resp.end_to_end_headers()
            .filter(|(n, _)| &n[..] != b"content-length")
            .map(|(n, v)| Field {
                name: n.clone(),
                value: v.clone(),
                sensitive: false,
            }),
    );
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> http1::ResponseHead {
        http1::parse_response(raw.as_bytes(), &Limits::default(), false)
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn upgrade_values() {
        let v = |s: &'static str| Some(Bytes::from_static(s.as_bytes()));
        assert!(names_websocket(v("websocket").as_ref()));
        assert!(names_websocket(v("h2c, WebSocket ").as_ref()));
        assert!(!names_websocket(v("websocketx").as_ref()));
        assert!(!names_websocket(None));
    }

    #[test]
    fn the_200_carries_the_handshake_fields_only() {
        let resp = parse(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade, x-hop\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\
             x-hop: 1\r\nset-cookie: a=b\r\n\r\n",
        );
        let head = accepted(&resp);
        assert_eq!(head.status, 200);
        let names: Vec<&[u8]> = head.fields.iter().map(|f| &f.name[..]).collect();
        assert_eq!(
            names,
            [
                &b"sec-websocket-accept"[..],
                b"sec-websocket-protocol",
                b"set-cookie"
            ]
        );
    }
}
