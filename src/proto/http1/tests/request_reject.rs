//! Every smuggling and routing rule: each rejected input, the error, and its status.

use super::*;
use Http1Error::*;

/// Asserts `input` is rejected with `want` (and therefore its status).
fn rejects(input: &[u8], want: Http1Error) {
    assert_eq!(
        req_err(input),
        want,
        "{:?}",
        input.escape_ascii().to_string()
    );
}

// ----- line structure -----

#[test]
fn bare_lf_anywhere() {
    rejects(
        b"GET http://a.example/ HTTP/1.1\nHost: a.example\r\n\r\n",
        BareLf,
    );
    rejects(
        b"GET http://a.example/ HTTP/1.1\r\nHost: a.example\n\r\n",
        BareLf,
    );
    rejects(
        b"GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\n",
        BareLf,
    );
    rejects(
        b"\nGET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
        BareLf,
    );
    rejects(b"\r\n\nGET http://a.example/ HTTP/1.1\r\n\r\n", BareLf);
    assert_eq!(BareLf.status(), 400);
}

#[test]
fn cr_not_followed_by_lf() {
    rejects(&get_with("X-A: a\rb\r\n"), BareCr);
    rejects(&get_with("X-A: a\r\r\n"), BareCr);
    rejects(
        b"GET http://a.example/\r HTTP/1.1\r\nHost: a.example\r\n\r\n",
        BareCr,
    );
    rejects(b"\rGET http://a.example/ HTTP/1.1\r\n\r\n", BareCr);
    // Detected before the line is complete.
    assert_eq!(
        parse_request(
            b"GET http://a.example/ HTTP/1.1\r\nX: a\rb",
            &Limits::default()
        ),
        Err(BareCr)
    );
}

#[test]
fn obs_fold_and_leading_whitespace() {
    rejects(&get_with("X-A: a\r\n b\r\n"), ObsFold);
    rejects(&get_with("X-A: a\r\n\tb\r\n"), ObsFold);
    rejects(
        b"GET http://a.example/ HTTP/1.1\r\n Host: a.example\r\n\r\n",
        ObsFold,
    );
}

#[test]
fn nul_cr_lf_controls_in_values() {
    for bad in ["X-A: a\0b", "X-A: \x01", "X-A: a\x7fb", "X-A: a\x1bb"] {
        let e = req_err(&get_with(&format!("{bad}\r\n")));
        assert_eq!(
            e,
            InvalidHeaderValue {
                name: Bytes::from_static(b"x-a")
            },
            "{bad:?}"
        );
    }
}

#[test]
fn field_name_rules() {
    rejects(&get_with("X-A : a\r\n"), WhitespaceBeforeColon);
    rejects(&get_with("X-A\t: a\r\n"), WhitespaceBeforeColon);
    rejects(
        b"GET http://a.example/ HTTP/1.1\r\nHost : a.example\r\n\r\n",
        WhitespaceBeforeColon,
    );
    rejects(&get_with(": a\r\n"), InvalidHeaderName);
    rejects(&get_with("X(A): a\r\n"), InvalidHeaderName);
    rejects(&get_with("X A: a\r\n"), InvalidHeaderName);
    rejects(&get_with("no-colon-here\r\n"), InvalidHeaderName);
    rejects(&get_with("X-\u{e9}: a\r\n"), InvalidHeaderName);
}

#[test]
fn underscore_spellings_of_framing_fields() {
    rejects(
        &post_with("Content_Length: 5\r\n"),
        AmbiguousHeaderName {
            name: Bytes::from_static(b"content_length"),
        },
    );
    rejects(
        &post_with("TRANSFER_ENCODING: chunked\r\n"),
        AmbiguousHeaderName {
            name: Bytes::from_static(b"transfer_encoding"),
        },
    );
    // Other underscores are legal token characters.
    req(&get_with("X_Custom: 1\r\n"));
}

// ----- request line -----

#[test]
fn request_line_spaces() {
    let m = MalformedRequestLine("extra space");
    rejects(
        b"GET  http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
        m.clone(),
    );
    rejects(
        b"GET http://a.example/  HTTP/1.1\r\nHost: a.example\r\n\r\n",
        m.clone(),
    );
    rejects(
        b"GET http://a.example/ HTTP/1.1 \r\nHost: a.example\r\n\r\n",
        m.clone(),
    );
    rejects(
        b" GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
        m,
    );
    rejects(
        b"GET http://a.example/\r\nHost: a.example\r\n\r\n",
        MalformedRequestLine("expected method, target and version"),
    );
    rejects(
        b"GET\thttp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
        MalformedRequestLine("expected method, target and version"),
    );
}

