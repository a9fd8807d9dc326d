//! Requests that must be accepted, and what they parse to.

use super::*;

#[test]
fn absolute_form_get() {
    let h = req(b"GET http://a.example/x/y?q=1 HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n");
    assert_eq!(h.method, Method::Get);
    assert_eq!(h.version, Version::Http11);
    assert_eq!(
        h.target,
        Target::Absolute {
            scheme: Scheme::Http,
            authority: Bytes::from_static(b"a.example"),
            path_and_query: Bytes::from_static(b"/x/y?q=1"),
        }
    );
    assert_eq!(h.host(), Some("a.example"));
    assert_eq!(h.port(), Some(80));
    assert_eq!(h.body, BodyKind::Empty);
    assert!(h.keep_alive);
    assert!(!h.expects_continue);
    assert_eq!(h.headers.len(), 2);
    assert_eq!(h.header("ACCEPT").map(|v| &v[..]), Some(&b"*/*"[..]));
}

#[test]
fn names_lowercased_values_trimmed() {
    let h = req(&get_with("X-Mixed-Case: \t  a b  \t\r\nEmpty:\r\n"));
    assert_eq!(&h.headers[1].0[..], b"x-mixed-case");
    assert_eq!(&h.headers[1].1[..], b"a b");
    assert_eq!(&h.headers[2].0[..], b"empty");
    assert_eq!(&h.headers[2].1[..], b"");
}

#[test]
fn obs_text_in_value_is_kept() {
    let h = req(&get_with("X-Latin: caf\u{e9}\r\n"));
    assert_eq!(&h.header("x-latin").unwrap()[..], "caf\u{e9}".as_bytes());
}

