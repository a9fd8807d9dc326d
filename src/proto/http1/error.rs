//! The one error type of the HTTP/1.1 layer.

use bytes::Bytes;
use std::fmt;

/// Why an HTTP/1.1 message (or a message about to be written) was rejected.
///
/// Nothing is repaired: every ambiguity that could let two parsers disagree about where a
/// message ends is an error. [`Http1Error::status`] is the status a proxy answers a *request*
/// error with; a malformed backend *response* is answered with 502 whatever the variant.
/// After any error the connection must be closed: the framing of what follows is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Http1Error {
    // ----- line structure and limits -----
    /// An LF not preceded by CR in a head or chunk line (RFC 9112 §2.2 allows recipients to
    /// accept it; we do not, because a peer that does not would frame differently).
    BareLf,
    /// A CR not followed by LF.
    BareCr,
    /// A header line starting with SP or HTAB: obsolete line folding (RFC 9112 §5.2), or
    /// whitespace before the first field.
    ObsFold,
    /// The request line (or status line) is longer than [`super::Limits::max_request_line`]:
    /// 414 URI Too Long.
    RequestLineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The head is larger than [`super::Limits::max_head`]: 431.
    HeadTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// More header fields than [`super::Limits::max_headers`]: 431.
    TooManyHeaders {
        /// The limit that was exceeded.
        limit: usize,
    },

    // ----- start lines -----
    /// The request line is not `method SP target SP version` with single spaces.
    MalformedRequestLine(&'static str),
    /// The method is not a token.
    InvalidMethod,
    /// A well-formed `HTTP/x.y` version other than 1.0 and 1.1: 505.
    UnsupportedVersion,
    /// The version is not of the form `HTTP/x.y`.
    MalformedVersion,
    /// The status line is not `version SP 3digit [SP reason]`, or the reason has a control byte.
    MalformedStatusLine(&'static str),
    /// A status code outside 100..=599.
    InvalidStatus,

    // ----- fields -----
    /// A field name that is empty or not a token.
    InvalidHeaderName,
    /// Whitespace between a field name and its colon (RFC 9112 §5.1 requires 400).
    WhitespaceBeforeColon,
    /// A field value containing NUL, CR, LF, DEL or another control byte.
    InvalidHeaderValue {
        /// The (lowercased) name of the field.
        name: Bytes,
    },
    /// A field name that servers mapping `_` to `-` (CGI style) would read as
    /// `content-length` or `transfer-encoding`, e.g. `Content_Length`.
    AmbiguousHeaderName {
        /// The (lowercased) name as received.
        name: Bytes,
    },
    /// A `Connection` field whose elements are not tokens.
    InvalidConnectionHeader,

    // ----- body framing -----
    /// More than one `Content-Length`: repeated fields, even with equal values, or a list
    /// such as `5, 5`.
    MultipleContentLength,
    /// A `Content-Length` that is empty or has a byte other than a digit.
    InvalidContentLength,
    /// A `Content-Length` larger than `u64::MAX`.
    ContentLengthOverflow,
    /// Both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.3 makes this a smuggling
    /// signal; we reject instead of letting `Transfer-Encoding` win).
    ContentLengthWithTransferEncoding,
    /// More than one `Transfer-Encoding` field.
    MultipleTransferEncoding,
    /// A `Transfer-Encoding` that is not a list of tokens, or applies `chunked` twice or not
    /// last: 400.
    MalformedTransferEncoding,
    /// A transfer coding other than a lone `chunked` (e.g. `gzip, chunked`): 501.
    UnsupportedTransferCoding,
    /// `Transfer-Encoding` in an HTTP/1.0 message (RFC 9112 §6.1: faulty framing).
    TransferEncodingInHttp10,
    /// A 1xx or 204 response that declares a body.
    BodyNotAllowed,

    // ----- targets and Host -----
    /// A request target that is malformed or not allowed with its method; the text says why.
    InvalidTarget(&'static str),
    /// An absolute-form target whose scheme is not `http` or `https`.
    UnsupportedScheme,
    /// An authority with userinfo (`user@host`).
    UserinfoInAuthority,
    /// A `#fragment` in the request target.
    FragmentInTarget,
    /// A host or port that is not allowed; the text says why.
    InvalidAuthority(&'static str),
    /// An HTTP/1.1 request without `Host`.
    MissingHost,
    /// More than one `Host` field.
    MultipleHost,
    /// `Host` names another host or port than the request target.
    HostMismatch,
    /// A CONNECT request with `Content-Length` > 0 or `Transfer-Encoding`.
    ConnectWithBody,

    // ----- chunked transfer coding -----
    /// A chunk-size line (with extensions) or trailer line longer than its limit.
    ChunkLineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A chunk size that is empty or not hexadecimal.
    InvalidChunkSize,
    /// A chunk size of more than 16 hex digits (it could not fit a `u64`).
    ChunkSizeOverflow,
    /// A chunk extension with a control byte, or whitespace after the size without `;`.
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF.
    MissingChunkCrlf,
    /// The trailer section is larger than its limit.
    TrailersTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },

    // ----- writing -----
    /// Asked to write a request with [`super::BodyKind::UntilClose`]: a request body needs a
    /// length or chunking (RFC 9112 §6.3). A caller bug, hence 500.
    UnframedRequestBody,
}

impl Http1Error {
    /// The status a proxy answers a request that failed with this error.
    ///
    /// 400 for malformed messages, 414 for a long request line, 431 for a large head or too
    /// many fields, 501 for transfer codings we do not implement, 505 for other versions.
    pub fn status(&self) -> u16 {
        use Http1Error::*;
        match self {
            RequestLineTooLong { .. } => 414,
            HeadTooLarge { .. } | TooManyHeaders { .. } | TrailersTooLarge { .. } => 431,
            UnsupportedTransferCoding => 501,
            UnsupportedVersion => 505,
            UnframedRequestBody => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for Http1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Http1Error::*;
        match self {
            BareLf => f.write_str("LF without CR in message head"),
            BareCr => f.write_str("CR not followed by LF"),
            ObsFold => f.write_str("header line starts with whitespace (obs-fold)"),
            RequestLineTooLong { limit } => write!(f, "request line longer than {limit} bytes"),
            HeadTooLarge { limit } => write!(f, "message head larger than {limit} bytes"),
            TooManyHeaders { limit } => write!(f, "more than {limit} header fields"),
            MalformedRequestLine(why) => write!(f, "malformed request line: {why}"),
            InvalidMethod => f.write_str("method is not a token"),
            UnsupportedVersion => f.write_str("HTTP version not supported (only 1.0 and 1.1)"),
            MalformedVersion => f.write_str("malformed HTTP version"),
            MalformedStatusLine(why) => write!(f, "malformed status line: {why}"),
            InvalidStatus => f.write_str("status code outside 100..=599"),
            InvalidHeaderName => f.write_str("header field name is empty or not a token"),
            WhitespaceBeforeColon => f.write_str("whitespace between header name and colon"),
            InvalidHeaderValue { name } => write!(
                f,
                "control byte in value of header `{}`",
                name.escape_ascii()
            ),
            AmbiguousHeaderName { name } => write!(
                f,
                "header `{}` could be read as a Content-Length or Transfer-Encoding",
                name.escape_ascii()
            ),
            InvalidConnectionHeader => f.write_str("Connection header is not a token list"),
            MultipleContentLength => f.write_str("more than one Content-Length"),
            InvalidContentLength => f.write_str("Content-Length is not a decimal number"),
            ContentLengthOverflow => f.write_str("Content-Length does not fit 64 bits"),
            ContentLengthWithTransferEncoding => {
                f.write_str("both Content-Length and Transfer-Encoding")
            }
            MultipleTransferEncoding => f.write_str("more than one Transfer-Encoding header"),
            MalformedTransferEncoding => f.write_str("malformed Transfer-Encoding"),
            UnsupportedTransferCoding => {
                f.write_str("Transfer-Encoding other than `chunked` not supported")
            }
            TransferEncodingInHttp10 => f.write_str("Transfer-Encoding in an HTTP/1.0 message"),
            BodyNotAllowed => f.write_str("1xx or 204 response declares a body"),
            InvalidTarget(why) => write!(f, "invalid request target: {why}"),
            UnsupportedScheme => f.write_str("request target scheme is not http or https"),
            UserinfoInAuthority => f.write_str("userinfo (`@`) in authority"),
            FragmentInTarget => f.write_str("fragment (`#`) in request target"),
            InvalidAuthority(why) => write!(f, "invalid authority: {why}"),
            MissingHost => f.write_str("HTTP/1.1 request without Host"),
            MultipleHost => f.write_str("more than one Host header"),
            HostMismatch => f.write_str("Host header differs from the request target"),
            ConnectWithBody => f.write_str("CONNECT request with a body"),
            ChunkLineTooLong { limit } => write!(f, "chunk line longer than {limit} bytes"),
            InvalidChunkSize => f.write_str("chunk size is not hexadecimal"),
            ChunkSizeOverflow => f.write_str("chunk size longer than 16 hex digits"),
            InvalidChunkExtension => f.write_str("malformed chunk extension"),
            MissingChunkCrlf => f.write_str("chunk data not followed by CRLF"),
            TrailersTooLarge { limit } => write!(f, "trailer section larger than {limit} bytes"),
            UnframedRequestBody => f.write_str("request body without length or chunking"),
        }
    }
}

impl std::error::Error for Http1Error {}