#[test]
fn invalid_method() {
    rejects(
        b"G(ET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
        InvalidMethod,
    );
    rejects(
        b"G\xc3\xa9T http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
        InvalidMethod,
    );
    assert_eq!(Method::from_bytes(b""), Err(InvalidMethod));
}

#[test]
fn versions() {
    for v in ["HTTP/2.0", "HTTP/1.2", "HTTP/2", "HTTP/0.9", "HTTP/3"] {
        let e = req_err(format!("GET http://a.example/ {v}\r\nHost: a.example\r\n\r\n").as_bytes());
        assert_eq!((e.clone(), e.status()), (UnsupportedVersion, 505), "{v}");
    }
    for v in [
        "http/1.1",
        "HTTP/1.1x",
        "HTTP/11",
        "HTTP/1.",
        "HTTPS/1.1",
        "HTTP/a.b",
    ] {
        let e = req_err(format!("GET http://a.example/ {v}\r\nHost: a.example\r\n\r\n").as_bytes());
        assert_eq!(e, MalformedVersion, "{v}");
    }
}

// ----- body framing -----

#[test]
fn content_length_and_transfer_encoding() {
    rejects(
        &post_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        ContentLengthWithTransferEncoding,
    );
    rejects(
        &post_with("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"),
        ContentLengthWithTransferEncoding,
    );
}

#[test]
fn content_length_rules() {
    rejects(
        &post_with("Content-Length: 5\r\nContent-Length: 5\r\n"),
        MultipleContentLength,
    );
    rejects(
        &post_with("Content-Length: 5\r\ncontent-length: 6\r\n"),
        MultipleContentLength,
    );
    rejects(
        &post_with("Content-Length: 5, 5\r\n"),
        MultipleContentLength,
    );
    rejects(&post_with("Content-Length: 5,\r\n"), MultipleContentLength);
    for bad in ["+5", "-1", "5a", "0x5", "5 5", "", "5.0", "\u{661}"] {
        rejects(
            &post_with(&format!("Content-Length: {bad}\r\n")),
            InvalidContentLength,
        );
    }
    rejects(
        &post_with("Content-Length: 18446744073709551616\r\n"),
        ContentLengthOverflow,
    );
    rejects(
        &post_with("Content-Length: 99999999999999999999999\r\n"),
        ContentLengthOverflow,
    );
}

#[test]
fn transfer_encoding_rules() {
    let unsupported = [
        "gzip, chunked",
        "xchunked",
        "identity",
        "chunkedx",
        "deflate",
    ];
    for te in unsupported {
        let e = req_err(&post_with(&format!("Transfer-Encoding: {te}\r\n")));
        assert_eq!(
            (e.clone(), e.status()),
            (UnsupportedTransferCoding, 501),
            "{te}"
        );
    }
    let malformed = [
        "chunked, chunked",
        "chunked, gzip",
        "\"chunked\"",
        "chun ked",
        "chunked;q=1",
        "",
        ",chunked",
        "chunked,",
        "chunked, , chunked",
    ];
    for te in malformed {
        let e = req_err(&post_with(&format!("Transfer-Encoding: {te}\r\n")));
        assert_eq!(
            (e.clone(), e.status()),
            (MalformedTransferEncoding, 400),
            "{te:?}"
        );
    }
    rejects(
        &post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        MultipleTransferEncoding,
    );
    rejects(
        b"POST http://a.example/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        TransferEncodingInHttp10,
    );
}

#[test]
fn connection_header_must_be_tokens() {
    rejects(
        &get_with("Connection: close;x\r\n"),
        InvalidConnectionHeader,
    );
    rejects(
        &get_with("Connection: \"close\"\r\n"),
        InvalidConnectionHeader,
    );
}

// ----- targets and Host -----

#[test]
fn absolute_form_rules() {
    let cases: &[(&str, Http1Error)] = &[
        ("ftp://a.example/", UnsupportedScheme),
        ("ws://a.example/", UnsupportedScheme),
        ("http://user@a.example/", UserinfoInAuthority),
        ("http://user:pw@a.example/", UserinfoInAuthority),
        ("http://a.example/#frag", FragmentInTarget),
        ("http://a.example#", FragmentInTarget),
        ("http:///x", InvalidAuthority("empty")),
        ("http://:80/", InvalidAuthority("empty host")),
        ("http://a.example:0/", InvalidAuthority("invalid port")),
        ("http://a.example:65536/", InvalidAuthority("invalid port")),
        ("http://a.example:/", InvalidAuthority("invalid port")),
        ("http://a.example:08/", InvalidAuthority("invalid port")),
        (
            "http://a%2eexample/",
            InvalidAuthority("invalid character in host"),
        ),
        (
            "http://a.example./",
            InvalidAuthority("empty label in host"),
        ),
        ("http://[::1/", InvalidAuthority("unclosed IPv6 literal")),
        (
            "http://[fe80::1%25eth0]/",
            InvalidAuthority("invalid IPv6 literal"),
        ),
        (
            "http:a.example/",
            InvalidTarget("absolute target without //authority"),
        ),
        ("a.example:80", UnsupportedScheme),
        ("a_b:80", InvalidTarget("not origin-form or absolute-form")),
        ("example", InvalidTarget("not origin-form or absolute-form")),
        (
            "http://a.example/\x01",
            InvalidTarget("control or non-ASCII byte"),
        ),
        (
            "http://a.example/\u{e9}",
            InvalidTarget("control or non-ASCII byte"),
        ),
        ("*", InvalidTarget("`*` is only allowed with OPTIONS")),
    ];
    for (target, want) in cases {
        let input = format!("GET {target} HTTP/1.1\r\nHost: a.example\r\n\r\n");
        assert_eq!(req_err(input.as_bytes()), *want, "{target:?}");
    }
}

