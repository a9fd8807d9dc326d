//! Serialisers: exact bytes, framing from `BodyKind`, validation, nothing written on error.

use super::*;
use bytes::BytesMut;
use Http1Error::*;

#[test]
fn request_head_bytes() {
    let mut out = BytesMut::new();
    let headers = [
        ("accept", "*/*"),
        ("Host", "ignored.example"),
        ("content-length", "999"),
        ("transfer-encoding", "gzip"),
        ("x-a", "1"),
    ];
    write_request_head(
        &Method::Post,
        b"/up?x=1",
        b"backend:8080",
        headers,
        BodyKind::Length(3),
        &mut out,
    )
    .unwrap();
    assert_eq!(
        &out[..],
        &b"POST /up?x=1 HTTP/1.1\r\nhost: backend:8080\r\naccept: */*\r\nx-a: 1\r\ncontent-length: 3\r\n\r\n"[..]
    );
    let (h, n) = parse_request(&out, &Limits::default()).unwrap().unwrap();
    assert_eq!(n, out.len());
    assert_eq!(h.body, BodyKind::Length(3));
    assert_eq!(h.target, Target::Origin(Bytes::from_static(b"/up?x=1")));
}

#[test]
fn request_framing() {
    let empty: [(&str, &str); 0] = [];
    let mut out = BytesMut::new();
    write_request_head(&Method::Get, b"/", b"b", empty, BodyKind::Empty, &mut out).unwrap();
    assert_eq!(&out[..], b"GET / HTTP/1.1\r\nhost: b\r\n\r\n");
    out.clear();
    write_request_head(
        &Method::Put,
        b"/",
        b"[::1]:81",
        empty,
        BodyKind::Chunked,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        &out[..],
        b"PUT / HTTP/1.1\r\nhost: [::1]:81\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    out.clear();
    write_request_head(
        &Method::Options,
        b"*",
        b"b",
        empty,
        BodyKind::Empty,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        write_request_head(
            &Method::Post,
            b"/",
            b"b",
            empty,
            BodyKind::UntilClose,
            &mut out
        ),
        Err(UnframedRequestBody)
    );
}

/// Method, path, host, fields, expected error.
type WriteCase = (
    Method,
    &'static [u8],
    &'static [u8],
    Vec<(&'static str, &'static str)>,
    Http1Error,
);

#[test]
fn request_validation_writes_nothing_on_error() {
    let mut out = BytesMut::from(&b"prev"[..]);
    let cases: Vec<WriteCase> = vec![
        (
            Method::Other(Bytes::from_static(b"BAD METHOD")),
            b"/",
            b"h",
            vec![],
            InvalidMethod,
        ),
        (
            Method::Get,
            b"x",
            b"h",
            vec![],
            InvalidTarget("path must start with / and be visible ASCII without #"),
        ),
        (
            Method::Get,
            b"/a b",
            b"h",
            vec![],
            InvalidTarget("path must start with / and be visible ASCII without #"),
        ),
        (
            Method::Get,
            b"/a#f",
            b"h",
            vec![],
            InvalidTarget("path must start with / and be visible ASCII without #"),
        ),
        (
            Method::Get,
            b"/\r\nX: y",
            b"h",
            vec![],
            InvalidTarget("path must start with / and be visible ASCII without #"),
        ),
        (Method::Get, b"/", b"u@h", vec![], UserinfoInAuthority),
        (
            Method::Get,
            b"/",
            b"h\r\nx",
            vec![],
            InvalidAuthority("invalid character in host"),
        ),
        (
            Method::Get,
            b"/",
            b"h",
            vec![("x", "a\r\nevil: 1")],
            InvalidHeaderValue {
                name: Bytes::from_static(b"x"),
            },
        ),
        (
            Method::Get,
            b"/",
            b"h",
            vec![("X", "a\0")],
            InvalidHeaderValue {
                name: Bytes::from_static(b"x"),
            },
        ),
        (
            Method::Get,
            b"/",
            b"h",
            vec![("bad name", "v")],
            InvalidHeaderName,
        ),
        (Method::Get, b"/", b"h", vec![("", "v")], InvalidHeaderName),
        (
            Method::Get,
            b"/",
            b"h",
            vec![("x:y", "v")],
            InvalidHeaderName,
        ),
        (
            Method::Get,
            b"/",
            b"h",
            vec![("content_length", "5")],
            AmbiguousHeaderName {
                name: Bytes::from_static(b"content_length"),
            },
        ),
    ];
    for (method, path, host, headers, want) in cases {
        let got = write_request_head(&method, path, host, headers, BodyKind::Empty, &mut out);
        assert_eq!(got, Err(want));
        assert_eq!(&out[..], b"prev");
    }
}

#[test]
fn response_head_bytes() {
    let mut out = BytesMut::new();
    let headers = [
        ("content-type", "text/plain"),
        ("content-length", "1"),
        ("x-a", "b"),
    ];
    write_response_head(200, b"", headers, BodyKind::Chunked, &mut out).unwrap();
    assert_eq!(
        &out[..],
        &b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-a: b\r\ntransfer-encoding: chunked\r\n\r\n"[..]
    );
    let r = resp(&out, false);
    assert_eq!(r.body, BodyKind::Chunked);

    out.clear();
    write_response_head(404, b"Nope", [("a", "b")], BodyKind::Length(0), &mut out).unwrap();
    assert_eq!(
        &out[..],
        b"HTTP/1.1 404 Nope\r\na: b\r\ncontent-length: 0\r\n\r\n"
    );

    out.clear();
    write_response_head(299, b"", [("a", "b")], BodyKind::Empty, &mut out).unwrap();
    assert_eq!(&out[..], b"HTTP/1.1 299 \r\na: b\r\n\r\n");
}

#[test]
fn response_no_framing_for_1xx_and_204() {
    let empty: [(&str, &str); 0] = [];
    for status in [100, 103, 204] {
        let mut out = BytesMut::new();
        write_response_head(status, b"", empty, BodyKind::Length(5), &mut out).unwrap();
        assert!(
            !out.windows(15).any(|w| w == b"content-length:"),
            "{status}"
        );
        assert_eq!(resp(&out, false).body, BodyKind::Empty);
    }
    // A HEAD response keeps the length of the representation.
    let mut out = BytesMut::new();
    write_response_head(200, b"", empty, BodyKind::Length(5), &mut out).unwrap();
    assert_eq!(resp(&out, true).body, BodyKind::Empty);
    assert_eq!(resp(&out, false).body, BodyKind::Length(5));
}

#[test]
fn response_until_close() {
    let mut out = BytesMut::new();
    let headers = [("connection", "keep-alive"), ("x", "y")];
    write_response_head(200, b"OK", headers, BodyKind::UntilClose, &mut out).unwrap();
    assert_eq!(
        &out[..],
        b"HTTP/1.1 200 OK\r\nx: y\r\nconnection: close\r\n\r\n"
    );
    let r = resp(&out, false);
    assert_eq!(r.body, BodyKind::UntilClose);
    assert!(!r.keep_alive);
}

#[test]
fn response_validation() {
    let empty: [(&str, &str); 0] = [];
    let mut out = BytesMut::new();
    assert_eq!(
        write_response_head(99, b"", empty, BodyKind::Empty, &mut out),
        Err(InvalidStatus)
    );
    assert_eq!(
        write_response_head(600, b"", empty, BodyKind::Empty, &mut out),
        Err(InvalidStatus)
    );
    assert_eq!(
        write_response_head(200, b"O\r\nK", empty, BodyKind::Empty, &mut out),
        Err(MalformedStatusLine("control byte in reason phrase"))
    );
    assert_eq!(
        write_response_head(200, b"", [("x", "\n")], BodyKind::Empty, &mut out),
        Err(InvalidHeaderValue {
            name: Bytes::from_static(b"x")
        })
    );
    assert!(out.is_empty());
}

#[test]
fn error_response_bytes() {
    let out = error_response(431, "head too large\n");
    assert_eq!(
        &out[..],
        &b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 15\r\nconnection: close\r\n\r\nhead too large\n"[..]
    );
    let (r, n) = parse_response(&out, &Limits::default(), false)
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.status, r.body, r.keep_alive),
        (431, BodyKind::Length(15), false)
    );
    assert_eq!(&out[n..], b"head too large\n");
    assert!(error_response(7, "x").starts_with(b"HTTP/1.1 500 Internal Server Error\r\n"));
    for status in [400, 414, 431, 501, 505, 502, 407] {
        assert!(!canonical_reason(status).is_empty(), "{status}");
    }
}
