//! Request-path checking: the one place that decides whether a `:path` is unambiguous.
//!
//! Nothing is rewritten. A path either passes as it is — and then exactly those bytes are
//! forwarded, and the whitelist decision is taken on their decoded segments — or it is
//! refused with a [`PathError`] (400). Every rule below closes a way in which two parties
//! (this check, the backend, a proxy in between) could read the same bytes as different
//! paths; `docs/policy.md` gives the reason for each.
//!
//! Accepted grammar (origin form, RFC 9112 §3.2.1, narrowed):
//!
//! ```text
//! path-and-query = "/" [ segment *( "/" segment ) ] [ "?" query ]
//! segment        = 1*( unreserved / sub-delims-but-";" / ":" / "@" / pct-encoded )
//! query          = *( pchar / "/" / "?" )          ; %XX well-formed, otherwise free
//! ```
//!
//! plus: the last segment may be empty (one trailing `/`); `.` and `..` are not segments;
//! a `%XX` escape in the path must not encode an unreserved character, `/`, `\`, `;`, a
//! control character or NUL, must not be `%25` followed by two hex digits, and the decoded
//! bytes of each segment must be UTF-8.

use bytes::Bytes;
use std::fmt;

/// Why a request path is refused (always answered with 400: the request is malformed or
/// ambiguous, not merely forbidden).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// The path is empty or does not start with `/` (absolute-form, authority-form and `*`
    /// never reach the whitelist as paths).
    NotOriginForm,
    /// A `#`: fragments are never sent to servers; one in a path is a parser-confusion attempt.
    Fragment {
        /// Byte offset of the `#`.
        at: usize,
    },
    /// A byte outside the URI character set: a space, a control character or a non-ASCII
    /// byte (non-ASCII must be percent-encoded UTF-8).
    IllegalByte {
        /// The byte.
        byte: u8,
        /// Its offset.
        at: usize,
    },
    /// A raw `\`: Windows servers and some frameworks treat it as `/`.
    Backslash {
        /// Offset of the backslash.
        at: usize,
    },
    /// A `;` in the path: path parameters (`..;/`, `/a;jsessionid=x`) are stripped by some
    /// servers before routing, so the path matched would not be the path served.
    MatrixParameter {
        /// Offset of the `;`.
        at: usize,
    },
    /// A `%` not followed by two hexadecimal digits.
    BadEscape {
        /// Offset of the `%`.
        at: usize,
    },
    /// `%25` followed by two hex digits (`%252e`): a second decoding pass would produce a
    /// different path.
    DoubleEncoding {
        /// Offset of the `%25`.
        at: usize,
    },
    /// A percent-encoded unreserved character (`%2e`, `%41`, `%7e`...): it means the same as
    /// the plain character to some decoders and something else to others.
    EncodedUnreserved {
        /// The decoded byte.
        byte: u8,
        /// Offset of the `%`.
        at: usize,
    },
    /// An encoded separator (`%2f` = `/`, `%5c` = `\`, `%3b` = `;`): it would split or join
    /// segments differently after decoding.
    EncodedSeparator {
        /// The decoded byte.
        byte: u8,
        /// Offset of the `%`.
        at: usize,
    },
    /// An encoded NUL or control character (`%00`, `%0a`...): truncates or splits paths in
    /// C-based backends and log lines.
    EncodedControl {
        /// The decoded byte.
        byte: u8,
        /// Offset of the `%`.
        at: usize,
    },
    /// A `.` or `..` segment: servers resolve them, so the path served differs from the path
    /// checked.
    DotSegment {
        /// Offset of the segment.
        at: usize,
    },
    /// An empty segment (`//`) other than one trailing `/`: servers collapse them.
    EmptySegment {
        /// Offset of the second `/`.
        at: usize,
    },
    /// The decoded bytes of a segment are not UTF-8 (for example the overlong `%c0%af`,
    /// which lenient decoders turn into `/`).
    InvalidUtf8 {
        /// Offset of the segment.
        at: usize,
    },
}

