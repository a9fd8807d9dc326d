//! Header fields: tokenised by `httparse`, then checked and interpreted here (body framing,
//! `Connection`).

use super::{is_token, is_value_byte, Header, Http1Error, Version};
use bytes::Bytes;

/// Field names that some servers derive from `_` spellings (CGI maps `-` to `_` and back).
const UNDERSCORE_SENSITIVE: &[&[u8]] = &[b"content-length", b"transfer-encoding"];

/// Tokenises the header block `head[from..to]` (which ends with the empty line and holds
/// `count` field lines, as the line scan found) into lowercased names and trimmed values,
/// all slices of `head` unless a name had to be lowercased.
pub(super) fn parse_fields(
    head: &Bytes,
    from: usize,
    to: usize,
    count: usize,
) -> Result<Vec<Header>, Http1Error> {
    let block = &head[from..to];
    let mut slots = vec![httparse::EMPTY_HEADER; count];
    let parsed = match httparse::parse_headers(block, &mut slots) {
        Ok(httparse::Status::Complete((n, fields)))
            if n == block.len() && fields.len() == count =>
        {
            fields
        }
        // httparse only says "bad name" or "bad value": find the line and say precisely why.
        _ => return Err(diagnose(block)),
    };
    let mut out = Vec::with_capacity(count);
    for f in parsed {
        // httparse already checked these; checking again costs little and keeps the rules
        // ours if its defaults ever loosen.
        let name = f.name.as_bytes();
        if !is_token(name) {
            return Err(Http1Error::InvalidHeaderName);
        }
        let name = if name.iter().any(u8::is_ascii_uppercase) {
            Bytes::from(name.to_ascii_lowercase())
        } else {
            head.slice_ref(name)
        };
        check_underscore(&name)?;
        let value = trim_ows(f.value);
        if !value.iter().all(|&b| is_value_byte(b)) {
            return Err(Http1Error::InvalidHeaderValue { name });
        }
        out.push((name, head.slice_ref(value)));
    }
    Ok(out)
}

/// Parses one `name: value` line (a trailer field; heads go through [`parse_fields`]).
pub(super) fn parse_field_line(line: &Bytes) -> Result<Header, Http1Error> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(Http1Error::ObsFold);
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(Http1Error::InvalidHeaderName);
    };
    let raw = &line[..colon];
    if is_token(trim_ows(raw)) && raw.last().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(Http1Error::WhitespaceBeforeColon);
    }
    if !is_token(raw) {
        return Err(Http1Error::InvalidHeaderName);
    }
    let name = Bytes::from(raw.to_ascii_lowercase());
    check_underscore(&name)?;
    let value = trim_ows(&line[colon + 1..]);
    if !value.iter().all(|&b| is_value_byte(b)) {
        return Err(Http1Error::InvalidHeaderValue { name });
    }
    Ok((name, line.slice_ref(value)))
}

/// The precise reason `httparse` refused a header block whose line structure is already
/// known to be sound.
fn diagnose(block: &[u8]) -> Http1Error {
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let Err(e) = parse_field_line(&Bytes::copy_from_slice(line)) {
            return e;
        }
    }
    // Not reached for blocks the line scan accepted; name the likeliest cause anyway.
    Http1Error::InvalidHeaderName
}

/// Rejects names such as `content_length` that CGI-style servers map onto a framing field.
pub(super) fn check_underscore(name: &[u8]) -> Result<(), Http1Error> {
    if name.contains(&b'_') {
        let dashed: Vec<u8> = name
            .iter()
            .map(|&b| {
                if b == b'_' {
                    b'-'
                } else {
                    b.to_ascii_lowercase()
                }
            })
            .collect();
        if UNDERSCORE_SENSITIVE.contains(&&dashed[..]) {
            return Err(Http1Error::AmbiguousHeaderName {
                name: Bytes::from(name.to_ascii_lowercase()),
            });
        }
    }
    Ok(())
}

/// Strips optional whitespace (SP / HTAB) from both ends.
pub(super) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// What the fields say about body framing and the connection.
#[derive(Debug, Default)]
pub(super) struct Framing {
    /// The one `Content-Length`.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked` (the only coding accepted).
    pub chunked: bool,
    /// The `Connection` tokens, lowercased.
    pub connection: Vec<Bytes>,
}

impl Framing {
    /// Persistence per RFC 9112 §9.3: `close` always wins; HTTP/1.0 needs `keep-alive`.
    pub fn keep_alive(&self, version: Version) -> bool {
        let has = |t: &[u8]| self.connection.iter().any(|c| &c[..] == t);
        if has(b"close") {
            return false;
        }
        version == Version::Http11 || has(b"keep-alive")
    }
}

/// Reads the framing fields, rejecting every ambiguous combination.
pub(super) fn framing(headers: &[Header], version: Version) -> Result<Framing, Http1Error> {
    let mut out = Framing::default();
    let mut te_fields = 0;
    for (name, value) in headers {
        match &name[..] {
            b"content-length" => {
                // A list ("5, 5") counts as repetition: some peers take the first, some the last.
                if out.content_length.is_some() || value.contains(&b',') {
                    return Err(Http1Error::MultipleContentLength);
                }
                out.content_length = Some(parse_content_length(value)?);
            }
            b"transfer-encoding" => {
                te_fields += 1;
                if te_fields > 1 {
                    return Err(Http1Error::MultipleTransferEncoding);
                }
                check_transfer_encoding(value)?;
                out.chunked = true;
            }
            b"connection" => {
                for t in value.split(|&b| b == b',').map(trim_ows) {
                    // Empty list elements are legal (RFC 9110 §5.6.1); anything else must be a token.
                    if t.is_empty() {
                        continue;
                    }
                    if !is_token(t) {
                        return Err(Http1Error::InvalidConnectionHeader);
                    }
                    out.connection.push(Bytes::from(t.to_ascii_lowercase()));
                }
            }
            _ => {}
        }
    }
    if out.chunked && version == Version::Http10 {
        return Err(Http1Error::TransferEncodingInHttp10);
    }
    if out.chunked && out.content_length.is_some() {
        return Err(Http1Error::ContentLengthWithTransferEncoding);
    }
    Ok(out)
}

/// `Content-Length = 1*DIGIT`, no sign, no spaces inside, at most `u64::MAX`.
pub(super) fn parse_content_length(value: &[u8]) -> Result<u64, Http1Error> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(Http1Error::InvalidContentLength);
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(Http1Error::ContentLengthOverflow)
    })
}

/// Accepts exactly `chunked` (any case) as the only coding.
fn check_transfer_encoding(value: &[u8]) -> Result<(), Http1Error> {
    let codings: Vec<&[u8]> = value.split(|&b| b == b',').map(trim_ows).collect();
    // Quotes, parameters, inner spaces and empty elements all fail the token test.
    if codings.iter().any(|c| !is_token(c)) {
        return Err(Http1Error::MalformedTransferEncoding);
    }
    let is_chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
    let chunked = codings.iter().filter(|c| is_chunked(c)).count();
    let last_is_chunked = codings.last().is_some_and(|c| is_chunked(c));
    match (codings.len(), chunked) {
        (1, 1) => Ok(()),
        // Chunked twice, or not as the final coding: RFC 9112 §6.1 forbids both.
        (_, n) if n > 1 => Err(Http1Error::MalformedTransferEncoding),
        (_, 1) if !last_is_chunked => Err(Http1Error::MalformedTransferEncoding),
        _ => Err(Http1Error::UnsupportedTransferCoding),
    }
}
