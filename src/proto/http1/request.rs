//! Request heads (RFC 9112 §3) as a forward proxy receives them.

use super::fields::{framing, parse_fields};
use super::scan::scan_head;
use super::target::{check_host, parse_target};
use super::{
    find_header, hop_by_hop, is_token, BodyKind, Header, Http1Error, Limits, Method, Target,
    Version,
};
use bytes::Bytes;

/// A validated request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The target, validated for its form (see [`Target`]).
    pub target: Target,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// Every field in order, hop-by-hop ones included: names lowercased, values trimmed.
    pub headers: Vec<Header>,
    /// How the body is framed. Never [`BodyKind::UntilClose`].
    pub body: BodyKind,
    /// Whether the connection may carry another request after this one (RFC 9112 §9.3).
    pub keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request (RFC 9110 §10.1.1 says to ignore it
    /// from HTTP/1.0 clients): send `100 Continue` before reading the body, or a final status
    /// without reading it.
    pub expects_continue: bool,
    /// The tokens of the `Connection` field(s), lowercased: further hop-by-hop field names,
    /// plus `close` / `keep-alive`.
    pub connection: Vec<Bytes>,
}

impl RequestHead {
    /// The first value of field `name` (any case).
    pub fn header(&self, name: &str) -> Option<&Bytes> {
        find_header(&self.headers, name)
    }

    /// The host of the target's authority (IPv6 without brackets); `None` for origin-form
    /// and `*`.
    pub fn host(&self) -> Option<&str> {
        self.target.host()
    }

    /// The port to connect to: explicit, else 80/443 by scheme; always explicit for CONNECT.
    pub fn port(&self) -> Option<u16> {
        self.target.port()
    }

    /// True if `name` must not be forwarded: a [`super::HOP_BY_HOP`] name or one listed in
    /// `Connection`.
    pub fn hop_by_hop(&self, name: &[u8]) -> bool {
        hop_by_hop(name) || self.connection.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// The fields that travel end to end (everything [`RequestHead::hop_by_hop`] does not
    /// exclude). `host`, `content-length` and `proxy-authorization` are still in it.
    pub fn end_to_end_headers(&self) -> impl Iterator<Item = &Header> + '_ {
        self.headers.iter().filter(|(n, _)| !self.hop_by_hop(n))
    }
}

/// Parses a request head from the front of `buf`.
///
/// `Ok(None)`: the head is incomplete and within the limits so far; call again with more
/// bytes. `Ok(Some((head, consumed)))`: the head took `buf[..consumed]` (empty lines before it
/// included); the body, if any, starts at `consumed`. Any error means: answer
/// [`Http1Error::status`] with `connection: close` and close.
///
/// Beyond the syntax, this enforces the proxy's rules: the target form must fit the method
/// (`host:port` for CONNECT, `*` only for OPTIONS), HTTP/1.1 requires exactly one `Host`,
/// and any `Host` must name the target's host and port; CONNECT has no body.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(RequestHead, usize)>, Http1Error> {
    let Some(layout) = scan_head(buf, limits, true)? else {
        return Ok(None);
    };
    // One copy of the head; every field is a slice of it.
    let head = Bytes::copy_from_slice(&buf[..layout.end]);
    let (method, raw_target, version) =
        parse_request_line(&head, layout.start, layout.start_line_end)?;
    let headers = parse_fields(
        &head,
        layout.start_line_end + 2,
        layout.end,
        layout.header_count,
    )?;
    let target = parse_target(raw_target, &method)?;
    let framing = framing(&headers, version)?;

    let mut hosts = headers.iter().filter(|(n, _)| &n[..] == b"host");
    match (hosts.next(), hosts.next()) {
        (_, Some(_)) => return Err(Http1Error::MultipleHost),
        (Some((_, value)), None) => check_host(value, &target)?,
        (None, None) if version == Version::Http11 => return Err(Http1Error::MissingHost),
        (None, None) => {}
    }

    let body = match (framing.chunked, framing.content_length) {
        (true, _) => BodyKind::Chunked,
        (false, Some(n)) => BodyKind::Length(n),
        (false, None) => BodyKind::Empty,
    };
    if method == Method::Connect && !body.is_empty() {
        return Err(Http1Error::ConnectWithBody);
    }
    let expects_continue = version == Version::Http11
        && headers
            .iter()
            .any(|(n, v)| &n[..] == b"expect" && v.eq_ignore_ascii_case(b"100-continue"));
    let keep_alive = framing.keep_alive(version);
    Ok(Some((
        RequestHead {
            method,
            target,
            version,
            headers,
            body,
            keep_alive,
            expects_continue,
            connection: framing.connection,
        },
        layout.end,
    )))
}

/// `method SP request-target SP HTTP-version`, single spaces, nothing else.
fn parse_request_line(
    head: &Bytes,
    from: usize,
    to: usize,
) -> Result<(Method, Bytes, Version), Http1Error> {
    let line = &head[from..to];
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Http1Error::MalformedRequestLine(
            "expected method, target and version",
        ));
    };
    if method.is_empty() || target.is_empty() || version.is_empty() || version.contains(&b' ') {
        return Err(Http1Error::MalformedRequestLine("extra space"));
    }
    if !is_token(method) {
        return Err(Http1Error::InvalidMethod);
    }
    let version = parse_version(version)?;
    Ok((Method::from_bytes(method)?, head.slice_ref(target), version))
}

/// `HTTP/1.0` or `HTTP/1.1` exactly; another well-formed `HTTP/x[.y]` is 505, anything else 400.
pub(super) fn parse_version(v: &[u8]) -> Result<Version, Http1Error> {
    match v {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', d] if d.is_ascii_digit() => {
            Err(Http1Error::UnsupportedVersion)
        }
        [b'H', b'T', b'T', b'P', b'/', a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Err(Http1Error::UnsupportedVersion)
        }
        _ => Err(Http1Error::MalformedVersion),
    }
}
