//! HTTP/1.1 message heads and the chunked transfer coding (RFC 9112), sans-IO.
//!
//! Used at the two HTTP/1.1 edges of the tunnel: the relay's forward-proxy front door parses
//! requests from cloud clients ([`parse_request`]) and answers them ([`write_response_head`],
//! [`error_response`]); the connector talks to backends ([`write_request_head`],
//! [`parse_response`]). Bodies are framed by [`BodyKind`]; chunked bodies go through
//! [`ChunkedDecoder`] and [`chunk_header`] / [`chunk_end`] / [`last_chunk`].
//!
//! # Strictness
//!
//! Every hop that translates HTTP/1.1 is a request-smuggling candidate: two parsers that frame
//! the same bytes differently let an attacker hide a request inside another one. The parser
//! therefore *rejects* anything ambiguous instead of repairing it (see `threats.md`):
//! bare LF or CR, obs-fold, whitespace before a colon, control bytes in values, both
//! `Content-Length` and `Transfer-Encoding`, repeated or listed `Content-Length`, any
//! `Transfer-Encoding` other than exactly `chunked`, `Transfer-Encoding` in HTTP/1.0, absolute
//! targets with userinfo or a fragment, a `Host` that differs from the target. Each rejection is
//! an [`Http1Error`] whose [`Http1Error::status`] is the answer a proxy should send.
//!
//! [`httparse`] tokenises the header block; the start lines, the line structure (CRLF only),
//! the limits and every semantic rule are checked here on top of it.
//!
//! # Re-parsing
//!
//! The parse functions are stateless: call them again with the whole buffered head after more
//! bytes arrive (as hyper does with httparse). A caller reading in small pieces can skip the
//! call until the new bytes contain an LF or the buffer outgrows [`Limits::max_request_line`]
//! (then [`Limits::max_head`]): only then can the answer change from "incomplete".

mod chunked;
mod error;
mod fields;
mod request;
mod response;
mod scan;
mod target;
mod write;

#[cfg(test)]
mod tests;

pub use chunked::{
    chunk_end, chunk_header, last_chunk, last_chunk_with_trailers, ChunkedDecoder, ChunkedItem,
    DEFAULT_MAX_CHUNK_LINE, DEFAULT_MAX_TRAILER_BYTES,
};
pub use error::Http1Error;
pub use request::{parse_request, RequestHead};
pub use response::{parse_response, ResponseHead};
pub use target::{parse_authority, HostPort, Scheme, Target};
pub use write::{canonical_reason, error_response, write_request_head, write_response_head};

use bytes::Bytes;

/// A header field as parsed: the name lowercased, the value with surrounding whitespace
/// removed. Both are slices of one copy of the received head.
pub type Header = (Bytes, Bytes);

/// Size limits for a message head. Exceeding one is an error, never a truncation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line (or status line) in bytes, without its CRLF. A longer request
    /// line is [`Http1Error::RequestLineTooLong`] (414): it is nearly always the target that is
    /// long.
    pub max_request_line: usize,
    /// Largest head in bytes, start line and final empty line included. Larger is
    /// [`Http1Error::HeadTooLarge`] (431).
    pub max_head: usize,
    /// Most header fields. More is [`Http1Error::TooManyHeaders`] (431).
    pub max_headers: usize,
}

impl Default for Limits {
    /// 8 KiB request line, 64 KiB head, 100 fields.
    fn default() -> Self {
        Limits {
            max_request_line: 8 * 1024,
            max_head: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// The protocol version of a message. Nothing else is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`: no `Transfer-Encoding`, connections close unless `keep-alive` is asked for.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl Version {
    /// The protocol token as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A request method. Methods are case-sensitive (RFC 9110 §9.1): `get` is [`Method::Other`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: the response never has a body.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`: the target is `host:port` and the connection becomes a tunnel.
    Connect,
    /// `OPTIONS`: the only method allowed with the `*` target.
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// Any other method token. [`Method::from_bytes`] only builds it from a valid token.
    Other(Bytes),
}

impl Method {
    /// Parses a method token (`1*tchar`), mapping the standard methods to their variants.
    pub fn from_bytes(token: &[u8]) -> Result<Method, Http1Error> {
        Ok(match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            other if is_token(other) => Method::Other(Bytes::copy_from_slice(other)),
            _ => return Err(Http1Error::InvalidMethod),
        })
    }

    /// The method token.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Method::Get => b"GET",
            Method::Head => b"HEAD",
            Method::Post => b"POST",
            Method::Put => b"PUT",
            Method::Delete => b"DELETE",
            Method::Connect => b"CONNECT",
            Method::Options => b"OPTIONS",
            Method::Trace => b"TRACE",
            Method::Patch => b"PATCH",
            Method::Other(b) => b,
        }
    }
}

/// How the body of a message is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// No body: no framing header, or a response that never has one (to HEAD, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes (`Content-Length`). `Length(0)` is kept apart from `Empty` so a
    /// `content-length: 0` can be forwarded as received.
    Length(u64),
    /// `Transfer-Encoding: chunked`: decode with [`ChunkedDecoder`].
    Chunked,
    /// Responses only: the body runs until the server closes the connection (no length and
    /// no chunking, as in HTTP/1.0). Such a response is never keep-alive.
    UntilClose,
}

impl BodyKind {
    /// True when no body bytes follow the head (`Empty` or `Length(0)`).
    pub fn is_empty(self) -> bool {
        matches!(self, BodyKind::Empty | BodyKind::Length(0))
    }
}

/// Connection-specific fields that never travel past one hop (RFC 9110 §7.6.1), plus the
/// legacy `proxy-connection` and `keep-alive`. Names listed in a message's `Connection` field
/// are hop-by-hop too: use [`RequestHead::hop_by_hop`] / [`ResponseHead::hop_by_hop`] for
/// those. `proxy-authorization` is deliberately absent: the relay consumes it explicitly.
///
/// `te` is here because HTTP/2 allows only `te: trailers`: a translator that wants to keep
/// that one value must special-case it.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// True if `name` (any case) is in [`HOP_BY_HOP`].
pub fn hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|h| h.as_bytes().eq_ignore_ascii_case(name))
}

/// The first value of the field `name` (any case) in a parsed field list.
pub(crate) fn find_header<'a>(headers: &'a [Header], name: &str) -> Option<&'a Bytes> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v)
}

/// `tchar` from RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// `token = 1*tchar`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A byte allowed in a field value: HTAB, SP, VCHAR and obs-text. No NUL, CR, LF, other
/// controls or DEL.
pub(crate) fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}
