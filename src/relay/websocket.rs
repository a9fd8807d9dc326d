//! WebSocket through the HTTP proxy door: an RFC 6455 upgrade request
//! (`GET http://vhost/path` with `Upgrade: websocket`, `Connection: Upgrade`) travels as an
//! RFC 8441 extended CONNECT stream (`:protocol websocket`); the connector performs the
//! HTTP/1.1 handshake with the backend. Its `200` becomes `101 Switching Protocols` here,
//! and from then on the client socket and the stream carry the frames both ways, spliced
//! exactly like a CONNECT tunnel. Any other answer reaches the client as an ordinary
//! response (403 when the resource does not allow WebSocket, the backend's own refusal, ...).

use super::exchange::{await_response, write_response};
use super::front::{h2_fields, route, Client, Request};
use super::stream::TunnelStream;
use crate::proto::h2::RequestHead as H2Request;
use crate::proto::http1::{self, BodyKind, Method, RequestHead, Version};
use bytes::{Bytes, BytesMut};

/// True for a WebSocket opening handshake (RFC 6455 §4.1): an HTTP/1.1 `GET` whose `Upgrade`
/// names `websocket` and whose `Connection` names `upgrade`. Anything less is an ordinary
/// request (and its `Upgrade` is dropped as hop-by-hop).
pub(super) fn is_upgrade(head: &RequestHead) -> bool {
    head.method == Method::Get
        && head.version == Version::Http11
        && head.connection.iter().any(|t| &t[..] == b"upgrade")
        && head.header("upgrade").is_some_and(|v| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
        })
}

/// Forwards one WebSocket handshake; once the client has its `101`, returns the stream for
/// the caller to splice the frames over (the client connection is the splice's from then
/// on). `None` when the handshake failed and the client got its answer.
pub(super) async fn proxy(
    req: &Request<'_>,
    c: &mut Client,
    head: RequestHead,
    authority: Bytes,
    path: Bytes,
) -> Option<TunnelStream> {
    let cfg = req.cfg;
    if !head.body.is_empty() {
        let text =
            "a websocket handshake carries no body: drop Content-Length / Transfer-Encoding\n";
        c.fail(400, text).await;
        return None;
    }
    let h2 = H2Request {
        method: Bytes::from_static(b"CONNECT"),
        scheme: Some(Bytes::from_static(b"http")),
        authority: Some(authority),
        path: Some(path),
        protocol: Some(Bytes::from_static(b"websocket")),
        fields: h2_fields(&head, req.caller),
    };
    let mut stream = route(req, c, &head, h2, false).await?;
    let (resp, end) = await_response(c, cfg, &mut stream.events).await?;
    if resp.status != 200 {
        write_response(c, cfg, resp, end, &mut stream.events, false).await;
        return None;
    }
    if end {
        let text = "the connector accepted the websocket but ended the stream\n";
        c.fail(502, text).await;
        return None;
    }
    let upgrade = [
        (&b"upgrade"[..], &b"websocket"[..]),
        (b"connection", b"Upgrade"),
    ];
    let fields = upgrade.into_iter().chain(
        resp.fields
            .iter()
            .filter(|f| !http1::hop_by_hop(&f.name) && &f.name[..] != b"content-length")
            .map(|f| (&f.name[..], &f.value[..])),
    );
    let mut out = BytesMut::with_capacity(256);
    if http1::write_response_head(101, b"", fields, BodyKind::Empty, &mut out).is_err() {
        let text = "the backend's handshake answer cannot be expressed in HTTP/1.1\n";
        c.fail(502, text).await;
        return None;
    }
    c.send(out.freeze()).await.then_some(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> RequestHead {
        http1::parse_request(raw.as_bytes(), &Default::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn upgrade_handshakes_are_recognised() {
        let get = |version: &str, fields: &str| {
            head(&format!(
                "GET http://chat.virtual/ws {version}\r\nhost: chat.virtual\r\n{fields}\r\n"
            ))
        };
        let both = "upgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n";
        assert!(is_upgrade(&get("HTTP/1.1", both)));
        assert!(!is_upgrade(&get("HTTP/1.0", both)));
        assert!(!is_upgrade(&get("HTTP/1.1", "upgrade: websocket\r\n")));
        assert!(!is_upgrade(&get("HTTP/1.1", "connection: upgrade\r\n")));
        assert!(!is_upgrade(&get(
            "HTTP/1.1",
            "upgrade: h2c\r\nconnection: upgrade\r\n"
        )));
        let post = head(&format!(
            "POST http://chat.virtual/ws HTTP/1.1\r\nhost: chat.virtual\r\n{both}\
             content-length: 0\r\n\r\n"
        ));
        assert!(!is_upgrade(&post));
    }
}