#[test]
fn host_rules() {
    rejects(b"GET http://a.example/ HTTP/1.1\r\n\r\n", MissingHost);
    rejects(b"GET /x HTTP/1.1\r\n\r\n", MissingHost);
    rejects(b"CONNECT a.example:443 HTTP/1.1\r\n\r\n", MissingHost);
    rejects(&get_with("Host: a.example\r\n"), MultipleHost);
    rejects(&get_with("host: b.example\r\n"), MultipleHost);
    let mismatch = [
        ("http://a.example/", "b.example"),
        ("http://a.example/", "a.example:8080"),
        ("http://a.example:8080/", "a.example"),
        ("https://a.example/", "a.example:80"),
        ("http://[::1]/", "[::2]"),
        ("http://127.0.0.1/", "localhost"),
    ];
    for (target, host) in mismatch {
        let input = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(
            req_err(input.as_bytes()),
            HostMismatch,
            "{target} vs {host}"
        );
    }
    rejects(
        b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:80\r\n\r\n",
        HostMismatch,
    );
    rejects(
        b"CONNECT a.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n",
        HostMismatch,
    );
    // HTTP/1.0 may omit Host, but one that is present must match.
    rejects(
        b"GET http://a.example/ HTTP/1.0\r\nHost: b.example\r\n\r\n",
        HostMismatch,
    );
    rejects(
        b"GET http://a.example/ HTTP/1.1\r\nHost: u@a.example\r\n\r\n",
        UserinfoInAuthority,
    );
    rejects(
        b"GET http://a.example/ HTTP/1.1\r\nHost:\r\n\r\n",
        InvalidAuthority("empty"),
    );
    rejects(
        b"GET /x HTTP/1.1\r\nHost: a/b\r\n\r\n",
        InvalidAuthority("invalid character in host"),
    );
}

#[test]
fn connect_rules() {
    let cases: &[(&str, Http1Error)] = &[
        ("a.example", InvalidTarget("CONNECT target needs a port")),
        ("[::1]", InvalidTarget("CONNECT target needs a port")),
        (
            "http://a.example:443/",
            InvalidTarget("CONNECT target must be host:port"),
        ),
        ("/a", InvalidTarget("CONNECT target must be host:port")),
        (
            "a.example:443/",
            InvalidTarget("CONNECT target must be host:port"),
        ),
        (
            "a.example:443?x",
            InvalidTarget("CONNECT target must be host:port"),
        ),
        ("u@a.example:443", UserinfoInAuthority),
        ("a.example:0", InvalidAuthority("invalid port")),
        ("*", InvalidAuthority("invalid character in host")),
    ];
    for (target, want) in cases {
        let input = format!("CONNECT {target} HTTP/1.1\r\nHost: a.example:443\r\n\r\n");
        assert_eq!(req_err(input.as_bytes()), *want, "{target:?}");
    }
    let connect = |extra: &str| {
        format!("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n{extra}\r\n").into_bytes()
    };
    rejects(&connect("Content-Length: 1\r\n"), ConnectWithBody);
    rejects(&connect("Transfer-Encoding: chunked\r\n"), ConnectWithBody);
}

#[test]
fn every_error_displays_its_cause() {
    let samples = [
        BareLf,
        ObsFold,
        InvalidHeaderValue {
            name: Bytes::from_static(b"x-\x01"),
        },
        HostMismatch,
        UnsupportedTransferCoding,
        ChunkSizeOverflow,
    ];
    for e in samples {
        let text = e.to_string();
        assert!(text.len() > 10, "{e:?}: {text}");
    }
    assert!(InvalidHeaderValue {
        name: Bytes::from_static(b"x-a")
    }
    .to_string()
    .contains("x-a"));
    assert_eq!(UnframedRequestBody.status(), 500);
    assert_eq!(TrailersTooLarge { limit: 1 }.status(), 431);
}