impl PathError {
    /// A short reason for the 400 answer (no request bytes echoed).
    pub fn reason(&self) -> &'static str {
        match self {
            PathError::NotOriginForm => "path must start with /",
            PathError::Fragment { .. } => "path contains '#'",
            PathError::IllegalByte { .. } => "path contains a byte outside the URI character set",
            PathError::Backslash { .. } => "path contains '\\'",
            PathError::MatrixParameter { .. } => "path contains ';'",
            PathError::BadEscape { .. } => "path contains a malformed %-escape",
            PathError::DoubleEncoding { .. } => "path is double-encoded (%25XX)",
            PathError::EncodedUnreserved { .. } => "path %-encodes an unreserved character",
            PathError::EncodedSeparator { .. } => "path %-encodes '/', '\\' or ';'",
            PathError::EncodedControl { .. } => "path %-encodes NUL or a control character",
            PathError::DotSegment { .. } => "path contains a '.' or '..' segment",
            PathError::EmptySegment { .. } => "path contains an empty segment ('//')",
            PathError::InvalidUtf8 { .. } => "path decodes to invalid UTF-8",
        }
    }

    /// The byte offset the problem was found at (0 for [`PathError::NotOriginForm`]).
    pub fn offset(&self) -> usize {
        match *self {
            PathError::NotOriginForm => 0,
            PathError::Fragment { at }
            | PathError::IllegalByte { at, .. }
            | PathError::Backslash { at }
            | PathError::MatrixParameter { at }
            | PathError::BadEscape { at }
            | PathError::DoubleEncoding { at }
            | PathError::EncodedUnreserved { at, .. }
            | PathError::EncodedSeparator { at, .. }
            | PathError::EncodedControl { at, .. }
            | PathError::DotSegment { at }
            | PathError::EmptySegment { at }
            | PathError::InvalidUtf8 { at } => at,
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at byte {}); send the path unambiguously: plain '/'-separated segments, \
             no dot segments, %-escapes only where the character cannot appear as it is",
            self.reason(),
            self.offset()
        )
    }
}

impl std::error::Error for PathError {}

/// A path that passed [`check_path`]: the raw bytes (forwarded unchanged, query included)
/// and their decoded segments (what the whitelist matches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedPath {
    raw: Bytes,
    /// Length of the path part of `raw` (up to the `?`, or all of it).
    path_len: usize,
    /// The decoded path, when it differs from the raw path part (there was a `%`).
    decoded: Option<Box<str>>,
}

impl CheckedPath {
    /// The bytes to forward: exactly the request's `:path`, query included.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The decoded path, without the query (`/`-separated; starts with `/`).
    pub fn decoded(&self) -> &str {
        decoded_or_raw(self.decoded.as_deref(), &self.raw, self.path_len)
    }

    /// The query (after `?`, raw), if there is one.
    pub fn query(&self) -> Option<&[u8]> {
        self.raw.get(self.path_len..)?.strip_prefix(b"?")
    }

    /// The decoded segments: `/` has none, `/a/b` has `a`, `b`; a trailing `/` adds one
    /// empty last segment (`/a/` has `a`, ``).
    pub fn segments(&self) -> Segments<'_> {
        segments_of(self.decoded())
    }
}

/// A path checked where it lies, before any copy: the policy decides on it and copies only
/// what it admits.
pub(crate) struct PathView<'a> {
    raw: &'a [u8],
    path_len: usize,
    decoded: Option<Box<str>>,
}

impl PathView<'_> {
    /// See [`CheckedPath::segments`].
    pub(crate) fn segments(&self) -> Segments<'_> {
        segments_of(decoded_or_raw(
            self.decoded.as_deref(),
            self.raw,
            self.path_len,
        ))
    }

    /// A [`CheckedPath`] over `raw`, which holds the very bytes this view checked (the
    /// caller guarantees it: same pointer and length), without copying them.
    pub(crate) fn into_checked_sharing(self, raw: Bytes) -> CheckedPath {
        debug_assert_eq!(&raw[..], self.raw);
        CheckedPath {
            raw,
            path_len: self.path_len,
            decoded: self.decoded,
        }
    }

    /// Copies the checked bytes into a [`CheckedPath`].
    pub(crate) fn into_checked(self) -> CheckedPath {
        CheckedPath {
            raw: Bytes::copy_from_slice(self.raw),
            path_len: self.path_len,
            decoded: self.decoded,
        }
    }
}

fn decoded_or_raw<'a>(decoded: Option<&'a str>, raw: &'a [u8], path_len: usize) -> &'a str {
    match decoded {
        Some(d) => d,
        // The path part is printable ASCII (checked), hence UTF-8.
        None => std::str::from_utf8(raw.get(..path_len).unwrap_or_default()).unwrap_or_default(),
    }
}

fn segments_of(decoded: &str) -> Segments<'_> {
    let rest = decoded.strip_prefix('/').unwrap_or_default();
    Segments {
        inner: (!rest.is_empty()).then(|| rest.split('/')),
    }
}

/// Iterator over the decoded segments of a [`CheckedPath`].
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    inner: Option<std::str::Split<'a, char>>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.inner.as_mut()?.next()
    }
}

/// Checks a request `:path` (origin form, query included) and copies it into a
/// [`CheckedPath`]. See the module documentation for the rules.
pub fn check_path(raw: &[u8]) -> Result<CheckedPath, PathError> {
    check_path_bytes(Bytes::copy_from_slice(raw))
}

/// [`check_path`] without the copy: the `Bytes` are kept as they are.
pub fn check_path_bytes(raw: Bytes) -> Result<CheckedPath, PathError> {
    let PathView {
        path_len, decoded, ..
    } = check_view(&raw)?;
    Ok(CheckedPath {
        raw,
        path_len,
        decoded,
    })
}

