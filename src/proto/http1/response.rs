//! Response heads (RFC 9112 §4) as the connector receives them from backends.

use super::fields::{framing, parse_fields};
use super::request::parse_version;
use super::scan::scan_head;
use super::{
    find_header, hop_by_hop, is_value_byte, BodyKind, Header, Http1Error, Limits, Version,
};
use bytes::Bytes;

/// A validated response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code, 100..=599.
    pub status: u16,
    /// The reason phrase as received (may be empty; HTTP/2 has none).
    pub reason: Bytes,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// Every field in order: names lowercased, values trimmed.
    pub headers: Vec<Header>,
    /// How the body is framed (RFC 9112 §6.3): `Empty` for HEAD requests, 1xx, 204 and 304
    /// whatever the fields say; `UntilClose` when there is neither length nor chunking.
    pub body: BodyKind,
    /// Whether the connection may carry another request afterwards. Always false for
    /// [`BodyKind::UntilClose`].
    pub keep_alive: bool,
    /// The tokens of the `Connection` field(s), lowercased.
    pub connection: Vec<Bytes>,
}

impl ResponseHead {
    /// The first value of field `name` (any case).
    pub fn header(&self, name: &str) -> Option<&Bytes> {
        find_header(&self.headers, name)
    }

    /// True for 1xx: another head follows on the same connection. (101 Switching Protocols
    /// also means the connection stops being HTTP; the connector never asks for an upgrade,
    /// so treat a 101 as an error.)
    pub fn is_informational(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// True if `name` must not be forwarded: a [`super::HOP_BY_HOP`] name or one listed in
    /// `Connection`.
    pub fn hop_by_hop(&self, name: &[u8]) -> bool {
        hop_by_hop(name) || self.connection.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// The fields that travel end to end.
    pub fn end_to_end_headers(&self) -> impl Iterator<Item = &Header> + '_ {
        self.headers.iter().filter(|(n, _)| !self.hop_by_hop(n))
    }
}

/// Parses a response head from the front of `buf`; `request_method_was_head` selects the
/// HEAD rule (no body whatever the fields say).
///
/// Same contract as [`super::parse_request`]: `Ok(None)` means incomplete, `consumed` is
/// where the body starts. No empty lines are skipped before a status line: stray bytes
/// after a body mean the backend framed it differently than we did. Responses to CONNECT
/// are not supported (the connector opens TCP itself). A 1xx head is returned like any
/// other: parse again for the final one.
///
/// The framing rules are the request's (one `Content-Length`, `Transfer-Encoding` exactly
/// `chunked`, not both, not in HTTP/1.0), and a 1xx or 204 that declares a body is rejected.
/// The error's [`Http1Error::status`] is meant for requests: answer a bad response with 502.
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
    request_method_was_head: bool,
) -> Result<Option<(ResponseHead, usize)>, Http1Error> {
    let Some(layout) = scan_head(buf, limits, false)? else {
        return Ok(None);
    };
    let head = Bytes::copy_from_slice(&buf[..layout.end]);
    let (version, status, reason) = parse_status_line(&head, layout.start, layout.start_line_end)?;
    let headers = parse_fields(
        &head,
        layout.start_line_end + 2,
        layout.end,
        layout.header_count,
    )?;
    let framing = framing(&headers, version)?;
    let declares_body = framing.chunked || framing.content_length.is_some_and(|n| n > 0);
    let body = if (100..200).contains(&status) || status == 204 {
        if declares_body {
            return Err(Http1Error::BodyNotAllowed);
        }
        BodyKind::Empty
    } else if request_method_was_head || status == 304 {
        // The fields describe the representation, not this message (RFC 9110 §8.6).
        BodyKind::Empty
    } else if framing.chunked {
        BodyKind::Chunked
    } else if let Some(n) = framing.content_length {
        BodyKind::Length(n)
    } else {
        BodyKind::UntilClose
    };
    let keep_alive = body != BodyKind::UntilClose && framing.keep_alive(version);
    Ok(Some((
        ResponseHead {
            status,
            reason,
            version,
            headers,
            body,
            keep_alive,
            connection: framing.connection,
        },
        layout.end,
    )))
}

/// `HTTP-version SP 3DIGIT [SP reason-phrase]` (a missing SP before an empty reason is
/// tolerated: RFC 9112 §4 asks recipients to accept it).
fn parse_status_line(
    head: &Bytes,
    from: usize,
    to: usize,
) -> Result<(Version, u16, Bytes), Http1Error> {
    let line = &head[from..to];
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return Err(Http1Error::MalformedStatusLine("no status code"));
    };
    let version = parse_version(&line[..sp])?;
    let rest = &line[sp + 1..];
    let (code, reason) = match rest {
        [a, b, c] => ([*a, *b, *c], &rest[3..]),
        [a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
        _ => {
            return Err(Http1Error::MalformedStatusLine(
                "status code is not 3 digits",
            ))
        }
    };
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(Http1Error::MalformedStatusLine(
            "status code is not 3 digits",
        ));
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(Http1Error::InvalidStatus);
    }
    if !reason.iter().all(|&b| is_value_byte(b)) {
        return Err(Http1Error::MalformedStatusLine(
            "control byte in reason phrase",
        ));
    }
    Ok((version, status, head.slice_ref(reason)))
}
