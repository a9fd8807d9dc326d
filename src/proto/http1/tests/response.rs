//! Response heads: body rules per status and request method, status-line syntax, framing.

use super::*;
use Http1Error::*;

#[test]
fn ok_with_length() {
    let r = resp(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
        false,
    );
    assert_eq!(r.status, 200);
    assert_eq!(&r.reason[..], b"OK");
    assert_eq!(r.version, Version::Http11);
    assert_eq!(r.body, BodyKind::Length(5));
    assert!(r.keep_alive);
    assert_eq!(
        r.header("content-type").map(|v| &v[..]),
        Some(&b"text/plain"[..])
    );
    assert!(!r.is_informational());
}

#[test]
fn chunked_response() {
    let r = resp(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        false,
    );
    assert_eq!(r.body, BodyKind::Chunked);
    assert!(r.keep_alive);
}

#[test]
fn close_delimited() {
    let r = resp(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", false);
    assert_eq!(r.body, BodyKind::UntilClose);
    assert!(!r.keep_alive);
    let r = resp(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false);
    assert_eq!(r.body, BodyKind::UntilClose);
    assert!(!r.keep_alive, "no length: only the close ends the body");
}

#[test]
fn head_request_never_has_a_body() {
    let r = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", true);
    assert_eq!(r.body, BodyKind::Empty);
    assert!(r.keep_alive);
    let r = resp(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        true,
    );
    assert_eq!(r.body, BodyKind::Empty);
    let r = resp(b"HTTP/1.1 404 Not Found\r\n\r\n", true);
    assert_eq!(r.body, BodyKind::Empty);
    assert!(r.keep_alive);
    // The framing fields must still be unambiguous.
    let e = parse_response(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        &Limits::default(),
        true,
    );
    assert_eq!(e, Err(MultipleContentLength));
}

#[test]
fn no_content_and_not_modified() {
    let r = resp(b"HTTP/1.1 204 No Content\r\n\r\n", false);
    assert_eq!(r.body, BodyKind::Empty);
    assert!(r.keep_alive);
    assert_eq!(
        resp(
            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
            false
        )
        .body,
        BodyKind::Empty
    );
    assert_eq!(
        resp_err(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
        BodyNotAllowed
    );
    assert_eq!(
        resp_err(b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"),
        BodyNotAllowed
    );
    let r = resp(
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n",
        false,
    );
    assert_eq!(r.body, BodyKind::Empty);
    assert!(r.keep_alive);
}

#[test]
fn informational() {
    let r = resp(b"HTTP/1.1 100 Continue\r\n\r\n", false);
    assert!(r.is_informational());
    assert_eq!(r.body, BodyKind::Empty);
    let mut input = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n".to_vec();
    let first_len = input.len();
    input.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let (r, n) = parse_response(&input, &Limits::default(), false)
        .unwrap()
        .unwrap();
    assert_eq!((r.status, n), (103, first_len));
    assert_eq!(r.body, BodyKind::Empty);
    let (r, _) = parse_response(&input[n..], &Limits::default(), false)
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        resp_err(b"HTTP/1.1 100 Continue\r\nContent-Length: 3\r\n\r\n"),
        BodyNotAllowed
    );
    assert!(resp(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
        false
    )
    .is_informational());
}

#[test]
fn keep_alive_rules() {
    assert!(
        !resp(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            false
        )
        .keep_alive
    );
    assert!(!resp(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false).keep_alive);
    let r = resp(
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive, x-h\r\nX-H: 1\r\n\r\n",
        false,
    );
    assert!(r.keep_alive);
    assert!(r.hop_by_hop(b"X-H"));
    assert_eq!(r.end_to_end_headers().count(), 1);
}

#[test]
fn status_line_forms() {
    let r = resp(b"HTTP/1.1 200\r\n\r\n", true);
    assert_eq!((r.status, &r.reason[..]), (200, &b""[..]));
    let r = resp(b"HTTP/1.1 200 \r\n\r\n", true);
    assert_eq!(&r.reason[..], b"");
    let r = resp(b"HTTP/1.1 599 Some\tthing caf\xc3\xa9\r\n\r\n", true);
    assert_eq!(&r.reason[..], "Some\tthing caf\u{e9}".as_bytes());
}

#[test]
fn status_line_rejections() {
    let bad: &[(&[u8], Http1Error)] = &[
        (
            b"HTTP/1.1 20 OK\r\n\r\n",
            MalformedStatusLine("status code is not 3 digits"),
        ),
        (
            b"HTTP/1.1 2000 OK\r\n\r\n",
            MalformedStatusLine("status code is not 3 digits"),
        ),
        (
            b"HTTP/1.1  200 OK\r\n\r\n",
            MalformedStatusLine("status code is not 3 digits"),
        ),
        (
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            MalformedStatusLine("status code is not 3 digits"),
        ),
        (b"HTTP/1.1\r\n\r\n", MalformedStatusLine("no status code")),
        (b"HTTP/1.1 099 Low\r\n\r\n", InvalidStatus),
        (b"HTTP/1.1 600 High\r\n\r\n", InvalidStatus),
        (
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
            MalformedStatusLine("control byte in reason phrase"),
        ),
        (b"HTTP/2 200 OK\r\n\r\n", UnsupportedVersion),
        (b"HTTP/1.2 200 OK\r\n\r\n", UnsupportedVersion),
        (b"ICY 200 OK\r\n\r\n", MalformedVersion),
        (
            b"\r\nHTTP/1.1 200 OK\r\n\r\n",
            MalformedStatusLine("no status code"),
        ),
        (b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", BareLf),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ObsFold),
        (b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", WhitespaceBeforeColon),
    ];
    for (input, want) in bad {
        assert_eq!(
            resp_err(input),
            *want,
            "{:?}",
            input.escape_ascii().to_string()
        );
    }
}

#[test]
fn response_framing_rules() {
    let bad: &[(&[u8], Http1Error)] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            ContentLengthWithTransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            MultipleContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
            MultipleContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
            InvalidContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            UnsupportedTransferCoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            MalformedTransferEncoding,
        ),
        (
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            TransferEncodingInHttp10,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent_Length: 5\r\n\r\n",
            AmbiguousHeaderName {
                name: Bytes::from_static(b"content_length"),
            },
        ),
    ];
    for (input, want) in bad {
        assert_eq!(
            resp_err(input),
            *want,
            "{:?}",
            input.escape_ascii().to_string()
        );
    }
}

#[test]
fn response_prefixes_are_incomplete_and_limits_apply() {
    let input = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    for i in 0..input.len() {
        assert_eq!(
            parse_response(&input[..i], &Limits::default(), false),
            Ok(None),
            "{i}"
        );
    }
    let tight = Limits {
        max_request_line: 10,
        ..Limits::default()
    };
    assert_eq!(
        parse_response(input, &tight, false),
        Err(RequestLineTooLong { limit: 10 })
    );
    let few = Limits {
        max_headers: 0,
        ..Limits::default()
    };
    assert_eq!(
        parse_response(input, &few, false),
        Err(TooManyHeaders { limit: 0 })
    );
}
