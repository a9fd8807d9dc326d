//! Serialising heads. Everything written is validated first, so a value that came from
//! elsewhere (an HTTP/2 peer, configuration) cannot inject a line; on error nothing is
//! written.

use super::fields::check_underscore;
use super::target::parse_authority;
use super::{is_token, is_value_byte, BodyKind, Http1Error, Method};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt::Write as _;

/// Writes an HTTP/1.1 request head in origin-form, for a backend.
///
/// `path_and_query` must start with `/` (or be `*`); `host` becomes the `host` field and must
/// be a valid authority. `headers` are written in order with their names as given, except
/// `host`, `content-length` and `transfer-encoding`, which are skipped: the framing comes
/// from `body` alone (`Length(n)` → `content-length`, `Chunked` →
/// `transfer-encoding: chunked`, `Empty` → neither). Strip hop-by-hop fields before calling.
pub fn write_request_head<I, N, V>(
    method: &Method,
    path_and_query: &[u8],
    host: &[u8],
    headers: I,
    body: BodyKind,
    dst: &mut BytesMut,
) -> Result<(), Http1Error>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    if !is_token(method.as_bytes()) {
        return Err(Http1Error::InvalidMethod);
    }
    let path_ok = path_and_query == b"*"
        || (path_and_query.starts_with(b"/")
            && path_and_query
                .iter()
                .all(|&b| (b'!'..=b'~').contains(&b) && b != b'#'));
    if !path_ok {
        return Err(Http1Error::InvalidTarget(
            "path must start with / and be visible ASCII without #",
        ));
    }
    parse_authority(host)?;
    if body == BodyKind::UntilClose {
        return Err(Http1Error::UnframedRequestBody);
    }
    let start = dst.len();
    dst.put_slice(method.as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(path_and_query);
    dst.put_slice(b" HTTP/1.1\r\nhost: ");
    dst.put_slice(host);
    dst.put_slice(b"\r\n");
    let skip: &[&[u8]] = &[b"host", b"content-length", b"transfer-encoding"];
    if let Err(e) = write_fields(headers, skip, dst) {
        dst.truncate(start);
        return Err(e);
    }
    write_framing(body, dst);
    dst.put_slice(b"\r\n");
    Ok(())
}

/// Writes an HTTP/1.1 response head, e.g. translated from an HTTP/2 response.
///
/// `reason` may be empty: the canonical phrase for `status` is used. `headers` are written
/// in order, except `content-length` and `transfer-encoding`: the framing comes from `body`
/// (`Length(n)` → `content-length`, `Chunked` → `transfer-encoding: chunked`, `Empty` →
/// neither, `UntilClose` → `connection: close` replacing any `connection` field). For 1xx
/// and 204 no framing field is written whatever `body` says (RFC 9110 §8.6). Never pass
/// `Chunked` towards an HTTP/1.0 client: use `UntilClose` and close after the body.
pub fn write_response_head<I, N, V>(
    status: u16,
    reason: &[u8],
    headers: I,
    body: BodyKind,
    dst: &mut BytesMut,
) -> Result<(), Http1Error>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    if !(100..=599).contains(&status) {
        return Err(Http1Error::InvalidStatus);
    }
    if !reason.iter().all(|&b| is_value_byte(b)) {
        return Err(Http1Error::MalformedStatusLine(
            "control byte in reason phrase",
        ));
    }
    let reason = if reason.is_empty() {
        canonical_reason(status).as_bytes()
    } else {
        reason
    };
    let start = dst.len();
    let _ = write!(dst, "HTTP/1.1 {status} ");
    dst.put_slice(reason);
    dst.put_slice(b"\r\n");
    let until_close = body == BodyKind::UntilClose;
    let skip: &[&[u8]] = if until_close {
        &[b"content-length", b"transfer-encoding", b"connection"]
    } else {
        &[b"content-length", b"transfer-encoding"]
    };
    if let Err(e) = write_fields(headers, skip, dst) {
        dst.truncate(start);
        return Err(e);
    }
    if until_close {
        dst.put_slice(b"connection: close\r\n");
    } else if !((100..200).contains(&status) || status == 204) {
        write_framing(body, dst);
    }
    dst.put_slice(b"\r\n");
    Ok(())
}

/// A complete short response for errors the proxy answers itself: `text` as `text/plain`,
/// with `content-length` and `connection: close`. A `status` outside 100..=599 becomes 500.
pub fn error_response(status: u16, text: &str) -> Bytes {
    let status = if (100..=599).contains(&status) {
        status
    } else {
        500
    };
    let mut out = BytesMut::with_capacity(128 + text.len());
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{text}",
        canonical_reason(status),
        text.len()
    );
    out.freeze()
}

/// The reason phrase RFC 9110 §15 gives `status`, or `""` for codes it does not define.
pub fn canonical_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Writes `name: value\r\n` for each field whose name is not in `skip` (any case); rejects
/// names that are not tokens or are `_` spellings of framing fields, and values with control
/// bytes. May leave a partial write behind on error: callers truncate.
pub(super) fn write_fields<I, N, V>(
    fields: I,
    skip: &[&[u8]],
    dst: &mut BytesMut,
) -> Result<(), Http1Error>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    for (name, value) in fields {
        let (name, value) = (name.as_ref(), value.as_ref());
        if !is_token(name) {
            return Err(Http1Error::InvalidHeaderName);
        }
        if skip.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        check_underscore(name)?;
        if !value.iter().all(|&b| is_value_byte(b)) {
            return Err(Http1Error::InvalidHeaderValue {
                name: Bytes::from(name.to_ascii_lowercase()),
            });
        }
        dst.put_slice(name);
        dst.put_slice(b": ");
        dst.put_slice(value);
        dst.put_slice(b"\r\n");
    }
    Ok(())
}

fn write_framing(body: BodyKind, dst: &mut BytesMut) {
    match body {
        BodyKind::Length(n) => {
            let _ = write!(dst, "content-length: {n}\r\n");
        }
        BodyKind::Chunked => dst.put_slice(b"transfer-encoding: chunked\r\n"),
        BodyKind::Empty | BodyKind::UntilClose => {}
    }
}