/// [`check_path`] in place.
pub(crate) fn check_view(raw: &[u8]) -> Result<PathView<'_>, PathError> {
    let path_len = check_bytes(raw)?;
    let path = raw.get(..path_len).unwrap_or_default();
    let decoded = if path.contains(&b'%') {
        Some(decode_path(path)?)
    } else {
        check_segments(path)?;
        None
    };
    Ok(PathView {
        raw,
        path_len,
        decoded,
    })
}

/// `unreserved` of RFC 3986.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte a well-formed `%XX` at `at` encodes.
fn escape_at(raw: &[u8], at: usize) -> Result<u8, PathError> {
    match (
        raw.get(at + 1).copied().and_then(hex),
        raw.get(at + 2).copied().and_then(hex),
    ) {
        (Some(h), Some(l)) => Ok(h << 4 | l),
        _ => Err(PathError::BadEscape { at }),
    }
}

/// Bytes allowed as they are anywhere in the target (path characters and `/`); everything
/// else takes the slow path in [`check_bytes`]. A table, because this loop runs over every
/// byte of every request and a chain of comparisons per byte showed in the profile.
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c == b'/'
            || c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b'='
                    | b':'
                    | b'@'
            );
        b += 1;
    }
    t
};

/// Byte-level checks over the whole target; returns the length of the path part.
fn check_bytes(raw: &[u8]) -> Result<usize, PathError> {
    if raw.first() != Some(&b'/') {
        return Err(PathError::NotOriginForm);
    }
    let mut path_len = None;
    for (at, &b) in raw.iter().enumerate() {
        if PLAIN[usize::from(b)] {
            continue;
        }
        match b {
            b'#' => return Err(PathError::Fragment { at }),
            b'\\' => return Err(PathError::Backslash { at }),
            b'?' if path_len.is_none() => path_len = Some(at),
            b';' if path_len.is_none() => return Err(PathError::MatrixParameter { at }),
            b'%' => {
                escape_at(raw, at)?;
            }
            b'?' | b';' => {}
            _ => return Err(PathError::IllegalByte { byte: b, at }),
        }
    }
    Ok(path_len.unwrap_or(raw.len()))
}

/// Segment-structure checks on a path without escapes (one pass: a segment is known to be
/// the last when no `/` follows it).
fn check_segments(path: &[u8]) -> Result<(), PathError> {
    let rest = path.get(1..).unwrap_or_default();
    let mut start = 1;
    let mut pending: Option<(&[u8], usize)> = None;
    for seg in rest.split(|&b| b == b'/') {
        if let Some((prev, at)) = pending.take() {
            check_segment_shape(prev, at, false)?;
        }
        pending = Some((seg, start));
        start += seg.len() + 1;
    }
    match pending {
        Some((last, at)) => check_segment_shape(last, at, true),
        None => Ok(()),
    }
}

/// `.`/`..` and empty-segment rules for one raw segment at offset `at`.
fn check_segment_shape(seg: &[u8], at: usize, last: bool) -> Result<(), PathError> {
    match seg {
        b"." | b".." => Err(PathError::DotSegment { at }),
        // Only the last segment may be empty: one trailing `/`, or the root `/` itself.
        b"" if !last => Err(PathError::EmptySegment { at }),
        _ => Ok(()),
    }
}

/// Decodes a path that contains escapes, checking every rule on the way.
fn decode_path(path: &[u8]) -> Result<Box<str>, PathError> {
    let mut out = String::with_capacity(path.len());
    out.push('/');
    let rest = path.get(1..).unwrap_or_default();
    let count = rest.split(|&b| b == b'/').count();
    let mut start = 1;
    let mut seg_bytes = Vec::new();
    for (i, seg) in rest.split(|&b| b == b'/').enumerate() {
        check_segment_shape(seg, start, i + 1 == count)?;
        seg_bytes.clear();
        let mut j = 0;
        while let Some(&b) = seg.get(j) {
            if b != b'%' {
                seg_bytes.push(b);
                j += 1;
                continue;
            }
            let at = start + j;
            let d = escape_at(path, at)?;
            // `%25` then two hex digits: the escape an escape would decode to.
            let next_is_escape = matches!(
                (
                    path.get(at + 3).copied().and_then(hex),
                    path.get(at + 4).copied().and_then(hex)
                ),
                (Some(_), Some(_))
            );
            if d == b'%' && next_is_escape {
                return Err(PathError::DoubleEncoding { at });
            }
            if is_unreserved(d) {
                return Err(PathError::EncodedUnreserved { byte: d, at });
            }
            if matches!(d, b'/' | b'\\' | b';') {
                return Err(PathError::EncodedSeparator { byte: d, at });
            }
            if d < 0x20 || d == 0x7f {
                return Err(PathError::EncodedControl { byte: d, at });
            }
            seg_bytes.push(d);
            j += 3;
        }
        let text =
            std::str::from_utf8(&seg_bytes).map_err(|_| PathError::InvalidUtf8 { at: start })?;
        if i > 0 {
            out.push('/');
        }
        out.push_str(text);
        start += seg.len() + 1;
    }
    Ok(out.into_boxed_str())
}