#[test]
fn empty_path_becomes_slash() {
    let h = req(b"GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(h.target.path_and_query(), Some(&b"/"[..]));
    let h = req(b"GET http://a.example?x=1 HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(h.target.path_and_query(), Some(&b"/?x=1"[..]));
}

#[test]
fn scheme_case_insensitive_and_https_default_port() {
    let h = req(b"GET HTTPS://A.Example/ HTTP/1.1\r\nHost: a.example:443\r\n\r\n");
    assert_eq!(h.target.scheme(), Some(Scheme::Https));
    assert_eq!(h.port(), Some(443));
    assert_eq!(h.host(), Some("A.Example"));
}

#[test]
fn host_default_port_equivalence() {
    req(b"GET http://a.example:80/ HTTP/1.1\r\nHost: a.example\r\n\r\n");
    req(b"GET http://a.example/ HTTP/1.1\r\nHost: A.EXAMPLE:80\r\n\r\n");
    req(b"GET http://a.example:8080/ HTTP/1.1\r\nHost: a.example:8080\r\n\r\n");
}

#[test]
fn ipv6_literal() {
    let h = req(b"GET http://[::1]:8080/ HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
    assert_eq!(h.host(), Some("::1"));
    assert_eq!(h.port(), Some(8080));
    assert!(h.target.host_port().unwrap().ipv6);
    let h = req(b"GET http://[2001:db8::a]/ HTTP/1.1\r\nHost: [2001:DB8::A]\r\n\r\n");
    assert_eq!(h.port(), Some(80));
}

#[test]
fn connect() {
    let h = req(b"CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n");
    assert_eq!(h.method, Method::Connect);
    assert_eq!(
        h.target,
        Target::Authority(Bytes::from_static(b"db.internal:5432"))
    );
    assert_eq!(h.host(), Some("db.internal"));
    assert_eq!(h.port(), Some(5432));
    assert_eq!(h.target.path_and_query(), None);
    // Some clients send Host without the port.
    req(b"CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal\r\n\r\n");
    // Content-Length: 0 is not a body.
    let h = req(b"CONNECT [::1]:22 HTTP/1.1\r\nHost: [::1]:22\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.body, BodyKind::Length(0));
    assert_eq!(h.host(), Some("::1"));
}

#[test]
fn post_with_length_and_chunked() {
    let h = req(&post_with("Content-Length: 42\r\n"));
    assert_eq!(h.body, BodyKind::Length(42));
    let h = req(&post_with("Transfer-Encoding: chunked\r\n"));
    assert_eq!(h.body, BodyKind::Chunked);
    let h = req(&post_with("transfer-encoding: CHUNKED\r\n"));
    assert_eq!(h.body, BodyKind::Chunked);
    let h = req(&post_with(&format!("Content-Length: {}\r\n", u64::MAX)));
    assert_eq!(h.body, BodyKind::Length(u64::MAX));
    let h = req(&post_with("Content-Length: 007\r\n"));
    assert_eq!(h.body, BodyKind::Length(7));
}

#[test]
fn keep_alive_rules() {
    assert!(req(&get_with("")).keep_alive);
    assert!(!req(&get_with("Connection: close\r\n")).keep_alive);
    assert!(!req(&get_with("Connection: keep-alive, Close\r\n")).keep_alive);
    let h10 = b"GET http://a.example/ HTTP/1.0\r\n\r\n";
    assert!(!req(h10).keep_alive);
    let h10ka = b"GET http://a.example/ HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    assert!(req(h10ka).keep_alive);
}

#[test]
fn connection_tokens_are_hop_by_hop() {
    let h = req(&get_with(
        "Connection: X-Secret, , keep-alive\r\nConnection: x-other\r\nX-Secret: 1\r\nX-Other: 2\r\nX-Kept: 3\r\nTE: trailers\r\nProxy-Authorization: Basic x\r\n",
    ));
    assert!(h.hop_by_hop(b"x-secret"));
    assert!(h.hop_by_hop(b"X-Other"));
    assert!(h.hop_by_hop(b"connection"));
    assert!(h.hop_by_hop(b"te"));
    assert!(!h.hop_by_hop(b"x-kept"));
    assert!(!h.hop_by_hop(b"proxy-authorization"));
    let kept: Vec<&[u8]> = h.end_to_end_headers().map(|(n, _)| &n[..]).collect();
    assert_eq!(kept, [&b"host"[..], b"x-kept", b"proxy-authorization"]);
    for name in HOP_BY_HOP {
        assert!(hop_by_hop(name.to_uppercase().as_bytes()), "{name}");
    }
    assert!(!hop_by_hop(b"proxy-authorization"));
}

#[test]
fn expect_continue() {
    assert!(req(&post_with("Content-Length: 5\r\nExpect: 100-Continue\r\n")).expects_continue);
    let h10 =
        b"POST http://a.example/ HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    assert!(!req(h10).expects_continue);
    assert!(!req(&post_with("Expect: something-else\r\n")).expects_continue);
}

#[test]
fn http10_without_host() {
    let h = req(b"GET http://a.example/ HTTP/1.0\r\n\r\n");
    assert_eq!(h.version, Version::Http10);
}

#[test]
fn origin_and_asterisk_forms() {
    let h = req(b"GET /index.html HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(h.target, Target::Origin(Bytes::from_static(b"/index.html")));
    assert_eq!(h.host(), None);
    let h = req(b"OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(h.target, Target::Asterisk);
    assert_eq!(h.target.path_and_query(), Some(&b"*"[..]));
}

#[test]
fn other_methods() {
    let h = req(b"PROPFIND http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(h.method, Method::Other(Bytes::from_static(b"PROPFIND")));
    let h = req(b"get http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(h.method.as_bytes(), b"get");
    assert_ne!(h.method, Method::Get);
}

#[test]
fn leading_empty_lines_are_skipped_and_counted() {
    let input = b"\r\n\r\nGET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n";
    let (_, n) = parse_request(input, &Limits::default()).unwrap().unwrap();
    assert_eq!(n, input.len());
}

#[test]
fn pipelined_requests_consume_only_the_first() {
    let first = get_with("");
    let mut input = first.clone();
    input.extend_from_slice(b"GET http://b.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n");
    let (h, n) = parse_request(&input, &Limits::default()).unwrap().unwrap();
    assert_eq!(n, first.len());
    assert_eq!(h.host(), Some("a.example"));
    let (h2, _) = parse_request(&input[n..], &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(h2.host(), Some("b.example"));
}

#[test]
fn every_prefix_is_incomplete() {
    let input = post_with("Content-Length: 3\r\nX-A: b\r\n");
    for i in 0..input.len() {
        assert_eq!(
            parse_request(&input[..i], &Limits::default()),
            Ok(None),
            "prefix of {i} bytes"
        );
    }
    let mut with_body = input.clone();
    with_body.extend_from_slice(b"abc");
    let (_, n) = parse_request(&with_body, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(n, input.len());
}

#[test]
fn limits_are_inclusive() {
    let input = get_with("X-Pad: 0123456789\r\n");
    let exact = Limits {
        max_request_line: "GET http://a.example/ HTTP/1.1".len(),
        max_head: input.len(),
        max_headers: 2,
    };
    assert!(parse_request(&input, &exact).unwrap().is_some());
}

#[test]
fn default_limits() {
    let l = Limits::default();
    assert_eq!(
        (l.max_request_line, l.max_head, l.max_headers),
        (8192, 65536, 100)
    );
    // 100 fields are fine.
    let extra: String = (0..99).map(|i| format!("X-{i}: v\r\n")).collect();
    req(&get_with(&extra));
}

#[test]
fn parse_authority_cases() {
    let hp = parse_authority(b"Example.COM:8443").unwrap();
    assert_eq!(
        (hp.host, hp.port, hp.ipv6),
        ("Example.COM", Some(8443), false)
    );
    let hp = parse_authority(b"10.0.0.1").unwrap();
    assert_eq!((hp.host, hp.port), ("10.0.0.1", None));
    let hp = parse_authority(b"under_score-x.example:65535").unwrap();
    assert_eq!(hp.port, Some(65535));
    let hp = parse_authority(b"[::ffff:10.0.0.1]:1").unwrap();
    assert_eq!(
        (hp.host, hp.port, hp.ipv6),
        ("::ffff:10.0.0.1", Some(1), true)
    );
    for bad in [
        &b""[..],
        b":80",
        b"a:",
        b"a:0",
        b"a:65536",
        b"a:080",
        b"a:+80",
        b"a:8 0",
        b"a.:80",
        b".a",
        b"a..b",
        b"a b",
        b"a%2eb",
        b"a/b",
        b"a:80:80",
        b"[::1",
        b"[::1]x",
        b"[]",
        b"[zz::1]",
        b"[fe80::1%25eth0]",
        b"[::1]:",
        b"[1.2.3.4]",
    ] {
        assert!(
            matches!(parse_authority(bad), Err(Http1Error::InvalidAuthority(_))),
            "{:?}: {:?}",
            bad.escape_ascii().to_string(),
            parse_authority(bad)
        );
    }
    assert_eq!(
        parse_authority(b"u:p@a"),
        Err(Http1Error::UserinfoInAuthority)
    );
    assert!(parse_authority(&[b'a'; 254]).is_err());
    assert!(parse_authority(&[b'a'; 63]).is_ok());
}
